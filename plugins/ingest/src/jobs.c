/* SPDX-License-Identifier: MIT */
#include <mysqld_error.h>

#include "jobs.h"

static void set_json_error(JobTask *t, unsigned status, const char *kind, const char *msg) {
        t->status = status;
        t->response.len = 0;
        (void) buf_printf(&t->response, "{\"error\":\"%s\",\"message\":", kind);
        (void) buf_json_string(&t->response, msg, strlen(msg));
        (void) buf_puts(&t->response, "}");
}

static void db_down(JobTask *t, int r) {
        t->base.error = r == -ECONNRESET || r == -ECONNREFUSED ? -ECONNRESET : r;
        set_json_error(t, 503, "unavailable", "the database is unreachable; nothing was stored; retry later with the same Idempotency-Key");
}

static void accepted(JobTask *t, uint64_t id, uint64_t records) {
        t->status = 202;
        t->job_id = id;
        t->response.len = 0;
        (void) buf_printf(&t->response,
                          "{\"job_id\":%" PRIu64 ",\"status\":\"queued\",\"records\":%" PRIu64
                          ",\"location\":\"/api/ingest/jobs/%" PRIu64 "\"%s}",
                          id, records, id, t->replayed ? ",\"replayed\":true" : "");
}

/* 1 and the job when the key was used already, 0 when not. */
static int find_key(JobTask *t, MYSQL *m, bool lock) {
        _cleanup_free_ char *id = NULL, *records = NULL;
        char *row[2] = {};
        Buf q = {};
        int r;

        buf_printf(&q, "SELECT id, records FROM ingest_jobs WHERE dataset = '%s' AND idempotency_key = ", t->dataset->name);
        db_quote(m, &q, t->idempotency_key, strlen(t->idempotency_key));
        if (lock)
                buf_puts(&q, " FOR UPDATE");
        r = q.data ? db_query_row(m, q.data, row, 2) : -ENOMEM;
        buf_done(&q);
        id = row[0];
        records = row[1];
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        t->replayed = true;
        accepted(t, strtoull(id ? id : "0", NULL, 10), strtoull(records ? records : "0", NULL, 10));
        return 1;
}

/* The job's two INSERTs, each after a "; " (the payload's job_id is the
 * job's LAST_INSERT_ID()). */
static int append_job(JobTask *t, MYSQL *m, Buf *q) {
        buf_printf(q, "; INSERT INTO ingest_jobs (dataset, idempotency_key, status, records, due_at,"
                      " accepted_by, created_at) VALUES ('%s', ", t->dataset->name);
        if (t->idempotency_key)
                db_quote(m, q, t->idempotency_key, strlen(t->idempotency_key));
        else
                buf_puts(q, "NULL");
        buf_printf(q, ", 'queued', %zu, NOW(6), ", t->n_records);
        db_quote(m, q, t->config->instance_id, strlen(t->config->instance_id));
        buf_puts(q, ", NOW(6)); INSERT INTO ingest_payloads (job_id, body) VALUES (LAST_INSERT_ID(), ");
        db_quote(m, q, t->compressed.data, t->compressed.len);
        return buf_puts(q, ")");
}

/* One round trip: START, the job, its payload, COMMIT. */
static int insert_job(JobTask *t, MYSQL *m) {
        uint64_t affected[4] = {}, ids[4] = {};
        size_t failed_at;
        Buf q = {};
        int r;

        buf_puts(&q, "START TRANSACTION");
        append_job(t, m, &q);
        if (buf_puts(&q, "; COMMIT") < 0) {
                buf_done(&q);
                return -ENOMEM;
        }
        r = db_multi(m, q.data, q.len, affected, 4, &failed_at, ids);
        buf_done(&q);
        if (r == 0) {
                accepted(t, ids[1], t->n_records);
                return 0;
        }
        if (r == -ECONNRESET)
                return r;       /* the transaction died with the connection */
        if (failed_at == 1 && mysql_errno(m) == ER_DUP_ENTRY) {
                /* A concurrent request with the same key won the race. */
                (void) db_exec(m, "ROLLBACK");
                r = find_key(t, m, false);
                return r == 0 ? -EAGAIN : r < 0 ? r : 0;
        }
        log_warning("cannot store a job for dataset %s: %s", t->dataset->name, mysql_error(m));
        (void) db_exec(m, "ROLLBACK");
        return r;
}

static void store_alone(JobTask *t, MYSQL *m) {
        int r = -EAGAIN;

        if (!m)
                return db_down(t, -ECONNRESET);
        for (int attempt = 0; attempt < 3 && r == -EAGAIN; attempt++)
                r = insert_job(t, m);
        if (r == -ECONNRESET || r == -EAGAIN)
                db_down(t, -ECONNRESET);
        else if (r < 0)
                set_json_error(t, 503, "unavailable", "the database refused the job; nothing was stored");
}

