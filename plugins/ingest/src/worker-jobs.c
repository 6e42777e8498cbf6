/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "body.h"
#include "upsert.h"
#include "worker-internal.h"

/*
 * Claim, process, complete. Everything that changes a job is guarded by
 * "AND lease_owner = me" and its affected-row count is checked: a worker
 * whose lease expired and was reclaimed can never complete, fail or count
 * a job that is now someone else's.
 */

static void quote_owner(Worker *w, Buf *q) {
        db_quote(w->m, q, w->owner, strlen(w->owner));
}

static void id_list(Buf *q, const Group *g, bool (*pick)(const Job *j)) {
        bool first = true;

        buf_puts(q, "(");
        for (size_t i = 0; i < g->n; i++)
                if (pick(&g->jobs[i])) {
                        buf_printf(q, "%s%" PRIu64, first ? "" : ",", g->jobs[i].id);
                        first = false;
                }
        buf_puts(q, ")");
}

static int exec_buf(Worker *w, Buf *q, uint64_t want_rows) {
        int r = q->data ? db_exec(w->m, q->data) : -ENOMEM;

        if (r == 0 && want_rows != UINT64_MAX && mysql_affected_rows(w->m) != want_rows)
                r = -ESTALE;    /* a lease was lost meanwhile */
        q->len = 0;
        return r;
}

static void counters_append(Worker *w, Buf *q, const char *column, uint64_t jobs, uint64_t records) {
        buf_printf(q, "INSERT INTO ingest_counters (owner, instance, %s, records_done) VALUES (", column);
        db_quote(w->m, q, w->counter_key, strlen(w->counter_key));
        buf_puts(q, ", ");
        db_quote(w->m, q, w->config->instance_id, strlen(w->config->instance_id));
        buf_printf(q, ", %" PRIu64 ", %" PRIu64 ") ON DUPLICATE KEY UPDATE %s = %s + %" PRIu64
                      ", records_done = records_done + %" PRIu64, jobs, records, column, column, jobs, records);
}

static int counters_add(Worker *w, const char *column, uint64_t jobs, uint64_t records) {
        Buf q = {};
        int r;

        counters_append(w, &q, column, jobs, records);
        r = exec_buf(w, &q, UINT64_MAX);
        buf_done(&q);
        return r;
}

