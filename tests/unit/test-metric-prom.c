/* SPDX-License-Identifier: MIT */
/* The Prometheus text a plugin serves: types, labels, escapes, histograms
 * (only _sum and _count), and bad lines counted, never fatal. */
#include "metric-prom.h"
#include "tests.h"

typedef struct Seen {
        char text[2048];
        size_t len;
} Seen;

static void on_sample(const char *name, PromType type, const PromLabel *labels, size_t n, double v, void *userdata) {
        Seen *s = userdata;

        s->len += (size_t) snprintf(s->text + s->len, sizeof(s->text) - s->len, "%s:%c", name,
                                    type == PROM_COUNTER ? 'c' : type == PROM_GAUGE ? 'g' : 'u');
        for (size_t i = 0; i < n; i++)
                s->len += (size_t) snprintf(s->text + s->len, sizeof(s->text) - s->len, "[%s=%s]", labels[i].name,
                                            labels[i].value);
        s->len += (size_t) snprintf(s->text + s->len, sizeof(s->text) - s->len, "=%g;", v);
}

static void test_parse(void) {
        static const char text[] =
                "# HELP ingest_jobs_accepted_total Jobs.\n"
                "# TYPE ingest_jobs_accepted_total counter\n"
                "ingest_jobs_accepted_total 3\n"
                "# TYPE ingest_queue_depth gauge\n"
                "ingest_queue_depth 12 1700000000000\n"
                "# TYPE ingest_http_responses_total counter\n"
                "ingest_http_responses_total{code=\"202\"} 5\n"
                "ingest_http_responses_total{code=\"4\\\"0\\\\1\\n\"} 1\n"
                "# TYPE lat histogram\n"
                "lat_bucket{le=\"0.1\"} 4\n"
                "lat_bucket{le=\"+Inf\"} 5\n"
                "lat_sum 0.42\n"
                "lat_count 5\n"
                "untyped_thing 7\r\n"
                "\n"
                "bad line here\n"
                "nan_value NaN\n"
                "9starts_with_digit 1\n"
                "unclosed{a=\"x} 1\n"
                "too_many{a=\"1\",b=\"1\",c=\"1\",d=\"1\",e=\"1\",f=\"1\",g=\"1\",h=\"1\",i=\"1\"} 1\n"
                "free_total 2";
        Seen s = {};
        unsigned bad = 0;

        CHECK_EQ_INT(prom_parse(text, strlen(text), on_sample, &s, &bad), 8);
        CHECK_STREQ(s.text, "ingest_jobs_accepted_total:c=3;ingest_queue_depth:g=12;"
                            "ingest_http_responses_total:c[code=202]=5;"
                            "ingest_http_responses_total:c[code=4\"0\\1\n]=1;"
                            "lat_sum:c=0.42;lat_count:c=5;untyped_thing:u=7;free_total:c=2;");
        CHECK_EQ_INT(bad, 5);
}

static void test_limits(void) {
        char line[PROM_MAX_LINE + 64];
        Seen s = {};
        unsigned bad = 0;

        memset(line, 'a', sizeof(line) - 4);
        memcpy(line + sizeof(line) - 4, " 1\n", 4);
        CHECK_EQ_INT(prom_parse(line, sizeof(line) - 1, on_sample, &s, &bad), 0);
        CHECK_EQ_INT(bad, 1);
        /* A NUL inside a line. */
        CHECK_EQ_INT(prom_parse("a 1\nb\0c 2\nd 3\n", 14, on_sample, &s, &bad), 2);
        CHECK_EQ_INT(bad, 1);
        CHECK_EQ_INT(prom_parse("", 0, on_sample, &s, &bad), 0);
}

TEST_MAIN(
        test_parse();
        test_limits();
)
