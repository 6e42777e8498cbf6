/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "logs"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "backoff.h"
#include "json-util.h"
#include "list.h"
#include "log-batch.h"
#include "log-checkpoint.h"
#include "log-file.h"
#include "log-journal.h"
#include "log.h"
#include "logs.h"
#include "time-util.h"

#define RETRY_BASE (1 * USEC_PER_SEC)
#define RETRY_CAP (60 * USEC_PER_SEC)
#define CREATE_JITTER (2 * USEC_PER_SEC)
#define DRAIN_CHECK (50 * USEC_PER_MSEC)

typedef struct LogSource LogSource;

struct Logs {
        sd_event *event;
        AwsClient *aws;
        LogsSettings settings;
        char *state_dir;
        LogSource *sources;
        size_t n_sources;
        bool started;

        /* A flush (drain) in progress. */
        bool flushing;
        AgentCallback flush_cb;
        void *flush_userdata;
        sd_event_source *flush_deadline;
        sd_event_source *flush_check;
        sd_event_source *flush_done;
        int flush_error;
};

typedef enum StreamState {
        STREAM_READY,           /* put; create on ResourceNotFound */
        STREAM_CREATING,
        STREAM_CREATING_GROUP,
} StreamState;

struct LogSource {
        Logs *logs;
        LogSourceSettings settings;     /* our copy */
        char component_name[80];
        Component component;
        char *group, *stream;
        char *checkpoint_path;
        LogFiles *files;
        LogJournal *journal;

        LogBatch *open;                 /* being filled */
        LogBatch *queue;                /* sealed, oldest first */
        size_t n_queued;
        LogBatch *inflight;
        AwsCall *call;
        StreamState stream_state;
        sd_event_source *batch_timer;   /* flush_interval after the first event */
        sd_event_source *retry_timer;
        Backoff backoff;
        int64_t last_ms;

        char *cursor;                   /* journal: last accepted */
        uint64_t events_sent, batches_sent, bytes_sent;
        uint64_t too_old, too_new, expired, rejected, batches_dropped;
        usec_t last_delivery;           /* CLOCK_REALTIME */
        usec_t oldest_pending;          /* CLOCK_MONOTONIC the oldest event not yet accepted was read */
        usec_t last_drop_notice;
};

static void source_send(LogSource *s);
static void flush_progress(Logs *l);

static bool source_full(void *userdata) {
        LogSource *s = userdata;
        /* One batch at a time: while a sealed one waits or is in flight,
         * reading stops (the files are the buffer). A full batch is ~1.2 MB
         * of JSON, and agentd's whole budget is 16 MiB; reading the next
         * batch while one is in flight would double that for little gain,
         * since filling one takes a few milliseconds of CPU and sending it
         * a round trip. What a reader hands over after the seal (the rest
         * of one read chunk) starts the next batch. */
        return s->queue || s->inflight;
}

static void source_seal(LogSource *s) {
        LogBatch *b = TAKE_PTR(s->open);
        int r;

        if (!b)
                return;
        (void) sd_event_source_set_enabled(s->batch_timer, SD_EVENT_OFF);
        if (b->n_events == 0 && b->n_marks == 0 && !b->cursor) {
                log_batch_free(b);
                return;
        }
        r = log_batch_seal(b);
        if (r < 0) {
                log_batch_free(b);
                component_error(&s->component, COMPONENT_DEGRADED, "out of memory sealing a batch");
                return;
        }
        LIST_APPEND(batches, s->queue, b);
        s->n_queued++;
        source_send(s);
}

static int source_open_batch(LogSource *s) {
        int r;

        if (s->open)
                return 0;
        r = log_batch_new(s->group, s->stream, &s->open);
        if (r < 0)
                return r;
        s->open->created = now_usec(CLOCK_MONOTONIC);
        if (s->oldest_pending == 0)
                s->oldest_pending = s->open->created;
        (void) sd_event_source_set_time(s->batch_timer, s->open->created + s->logs->settings.flush_interval);
        (void) sd_event_source_set_enabled(s->batch_timer, SD_EVENT_ONESHOT);
        return 0;
}

