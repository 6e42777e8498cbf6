/* SPDX-License-Identifier: MIT */
/* The pure parts of log shipping: line splitting, UTF-8, the split marker,
 * multiline, PutLogEvents batches at every limit, timestamps, settings. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-parser.h"
#include "log-batch.h"
#include "log-file.h"
#include "log-line.h"
#include "logs-settings.h"
#include "tests.h"

typedef struct Got {
        char *msg[64];
        size_t len[64];
        uint64_t off[64];
        size_t n;
} Got;

static void on_emit(void *userdata, const char *msg, size_t len, uint64_t off) {
        Got *g = userdata;
        CHECK(g->n < 64);
        g->msg[g->n] = strndup(msg, len);
        g->len[g->n] = len;
        g->off[g->n++] = off;
}

static void got_free(Got *g) {
        for (size_t i = 0; i < g->n; i++)
                free(g->msg[i]);
        g->n = 0;
}

static void test_lines(void) {
        LogLineSplitter s;
        Got g = {};

        log_line_init(&s, NULL, LOG_EVENT_MAX_MESSAGE, on_emit, &g, 100);
        CHECK_EQ_INT(log_line_feed(&s, "one\r\ntw", 7), 0);
        CHECK_EQ_INT(g.n, 1);
        CHECK_STREQ(g.msg[0], "one");
        CHECK_EQ_INT(g.off[0], 105);
        CHECK(log_line_pending(&s));
        CHECK_EQ_INT(log_line_feed(&s, "o\nthree", 7), 0);
        CHECK_STREQ(g.msg[1], "two");
        CHECK_EQ_INT(g.off[1], 109);
        CHECK_EQ_INT(log_line_flush(&s), 0);         /* the partial line after its timeout */
        CHECK_STREQ(g.msg[2], "three");
        CHECK_EQ_INT(g.off[2], 114);
        CHECK(!log_line_pending(&s));
        got_free(&g);
        log_line_done(&s);
}

static void test_utf8(void) {
        LogLineSplitter s;
        Got g = {};
        /* overlong, surrogate, beyond U+10FFFF, truncated, stray continuation */
        const char in[] = "a\xc0\xaf b\xed\xa0\x80 c\xf4\x90\x80\x80 d\xe2\x82 e\x80 \xe2\x82\xac\n";

        CHECK_EQ_INT(utf8_valid_prefix("h\xc3\xa9llo", 6), 6);
        CHECK_EQ_INT(utf8_valid_prefix("ab\xff", 3), 2);
        log_line_init(&s, NULL, LOG_EVENT_MAX_MESSAGE, on_emit, &g, 0);
        CHECK_EQ_INT(log_line_feed(&s, in, sizeof(in) - 1), 0);
        CHECK_EQ_INT(g.n, 1);
        CHECK_EQ_INT(utf8_valid_prefix(g.msg[0], g.len[0]), g.len[0]);
        CHECK_STREQ(g.msg[0], "a\xef\xbf\xbd\xef\xbf\xbd b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd c\xef\xbf\xbd\xef\xbf\xbd"
                              "\xef\xbf\xbd\xef\xbf\xbd d\xef\xbf\xbd\xef\xbf\xbd e\xef\xbf\xbd \xe2\x82\xac");
        CHECK_EQ_INT(s.n_replaced, 1);
        got_free(&g);
        log_line_done(&s);
}

static void test_split_marker(void) {
        const size_t max = 64, mlen = strlen(LOG_LINE_SPLIT_MARKER);
        LogLineSplitter s;
        Got g = {};
        char line[200];

        /* A line of exactly max bytes is one event; one more byte splits. */
        memset(line, 'x', sizeof(line));
        line[max] = '\n';
        log_line_init(&s, NULL, max, on_emit, &g, 0);
        CHECK_EQ_INT(log_line_feed(&s, line, max + 1), 0);
        CHECK_EQ_INT(g.n, 1);
        CHECK_EQ_INT(g.len[0], max);
        got_free(&g);
        line[max] = 'x';
        line[max + 1] = '\n';
        CHECK_EQ_INT(log_line_feed(&s, line, max + 2), 0);
        CHECK_EQ_INT(g.n, 2);
        CHECK_EQ_INT(g.len[0], max);
        CHECK(strstr(g.msg[0], LOG_LINE_SPLIT_MARKER));
        CHECK_EQ_INT(g.len[0] - mlen + g.len[1], max + 1);
        /* The first piece carries the start offset: a crash resends, never loses. */
        CHECK_EQ_INT(g.off[0], max + 1);
        CHECK_EQ_INT(g.off[1], 2 * max + 3);
        got_free(&g);
        /* A long line without newline: pieces go while it grows (bounded memory). */
        for (int i = 0; i < 10; i++)
                CHECK_EQ_INT(log_line_feed(&s, line, 100), 0);
        CHECK(g.n >= 10);
        CHECK(s.partial_len <= max);
        /* Never a cut inside a character. */
        got_free(&g);
        log_line_reset(&s, 0);
        {
                char u[3 * 40 + 1];
                for (int i = 0; i < 40; i++)
                        memcpy(u + 3 * i, "\xe2\x82\xac", 3);
                u[120] = '\n';
                CHECK_EQ_INT(log_line_feed(&s, u, sizeof(u)), 0);
                for (size_t i = 0; i < g.n; i++) {
                        CHECK_EQ_INT(utf8_valid_prefix(g.msg[i], g.len[i]), g.len[i]);
                        CHECK(g.len[i] <= max);
                }
        }
        got_free(&g);
        log_line_done(&s);
}

