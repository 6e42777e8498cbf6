/* SPDX-License-Identifier: MIT */
#include <microhttpd.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "api.h"
#include "conn-guard.h"

/*
 * MHD in external-epoll mode (no thread of its own): one io source on
 * MHD's epoll fd and a timer for MHD's own timeouts are the whole loop, as
 * in agentd's health endpoint. Suspended connections (waiting for a DB
 * thread) are resumed from the DB pool's done callback, on this thread.
 *
 * MHD's timeout only closes idle connections and its connection limit
 * refuses newcomers: a client sending a byte every few seconds, or a few
 * hundred idle ones, would keep nginx and agentd's readiness check out. So
 * every connection is also tracked by a ConnGuard (conn-guard.h), told by
 * MHD's connection and completion notifications: a whole-request deadline,
 * a per-uid limit, and the oldest waiting connection closed to make room
 * for a new one (MHD's hard limit is above the guard's, so MHD accepts).
 */

/* A kept-alive connection's next request: longer than nginx's upstream
 * keepalive_timeout (60 s), so nginx closes its idle connections first and
 * never sends a POST into one we are closing. */
#define KEEPALIVE_TIMEOUT (75 * USEC_PER_SEC)

#define REQ_MAGIC 0x52455131u

typedef enum Route {
        ROUTE_NONE,
        ROUTE_INGEST,
        ROUTE_JOB,
        ROUTE_METRICS,
        ROUTE_HEALTH,
} Route;

struct Api {
        sd_event *event;
        const IngestConfig *config;
        Credentials *creds;             /* API keys, on this thread */
        DbPool *pool;
        struct MHD_Daemon *mhd;
        ConnGuard *guard;
        int fd;
        sd_event_source *io, *timer, *stats_timer, *kick;
        Metrics metrics;
        bool migrated, migrating, stats_running, draining;
        void (*drain_done)(void *userdata);
        void *drain_userdata;
        unsigned suspended;
        uint64_t buffered;              /* decoded body bytes held, all requests */
};

typedef struct Req {
        uint32_t magic;
        Api *api;
        struct MHD_Connection *conn;
        Route route;
        usec_t start;
        unsigned status;                /* the answer, once known */
        Buf answer;
        bool answer_ready, headers_done, in_flight;
        uint64_t accounted;             /* this request's share of Api.buffered */
        char *location, *retry_after;
        JobTask *task;
} Req;

static void req_error(Req *q, unsigned status, const char *kind, const char *fmt, ...) _printf_(4, 5);
static void req_error(Req *q, unsigned status, const char *kind, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        q->status = status;
        q->answer.len = 0;
        (void) buf_printf(&q->answer, "{\"error\":\"%s\",\"message\":", kind);
        (void) buf_json_string(&q->answer, msg, strlen(msg));
        (void) buf_puts(&q->answer, "}");
        q->answer_ready = true;
}

static enum MHD_Result send_answer(Req *q) {
        const char *type = q->route == ROUTE_METRICS && q->status == 200 ? "text/plain; version=0.0.4; charset=utf-8"
                                                                         : "application/json";
        struct MHD_Response *r;
        enum MHD_Result ret;

        if (buf_puts(&q->answer, q->route == ROUTE_METRICS && q->status == 200 ? "" : "\n") < 0)
                return MHD_NO;
        r = MHD_create_response_from_buffer(q->answer.len, q->answer.data, MHD_RESPMEM_MUST_COPY);
        if (!r)
                return MHD_NO;
        (void) MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        (void) MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        if (q->location)
                (void) MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, q->location);
        if (q->retry_after)
                (void) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, q->retry_after);
        if (q->status == 405)
                (void) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, q->route == ROUTE_INGEST ? "POST" : "GET");
        ret = MHD_queue_response(q->conn, q->status, r);
        MHD_destroy_response(r);
        metrics_observe(&q->api->metrics, q->status, now_usec(CLOCK_MONOTONIC) - q->start);
        return ret;
}