static void drop_notice(LogSource *s, const char *why) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        /* At most one line a minute: a bad clock can date every line. */
        if (s->last_drop_notice && now - s->last_drop_notice < USEC_PER_MINUTE)
                return;
        s->last_drop_notice = now;
        log_notice("[logs.%s]: dropped an event %s (CloudWatch would refuse it); %llu too old, %llu too new so far",
                   s->settings.name, why, (unsigned long long) s->too_old, (unsigned long long) s->too_new);
}

static int source_event(void *userdata, int64_t ts_ms, const char *msg, size_t len, uint64_t key, uint64_t offset,
                        const char *cursor) {
        LogSource *s = userdata;
        uint64_t now;
        int64_t now_ms;
        LogEventTime t;
        int r;

        /* The loop iteration's time (cached by sd-event): a read pass lasts
         * milliseconds, and a clock_gettime() per line showed in profiles. */
        if (sd_event_now(s->logs->event, CLOCK_REALTIME, &now) < 0)
                now = now_usec(CLOCK_REALTIME);
        now_ms = (int64_t) (now / USEC_PER_MSEC);

        if (ts_ms == 0)
                ts_ms = now_ms;
        r = source_open_batch(s);
        if (r < 0)
                return r;
        /* CloudWatch refuses an empty message: an empty line carries
         * nothing, but its position still counts. */
        if (len == 0)
                return cursor ? log_batch_set_cursor(s->open, cursor) : log_batch_mark(s->open, key, offset);
        if (r < 0)
                return r;
        t = log_event_time_check(ts_ms, now_ms);
        if (t == LOG_EVENT_TIME_OK) {
                /* Chronological across batches too: a stream's events never go back. */
                ts_ms = MAX(ts_ms, s->last_ms);
                r = log_batch_add(s->open, ts_ms, msg, len);
                if (r == -E2BIG) {
                        source_seal(s);
                        r = source_open_batch(s);
                        if (r >= 0)
                                r = log_batch_add(s->open, ts_ms, msg, len);
                }
                if (r < 0)
                        return r;
                s->last_ms = ts_ms;
        } else if (t == LOG_EVENT_TOO_OLD) {
                s->too_old++;
                drop_notice(s, "older than 14 days");
        } else {
                s->too_new++;
                drop_notice(s, "more than 2 hours in the future");
        }
        /* Even a dropped event moves the position: it is done with. */
        r = cursor ? log_batch_set_cursor(s->open, cursor) : log_batch_mark(s->open, key, offset);
        if (r < 0)
                return r;
        if (s->open->n_events >= LOG_BATCH_MAX_EVENTS ||
            s->open->bytes + LOG_EVENT_OVERHEAD + 64 > LOG_BATCH_MAX_BYTES)
                source_seal(s);
        return 0;
}

static int on_batch_timer(sd_event_source *es, uint64_t usec, void *userdata) {
        source_seal(userdata);
        return 0;
}

static void source_save_checkpoint(LogSource *s) {
        LogCheckpoint c = {};
        int r = 0;

        if (s->files)
                r = log_files_checkpoint(s->files, &c);
        if (r >= 0 && s->cursor)
                r = free_and_strdup(&c.cursor, s->cursor);
        if (r >= 0)
                r = log_checkpoint_save(s->checkpoint_path, &c);
        for (size_t i = 0; i < c.n_files; i++)
                log_debug("[logs.%s]: checkpoint %s inode %llu at %llu", s->settings.name, c.files[i].path,
                          (unsigned long long) c.files[i].ino, (unsigned long long) c.files[i].offset);
        if (r < 0) {
                log_warning("[logs.%s]: cannot save the checkpoint %s: %s", s->settings.name, s->checkpoint_path,
                            strerror(-r));
                component_error(&s->component, COMPONENT_DEGRADED, "cannot save the checkpoint %s: %s",
                                s->checkpoint_path, strerror(-r));
        }
        log_checkpoint_done(&c);
}

