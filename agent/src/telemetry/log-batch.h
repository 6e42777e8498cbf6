/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One PutLogEvents request, built as events arrive, with no I/O. The JSON
 * body is written directly (each message escaped once, no document tree):
 * at a million lines this is the hot path, and building a cJSON tree of
 * 10,000 strings per batch only to print it would double the work.
 *
 * AWS's limits are named here and enforced before the request is sent, so
 * a batch CloudWatch would refuse is never built:
 *   - at most LOG_BATCH_MAX_EVENTS events;
 *   - at most LOG_BATCH_MAX_BYTES, counted as each message's UTF-8 bytes
 *     plus LOG_EVENT_OVERHEAD (26) per event;
 *   - chronological order: a timestamp earlier than the previous event's
 *     is raised to it (file order wins over a clock that stepped back);
 *   - all events within LOG_BATCH_MAX_SPAN (24 h) of the first.
 * Events older than 14 days or more than 2 h in the future are refused by
 * CloudWatch one by one: log_event_time_check() tells the caller to count
 * and drop them rather than send them.
 *
 * A batch also carries where each input stands once it is accepted (file
 * offsets, the journal cursor): the checkpoint written after CloudWatch
 * accepted it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "list.h"
#include "log-line.h"
#include "macro.h"

#define LOG_BATCH_MAX_EVENTS 10000
#define LOG_BATCH_MAX_BYTES 1048576
#define LOG_BATCH_MAX_SPAN_MS (24LL * 3600 * 1000)
#define LOG_EVENT_MAX_AGE_MS (14LL * 24 * 3600 * 1000)
#define LOG_EVENT_MAX_FUTURE_MS (2LL * 3600 * 1000)
/* A full batch of short lines is ~1.2 MB of JSON. */
#define LOG_BATCH_INITIAL_ALLOC (LOG_BATCH_MAX_BYTES + LOG_BATCH_MAX_BYTES / 4)

typedef enum LogEventTime {
        LOG_EVENT_TIME_OK,
        LOG_EVENT_TOO_OLD,
        LOG_EVENT_TOO_NEW,
} LogEventTime;

/* Where an input stands after the last event of this batch from it. */
typedef struct LogBatchMark {
        uint64_t key;                   /* the reader's id for a file */
        uint64_t offset;
} LogBatchMark;

typedef struct LogBatch LogBatch;
struct LogBatch {
        char *body;
        size_t len, alloc;
        size_t header_len;              /* bytes before the first event */
        size_t n_events;
        size_t bytes;                   /* as AWS counts them */
        int64_t first_ms, last_ms;
        LogBatchMark *marks;
        size_t n_marks, marks_alloc;
        char *cursor;                   /* journal cursor after the last event */
        usec_t created;                 /* CLOCK_MONOTONIC of the first event */
        bool sealed;
        LIST_FIELDS(LogBatch, batches);
};

/* A batch for group/stream (JSON-escaped here). */
int log_batch_new(const char *group, const char *stream, LogBatch **ret);
LogBatch *log_batch_free(LogBatch *b);
/* Empty again, for the same group and stream, keeping the memory: a
 * source reuses one batch's pages rather than faulting in fresh ones. */
void log_batch_reset(LogBatch *b);
/* dst (empty, same group and stream) takes src's events, marks and cursor;
 * src is left empty. -EINVAL if dst is not an empty twin of src. */
int log_batch_take(LogBatch *dst, LogBatch *src);
DEFINE_TRIVIAL_CLEANUP_FUNC(LogBatch *, log_batch_free);

/* Would the event fit? (count, bytes, span; ts as log_batch_add would use it) */
bool log_batch_fits(const LogBatch *b, int64_t ts_ms, size_t len);
/* Appends one event. msg must be valid UTF-8 of at most
 * LOG_EVENT_MAX_MESSAGE bytes (log-line.h guarantees both). The timestamp
 * is raised to the previous event's if earlier. -E2BIG: it does not fit
 * (seal this batch, start another); -EINVAL: too large for any batch. */
int log_batch_add(LogBatch *b, int64_t ts_ms, const char *msg, size_t len);
int log_batch_mark(LogBatch *b, uint64_t key, uint64_t offset);
int log_batch_set_cursor(LogBatch *b, const char *cursor);
/* Closes the JSON document; the body is then ready to send. */
int log_batch_seal(LogBatch *b);

LogEventTime log_event_time_check(int64_t ts_ms, int64_t now_ms);

/* JSON string escaping of valid UTF-8 (", \ and control characters). */
int json_escape_append(char **buf, size_t *len, size_t *alloc, const char *s, size_t n);
