/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * libmariadb, used blocking: from the API's DB threads (dbpool.c) and from
 * the workers, never from an event loop thread. Every call is bounded by
 * [database] timeout (connect, read and write timeouts), so a dead server
 * costs at most that long.
 *
 * Errors are classified once, here: -ECONNRESET the connection is gone
 * (server down, restarted, timed out: reconnect, answer 503); -EAGAIN a
 * deadlock or lock wait timeout (the transaction can be retried at once);
 * -EIO anything else (an SQL error that retrying will not fix).
 *
 * The SQL here must run on MySQL 8.0 (Aurora) and MariaDB 10.11 alike: see
 * docs/ingest.md, "SQL dialect", for what that rules out.
 */

#include <mysql.h>

#include "conf.h"
#include "credentials.h"

#define SCHEMA_LOCK "agentd_ingest_schema"
#define SCHEMA_VERSION 1

int db_connect(const IngestConfig *c, const Credentials *cr, MYSQL **ret);
int db_errno(MYSQL *m);
/* The same for an error number (a prepared statement's). */
int db_classify(unsigned e);
/* Runs one statement; classified errno on failure (logged at debug). */
int db_exec(MYSQL *m, const char *sql);
int db_execf(MYSQL *m, const char *fmt, ...) _printf_(2, 3);
/* Runs a query returning one row; copies up to n columns as strings
 * (NULL for SQL NULL) into ret (caller frees each). 0 if a row came,
 * -ENOENT if none. */
int db_query_row(MYSQL *m, const char *sql, char **ret, unsigned n);
/* Runs several statements separated by ';' in one round trip (one
 * transaction's statements: fewer round trips is most of what a small
 * transaction costs). Stores each statement's affected rows in
 * affected[0..n-1]. On an error, *ret_failed is the index of the failing
 * statement (those after it did not run) and the classified errno is
 * returned. insert_ids (optional, n of them): each statement's
 * AUTO_INCREMENT value (mysql_insert_id()). */
int db_multi(MYSQL *m, const char *sql, size_t len, uint64_t *affected, size_t n, size_t *ret_failed,
             uint64_t *insert_ids);
/* Appends 'escaped' (with the quotes) to b. */
int db_quote(MYSQL *m, Buf *b, const char *s, size_t n);

/* Creates or migrates the queue tables and every dataset's table, once
 * across all instances: under GET_LOCK(SCHEMA_LOCK). */
int db_migrate(MYSQL *m, const IngestConfig *c);
