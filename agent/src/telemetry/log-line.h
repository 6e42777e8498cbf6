/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * From bytes read out of a file to log events, with no I/O (unit tests reach
 * every edge). Bytes go in as they are read, with the file offset they end
 * at; events come out through a callback, each with the offset up to which
 * the file is then covered, so the reader can checkpoint exactly what was
 * delivered:
 *
 * - a line ends at '\n' (a '\r' before it is dropped); a last line without
 *   its newline stays pending until log_line_flush() (the reader calls it
 *   after a timeout, or when draining);
 * - with a multiline start pattern, a line that matches starts an event and
 *   the lines that do not are appended to it (a PHP stack trace becomes one
 *   event); the event goes when the next one starts, or at log_line_flush();
 * - invalid UTF-8 is replaced with U+FFFD, never sent;
 * - an event longer than max_event bytes is cut at a character boundary
 *   into pieces of at most max_event bytes, each but the last ending with
 *   LOG_LINE_SPLIT_MARKER. Every piece but the last carries the offset the
 *   event started at: if agentd dies between pieces, the line is sent
 *   again (duplicated), never lost.
 */

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CloudWatch: an event is at most 1 MiB counting 26 bytes of overhead. */
#define LOG_EVENT_OVERHEAD 26
#define LOG_EVENT_MAX_MESSAGE (1048576 - LOG_EVENT_OVERHEAD)
#define LOG_LINE_SPLIT_MARKER " [agentd: line split]"

typedef void (*LogLineEmit)(void *userdata, const char *msg, size_t len, uint64_t end_offset);

typedef struct LogLineSplitter {
        const regex_t *multiline;       /* NULL: a line is an event */
        size_t max_event;               /* message bytes, after sanitising */
        LogLineEmit emit;
        void *userdata;

        char *partial;                  /* a line without its newline yet */
        size_t partial_len, partial_alloc;
        uint64_t partial_start;         /* offset where it starts */

        char *event;                    /* multiline: the event being assembled */
        size_t event_len, event_alloc;
        uint64_t event_start, event_end;
        bool has_event;

        char *scratch;                  /* sanitised copy, when needed */
        size_t scratch_alloc;
        uint64_t offset;                /* offset of the next byte fed */
        uint64_t n_replaced, n_split;   /* statistics */
} LogLineSplitter;

void log_line_init(LogLineSplitter *s, const regex_t *multiline, size_t max_event, LogLineEmit emit,
                   void *userdata, uint64_t offset);
void log_line_done(LogLineSplitter *s);
/* Forget what is pending and continue at offset (a truncated file). */
void log_line_reset(LogLineSplitter *s, uint64_t offset);

int log_line_feed(LogLineSplitter *s, const char *data, size_t n);
/* Emit what is pending (partial line, multiline event). */
int log_line_flush(LogLineSplitter *s);
static inline bool log_line_pending(const LogLineSplitter *s) {
        return s->partial_len > 0 || s->has_event;
}

/* Pure helpers, exposed for tests. */
/* Length of the valid UTF-8 prefix of p[0..n). */
size_t utf8_valid_prefix(const char *p, size_t n);
/* p with each invalid sequence replaced by U+FFFD into *buf (grown); the
 * result length. -ENOMEM. */
int utf8_sanitize(const char *p, size_t n, char **buf, size_t *alloc, size_t *ret_len);
/* The largest cut <= max that does not split a UTF-8 character of valid p. */
size_t utf8_cut(const char *p, size_t n, size_t max);
