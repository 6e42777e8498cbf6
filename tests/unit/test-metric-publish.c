/* SPDX-License-Identifier: MIT */
#include "metric-publish.h"
#include "tests.h"

static char *dims_[] = { "path", "/my data", NULL };

static MetricDatum datum(const char *name, bool aggregated) {
        return (MetricDatum) {
                .name = (char *) name, .unit = METRIC_UNIT_PERCENT, .timestamp = 1714564800 * USEC_PER_SEC,
                .aggregated = aggregated, .n_dims = 1, .dims = dims_, .min = 1, .max = 3, .sum = 4, .count = 2,
        };
}

static void test_body(void) {
        MetricDim append[] = { { "InstanceId", "i-0123" }, { "path", "/ignored" } };
        MetricDim agg[] = { { "AutoScalingGroupName", "web asg" } };
        MetricPublishDims dims = { append, 2, agg, 1 };
        double values[] = { 1.5, 2 }, counts[] = { 3, 1 };
        MetricDatum items[3] = { datum("disk_used_percent", false), datum("disk_used_percent", true),
                                 datum("t", false) };
        _cleanup_free_ char *body = NULL;
        size_t len, used, sent;

        items[2] = (MetricDatum) { .name = "t", .unit = METRIC_UNIT_MILLISECONDS, .distribution = true,
                                   .n_values = 2, .values = values, .counts = counts };
        CHECK_EQ_INT(metric_publish_build("CWAgent", &dims, items, 3, 1000, 1 << 20, &body, &len, &used, &sent), 0);
        CHECK_EQ_INT(used, 3);
        CHECK_EQ_INT(sent, 3);
        CHECK_EQ_INT(len, strlen(body));
        CHECK(strncmp(body, "Action=PutMetricData&Version=2010-08-01&Namespace=CWAgent&", 58) == 0);
        CHECK_CONTAINS(body, "&MetricData.member.1.MetricName=disk_used_percent&MetricData.member.1.Unit=Percent"
                             "&MetricData.member.1.Timestamp=2024-05-01T12%3A00%3A00Z"
                             "&MetricData.member.1.Dimensions.member.1.Name=path"
                             "&MetricData.member.1.Dimensions.member.1.Value=%2Fmy%20data"
                             "&MetricData.member.1.Dimensions.member.2.Name=InstanceId"
                             "&MetricData.member.1.Dimensions.member.2.Value=i-0123"
                             "&MetricData.member.1.StatisticValues.SampleCount=2"
                             "&MetricData.member.1.StatisticValues.Sum=4"
                             "&MetricData.member.1.StatisticValues.Minimum=1"
                             "&MetricData.member.1.StatisticValues.Maximum=3");
        /* a dimension of the item wins over an instance one of the same name */
        CHECK(!strstr(body, "member.1.Dimensions.member.3."));
        /* aggregated: the aggregation dimensions only */
        CHECK_CONTAINS(body, "&MetricData.member.2.Dimensions.member.1.Name=AutoScalingGroupName"
                             "&MetricData.member.2.Dimensions.member.1.Value=web%20asg&MetricData.member.2.Stat");
        CHECK_CONTAINS(body, "&MetricData.member.3.Unit=Milliseconds");
        CHECK_CONTAINS(body, "&MetricData.member.3.Values.member.1=1.5&MetricData.member.3.Values.member.2=2"
                             "&MetricData.member.3.Counts.member.1=3&MetricData.member.3.Counts.member.2=1");
        body = mfree(body);

        /* without an aggregation dimension value, aggregated items are skipped (but consumed) */
        dims.n_aggregation = 0;
        CHECK_EQ_INT(metric_publish_build("CWAgent", &dims, items + 1, 1, 1000, 1 << 20, &body, &len, &used, &sent), 0);
        CHECK(body == NULL);
        CHECK_EQ_INT(used, 1);
        CHECK_EQ_INT(sent, 0);
}

static void test_limits(void) {
        MetricPublishDims dims = {};
        static MetricDatum items[2500];
        size_t len, used, sent, total = 0, calls = 0;

        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                items[i] = datum("mem_used_percent", false);
        /* 2,500 items: 1,000 + 1,000 + 500 */
        for (size_t off = 0; off < ELEMENTSOF(items); off += used, calls++) {
                _cleanup_free_ char *body = NULL;
                CHECK_EQ_INT(metric_publish_build("N", &dims, items + off, ELEMENTSOF(items) - off, 5000, 1 << 30, &body,
                                                  &len, &used, &sent), 0);
                CHECK(sent <= 1000);
                CHECK(len <= METRIC_PUBLISH_MAX_BODY);
                CHECK(strstr(body, "MetricData.member.1001.") == NULL);
                total += sent;
        }
        CHECK_EQ_INT(total, 2500);
        CHECK_EQ_INT(calls, 3);

        /* a byte budget splits too, and never cuts an item */
        {
                _cleanup_free_ char *body = NULL;
                CHECK_EQ_INT(metric_publish_build("N", &dims, items, 10, 1000, 1000, &body, &len, &used, &sent), 0);
                CHECK(len <= 1000);
                CHECK(sent >= 1 && sent < 10);
                CHECK_EQ_INT(used, sent);
                CHECK_CONTAINS(body + len - 30, "StatisticValues.Maximum=3");
                body = mfree(body);
                CHECK_EQ_INT(metric_publish_build("N", &dims, items, 10, 1000, 100, &body, &len, &used, &sent), -E2BIG);
        }
}

static void test_timestamp(void) {
        char buf[32];

        metric_format_timestamp(0, buf);
        CHECK_STREQ(buf, "1970-01-01T00:00:00Z");
        metric_format_timestamp(1714564800 * USEC_PER_SEC + 999999, buf);
        CHECK_STREQ(buf, "2024-05-01T12:00:00Z");
}

TEST_MAIN(test_body(); test_limits(); test_timestamp();)
