/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log-batch.h"

static int reserve(char **buf, size_t *len, size_t *alloc, size_t more) {
        size_t need = *len + more + 1, a;
        char *b;

        if (need <= *alloc)
                return 0;
        a = MAX(need, *alloc + *alloc / 2);
        b = realloc(*buf, a);
        if (!b)
                return -ENOMEM;
        *buf = b;
        *alloc = a;
        return 0;
}

int json_escape_append(char **buf, size_t *len, size_t *alloc, const char *s, size_t n) {
        static const char hex[] = "0123456789abcdef";
        size_t i = 0;
        char *o;
        int r;

        /* Worst case six bytes out per byte in (\u00XX). */
        r = reserve(buf, len, alloc, n * 6);
        if (r < 0)
                return r;
        o = *buf + *len;
        while (i < n) {
                /* Copy runs that need no escaping in one go. */
                size_t run = i;
                while (run < n) {
                        unsigned char c = (unsigned char) s[run];
                        if (c < 0x20 || c == '"' || c == '\\')
                                break;
                        run++;
                }
                memcpy(o, s + i, run - i);
                o += run - i;
                i = run;
                if (i >= n)
                        break;
                unsigned char c = (unsigned char) s[i++];
                *o++ = '\\';
                switch (c) {
                case '"': *o++ = '"'; break;
                case '\\': *o++ = '\\'; break;
                case '\n': *o++ = 'n'; break;
                case '\t': *o++ = 't'; break;
                case '\r': *o++ = 'r'; break;
                default:
                        *o++ = 'u';
                        *o++ = '0';
                        *o++ = '0';
                        *o++ = hex[c >> 4];
                        *o++ = hex[c & 15];
                }
        }
        *len = (size_t) (o - *buf);
        (*buf)[*len] = 0;
        return 0;
}

static int append(LogBatch *b, const char *s, size_t n) {
        int r = reserve(&b->body, &b->len, &b->alloc, n);
        if (r < 0)
                return r;
        memcpy(b->body + b->len, s, n);
        b->len += n;
        b->body[b->len] = 0;
        return 0;
}

int log_batch_new(const char *group, const char *stream, LogBatch **ret) {
        _cleanup_(log_batch_freep) LogBatch *b = calloc(1, sizeof(*b));
        int r;

        if (!b)
                return -ENOMEM;
        r = append(b, "{\"logGroupName\":\"", 17);
        if (r >= 0)
                r = json_escape_append(&b->body, &b->len, &b->alloc, group, strlen(group));
        if (r >= 0)
                r = append(b, "\",\"logStreamName\":\"", 19);
        if (r >= 0)
                r = json_escape_append(&b->body, &b->len, &b->alloc, stream, strlen(stream));
        if (r >= 0)
                r = append(b, "\",\"logEvents\":[", 15);
        if (r < 0)
                return r;
        b->header_len = b->len;
        *ret = TAKE_PTR(b);
        return 0;
}

LogBatch *log_batch_free(LogBatch *b) {
        if (!b)
                return NULL;
        free(b->body);
        free(b->marks);
        free(b->cursor);
        return mfree(b);
}

bool log_batch_fits(const LogBatch *b, int64_t ts_ms, size_t len) {
        if (b->n_events == 0)
                return len + LOG_EVENT_OVERHEAD <= LOG_BATCH_MAX_BYTES;
        if (ts_ms < b->last_ms)
                ts_ms = b->last_ms;
        return b->n_events < LOG_BATCH_MAX_EVENTS && b->bytes + len + LOG_EVENT_OVERHEAD <= LOG_BATCH_MAX_BYTES &&
               ts_ms - b->first_ms <= LOG_BATCH_MAX_SPAN_MS;
}

int log_batch_add(LogBatch *b, int64_t ts_ms, const char *msg, size_t len) {
        char head[48];
        int n, r;

        if (b->sealed)
                return -EBUSY;
        if (len + LOG_EVENT_OVERHEAD > LOG_BATCH_MAX_BYTES)
                return -EINVAL;
        if (!log_batch_fits(b, ts_ms, len))
                return -E2BIG;
        if (b->n_events > 0 && ts_ms < b->last_ms)
                ts_ms = b->last_ms;
        n = snprintf(head, sizeof(head), "%s{\"timestamp\":%" PRId64 ",\"message\":\"", b->n_events ? "," : "",
                     ts_ms);
        r = append(b, head, (size_t) n);
        if (r >= 0)
                r = json_escape_append(&b->body, &b->len, &b->alloc, msg, len);
        if (r >= 0)
                r = append(b, "\"}", 2);
        if (r < 0)
                return r;
        if (b->n_events == 0)
                b->first_ms = ts_ms;
        b->last_ms = ts_ms;
        b->n_events++;
        b->bytes += len + LOG_EVENT_OVERHEAD;
        return 0;
}

int log_batch_mark(LogBatch *b, uint64_t key, uint64_t offset) {
        for (size_t i = 0; i < b->n_marks; i++)
                if (b->marks[i].key == key) {
                        b->marks[i].offset = offset;
                        return 0;
                }
        if (b->n_marks >= b->marks_alloc) {
                size_t a = MAX(b->marks_alloc * 2, (size_t) 4);
                LogBatchMark *m = realloc(b->marks, a * sizeof(*m));
                if (!m)
                        return -ENOMEM;
                b->marks = m;
                b->marks_alloc = a;
        }
        b->marks[b->n_marks++] = (LogBatchMark) { key, offset };
        return 0;
}

int log_batch_set_cursor(LogBatch *b, const char *cursor) {
        return free_and_strdup(&b->cursor, cursor);
}

int log_batch_seal(LogBatch *b) {
        int r;

        if (b->sealed)
                return 0;
        r = append(b, "]}", 2);
        if (r < 0)
                return r;
        b->sealed = true;
        return 0;
}

LogEventTime log_event_time_check(int64_t ts_ms, int64_t now_ms) {
        if (ts_ms < now_ms - LOG_EVENT_MAX_AGE_MS)
                return LOG_EVENT_TOO_OLD;
        if (ts_ms > now_ms + LOG_EVENT_MAX_FUTURE_MS)
                return LOG_EVENT_TOO_NEW;
        return LOG_EVENT_TIME_OK;
}
