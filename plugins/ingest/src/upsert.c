/* SPDX-License-Identifier: MIT */
#include "db.h"
#include "upsert.h"

/* The protocol counts a statement's placeholders in 16 bits. */
#define PLACEHOLDERS_MAX 65535
#define STATEMENTS_MAX 16

/* A bound value's storage when it is sent in binary. */
typedef union Value {
        long long i;
        double d;
        signed char b;
        MYSQL_TIME t;
} Value;

typedef struct Prepared {
        const Dataset *dataset;
        size_t rows;
        MYSQL_STMT *stmt;
        uint64_t used;          /* for least recently used */
} Prepared;

struct Upsert {
        Prepared prepared[STATEMENTS_MAX];
        size_t n_prepared;
        uint64_t uses;
        MYSQL_BIND *binds;
        unsigned long *lengths;
        Value *values;
        size_t n_binds;
};

Upsert *upsert_new(void) {
        return calloc(1, sizeof(Upsert));
}

void upsert_reset(Upsert *u) {
        if (!u)
                return;
        for (size_t i = 0; i < u->n_prepared; i++)
                mysql_stmt_close(u->prepared[i].stmt);
        u->n_prepared = 0;
}

Upsert *upsert_free(Upsert *u) {
        if (!u)
                return NULL;
        upsert_reset(u);
        free(u->binds);
        free(u->lengths);
        free(u->values);
        return mfree(u);
}

int upsert_sql(const Dataset *d, size_t n, Buf *q) {
        buf_printf(q, "INSERT INTO `%s` (", d->table);
        for (size_t i = 0; i < d->n_fields; i++)
                buf_printf(q, "`%s`, ", d->fields[i].name);
        buf_puts(q, "_job_id, _ingested_at) VALUES ");
        for (size_t r = 0; r < n; r++) {
                buf_puts(q, r ? ",(" : "(");
                for (size_t i = 0; i < d->n_fields; i++)
                        buf_puts(q, "?,");
                buf_puts(q, "?,NOW(6))");
        }
        /* VALUES(col): the one upsert spelling both servers take (MySQL
         * 8.0.20+ warns it is deprecated; MariaDB has no "AS new" alias).
         * Rows keep their order: a later job's record wins a key. */
        buf_puts(q, " ON DUPLICATE KEY UPDATE ");
        for (size_t i = 0; i < d->n_fields; i++)
                if (!d->fields[i].is_key)
                        buf_printf(q, "`%s` = VALUES(`%s`), ", d->fields[i].name, d->fields[i].name);
        return buf_puts(q, "_job_id = VALUES(_job_id), _ingested_at = VALUES(_ingested_at)");
}

static int stmt_error(MYSQL_STMT *s, char why[static 256]) {
        int r = db_classify(mysql_stmt_errno(s));

        snprintf(why, 256, "%u: %s", mysql_stmt_errno(s), mysql_stmt_error(s));
        return r ? r : -EIO;
}

static int prepared(Upsert *u, MYSQL *m, const Dataset *d, size_t rows, MYSQL_STMT **ret, char why[static 256]) {
        MYSQL_STMT *s;
        Buf q = {};
        int r;

        for (size_t i = 0; i < u->n_prepared; i++)
                if (u->prepared[i].dataset == d && u->prepared[i].rows == rows) {
                        u->prepared[i].used = ++u->uses;
                        *ret = u->prepared[i].stmt;
                        return 0;
                }
        if (u->n_prepared == STATEMENTS_MAX) {
                /* full: the least recently used one makes room */
                Prepared *slot = &u->prepared[0];
                for (size_t i = 1; i < u->n_prepared; i++)
                        if (u->prepared[i].used < slot->used)
                                slot = &u->prepared[i];
                mysql_stmt_close(slot->stmt);
                *slot = u->prepared[--u->n_prepared];
        }
        s = mysql_stmt_init(m);
        if (!s)
                return -ENOMEM;
        if (upsert_sql(d, rows, &q) < 0) {
                buf_done(&q);
                mysql_stmt_close(s);
                return -ENOMEM;
        }
        r = mysql_stmt_prepare(s, q.data, (unsigned long) q.len) != 0 ? stmt_error(s, why) : 0;
        buf_done(&q);
        if (r < 0) {
                mysql_stmt_close(s);
                return r;
        }
        u->prepared[u->n_prepared++] = (Prepared) { .dataset = d, .rows = rows, .stmt = s, .used = ++u->uses };
        *ret = s;
        return 0;
}

static int reserve_binds(Upsert *u, size_t n) {
        MYSQL_BIND *b;
        unsigned long *l;
        Value *v;

        if (n <= u->n_binds)
                return 0;
        b = reallocarray(u->binds, n, sizeof(*b));
        if (!b)
                return -ENOMEM;
        u->binds = b;
        l = reallocarray(u->lengths, n, sizeof(*l));
        if (!l)
                return -ENOMEM;
        u->lengths = l;
        v = reallocarray(u->values, n, sizeof(*v));
        if (!v)
                return -ENOMEM;
        u->values = v;
        u->n_binds = n;
        return 0;
}