/* A failed attempt: retried later with backoff, or dead after max_attempts. */
static int job_fail(Worker *w, const char *dataset, Job *j, const char *msg) {
        bool dead = j->attempts >= w->config->max_attempts;
        _cleanup_free_ char *errors = errors_append(j->errors, j->attempts, msg);
        Buf q = {};
        int r;

        j->finished = true;
        log_warning("job %" PRIu64 " (dataset %s) attempt %" PRIu64 " failed: %s%s", j->id, dataset, j->attempts, msg,
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
        quote_owner(w, &q);
        r = exec_buf(w, &q, 1);
        buf_done(&q);
        if (r == 0)
                r = counters_add(w, dead ? "jobs_dead" : "jobs_failed", 1, 0);
        if (r == 0)
                r = db_exec(w->m, "COMMIT");
        if (r == -ESTALE) {
                (void) db_exec(w->m, "ROLLBACK");
                return 0;       /* no longer ours: the new owner decides */
        }
        return r < 0 ? failed(w, r) : 0;
}

static bool is_open(const Job *j) {
        return !j->finished;
}

/* Drain deadline passed: hand back what is left, without counting an attempt. */
static int group_release(Worker *w, Group *g) {
        Buf q = {};
        int r;

        buf_puts(&q, "UPDATE ingest_jobs SET status = 'queued', due_at = NOW(6), attempts = attempts - 1 WHERE id IN ");
        id_list(&q, g, is_open);
        buf_puts(&q, " AND lease_owner = ");
        quote_owner(w, &q);
        r = exec_buf(w, &q, UINT64_MAX);
        buf_done(&q);
        for (size_t i = 0; i < g->n; i++)
                if (!g->jobs[i].finished) {
                        log_info("job %" PRIu64 ": drain timeout; handed back at record %" PRIu64 " of %" PRIu64,
                                 g->jobs[i].id, g->jobs[i].processed, g->jobs[i].records);
                        g->jobs[i].finished = true;
                }
        return r < 0 ? failed(w, r) : 0;
}

/* Reads claim candidates (locked) into g; returns how many. */
static int select_jobs(Worker *w, Group *g, const char *sql) {
        MYSQL_RES *res;
        MYSQL_ROW row;
        int r = db_exec(w->m, sql), n = 0;

        if (r < 0)
                return r;
        res = mysql_store_result(w->m);
        if (!res)
                return db_errno(w->m) ?: -EIO;
        while ((row = mysql_fetch_row(res)) && g->n < GROUP_MAX) {
                Job *j = &g->jobs[g->n++];
                *j = (Job) { .id = strtoull(row[0], NULL, 10), .records = strtoull(row[2], NULL, 10),
                             .processed = strtoull(row[3], NULL, 10), .attempts = strtoull(row[4], NULL, 10) + 1,
                             .errors = row[5] ? strdup(row[5]) : NULL };
                if (!g->dataset[0])
                        snprintf(g->dataset, sizeof(g->dataset), "%s", row[1]);
                n++;
        }
        mysql_free_result(res);
        return n;
}

#define CLAIM_COLUMNS "SELECT id, dataset, records, processed, attempts, errors FROM ingest_jobs"

/* Whether g can be finished in its claim transaction, the locks standing
 * in for a lease: every job fits one batch and may still be attempted. */
static bool fits_in_tx(Worker *w, const Group *g) {
        for (size_t i = 0; i < g->n; i++)
                if (g->jobs[i].records - g->jobs[i].processed > w->config->batch_size ||
                    g->jobs[i].attempts > w->config->max_attempts)
                        return false;
        return true;
}

/* In the claim transaction, g's rows locked: the jobs past max_attempts
 * are marked dead, the others get this worker's lease; then COMMIT. */
static int lease_locked(Worker *w, Group *g) {
        Buf q = {};
        int r = 0, dead = 0;

        /* Reclaimed after its last attempt died with its worker: dead. */
        for (size_t i = 0; r >= 0 && i < g->n; i++) {
                Job *j = &g->jobs[i];
                _cleanup_free_ char *errors = NULL;
                if (j->attempts <= w->config->max_attempts)
                        continue;
                errors = errors_append(j->errors, j->attempts - 1, "lease expired: the worker stopped during the last attempt");
                buf_puts(&q, "UPDATE ingest_jobs SET status = 'dead', due_at = NULL, finished_at = NOW(6), errors = ");
                db_quote(w->m, &q, errors ? errors : "[]", strlen(errors ? errors : "[]"));
                buf_printf(&q, " WHERE id = %" PRIu64, j->id);
                r = exec_buf(w, &q, UINT64_MAX);
                j->finished = true;
                dead++;
                log_warning("job %" PRIu64 ": lease expired after its last attempt; dead", j->id);
        }
        if (r >= 0 && dead)
                r = counters_add(w, "jobs_dead", (uint64_t) dead, 0);
        if (r >= 0 && (size_t) dead < g->n) {
                buf_printf(&q, "UPDATE ingest_jobs SET status = 'running', attempts = attempts + 1,"
                               " started_at = COALESCE(started_at, NOW(6)), due_at = NOW(6) + INTERVAL %" PRIu64
                               " MICROSECOND, lease_owner = ", (uint64_t) w->config->lease);
                quote_owner(w, &q);
                buf_puts(&q, " WHERE id IN ");
                id_list(&q, g, is_open);
                r = exec_buf(w, &q, UINT64_MAX);
        }
        buf_done(&q);
        if (r >= 0)
                r = db_exec(w->m, "COMMIT");
        if (r < 0) {
                group_done(g);
                return failed(w, r);
        }
        return 1;
}

int group_claim(Worker *w, Group *g) {
        Buf q = {};
        bool small;
        int r;

        *g = (Group) {};
        r = db_exec(w->m, "START TRANSACTION");
        if (r == 0)
                r = select_jobs(w, g, CLAIM_COLUMNS " WHERE due_at <= NOW(6) ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED");
        if (r == 0)     /* nothing due: end the empty transaction */
                r = db_exec(w->m, "COMMIT");
        if (r <= 0)
                return r < 0 ? failed(w, r) : 0;
        /* A small job: take more small ones of its dataset along. */
        small = g->jobs[0].records - g->jobs[0].processed <= w->config->batch_size;
        if (small && w->config->claim_batch > 1) {
                buf_printf(&q, CLAIM_COLUMNS " WHERE due_at <= NOW(6) AND dataset = '%s' AND id <> %" PRIu64
                               " AND records - processed <= %" PRIu64 " ORDER BY due_at LIMIT %d FOR UPDATE SKIP LOCKED",
                           g->dataset, g->jobs[0].id, w->config->batch_size, (int) MIN(w->config->claim_batch, GROUP_MAX) - 1);
                r = q.data ? select_jobs(w, g, q.data) : -ENOMEM;
                buf_done(&q);
                if (r < 0) {
                        group_done(g);
                        return failed(w, r);
                }
        }
        g->short_claim = small && g->n < MIN(w->config->claim_batch, GROUP_MAX);
        if (fits_in_tx(w, g)) {
                g->in_tx = true;
                g->claimed_at = now_usec(CLOCK_MONOTONIC);
                return 1;
        }
        return lease_locked(w, g);
}

void group_done(Group *g) {
        for (size_t i = 0; i < g->n; i++) {
                free(g->jobs[i].errors);
                free(g->jobs[i].body);
        }
        g->n = 0;
}

static const char *skip_lines(const char *p, const char *end, uint64_t n) {
        for (; n > 0 && p < end; n--) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                p = nl ? nl + 1 : end;
        }
        return p;
}

