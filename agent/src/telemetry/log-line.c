/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log-line.h"
#include "macro.h"

#define MARKER_LEN (sizeof(LOG_LINE_SPLIT_MARKER) - 1)

/* Length of the valid sequence at p (1..4), or 0 if invalid or cut short
 * (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *p, size_t n) {
        unsigned char c = p[0];

        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
        if (c >= 0xe0 && c <= 0xef) {
                unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
                return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
        }
        if (c >= 0xf0 && c <= 0xf4) {
                unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
                return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 ? 4
                                                                                                        : 0;
        }
        return 0;
}

size_t utf8_valid_prefix(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *) s;
        size_t i = 0;

        while (i < n) {
                size_t k;
                /* ASCII runs, eight bytes at a time: most log text. */
                while (i + 8 <= n) {
                        uint64_t w;
                        memcpy(&w, p + i, 8);
                        if (w & UINT64_C(0x8080808080808080))
                                break;
                        i += 8;
                }
                if (i >= n)
                        break;
                k = utf8_seq(p + i, n - i);
                if (k == 0)
                        return i;
                i += k;
        }
        return n;
}

size_t utf8_cut(const char *p, size_t n, size_t max) {
        if (n <= max)
                return n;
        /* Back off continuation bytes so a character is never split. */
        while (max > 0 && ((unsigned char) p[max] & 0xc0) == 0x80)
                max--;
        return max;
}

/* Sanitised p into out (room for limit bytes), stopping before a character
 * that would not fit; returns the input bytes consumed. */
static size_t sanitize_into(const char *s, size_t n, char *out, size_t limit, size_t *ret_len) {
        const unsigned char *p = (const unsigned char *) s;
        size_t i = 0, o = 0;

        while (i < n) {
                size_t v = utf8_valid_prefix(s + i, n - i);

                if (v > 0) {
                        size_t take = o + v <= limit ? v : utf8_cut(s + i, v, limit - o);
                        memcpy(out + o, s + i, take);
                        o += take;
                        i += take;
                        if (take < v)
                                break;
                        continue;
                }
                /* One invalid byte → U+FFFD (what browsers and Python's
                 * "replace" do: each maximal invalid subpart, here by byte). */
                if (o + 3 > limit)
                        break;
                out[o++] = (char) 0xef;
                out[o++] = (char) 0xbf;
                out[o++] = (char) 0xbd;
                i++;
                (void) p;
        }
        *ret_len = o;
        return i;
}

int utf8_sanitize(const char *p, size_t n, char **buf, size_t *alloc, size_t *ret_len) {
        size_t need = n * 3 + 1;

        if (need > *alloc) {
                char *b = realloc(*buf, need);
                if (!b)
                        return -ENOMEM;
                *buf = b;
                *alloc = need;
        }
        (void) sanitize_into(p, n, *buf, n * 3, ret_len);
        return 0;
}

static int grow(char **buf, size_t *alloc, size_t need) {
        size_t a;
        char *b;

        if (need <= *alloc)
                return 0;
        a = MAX(need, *alloc * 2);
        a = MAX(a, (size_t) 256);
        b = realloc(*buf, a);
        if (!b)
                return -ENOMEM;
        *buf = b;
        *alloc = a;
        return 0;
}

void log_line_init(LogLineSplitter *s, const regex_t *multiline, size_t max_event, LogLineEmit emit,
                   void *userdata, uint64_t offset) {
        *s = (LogLineSplitter) { .multiline = multiline, .max_event = MAX(max_event, MARKER_LEN + 8),
                                 .emit = emit, .userdata = userdata, .offset = offset };
}

void log_line_done(LogLineSplitter *s) {
        free(s->partial);
        free(s->event);
        free(s->scratch);
        *s = (LogLineSplitter) {};
}

void log_line_reset(LogLineSplitter *s, uint64_t offset) {
        s->partial_len = 0;
        s->event_len = 0;
        s->has_event = false;
        s->offset = offset;
}

/* Emits pieces of raw while more than keep bytes of input would remain
 * unsent; returns the input consumed. With keep == 0 everything goes and
 * the last piece carries end_off. */
static int emit_pieces(LogLineSplitter *s, const char *raw, size_t n, uint64_t start_off, uint64_t end_off,
                       size_t keep, size_t *ret_used) {
        size_t used = 0;
        int r;

        r = grow(&s->scratch, &s->scratch_alloc, s->max_event + 1);
        if (r < 0)
                return r;
        while (used < n) {
                size_t olen, c;

                if (keep == 0) {
                        c = sanitize_into(raw + used, n - used, s->scratch, s->max_event, &olen);
                        if (used + c == n) {
                                s->emit(s->userdata, s->scratch, olen, end_off);
                                used = n;
                                break;
                        }
                } else if (n - used <= keep)
                        break;
                c = sanitize_into(raw + used, n - used, s->scratch, s->max_event - MARKER_LEN, &olen);
                if (c == 0)
                        c = 1;  /* cannot happen with max_event > 3 + marker; never loop */
                memcpy(s->scratch + olen, LOG_LINE_SPLIT_MARKER, MARKER_LEN);
                s->emit(s->userdata, s->scratch, olen + MARKER_LEN, start_off);
                s->n_split++;
                used += c;
        }
        *ret_used = used;
        return 0;
}

