/* SPDX-License-Identifier: MIT */
/*
 * The log line splitter (log-line.c): bytes of a followed file, as they are
 * read, to events. The first bytes choose the options, then the rest is fed
 * in chunks whose sizes come from the input too, as reads of a growing file
 * would cut it:
 *
 *   byte 0  bits 0-1: max_event (40, 64, 300 or 4096 bytes)
 *           bit 2: a multiline start pattern (the part after the first
 *                  "\n--\n" of the input, as [logs.NAME] multiline_start=)
 *           bit 3: a flush after every chunk (the reader's idle timeout)
 *   byte 1  chunk-size seed
 *   then    the file's bytes [\n--\n the pattern] [\n--\n a timestamp_format]
 *
 * What log-line.h promises, checked on every event:
 * - no event is longer than max_event bytes, and each is valid UTF-8;
 * - a piece that ends with the split marker carries the offset its line
 *   started at; the offsets events carry never pass the bytes fed, and the
 *   offset of the last event after the final flush is the end of the input;
 * - without a multiline pattern, and with input that is valid UTF-8
 *   without '\r', the events (split markers removed, '\n' between lines)
 *   give back the input byte for byte: nothing is lost or invented.
 * The timestamp_format parser (log-file.c) runs on each event as the
 * follower does.
 */
#include <errno.h>
#include <regex.h>

#include "fuzz.h"
#include "log-file.h"
#include "log-line.h"

#define MARKER LOG_LINE_SPLIT_MARKER
#define MARKER_LEN (sizeof(MARKER) - 1)

typedef struct Out {
        size_t max_event;
        uint64_t fed;           /* offset of the end of what was fed so far */
        uint64_t last_end;      /* offset the last event carried */
        size_t n_events;
        const char *ts_format;
        /* The reassembled text (check_lossless only). */
        char *text;
        size_t len, alloc;
        bool continued;         /* the previous event was a piece with a marker */
} Out;

static void append(Out *o, const char *p, size_t n) {
        if (n == 0)
                return;
        if (o->len + n > o->alloc) {
                o->alloc = (o->len + n) * 2 + 64;
                o->text = realloc(o->text, o->alloc);
                if (!o->text)
                        abort();
        }
        memcpy(o->text + o->len, p, n);
        o->len += n;
}

static void on_event(void *userdata, const char *msg, size_t len, uint64_t end_offset) {
        Out *o = userdata;
        bool piece = len >= MARKER_LEN && memcmp(msg + len - MARKER_LEN, MARKER, MARKER_LEN) == 0;
        int64_t ts;

        FUZZ_ASSERT(len <= o->max_event);
        FUZZ_ASSERT(utf8_valid_prefix(msg, len) == len);
        FUZZ_ASSERT(end_offset <= o->fed);
        o->n_events++;
        if (o->ts_format)
                (void) log_parse_timestamp(o->ts_format, msg, len, &ts);
        /* Reassemble: a piece's text continues in the next event; a whole
         * event (or a line's last piece) ends a line. */
        if (!o->continued && o->n_events > 1)
                append(o, "\n", 1);
        if (piece) {
                append(o, msg, len - MARKER_LEN);
                o->continued = true;
        } else {
                append(o, msg, len);
                o->continued = false;
                FUZZ_ASSERT(end_offset >= o->last_end);
                o->last_end = end_offset;
        }
}

static bool stacked(const char *re) {
        for (; re[0] && re[1]; re++)
                if (strchr("+*?}", re[0]) && strchr("+*?{", re[1]))
                        return true;
        return false;
}

static const size_t max_events[] = { 40, 64, 300, 4096 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *parts[3] = {}, *pattern = NULL;
        size_t lens[3], n_parts, pos = 0;
        LogLineSplitter s;
        regex_t re;
        bool have_re = false, flush_each, lossless, ambiguous;
        Out o = {};
        uint32_t seed;
        int r;

        if (size < 2 || size > 65536)
                return 0;
        o.max_event = max_events[data[0] & 3];
        flush_each = data[0] & 8;
        seed = data[1] * 2654435761u + 1;
        n_parts = fuzz_split(data + 2, size - 2, parts, lens, 3);
        /* The pattern is root's configuration, not hostile input: kept
         * short and without stacked repetitions ("a+++++...": glibc's
         * regcomp grows exponentially with them, found here). */
        if ((data[0] & 4) && n_parts > 1 && lens[1] <= 64 && !memchr(parts[1], 0, lens[1]) && !stacked(parts[1])) {
                pattern = parts[1];
                /* As logs-settings.c compiles multiline_start=. */
                have_re = regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB) == 0;
        }
        if (n_parts > 2 && lens[2] <= 128 && strchr(parts[2], '%'))
                o.ts_format = parts[2];

        /* A line that ends with the marker's text looks like a piece:
         * pieces are told apart by their marker only without it. */
        ambiguous = memmem(parts[0], lens[0], MARKER, MARKER_LEN) != NULL;
        /* Lossless when every line is whole UTF-8 without '\r', and no
         * flush cut a line in two (a flushed partial line is an event). */
        lossless = !ambiguous && !have_re && !flush_each && utf8_valid_prefix(parts[0], lens[0]) == lens[0] &&
                   !memchr(parts[0], '\r', lens[0]);

        log_line_init(&s, have_re ? &re : NULL, o.max_event, on_event, &o, 0);
        while (pos < lens[0]) {
                size_t n;

                seed = seed * 1103515245u + 12345u;
                n = 1 + (seed >> 16) % (seed & 0x100 ? 7 : 700);
                n = n > lens[0] - pos ? lens[0] - pos : n;
                o.fed = pos + n;
                r = log_line_feed(&s, parts[0] + pos, n);
                FUZZ_ASSERT(r == 0);
                pos += n;
                if (flush_each) {
                        r = log_line_flush(&s);
                        FUZZ_ASSERT(r == 0);
                        FUZZ_ASSERT(!log_line_pending(&s));
                }
        }
        r = log_line_flush(&s);
        FUZZ_ASSERT(r == 0);
        FUZZ_ASSERT(!log_line_pending(&s));
        if (o.n_events > 0 && !ambiguous)
                FUZZ_ASSERT(o.last_end == lens[0]);

        if (lossless) {
                /* The input without its final newline (if any) is the
                 * events joined by '\n'. An empty input, or one newline,
                 * gives one empty event or none. */
                size_t want = lens[0] > 0 && parts[0][lens[0] - 1] == '\n' ? lens[0] - 1 : lens[0];
                if (o.n_events > 0) {
                        FUZZ_ASSERT(o.len == want);
                        FUZZ_ASSERT(want == 0 || memcmp(o.text, parts[0], want) == 0);
                } else
                        FUZZ_ASSERT(lens[0] == 0);
        }

        log_line_done(&s);
        if (have_re)
                regfree(&re);
        free(o.text);
        for (size_t i = 0; i < n_parts; i++)
                free(parts[i]);
        return 0;
}
