/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Step (5) of the ingestion flow: a batch of records upserted into its
 * dataset's table by key, as a server-side prepared statement.
 *
 * Why prepared: parsing the SQL text of a 1000-row INSERT was a third of
 * the database's CPU per record (perf on bench/ingest-bench.py), and the
 * database is what the records/s figure is bounded by. A statement is
 * parsed once per connection and row count; each batch then only sends its
 * values: numbers, booleans and timestamps in binary (stored without
 * parsing text), anything else as the string records.c wrote, which the
 * server converts as it would the quoted literal; nothing is escaped.
 *
 * Row counts: one statement per row count in use, the 16 most recently
 * used kept per connection. Under steady load the counts repeat (full
 * batches and the same remainders), so statements are reused; when they do
 * not, a new count costs one prepare, what the SQL text cost every time.
 *
 * Statements belong to their connection: upsert_reset() before it closes.
 */

#include <cjson/cJSON.h>
#include <mysql.h>

#include "conf.h"

typedef struct Upsert Upsert;

Upsert *upsert_new(void);
Upsert *upsert_free(Upsert *u);
/* Closes every statement (call before the connection closes). */
void upsert_reset(Upsert *u);

/* Upserts rows[0..n): each a JSON array of d->n_fields strings or nulls
 * (records.h), stored with job_ids[i]. full: the batch size, the largest
 * statement. Returns 0, or the classified errno of db.h with the server's
 * message in why (-EIO: an SQL error; -ECONNRESET: the connection is gone). */
int upsert_rows(Upsert *u, MYSQL *m, const Dataset *d, cJSON *const *rows, const uint64_t *job_ids, size_t n,
                size_t full, char why[static 256]);

/* The statement text for n rows (exposed for the unit tests). */
int upsert_sql(const Dataset *d, size_t n, Buf *q);