static void unavailable(Req *q, const char *why) {
        req_error(q, 503, "unavailable", "%s", why);
        free(q->retry_after);
        q->retry_after = strdup("5");
}

/* The key from "Authorization: Bearer KEY", checked against every key. */
static bool authorised(Req *q) {
        const char *h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *name;

        if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
                req_error(q, 401, "unauthorized", "an Authorization: Bearer API key is required");
                return false;
        }
        h += 7;
        name = credentials_check_key(q->api->creds, h, strnlen(h, API_KEY_MAX + 1));
        if (!name) {
                req_error(q, 401, "unauthorized", "the API key is not valid");
                return false;
        }
        return true;
}

static void maybe_drained(Api *a) {
        void (*done)(void *userdata) = a->drain_done;

        if (a->draining && done && a->suspended == 0 && !a->stats_running) {
                a->drain_done = NULL;
                done(a->drain_userdata);
        }
}

static void on_task_done(JobTask *t) {
        Req *q = t->userdata;
        Api *a = q->api;

        q->in_flight = false;
        q->task = NULL;
        q->status = t->status;
        q->answer = t->response;
        t->response = (Buf) {};
        if (t->status == 503)
                q->retry_after = strdup("5");
        if (t->status == 202) {
                if (asprintf(&q->location, "/api/ingest/jobs/%" PRIu64, t->job_id) < 0)
                        q->location = NULL;
                if (t->replayed)
                        a->metrics.jobs_replayed++;
                else {
                        a->metrics.jobs_accepted++;
                        a->metrics.records_accepted += t->n_records;
                }
        }
        a->metrics.db_up = db_pool_up(a->pool);
        q->answer_ready = true;
        job_task_free(t);
        a->suspended--;
        MHD_resume_connection(q->conn);
        /* MHD learns of a resume only in its next run. */
        (void) sd_event_source_set_enabled(a->kick, SD_EVENT_ONESHOT);
        maybe_drained(a);
}

/* The headers are in: decide everything that can be decided now. */
static void check_ingest(Req *q, const char *dataset) {
        Api *a = q->api;
        const IngestConfig *c = a->config;
        const char *ct, *ce, *cl, *key;
        const Dataset *d;
        JobTask *t;

        if (a->draining)
                return unavailable(q, "this instance is draining; retry on another");
        if (!authorised(q))
                return;
        d = config_dataset(c, dataset);
        if (!d)
                return req_error(q, 404, "unknown_dataset", "no dataset %.64s (no %.64s.conf in %s)", dataset, dataset,
                                 c->datasets_dir);
        t = job_task_new(TASK_SUBMIT, c, on_task_done, q);
        if (!t)
                return unavailable(q, "out of memory");
        q->task = t;
        t->dataset = d;
        ct = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (body_format_from_content_type(ct, &t->format) < 0)
                return req_error(q, 415, "unsupported_media_type",
                                 "Content-Type %.64s: application/x-ndjson, application/json or text/csv expected",
                                 ct ? ct : "(none)");
        ce = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);
        if (ce && strcasecmp(ce, "gzip") != 0 && strcasecmp(ce, "identity") != 0)
                return req_error(q, 415, "unsupported_media_type", "Content-Encoding %.64s: gzip or identity expected", ce);
        cl = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > c->max_body)
                return req_error(q, 413, "too_large", "the body is %.20s bytes; at most %" PRIu64 " accepted", cl, c->max_body);
        key = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Idempotency-Key");
        if (key) {
                size_t n = strlen(key);
                bool ok = n > 0 && n <= 255;
                for (size_t i = 0; ok && i < n; i++)
                        ok = key[i] > 0x20 && key[i] < 0x7f;
                if (!ok)
                        return req_error(q, 400, "malformed", "Idempotency-Key: 1 to 255 printable ASCII characters expected");
                if (!(t->idempotency_key = strdup(key)))
                        return unavailable(q, "out of memory");
        }
        if (!a->migrated)
                return unavailable(q, db_pool_up(a->pool) ? "the database schema is not ready yet" : "the database is unreachable");
        if (!db_pool_up(a->pool))
                return unavailable(q, "the database is unreachable; nothing was stored");
        if (a->metrics.stats_valid && a->metrics.stats.depth >= c->max_queue) {
                req_error(q, 429, "queue_full", "%" PRIu64 " jobs are waiting (max_queue_depth=%" PRIu64 "); retry later",
                          a->metrics.stats.depth, c->max_queue);
                q->retry_after = strdup("2");
                return;
        }
        body_init(&t->body, ce && strcasecmp(ce, "gzip") == 0, c->max_body, c->max_decoded);
}

