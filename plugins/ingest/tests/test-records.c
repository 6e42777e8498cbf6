/* SPDX-License-Identifier: MIT */
/* records.c: parsing, validation and preprocessing, every verdict. */
#include <time.h>
#include "check.h"
#include "fields.h"
#include "records.h"

static Dataset *make_dataset(void) {
        static const char text[] =
                "[dataset]\ntable = events\nkey = id\nmax_records = 5\nmax_errors = 2\n"
                "[field.id]\ntype = string\nmax_length = 4\n"
                "[field.ts]\ntype = timestamp\n"
                "[field.n]\ntype = int\nmin = 0\nmax = 100\n"
                "[field.f]\ntype = float\n"
                "[field.b]\ntype = bool\n";
        char path[] = "/tmp/test-records-XXXXXX";
        int fd = mkstemp(path);
        Dataset *d = NULL;

        CHECK(fd >= 0);
        CHECK(write(fd, text, sizeof(text) - 1) == (ssize_t) (sizeof(text) - 1));
        close(fd);
        CHECK(dataset_load(path, "ev", &d) == 0);
        unlink(path);
        return d;
}

static Records run(const Dataset *d, BodyFormat f, const char *body) {
        Records r;
        CHECK(records_process(d, f, body, strlen(body), &r) == 0);
        return r;
}

static void test_formats(const Dataset *d) {
        Records r = run(d, FORMAT_NDJSON, "{\"id\":\" a \",\"ts\":\"2026-01-02T03:04:05-01:30\",\"n\":7,\"f\":\"2.5\",\"b\":true}\n\n"
                                          "{\"id\":\"bé\",\"n\":\"42\",\"b\":\"no\"}");
        CHECK(r.status == 0 && r.n_records == 2);
        CHECK_STR(r.out.data, "[\"a\",\"2026-01-02 04:34:05.000000\",\"7\",\"2.5\",\"1\"]\n"
                              "[\"bé\",null,\"42\",null,\"0\"]\n");
        records_done(&r);

        r = run(d, FORMAT_JSON, "[{\"id\":\"x\",\"ts\":1700000000.25}]");
        CHECK(r.status == 0);
        CHECK_STR(r.out.data, "[\"x\",\"2023-11-14 22:13:20.250000\",null,null,null]\n");
        records_done(&r);

        /* A fraction that rounds to a whole second carries into the seconds. */
        r = run(d, FORMAT_JSON, "[{\"id\":\"x\",\"ts\":1700000000.9999999}]");
        CHECK(r.status == 0);
        CHECK_STR(r.out.data, "[\"x\",\"2023-11-14 22:13:21.000000\",null,null,null]\n");
        records_done(&r);

        r = run(d, FORMAT_CSV, "\xef\xbb\xbfn,id,b\r\n5,\"q,\"\"1\",t\n\n,z,\n");
        CHECK(r.status == 0 && r.n_records == 2);
        CHECK_STR(r.out.data, "[\"q,\\\"1\",null,\"5\",null,\"1\"]\n[\"z\",null,null,null,null]\n");
        records_done(&r);
}

static void test_malformed(const Dataset *d) {
        Records r = run(d, FORMAT_NDJSON, "{\"id\":\"a\"}\n[1]\n");
        CHECK(r.status == 400);
        CHECK_CONTAINS(r.error.data, "\"line\":2");
        CHECK_CONTAINS(r.error.data, "not a JSON object");
        records_done(&r);

        r = run(d, FORMAT_JSON, "[{\"id\":\"a\"},\n{\"id\":}]");
        CHECK(r.status == 400);
        CHECK_CONTAINS(r.error.data, "\"line\":2");
        records_done(&r);

        r = run(d, FORMAT_CSV, "id\n\"unterminated\n");
        CHECK(r.status == 400);
        CHECK_CONTAINS(r.error.data, "quotes");
        records_done(&r);

        r = run(d, FORMAT_CSV, "id,n\na\n");
        CHECK(r.status == 400);
        CHECK_CONTAINS(r.error.data, "1 cells where the header has 2");
        records_done(&r);

        r = run(d, FORMAT_CSV, "id,id\na,b\n");
        CHECK(r.status == 400);
        records_done(&r);

        r = run(d, FORMAT_NDJSON, "\n  \n");
        CHECK(r.status == 400);
        CHECK_CONTAINS(r.error.data, "no records");
        records_done(&r);

        r = run(d, FORMAT_NDJSON, "{\"id\":\"1\"}\n{\"id\":\"2\"}\n{\"id\":\"3\"}\n{\"id\":\"4\"}\n{\"id\":\"5\"}\n{\"id\":\"6\"}\n");
        CHECK(r.status == 413);
        CHECK_CONTAINS(r.error.data, "more than 5 records");
        records_done(&r);
}

