/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "db.h"
#include "worker.h"

#define ERRORS_KEPT 5

struct Worker {
        const IngestConfig *config;
        Credentials *creds;
        MYSQL *m;
        bool migrated;
        char owner[256], counter_key[256];
        int sigfd;
        bool draining;
        usec_t drain_deadline, watchdog_usec, last_ping;
        unsigned connect_failures;
};

typedef struct Job {
        uint64_t id, records, processed, attempts;
        char dataset[65];
        char *errors;
} Job;

int worker_new(const IngestConfig *c, const char *config_path, unsigned slot, Worker **ret) {
        Worker *w = calloc(1, sizeof(*w));
        sigset_t ss;
        int r;

        if (!w)
                return -ENOMEM;
        w->config = c;
        w->sigfd = -1;
        r = credentials_load(c->credentials, false, &w->creds);
        if (r < 0) {
                free(w);
                return r;
        }
        snprintf(w->counter_key, sizeof(w->counter_key), "%.180s/%u", c->instance_id, slot);
        snprintf(w->owner, sizeof(w->owner), "%.180s/%u/%d", c->instance_id, slot, (int) getpid());
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        w->sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
        if (w->sigfd < 0) {
                r = -errno;
                worker_free(w);
                return r;
        }
        if (sd_watchdog_enabled(false, &w->watchdog_usec) <= 0)
                w->watchdog_usec = 0;
        *ret = w;
        return 0;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        if (w->m)
                mysql_close(w->m);
        credentials_free(w->creds);
        if (w->sigfd >= 0)
                close(w->sigfd);
        return mfree(w);
}

static void ping(Worker *w) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (w->watchdog_usec && now - w->last_ping >= w->watchdog_usec / 4) {
                (void) sd_notify(0, "WATCHDOG=1");
                w->last_ping = now;
        }
}

/* Reads pending signals; with timeout > 0 waits for one that long. */
static void check_signals(Worker *w, usec_t timeout) {
        struct pollfd p = { .fd = w->sigfd, .events = POLLIN };
        struct signalfd_siginfo si;

        ping(w);
        if (timeout > 0)
                (void) poll(&p, 1, (int) (timeout / USEC_PER_MSEC));
        while (read(w->sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                        Credentials *c;
                        if (credentials_load(w->config->credentials, false, &c) == 0) {
                                credentials_free(w->creds);
                                w->creds = c;
                                log_info("SIGHUP: credentials re-read; reconnecting with them");
                                if (w->m)
                                        mysql_close(w->m);
                                w->m = NULL;
                        } else
                                log_error("SIGHUP: keeping the previous credentials");
                } else if (!w->draining) {
                        w->draining = true;
                        w->drain_deadline = now_usec(CLOCK_MONOTONIC) + w->config->drain_timeout;
                        log_info("%s: draining (the current job finishes or is handed back)", strsignal((int) si.ssi_signo));
                        (void) sd_notify(0, "STOPPING=1\nSTATUS=draining");
                }
        }
}

static void disconnect(Worker *w) {
        if (w->m)
                mysql_close(w->m);
        w->m = NULL;
}

/* A statement failed: drop the connection if it is gone. */
static int failed(Worker *w, int r) {
        if (r == -ECONNRESET)
                disconnect(w);
        else if (w->m)
                (void) db_exec(w->m, "ROLLBACK");
        return r;
}

static usec_t backoff(const IngestConfig *c, uint64_t attempt) {
        usec_t d = c->backoff_base;

        for (uint64_t i = 1; i < attempt && d < c->backoff_max; i++)
                d *= 2;
        d = MIN(d, c->backoff_max);
        /* ±20% jitter: workers that failed together do not retry together. */
        return d - d / 5 + (usec_t) (random() % (long) (d / 5 * 2 + 1));
}

/* errors: the job's JSON array, with this attempt's message appended
 * (only the first ERRORS_KEPT are kept). */
static char *errors_append(const char *old, uint64_t attempt, const char *msg) {
        cJSON *a = old ? cJSON_Parse(old) : NULL, *e;
        char *s;

        if (!cJSON_IsArray(a)) {
                cJSON_Delete(a);
                a = cJSON_CreateArray();
        }
        if (a && cJSON_GetArraySize(a) < ERRORS_KEPT && (e = cJSON_CreateObject())) {
                cJSON_AddNumberToObject(e, "attempt", (double) attempt);
                cJSON_AddStringToObject(e, "error", msg);
                cJSON_AddItemToArray(a, e);
        }
        s = a ? cJSON_PrintUnformatted(a) : NULL;
        cJSON_Delete(a);
        return s;
}

