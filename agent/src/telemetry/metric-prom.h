/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The Prometheus text exposition format (version 0.0.4), read: what plugins
 * serve on their metrics= URL. Pure: a body in, one callback per sample out.
 *
 *   # TYPE name counter|gauge|histogram|summary|untyped
 *   name{label="value",...} 1.5 [timestamp]
 *
 * Histogram and summary buckets and quantiles (_bucket, quantile=) are
 * passed over: their _sum and _count are counters like any other. Bad input
 * is counted, never fatal: a line too long, a name or label that is not
 * Prometheus's alphabet, a value that is not a finite number, more labels
 * than PROM_MAX_LABELS. Label values are unescaped (\\, \", \n).
 */

#include <stdbool.h>
#include <stddef.h>

#include "macro.h"

#define PROM_MAX_LINE 4096
#define PROM_MAX_LABELS 8
#define PROM_MAX_NAME 200

typedef enum PromType {
        PROM_UNTYPED,
        PROM_COUNTER,
        PROM_GAUGE,
} PromType;

typedef struct PromLabel {
        const char *name;
        const char *value;
} PromLabel;

typedef void (*PromSample)(const char *name, PromType type, const PromLabel *labels, size_t n_labels, double value,
                           void *userdata);

/* Returns the number of samples; *ret_bad (optional) counts lines passed over. */
int prom_parse(const char *text, size_t len, PromSample fn, void *userdata, unsigned *ret_bad);