static void test_multiline(void) {
        LogLineSplitter s;
        regex_t re;
        Got g = {};
        const char in[] = "[01] PHP Fatal error: x\nStack trace:\n#0 f()\n[02] next\n";

        CHECK_EQ_INT(regcomp(&re, "^\\[", REG_EXTENDED | REG_NOSUB), 0);
        log_line_init(&s, &re, LOG_EVENT_MAX_MESSAGE, on_emit, &g, 0);
        CHECK_EQ_INT(log_line_feed(&s, in, sizeof(in) - 1), 0);
        CHECK_EQ_INT(g.n, 1);
        CHECK_STREQ(g.msg[0], "[01] PHP Fatal error: x\nStack trace:\n#0 f()");
        CHECK_EQ_INT(g.off[0], 44);
        CHECK_EQ_INT(log_line_flush(&s), 0);
        CHECK_STREQ(g.msg[1], "[02] next");
        got_free(&g);
        log_line_done(&s);
        regfree(&re);
}

static void test_batch_limits(void) {
        _cleanup_(log_batch_freep) LogBatch *b = NULL;
        static char big[LOG_EVENT_MAX_MESSAGE + 1];
        int64_t t = 1700000000000;

        CHECK_EQ_INT(log_batch_new("/g", "s\"1", &b), 0);
        CHECK_CONTAINS(b->body, "\"logStreamName\":\"s\\\"1\"");
        for (int i = 0; i < LOG_BATCH_MAX_EVENTS; i++)
                CHECK_EQ_INT(log_batch_add(b, t, "e", 1), 0);
        CHECK_EQ_INT(log_batch_add(b, t, "e", 1), -E2BIG);      /* event 10,001 */
        b = log_batch_free(b);

        /* 1,048,576 bytes with the overhead: exactly one maximal event fits. */
        memset(big, 'a', sizeof(big));
        CHECK_EQ_INT(log_batch_new("/g", "s", &b), 0);
        CHECK_EQ_INT(log_batch_add(b, t, big, LOG_EVENT_MAX_MESSAGE + 1), -EINVAL);
        CHECK_EQ_INT(log_batch_add(b, t, big, LOG_EVENT_MAX_MESSAGE), 0);
        CHECK_EQ_INT(b->bytes, LOG_BATCH_MAX_BYTES);
        CHECK_EQ_INT(log_batch_add(b, t, "x", 1), -E2BIG);
        b = log_batch_free(b);

        /* Bytes: two events whose sum with the overhead is exactly the limit. */
        CHECK_EQ_INT(log_batch_new("/g", "s", &b), 0);
        CHECK_EQ_INT(log_batch_add(b, t, big, 1000), 0);
        CHECK_EQ_INT(log_batch_add(b, t, big, LOG_BATCH_MAX_BYTES - 1000 - 2 * LOG_EVENT_OVERHEAD), 0);
        CHECK_EQ_INT(log_batch_add(b, t, big, 0), -E2BIG);
        b = log_batch_free(b);

        /* 24 h span, and chronological order. */
        CHECK_EQ_INT(log_batch_new("/g", "s", &b), 0);
        CHECK_EQ_INT(log_batch_add(b, t, "a", 1), 0);
        CHECK_EQ_INT(log_batch_add(b, t + LOG_BATCH_MAX_SPAN_MS, "b", 1), 0);
        CHECK_EQ_INT(log_batch_add(b, t + LOG_BATCH_MAX_SPAN_MS + 1, "c", 1), -E2BIG);
        CHECK_EQ_INT(log_batch_add(b, t - 5000, "earlier", 7), 0);   /* raised, not reordered */
        CHECK_EQ_INT(b->last_ms, t + LOG_BATCH_MAX_SPAN_MS);
        CHECK_EQ_INT(log_batch_seal(b), 0);
        CHECK_CONTAINS(b->body, "{\"timestamp\":1700086400000,\"message\":\"earlier\"}]}");
        b = log_batch_free(b);

        CHECK_EQ_INT(log_event_time_check(t - LOG_EVENT_MAX_AGE_MS - 1, t), LOG_EVENT_TOO_OLD);
        CHECK_EQ_INT(log_event_time_check(t - LOG_EVENT_MAX_AGE_MS, t), LOG_EVENT_TIME_OK);
        CHECK_EQ_INT(log_event_time_check(t + LOG_EVENT_MAX_FUTURE_MS, t), LOG_EVENT_TIME_OK);
        CHECK_EQ_INT(log_event_time_check(t + LOG_EVENT_MAX_FUTURE_MS + 1, t), LOG_EVENT_TOO_NEW);
}