static bool parse_job_id(const char *s, uint64_t *ret) {
        return parse_uint(s, UINT64_MAX / 2, ret) == 0 && *ret > 0;
}

static const char *after_prefix(const char *s, const char *prefix) {
        size_t n = strlen(prefix);
        return strncmp(s, prefix, n) == 0 ? s + n : NULL;
}

static bool one_segment(const char *s) {
        for (; *s; s++)
                if (*s == '/')
                        return false;
        return true;
}

static void route(Req *q, const char *url, const char *method) {
        bool get = streq(method, "GET") || streq(method, "HEAD"), post = streq(method, "POST");
        const char *dataset = after_prefix(url, "/api/ingest/");
        uint64_t id;

        if (after_prefix(url, "/api/ingest/jobs/")) {
                q->route = ROUTE_JOB;
                if (!get)
                        return req_error(q, 405, "method_not_allowed", "GET only");
                if (!authorised(q))
                        return;
                if (!parse_job_id(url + 17, &id))
                        return req_error(q, 404, "not_found", "job ids are positive integers");
                if (!(q->task = job_task_new(TASK_GET, q->api->config, on_task_done, q)))
                        return unavailable(q, "out of memory");
                q->task->job_id = id;
        } else if (dataset && *dataset && one_segment(dataset)) {
                q->route = ROUTE_INGEST;
                if (!post)
                        return req_error(q, 405, "method_not_allowed", "POST only");
                check_ingest(q, dataset);
        } else if (streq(url, "/metrics") && get)
                q->route = ROUTE_METRICS;
        else if (streq(url, "/health") && get)
                q->route = ROUTE_HEALTH;
        else
                req_error(q, 404, "not_found", "no such endpoint: POST /api/ingest/{dataset}, GET /api/ingest/jobs/{id}");
}

static void answer_local(Req *q) {
        Api *a = q->api;

        if (q->route == ROUTE_METRICS) {
                a->metrics.db_up = db_pool_up(a->pool);
                a->metrics.draining = a->draining;
                a->metrics.db_in_flight = db_pool_in_flight(a->pool);
                q->status = 200;
                if (metrics_render(&a->metrics, &q->answer) < 0)
                        return unavailable(q, "out of memory");
        } else {
                const char *why = a->draining ? "draining" : !db_pool_up(a->pool) ? "database unreachable"
                                                           : !a->migrated ? "schema not ready" : NULL;
                q->status = why ? 503 : 200;
                (void) buf_printf(&q->answer, "{\"status\":\"%s\"}", why ? why : "ok");
        }
        q->answer_ready = true;
}

static GuardedConn *guarded(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *i = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return i ? i->socket_context : NULL;
}

static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
        if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
                (*(unsigned *) cls)++;
        return MHD_YES;
}

/* MHD takes the first of two Content-Length headers, or the chunked
 * framing over a Content-Length; nginx in front may take the other
 * (request smuggling): refused, before a byte of the body is read. */