static int fetch_payloads(Worker *w, Group *g) {
        MYSQL_RES *res;
        MYSQL_ROW row;
        Buf q = {};
        int r;

        buf_puts(&q, "SELECT job_id, body FROM ingest_payloads WHERE job_id IN ");
        id_list(&q, g, is_open);
        r = exec_buf(w, &q, UINT64_MAX);
        buf_done(&q);
        if (r < 0)
                return failed(w, r);
        res = mysql_use_result(w->m);
        if (!res)
                return failed(w, db_errno(w->m) ?: -EIO);
        while ((row = mysql_fetch_row(res))) {
                unsigned long *len = mysql_fetch_lengths(res);
                uint64_t id = strtoull(row[0], NULL, 10);
                for (size_t i = 0; i < g->n; i++) {
                        Job *j = &g->jobs[i];
                        if (j->id != id || j->body)
                                continue;
                        Body b;
                        /* gzip, as the API stored it (body.h) */
                        body_init(&b, true, UINT64_MAX, UINT64_MAX);
                        if (body_feed(&b, row[1], len[1]) < 0 || body_finish(&b) < 0) {
                                body_done(&b);
                                continue;       /* left without a body: failed as missing below */
                        }
                        j->end = b.data.data + b.data.len;
                        j->body = TAKE_PTR(b.data.data);
                        body_done(&b);
                        j->cursor = skip_lines(j->body, j->end, j->processed);  /* resume after committed batches */
                }
        }
        r = db_errno(w->m);
        mysql_free_result(res);
        return r < 0 ? failed(w, r) : 0;
}

/* A stored record line: a JSON array of one string or null a field. */
static cJSON *parse_row(const Dataset *d, const char *line, size_t n) {
        cJSON *a = cJSON_ParseWithLength(line, n), *v;
        size_t i = 0;

        if (!cJSON_IsArray(a))
                goto bad;
        cJSON_ArrayForEach(v, a)
                if (i++ >= d->n_fields || !(cJSON_IsString(v) || cJSON_IsNull(v)))
                        goto bad;
        if (i == d->n_fields)
                return a;
bad:
        cJSON_Delete(a);
        return NULL;
}