static void source_files_changed(void *userdata) {
        source_save_checkpoint(userdata);
}

static void source_resume(LogSource *s) {
        if (s->files)
                log_files_resume(s->files);
        if (s->journal)
                log_journal_resume(s->journal);
}

/* CloudWatch took the batch (events refused one by one included). */
static void batch_accepted(LogSource *s, LogBatch *b, const char *body) {
        _cleanup_(cJSON_Deletep) cJSON *doc = cJSON_Parse(body);
        const cJSON *rej = cJSON_GetObjectItemCaseSensitive(doc, "rejectedLogEventsInfo");
        const cJSON *v;
        uint64_t n = b->n_events, refused = 0;

        if ((v = cJSON_GetObjectItemCaseSensitive(rej, "tooNewLogEventStartIndex")) && cJSON_IsNumber(v) &&
            v->valuedouble >= 0 && v->valuedouble < (double) n)
                s->too_new += n - (uint64_t) v->valuedouble, refused += n - (uint64_t) v->valuedouble;
        if ((v = cJSON_GetObjectItemCaseSensitive(rej, "tooOldLogEventEndIndex")) && cJSON_IsNumber(v) &&
            v->valuedouble > 0 && v->valuedouble <= (double) n)
                s->too_old += (uint64_t) v->valuedouble, refused += (uint64_t) v->valuedouble;
        if ((v = cJSON_GetObjectItemCaseSensitive(rej, "expiredLogEventEndIndex")) && cJSON_IsNumber(v) &&
            v->valuedouble > 0 && v->valuedouble <= (double) n)
                s->expired += (uint64_t) v->valuedouble, refused = MAX(refused, (uint64_t) v->valuedouble);
        if (refused > 0) {
                s->rejected += MIN(refused, n);
                log_notice("[logs.%s]: CloudWatch refused %llu of %llu events (too old, too new or past the "
                           "group's retention)", s->settings.name, (unsigned long long) MIN(refused, n),
                           (unsigned long long) n);
        }
        s->events_sent += n - MIN(refused, n);
        s->batches_sent++;
        s->bytes_sent += b->bytes;
        s->last_delivery = now_usec(CLOCK_REALTIME);
        for (size_t i = 0; i < b->n_marks && s->files; i++)
                log_files_commit(s->files, b->marks[i].key, b->marks[i].offset);
        if (b->cursor)
                (void) free_and_strdup(&s->cursor, b->cursor);
        source_save_checkpoint(s);
}

/* Done with b (accepted or dropped). Events read while b was out already
 * started the next batch; they move into b, whose pages are already
 * touched, rather than the new batch faulting in fresh ones as it fills
 * (under load this is every batch: the reader hands over whole chunks, so
 * the lines after the one that filled b start the next). With nothing
 * read meanwhile the source has caught up: b's memory goes back. */
static void source_recycle(LogSource *s, LogBatch *b) {
        log_batch_reset(b);
        if (!s->open || log_batch_take(b, s->open) < 0) {
                log_batch_free(b);
                return;
        }
        log_batch_free(s->open);
        s->open = b;
}

static void schedule_retry(LogSource *s, usec_t delay) {
        (void) sd_event_source_set_time_relative(s->retry_timer, delay);
        (void) sd_event_source_set_enabled(s->retry_timer, SD_EVENT_ONESHOT);
}

static bool code_is(const AwsResult *res, const char *code) {
        return res->aws_error && strstr(res->aws_error->code, code);
}

static void on_create_done(AwsCall *call, const AwsResult *res, void *userdata);

