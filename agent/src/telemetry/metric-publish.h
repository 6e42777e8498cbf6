/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Pure: PutMetricData request bodies (Query protocol, form-encoded, every
 * parameter in the POST body) from sealed batches, within CloudWatch's
 * limits (shared/aws-notes.md): at most 1,000 metric data items and 1 MB a
 * call, 30 dimensions and 150 values an item. An item gets its own
 * dimensions followed by the instance dimensions (append_dimensions, those
 * whose value is known), or, when it is an aggregated one, the aggregation
 * dimensions alone; aggregated items are skipped while one of those is
 * unknown (no Auto Scaling group name, say).
 */

#include <stddef.h>

#include "metric-aggregate.h"

#define METRIC_PUBLISH_MAX_ITEMS 1000
/* AWS says 1 MB; the emulator, like AWS, refuses more than 1,048,576 bytes.
 * Leave room for the signature headers' sake of nothing: the body alone. */
#define METRIC_PUBLISH_MAX_BODY 1000000

typedef struct MetricPublishDims {
        const MetricDim *append;
        size_t n_append;
        const MetricDim *aggregation;
        size_t n_aggregation;           /* 0: aggregated items are not sent */
} MetricPublishDims;

/* Encodes items[0..n) from the first, as many as fit max_items and
 * max_bytes (capped to the limits above). *ret_consumed: how many items
 * were used (skipped aggregated ones included); *ret_body NULL when none
 * of them is to be sent. -E2BIG: the first item alone is larger than
 * max_bytes. */
int metric_publish_build(const char *ns, const MetricPublishDims *dims, const MetricDatum *items, size_t n,
                         size_t max_items, size_t max_bytes, char **ret_body, size_t *ret_len,
                         size_t *ret_consumed, size_t *ret_sent);

/* "2024-05-01T12:00:00Z" */
void metric_format_timestamp(usec_t t, char buf[static 32]);
