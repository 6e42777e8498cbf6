/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The API side of the job queue, as DB tasks for dbpool.c: accept a body as
 * a job (validation, then payload and job row in one transaction), read a
 * job's status, read the queue figures for backpressure and /metrics, and
 * migrate the schema. Each task fills an HTTP status and a JSON body; the
 * HTTP layer only sends them. A 202 is set only after COMMIT returned OK:
 * whatever happened before that leaves no job, and a lost answer to COMMIT
 * is a 503 the client retries with its Idempotency-Key.
 */

#include "body.h"
#include "dbpool.h"
#include "records.h"

typedef enum JobTaskKind {
        TASK_SUBMIT,
        TASK_GET,
        TASK_STATS,
        TASK_MIGRATE,
} JobTaskKind;

typedef struct QueueStats {
        uint64_t depth;         /* queued + failed (waiting for a retry) */
        uint64_t running;
        double oldest_age;      /* seconds, of the oldest waiting job */
        uint64_t jobs_done, jobs_failed, jobs_dead, records_done;       /* this instance's workers */
} QueueStats;

typedef struct JobTask {
        DbTask base;
        JobTaskKind kind;
        void *userdata;
        void (*callback)(struct JobTask *t);
        const IngestConfig *config;

        /* TASK_SUBMIT */
        const Dataset *dataset;
        BodyFormat format;
        Body body;
        char *idempotency_key;
        Buf compressed;         /* the records as stored: gzip */
        /* TASK_GET */
        uint64_t job_id;

        /* results */
        unsigned status;        /* HTTP status */
        Buf response;           /* JSON body */
        size_t n_records;
        bool replayed;
        QueueStats stats;
} JobTask;

JobTask *job_task_new(JobTaskKind kind, const IngestConfig *c, void (*callback)(JobTask *t), void *userdata);
JobTask *job_task_free(JobTask *t);
