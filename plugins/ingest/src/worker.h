/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A job worker (steps 4-6 of the ingestion flow): claims a job, upserts its
 * records in batches into the dataset's table, completes it.
 *
 * Claim: SELECT ... FOR UPDATE SKIP LOCKED on the claim index (due_at), so
 * any number of workers on any number of instances take different jobs
 * without waiting on each other, then a lease: lease_owner and due_at =
 * now + lease. Each batch is one transaction: the upsert, then the job's
 * progress and lease renewal, guarded by "WHERE lease_owner = me": if the
 * lease was lost (expired and reclaimed by someone else) the batch rolls
 * back and the worker lets go. The last batch sets status done in the same
 * transaction. A retried or reclaimed job resumes at its committed
 * progress, and the upsert by key means even a replayed batch cannot
 * double a row.
 *
 * A worker is a sequential program: it has no event loop to block, so it
 * uses libmariadb's blocking API (each call bounded by [database] timeout)
 * and looks at its signalfd between batches and while idle.
 */

#include "conf.h"
#include "credentials.h"

typedef struct Worker Worker;

int worker_new(const IngestConfig *c, const char *config_path, unsigned slot, Worker **ret);
Worker *worker_free(Worker *w);
/* Runs until SIGTERM/SIGINT and the drain; 0 on a clean exit. */
int worker_run(Worker *w);
