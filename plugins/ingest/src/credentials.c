/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <ini.h>
#include <sys/stat.h>

#include "credentials.h"

typedef struct State {
        const char *path;
        int line;
        Credentials *c;
        int error;
} State;

static int on_line(void *user, const char *section, const char *name, const char *value) {
        State *st = user;
        Credentials *c = st->c;
        char **p = NULL;

        if (streq(section, "database")) {
                if (streq(name, "user"))
                        p = &c->db_user;
                else if (streq(name, "password"))
                        p = &c->db_password;
        } else if (streq(section, "api_keys")) {
                size_t n = strlen(value);
                if (c->n_keys >= API_KEYS_MAX) {
                        log_error("%s:%d: more than %d API keys", st->path, st->line, API_KEYS_MAX);
                        st->error = -E2BIG;
                        return 0;
                }
                if (n < 16 || n > API_KEY_MAX) {
                        /* Name the key, never show it. */
                        log_error("%s:%d: API key %s is %zu bytes long: 16 to %d expected", st->path, st->line, name, n,
                                  API_KEY_MAX);
                        st->error = -EINVAL;
                        return 0;
                }
                c->key_names[c->n_keys] = strdup(name);
                c->keys[c->n_keys] = strdup(value);
                if (!c->key_names[c->n_keys] || !c->keys[c->n_keys]) {
                        free(c->key_names[c->n_keys]);
                        c->key_names[c->n_keys] = strwipe_free(c->keys[c->n_keys]);
                        st->error = -ENOMEM;
                        return 0;
                }
                c->n_keys++;
                return 1;
        }
        if (!p) {
                log_error("%s:%d: unknown key %s in [%s]", st->path, st->line, name, section);
                st->error = -EINVAL;
                return 0;
        }
        strwipe_free(*p);
        if (!(*p = strdup(value)))
                st->error = -ENOMEM;
        return 1;
}

int credentials_load(const char *path, bool want_keys, Credentials **ret) {
        _cleanup_fclose_ FILE *f = NULL;
        Credentials *c;
        State st = { .path = path };
        struct stat s;
        int r;

        f = fopen(path, "re");
        if (!f)
                return log_error_errno(errno, "credentials file %s: %m", path);
        if (fstat(fileno(f), &s) < 0)
                return log_error_errno(errno, "credentials file %s: %m", path);
        if (s.st_mode & 077)
                return log_error_errno(EPERM, "credentials file %s has mode %04o: it must not be readable by group or others (0600)",
                                       path, (unsigned) (s.st_mode & 07777));
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        st.c = c;
        r = ini_parse_counting(f, on_line, &st, &st.line);
        if (st.error < 0)
                r = st.error;
        else if (r > 0)
                r = log_error_errno(EINVAL, "credentials file %s:%d: not an INI line", path, r);
        if (r == 0 && (!c->db_user || !c->db_password))
                r = log_error_errno(EINVAL, "credentials file %s: [database] user= and password= are required", path);
        if (r == 0 && want_keys && c->n_keys == 0)
                r = log_error_errno(EINVAL, "credentials file %s: no [api_keys]: every request would get 401", path);
        if (r < 0) {
                credentials_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

Credentials *credentials_free(Credentials *c) {
        if (!c)
                return NULL;
        strwipe_free(c->db_user);
        strwipe_free(c->db_password);
        for (size_t i = 0; i < c->n_keys; i++) {
                free(c->key_names[i]);
                strwipe_free(c->keys[i]);
        }
        return mfree(c);
}

bool ct_equal(const char *given, size_t given_len, const char *secret, size_t secret_len) {
        volatile unsigned char diff = 0;

        /* Walk the secret's length whatever was given; index `given`
         * modulo its length so a short input costs the same. */
        diff |= (unsigned char) (given_len != secret_len);
        for (size_t i = 0; i < secret_len; i++) {
                unsigned char g = given_len ? (unsigned char) given[i % given_len] : 0;
                diff |= g ^ (unsigned char) secret[i];
        }
        return diff == 0;
}

const char *credentials_check_key(const Credentials *c, const char *given, size_t len) {
        const char *found = NULL;

        /* No early exit: every key is compared. */
        for (size_t i = 0; c && i < c->n_keys; i++)
                if (ct_equal(given, len, c->keys[i], strlen(c->keys[i])) && !found)
                        found = c->key_names[i];
        return found;
}