static int emit_event(LogLineSplitter *s, const char *raw, size_t n, uint64_t start_off, uint64_t end_off) {
        size_t v = utf8_valid_prefix(raw, n), used;

        if (v == n && n <= s->max_event) {
                s->emit(s->userdata, raw, n, end_off);
                return 0;
        }
        if (v != n)
                s->n_replaced++;
        return emit_pieces(s, raw, n, start_off, end_off, 0, &used);
}

static int flush_event(LogLineSplitter *s) {
        int r;

        if (!s->has_event)
                return 0;
        s->has_event = false;
        r = emit_event(s, s->event, s->event_len, s->event_start, s->event_end);
        s->event_len = 0;
        return r;
}

static int complete_line(LogLineSplitter *s, const char *line, size_t n, uint64_t start_off, uint64_t end_off) {
        regmatch_t m[1];
        bool starts;
        int r;

        if (n > 0 && line[n - 1] == '\r')
                n--;
        if (!s->multiline)
                return emit_event(s, line, n, start_off, end_off);
        /* Matched on a NUL-terminated copy: line points into the caller's
         * read buffer, and although glibc reads no further than rm_eo with
         * REG_STARTEND, the sanitizers' regexec() interceptor strlen()s the
         * subject first and read past the buffer (fuzz-log-line). The
         * copy lives in scratch until emit_pieces() reuses it below. */
        r = grow(&s->scratch, &s->scratch_alloc, n + 1);
        if (r < 0)
                return r;
        memcpy(s->scratch, line, n);
        s->scratch[n] = 0;
        m[0].rm_so = 0;
        m[0].rm_eo = (regoff_t) n;
        starts = regexec(s->multiline, s->scratch, 1, m, REG_STARTEND) == 0;
        /* A continuation that would overflow the event starts a new one. */
        if (starts || !s->has_event || s->event_len + 1 + n > s->max_event) {
                r = flush_event(s);
                if (r < 0)
                        return r;
                r = grow(&s->event, &s->event_alloc, n + 1);
                if (r < 0)
                        return r;
                memcpy(s->event, line, n);
                s->event_len = n;
                s->event_start = start_off;
                s->has_event = true;
        } else {
                r = grow(&s->event, &s->event_alloc, s->event_len + 1 + n);
                if (r < 0)
                        return r;
                s->event[s->event_len++] = '\n';
                memcpy(s->event + s->event_len, line, n);
                s->event_len += n;
        }
        s->event_end = end_off;
        return 0;
}

int log_line_feed(LogLineSplitter *s, const char *data, size_t n) {
        uint64_t base = s->offset;
        size_t pos = 0;
        int r;

        s->offset += n;
        while (pos < n) {
                const char *nl = memchr(data + pos, '\n', n - pos);
                size_t end;

                if (!nl) {
                        size_t used;

                        if (s->partial_len == 0)
                                s->partial_start = base + pos;
                        r = grow(&s->partial, &s->partial_alloc, s->partial_len + (n - pos));
                        if (r < 0)
                                return r;
                        memcpy(s->partial + s->partial_len, data + pos, n - pos);
                        s->partial_len += n - pos;
                        if (s->partial_len <= s->max_event)
                                return 0;
                        /* A line longer than an event: send what cannot be
                         * in its last piece now, so memory stays bounded. */
                        r = emit_pieces(s, s->partial, s->partial_len, s->partial_start, 0, s->max_event, &used);
                        if (r < 0)
                                return r;
                        memmove(s->partial, s->partial + used, s->partial_len - used);
                        s->partial_len -= used;
                        return 0;
                }
                end = (size_t) (nl - data);
                if (s->partial_len > 0) {
                        r = grow(&s->partial, &s->partial_alloc, s->partial_len + (end - pos));
                        if (r < 0)
                                return r;
                        memcpy(s->partial + s->partial_len, data + pos, end - pos);
                        s->partial_len += end - pos;
                        r = complete_line(s, s->partial, s->partial_len, s->partial_start, base + end + 1);
                        s->partial_len = 0;
                } else
                        r = complete_line(s, data + pos, end - pos, base + pos, base + end + 1);
                if (r < 0)
                        return r;
                pos = end + 1;
        }
        return 0;
}

int log_line_flush(LogLineSplitter *s) {
        int r = 0;

        if (s->partial_len > 0) {
                r = complete_line(s, s->partial, s->partial_len, s->partial_start, s->offset);
                s->partial_len = 0;
        }
        if (r >= 0)
                r = flush_event(s);
        return r;
}