static int start_create(LogSource *s, bool group) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *body = NULL;

        if (!o || !cJSON_AddStringToObject(o, "logGroupName", s->group) ||
            (!group && !cJSON_AddStringToObject(o, "logStreamName", s->stream)) ||
            !(body = cJSON_PrintUnformatted(o)))
                return -ENOMEM;
        s->stream_state = group ? STREAM_CREATING_GROUP : STREAM_CREATING;
        return aws_call(s->logs->aws, AWS_SERVICE_LOGS, AWS_PROTOCOL_JSON,
                        group ? "Logs_20140328.CreateLogGroup" : "Logs_20140328.CreateLogStream", body,
                        on_create_done, s, &s->call);
}

static void on_create_done(AwsCall *call, const AwsResult *res, void *userdata) {
        LogSource *s = userdata;
        bool group = s->stream_state == STREAM_CREATING_GROUP;
        int r;

        s->call = NULL;
        if (res->error >= 0 || code_is(res, "ResourceAlreadyExists")) {
                log_info("[logs.%s]: created log %s %s%s%s", s->settings.name, group ? "group" : "stream",
                         s->group, group ? "" : " / ", group ? "" : s->stream);
                if (group) {
                        r = start_create(s, false);
                        if (r >= 0)
                                return;
                }
                s->stream_state = STREAM_READY;
                backoff_reset(&s->backoff);
                return source_send(s);
        }
        /* The state stays: the retry creates again (no PutLogEvents that
         * would only find the stream missing once more). */
        if (!group && code_is(res, "ResourceNotFound")) {
                if (s->logs->settings.create_group) {
                        r = start_create(s, true);
                        if (r >= 0)
                                return;
                }
                component_error(&s->component, COMPONENT_DEGRADED,
                                "log group %s does not exist (create it, or set [logs] create_group = yes)",
                                s->group);
        } else
                component_error(&s->component, COMPONENT_DEGRADED, "cannot create log %s: %s",
                                group ? "group" : "stream", strna(res->reason));
        schedule_retry(s, backoff_next(&s->backoff));
}

static void on_put_done(AwsCall *call, const AwsResult *res, void *userdata) {
        LogSource *s = userdata;
        LogBatch *b = s->inflight;

        s->call = NULL;
        if (res->error >= 0 || code_is(res, "DataAlreadyAccepted")) {
                s->inflight = NULL;
                batch_accepted(s, b, res->body);
                source_recycle(s, b);
                backoff_reset(&s->backoff);
                if (s->component.state != COMPONENT_OK)
                        component_set(&s->component, COMPONENT_OK, "shipping to %s / %s", s->group, s->stream);
                if (!s->inflight && !s->queue && (!s->open || s->open->n_events == 0))
                        s->oldest_pending = 0;
                else
                        s->oldest_pending = s->queue ? s->queue->created : s->open ? s->open->created : 0;
                source_resume(s);
                source_send(s);
                flush_progress(s->logs);
                return;
        }
        if (code_is(res, "ResourceNotFound")) {
                /* Put it back first in line; the stream comes first. */
                s->inflight = NULL;
                LIST_PREPEND(batches, s->queue, b);
                s->n_queued++;
                s->stream_state = STREAM_CREATING;
                log_info("[logs.%s]: log stream %s / %s missing; creating it", s->settings.name, s->group, s->stream);
                schedule_retry(s, (usec_t) (random01() * CREATE_JITTER));
                return;
        }
        if (res->error_class == AWS_ERROR_FATAL && res->http_status == 400 && !code_is(res, "AccessDenied") &&
            !code_is(res, "UnrecognizedClient") && !code_is(res, "Signature")) {
                /* CloudWatch will never take it: do not retry for ever. */
                s->inflight = NULL;
                s->batches_dropped++;
                component_error(&s->component, COMPONENT_DEGRADED, "batch of %zu events refused, dropped: %s",
                                b->n_events, strna(res->reason));
                log_error("[logs.%s]: a batch of %zu events was refused and dropped: %s", s->settings.name,
                          b->n_events, strna(res->reason));
                for (size_t i = 0; i < b->n_marks && s->files; i++)
                        log_files_commit(s->files, b->marks[i].key, b->marks[i].offset);
                source_recycle(s, b);
                source_save_checkpoint(s);
                source_resume(s);
                source_send(s);
                flush_progress(s->logs);
                return;
        }
        /* Outage: keep it first in line, wait, try again; reading stays
         * paused meanwhile. */
        s->inflight = NULL;
        LIST_PREPEND(batches, s->queue, b);
        s->n_queued++;
        component_error(&s->component, COMPONENT_DEGRADED, "PutLogEvents failed, retrying: %s", strna(res->reason));
        schedule_retry(s, backoff_next(&s->backoff));
}

