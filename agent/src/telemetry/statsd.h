/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The application's own metrics, in the protocol PHP StatsD clients already
 * speak, on a loopback UDP socket ([metrics] statsd_listen=, as the
 * CloudWatch agent offers):
 *
 *   NAME:VALUE|TYPE[|@RATE][|#TAG:VALUE,TAG...]     one per line
 *
 * TYPE c (counter), g (gauge; "+N"/"-N" change it), ms or h (timer), s
 * (set: distinct values). RATE is the client's sampling: a counter counts
 * VALUE/RATE, a timer observation weighs 1/RATE. DogStatsD tags become
 * dimensions (a tag without a value is skipped), plus metric_type as the
 * CloudWatch agent adds it. Every line that does not parse is counted and
 * dropped, as is every line of a new series once statsd_max_metrics are
 * known: memory stays bounded whatever arrives.
 *
 * Counters, timers and gauges go straight into the StatsD MetricAgg; sets
 * are counted here and handed over at each statsd_flush() (the collection
 * interval). The socket is drained in bounded batches so a flood cannot
 * starve the rest of the loop.
 */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "component.h"
#include "metric-aggregate.h"

#define STATSD_MAX_TAGS (METRIC_MAX_DIMS - 5)   /* room for metric_type and the instance dimensions */
#define STATSD_PACKET_MAX 8192

typedef enum StatsdType {
        STATSD_COUNTER,
        STATSD_GAUGE,
        STATSD_TIMER,
        STATSD_SET,
} StatsdType;

typedef struct StatsdLine {
        const char *name;
        StatsdType type;
        double value;           /* counters, gauges, timers */
        const char *set_value;  /* sets */
        bool relative;          /* gauge "+N" / "-N" */
        double rate;            /* (0, 1] */
        MetricDim tags[STATSD_MAX_TAGS];
        size_t n_tags;
} StatsdLine;

/* Pure: parses one line in place (the strings point into it). -EINVAL
 * with *reason. */
int statsd_parse_line(char *line, StatsdLine *ret, const char **reason);

typedef struct Statsd Statsd;

typedef struct StatsdCounters {
        uint64_t packets, lines, bad_lines, dropped;
} StatsdCounters;

/* Binds listen ("127.0.0.1:8125") and feeds agg, which it does not own. */
int statsd_new(sd_event *e, const char *listen, MetricAgg *agg, Statsd **ret);
Statsd *statsd_free(Statsd *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Statsd *, statsd_free);
/* Parses a packet's lines into the aggregation (what the socket does;
 * exposed for tests and benchmarks). */
void statsd_process(Statsd *s, char *buf, size_t len);
/* Hands the sets' distinct counts of this interval to the aggregation. */
void statsd_flush(Statsd *s);
const StatsdCounters *statsd_counters(const Statsd *s);
Component *statsd_component(Statsd *s);
