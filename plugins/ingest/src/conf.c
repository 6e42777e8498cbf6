/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <ini.h>
#include <math.h>

#include "conf.h"

/*
 * inih calls back once per key; each callback checks its value at once so
 * the error names file, line and key. Unknown sections and keys are errors
 * too: a typo in a limit must not silently fall back to the default.
 */

typedef struct ParseState {
        const char *path;
        int line;
        IngestConfig *c;
        Dataset *d;
        int error;
} ParseState;

#define BAD(st, fmt, ...)                                                                       \
        ({                                                                                      \
                log_error("%s:%d: " fmt, (st)->path, (st)->line, ##__VA_ARGS__);                \
                (st)->error = -EINVAL;                                                          \
                0;                                                                              \
        })

static const char *const type_names[] = { "string", "int", "float", "bool", "timestamp" };

const char *field_type_to_string(FieldType t) {
        return type_names[t];
}

static int set_str(char **p, const char *v) {
        char *t = strdup(v);
        if (!t)
                return -ENOMEM;
        free(*p);
        *p = t;
        return 0;
}

static int on_config(void *user, const char *section, const char *name, const char *value) {
        ParseState *st = user;
        IngestConfig *c = st->c;
        uint64_t *u = NULL, umax = UINT32_MAX;
        usec_t *t = NULL;
        char **s = NULL;

        if (streq(section, "ingest")) {
                if (streq(name, "listen"))
                        s = &c->listen;
                else if (streq(name, "datasets"))
                        s = &c->datasets_dir;
                else if (streq(name, "credentials"))
                        s = &c->credentials;
                else if (streq(name, "instance_id"))
                        s = &c->instance_id;
                else if (streq(name, "max_queue_depth"))
                        u = &c->max_queue;
                else if (streq(name, "db_threads"))
                        u = &c->db_threads, umax = 64;
                else if (streq(name, "max_pending"))
                        u = &c->max_pending;
                else if (streq(name, "drain_timeout"))
                        t = &c->drain_timeout;
                else if (streq(name, "stats_interval"))
                        t = &c->stats_interval;
                else if (streq(name, "max_connections"))
                        u = &c->max_connections, umax = 4096;
                else if (streq(name, "max_connections_per_peer"))
                        u = &c->max_per_peer, umax = 4096;
                else if (streq(name, "request_timeout"))
                        t = &c->request_timeout;
                else if (streq(name, "max_body") || streq(name, "max_decoded") || streq(name, "max_buffered")) {
                        uint64_t *p = streq(name, "max_body") ? &c->max_body :
                                      streq(name, "max_decoded") ? &c->max_decoded : &c->max_buffered;
                        if (parse_size(value, p) < 0 || *p == 0 || *p > (uint64_t) 1 << 30)
                                return BAD(st, "[ingest] %s=%s: a size from 1 to 1G expected (e.g. 8M)", name, value);
                        return 1;
                } else
                        return BAD(st, "[ingest] unknown key %s", name);
        } else if (streq(section, "database")) {
                if (streq(name, "host"))
                        s = &c->db_host;
                else if (streq(name, "socket"))
                        s = &c->db_socket;
                else if (streq(name, "port"))
                        u = &c->db_port, umax = 65535;
                else if (streq(name, "database"))
                        s = &c->db_name;
                else if (streq(name, "timeout"))
                        t = &c->db_timeout;
                else
                        return BAD(st, "[database] unknown key %s (user and password belong in the credentials file)",
                                   name);
        } else if (streq(section, "worker")) {
                if (streq(name, "batch_size"))
                        u = &c->batch_size, umax = 10000;
                else if (streq(name, "claim_batch"))
                        u = &c->claim_batch, umax = CLAIM_BATCH_MAX;
                else if (streq(name, "max_attempts"))
                        u = &c->max_attempts, umax = 1000;
                else if (streq(name, "lease"))
                        t = &c->lease;
                else if (streq(name, "poll_interval"))
                        t = &c->poll_interval;
                else if (streq(name, "backoff"))
                        t = &c->backoff_base;
                else if (streq(name, "backoff_max"))
                        t = &c->backoff_max;
                else
                        return BAD(st, "[worker] unknown key %s", name);
        } else
                return BAD(st, "unknown section [%s]", section);

        if (s) {
                if (set_str(s, value) < 0)
                        st->error = -ENOMEM;
        } else if (u) {
                if (parse_uint(value, umax, u) < 0 || *u == 0)
                        return BAD(st, "[%s] %s=%s: an integer from 1 to %" PRIu64 " expected", section, name, value,
                                   umax);
        } else if (t) {
                if (parse_duration(value, t) < 0 || *t == 0)
                        return BAD(st, "[%s] %s=%s: a duration expected (e.g. 30s, 500ms)", section, name, value);
        }
        return 1;
}

static Field *field_get(Dataset *d, const char *name, ParseState *st) {
        for (size_t i = 0; i < d->n_fields; i++)
                if (streq(d->fields[i].name, name))
                        return &d->fields[i];
        if (d->n_fields >= FIELDS_MAX)
                return BAD(st, "more than %d fields", FIELDS_MAX), NULL;
        if (!ident_valid(name))
                return BAD(st, "[field.%s]: a field name is letters, digits and _ (at most 64)", name), NULL;
        Field *f = &d->fields[d->n_fields];
        *f = (Field) { .max_length = 255 };
        if (!(f->name = strdup(name))) {
                st->error = -ENOMEM;
                return NULL;
        }
        d->n_fields++;
        return f;
}

static int on_dataset(void *user, const char *section, const char *name, const char *value) {
        ParseState *st = user;
        Dataset *d = st->d;
        uint64_t u;

        if (streq(section, "dataset")) {
                if (streq(name, "table")) {
                        if (!ident_valid(value))
                                return BAD(st, "table=%s: letters, digits and _ only (at most 64)", value);
                        if (set_str(&d->table, value) < 0)
                                st->error = -ENOMEM;
                } else if (streq(name, "key")) {
                        /* Resolved after the whole file is read. */
                        if (set_str(&d->name, value) < 0)       /* borrowed slot, see dataset_load() */
                                st->error = -ENOMEM;
                } else if (streq(name, "max_records") || streq(name, "max_errors")) {
                        if (parse_uint(value, 1000000, &u) < 0 || u == 0)
                                return BAD(st, "%s=%s: an integer from 1 to 1000000 expected", name, value);
                        *(streq(name, "max_records") ? &d->max_records : &d->max_errors) = u;
                } else
                        return BAD(st, "[dataset] unknown key %s", name);
                return 1;
        }
        if (strncmp(section, "field.", 6) != 0)
                return BAD(st, "unknown section [%s] ([dataset] or [field.NAME] expected)", section);
        Field *f = field_get(d, section + 6, st);
        if (!f)
                return 0;
        if (streq(name, "type")) {
                for (size_t i = 0; i < ELEMENTSOF(type_names); i++)
                        if (streq(value, type_names[i])) {
                                f->type = (FieldType) i;
                                return 1;
                        }
                return BAD(st, "[%s] type=%s: string, int, float, bool or timestamp expected", section, value);
        } else if (streq(name, "required")) {
                int b = parse_bool(value);
                if (b < 0)
                        return BAD(st, "[%s] required=%s: yes or no expected", section, value);
                f->required = b;
        } else if (streq(name, "max_length")) {
                if (parse_uint(value, 16383, &f->max_length) < 0 || f->max_length == 0)
                        return BAD(st, "[%s] max_length=%s: 1 to 16383 expected", section, value);
        } else if (streq(name, "min") || streq(name, "max")) {
                char *end;
                double v = strtod(value, &end);
                if (*end || !isfinite(v))
                        return BAD(st, "[%s] %s=%s: a number expected", section, name, value);
                if (streq(name, "min"))
                        f->min = v, f->has_min = true;
                else
                        f->max = v, f->has_max = true;
        } else
                return BAD(st, "[%s] unknown key %s", section, name);
        return 1;
}

static int parse_file(const char *path, IniHandler h, ParseState *st) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");

        if (!f)
                return -1;
        return ini_parse_counting(f, h, st, &st->line);
}

