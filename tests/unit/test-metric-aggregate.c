/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "metric-aggregate.h"
#include "tests.h"

static const MetricDatum *find(const MetricBatch *b, const char *name, bool aggregated, bool distribution,
                               const char *dim_value) {
        for (size_t i = 0; b && i < b->n; i++) {
                const MetricDatum *d = &b->items[i];
                if (streq(d->name, name) && d->aggregated == aggregated && d->distribution == distribution &&
                    (!dim_value || (d->n_dims > 0 && streq(d->dims[1], dim_value))))
                        return d;
        }
        return NULL;
}

static void test_statistic_sets(void) {
        _cleanup_(metric_agg_freep) MetricAgg *a = NULL;
        _cleanup_(metric_batch_freep) MetricBatch *b = NULL;
        MetricDim root = { "path", "/" }, data = { "path", "/data" };
        const MetricDatum *d;

        CHECK_EQ_INT(metric_agg_new(10, &a), 0);
        CHECK_EQ_INT(metric_agg_add(a, "disk_used_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, &root, 1, 10), 0);
        CHECK_EQ_INT(metric_agg_add(a, "disk_used_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, &root, 1, 30), 0);
        CHECK_EQ_INT(metric_agg_add(a, "disk_used_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, &data, 1, 90), 0);
        CHECK_EQ_INT(metric_agg_n_series(a), 2);
        CHECK_EQ_INT(metric_agg_seal(a, 5 * USEC_PER_SEC, true, &b), 0);
        CHECK(b != NULL);
        CHECK_EQ_INT(b->n, 3);          /* two series and one aggregated */
        d = find(b, "disk_used_percent", false, false, "/");
        CHECK(d && d->min == 10 && d->max == 30 && d->sum == 40 && d->count == 2);
        CHECK(d && d->unit == METRIC_UNIT_PERCENT && d->timestamp == 5 * USEC_PER_SEC);
        d = find(b, "disk_used_percent", true, false, NULL);
        CHECK(d && d->min == 10 && d->max == 90 && d->sum == 130 && d->count == 3 && d->n_dims == 0);
        b = metric_batch_free(b);

        /* an empty window seals to nothing; idle series go after 5 windows */
        for (int i = 0; i < METRIC_AGG_IDLE_WINDOWS; i++) {
                CHECK_EQ_INT(metric_agg_seal(a, 0, true, &b), 0);
                CHECK(b == NULL);
        }
        CHECK_EQ_INT(metric_agg_n_series(a), 0);
}

static void test_refused(void) {
        _cleanup_(metric_agg_freep) MetricAgg *a = NULL;
        MetricDim dims[METRIC_MAX_DIMS + 1];
        MetricDim bad = { "k", "" }, ok = { "k", "v" };
        char longname[300];

        CHECK_EQ_INT(metric_agg_new(2, &a), 0);
        for (size_t i = 0; i < ELEMENTSOF(dims); i++)
                dims[i] = ok;
        CHECK_EQ_INT(metric_agg_add(a, "m", METRIC_UNIT_NONE, METRIC_GAUGE, dims, METRIC_MAX_DIMS + 1, 1), -EINVAL);
        CHECK_EQ_INT(metric_agg_add(a, "m", METRIC_UNIT_NONE, METRIC_GAUGE, &bad, 1, 1), -EINVAL);
        CHECK_EQ_INT(metric_agg_add(a, "m", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, NAN), -EINVAL);
        CHECK_EQ_INT(metric_agg_add(a, "m", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, INFINITY), -EINVAL);
        CHECK_EQ_INT(metric_agg_add(a, "m", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 1e300), -EINVAL);
        CHECK_EQ_INT(metric_agg_add(a, "", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 1), -EINVAL);
        CHECK_EQ_INT(metric_agg_add(a, ":x", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 1), -EINVAL);
        CHECK_EQ_INT(metric_agg_add(a, "a\tb", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 1), -EINVAL);
        memset(longname, 'x', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = 0;
        CHECK_EQ_INT(metric_agg_add(a, longname, METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 1), -EINVAL);
        CHECK_EQ_INT(metric_agg_n_series(a), 0);
        /* the table is bounded */
        CHECK_EQ_INT(metric_agg_add(a, "m1", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 1), 0);
        CHECK_EQ_INT(metric_agg_add(a, "m2", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 1), 0);
        CHECK_EQ_INT(metric_agg_add(a, "m3", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 1), -E2BIG);
        CHECK_EQ_INT(metric_agg_add(a, "m1", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 2), 0);
        /* one name, one kind */
        CHECK_EQ_INT(metric_agg_add(a, "m1", METRIC_UNIT_NONE, METRIC_DELTA, NULL, 0, 2), -EINVAL);
        /* tiny values become 0 (CloudWatch refuses them) */
        CHECK_EQ_INT(metric_agg_add(a, "m2", METRIC_UNIT_NONE, METRIC_GAUGE, NULL, 0, 1e-200), 0);
}

static void test_distribution(void) {
        _cleanup_(metric_agg_freep) MetricAgg *a = NULL;
        _cleanup_(metric_batch_freep) MetricBatch *b = NULL;
        MetricDim t1 = { "route", "/a" }, t2 = { "route", "/b" };
        const MetricDatum *d, *over;
        double total = 0;

        CHECK_EQ_INT(metric_agg_new(10, &a), 0);
        /* 12.34 and 12.3449 round to 12.3: one value, counts add (10 at 0.1 sampling) */
        CHECK_EQ_INT(metric_agg_add_value(a, "latency", METRIC_UNIT_MILLISECONDS, &t1, 1, 12.34, 1), 0);
        CHECK_EQ_INT(metric_agg_add_value(a, "latency", METRIC_UNIT_MILLISECONDS, &t1, 1, 12.3449, 10), 0);
        /* 200 distinct values: 150 in values/counts, 50 in a statistic set */
        for (int i = 0; i < 200; i++)
                CHECK_EQ_INT(metric_agg_add_value(a, "latency", METRIC_UNIT_MILLISECONDS, &t2, 1, 1000 + i * 10, 1), 0);
        CHECK_EQ_INT(metric_agg_add_value(a, "latency", METRIC_UNIT_MILLISECONDS, &t1, 1, 5, 0), -EINVAL);
        CHECK_EQ_INT(metric_agg_seal(a, 0, true, &b), 0);
        d = find(b, "latency", false, true, "/a");
        CHECK(d && d->n_values == 1 && fabs(d->values[0] - 12.3) < 1e-9 && d->counts[0] == 11);
        d = find(b, "latency", false, true, "/b");
        CHECK(d && d->n_values == METRIC_MAX_VALUES);
        over = find(b, "latency", false, false, "/b");
        CHECK(over && over->count == 50 && over->min == 2500 && over->max == 2990);
        /* the aggregated series has every observation, once */
        d = find(b, "latency", true, true, NULL);
        CHECK(d && d->n_values == METRIC_MAX_VALUES);
        for (size_t i = 0; d && i < d->n_values; i++)
                total += d->counts[i];
        over = find(b, "latency", true, false, NULL);
        CHECK(over != NULL);
        CHECK(over && total + over->count == 211);
}

static void test_prometheus(void) {
        _cleanup_(metric_agg_freep) MetricAgg *a = NULL;
        _cleanup_(metric_batch_freep) MetricBatch *b = NULL;
        _cleanup_free_ char *text = NULL;
        MetricDim eth = { "interface", "eth0" }, q = { "a.b", "x\"y\\z" };
        size_t len;

        CHECK_EQ_INT(metric_agg_new(10, &a), 0);
        CHECK_EQ_INT(metric_agg_add(a, "net_bytes_recv", METRIC_UNIT_BYTES, METRIC_DELTA, &eth, 1, 100), 0);
        CHECK_EQ_INT(metric_agg_seal(a, 0, false, &b), 0);
        CHECK_EQ_INT(metric_agg_add(a, "net_bytes_recv", METRIC_UNIT_BYTES, METRIC_DELTA, &eth, 1, 50), 0);
        CHECK_EQ_INT(metric_agg_add(a, "mem_used_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, NULL, 0, 10), 0);
        CHECK_EQ_INT(metric_agg_add(a, "mem_used_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, NULL, 0, 42.5), 0);
        CHECK_EQ_INT(metric_agg_add(a, "app.x-y", METRIC_UNIT_NONE, METRIC_GAUGE, &q, 1, 1), 0);
        CHECK_EQ_INT(metric_agg_add_value(a, "t", METRIC_UNIT_MILLISECONDS, NULL, 0, 2, 4), 0);
        CHECK_EQ_INT(metric_agg_format_prometheus(a, &text, &len), 0);
        CHECK_EQ_INT(len, strlen(text));
        CHECK_CONTAINS(text, "# TYPE net_bytes_recv_total counter\nnet_bytes_recv_total{interface=\"eth0\"} 150\n");
        CHECK_CONTAINS(text, "# TYPE mem_used_percent gauge\nmem_used_percent 42.5\n");
        CHECK_CONTAINS(text, "app_x_y{a_b=\"x\\\"y\\\\z\"} 1\n");
        CHECK_CONTAINS(text, "t_sum 8\nt_count 4\n");
}

TEST_MAIN(test_statistic_sets(); test_refused(); test_distribution(); test_prometheus();)