/* Several jobs in one transaction and one round trip. If a statement
 * fails, the group is rolled back and each job stored alone, so one job's
 * problem (a racing Idempotency-Key) is not the others'. */
static void store_together(DbTask **tasks, size_t n, MYSQL *m) {
        uint64_t affected[2 * DB_GROUP_MAX + 2], ids[2 * DB_GROUP_MAX + 2];
        size_t failed_at;
        Buf q = {};
        int r;

        if (n == 1 || !m) {
                for (size_t i = 0; i < n; i++)
                        store_alone((JobTask *) tasks[i], m);
                return;
        }
        buf_puts(&q, "START TRANSACTION");
        for (size_t i = 0; i < n; i++)
                append_job((JobTask *) tasks[i], m, &q);
        r = buf_puts(&q, "; COMMIT") < 0 ? -ENOMEM : db_multi(m, q.data, q.len, affected, 2 * n + 2, &failed_at, ids);
        buf_done(&q);
        for (size_t i = 0; r == 0 && i < n; i++)
                accepted((JobTask *) tasks[i], ids[1 + 2 * i], ((JobTask *) tasks[i])->n_records);
        if (r == 0)
                return;
        if (r == -ECONNRESET) {
                for (size_t i = 0; i < n; i++)
                        db_down((JobTask *) tasks[i], r);
                return;
        }
        if (r != -ENOMEM)
                (void) db_exec(m, "ROLLBACK");
        for (size_t i = 0; i < n; i++)
                store_alone((JobTask *) tasks[i], m);
}

/* run_group of submissions (dbpool.h): stored in groups of at most
 * GROUP_SQL_MAX bytes of SQL, under any server's max_allowed_packet. */
#define GROUP_SQL_MAX ((size_t) 1024 * 1024)

static void store_jobs(DbTask **tasks, size_t n, MYSQL *m) {
        for (size_t i = 0, k; i < n; i += k) {
                size_t bytes = 0;
                for (k = 0; i + k < n; k++) {
                        size_t b = 2 * ((JobTask *) tasks[i + k])->compressed.len + 512;
                        if (k > 0 && bytes + b > GROUP_SQL_MAX)
                                break;
                        bytes += b;
                }
                store_together(tasks + i, k, m);
        }
        for (size_t i = 0; i < n; i++)
                buf_done(&((JobTask *) tasks[i])->compressed);
}

static void run_submit(JobTask *t, MYSQL *m) {
        Records rec;
        int r;

        if (!m)
                return db_down(t, -ECONNRESET);
        /* A retry is answered before its body is even parsed. */
        if (t->idempotency_key && (r = find_key(t, m, false)) != 0)
                return r < 0 ? db_down(t, r) : (void) 0;
        r = records_process(t->dataset, t->format, t->body.data.data, t->body.data.len, &rec);
        if (r < 0) {
                records_done(&rec);
                return set_json_error(t, 503, "unavailable", "out of memory");
        }
        if (rec.status) {
                t->status = rec.status;
                t->response = rec.error;
                rec.error = (Buf) {};
        } else if (rec.out.len > t->config->max_decoded) {
                set_json_error(t, 413, "too_large", "the preprocessed records exceed max_decoded; send fewer records per request");
        } else if (gzip_compress(rec.out.data, rec.out.len, &t->compressed) < 0) {
                set_json_error(t, 503, "unavailable", "out of memory");
        } else {
                /* Stored by store_jobs(), with whatever else is ready. */
                t->n_records = rec.n_records;
                t->base.run_group = store_jobs;
        }
        records_done(&rec);
        body_done(&t->body);    /* the biggest parts of a task: free them on this thread */
        if (!t->base.run_group)
                buf_done(&t->compressed);
}