Dataset *dataset_free(Dataset *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n_fields; i++)
                free(d->fields[i].name);
        free(d->name);
        free(d->table);
        return mfree(d);
}

static int resolve_keys(Dataset *d, const char *keys, const char *path) {
        _cleanup_free_ char *copy = strdup(keys);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *k = strtok_r(copy, ", ", &save); k; k = strtok_r(NULL, ", ", &save)) {
                size_t i;
                for (i = 0; i < d->n_fields; i++)
                        if (streq(d->fields[i].name, k))
                                break;
                if (i == d->n_fields)
                        return log_error_errno(EINVAL, "%s: key=%s names no [field.%s]", path, keys, k);
                if (d->n_keys >= KEYS_MAX)
                        return log_error_errno(EINVAL, "%s: more than %d key fields", path, KEYS_MAX);
                if (d->fields[i].type == FIELD_FLOAT)
                        return log_error_errno(EINVAL, "%s: key field %s is a float: not a usable key", path, k);
                d->fields[i].is_key = true;
                d->fields[i].required = true;   /* a key must be present */
                d->keys[d->n_keys++] = i;
        }
        return 0;
}

int dataset_load(const char *path, const char *name, Dataset **ret) {
        _cleanup_free_ char *keys = NULL;
        Dataset *d = calloc(1, sizeof(*d));
        ParseState st = { .path = path, .d = d };
        int r;

        if (!d)
                return -ENOMEM;
        d->max_records = 100000;
        d->max_errors = 10;
        r = parse_file(path, on_dataset, &st);
        keys = TAKE_PTR(d->name);
        if (r < 0)
                r = log_error_errno(errno ? errno : EIO, "%s: cannot read: %m", path);
        else if (r > 0 && st.error == 0)
                r = log_error_errno(EINVAL, "%s:%d: not an INI line", path, r);
        else
                r = st.error;
        if (r == 0 && !(d->name = strdup(name)))
                r = -ENOMEM;
        if (r == 0 && (!d->table || d->n_fields == 0 || !keys))
                r = log_error_errno(EINVAL, "%s: [dataset] table=, key= and at least one [field.NAME] are required",
                                    path);
        if (r == 0)
                r = resolve_keys(d, keys, path);
        if (r < 0) {
                dataset_free(d);
                return r;
        }
        *ret = d;
        return 0;
}

