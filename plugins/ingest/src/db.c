/* SPDX-License-Identifier: MIT */
#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"

int db_connect(const IngestConfig *c, const Credentials *cr, MYSQL **ret) {
        unsigned t = (unsigned) MAX(c->db_timeout / USEC_PER_SEC, 1);
        char lock_wait[64];
        my_bool off = 0;
        MYSQL *m = mysql_init(NULL);

        if (!m)
                return -ENOMEM;
        mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);
        mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &t);
        mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &t);
        /* A silent reconnect would lose the transaction and session
         * settings without telling us: we reconnect ourselves. */
        mysql_options(m, MYSQL_OPT_RECONNECT, &off);
        mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
        /* Every DATETIME here is UTC, whatever the server's zone. */
        mysql_options(m, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
        /* READ COMMITTED: no gap locks, so claims and upserts of different
         * jobs never wait on each other. (Its variable is tx_isolation in
         * MariaDB 10.11 and transaction_isolation in MySQL 8: this
         * statement is the spelling both take.) */
        mysql_options(m, MYSQL_INIT_COMMAND, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
        /* A row lock is waited for less long than a reply: a statement that
         * waits fails on the server (ER_LOCK_WAIT_TIMEOUT, retried) before
         * the read timeout gives the connection up. The other way round,
         * the server would go on waiting for a client long gone, holding
         * that transaction's locks (the jobs it claimed, the rows it
         * wrote) until its own 50 s wait ran out, and everyone waiting
         * for those would time out in turn. */
        snprintf(lock_wait, sizeof(lock_wait), "SET SESSION innodb_lock_wait_timeout = %u", MAX(t / 2, 1u));
        mysql_options(m, MYSQL_INIT_COMMAND, lock_wait);
        /* CLIENT_FOUND_ROWS: an UPDATE reports rows matched, not changed,
         * so a lease check that sets the same values still sees its row.
         * CLIENT_MULTI_STATEMENTS: db_multi(); every value in our SQL is
         * escaped by mysql_real_escape_string and every identifier comes
         * from a validated config name. */
        if (!mysql_real_connect(m, c->db_socket ? NULL : c->db_host, cr->db_user, cr->db_password, c->db_name,
                                (unsigned) c->db_port, c->db_socket, CLIENT_FOUND_ROWS | CLIENT_MULTI_STATEMENTS)) {
                int r = db_errno(m);
                log_warning("cannot connect to the database %s%s%s: %s", c->db_name, c->db_socket ? " on " : " at ",
                            c->db_socket ? c->db_socket : c->db_host, mysql_error(m));
                mysql_close(m);
                return r == -EIO ? -ECONNREFUSED : r;
        }
        *ret = m;
        return 0;
}

int db_errno(MYSQL *m) {
        return db_classify(mysql_errno(m));
}

int db_classify(unsigned e) {
        switch (e) {
        case 0:
                return 0;
        case CR_SERVER_GONE_ERROR:
        case CR_SERVER_LOST:
        case CR_CONNECTION_ERROR:
        case CR_CONN_HOST_ERROR:
        case CR_SERVER_LOST_EXTENDED:
        case ER_SERVER_SHUTDOWN:
        case ER_CONNECTION_KILLED:
        case ER_CON_COUNT_ERROR:
        case ER_ACCESS_DENIED_ERROR:    /* a rotated password: reconnect with the re-read one */
        case 4031:                      /* ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8) */
                return -ECONNRESET;
        case ER_LOCK_DEADLOCK:
        case ER_LOCK_WAIT_TIMEOUT:
                return -EAGAIN;
        default:
                return -EIO;
        }
}

int db_exec(MYSQL *m, const char *sql) {
        if (mysql_real_query(m, sql, strlen(sql)) != 0) {
                int r = db_errno(m);
                log_debug("SQL failed (%u %s): %.200s", mysql_errno(m), mysql_error(m), sql);
                return r ? r : -EIO;
        }
        return 0;
}

int db_execf(MYSQL *m, const char *fmt, ...) {
        _cleanup_free_ char *sql = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&sql, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        return db_exec(m, sql);
}

int db_multi(MYSQL *m, const char *sql, size_t len, uint64_t *affected, size_t n, size_t *ret_failed,
             uint64_t *insert_ids) {
        size_t i = 0;
        int status, r = 0;

        *ret_failed = 0;
        if (mysql_real_query(m, sql, (unsigned long) len) != 0) {
                r = db_errno(m);
                log_debug("SQL failed (%u %s): %.200s", mysql_errno(m), mysql_error(m), sql);
                return r ? r : -EIO;
        }
        for (;;) {
                MYSQL_RES *res = mysql_store_result(m);
                if (res)
                        mysql_free_result(res);
                if (i < n) {
                        affected[i] = mysql_affected_rows(m);
                        if (insert_ids)
                                insert_ids[i] = mysql_insert_id(m);
                }
                i++;
                status = mysql_next_result(m);
                if (status < 0)
                        return 0;       /* no more results */
                if (status > 0) {
                        /* the statement after the last good one failed */
                        *ret_failed = i;
                        r = db_errno(m);
                        log_debug("SQL failed at statement %zu (%u %s)", i, mysql_errno(m), mysql_error(m));
                        return r ? r : -EIO;
                }
        }
}

int db_query_row(MYSQL *m, const char *sql, char **ret, unsigned n) {
        MYSQL_RES *res;
        MYSQL_ROW row;
        int r = db_exec(m, sql);

        if (r < 0)
                return r;
        res = mysql_store_result(m);
        if (!res)
                return db_errno(m) ?: -EIO;
        row = mysql_fetch_row(res);
        if (!row) {
                mysql_free_result(res);
                return -ENOENT;
        }
        for (unsigned i = 0; i < n && i < mysql_num_fields(res); i++)
                ret[i] = row[i] ? strdup(row[i]) : NULL;
        mysql_free_result(res);
        return 0;
}

int db_quote(MYSQL *m, Buf *b, const char *s, size_t n) {
        if (buf_reserve(b, 2 * n + 3) < 0)
                return -ENOMEM;
        b->data[b->len++] = '\'';
        b->len += mysql_real_escape_string(m, b->data + b->len, s, (unsigned long) n);
        b->data[b->len++] = '\'';
        b->data[b->len] = 0;
        return 0;
}

/* utf8mb4_bin: the one collation both servers name alike
 * (MySQL 8's default utf8mb4_0900_ai_ci does not exist in MariaDB). */
#define TABLE_OPTS " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

static const char *const queue_tables[] = {
        "CREATE TABLE IF NOT EXISTS ingest_meta ("
        " name VARCHAR(64) NOT NULL PRIMARY KEY,"
        " value VARCHAR(255) NOT NULL)" TABLE_OPTS,
        /* due_at: when the job may be claimed: queued and failed jobs from
         * their (retry) time, running ones when their lease expires; NULL
         * once done or dead, so the claim scans only live jobs in order. */
        "CREATE TABLE IF NOT EXISTS ingest_jobs ("
        " id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " dataset VARCHAR(64) NOT NULL,"
        " idempotency_key VARCHAR(255) NULL,"
        " status ENUM('queued','running','failed','done','dead') NOT NULL,"
        " records INT UNSIGNED NOT NULL,"
        " processed INT UNSIGNED NOT NULL DEFAULT 0,"
        " attempts INT UNSIGNED NOT NULL DEFAULT 0,"
        " due_at DATETIME(6) NULL,"
        " lease_owner VARCHAR(190) NULL,"
        " accepted_by VARCHAR(190) NOT NULL,"
        " created_at DATETIME(6) NOT NULL,"
        " started_at DATETIME(6) NULL,"
        " finished_at DATETIME(6) NULL,"
        " errors TEXT NULL,"
        " UNIQUE KEY idempotency (dataset, idempotency_key),"
        " KEY claim (due_at),"
        " KEY by_status (status, created_at))" TABLE_OPTS,
        "CREATE TABLE IF NOT EXISTS ingest_payloads ("
        " job_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
        " body LONGBLOB NOT NULL)" TABLE_OPTS,
        /* One row a worker: counters without a hot row shared by all. */
        "CREATE TABLE IF NOT EXISTS ingest_counters ("
        " owner VARCHAR(190) NOT NULL PRIMARY KEY,"
        " instance VARCHAR(190) NOT NULL,"
        " jobs_done BIGINT UNSIGNED NOT NULL DEFAULT 0,"
        " jobs_failed BIGINT UNSIGNED NOT NULL DEFAULT 0,"
        " jobs_dead BIGINT UNSIGNED NOT NULL DEFAULT 0,"
        " records_done BIGINT UNSIGNED NOT NULL DEFAULT 0,"
        " KEY by_instance (instance))" TABLE_OPTS,
};

static const char *sql_type(const Field *f, char buf[32]) {
        switch (f->type) {
        case FIELD_STRING:
                snprintf(buf, 32, "VARCHAR(%" PRIu64 ")", f->max_length);
                return buf;
        case FIELD_INT:
                return "BIGINT";
        case FIELD_FLOAT:
                return "DOUBLE";
        case FIELD_BOOL:
                return "TINYINT(1)";
        case FIELD_TIMESTAMP:
                return "DATETIME(6)";
        }
        return "TEXT";
}

static int dataset_table(MYSQL *m, const Dataset *d) {
        Buf b = {};
        char t[32];
        int r = 0;

        buf_printf(&b, "CREATE TABLE IF NOT EXISTS `%s` (", d->table);
        for (size_t i = 0; i < d->n_fields; i++)
                buf_printf(&b, "`%s` %s %s, ", d->fields[i].name, sql_type(&d->fields[i], t),
                           d->fields[i].is_key ? "NOT NULL" : "NULL");
        buf_puts(&b, "_job_id BIGINT UNSIGNED NOT NULL, _ingested_at DATETIME(6) NOT NULL, PRIMARY KEY (");
        for (size_t k = 0; k < d->n_keys; k++)
                buf_printf(&b, "%s`%s`", k ? "," : "", d->fields[d->keys[k]].name);
        if (buf_puts(&b, "))" TABLE_OPTS) < 0)
                r = -ENOMEM;
        if (r == 0 && (r = db_exec(m, b.data)) < 0)
                log_error("dataset %s: cannot create table %s: %s", d->name, d->table, mysql_error(m));
        /* Fields added to the schema later become NULL-able columns;
         * existing columns are left alone (a type change is a manual
         * migration, see docs/ingest.md). */
        for (size_t i = 0; r == 0 && i < d->n_fields; i++) {
                char q[512], *cnt[1] = {};
                snprintf(q, sizeof(q),
                         "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
                         " AND TABLE_NAME = '%s' AND COLUMN_NAME = '%s'", d->table, d->fields[i].name);
                r = db_query_row(m, q, cnt, 1);
                if (r == 0 && cnt[0] && streq(cnt[0], "0")) {
                        log_info("dataset %s: adding column %s to table %s", d->name, d->fields[i].name, d->table);
                        r = db_execf(m, "ALTER TABLE `%s` ADD COLUMN `%s` %s NULL", d->table, d->fields[i].name,
                                     sql_type(&d->fields[i], t));
                }
                free(cnt[0]);
        }
        buf_done(&b);
        return r;
}

int db_migrate(MYSQL *m, const IngestConfig *c) {
        char *got[1] = {};
        int r;

        /* Every instance of an ASG starting at once: one migrates, the
         * others wait here, then find nothing to do. */
        r = db_query_row(m, "SELECT GET_LOCK('" SCHEMA_LOCK "', 30)", got, 1);
        if (r < 0 || !got[0] || !streq(got[0], "1")) {
                free(got[0]);
                return log_error_errno(r < 0 ? r : ETIMEDOUT, "cannot take the schema lock %s: %s", SCHEMA_LOCK,
                                       r < 0 ? mysql_error(m) : "held by another instance for 30 s");
        }
        free(got[0]);
        for (size_t i = 0; r == 0 && i < ELEMENTSOF(queue_tables); i++)
                if ((r = db_exec(m, queue_tables[i])) < 0)
                        log_error("cannot create the queue tables: %s", mysql_error(m));
        if (r == 0)
                r = db_execf(m, "INSERT INTO ingest_meta (name, value) VALUES ('schema_version', '%d')"
                                " ON DUPLICATE KEY UPDATE value = GREATEST(value + 0, %d)", SCHEMA_VERSION, SCHEMA_VERSION);
        for (size_t i = 0; r == 0 && i < c->n_datasets; i++)
                r = dataset_table(m, c->datasets[i]);
        (void) db_exec(m, "DO RELEASE_LOCK('" SCHEMA_LOCK "')");
        return r;
}
