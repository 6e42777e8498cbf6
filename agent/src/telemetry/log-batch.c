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

/* Does the word hold a byte that JSON must escape: a control character
 * (below 0x20), '"' or '\\'? Exact as a yes/no (the classic "has a byte
 * less than n" and "has a zero byte" bit tricks); bytes >= 0x80 (UTF-8)
 * never match. */
static inline bool word_needs_escape(uint64_t w) {
        const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

        return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
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
                /* Find the run that needs no escaping, eight bytes at a
                 * time (a log line is almost always one such run), then
                 * copy it in one go. */
                size_t run = i;
                while (run + 8 <= n) {
                        uint64_t w;
                        memcpy(&w, s + run, 8);
                        if (word_needs_escape(w))
                                break;
                        run += 8;
                }
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
        /* Room for a typical full batch from the start: above malloc's
         * mmap threshold, so pages cost memory only once written, and
         * growth past it is an mremap(), not a copy. */
        r = reserve(&b->body, &b->len, &b->alloc, LOG_BATCH_INITIAL_ALLOC);
        if (r >= 0)
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

void log_batch_reset(LogBatch *b) {
        b->len = b->header_len;
        b->body[b->len] = 0;
        b->n_events = 0;
        b->bytes = 0;
        b->first_ms = b->last_ms = 0;
        b->n_marks = 0;
        b->cursor = mfree(b->cursor);
        b->created = 0;
        b->sealed = false;
}

int log_batch_take(LogBatch *dst, LogBatch *src) {
        size_t n = src->len - src->header_len;
        int r;

        if (dst->sealed || src->sealed || dst->n_events > 0 || dst->n_marks > 0 || dst->cursor ||
            dst->header_len != src->header_len || memcmp(dst->body, src->body, dst->header_len) != 0)
                return -EINVAL;
        r = reserve(&dst->body, &dst->len, &dst->alloc, n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < src->n_marks; i++) {
                r = log_batch_mark(dst, src->marks[i].key, src->marks[i].offset);
                if (r < 0)
                        return r;
        }
        memcpy(dst->body + dst->len, src->body + src->header_len, n);
        dst->len += n;
        dst->body[dst->len] = 0;
        dst->n_events = src->n_events;
        dst->bytes = src->bytes;
        dst->first_ms = src->first_ms;
        dst->last_ms = src->last_ms;
        dst->created = src->created;
        dst->cursor = TAKE_PTR(src->cursor);
        log_batch_reset(src);
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

/* Decimal digits of v at the end of buf (room for 20); returns the first. */
static char *format_u64(char *end, uint64_t v) {
        do
                *--end = (char) ('0' + v % 10);
        while ((v /= 10) > 0);
        return end;
}

int log_batch_add(LogBatch *b, int64_t ts_ms, const char *msg, size_t len) {
        static const char head[] = ",{\"timestamp\":", mid[] = ",\"message\":\"";
        char digits[24], *d;
        size_t nd;
        int r;

        if (b->sealed)
                return -EBUSY;
        if (len + LOG_EVENT_OVERHEAD > LOG_BATCH_MAX_BYTES)
                return -EINVAL;
        if (!log_batch_fits(b, ts_ms, len))
                return -E2BIG;
        if (b->n_events > 0 && ts_ms < b->last_ms)
                ts_ms = b->last_ms;
        /* Written by hand rather than with snprintf(): this runs once per
         * line, and printf's machinery cost more than the rest of it. */
        d = format_u64(digits + sizeof(digits), ts_ms < 0 ? UINT64_C(0) - (uint64_t) ts_ms : (uint64_t) ts_ms);
        if (ts_ms < 0)
                *--d = '-';
        nd = (size_t) (digits + sizeof(digits) - d);
        r = reserve(&b->body, &b->len, &b->alloc, sizeof(head) + nd + sizeof(mid));
        if (r < 0)
                return r;
        if (b->n_events > 0)
                b->body[b->len++] = ',';
        memcpy(b->body + b->len, head + 1, sizeof(head) - 2);
        b->len += sizeof(head) - 2;
        memcpy(b->body + b->len, d, nd);
        b->len += nd;
        memcpy(b->body + b->len, mid, sizeof(mid) - 1);
        b->len += sizeof(mid) - 1;
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