typedef struct Batch {
        size_t taken[GROUP_MAX];        /* lines of each job in this batch */
        cJSON **rows;                   /* the lines, parsed */
        uint64_t *job_ids;              /* the job of each */
        size_t n, cap;
} Batch;

static void batch_done(Batch *b) {
        for (size_t i = 0; i < b->n; i++)
                cJSON_Delete(b->rows[i]);
        free(b->rows);
        free(b->job_ids);
}

static int batch_add(Batch *b, cJSON *row, uint64_t job_id) {
        if (b->n == b->cap) {
                size_t cap = MAX(b->cap * 2, (size_t) 256);
                cJSON **rows = reallocarray(b->rows, cap, sizeof(*rows));
                uint64_t *ids;
                if (!rows)
                        return -ENOMEM;
                b->rows = rows;
                ids = reallocarray(b->job_ids, cap, sizeof(*ids));
                if (!ids)
                        return -ENOMEM;
                b->job_ids = ids;
                b->cap = cap;
        }
        b->rows[b->n] = row;
        b->job_ids[b->n++] = job_id;
        return 0;
}

/* Up to max lines across the group's open jobs, in job order. */
static int build_batch(const Dataset *d, Group *g, Batch *b, size_t max) {
        for (size_t i = 0; i < g->n && b->n < max; i++) {
                Job *j = &g->jobs[i];
                if (j->finished)
                        continue;
                while (j->cursor < j->end && b->n < max) {
                        const char *nl = memchr(j->cursor, '\n', (size_t) (j->end - j->cursor));
                        cJSON *row = parse_row(d, j->cursor, (size_t) ((nl ? nl : j->end) - j->cursor));
                        if (!row)
                                return -EBADMSG;
                        if (batch_add(b, row, j->id) < 0) {
                                cJSON_Delete(row);
                                return -ENOMEM;
                        }
                        j->cursor = nl ? nl + 1 : j->end;
                        b->taken[i]++;
                }
        }
        return b->n > 0 ? 0 : -ENODATA;
}

static bool completes(const Job *j) {
        return !j->finished && j->cursor >= j->end;
}

/* One batch in one transaction: the upsert (upsert.h), then in one round
 * trip the jobs it completes (done, counted, payload deleted), progress
 * and a renewed lease for a job it took records of without finishing, a
 * renewed lease for the others. Every lease-guarded statement's row count
 * is checked before COMMIT: one lost lease rolls the whole batch back. */
#define STMTS_MAX (GROUP_MAX + 8)