static void test_schema(const Dataset *d) {
        Records r = run(d, FORMAT_NDJSON,
                        "{\"id\":\"toolong\"}\n{\"n\":1}\n{\"id\":\"a\",\"n\":101}\n{\"id\":\"a\",\"zz\":1}\n{\"id\":\"ok\"}\n");
        CHECK(r.status == 422);
        CHECK(r.n_bad_records == 4);
        CHECK_CONTAINS(r.error.data, "4 of 5 records");
        CHECK_CONTAINS(r.error.data, "max_length");
        CHECK_CONTAINS(r.error.data, "required field missing");
        CHECK(!strstr(r.error.data, "min/max"));       /* max_errors = 2: only the first two */
        records_done(&r);

        static const char *const bad[] = {
                "{\"id\":\"a\",\"n\":1.5}", "{\"id\":\"a\",\"n\":\"12x\"}", "{\"id\":\"a\",\"f\":\"nan\"}",
                "{\"id\":\"a\",\"b\":2}", "{\"id\":\"a\",\"b\":\"maybe\"}", "{\"id\":\"a\",\"ts\":\"2026-02-30T00:00:00Z\"}",
                "{\"id\":\"a\",\"ts\":\"2026-01-01T00:00:00\"}", "{\"id\":\"a\",\"n\":[1]}", "{\"id\":5}",
                "{\"id\":\"\xff\"}", "{\"id\":\"\xc0\xaf\"}", "{\"id\":\"   \"}", "{\"id\":\"a\",\"n\":1e300}",
                /* past time_t: refused before the cast (UBSan caught it, fuzz-ingest) */
                "{\"id\":\"a\",\"ts\":1e300}", "{\"id\":\"a\",\"ts\":-1e300}", "{\"id\":\"a\",\"ts\":253402300800}",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                r = run(d, FORMAT_NDJSON, bad[i]);
                if (r.status != 422)
                        fprintf(stderr, "expected 422 for %s, got %u\n", bad[i], r.status);
                CHECK(r.status == 422);
                records_done(&r);
        }
}

static void test_units(void) {
        char out[27];
        size_t n;

        CHECK(timestamp_normalise("2026-03-01T00:30:00+01:00", out) == 0);
        CHECK_STR(out, "2026-02-28 23:30:00.000000");
        CHECK(timestamp_normalise("2024-02-29 12:00:00.1234567Z", out) == 0);
        CHECK_STR(out, "2024-02-29 12:00:00.123456");
        CHECK(timestamp_normalise("2023-02-29T12:00:00Z", out) < 0);
        CHECK(timestamp_normalise("2023-01-01T25:00:00Z", out) < 0);
        CHECK(timestamp_normalise("2023-01-01T00:00:00+1", out) < 0);
        CHECK(timestamp_normalise("1000-01-01T00:00:00Z", out) == 0);
        CHECK_STR(out, "1000-01-01 00:00:00.000000");
        CHECK(timestamp_normalise("1000-01-01T00:30:00+01:00", out) == -ERANGE);
        CHECK(timestamp_normalise("9999-12-31T23:30:00-01:00", out) == -ERANGE);
        CHECK(timestamp_normalise("2000-02-29T00:00:00Z", out) == 0);
        CHECK(timestamp_normalise("1900-02-29T00:00:00Z", out) < 0);
        CHECK(timestamp_normalise("2016-12-31T23:59:60Z", out) == 0);
        CHECK_STR(out, "2016-12-31 23:59:59.000000");
        CHECK(timestamp_normalise("1969-12-31T23:59:59.5-00:30", out) == 0);
        CHECK_STR(out, "1970-01-01 00:29:59.500000");
        /* The calendar arithmetic against the C library's, across the range. */
        for (int64_t t = -30610224000LL; t <= 253402300799LL; t += 86399 * 37 + 7) {
                struct tm tm;
                time_t tt = (time_t) t;
                char want[64];
                CHECK(gmtime_r(&tt, &tm));
                snprintf(want, sizeof(want), "%04d-%02d-%02d %02d:%02d:%02d.000042", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
                CHECK(datetime_format(t, 42, out) == 0);
                if (strcmp(out, want) != 0) {
                        fprintf(stderr, "datetime_format(%lld): %s, gmtime: %s\n", (long long) t, out, want);
                        CHECK_STR(out, want);
                        break;
                }
        }
        CHECK(datetime_format(-30610224001LL, 0, out) == -ERANGE);
        CHECK(datetime_format(253402300800LL, 0, out) == -ERANGE);
        CHECK(utf8_valid("aé€😀", strlen("aé€😀"), &n) && n == 4);
        CHECK(!utf8_valid("\xed\xa0\x80", 3, NULL));    /* surrogate */
        CHECK(!utf8_valid("\xe2\x82", 2, NULL));        /* cut short */
        CHECK(!utf8_valid("\xf4\x90\x80\x80", 4, NULL)); /* > U+10FFFF */

        BodyFormat f;
        CHECK(body_format_from_content_type("application/x-ndjson; charset=utf-8", &f) == 0 && f == FORMAT_NDJSON);
        CHECK(body_format_from_content_type("Text/CSV", &f) == 0 && f == FORMAT_CSV);
        CHECK(body_format_from_content_type("application/json", &f) == 0 && f == FORMAT_JSON);
        CHECK(body_format_from_content_type("application/jsonx", &f) == -EMEDIUMTYPE);
        CHECK(body_format_from_content_type(NULL, &f) == -EMEDIUMTYPE);
}

int main(void) {
        Dataset *d = make_dataset();

        test_formats(d);
        test_malformed(d);
        test_schema(d);
        test_units();
        dataset_free(d);
        printf("ok\n");
        return 0;
}
