/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The metrics subsystem: every [metrics] interval it collects the host's
 * figures (metrics-collect.h), nginx's and php-fpm's status pages (when
 * configured) and agentd's own, and hands the StatsD sets over; every
 * publish_interval it seals the window into a batch (statistic sets per
 * series, values/counts for timers, plus the aggregated series) and
 * publishes the oldest batches with PutMetricData through the AWS client,
 * as many calls as the limits need.
 *
 * During an outage batches wait in a bounded buffer: [metrics] buffer=
 * worth of windows (60 minutes by default); past that the oldest window is
 * dropped and counted (agentd_metrics_dropped), so memory stays flat
 * whatever the outage lasts. Data AWS refuses outright (a validation or
 * access error) is dropped and counted too rather than retried forever.
 *
 * Nothing runs until metrics_start() (the manager calls it when bootstrap
 * ends, after metrics_set_identity() with the instance's dimensions).
 * The latest values are available as Prometheus text for /metrics.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "aws.h"
#include "callback.h"
#include "component.h"
#include "curl-glue.h"
#include "metric-aggregate.h"
#include "metrics-settings.h"

typedef struct Metrics Metrics;

enum {
        /* A PutMetricData call succeeded; ev->name is NULL, ev->usec the
         * window time of the data (CLOCK_REALTIME). */
        METRICS_EVENT_PUBLISHED,
        /* metrics_flush() ended: error 0 (all published), -ETIMEDOUT. */
        METRICS_EVENT_FLUSHED,
        /* A collection begins: the owner may add figures (metrics_observe). */
        METRICS_EVENT_COLLECTING,
};

typedef struct MetricsIdentity {
        const char *instance_id;
        const char *asg;                /* NULL: not in an Auto Scaling group (or unknown) */
        const char *image_id;
        const char *instance_type;
} MetricsIdentity;

/* s must outlive the subsystem, or be replaced with
 * metrics_set_settings(). aws and glue are the manager's. */
int metrics_new(sd_event *e, CurlGlue *glue, AwsClient *aws, const MetricsSettings *s, AgentCallback cb,
                void *userdata, Metrics **ret);
Metrics *metrics_free(Metrics *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Metrics *, metrics_free);

/* The instance dimensions (copied); may be called again. */
int metrics_set_identity(Metrics *m, const MetricsIdentity *id);
/* A plugin's metrics= (Prometheus text), scraped every interval and
 * published with the host's metrics (dimension plugin=NAME). unix_socket:
 * where to connect for that URL, or NULL. */
/* For the drain: the current window sealed and everything buffered
 * published; cb is told (always from the loop) when the buffer is empty or
 * at the deadline. -EBUSY: a flush is under way. */
int metrics_flush(Metrics *m, usec_t timeout, AgentCallback cb, void *userdata);
int metrics_add_scrape(Metrics *m, const char *name, const char *url, const char *unix_socket);
/* Starts collecting and publishing (and the StatsD listener); a no-op
 * when [metrics] enabled=no or already started. */
int metrics_start(Metrics *m);
/* SIGHUP: new settings; timers, namespace, dimensions, mounts and the
 * StatsD listener follow. */
void metrics_set_settings(Metrics *m, const MetricsSettings *s);
int metrics_add_components(Metrics *m, ComponentList *l);
/* /metrics: the latest values as Prometheus text (caller frees). */
int metrics_format_prometheus(Metrics *m, char **ret, size_t *ret_len);
/* A figure another subsystem measures (log shipping's lag, say): one
 * sample of a gauge without dimensions of its own. */
int metrics_observe(Metrics *m, const char *name, MetricUnit unit, double value);