static int counters_add(Worker *w, const char *column, uint64_t records) {
        Buf q = {};
        int r;

        buf_printf(&q, "INSERT INTO ingest_counters (owner, instance, %s, records_done) VALUES (", column);
        db_quote(w->m, &q, w->counter_key, strlen(w->counter_key));
        buf_puts(&q, ", ");
        db_quote(w->m, &q, w->config->instance_id, strlen(w->config->instance_id));
        buf_printf(&q, ", 1, %" PRIu64 ") ON DUPLICATE KEY UPDATE %s = %s + 1, records_done = records_done + %" PRIu64,
                   records, column, column, records);
        r = q.data ? db_exec(w->m, q.data) : -ENOMEM;
        buf_done(&q);
        return r;
}

/* A failed attempt: retry later with backoff, or dead after max_attempts. */
static int job_fail(Worker *w, Job *j, const char *msg) {
        bool dead = j->attempts >= w->config->max_attempts;
        _cleanup_free_ char *errors = errors_append(j->errors, j->attempts, msg);
        Buf q = {};
        int r;

        log_warning("job %" PRIu64 " (dataset %s) attempt %" PRIu64 " failed: %s%s", j->id, j->dataset, j->attempts, msg,
                    dead ? "; giving up (dead)" : "");
        r = db_exec(w->m, "START TRANSACTION");
        if (r < 0)
                return failed(w, r);
        if (dead)
                buf_puts(&q, "UPDATE ingest_jobs SET status = 'dead', due_at = NULL, finished_at = NOW(6), errors = ");
        else
                buf_printf(&q, "UPDATE ingest_jobs SET status = 'failed', due_at = NOW(6) + INTERVAL %" PRIu64
                               " MICROSECOND, errors = ", (uint64_t) backoff(w->config, j->attempts));
        db_quote(w->m, &q, errors ? errors : "[]", strlen(errors ? errors : "[]"));
        buf_printf(&q, " WHERE id = %" PRIu64 " AND lease_owner = ", j->id);
        db_quote(w->m, &q, w->owner, strlen(w->owner));
        r = q.data ? db_exec(w->m, q.data) : -ENOMEM;
        buf_done(&q);
        if (r == 0 && mysql_affected_rows(w->m) != 1)
                r = -ESTALE;    /* lost the lease meanwhile: the new owner decides */
        if (r == 0)
                r = counters_add(w, dead ? "jobs_dead" : "jobs_failed", 0);
        if (r == 0)
                r = db_exec(w->m, "COMMIT");
        return r < 0 ? failed(w, r) : 0;
}

/* Drain deadline passed: give the job back without counting an attempt. */
static int job_release(Worker *w, Job *j) {
        Buf q = {};
        int r;

        buf_printf(&q, "UPDATE ingest_jobs SET status = 'queued', due_at = NOW(6), attempts = attempts - 1 WHERE id = %" PRIu64
                       " AND lease_owner = ", j->id);
        db_quote(w->m, &q, w->owner, strlen(w->owner));
        r = q.data ? db_exec(w->m, q.data) : -ENOMEM;
        buf_done(&q);
        log_info("job %" PRIu64 ": drain timeout; handed back at record %" PRIu64 " of %" PRIu64, j->id, j->processed,
                 j->records);
        return r < 0 ? failed(w, r) : 0;
}

/* 1 and *j when a job was claimed, 0 when none is due. */
static int job_claim(Worker *w, Job *j) {
        MYSQL_RES *res;
        MYSQL_ROW row;
        Buf q = {};
        int r;

        r = db_exec(w->m, "START TRANSACTION");
        if (r == 0)
                r = db_exec(w->m, "SELECT id, dataset, records, processed, attempts, errors FROM ingest_jobs"
                                  " WHERE due_at <= NOW(6) ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED");
        if (r < 0)
                return failed(w, r);
        res = mysql_store_result(w->m);
        if (!res)
                return failed(w, db_errno(w->m) ?: -EIO);
        row = mysql_fetch_row(res);
        if (!row) {
                mysql_free_result(res);
                r = db_exec(w->m, "COMMIT");
                return r < 0 ? failed(w, r) : 0;
        }
        *j = (Job) { .id = strtoull(row[0], NULL, 10), .records = strtoull(row[2], NULL, 10),
                     .processed = strtoull(row[3], NULL, 10), .attempts = strtoull(row[4], NULL, 10) + 1,
                     .errors = row[5] ? strdup(row[5]) : NULL };
        snprintf(j->dataset, sizeof(j->dataset), "%s", row[1]);
        mysql_free_result(res);
        buf_printf(&q, "UPDATE ingest_jobs SET status = 'running', attempts = attempts + 1, started_at = COALESCE(started_at, NOW(6)),"
                       " due_at = NOW(6) + INTERVAL %" PRIu64 " MICROSECOND, lease_owner = ",
                   (uint64_t) w->config->lease);
        db_quote(w->m, &q, w->owner, strlen(w->owner));
        buf_printf(&q, " WHERE id = %" PRIu64, j->id);
        r = q.data ? db_exec(w->m, q.data) : -ENOMEM;
        buf_done(&q);
        if (r == 0)
                r = db_exec(w->m, "COMMIT");
        if (r < 0) {
                free(j->errors);
                return failed(w, r);
        }
        return 1;
}