static void source_send(LogSource *s) {
        LogBatch *b;
        int r;

        if (s->call || s->inflight || sd_event_source_get_enabled(s->retry_timer, NULL) > 0)
                return;
        if (s->stream_state != STREAM_READY) {
                r = start_create(s, s->stream_state == STREAM_CREATING_GROUP);
                if (r < 0) {
                        component_error(&s->component, COMPONENT_DEGRADED, "cannot create the stream: %s",
                                        strerror(-r));
                        schedule_retry(s, backoff_next(&s->backoff));
                }
                return;
        }
        b = s->queue;
        if (!b)
                return;
        LIST_REMOVE(batches, s->queue, b);
        s->n_queued--;
        s->inflight = b;
        /* Lent, not copied: b stays in s->inflight until the call ends. */
        r = aws_call_borrowed(s->logs->aws, AWS_SERVICE_LOGS, AWS_PROTOCOL_JSON, "Logs_20140328.PutLogEvents",
                              b->body, b->len, on_put_done, s, &s->call);
        if (r < 0) {
                s->inflight = NULL;
                LIST_PREPEND(batches, s->queue, b);
                s->n_queued++;
                component_error(&s->component, COMPONENT_DEGRADED, "cannot send a batch: %s", strerror(-r));
                schedule_retry(s, backoff_next(&s->backoff));
                return;
        }
        /* Room in the queue again. */
        source_resume(s);
}

static int on_retry(sd_event_source *es, uint64_t usec, void *userdata) {
        LogSource *s = userdata;

        (void) sd_event_source_set_enabled(es, SD_EVENT_OFF);
        source_send(s);
        return 0;
}

void logs_lag(Logs *l, uint64_t *ret_bytes, usec_t *ret_age) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        *ret_bytes = 0;
        *ret_age = 0;
        for (size_t i = 0; l && i < l->n_sources; i++) {
                LogSource *s = &l->sources[i];
                if (s->files)
                        *ret_bytes += log_files_bytes_behind(s->files);
                if (s->oldest_pending)
                        *ret_age = MAX(*ret_age, now - s->oldest_pending);
        }
}