static void test_json_escape(void) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, alloc = 0;

        CHECK_EQ_INT(json_escape_append(&buf, &len, &alloc, "a\"b\\c\n\t\x01\xe2\x82\xac", 11), 0);
        CHECK_STREQ(buf, "a\\\"b\\\\c\\n\\t\\u0001\xe2\x82\xac");

        /* The eight-bytes-at-a-time scan against a byte-by-byte reference:
         * every byte value at every position of a 20-byte run (two words
         * and a tail), among plain ASCII and UTF-8 bytes. */
        for (unsigned c = 0; c < 256; c++)
                for (size_t pos = 0; pos < 20; pos++) {
                        char in[20], want[20 * 6 + 1], *w = want;
                        for (size_t i = 0; i < sizeof(in); i++)
                                in[i] = i == pos ? (char) c : (char) (i % 3 == 0 ? 0xc3 : 'a' + i);
                        for (size_t i = 0; i < sizeof(in); i++) {
                                unsigned char x = (unsigned char) in[i];
                                if (x == '"' || x == '\\')
                                        w += sprintf(w, "\\%c", x);
                                else if (x == '\n')
                                        w += sprintf(w, "\\n");
                                else if (x == '\t')
                                        w += sprintf(w, "\\t");
                                else if (x == '\r')
                                        w += sprintf(w, "\\r");
                                else if (x < 0x20)
                                        w += sprintf(w, "\\u%04x", x);
                                else
                                        *w++ = (char) x;
                        }
                        *w = 0;
                        len = 0;
                        CHECK_EQ_INT(json_escape_append(&buf, &len, &alloc, in, sizeof(in)), 0);
                        CHECK_STREQ(buf, want);
                        CHECK_EQ_INT(len, strlen(want));
                }
}