static int run_batch(Worker *w, const Dataset *d, Group *g, char why[static 256]) {
        uint64_t want[STMTS_MAX], got[STMTS_MAX], n_done = 0, n_idle = 0, records = 0;
        const char *cursors[GROUP_MAX];
        size_t n_stmts = 0, failed_at = 0;
        Batch b = {};
        Buf q = {};
        int r;

        for (size_t i = 0; i < g->n; i++)
                cursors[i] = g->jobs[i].cursor;
        r = build_batch(d, g, &b, w->config->batch_size);
        if (r == -EBADMSG)
                snprintf(why, 256, "a stored record does not match the dataset's fields (schema changed since it was accepted?)");
        if (r == 0)
                r = db_exec(w->m, "START TRANSACTION");
        if (r == 0)
                r = upsert_rows(w->upsert, w->m, d, b.rows, b.job_ids, b.n, w->config->batch_size, why);
        batch_done(&b);
        for (size_t i = 0; i < g->n; i++) {
                const Job *j = &g->jobs[i];
                if (completes(j)) {
                        n_done++;
                        records += j->records;
                } else if (!j->finished && b.taken[i] == 0)
                        n_idle++;
        }
        if (r == 0 && n_done) {
                buf_puts(&q, "UPDATE ingest_jobs SET processed = records, status = 'done', due_at = NULL,"
                             " finished_at = NOW(6) WHERE status = 'running' AND id IN ");
                id_list(&q, g, completes);
                buf_puts(&q, " AND lease_owner = ");
                quote_owner(w, &q);
                want[n_stmts++] = n_done;
                buf_puts(&q, "; DELETE FROM ingest_payloads WHERE job_id IN ");
                id_list(&q, g, completes);
                want[n_stmts++] = UINT64_MAX;
                buf_puts(&q, "; ");
                counters_append(w, &q, "jobs_done", n_done, records);
                want[n_stmts++] = UINT64_MAX;
        }
        for (size_t i = 0; r == 0 && i < g->n; i++) {
                const Job *j = &g->jobs[i];
                if (j->finished || completes(j) || b.taken[i] == 0)
                        continue;
                buf_printf(&q, "%sUPDATE ingest_jobs SET processed = %" PRIu64 ", due_at = NOW(6) + INTERVAL %" PRIu64
                               " MICROSECOND WHERE status = 'running' AND id = %" PRIu64 " AND lease_owner = ",
                           q.len ? "; " : "", j->processed + b.taken[i], (uint64_t) w->config->lease, j->id);
                quote_owner(w, &q);
                want[n_stmts++] = 1;
        }
        if (r == 0 && n_idle) {
                buf_printf(&q, "%sUPDATE ingest_jobs SET due_at = NOW(6) + INTERVAL %" PRIu64
                               " MICROSECOND WHERE status = 'running' AND lease_owner = ", q.len ? "; " : "",
                           (uint64_t) w->config->lease);
                quote_owner(w, &q);
                buf_puts(&q, " AND id IN (");
                for (size_t i = 0, first = 1; i < g->n; i++)
                        if (!g->jobs[i].finished && !completes(&g->jobs[i]) && b.taken[i] == 0) {
                                buf_printf(&q, "%s%" PRIu64, first ? "" : ",", g->jobs[i].id);
                                first = 0;
                        }
                buf_puts(&q, ")");
                want[n_stmts++] = n_idle;
        }
        if (r == 0 && !q.data)
                r = -ENOMEM;    /* (there is always one: the batch took records of some job) */
        if (r == 0) {
                r = db_multi(w->m, q.data, q.len, got, n_stmts, &failed_at, NULL);
                if (r == -EIO)  /* copied now: ROLLBACK clears it */
                        snprintf(why, 256, "%u: %s", mysql_errno(w->m), mysql_error(w->m));
        }
        for (size_t i = 0; r == 0 && i < n_stmts; i++)
                if (want[i] != UINT64_MAX && got[i] != want[i])
                        r = -ESTALE;    /* a lease was lost meanwhile */
        if (r == 0)
                r = db_exec(w->m, "COMMIT");
        buf_done(&q);
        if (r < 0) {
                for (size_t i = 0; i < g->n; i++)       /* nothing of this batch happened */
                        g->jobs[i].cursor = cursors[i];
                return failed(w, r);
        }
        for (size_t i = 0; i < g->n; i++) {
                Job *j = &g->jobs[i];
                j->processed += b.taken[i];
                if (completes(j))
                        j->finished = true;
        }
        return 0;
}

static int process(Worker *w, const Dataset *d, Group *g);

/* A batch of several jobs failed: find the culprit by going one job at a
 * time; the others still complete. */
static int one_by_one(Worker *w, const Dataset *d, Group *g) {
        int r = 0;

        for (size_t i = 0; i < g->n && r >= 0; i++) {
                Group one = { .n = 1 };
                if (g->jobs[i].finished)
                        continue;
                memcpy(one.dataset, g->dataset, sizeof(one.dataset));
                one.jobs[0] = g->jobs[i];
                r = process(w, d, &one);
                g->jobs[i] = one.jobs[0];
                g->jobs[i].finished = true;
        }
        return r;
}

static size_t n_open(const Group *g) {
        size_t n = 0;
        for (size_t i = 0; i < g->n; i++)
                n += !g->jobs[i].finished;
        return n;
}