static int load_datasets(IngestConfig *c) {
        DIR *dir = opendir(c->datasets_dir);
        struct dirent *de;
        int r = 0;

        if (!dir)
                return log_error_errno(errno, "datasets directory %s: %m", c->datasets_dir);
        while ((de = readdir(dir)) && r >= 0) {
                size_t n = strlen(de->d_name);
                char name[256], path[4096];
                Dataset *d, **p;

                if (n <= 5 || !streq(de->d_name + n - 5, ".conf") || de->d_name[0] == '.')
                        continue;
                snprintf(name, sizeof(name), "%.*s", (int) (n - 5), de->d_name);
                snprintf(path, sizeof(path), "%s/%s", c->datasets_dir, de->d_name);
                if (!ident_valid(name)) {
                        r = log_error_errno(EINVAL, "%s: a dataset name is letters, digits and _ only", path);
                        break;
                }
                if (c->n_datasets >= DATASETS_MAX) {
                        r = log_error_errno(E2BIG, "%s: more than %d datasets", c->datasets_dir, DATASETS_MAX);
                        break;
                }
                r = dataset_load(path, name, &d);
                if (r < 0)
                        break;
                p = realloc(c->datasets, (c->n_datasets + 1) * sizeof(*p));
                if (!p) {
                        dataset_free(d);
                        r = -ENOMEM;
                        break;
                }
                c->datasets = p;
                c->datasets[c->n_datasets++] = d;
        }
        closedir(dir);
        return r;
}

int config_load(const char *path, IngestConfig **ret) {
        IngestConfig *c = calloc(1, sizeof(*c));
        ParseState st = { .path = path, .c = c };
        int r;

        if (!c)
                return -ENOMEM;
        *c = (IngestConfig) {
                .max_body = 8 << 20, .max_decoded = 16 << 20, .max_buffered = 256 << 20, .max_queue = 10000, .db_threads = 4,
                .max_pending = 256, .drain_timeout = 20 * USEC_PER_SEC, .stats_interval = USEC_PER_SEC,
                .max_connections = 512, .max_per_peer = 384, .request_timeout = 10 * USEC_PER_SEC,
                .db_port = 3306, .db_timeout = 5 * USEC_PER_SEC, .batch_size = 500, .claim_batch = CLAIM_BATCH_MAX, .max_attempts = 5,
                .lease = 30 * USEC_PER_SEC, .poll_interval = 200 * USEC_PER_MSEC,
                .backoff_base = USEC_PER_SEC, .backoff_max = 300 * USEC_PER_SEC,
        };
        r = parse_file(path, on_config, &st);
        if (r < 0)
                r = log_error_errno(errno ? errno : EIO, "%s: cannot read: %m", path);
        else if (r > 0 && st.error == 0)
                r = log_error_errno(EINVAL, "%s:%d: not an INI line", path, r);
        else
                r = st.error;
        if (r == 0 && (!c->listen || !c->datasets_dir || !c->credentials || !c->db_name))
                r = log_error_errno(EINVAL, "%s: [ingest] listen=, datasets=, credentials= and [database] database= are required",
                                    path);
        if (r == 0 && !c->db_host && !c->db_socket)
                r = log_error_errno(EINVAL, "%s: [database] host= or socket= is required", path);
        if (r == 0 && !c->instance_id) {
                char host[256] = "";
                (void) gethostname(host, sizeof(host) - 1);
                r = set_str(&c->instance_id, host[0] ? host : "localhost");
        }
        if (r == 0)
                r = load_datasets(c);
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

IngestConfig *config_free(IngestConfig *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_datasets; i++)
                dataset_free(c->datasets[i]);
        free(c->datasets);
        char *strs[] = { c->listen, c->datasets_dir, c->credentials, c->instance_id, c->db_host, c->db_socket,
                         c->db_name };
        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                free(strs[i]);
        return mfree(c);
}

const Dataset *config_dataset(const IngestConfig *c, const char *name) {
        for (size_t i = 0; i < c->n_datasets; i++)
                if (streq(c->datasets[i]->name, name))
                        return c->datasets[i];
        return NULL;
}
