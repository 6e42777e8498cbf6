/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>

#include "metric-aggregate.h"

typedef struct Series {
        struct Series *next;    /* hash chain */
        uint64_t hash;
        char *name;
        MetricUnit unit;
        MetricKind kind;
        size_t n_dims;
        char **dims;
        /* This window: a statistic set (for distributions, what did not
         * fit in the values) and the distinct values with their counts. */
        double min, max, sum, count;
        size_t n_values;
        double *values, *counts;
        /* Across windows, for /metrics. */
        double last, total_sum, total_count;
        unsigned idle;
} Series;

struct MetricAgg {
        Series **buckets;
        size_t n_buckets;
        size_t n_series, max_series;
};

const char *metric_unit_to_string(MetricUnit u) {
        static const char *const names[_METRIC_UNIT_MAX] = {
                [METRIC_UNIT_NONE] = "None", [METRIC_UNIT_PERCENT] = "Percent", [METRIC_UNIT_BYTES] = "Bytes",
                [METRIC_UNIT_COUNT] = "Count", [METRIC_UNIT_COUNT_PER_SECOND] = "Count/Second",
                [METRIC_UNIT_MILLISECONDS] = "Milliseconds", [METRIC_UNIT_SECONDS] = "Seconds",
        };
        return u < _METRIC_UNIT_MAX ? names[u] : "None";
}

bool metric_name_valid(const char *s) {
        size_t l = s ? strlen(s) : 0;

        if (l == 0 || l > METRIC_NAME_MAX || s[0] == ':')
                return false;
        for (; *s; s++)
                if (*s < ' ' || *s >= 127)
                        return false;
        return true;
}

static uint64_t fnv(uint64_t h, const char *s) {
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 0x100000001b3ULL;
        return (h ^ 0xff) * 0x100000001b3ULL;
}

static uint64_t series_hash(const char *name, MetricUnit unit, const MetricDim *dims, size_t n) {
        uint64_t h = fnv(0xcbf29ce484222325ULL ^ (uint64_t) unit, name);
        for (size_t i = 0; i < n; i++)
                h = fnv(fnv(h, dims[i].name), dims[i].value);
        return h;
}

static bool series_matches(const Series *s, uint64_t h, const char *name, MetricUnit unit, const MetricDim *dims,
                           size_t n) {
        if (s->hash != h || s->unit != unit || s->n_dims != n || !streq(s->name, name))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(s->dims[2 * i], dims[i].name) || !streq(s->dims[2 * i + 1], dims[i].value))
                        return false;
        return true;
}

static void free_strv(char **v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                free(v[i]);
        free(v);
}

static char **dims_dup(const MetricDim *dims, size_t n) {
        char **v = calloc(2 * n + 1, sizeof(char *));

        if (!v)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(v[2 * i] = strdup(dims[i].name)) || !(v[2 * i + 1] = strdup(dims[i].value))) {
                        free_strv(v, 2 * n);
                        return NULL;
                }
        return v;
}

static Series *series_free(Series *s) {
        if (!s)
                return NULL;
        free(s->name);
        free_strv(s->dims, 2 * s->n_dims);
        free(s->values);
        free(s->counts);
        return mfree(s);
}

int metric_agg_new(size_t max_series, MetricAgg **ret) {
        MetricAgg *a = calloc(1, sizeof(*a));

        if (!a)
                return -ENOMEM;
        a->max_series = MAX(max_series, (size_t) 1);
        a->n_buckets = 64;
        while (a->n_buckets < a->max_series && a->n_buckets < 16384)
                a->n_buckets *= 2;
        a->buckets = calloc(a->n_buckets, sizeof(Series *));
        if (!a->buckets)
                return free(a), -ENOMEM;
        *ret = a;
        return 0;
}

MetricAgg *metric_agg_free(MetricAgg *a) {
        if (!a)
                return NULL;
        for (size_t b = 0; b < a->n_buckets; b++)
                for (Series *s = a->buckets[b], *n; s; s = n) {
                        n = s->next;
                        series_free(s);
                }
        free(a->buckets);
        return mfree(a);
}

size_t metric_agg_n_series(const MetricAgg *a) {
        return a->n_series;
}

static bool value_valid(double v) {
        return isfinite(v) && fabs(v) <= METRIC_VALUE_MAX;
}

static double clamp_tiny(double v) {
        return fabs(v) < METRIC_VALUE_TINY ? 0 : v;
}