/* Times a batch is retried after a lock wait timeout or a deadlock, each
 * after a poll_interval, before the group is let go (its leases expire). */
#define LOCK_RETRIES 3

static int process(Worker *w, const Dataset *d, Group *g) {
        char why[256] = "SQL error";
        unsigned lock_retries = 0;

        while (n_open(g) > 0) {
                int r = run_batch(w, d, g, why);
                if (r == -EAGAIN && lock_retries++ < LOCK_RETRIES) {
                        check_signals(w, w->config->poll_interval);
                        continue;       /* the batch was rolled back whole: run it again */
                }
                if (r == -ENODATA) {
                        /* open jobs with nothing left: their records were all committed already */
                        for (size_t i = 0; i < g->n; i++)
                                g->jobs[i].finished = true;
                        return 0;
                }
                if ((r == -EBADMSG || r == -EIO || r == -ESTALE) && n_open(g) > 1)
                        return one_by_one(w, d, g);
                if (r == -EBADMSG || r == -EIO) {
                        for (size_t i = 0; i < g->n; i++)
                                if (!g->jobs[i].finished)
                                        return job_fail(w, g->dataset, &g->jobs[i], why);
                }
                if (r == -ESTALE) {
                        log_warning("job %" PRIu64 ": lease lost (expired and taken over); letting go", g->jobs[0].id);
                        g->jobs[0].finished = true;
                        return 0;
                }
                if (r < 0)
                        return r;
                check_signals(w, 0);
                if (w->draining && now_usec(CLOCK_MONOTONIC) >= w->drain_deadline)
                        return group_release(w, g);
        }
        return 0;
}

/* A group claimed in_tx, finished in its claim transaction: every record
 * upserted, the jobs done and counted, their payloads deleted, one COMMIT.
 * No lease, no "running" row update, no second transaction: the claim's
 * row locks keep other workers off (SKIP LOCKED), and if this worker dies
 * the server rolls back and the jobs are queued again as they were.
 * 0 when committed; -ECANCELED when rolled back for the lease path to
 * retry (a missing payload, a record that does not fit, an SQL error, all
 * of which that path reports per job); -EAGAIN when rolled back for a
 * lock not granted (the jobs are simply queued again); -ECONNRESET when
 * the connection is gone. */