static bool framing_ambiguous(struct MHD_Connection *conn) {
        unsigned n = 0;

        (void) MHD_get_connection_values(conn, MHD_HEADER_KIND, count_content_length, &n);
        return n > 1 || (n == 1 && MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
        Api *a = cls;
        Req *q = *con_cls;
        bool ambiguous;
        int r;

        if (!q) {
                q = calloc(1, sizeof(*q));
                if (!q)
                        return MHD_NO;
                *q = (Req) { .magic = REQ_MAGIC, .api = a, .conn = conn, .start = now_usec(CLOCK_MONOTONIC) };
                *con_cls = q;
                ambiguous = framing_ambiguous(conn);
                if (ambiguous)
                        req_error(q, 400, "malformed", "two Content-Length headers, or Content-Length with Transfer-Encoding");
                else
                        route(q, url, method);
                /* Too large by its Content-Length, or framed ambiguously:
                 * answer before reading the body (MHD then closes the
                 * connection). */
                if (q->answer_ready && (q->status == 413 || ambiguous)) {
                        conn_guard_request_read(guarded(conn));
                        return send_answer(q);
                }
                return MHD_YES;
        }
        if (*upload_size > 0) {
                /* A body where none is wanted, or after an early error:
                 * read and dropped, so the answer goes out on a clean
                 * connection. */
                if (q->route == ROUTE_INGEST && !q->answer_ready && q->task) {
                        size_t before = q->task->body.data.len;
                        /* Many large bodies at once must not exhaust memory:
                         * past max_buffered in total, new bytes are refused. */
                        if (a->buffered + *upload_size > a->config->max_buffered) {
                                unavailable(q, "too much request data is being received at once; retry later");
                                *upload_size = 0;
                                return MHD_YES;
                        }
                        r = body_feed(&q->task->body, upload, *upload_size);
                        q->accounted += q->task->body.data.len - before;
                        a->buffered += q->task->body.data.len - before;
                        if (r == -EFBIG)
                                req_error(q, 413, "too_large", "the body exceeds %" PRIu64 " bytes (or %" PRIu64 " decoded)",
                                          a->config->max_body, a->config->max_decoded);
                        else if (r == -EBADMSG)
                                req_error(q, 400, "malformed", "Content-Encoding: gzip, but the body is not gzip data");
                        else if (r < 0)
                                unavailable(q, "out of memory");
                }
                *upload_size = 0;
                return MHD_YES;
        }
        /* The whole request is in: its deadline ends. */
        conn_guard_request_read(guarded(conn));
        if (q->answer_ready)
                return send_answer(q);
        if (q->in_flight)
                return MHD_YES;         /* spurious: still waiting */
        if (q->route == ROUTE_METRICS || q->route == ROUTE_HEALTH) {
                answer_local(q);
                return send_answer(q);
        }
        if (q->route == ROUTE_INGEST) {
                r = body_finish(&q->task->body);
                if (r < 0) {
                        req_error(q, 400, "malformed", "the gzip body ends before its end marker");
                        return send_answer(q);
                }
        }
        if (db_pool_submit(a->pool, &q->task->base) < 0) {
                unavailable(q, "too many requests are waiting for the database");
                return send_answer(q);
        }
        q->in_flight = true;
        a->suspended++;
        MHD_suspend_connection(conn);
        return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
        Req *q = *con_cls;

        /* Answered; on a kept-alive connection the next request's deadline
         * starts (a closing one is CLOSED next). */
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
                conn_guard_request_answered(guarded(conn));
        if (!q)
                return;
        /* A suspended connection is never completed while its task runs. */
        q->api->buffered -= q->accounted;
        job_task_free(q->task);
        buf_done(&q->answer);
        free(q->location);
        free(q->retry_after);
        free(q);
        *con_cls = NULL;
}

/* MHD accepted or closed a connection: the guard tracks it, with the
 * peer's uid (nginx's workers are one peer, agentd's checks another). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        Api *a = cls;
        const union MHD_ConnectionInfo *fd_info;
        struct ucred cred;
        socklen_t l = sizeof(cred);
        bool has_peer;

        if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                conn_guard_remove(*socket_context);
                *socket_context = NULL;
                return;
        }
        fd_info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!fd_info)
                return;
        has_peer = getsockopt(fd_info->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) == 0;
        *socket_context = conn_guard_add(a->guard, fd_info->connect_fd, has_peer, has_peer ? cred.uid : 0);
}

/* MHD's next timeout is mostly a kept-alive connection's idle deadline,
 * pushed back by every request: moving the timer each time would cost a
 * timerfd_settime() a request. A timer that fires early is harmless
 * (MHD_run finds nothing due and this rearms), so it is only moved
 * earlier, or later once it is more than TIMER_SLACK early; "at once"
 * is the kick, a defer source. */
#define TIMER_SLACK USEC_PER_SEC

static void rearm(Api *a) {
        MHD_UNSIGNED_LONG_LONG ms;
        uint64_t now, armed;
        int enabled = SD_EVENT_OFF;
        usec_t due;

        if (MHD_get_timeout(a->mhd, &ms) != MHD_YES) {
                (void) sd_event_source_set_enabled(a->timer, SD_EVENT_OFF);
                return;
        }
        if (ms == 0) {  /* work pending (a resumed connection): run again at once */
                (void) sd_event_source_set_enabled(a->kick, SD_EVENT_ONESHOT);
                return;
        }
        if (sd_event_now(sd_event_source_get_event(a->timer), CLOCK_MONOTONIC, &now) < 0)
                now = now_usec(CLOCK_MONOTONIC);
        due = now + (usec_t) MIN(ms, (MHD_UNSIGNED_LONG_LONG) UINT32_MAX) * USEC_PER_MSEC;
        (void) sd_event_source_get_enabled(a->timer, &enabled);
        if (enabled != SD_EVENT_OFF && sd_event_source_get_time(a->timer, &armed) >= 0 &&
            armed <= due && due - armed <= TIMER_SLACK)
                return;
        (void) sd_event_source_set_time(a->timer, due);
        (void) sd_event_source_set_enabled(a->timer, SD_EVENT_ONESHOT);
}

static void run_mhd(Api *a) {
        (void) MHD_run(a->mhd);
        rearm(a);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        run_mhd(userdata);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        run_mhd(userdata);
        return 0;
}

static int on_kick(sd_event_source *s, void *userdata) {
        run_mhd(userdata);
        return 0;
}

static void on_stats_done(JobTask *t) {
        Api *a = t->userdata;

        a->stats_running = false;
        if (t->kind == TASK_MIGRATE) {
                a->migrating = false;
                a->migrated = t->status == 200;
                if (a->migrated) {
                        log_info("database schema ready");
                        (void) sd_notify(0, "STATUS=serving; database schema ready");
                } else
                        (void) sd_notify(0, "STATUS=waiting for the database (schema not ready)");
        } else if (t->status == 200)
                metrics_stats(&a->metrics, &t->stats, now_usec(CLOCK_MONOTONIC));
        a->metrics.db_up = db_pool_up(a->pool);
        job_task_free(t);
        maybe_drained(a);
}

/* Every stats_interval: migrate until that worked, then refresh the
 * queue figures (backpressure and /metrics). One at a time. */
static int on_stats_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Api *a = userdata;
        JobTask *t;

        (void) sd_event_source_set_time(s, usec + a->config->stats_interval);
        if (a->stats_running || a->draining)
                return 0;
        t = job_task_new(a->migrated ? TASK_STATS : TASK_MIGRATE, a->config, on_stats_done, a);
        if (!t)
                return 0;
        if (db_pool_submit(a->pool, &t->base) < 0) {
                job_task_free(t);
                return 0;
        }
        a->stats_running = true;
        a->migrating = !a->migrated;
        return 0;
}