static int series_get(MetricAgg *a, const char *name, MetricUnit unit, MetricKind kind, const MetricDim *dims,
                      size_t n, Series **ret) {
        uint64_t h;
        Series *s;

        if (!metric_name_valid(name) || n > METRIC_MAX_DIMS || unit >= _METRIC_UNIT_MAX || kind >= _METRIC_KIND_MAX)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!metric_name_valid(dims[i].name) || !metric_name_valid(dims[i].value))
                        return -EINVAL;
        h = series_hash(name, unit, dims, n);
        for (s = a->buckets[h & (a->n_buckets - 1)]; s; s = s->next)
                if (series_matches(s, h, name, unit, dims, n)) {
                        if (s->kind != kind)
                                return -EINVAL;
                        *ret = s;
                        return 0;
                }
        if (a->n_series >= a->max_series)
                return -E2BIG;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        *s = (Series) { .hash = h, .unit = unit, .kind = kind, .n_dims = n };
        s->name = strdup(name);
        s->dims = dims_dup(dims, n);
        if (!s->name || !s->dims) {
                series_free(s);
                return -ENOMEM;
        }
        s->next = a->buckets[h & (a->n_buckets - 1)];
        a->buckets[h & (a->n_buckets - 1)] = s;
        a->n_series++;
        *ret = s;
        return 0;
}

int metric_agg_last(const MetricAgg *a, const char *name, MetricUnit unit, const MetricDim *dims, size_t n,
                    double *ret) {
        uint64_t h = series_hash(name, unit, dims, n);

        for (const Series *s = a->buckets[h & (a->n_buckets - 1)]; s; s = s->next)
                if (series_matches(s, h, name, unit, dims, n) && s->total_count > 0) {
                        *ret = s->last;
                        return 0;
                }
        return -ENOENT;
}

static void stats_add(Series *s, double v, double count) {
        if (s->count == 0 || v < s->min)
                s->min = v;
        if (s->count == 0 || v > s->max)
                s->max = v;
        s->sum += v * count;
        s->count += count;
}

int metric_agg_add(MetricAgg *a, const char *name, MetricUnit unit, MetricKind kind, const MetricDim *dims,
                   size_t n_dims, double value) {
        Series *s;
        int r;

        if (kind == METRIC_DISTRIBUTION)
                return metric_agg_add_value(a, name, unit, dims, n_dims, value, 1);
        if (!value_valid(value))
                return -EINVAL;
        r = series_get(a, name, unit, kind, dims, n_dims, &s);
        if (r < 0)
                return r;
        value = clamp_tiny(value);
        stats_add(s, value, 1);
        s->last = value;
        s->total_sum += value;
        s->total_count++;
        return 0;
}

/* Three significant digits: timers of 12.3456 ms and 12.3401 ms share a
 * value, so 150 distinct values cover most windows. */
static double round3(double v) {
        double m;

        if (v == 0)
                return 0;
        m = pow(10.0, 2.0 - floor(log10(fabs(v))));
        return round(v * m) / m;
}

int metric_agg_add_value(MetricAgg *a, const char *name, MetricUnit unit, const MetricDim *dims, size_t n_dims,
                         double value, double count) {
        Series *s;
        size_t i;
        int r;

        if (!value_valid(value) || !value_valid(count) || count <= 0)
                return -EINVAL;
        r = series_get(a, name, unit, METRIC_DISTRIBUTION, dims, n_dims, &s);
        if (r < 0)
                return r;
        value = clamp_tiny(round3(value));
        s->last = value;
        s->total_sum += value * count;
        s->total_count += count;
        for (i = 0; i < s->n_values; i++)
                if (s->values[i] == value) {
                        s->counts[i] += count;
                        return 0;
                }
        if (s->n_values >= METRIC_MAX_VALUES) {
                stats_add(s, value, count);
                return 0;
        }
        if (!s->values) {
                s->values = malloc(METRIC_MAX_VALUES * sizeof(double));
                s->counts = malloc(METRIC_MAX_VALUES * sizeof(double));
                if (!s->values || !s->counts) {
                        s->values = mfree(s->values);
                        s->counts = mfree(s->counts);
                        return -ENOMEM;
                }
        }
        s->values[s->n_values] = value;
        s->counts[s->n_values++] = count;
        return 0;
}

void metric_datum_done(MetricDatum *d) {
        free(d->name);
        free_strv(d->dims, 2 * d->n_dims);
        free(d->values);
        free(d->counts);
}

MetricBatch *metric_batch_free(MetricBatch *b) {
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->n; i++)
                metric_datum_done(&b->items[i]);
        free(b->items);
        return mfree(b);
}