static int finish_in_tx(Worker *w, const Dataset *d, Group *g) {
        usec_t elapsed = now_usec(CLOCK_MONOTONIC) - g->claimed_at;
        uint64_t got[3] = {}, n = 0, records = 0;
        char why[256] = "";
        size_t failed_at;
        Batch b = {};
        Buf q = {};
        int r;

        r = fetch_payloads(w, g);       /* rolled back (or disconnected) on failure */
        if (r < 0)
                return r == -ECONNRESET ? r : -ECANCELED;
        for (size_t i = 0; i < g->n; i++)
                if (!g->jobs[i].finished) {
                        if (!g->jobs[i].body)
                                r = -ECANCELED;
                        n++;
                        records += g->jobs[i].records;
                }
        if (r == 0)
                r = build_batch(d, g, &b, SIZE_MAX);
        if (r == -ENODATA)
                r = 0;          /* jobs without records: only marked done */
        /* The jobs' rows first, the dataset's last: a row that many jobs
         * write (a hot key) is then locked only from its upsert to the
         * COMMIT, not while the jobs are updated too. */
        if (r == 0) {
                buf_printf(&q, "UPDATE ingest_jobs SET status = 'done', processed = records, attempts = attempts + 1,"
                               " started_at = COALESCE(started_at, NOW(6) - INTERVAL %" PRIu64 " MICROSECOND),"
                               " due_at = NULL, finished_at = NOW(6), lease_owner = ", (uint64_t) elapsed);
                quote_owner(w, &q);
                buf_puts(&q, " WHERE id IN ");
                id_list(&q, g, is_open);
                buf_puts(&q, "; DELETE FROM ingest_payloads WHERE job_id IN ");
                id_list(&q, g, is_open);
                buf_puts(&q, "; ");
                counters_append(w, &q, "jobs_done", n, records);
                r = q.data ? db_multi(w->m, q.data, q.len, got, 3, &failed_at, NULL) : -ENOMEM;
                if (r == -EIO)
                        snprintf(why, sizeof(why), "%u: %s", mysql_errno(w->m), mysql_error(w->m));
                if (r == 0 && got[0] != n)
                        r = -ESTALE;    /* cannot happen while the locks are held; checked all the same */
                buf_done(&q);
        }
        if (r == 0 && b.n > 0)
                r = upsert_rows(w->upsert, w->m, d, b.rows, b.job_ids, b.n, w->config->batch_size, why);
        batch_done(&b);
        if (r == 0)
                r = db_exec(w->m, "COMMIT");
        if (r == 0) {
                for (size_t i = 0; i < g->n; i++)
                        if (!g->jobs[i].finished) {
                                g->jobs[i].processed = g->jobs[i].records;
                                g->jobs[i].finished = true;
                        }
                return 0;
        }
        if (r == -ECONNRESET)
                return failed(w, r);
        (void) db_exec(w->m, "ROLLBACK");
        if (r == -EAGAIN) {
                /* A lock wait timed out or a deadlock was broken: nothing
                 * happened, the jobs are queued again as they were, no
                 * attempt counted. Any worker claims them again. */
                log_debug("jobs %" PRIu64 "...: a row lock was not granted; rolled back, queued again", g->jobs[0].id);
                return r;
        }
        log_debug("jobs %" PRIu64 "...: not finished in their claim transaction (%s); taking leases instead",
                  g->jobs[0].id, why[0] ? why : strerror(-r));
        return -ECANCELED;
}

/* After a rolled back in_tx attempt: the same jobs, claimed again with a
 * lease (any another worker took meanwhile are skipped). 1 when some were. */
static int reclaim_with_lease(Worker *w, Group *g) {
        Buf q = {};
        int r;

        buf_puts(&q, CLAIM_COLUMNS " WHERE id IN ");
        id_list(&q, g, is_open);
        buf_puts(&q, " AND due_at <= NOW(6) ORDER BY due_at FOR UPDATE SKIP LOCKED");
        group_done(g);
        *g = (Group) {};
        r = q.data ? db_exec(w->m, "START TRANSACTION") : -ENOMEM;
        if (r == 0)
                r = select_jobs(w, g, q.data);
        buf_done(&q);
        if (r == 0)
                r = db_exec(w->m, "COMMIT");
        if (r <= 0) {
                group_done(g);
                return r < 0 ? failed(w, r) : 0;
        }
        return lease_locked(w, g);
}

int group_process(Worker *w, Group *g) {
        const Dataset *d = config_dataset(w->config, g->dataset);
        int r;

        if (g->in_tx) {
                if (d)
                        r = finish_in_tx(w, d, g);
                else {
                        (void) db_exec(w->m, "ROLLBACK");
                        r = -ECANCELED;
                }
                if (r == -EAGAIN) {
                        g->short_claim = true;  /* give the lock holder a poll_interval */
                        return 0;
                }
                if (r != -ECANCELED)
                        return r;
                r = reclaim_with_lease(w, g);
                if (r <= 0)
                        return r;
        }
        if (n_open(g) == 0)
                return 0;       /* all of them were found dead */
        if (!d) {
                for (size_t i = 0; i < g->n; i++)
                        if (!g->jobs[i].finished && (r = job_fail(w, g->dataset, &g->jobs[i], "the dataset is not configured on this worker")) < 0)
                                return r;
                return 0;
        }
        r = fetch_payloads(w, g);
        if (r < 0)
                return r;
        for (size_t i = 0; i < g->n; i++)
                if (!g->jobs[i].finished && !g->jobs[i].body && (r = job_fail(w, g->dataset, &g->jobs[i], "the job's payload is missing or not gzip")) < 0)
                        return r;
        return process(w, d, g);
}