static int listen_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, r;
        mode_t old;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "listen=%s: longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        /* nginx's workers connect: the keys, not the socket mode, guard
         * the API. */
        old = umask(0111);
        r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, 1024) < 0) {
                r = log_error_errno(errno, "cannot listen on %s: %m", path);
                close(fd);
                return r;
        }
        return fd;
}

int api_new(sd_event *e, const IngestConfig *c, Credentials *creds, Api **ret) {
        Api *a = calloc(1, sizeof(*a));
        Credentials *pool_creds;
        const union MHD_DaemonInfo *info;
        int r;

        if (!a) {
                credentials_free(creds);
                return -ENOMEM;
        }
        a->event = e;
        a->config = c;
        a->creds = creds;
        a->fd = -EBADF;
        /* The pool gets its own copy: credentials are re-read as a whole. */
        r = credentials_load(c->credentials, true, &pool_creds);
        if (r < 0)
                goto fail;
        r = db_pool_new(e, c, pool_creds, &a->pool);
        if (r < 0)
                goto fail;
        a->fd = listen_unix(c->listen);
        if (a->fd < 0) {
                r = a->fd;
                goto fail;
        }
        r = conn_guard_new(e,
                           &(ConnGuardSettings) { .max_connections = (unsigned) c->max_connections,
                                                  .max_per_peer = (unsigned) c->max_per_peer,
                                                  .request_timeout = c->request_timeout,
                                                  .keepalive_timeout = KEEPALIVE_TIMEOUT },
                           &a->guard);
        if (r < 0)
                goto fail;
        a->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                  on_request, a, MHD_OPTION_LISTEN_SOCKET, a->fd, MHD_OPTION_NOTIFY_COMPLETED,
                                  on_completed, a, MHD_OPTION_NOTIFY_CONNECTION, on_connection, a,
                                  /* Above the guard's limit: it closes the
                                   * slowest to make room, MHD never refuses. */
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned) c->max_connections + CONN_GUARD_RESERVE,
                                  MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                  (size_t) 256 * 1024, MHD_OPTION_END);
        if (!a->mhd) {
                r = log_error_errno(EINVAL, "cannot start the HTTP server on %s", c->listen);
                goto fail;
        }
        info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        r = info ? sd_event_add_io(e, &a->io, info->epoll_fd, EPOLLIN, on_io, a) : -EINVAL;
        if (r >= 0)
                r = sd_event_add_time_relative(e, &a->timer, CLOCK_MONOTONIC, 0, 1, on_timer, a);
        if (r >= 0)
                r = sd_event_add_defer(e, &a->kick, on_kick, a);
        if (r >= 0)
                r = sd_event_source_set_enabled(a->kick, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time_relative(e, &a->stats_timer, CLOCK_MONOTONIC, 0, 1000, on_stats_timer, a);
        if (r >= 0)
                r = sd_event_source_set_enabled(a->stats_timer, SD_EVENT_ON);
        if (r < 0)
                goto fail;
        rearm(a);
        *ret = a;
        return 0;
fail:
        api_free(a);
        return r;
}