static bool digits(const char *s, int n, unsigned *ret) {
        unsigned v = 0;

        for (int i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned) (s[i] - '0');
        }
        *ret = v;
        return true;
}

/* "YYYY-MM-DD HH:MM:SS.ffffff", as records.c normalises timestamps. */
static bool parse_datetime(const char *s, MYSQL_TIME *t) {
        unsigned v[7];

        if (strlen(s) != 26 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
            s[19] != '.' || !digits(s, 4, &v[0]) || !digits(s + 5, 2, &v[1]) || !digits(s + 8, 2, &v[2]) ||
            !digits(s + 11, 2, &v[3]) || !digits(s + 14, 2, &v[4]) || !digits(s + 17, 2, &v[5]) ||
            !digits(s + 20, 6, &v[6]))
                return false;
        *t = (MYSQL_TIME) { .year = v[0], .month = v[1], .day = v[2], .hour = v[3], .minute = v[4], .second = v[5],
                            .second_part = v[6], .time_type = MYSQL_TIMESTAMP_DATETIME };
        return true;
}

/* Numbers and timestamps in binary: the server then stores them without
 * parsing text. What records.c did not write as expected goes as the
 * string it is, which the server converts or refuses. */
static void bind_value(MYSQL_BIND *b, Value *val, unsigned long *len, FieldType type, char *s) {
        char *end;

        errno = 0;
        switch (type) {
        case FIELD_INT:
                val->i = strtoll(s, &end, 10);
                if (*s && !*end && errno == 0) {
                        *b = (MYSQL_BIND) { .buffer_type = MYSQL_TYPE_LONGLONG, .buffer = &val->i };
                        return;
                }
                break;
        case FIELD_FLOAT:
                val->d = strtod(s, &end);
                if (*s && !*end && errno == 0) {
                        *b = (MYSQL_BIND) { .buffer_type = MYSQL_TYPE_DOUBLE, .buffer = &val->d };
                        return;
                }
                break;
        case FIELD_BOOL:
                if ((s[0] == '0' || s[0] == '1') && !s[1]) {
                        val->b = (signed char) (s[0] - '0');
                        *b = (MYSQL_BIND) { .buffer_type = MYSQL_TYPE_TINY, .buffer = &val->b };
                        return;
                }
                break;
        case FIELD_TIMESTAMP:
                if (parse_datetime(s, &val->t)) {
                        *b = (MYSQL_BIND) { .buffer_type = MYSQL_TYPE_DATETIME, .buffer = &val->t };
                        return;
                }
                break;
        case FIELD_STRING:
                break;
        }
        *len = (unsigned long) strlen(s);
        *b = (MYSQL_BIND) { .buffer_type = MYSQL_TYPE_STRING, .buffer = s, .buffer_length = *len, .length = len };
}

static int execute(Upsert *u, MYSQL *m, const Dataset *d, cJSON *const *rows, const uint64_t *job_ids, size_t n,
                   char why[static 256]) {
        size_t per_row = d->n_fields + 1, k = 0;
        MYSQL_STMT *s;
        int r;

        r = reserve_binds(u, n * per_row);
        if (r < 0)
                return r;
        r = prepared(u, m, d, n, &s, why);
        if (r < 0)
                return r;
        memset(u->binds, 0, n * per_row * sizeof(MYSQL_BIND));
        for (size_t i = 0; i < n; i++) {
                const cJSON *v;
                size_t f = 0;
                cJSON_ArrayForEach(v, rows[i]) {
                        MYSQL_BIND *b = &u->binds[k];
                        if (f++ == d->n_fields)
                                return -EBADMSG;
                        if (cJSON_IsString(v))
                                bind_value(b, &u->values[k], &u->lengths[k], d->fields[f - 1].type, v->valuestring);
                        else if (cJSON_IsNull(v))
                                b->buffer_type = MYSQL_TYPE_NULL;
                        else
                                return -EBADMSG;
                        k++;
                }
                if (f != d->n_fields)
                        return -EBADMSG;
                u->binds[k++] = (MYSQL_BIND) { .buffer_type = MYSQL_TYPE_LONGLONG, .is_unsigned = 1,
                                               .buffer = (void *) &job_ids[i] };
        }
        if (mysql_stmt_bind_param(s, u->binds) != 0 || mysql_stmt_execute(s) != 0)
                return stmt_error(s, why);
        return 0;
}

int upsert_rows(Upsert *u, MYSQL *m, const Dataset *d, cJSON *const *rows, const uint64_t *job_ids, size_t n,
                size_t full, char why[static 256]) {
        full = MAX(MIN(full, PLACEHOLDERS_MAX / (d->n_fields + 1)), (size_t) 1);
        while (n > 0) {
                size_t k = MIN(n, full);
                int r = execute(u, m, d, rows, job_ids, k, why);
                if (r < 0)
                        return r;
                rows += k;
                job_ids += k;
                n -= k;
        }
        return 0;
}
