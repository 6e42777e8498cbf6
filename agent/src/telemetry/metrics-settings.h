/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What [metrics] says, owned by the telemetry layer: the settings struct,
 * its key table (a ConfSection the daemon lists), the value syntaxes only
 * it uses, defaults, and the checks across keys. The names of the instance
 * dimensions are the CloudWatch agent's, so its dashboards and alarms keep
 * working when agentd replaces it.
 */

#include <stdbool.h>
#include <stdint.h>

#include "conf-parser.h"
#include "macro.h"

#define METRICS_DEFAULT_NAMESPACE "CWAgent"
#define METRICS_DEFAULT_STATSD "127.0.0.1:8125"
#define METRICS_MAX_MOUNTS 16
#define METRICS_MAX_INTERFACES 32

/* The instance dimensions append_dimensions= and aggregation_dimensions=
 * may name, as bits. */
typedef enum MetricsDimension {
        METRICS_DIM_INSTANCE_ID = 1 << 0,
        METRICS_DIM_ASG = 1 << 1,
        METRICS_DIM_IMAGE_ID = 1 << 2,
        METRICS_DIM_INSTANCE_TYPE = 1 << 3,
        _METRICS_DIM_ALL = (1 << 4) - 1,
} MetricsDimension;
#define METRICS_N_DIMENSIONS 4

/* "InstanceId" for bit 0, ...; NULL past the end. */
const char *metrics_dimension_name(unsigned index);

typedef struct MetricsList {
        char *items[METRICS_MAX_INTERFACES];
        size_t n;
} MetricsList;

typedef struct MetricsSettings {
        bool enabled;
        usec_t interval;                /* collection */
        usec_t publish_interval;        /* one statistic set per series per publish_interval */
        char *namespace;
        unsigned append_dimensions;     /* MetricsDimension bits */
        unsigned aggregation_dimensions;        /* 0: no aggregated series */
        MetricsList mounts;             /* absolute paths (at most METRICS_MAX_MOUNTS) */
        MetricsList interfaces;         /* empty: every interface but loopback */
        char *statsd_listen;            /* NULL: no StatsD listener */
        unsigned statsd_max_metrics;
        usec_t buffer;                  /* how much unpublished data is kept in an outage */
        unsigned web_port;              /* sock_diag: TCP states of this local port; 0 = every port */
        char *nginx_status;             /* stub_status URL, or NULL */
        char *fpm_status;               /* php-fpm status URL (JSON), or NULL */
} MetricsSettings;

extern const ConfSection metrics_conf_section;

int metrics_settings_init(MetricsSettings *s);
void metrics_settings_done(MetricsSettings *s);
/* publish_interval >= interval, buffer >= publish_interval (or 0). -EINVAL
 * with *ret_error "[metrics]: ...". */
int metrics_settings_verify(const MetricsSettings *s, char **ret_error);

/* Value syntaxes of [metrics], exposed for tests. */
int metrics_conf_parse_dimensions(const char *v, void *field, const char **reason);   /* unsigned bits */
int metrics_conf_parse_mounts(const char *v, void *field, const char **reason);       /* MetricsList */
int metrics_conf_parse_interfaces(const char *v, void *field, const char **reason);   /* MetricsList */
int metrics_conf_parse_statsd(const char *v, void *field, const char **reason);       /* char *, loopback */
int metrics_conf_parse_namespace(const char *v, void *field, const char **reason);