Api *api_free(Api *a) {
        if (!a)
                return NULL;
        /* Threads first: their done callbacks resume what is suspended,
         * so MHD can close every connection. */
        a->drain_done = NULL;
        a->pool = db_pool_free(a->pool);
        a->io = sd_event_source_disable_unref(a->io);
        a->timer = sd_event_source_disable_unref(a->timer);
        a->stats_timer = sd_event_source_disable_unref(a->stats_timer);
        a->kick = sd_event_source_disable_unref(a->kick);
        if (a->mhd) {
                MHD_run(a->mhd);
                MHD_stop_daemon(a->mhd);        /* CLOSED for each connection: the guard forgets them */
        }
        a->guard = conn_guard_free(a->guard);
        if (a->fd >= 0) {
                close(a->fd);
                (void) unlink(a->config->listen);
        }
        credentials_free(a->creds);
        return mfree(a);
}

void api_set_credentials(Api *a, Credentials *creds) {
        Credentials *pool_copy;

        if (credentials_load(a->config->credentials, true, &pool_copy) < 0) {
                credentials_free(creds);
                return;
        }
        credentials_free(a->creds);
        a->creds = creds;
        db_pool_set_credentials(a->pool, pool_copy);
}

void api_drain(Api *a, void (*done)(void *userdata), void *userdata) {
        a->draining = true;
        a->drain_done = done;
        a->drain_userdata = userdata;
        maybe_drained(a);
}
