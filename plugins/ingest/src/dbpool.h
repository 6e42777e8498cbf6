/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A small, bounded pool of DB threads for the API daemon, each with its own
 * connection, fed from the sd-event loop and answering through an eventfd.
 *
 * Why threads and not libmariadb's non-blocking API (as agentd's mysql
 * check does): the API's unit of work is a transaction of several
 * statements (idempotency lookup, job insert, payload insert of up to
 * megabytes, commit) plus the parsing and validation of the body, which is
 * CPU work that must not run on the loop either. As a non-blocking state
 * machine that is a dozen states per request; as a thread it is straight
 * code, and the parsing runs on another core. The pool is bounded (threads
 * and queued tasks): past max_pending the API answers 503 at once instead
 * of queueing without limit. The loop never waits for a thread.
 *
 * A task's run() is called on a DB thread with a connected MYSQL (or NULL
 * when the server is unreachable: run() then sets -ECONNRESET); its done()
 * is called later on the loop thread. A connection that failed with
 * -ECONNRESET is closed and opened again by the next task.
 *
 * Group commit: a run() that leaves work best done together (a job's
 * INSERTs and COMMIT) sets run_group. The task then waits, with others, for
 * the one thread that commits groups at a time: it calls run_group() with
 * every waiting task of that kind (up to DB_GROUP_MAX) on its connection,
 * then done() for each. The other threads go on parsing meanwhile, so the
 * tasks that arrive during one COMMIT share the next: one round trip, one
 * transaction and one log flush for many requests, which on Aurora (a
 * commit waits for a storage quorum) is also what bounds a thread's rate.
 */

#include <systemd/sd-event.h>

#include "conf.h"
#include "credentials.h"
#include "db.h"

typedef struct DbTask DbTask;
struct DbTask {
        DbTask *next;
        void (*run)(DbTask *t, MYSQL *m);
        void (*done)(DbTask *t);
        void (*run_group)(DbTask **tasks, size_t n, MYSQL *m);   /* set by run(), or NULL */
        int error;
};

#define DB_GROUP_MAX 32

typedef struct DbPool DbPool;

/* Takes ownership of creds. migrated() is called on the loop thread. */
int db_pool_new(sd_event *e, const IngestConfig *c, Credentials *creds, DbPool **ret);
DbPool *db_pool_free(DbPool *p);        /* finishes queued tasks first */
/* -EBUSY when max_pending tasks wait already. */
int db_pool_submit(DbPool *p, DbTask *t);
void db_pool_set_credentials(DbPool *p, Credentials *creds);
bool db_pool_up(DbPool *p);             /* the last connection attempt worked */
unsigned db_pool_in_flight(DbPool *p);