static void run_get(JobTask *t, MYSQL *m) {
        MYSQL_RES *res;
        MYSQL_ROW row;
        char q[1024];
        int r;

        if (!m)
                return db_down(t, -ECONNRESET);
#define TS(c) "DATE_FORMAT(" c ", '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ')"
        snprintf(q, sizeof(q),
                 "SELECT id, dataset, status, records, processed, attempts, " TS("created_at") ", " TS("started_at")
                 ", " TS("finished_at") ", errors, idempotency_key FROM ingest_jobs WHERE id = %" PRIu64, t->job_id);
        r = db_exec(m, q);
        if (r < 0)
                return db_down(t, r);
        res = mysql_store_result(m);
        if (!res)
                return db_down(t, db_errno(m) ?: -EIO);
        row = mysql_fetch_row(res);
        if (!row) {
                char msg[64];
                snprintf(msg, sizeof(msg), "no job %" PRIu64, t->job_id);
                set_json_error(t, 404, "not_found", msg);
        } else {
                Buf *b = &t->response;
                t->status = 200;
                buf_printf(b, "{\"job_id\":%s,\"dataset\":\"%s\",\"status\":\"%s\",\"records\":%s,\"processed\":%s,"
                              "\"attempts\":%s,\"created_at\":\"%s\",\"started_at\":",
                           row[0], row[1], row[2], row[3], row[4], row[5], row[6]);
                for (int i = 7; i <= 8; i++) {
                        if (row[i])
                                buf_printf(b, "\"%s\"", row[i]);
                        else
                                buf_puts(b, "null");
                        if (i == 7)
                                buf_puts(b, ",\"finished_at\":");
                }
                /* errors is a JSON array the workers wrote. */
                buf_printf(b, ",\"errors\":%s,\"idempotency_key\":", row[9] ? row[9] : "[]");
                if (row[10])
                        buf_json_string(b, row[10], strlen(row[10]));
                else
                        buf_puts(b, "null");
                buf_puts(b, "}");
        }
        mysql_free_result(res);
}

static void run_stats(JobTask *t, MYSQL *m) {
        char *a[2] = {}, *b[1] = {}, *c[4] = {}, q[512];
        int r;

        if (!m)
                return db_down(t, -ECONNRESET);
        r = db_query_row(m, "SELECT COUNT(*), COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)), 0)"
                            " FROM ingest_jobs WHERE status IN ('queued', 'failed')", a, 2);
        if (r == 0)
                r = db_query_row(m, "SELECT COUNT(*) FROM ingest_jobs WHERE status = 'running'", b, 1);
        if (r == 0) {
                Buf w = {};
                db_quote(m, &w, t->config->instance_id, strlen(t->config->instance_id));
                snprintf(q, sizeof(q), "SELECT COALESCE(SUM(jobs_done), 0), COALESCE(SUM(jobs_failed), 0),"
                         " COALESCE(SUM(jobs_dead), 0), COALESCE(SUM(records_done), 0) FROM ingest_counters WHERE instance = %s",
                         w.data ? w.data : "''");
                buf_done(&w);
                r = db_query_row(m, q, c, 4);
        }
        if (r == 0) {
                t->stats = (QueueStats) {
                        .depth = strtoull(a[0] ?: "0", NULL, 10), .oldest_age = strtod(a[1] ?: "0", NULL) / 1e6,
                        .running = strtoull(b[0] ?: "0", NULL, 10), .jobs_done = strtoull(c[0] ?: "0", NULL, 10),
                        .jobs_failed = strtoull(c[1] ?: "0", NULL, 10), .jobs_dead = strtoull(c[2] ?: "0", NULL, 10),
                        .records_done = strtoull(c[3] ?: "0", NULL, 10),
                };
                t->status = 200;
        } else
                db_down(t, r);
        for (size_t i = 0; i < 2; i++)
                free(a[i]);
        free(b[0]);
        for (size_t i = 0; i < 4; i++)
                free(c[i]);
}

static void run_migrate(JobTask *t, MYSQL *m) {
        int r;

        if (!m)
                return db_down(t, -ECONNRESET);
        r = db_migrate(m, t->config);
        if (r < 0)
                return db_down(t, r == -ECONNRESET ? r : -EIO);
        t->status = 200;
}

static void run_task(DbTask *base, MYSQL *m) {
        JobTask *t = (JobTask *) base;

        switch (t->kind) {
        case TASK_SUBMIT:
                return run_submit(t, m);
        case TASK_GET:
                return run_get(t, m);
        case TASK_STATS:
                return run_stats(t, m);
        case TASK_MIGRATE:
                return run_migrate(t, m);
        }
}

static void done_task(DbTask *base) {
        JobTask *t = (JobTask *) base;
        t->callback(t);
}

JobTask *job_task_new(JobTaskKind kind, const IngestConfig *c, void (*callback)(JobTask *t), void *userdata) {
        JobTask *t = calloc(1, sizeof(*t));

        if (!t)
                return NULL;
        t->base.run = run_task;
        t->base.done = done_task;
        t->kind = kind;
        t->config = c;
        t->callback = callback;
        t->userdata = userdata;
        return t;
}

JobTask *job_task_free(JobTask *t) {
        if (!t)
                return NULL;
        body_done(&t->body);
        buf_done(&t->compressed);
        free(t->idempotency_key);
        buf_done(&t->response);
        return mfree(t);
}