static MetricDatum *batch_push(MetricBatch *b, size_t *allocated) {
        if (b->n >= *allocated) {
                size_t n = MAX(*allocated * 2, (size_t) 16);
                MetricDatum *x = realloc(b->items, n * sizeof(MetricDatum));
                if (!x)
                        return NULL;
                b->items = x;
                *allocated = n;
        }
        b->items[b->n] = (MetricDatum) {};
        return &b->items[b->n++];
}

static int datum_from_series(MetricBatch *b, size_t *allocated, const Series *s, usec_t ts, bool distribution) {
        MetricDatum *d = batch_push(b, allocated);

        if (!d)
                return -ENOMEM;
        d->unit = s->unit;
        d->timestamp = ts;
        d->n_dims = s->n_dims;
        d->name = strdup(s->name);
        d->dims = calloc(2 * s->n_dims + 1, sizeof(char *));
        if (!d->name || !d->dims)
                return -ENOMEM;
        for (size_t i = 0; i < 2 * s->n_dims; i++)
                if (!(d->dims[i] = strdup(s->dims[i])))
                        return -ENOMEM;
        if (distribution) {
                d->distribution = true;
                d->n_values = s->n_values;
                d->values = malloc(s->n_values * sizeof(double));
                d->counts = malloc(s->n_values * sizeof(double));
                if (!d->values || !d->counts)
                        return -ENOMEM;
                memcpy(d->values, s->values, s->n_values * sizeof(double));
                memcpy(d->counts, s->counts, s->n_values * sizeof(double));
        } else {
                d->min = s->min;
                d->max = s->max;
                d->sum = s->sum;
                d->count = s->count;
        }
        return 0;
}

static int by_name_unit(const void *x, const void *y) {
        const MetricDatum *a = *(const MetricDatum *const *) x, *b = *(const MetricDatum *const *) y;
        int c = strcmp(a->name, b->name);

        if (c != 0)
                return c;
        return a->unit == b->unit ? 0 : a->unit < b->unit ? -1 : 1;
}

/* One datum per name, unit and shape over every series: the CloudWatch
 * agent's aggregation_dimensions rollup. A scratch Series merges them;
 * distinct values past 150 go to a statistic set beside the values. */
static int aggregate(MetricBatch *b, size_t *allocated, usec_t ts) {
        size_t n = b->n;
        _cleanup_free_ double *values = NULL, *counts = NULL;
        MetricDatum **sorted;
        int r = 0;

        if (n == 0)
                return 0;
        /* At most two datums per run: reserve now so items never move. */
        if (*allocated < 3 * n) {
                MetricDatum *x = realloc(b->items, 3 * n * sizeof(MetricDatum));
                if (!x)
                        return -ENOMEM;
                b->items = x;
                *allocated = 3 * n;
        }
        sorted = malloc(n * sizeof(*sorted));
        values = malloc(METRIC_MAX_VALUES * sizeof(double));
        counts = malloc(METRIC_MAX_VALUES * sizeof(double));
        if (!sorted || !values || !counts) {
                free(sorted);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++)
                sorted[i] = &b->items[i];
        qsort(sorted, n, sizeof(*sorted), by_name_unit);
        for (size_t i = 0, j; i < n && r >= 0; i = j) {
                Series m = { .name = sorted[i]->name, .unit = sorted[i]->unit, .values = values, .counts = counts };

                for (j = i; j < n && by_name_unit(&sorted[i], &sorted[j]) == 0; j++) {
                        const MetricDatum *d = sorted[j];
                        if (!d->distribution) {
                                if (d->count <= 0)
                                        continue;
                                if (m.count == 0 || d->min < m.min)
                                        m.min = d->min;
                                if (m.count == 0 || d->max > m.max)
                                        m.max = d->max;
                                m.sum += d->sum;
                                m.count += d->count;
                                continue;
                        }
                        for (size_t k = 0; k < d->n_values; k++) {
                                size_t v;
                                for (v = 0; v < m.n_values && m.values[v] != d->values[k]; v++)
                                        ;
                                if (v < m.n_values)
                                        m.counts[v] += d->counts[k];
                                else if (m.n_values < METRIC_MAX_VALUES) {
                                        m.values[m.n_values] = d->values[k];
                                        m.counts[m.n_values++] = d->counts[k];
                                } else
                                        stats_add(&m, d->values[k], d->counts[k]);
                        }
                }
                if (m.n_values > 0) {
                        r = datum_from_series(b, allocated, &m, ts, true);
                        b->items[b->n - 1].aggregated = true;
                }
                if (r >= 0 && m.count > 0) {
                        r = datum_from_series(b, allocated, &m, ts, false);
                        b->items[b->n - 1].aggregated = true;
                }
        }
        free(sorted);
        return r;
}