static void test_batch_reuse(void) {
        _cleanup_(log_batch_freep) LogBatch *a = NULL, *b = NULL;
        size_t header;

        CHECK_EQ_INT(log_batch_new("/g", "s", &a), 0);
        CHECK_EQ_INT(log_batch_new("/g", "s", &b), 0);
        header = a->len;
        /* The header written by hand, as snprintf would have: 0, one digit,
         * twenty digits' worth of int64, a negative number. */
        CHECK_EQ_INT(log_batch_add(a, 0, "x", 1), 0);
        CHECK_EQ_INT(log_batch_add(a, 7, "y", 1), 0);
        CHECK_EQ_INT(log_batch_seal(a), 0);
        CHECK_STREQ(a->body + header, "{\"timestamp\":0,\"message\":\"x\"},{\"timestamp\":7,\"message\":\"y\"}]}");
        log_batch_reset(a);
        CHECK_EQ_INT(a->len, header);
        CHECK(!a->sealed && a->n_events == 0 && a->bytes == 0 && a->n_marks == 0);
        CHECK_EQ_INT(log_batch_add(a, INT64_MAX, "z", 1), 0);
        CHECK_STREQ(a->body + header, "{\"timestamp\":9223372036854775807,\"message\":\"z\"}");
        log_batch_reset(a);
        CHECK_EQ_INT(log_batch_add(a, -5, "n", 1), 0);
        CHECK_CONTAINS(a->body, "[{\"timestamp\":-5,\"message\":\"n\"}");

        /* take: the events, marks and cursor of b move into the emptied a. */
        log_batch_reset(a);
        CHECK_EQ_INT(log_batch_add(b, 1700000000000, "one", 3), 0);
        CHECK_EQ_INT(log_batch_mark(b, 3, 40), 0);
        CHECK_EQ_INT(log_batch_set_cursor(b, "c1"), 0);
        b->created = 42;
        CHECK_EQ_INT(log_batch_take(a, b), 0);
        CHECK_EQ_INT(a->n_events, 1);
        CHECK_EQ_INT(a->bytes, 3 + LOG_EVENT_OVERHEAD);
        CHECK_EQ_INT(a->n_marks, 1);
        CHECK_EQ_INT(a->marks[0].offset, 40);
        CHECK_STREQ(a->cursor, "c1");
        CHECK_EQ_INT(a->created, 42);
        CHECK_EQ_INT(b->n_events, 0);
        CHECK(!b->cursor);
        CHECK_EQ_INT(log_batch_add(a, 1700000000001, "two", 3), 0);
        CHECK_EQ_INT(log_batch_seal(a), 0);
        CHECK_STREQ(a->body + header, "{\"timestamp\":1700000000000,\"message\":\"one\"},"
                    "{\"timestamp\":1700000000001,\"message\":\"two\"}]}");
        /* Not into a batch that holds events, nor across streams. */
        CHECK_EQ_INT(log_batch_take(a, b), -EINVAL);
        b = log_batch_free(b);
        CHECK_EQ_INT(log_batch_new("/g", "other", &b), 0);
        log_batch_reset(a);
        CHECK_EQ_INT(log_batch_add(b, 1, "x", 1), 0);
        CHECK_EQ_INT(log_batch_take(a, b), -EINVAL);
}

static void test_timestamp_and_names(void) {
        int64_t ms;
        char *s = NULL;

        CHECK_EQ_INT(log_parse_timestamp("[%d-%b-%Y %H:%M:%S %z]", "[01-Dec-2026 10:00:00 +0100] x", 30, &ms), 0);
        CHECK_EQ_INT(ms, 1796115600000LL);
        CHECK(log_parse_timestamp("%Y/%m/%d", "no date here", 12, &ms) < 0);
        CHECK(log_group_name_valid("/aws/ec2/php-app"));
        CHECK(!log_group_name_valid("bad group"));
        CHECK(!log_group_name_valid(""));
        CHECK(!log_stream_name_valid("a:b"));
        CHECK_EQ_INT(log_stream_name_expand("{instance.id}/{name}", "nginx", "i-1", "h", &s), 0);
        CHECK_STREQ(s, "i-1/nginx");
        free(s);
        CHECK_EQ_INT(log_stream_name_expand("{nope}", "n", "i", "h", &s), -EINVAL);
        CHECK_EQ_INT(log_priority_from_string("warning"), 4);
        CHECK_EQ_INT(log_priority_from_string("8"), -EINVAL);
}

static void test_settings_verify(void) {
        LogsSettings l;
        LogSourceSettings k = { .name = (char *) "x", .priority = -1 }, *list[] = { &k };
        char *err = NULL;

        CHECK_EQ_INT(logs_settings_init(&l), 0);
        CHECK_EQ_INT(logs_settings_verify(&l, list, 1, &err), -EINVAL);
        CHECK_CONTAINS(err, "[logs.x]: exactly one of file= or journal=");
        free(err);
        k.file = (char *) "relative.log";
        CHECK_EQ_INT(logs_settings_verify(&l, list, 1, &err), -EINVAL);
        CHECK_CONTAINS(err, "absolute");
        free(err);
        k.file = (char *) "/var/log/a.log /var/log/b/*.log";
        k.multiline_start = (char *) "([";
        CHECK_EQ_INT(logs_settings_verify(&l, list, 1, &err), -EINVAL);
        CHECK_CONTAINS(err, "POSIX extended regex");
        free(err);
        k.multiline_start = NULL;
        CHECK_EQ_INT(logs_settings_verify(&l, list, 1, &err), 0);
        k.file = NULL;
        k.journal = (char *) "_SYSTEMD_UNIT=nginx.service lower=x";
        CHECK_EQ_INT(logs_settings_verify(&l, list, 1, &err), -EINVAL);
        CHECK_CONTAINS(err, "FIELD=VALUE");
        free(err);
        logs_settings_done(&l);
}

TEST_MAIN(test_lines(); test_utf8(); test_split_marker(); test_multiline(); test_batch_limits(); test_json_escape();
          test_batch_reuse(); test_timestamp_and_names(); test_settings_verify();)