static int source_append_json(const Component *c, cJSON *o) {
        LogSource *s = container_of(c, LogSource, component);
        usec_t now = now_usec(CLOCK_MONOTONIC);
        char buf[64];
        cJSON *files;

        if (!cJSON_AddStringToObject(o, "type", s->files ? "file" : "journal") ||
            json_add_string_or_null(o, "group", s->group) < 0 || json_add_string_or_null(o, "stream", s->stream) < 0 ||
            !cJSON_AddNumberToObject(o, "bytes_behind", s->files ? (double) log_files_bytes_behind(s->files) : 0) ||
            !cJSON_AddNumberToObject(o, "seconds_behind",
                                     s->oldest_pending ? (double) (now - s->oldest_pending) / USEC_PER_SEC : 0) ||
            json_add_string_or_null(o, "last_delivery", s->last_delivery ?
                                    format_rfc3339(buf, sizeof(buf), s->last_delivery) : NULL) < 0 ||
            !cJSON_AddNumberToObject(o, "events_delivered", (double) s->events_sent) ||
            !cJSON_AddNumberToObject(o, "batches_delivered", (double) s->batches_sent) ||
            !cJSON_AddNumberToObject(o, "events_too_old", (double) s->too_old) ||
            !cJSON_AddNumberToObject(o, "events_too_new", (double) s->too_new) ||
            !cJSON_AddNumberToObject(o, "events_rejected", (double) (s->rejected + s->too_old + s->too_new -
                                                                       MIN(s->rejected, s->too_old + s->too_new))) ||
            !cJSON_AddNumberToObject(o, "batches_dropped", (double) s->batches_dropped) ||
            !cJSON_AddNumberToObject(o, "batches_queued", (double) (s->n_queued + !!s->inflight)))
                return -ENOMEM;
        if (s->files) {
                files = cJSON_AddArrayToObject(o, "files");
                if (!files || log_files_to_json(s->files, files) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static void source_done(LogSource *s) {
        if (s->call)
                aws_call_cancel(s->call);
        log_batch_free(s->open);
        log_batch_free(s->inflight);
        while (s->queue) {
                LogBatch *b = s->queue;
                LIST_REMOVE(batches, s->queue, b);
                log_batch_free(b);
        }
        log_files_free(s->files);
        log_journal_free(s->journal);
        sd_event_source_disable_unref(s->batch_timer);
        sd_event_source_disable_unref(s->retry_timer);
        component_done(&s->component);
        free(s->settings.name);
        free(s->settings.file);
        free(s->settings.journal);
        free(s->settings.journal_directory);
        free(s->settings.group);
        free(s->settings.stream);
        free(s->settings.multiline_start);
        free(s->settings.timestamp_format);
        free(s->group);
        free(s->stream);
        free(s->checkpoint_path);
        free(s->cursor);
}

static int copy_str(char **dst, const char *src) {
        if (!src)
                return 0;
        *dst = strdup(src);
        return *dst ? 0 : -ENOMEM;
}

static int source_init(Logs *l, LogSource *s, const LogSourceSettings *k) {
        const LogSink sink = { .event = source_event, .full = source_full, .files_changed = source_files_changed,
                               .userdata = s };
        int r;

        s->logs = l;
        s->settings.priority = k->priority;
        if (copy_str(&s->settings.name, k->name) < 0 || copy_str(&s->settings.file, k->file) < 0 ||
            copy_str(&s->settings.journal, k->journal) < 0 ||
            copy_str(&s->settings.journal_directory, k->journal_directory) < 0 ||
            copy_str(&s->settings.group, k->group) < 0 || copy_str(&s->settings.stream, k->stream) < 0 ||
            copy_str(&s->settings.multiline_start, k->multiline_start) < 0 ||
            copy_str(&s->settings.timestamp_format, k->timestamp_format) < 0 ||
            copy_str(&s->group, k->group ?: l->settings.log_group) < 0)
                return -ENOMEM;
        snprintf(s->component_name, sizeof(s->component_name), "logs.%s", k->name);
        component_init(&s->component, s->component_name, false);
        s->component.append_json = source_append_json;
        component_set(&s->component, COMPONENT_STARTING, "waiting for the bootstrap");
        s->backoff = (Backoff) { .base = RETRY_BASE, .cap = RETRY_CAP };
        if (asprintf(&s->checkpoint_path, "%s/%s.json", l->state_dir, k->name) < 0)
                return -ENOMEM;
        r = sd_event_add_time(l->event, &s->batch_timer, CLOCK_MONOTONIC, USEC_INFINITY, 10 * USEC_PER_MSEC,
                              on_batch_timer, s);
        if (r >= 0)
                r = sd_event_add_time(l->event, &s->retry_timer, CLOCK_MONOTONIC, USEC_INFINITY, 10 * USEC_PER_MSEC,
                                      on_retry, s);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(s->batch_timer, SD_EVENT_OFF);
        (void) sd_event_source_set_enabled(s->retry_timer, SD_EVENT_OFF);
        if (log_source_type(&s->settings) == LOG_SOURCE_FILE)
                return log_files_new(l->event, &s->settings, l->settings.partial_timeout, &sink, &s->files);
        return log_journal_new(l->event, &s->settings, &sink, &s->journal);
}

int logs_new(sd_event *e, AwsClient *aws, const LogsSettings *settings, LogSourceSettings *const *sources, size_t n,
             const char *state_dir, Logs **ret) {
        _cleanup_(logs_freep) Logs *l = calloc(1, sizeof(*l));
        int r;

        if (!l)
                return -ENOMEM;
        l->event = sd_event_ref(e);
        l->aws = aws;
        l->settings = *settings;
        l->settings.log_group = strdup(settings->log_group);
        l->settings.state_dir = NULL;
        if (settings->state_dir)
                l->state_dir = strdup(settings->state_dir);
        else if (asprintf(&l->state_dir, "%s/logs", state_dir) < 0)
                l->state_dir = NULL;
        if (!l->settings.log_group || !l->state_dir)
                return -ENOMEM;
        l->sources = calloc(MAX(n, (size_t) 1), sizeof(LogSource));
        if (!l->sources)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                l->n_sources++;
                r = source_init(l, &l->sources[i], sources[i]);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

Logs *logs_free(Logs *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n_sources; i++)
                source_done(&l->sources[i]);
        free(l->sources);
        sd_event_source_disable_unref(l->flush_deadline);
        sd_event_source_disable_unref(l->flush_check);
        sd_event_source_disable_unref(l->flush_done);
        free(l->settings.log_group);
        free(l->state_dir);
        sd_event_unref(l->event);
        return mfree(l);
}

size_t logs_count(Logs *l) {
        return l ? l->n_sources : 0;
}

static int mkdir_parents(const char *dir) {
        _cleanup_free_ char *p = strdup(dir);

        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++)
                if (*s == '/') {
                        *s = 0;
                        if (mkdir(p, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *s = '/';
                }
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

static void source_start(LogSource *s, const char *instance_id, const char *hostname) {
        LogCheckpoint cp = {};
        int r;

        r = log_stream_name_expand(s->settings.stream ?: LOGS_DEFAULT_STREAM, s->settings.name, instance_id, hostname,
                                   &s->stream);
        if (r < 0) {
                component_error(&s->component, COMPONENT_FAILED, "stream name does not expand to a valid name");
                return;
        }
        r = log_checkpoint_load(s->checkpoint_path, &cp);
        if (r < 0 && r != -ENOENT)
                log_warning("[logs.%s]: checkpoint %s unreadable (%s); starting from the beginning", s->settings.name,
                            s->checkpoint_path, strerror(-r));
        if (cp.cursor)
                s->cursor = strdup(cp.cursor);
        r = s->files ? log_files_start(s->files, &cp) : log_journal_start(s->journal, cp.cursor);
        log_checkpoint_done(&cp);
        if (r < 0) {
                component_error(&s->component, COMPONENT_DEGRADED, "cannot start reading: %s",
                                (s->files ? log_files_last_error(s->files) : log_journal_last_error(s->journal)) ?:
                                strerror(-r));
                return;
        }
        component_set(&s->component, COMPONENT_OK, "shipping to %s / %s", s->group, s->stream);
}

int logs_start(Logs *l, const char *instance_id, const char *hostname) {
        int r;

        if (l->started)
                return 0;
        l->started = true;
        if (l->n_sources == 0)
                return 0;
        r = mkdir_parents(l->state_dir);
        if (r < 0)
                log_error_errno(r, "cannot create %s for log checkpoints: %m", l->state_dir);
        for (size_t i = 0; i < l->n_sources; i++)
                source_start(&l->sources[i], isempty(instance_id) ? hostname : instance_id, hostname);
        log_info("shipping logs of %zu source(s) to CloudWatch Logs", l->n_sources);
        return 0;
}

/* ---- flush ---- */

static bool source_idle(LogSource *s) {
        bool caught_up = s->files ? log_files_caught_up(s->files) : s->journal ? log_journal_caught_up(s->journal) : true;

        if (!s->stream)         /* never started: nothing of it can go */
                return true;
        if (caught_up && s->open && !s->inflight && !s->queue)
                source_seal(s);
        return caught_up && !s->open && !s->queue && !s->inflight;
}

static int on_flush_done(sd_event_source *es, void *userdata) {
        Logs *l = userdata;
        AgentCallback cb = l->flush_cb;
        void *ud = l->flush_userdata;
        int error = l->flush_error;

        l->flush_done = sd_event_source_disable_unref(l->flush_done);
        agent_callback_invoke(cb, l, &(AgentEvent) { .type = LOGS_EVENT_FLUSHED, .error = error,
                                                     .reason = error < 0 ? "deadline passed before everything was "
                                                                           "delivered" : NULL }, ud);
        return 0;
}

static void flush_finish(Logs *l, int error) {
        if (!l->flushing)
                return;
        l->flushing = false;
        l->flush_error = error;
        l->flush_deadline = sd_event_source_disable_unref(l->flush_deadline);
        l->flush_check = sd_event_source_disable_unref(l->flush_check);
        for (size_t i = 0; i < l->n_sources; i++)
                if (l->sources[i].files)
                        log_files_set_draining(l->sources[i].files, false);
        if (error < 0)
                log_warning("flush: deadline passed with logs still to deliver");
        else
                log_info("flush: every log line written so far is delivered");
        if (sd_event_add_defer(l->event, &l->flush_done, on_flush_done, l) < 0)
                log_oom();
}

static void flush_progress(Logs *l) {
        if (!l->flushing)
                return;
        for (size_t i = 0; i < l->n_sources; i++)
                if (!source_idle(&l->sources[i]))
                        return;
        flush_finish(l, 0);
}

static int on_flush_check(sd_event_source *es, uint64_t usec, void *userdata) {
        Logs *l = userdata;

        flush_progress(l);
        if (l->flushing)
                (void) sd_event_source_set_time_relative(es, DRAIN_CHECK);
        return 0;
}

static int on_flush_deadline(sd_event_source *es, uint64_t usec, void *userdata) {
        flush_finish(userdata, -ETIMEDOUT);
        return 0;
}

int logs_flush(Logs *l, usec_t timeout, AgentCallback cb, void *userdata) {
        int r;

        if (l->flushing || l->flush_done)
                return -EBUSY;
        l->flushing = true;
        l->flush_cb = cb;
        l->flush_userdata = userdata;
        for (size_t i = 0; i < l->n_sources; i++)
                if (l->sources[i].files)
                        log_files_set_draining(l->sources[i].files, true);
        r = sd_event_add_time_relative(l->event, &l->flush_deadline, CLOCK_MONOTONIC, timeout, 10 * USEC_PER_MSEC,
                                       on_flush_deadline, l);
        if (r >= 0)
                /* Readers do not report "caught up"; look every 50 ms while draining. */
                r = sd_event_add_time_relative(l->event, &l->flush_check, CLOCK_MONOTONIC, 0, USEC_PER_MSEC,
                                               on_flush_check, l);
        if (r >= 0)
                r = sd_event_source_set_enabled(l->flush_check, SD_EVENT_ON);
        if (r < 0) {
                l->flushing = false;
                l->flush_deadline = sd_event_source_disable_unref(l->flush_deadline);
                l->flush_check = sd_event_source_disable_unref(l->flush_check);
                return r;
        }
        return 0;
}

int logs_add_components(Logs *l, ComponentList *list) {
        int r;

        for (size_t i = 0; l && i < l->n_sources; i++) {
                r = component_list_add(list, &l->sources[i].component);
                if (r < 0)
                        return r;
        }
        return 0;
}