static void window_reset(Series *s) {
        s->min = s->max = s->sum = s->count = 0;
        s->n_values = 0;
}

int metric_agg_seal(MetricAgg *a, usec_t timestamp, bool aggregate_series, MetricBatch **ret) {
        _cleanup_(metric_batch_freep) MetricBatch *b = calloc(1, sizeof(MetricBatch));
        size_t allocated = 0;
        int r = 0;

        if (!b)
                return -ENOMEM;
        for (size_t k = 0; k < a->n_buckets; k++)
                for (Series **p = &a->buckets[k], *s; (s = *p);) {
                        bool dist = s->kind == METRIC_DISTRIBUTION;
                        if (s->count == 0 && s->n_values == 0) {
                                if (++s->idle >= METRIC_AGG_IDLE_WINDOWS) {
                                        *p = s->next;
                                        series_free(s);
                                        a->n_series--;
                                        continue;
                                }
                        } else {
                                s->idle = 0;
                                if (r >= 0 && dist && s->n_values > 0)
                                        r = datum_from_series(b, &allocated, s, timestamp, true);
                                if (r >= 0 && s->count > 0)
                                        r = datum_from_series(b, &allocated, s, timestamp, false);
                        }
                        window_reset(s);
                        p = &s->next;
                }
        if (r >= 0 && aggregate_series)
                r = aggregate(b, &allocated, timestamp);
        if (r < 0)
                return r;
        *ret = b->n > 0 ? TAKE_PTR(b) : NULL;
        return 0;
}

/* ---- Prometheus text ---- */

static void prom_name(FILE *f, const char *s, const char *suffix) {
        if (*s >= '0' && *s <= '9')
                fputc('_', f);
        for (; *s; s++)
                fputc((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_'
                              ? *s
                              : '_',
                      f);
        fputs(suffix, f);
}

static void prom_labels(FILE *f, const Series *s) {
        if (s->n_dims == 0)
                return;
        fputc('{', f);
        for (size_t i = 0; i < s->n_dims; i++) {
                if (i > 0)
                        fputc(',', f);
                prom_name(f, s->dims[2 * i], "=\"");
                for (const char *v = s->dims[2 * i + 1]; *v; v++) {
                        if (*v == '\\' || *v == '"')
                                fputc('\\', f);
                        if (*v == '\n')
                                fputs("\\n", f);
                        else
                                fputc(*v, f);
                }
                fputc('"', f);
        }
        fputc('}', f);
}

static void prom_sample(FILE *f, const Series *s, const char *suffix, double v) {
        prom_name(f, s->name, suffix);
        prom_labels(f, s);
        fprintf(f, " %.17g\n", v);
}

static int by_series_name(const void *x, const void *y) {
        const Series *a = *(const Series *const *) x, *b = *(const Series *const *) y;
        return strcmp(a->name, b->name);
}

int metric_agg_format_prometheus(const MetricAgg *a, char **ret, size_t *ret_len) {
        _cleanup_free_ const Series **all = NULL;
        char *buf = NULL;
        size_t len = 0, n = 0;
        FILE *f;

        if (a->n_series > 0 && !(all = malloc(a->n_series * sizeof(*all))))
                return -ENOMEM;
        for (size_t k = 0; k < a->n_buckets; k++)
                for (const Series *s = a->buckets[k]; s; s = s->next)
                        if (s->total_count > 0)
                                all[n++] = s;
        if (n > 0)
                qsort(all, n, sizeof(*all), by_series_name);
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const Series *s = all[i];
                bool first = i == 0 || !streq(all[i - 1]->name, s->name);
                static const char *const types[] = { "gauge", "counter", "summary" };
                if (first) {
                        fputs("# TYPE ", f);
                        prom_name(f, s->name, s->kind == METRIC_DELTA ? "_total " : " ");
                        fprintf(f, "%s\n", types[s->kind]);
                }
                if (s->kind == METRIC_GAUGE)
                        prom_sample(f, s, "", s->last);
                else if (s->kind == METRIC_DELTA)
                        prom_sample(f, s, "_total", s->total_sum);
                else {
                        prom_sample(f, s, "_sum", s->total_sum);
                        prom_sample(f, s, "_count", s->total_count);
                }
        }
        if (fclose(f) != 0 || !buf) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}