static int build_upsert(Worker *w, const Dataset *d, const char *lines, size_t len, uint64_t job_id, Buf *q,
                        const char **why) {
        const char *p = lines, *end = lines + len;

        q->len = 0;
        buf_printf(q, "INSERT INTO `%s` (", d->table);
        for (size_t i = 0; i < d->n_fields; i++)
                buf_printf(q, "`%s`, ", d->fields[i].name);
        buf_puts(q, "_job_id, _ingested_at) VALUES ");
        for (bool first = true; p < end; first = false) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                cJSON *a = cJSON_ParseWithLength(p, (nl ? nl : end) - p), *v;
                if (!cJSON_IsArray(a) || (size_t) cJSON_GetArraySize(a) != d->n_fields) {
                        cJSON_Delete(a);
                        *why = "a stored record does not match the dataset's fields (schema changed since it was accepted?)";
                        return -EBADMSG;
                }
                buf_puts(q, first ? "(" : ",(");
                cJSON_ArrayForEach(v, a) {
                        if (cJSON_IsString(v))
                                db_quote(w->m, q, v->valuestring, strlen(v->valuestring));
                        else
                                buf_puts(q, "NULL");
                        buf_puts(q, ",");
                }
                buf_printf(q, "%" PRIu64 ",NOW(6))", job_id);
                cJSON_Delete(a);
                p = nl ? nl + 1 : end;
        }
        /* VALUES(col): the one upsert spelling both servers take (MySQL
         * 8.0.20+ warns it is deprecated; MariaDB has no "AS new" alias). */
        buf_puts(q, " ON DUPLICATE KEY UPDATE ");
        for (size_t i = 0; i < d->n_fields; i++)
                if (!d->fields[i].is_key)
                        buf_printf(q, "`%s` = VALUES(`%s`), ", d->fields[i].name, d->fields[i].name);
        return buf_puts(q, "_job_id = VALUES(_job_id), _ingested_at = VALUES(_ingested_at)");
}

/* One batch in one transaction; the last one completes the job. */
static int job_batch(Worker *w, Job *j, const Dataset *d, const char *lines, size_t len, size_t n, bool last,
                     char why[static 256]) {
        const char *reason = NULL;
        Buf q = {};
        int r;

        r = db_exec(w->m, "START TRANSACTION");
        if (r < 0)
                return failed(w, r);
        r = build_upsert(w, d, lines, len, j->id, &q, &reason);
        if (r == -EBADMSG)
                snprintf(why, 256, "%s", reason);
        if (r == 0) {
                r = db_exec(w->m, q.data);
                if (r == -EIO)  /* the SQL error is the job's problem; copied before ROLLBACK clears it */
                        snprintf(why, 256, "%u: %s", mysql_errno(w->m), mysql_error(w->m));
        }
        if (r == 0) {
                q.len = 0;
                if (last)
                        buf_printf(&q, "UPDATE ingest_jobs SET processed = %" PRIu64 ", status = 'done', due_at = NULL,"
                                       " finished_at = NOW(6) WHERE id = %" PRIu64 " AND status = 'running' AND lease_owner = ",
                                   j->processed + n, j->id);
                else
                        buf_printf(&q, "UPDATE ingest_jobs SET processed = %" PRIu64 ", due_at = NOW(6) + INTERVAL %" PRIu64
                                       " MICROSECOND WHERE id = %" PRIu64 " AND status = 'running' AND lease_owner = ",
                                   j->processed + n, (uint64_t) w->config->lease, j->id);
                db_quote(w->m, &q, w->owner, strlen(w->owner));
                r = q.data ? db_exec(w->m, q.data) : -ENOMEM;
                if (r == 0 && mysql_affected_rows(w->m) != 1)
                        r = -ESTALE;
        }
        buf_done(&q);
        if (r == 0 && last) {
                char sql[128];
                snprintf(sql, sizeof(sql), "DELETE FROM ingest_payloads WHERE job_id = %" PRIu64, j->id);
                r = db_exec(w->m, sql);
                if (r == 0)
                        r = counters_add(w, "jobs_done", j->processed + n);
        }
        if (r == 0)
                r = db_exec(w->m, "COMMIT");
        if (r < 0)
                return failed(w, r);
        j->processed += n;
        return 0;
}

