/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The in-memory picture of every metric series between two publishes, and
 * the sealed batches that wait to be published. Pure: no I/O, no clock.
 *
 * A series is a name, a unit, a kind and its own dimensions (path, device,
 * interface, StatsD tags; never the instance dimensions, which are added
 * when a request is built, so /metrics shows the local view). Per window
 * (publish_interval) a series keeps a CloudWatch statistic set (min, max,
 * sum, sample count), or for distributions (StatsD timers) up to 150
 * distinct values with their counts, rounded to three significant digits;
 * values past that go to a statistic set published alongside. Across
 * windows it keeps the last value and, for deltas and distributions, the
 * running totals that /metrics shows as Prometheus counters.
 *
 * metric_agg_seal() turns the window into a MetricBatch stamped with the
 * window's time and starts the next; with aggregate=true it adds, per name
 * and unit, one datum merged over every series of that name (the
 * aggregation_dimensions series of the CloudWatch agent, e.g. only
 * AutoScalingGroupName). A series unseen for METRIC_AGG_IDLE_WINDOWS
 * windows is forgotten, so StatsD names that stop arriving free memory.
 * The number of series is bounded: past it, new series are refused
 * (-E2BIG) and the caller counts what it dropped.
 */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

#define METRIC_MAX_DIMS 30              /* CloudWatch, per metric */
#define METRIC_NAME_MAX 255             /* metric names, dimension names and values */
#define METRIC_MAX_VALUES 150           /* Values/Counts per datum */
#define METRIC_AGG_IDLE_WINDOWS 5
/* CloudWatch refuses magnitudes past 2^360 and non-zero ones under
 * 8.5e-109; agentd keeps well inside. */
#define METRIC_VALUE_MAX 1e100
#define METRIC_VALUE_TINY 1e-100

typedef enum MetricUnit {
        METRIC_UNIT_NONE,
        METRIC_UNIT_PERCENT,
        METRIC_UNIT_BYTES,
        METRIC_UNIT_COUNT,
        METRIC_UNIT_COUNT_PER_SECOND,
        METRIC_UNIT_MILLISECONDS,
        METRIC_UNIT_SECONDS,
        _METRIC_UNIT_MAX,
} MetricUnit;

typedef enum MetricKind {
        METRIC_GAUGE,           /* a level: mem_used_percent */
        METRIC_DELTA,           /* an amount per interval: net_bytes_recv; /metrics shows the running total */
        METRIC_DISTRIBUTION,    /* individual observations: StatsD timers */
        _METRIC_KIND_MAX,
} MetricKind;

typedef struct MetricDim {
        const char *name;
        const char *value;
} MetricDim;

typedef struct MetricDatum {
        char *name;
        MetricUnit unit;
        usec_t timestamp;       /* CLOCK_REALTIME, start of the window */
        bool aggregated;        /* published with the aggregation dimensions only */
        size_t n_dims;
        char **dims;            /* name, value, name, value... */
        bool distribution;      /* values/counts, else a statistic set */
        double min, max, sum, count;
        size_t n_values;
        double *values, *counts;
} MetricDatum;

typedef struct MetricBatch {
        MetricDatum *items;
        size_t n;
        size_t sent;            /* items[0..sent) are published already */
} MetricBatch;

typedef struct MetricAgg MetricAgg;

const char *metric_unit_to_string(MetricUnit u);
/* CloudWatch's limits on names and dimension values: 1 to 255 bytes,
 * printable ASCII, no leading ':'. */
bool metric_name_valid(const char *s);

int metric_agg_new(size_t max_series, MetricAgg **ret);
MetricAgg *metric_agg_free(MetricAgg *a);
DEFINE_TRIVIAL_CLEANUP_FUNC(MetricAgg *, metric_agg_free);

/* One sample. -EINVAL: a name or dimension CloudWatch would refuse, more
 * than METRIC_MAX_DIMS dimensions, a value not finite or out of range, or
 * a series seen before with another kind; -E2BIG: the table is full;
 * -ENOMEM. Nothing is stored on error. */
int metric_agg_add(MetricAgg *a, const char *name, MetricUnit unit, MetricKind kind, const MetricDim *dims,
                   size_t n_dims, double value);
/* An observation seen `count` times (a StatsD timer at a sample rate). */
int metric_agg_add_value(MetricAgg *a, const char *name, MetricUnit unit, const MetricDim *dims, size_t n_dims,
                         double value, double count);
size_t metric_agg_n_series(const MetricAgg *a);
/* The last value of a series (a StatsD gauge's "+N" adds to it); -ENOENT. */
int metric_agg_last(const MetricAgg *a, const char *name, MetricUnit unit, const MetricDim *dims, size_t n,
                    double *ret);

/* The window as a batch (NULL when it held nothing), and a new window. */
int metric_agg_seal(MetricAgg *a, usec_t timestamp, bool aggregate, MetricBatch **ret);

/* The Prometheus text exposition (format 0.0.4) of the latest values:
 * gauges as gauges, deltas as NAME_total counters, distributions as
 * NAME_sum/NAME_count. Names and labels are sanitised, label values
 * escaped. */
int metric_agg_format_prometheus(const MetricAgg *a, char **ret, size_t *ret_len);

MetricBatch *metric_batch_free(MetricBatch *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(MetricBatch *, metric_batch_free);
void metric_datum_done(MetricDatum *d);
