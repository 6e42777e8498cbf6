/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared by worker.c (the process: signals, connection, main loop) and
 * worker-jobs.c (claiming and processing jobs). */

#include "db.h"
#include "upsert.h"
#include "worker.h"

#define ERRORS_KEPT 5
#define GROUP_MAX CLAIM_BATCH_MAX

struct Worker {
        const IngestConfig *config;
        Credentials *creds;
        MYSQL *m;
        Upsert *upsert;         /* the upsert statements prepared on m */
        bool migrated;
        char owner[256], counter_key[256];
        int sigfd;
        bool draining;
        usec_t drain_deadline, watchdog_usec, last_ping;
        unsigned connect_failures;
};

typedef struct Job {
        uint64_t id, records, processed, attempts;
        char *errors;           /* the job's JSON array of attempt errors */
        char *body;             /* its payload, once fetched */
        const char *cursor, *end;
        bool finished;          /* done, failed, dead, released or let go */
} Job;

/* Jobs of one dataset claimed together: small jobs share transactions,
 * so the per-job cost (claim, completion, commit) is paid once for many. */
typedef struct Group {
        char dataset[65];
        Job jobs[GROUP_MAX];
        size_t n;
        /* Claimed without a lease (see group_claim): the row locks of the
         * claim transaction hold the jobs until group_process() commits or
         * rolls it back, which frees them at once. */
        bool in_tx;
        usec_t claimed_at;      /* CLOCK_MONOTONIC */
        /* Fewer small jobs were due than a claim takes: the queue is
         * shallow, so the next claim waits a poll_interval for more. */
        bool short_claim;
} Group;

void check_signals(Worker *w, usec_t timeout);
void disconnect(Worker *w);
int failed(Worker *w, int r);
usec_t backoff(const IngestConfig *c, uint64_t attempt);
char *errors_append(const char *old, uint64_t attempt, const char *msg);

/* 1 and *g when jobs were claimed, 0 when none is due, <0 on error.
 * Small jobs (each within batch_size, none past max_attempts) are claimed
 * in_tx: group_process() finishes them in the claim's own transaction. */
int group_claim(Worker *w, Group *g);
int group_process(Worker *w, Group *g);
void group_done(Group *g);