static int job_process(Worker *w, Job *j) {
        const Dataset *d = config_dataset(w->config, j->dataset);
        _cleanup_free_ char *body = NULL;
        const char *p, *end;
        char why[256] = "SQL error";
        char sql[128], *row[1] = {};
        uint64_t skip = j->processed;
        int r;

        if (!d)
                return job_fail(w, j, "the dataset is not configured on this worker");
        snprintf(sql, sizeof(sql), "SELECT body FROM ingest_payloads WHERE job_id = %" PRIu64, j->id);
        r = db_query_row(w->m, sql, row, 1);
        body = row[0];
        if (r == -ENOENT)
                return job_fail(w, j, "the job's payload is missing");
        if (r < 0)
                return failed(w, r);
        if (!body)
                return -ENOMEM;
        p = body;
        end = body + strlen(body);
        for (; skip > 0 && p < end; skip--) {   /* resume after the committed batches */
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                p = nl ? nl + 1 : end;
        }
        for (;;) {
                const char *start = p;
                size_t n = 0;
                while (p < end && n < w->config->batch_size) {
                        const char *nl = memchr(p, '\n', (size_t) (end - p));
                        p = nl ? nl + 1 : end;
                        n++;
                }
                r = job_batch(w, j, d, start, (size_t) (p - start), n, p >= end, why);
                if (r == -EBADMSG || r == -EIO)
                        return job_fail(w, j, why);
                if (r == -ESTALE) {
                        log_warning("job %" PRIu64 ": lease lost (expired and taken over); letting go", j->id);
                        return 0;
                }
                if (r < 0)
                        return r;
                if (p >= end) {
                        log_debug("job %" PRIu64 " done: %" PRIu64 " records", j->id, j->processed);
                        return 0;
                }
                check_signals(w, 0);
                if (w->draining && now_usec(CLOCK_MONOTONIC) >= w->drain_deadline)
                        return job_release(w, j);
        }
}

static int ensure_connected(Worker *w) {
        int r;

        if (w->m && w->migrated)
                return 0;
        if (!w->m) {
                r = db_connect(w->config, w->creds, &w->m);
                if (r < 0) {
                        if (w->connect_failures++ == 0)
                                (void) sd_notify(0, "STATUS=waiting for the database");
                        return r;
                }
                if (w->connect_failures)
                        log_info("database reachable again");
                w->connect_failures = 0;
        }
        if (!w->migrated) {
                r = db_migrate(w->m, w->config);
                if (r < 0)
                        return failed(w, r);
                w->migrated = true;
                (void) sd_notify(0, "STATUS=processing jobs");
        }
        return 0;
}

int worker_run(Worker *w) {
        srandom((unsigned) (getpid() ^ now_usec(CLOCK_REALTIME)));
        (void) sd_notify(0, "READY=1\nSTATUS=connecting to the database");
        log_info("worker %s started", w->owner);
        while (!w->draining) {
                Job j = {};
                int r = ensure_connected(w);
                if (r < 0) {
                        check_signals(w, MIN(w->config->backoff_base * (1 + MIN(w->connect_failures, 10u)), 10 * USEC_PER_SEC));
                        continue;
                }
                r = job_claim(w, &j);
                if (r == 0)
                        check_signals(w, w->config->poll_interval);
                else if (r > 0) {
                        r = job_process(w, &j);
                        if (r < 0)
                                log_warning_errno(r, "job %" PRIu64 ": interrupted (%s); its lease will expire and it will be retried",
                                                  j.id, r == -ECONNRESET ? "database connection lost" : strerror(-r));
                        free(j.errors);
                        check_signals(w, 0);
                } else
                        check_signals(w, w->config->poll_interval);
        }
        log_info("worker %s stopped", w->owner);
        return 0;
}
