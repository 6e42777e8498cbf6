/* SPDX-License-Identifier: MIT */
/* body.c (gzip and limits), credentials.c (mode, keys, constant-time
 * compare), conf.c (dataset files refused with file and line). */
#include <sys/stat.h>
#include <zlib.h>

#include "body.h"
#include "check.h"
#include "conf.h"
#include "credentials.h"
#include "metrics.h"

static char *write_tmp(const char *text, mode_t mode) {
        static char path[64];
        int fd;

        snprintf(path, sizeof(path), "/tmp/test-ingest-XXXXXX");
        fd = mkstemp(path);
        CHECK(fd >= 0);
        CHECK(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        CHECK(fchmod(fd, mode) == 0);
        close(fd);
        return path;
}

static size_t gz(const char *in, size_t n, unsigned char *out, size_t cap) {
        z_stream z = {};
        CHECK(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) n;
        z.next_out = out;
        z.avail_out = (uInt) cap;
        CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
        size_t len = cap - z.avail_out;
        deflateEnd(&z);
        return len;
}

static void test_body(void) {
        static unsigned char buf[1 << 16];
        static char big[200000];
        Body b;
        size_t n;

        /* gzip in odd-sized chunks, two members back to back */
        n = gz("hello ", 6, buf, sizeof(buf));
        n += gz("world", 5, buf + n, sizeof(buf) - n);
        body_init(&b, true, 1000, 1000);
        for (size_t i = 0; i < n; i += 7)
                CHECK(body_feed(&b, (char *) buf + i, n - i < 7 ? n - i : 7) == 0);
        CHECK(body_finish(&b) == 0);
        CHECK_STR(b.data.data, "hello world");
        body_done(&b);

        /* a bomb: small on the wire, over max_decoded once inflated */
        memset(big, 'a', sizeof(big));
        n = gz(big, sizeof(big), buf, sizeof(buf));
        CHECK(n < 1000);
        body_init(&b, true, 1000, 100000);
        CHECK(body_feed(&b, (char *) buf, n) == -EFBIG);
        body_done(&b);

        body_init(&b, true, 1000, 1000);
        CHECK(body_feed(&b, "plain text", 10) == -EBADMSG);
        body_done(&b);

        n = gz("cut", 3, buf, sizeof(buf));
        body_init(&b, true, 1000, 1000);
        CHECK(body_feed(&b, (char *) buf, n - 4) == 0);
        CHECK(body_finish(&b) == -EBADMSG);
        body_done(&b);

        body_init(&b, false, 10, 10);
        CHECK(body_feed(&b, "0123456789", 10) == 0);
        CHECK(body_feed(&b, "x", 1) == -EFBIG);
        body_done(&b);
}

static void test_credentials(void) {
        Credentials *c = NULL;
        const char *good = "[database]\nuser = u\npassword = p\n[api_keys]\nfirst = aaaaaaaaaaaaaaaa1\nsecond = bbbbbbbbbbbbbbbb2\n";
        char *p = write_tmp(good, 0600);

        CHECK(credentials_load(p, true, &c) == 0);
        CHECK(c->n_keys == 2);
        CHECK_STR(credentials_check_key(c, "bbbbbbbbbbbbbbbb2", 17), "second");
        CHECK(!credentials_check_key(c, "bbbbbbbbbbbbbbbb", 16));
        CHECK(!credentials_check_key(c, "bbbbbbbbbbbbbbbb22", 18));
        CHECK(!credentials_check_key(c, "", 0));
        credentials_free(c);
        unlink(p);

        p = write_tmp(good, 0640);
        CHECK(credentials_load(p, true, &c) == -EPERM);
        unlink(p);
        p = write_tmp("[database]\nuser = u\npassword = p\n", 0600);
        CHECK(credentials_load(p, true, &c) == -EINVAL);       /* the API needs a key */
        CHECK(credentials_load(p, false, &c) == 0);            /* a worker does not */
        credentials_free(c);
        unlink(p);
        p = write_tmp("[database]\nuser = u\npassword = p\n[api_keys]\nk = short\n", 0600);
        CHECK(credentials_load(p, true, &c) == -EINVAL);
        unlink(p);

        CHECK(ct_equal("abc", 3, "abc", 3));
        CHECK(!ct_equal("abd", 3, "abc", 3));
        CHECK(!ct_equal("abcabc", 6, "abc", 3));
        CHECK(!ct_equal("", 0, "abc", 3));
}

static void test_dataset_errors(void) {
        static const char *const bad[] = {
                "[dataset]\ntable = t\nkey = nosuch\n[field.a]\ntype = int\n",
                "[dataset]\ntable = bad-name\nkey = a\n[field.a]\ntype = int\n",
                "[dataset]\ntable = t\nkey = a\n[field.a]\ntype = decimal\n",
                "[dataset]\ntable = t\nkey = a\n[field.a]\ntype = float\n",
                "[dataset]\ntable = t\nkey = a\n[field.a]\ntype = int\nmin = low\n",
                "[dataset]\ntable = t\nkey = a\n[field.a b]\ntype = int\n",
                "[dataset]\ntable = t\n[field.a]\ntype = int\n",
                "[dataset]\ntable = t\nkey = a\ncolour = red\n[field.a]\ntype = int\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                Dataset *d = NULL;
                char *p = write_tmp(bad[i], 0644);
                CHECK(dataset_load(p, "t", &d) == -EINVAL);
                CHECK(d == NULL);
                unlink(p);
        }
}

static void test_metrics(void) {
        Metrics m = {};
        QueueStats q = { .depth = 7, .oldest_age = 12.5, .records_done = 1000 };
        Buf b = {};

        metrics_observe(&m, 202, 500);                  /* 0.5 ms */
        metrics_observe(&m, 202, 3 * 1000);             /* 3 ms */
        metrics_observe(&m, 503, 10 * 1000 * 1000);     /* 10 s: past the last bucket */
        CHECK(metrics_render(&m, &b) == 0);
        CHECK_CONTAINS(b.data, "ingest_http_responses_total{code=\"202\"} 2\n");
        CHECK_CONTAINS(b.data, "ingest_http_request_duration_seconds_bucket{le=\"0.001\"} 1\n");
        CHECK_CONTAINS(b.data, "ingest_http_request_duration_seconds_bucket{le=\"0.005\"} 2\n");
        CHECK_CONTAINS(b.data, "ingest_http_request_duration_seconds_bucket{le=\"5\"} 2\n");
        CHECK_CONTAINS(b.data, "ingest_http_request_duration_seconds_bucket{le=\"+Inf\"} 3\n");
        CHECK_CONTAINS(b.data, "ingest_http_request_duration_seconds_count 3\n");
        CHECK(!strstr(b.data, "ingest_queue_depth"));  /* no figures before the first query */
        buf_done(&b);

        metrics_stats(&m, &q, 1000000);
        q.records_done = 3000;
        metrics_stats(&m, &q, 3000000);                 /* 2000 records in 2 s */
        CHECK(metrics_render(&m, &b) == 0);
        CHECK_CONTAINS(b.data, "ingest_queue_depth 7\n");
        CHECK_CONTAINS(b.data, "ingest_queue_oldest_age_seconds 12.500\n");
        CHECK_CONTAINS(b.data, "ingest_records_per_second 1000.0\n");
        CHECK_CONTAINS(b.data, "# TYPE ingest_jobs_done_total counter\n");
        buf_done(&b);
}

int main(void) {
        test_metrics();
        test_body();
        test_credentials();
        test_dataset_errors();
        printf("ok\n");
        return 0;
}
