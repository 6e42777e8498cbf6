/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "conf"

#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "conf-values.h"
#include "conf.h"
#include "health.h"
#include "log.h"
#include "parse-util.h"

#define ITEM(k, p, f) { k, p, offsetof(Config, f) }

static const ConfItem agent_items[] = {
        ITEM("log_level", conf_parse_log_level, log_level),
        ITEM("control_socket", conf_parse_socket_path, control_socket),
        ITEM("bootstrap_timeout", conf_parse_duration, bootstrap_timeout),
        ITEM("state_dir", conf_parse_socket_path, state_dir),
        {}
};

static const ConfItem logs_items[] = {
        ITEM("log_group", conf_parse_string, log_group),
        {}
};

static const ConfItem lifecycle_items[] = {
        ITEM("asg_name", conf_parse_string, asg_name),
        ITEM("launch_hook", conf_parse_string, launch_hook),
        ITEM("terminate_hook", conf_parse_string, terminate_hook),
        ITEM("drain_timeout", conf_parse_duration, drain_timeout),
        {}
};

#define RENDER_ITEM(k, p, f) { k, p, offsetof(RenderConfig, f) }
static const ConfItem render_items[] = {
        RENDER_ITEM("template", conf_parse_string, template_path),
        RENDER_ITEM("target", conf_parse_socket_path, target),
        RENDER_ITEM("format", conf_parse_format, format),
        RENDER_ITEM("mode", conf_parse_mode, mode),
        RENDER_ITEM("owner", conf_parse_name, owner),
        RENDER_ITEM("group", conf_parse_name, group),
        RENDER_ITEM("validate", conf_parse_string, validate),
        RENDER_ITEM("reload", conf_parse_unit, reload),
        RENDER_ITEM("reload_command", conf_parse_string, reload_command),
        {}
};

static const ConfItem health_items[] = {
        ITEM("listen", conf_parse_listen, health_listen),
        ITEM("max_connections", conf_parse_connections, health_max_connections),
        ITEM("timeout", conf_parse_check_interval, health_connection_timeout),
        ITEM("default_check", conf_parse_bool, health_default_check),
        {}
};

#define CHECK_ITEM(k, p, f) { k, p, offsetof(CheckConfig, f) }
static const ConfItem check_items[] = {
        CHECK_ITEM("type", conf_parse_check_type, type),
        CHECK_ITEM("interval", conf_parse_check_interval, interval),
        CHECK_ITEM("timeout", conf_parse_check_interval, timeout),
        CHECK_ITEM("critical", conf_parse_bool, critical),
        CHECK_ITEM("rise", conf_parse_rise_fall, rise),
        CHECK_ITEM("fall", conf_parse_rise_fall, fall),
        CHECK_ITEM("url", conf_parse_url, url),
        CHECK_ITEM("expect_status", conf_parse_http_status, expect_status),
        CHECK_ITEM("expect_body", conf_parse_string, expect_body),
        CHECK_ITEM("target", conf_parse_string, target),
        CHECK_ITEM("host", conf_parse_string, host),
        CHECK_ITEM("port", conf_parse_port, port),
        CHECK_ITEM("user", conf_parse_string, user),
        CHECK_ITEM("database", conf_parse_string, database),
        CHECK_ITEM("secret", conf_parse_string, secret),
        CHECK_ITEM("password_file", conf_parse_abs_path, password_file),
        CHECK_ITEM("path", conf_parse_abs_path, path),
        CHECK_ITEM("min_free", conf_parse_threshold, min_free),
        CHECK_ITEM("min_free_inodes", conf_parse_threshold, min_free_inodes),
        CHECK_ITEM("min_available", conf_parse_threshold, min_available),
        CHECK_ITEM("unit", conf_parse_string, unit),
        CHECK_ITEM("command", conf_parse_string, command),
        {}
};

/* A subsystem's own section (conf-parser.h) fills the struct at `offset`
 * in Config; the others are still tables of Config fields here. */
static const struct {
        const char *name;
        const ConfItem *items;
        const ConfSection *section;
        size_t offset;
} plain_sections[] = {
        { "health", health_items, NULL, 0 },
        { "agent", agent_items, NULL, 0 },
        { "imds", NULL, &imds_conf_section, offsetof(Config, imds) },
        { "aws", NULL, &aws_conf_section, offsetof(Config, aws) },
        { "logs", logs_items, NULL, 0 },
        { "lifecycle", lifecycle_items, NULL, 0 },
};

static RenderConfig *render_config_free(RenderConfig *r) {
        if (!r)
                return NULL;
        free(r->name);
        free(r->template_path);
        free(r->target);
        free(r->format);
        free(r->owner);
        free(r->group);
        free(r->validate);
        free(r->reload);
        free(r->reload_command);
        return mfree(r);
}

static SecretSettings *secret_config_free(SecretSettings *s) {
        if (!s)
                return NULL;
        secret_settings_done(s);
        free(s->name);
        return mfree(s);
}

static const char *const check_type_names[_CHECK_TYPE_MAX] = {
        [CHECK_HTTP] = "http", [CHECK_TCP] = "tcp", [CHECK_MYSQL] = "mysql", [CHECK_DISK] = "disk",
        [CHECK_MEMORY] = "memory", [CHECK_UNIT] = "unit", [CHECK_EXEC] = "exec",
};

const char *check_type_to_string(CheckType t) {
        return t >= 0 && t < _CHECK_TYPE_MAX ? check_type_names[t] : "invalid";
}

CheckType check_type_from_string(const char *s) {
        for (CheckType t = 0; t < _CHECK_TYPE_MAX; t++)
                if (streq_ptr(s, check_type_names[t]))
                        return t;
        return _CHECK_TYPE_INVALID;
}

int parse_threshold(const char *s, Threshold *ret) {
        size_t l;
        int r;

        if (isempty(s))
                return -EINVAL;
        l = strlen(s);
        if (s[l - 1] == '%') {
                _cleanup_free_ char *n = strndup(s, l - 1);
                unsigned p;
                if (!n)
                        return -ENOMEM;
                r = parse_uint(n, 0, 100, &p);
                if (r < 0)
                        return r;
                *ret = (Threshold) { .value = p, .percent = true, .set = true };
                return 0;
        }
        r = parse_size(s, &ret->value);
        if (r < 0)
                return r;
        ret->percent = false;
        ret->set = true;
        return 0;
}

static CheckConfig *check_config_free(CheckConfig *k) {
        if (!k)
                return NULL;
        free(k->name);
        free(k->url);
        free(k->expect_body);
        free(k->target);
        free(k->host);
        free(k->user);
        free(k->database);
        free(k->secret);
        free(k->password_file);
        free(k->path);
        free(k->unit);
        free(k->command);
        return mfree(k);
}

static int check_config_new(const char *name, CheckConfig **ret) {
        CheckConfig *k = calloc(1, sizeof(*k));

        if (!k)
                return -ENOMEM;
        *k = (CheckConfig) {
                .type = _CHECK_TYPE_INVALID,
                .interval = 10 * USEC_PER_SEC,
                .timeout = 2 * USEC_PER_SEC,
                .critical = true,
                .rise = 2,
                .fall = 3,
                .expect_status = 200,
        };
        k->name = strdup(name);
        if (!k->name)
                return check_config_free(k), -ENOMEM;
        *ret = k;
        return 0;
}

static int check_get(Config *c, const char *name, CheckConfig **ret) {
        CheckConfig **a;
        int r;

        for (size_t i = 0; i < c->n_checks; i++)
                if (streq(c->checks[i]->name, name)) {
                        *ret = c->checks[i];
                        return 0;
                }
        if (c->n_checks >= CHECK_MAX)
                return -E2BIG;
        a = realloc(c->checks, (c->n_checks + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        c->checks = a;
        r = check_config_new(name, &c->checks[c->n_checks]);
        if (r < 0)
                return r;
        *ret = c->checks[c->n_checks++];
        return 0;
}

/* No [check.*] at all: php-fpm's ping through nginx, as the platform's
 * nginx site serves it (location = /fpm-ping). */
static int add_default_check(Config *c) {
        CheckConfig *k;
        int r = check_get(c, "fpm", &k);

        if (r < 0)
                return r;
        k->type = CHECK_HTTP;
        if (free_and_strdup(&k->url, "http://127.0.0.1/fpm-ping") < 0 ||
            free_and_strdup(&k->expect_body, "pong") < 0)
                return -ENOMEM;
        return 0;
}

int config_new(Config **ret) {
        Config *c = calloc(1, sizeof(Config));
        if (!c)
                return -ENOMEM;
        c->log_level = -1;
        c->bootstrap_timeout = 5 * USEC_PER_MINUTE;
        (void) imds_settings_init(&c->imds);
        (void) aws_settings_init(&c->aws);
        c->drain_timeout = 60 * USEC_PER_SEC;
        c->health_max_connections = 128;
        c->health_connection_timeout = 10 * USEC_PER_SEC;
        c->health_default_check = true;
        c->health_listen = strdup(HEALTH_DEFAULT_LISTEN);
        c->control_socket = strdup(AGENTD_DEFAULT_CONTROL_SOCKET);
        c->state_dir = strdup(AGENTD_STATE_DIR);
        if (!c->control_socket || !c->state_dir || !c->health_listen)
                return config_free(c), -ENOMEM;
        *ret = c;
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->control_socket);
        imds_settings_done(&c->imds);
        aws_settings_done(&c->aws);
        free(c->log_group);
        free(c->asg_name);
        free(c->launch_hook);
        free(c->terminate_hook);
        free(c->health_listen);
        for (size_t i = 0; i < c->n_checks; i++)
                check_config_free(c->checks[i]);
        free(c->checks);
        for (size_t i = 0; i < c->n_secrets; i++)
                secret_config_free(c->secrets[i]);
        free(c->secrets);
        for (size_t i = 0; i < c->n_renders; i++)
                render_config_free(c->renders[i]);
        free(c->renders);
        for (size_t i = 0; i < c->n_vars; i++) {
                free(c->var_names[i]);
                free(c->var_values[i]);
        }
        free(c->var_names);
        free(c->var_values);
        free(c->state_dir);
        for (size_t i = 0; i < c->n_sources; i++)
                free(c->sources[i]);
        free(c->sources);
        return mfree(c);
}

/* Names in [kind.NAME] end up in template variables and file names later:
 * keep them to a safe alphabet. */
static bool section_name_valid(const char *n) {
        if (isempty(n) || strlen(n) > 64)
                return false;
        for (const char *p = n; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
                        return false;
        return true;
}

static int secret_get(Config *c, const char *name, SecretSettings **ret) {
        SecretSettings *s, **a;

        for (size_t i = 0; i < c->n_secrets; i++)
                if (streq(c->secrets[i]->name, name)) {
                        *ret = c->secrets[i];
                        return 0;
                }
        if (c->n_secrets >= SECRET_SETTINGS_MAX)
                return -E2BIG;
        a = realloc(c->secrets, (c->n_secrets + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        c->secrets = a;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->name = strdup(name);
        if (secret_settings_init(s) < 0 || !s->name)
                return secret_config_free(s), -ENOMEM;
        c->secrets[c->n_secrets++] = s;
        *ret = s;
        return 0;
}

/* inih reads lines through us, so we know the line of every callback, the
 * line of the current section header, and can refuse over-long lines
 * (inih would silently split them at INI_MAX_LINE). */
static int render_get(Config *c, const char *name, RenderConfig **ret) {
        RenderConfig *r, **a;

        for (size_t i = 0; i < c->n_renders; i++)
                if (streq(c->renders[i]->name, name)) {
                        *ret = c->renders[i];
                        return 0;
                }
        if (c->n_renders >= 64)
                return -E2BIG;
        a = realloc(c->renders, (c->n_renders + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        c->renders = a;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->mode = -1;
        r->name = strdup(name);
        if (!r->name)
                return render_config_free(r), -ENOMEM;
        c->renders[c->n_renders++] = r;
        *ret = r;
        return 0;
}

/* One row per kind of named section, [KIND.NAME]. */
typedef struct NamedKind {
        const char *kind;
        const ConfItem *items;          /* NULL: section->items */
        const ConfSection *section;
        size_t max;
        int (*get)(Config *c, const char *name, void **ret);    /* find or add */
} NamedKind;

static int secret_get_any(Config *c, const char *name, void **ret) {
        return secret_get(c, name, (SecretSettings **) ret);
}
static int render_get_any(Config *c, const char *name, void **ret) {
        return render_get(c, name, (RenderConfig **) ret);
}
static int check_get_any(Config *c, const char *name, void **ret) {
        return check_get(c, name, (CheckConfig **) ret);
}

static const NamedKind named_kinds[] = {
        { "secret", NULL, &secret_conf_section, SECRET_SETTINGS_MAX, secret_get_any },
        { "render", render_items, NULL, 64, render_get_any },
        { "check", check_items, NULL, CHECK_MAX, check_get_any },
};

/* [vars] takes any key (a template variable name); later files win. */
static int var_set(Config *c, const char *key, const char *value) {
        char **n, **v;

        for (size_t i = 0; i < c->n_vars; i++)
                if (streq(c->var_names[i], key))
                        return free_and_strdup(&c->var_values[i], value);
        if (c->n_vars >= 256)
                return -E2BIG;
        n = realloc(c->var_names, (c->n_vars + 1) * sizeof(char *));
        if (!n)
                return -ENOMEM;
        c->var_names = n;
        v = realloc(c->var_values, (c->n_vars + 1) * sizeof(char *));
        if (!v)
                return -ENOMEM;
        c->var_values = v;
        c->var_names[c->n_vars] = strdup(key);
        c->var_values[c->n_vars] = strdup(value);
        if (!c->var_names[c->n_vars] || !c->var_values[c->n_vars]) {
                free(c->var_names[c->n_vars]);
                free(c->var_values[c->n_vars]);
                return -ENOMEM;
        }
        c->n_vars++;
        return 0;
}

typedef struct ParseState {
        Config *config;
        FILE *file;
        int line;
        int section_line;
        char *error;            /* first error, without file:line */
        int error_line;
        int error_r;
} ParseState;

static char *conf_reader(char *str, int num, void *stream) {
        ParseState *st = stream;
        char *s = fgets(str, num, st->file);
        size_t l;

        if (!s)
                return NULL;
        st->line++;
        l = strlen(s);
        if (l == (size_t) num - 1 && s[l - 1] != '\n') {
                int ch;
                while ((ch = fgetc(st->file)) != EOF && ch != '\n')
                        ;
                if (!st->error) {
                        if (asprintf(&st->error, "line longer than %d bytes", num - 2) < 0)
                                st->error = NULL;
                        st->error_line = st->line;
                        st->error_r = -E2BIG;
                }
                /* Hand inih a comment instead of half a line. */
                strcpy(str, "#\n");
                return str;
        }
        while (*s == ' ' || *s == '\t')
                s++;
        if (*s == '[')
                st->section_line = st->line;
        return str;
}

static int set_error(ParseState *st, int r, const char *fmt, ...) _printf_(3, 4);
static int set_error(ParseState *st, int r, const char *fmt, ...) {
        va_list ap;

        if (st->error)
                return 0;       /* keep the first */
        st->error_line = st->line;
        va_start(ap, fmt);
        if (vasprintf(&st->error, fmt, ap) < 0)
                st->error = NULL;
        va_end(ap);
        st->error_r = r;
        return 0;
}

static const ConfItem *find_item(const ConfItem *items, const char *key) {
        for (const ConfItem *i = items; i->key; i++)
                if (streq(i->key, key))
                        return i;
        return NULL;
}

static int apply(ParseState *st, const ConfItem *items, void *base, const char *section,
                 const char *key, const char *value) {
        const char *reason = NULL;
        const ConfItem *item = find_item(items, key);
        int r;

        if (!item)
                return set_error(st, -EINVAL, "[%s]: unknown key '%s'", section, key);
        r = item->parse(value, (uint8_t *) base + item->offset, &reason);
        if (r == -ENOMEM)
                return set_error(st, r, "out of memory");
        if (r < 0)
                /* Values are echoed: config files hold no secrets (those come
                 * from Secrets Manager), and the operator needs to see it. */
                return set_error(st, r, "[%s] %s=%s: %s", section, key, value, strna(reason));
        return 1;
}

static int conf_ini_handler(void *user, const char *section, const char *key, const char *value) {
        ParseState *st = user;
        const char *dot;

        if (!key)               /* section header alone (INI_CALL_HANDLER_ON_NEW_SECTION) */
                return 1;
        if (isempty(section))
                return set_error(st, -EINVAL, "key '%s' outside of any section", key);

        for (size_t i = 0; i < ELEMENTSOF(plain_sections); i++)
                if (streq(section, plain_sections[i].name))
                        return apply(st, plain_sections[i].items ?: plain_sections[i].section->items,
                                     (uint8_t *) st->config + plain_sections[i].offset, section, key, value);

        if (streq(section, "vars")) {
                int r;
                if (!section_name_valid(key))
                        return set_error(st, -EINVAL, "[vars]: invalid variable name '%s' "
                                         "(letters, digits, '_' and '-', at most 64)", key);
                r = var_set(st->config, key, value);
                if (r == -E2BIG)
                        return set_error(st, r, "[vars]: more than 256 variables");
                if (r < 0)
                        return set_error(st, r, "out of memory");
                return 1;
        }

        dot = strchr(section, '.');
        for (size_t i = 0; dot && i < ELEMENTSOF(named_kinds); i++) {
                const NamedKind *k = &named_kinds[i];
                void *obj;
                int r;

                if ((size_t) (dot - section) != strlen(k->kind) || strncmp(section, k->kind, strlen(k->kind)) != 0)
                        continue;
                if (!section_name_valid(dot + 1)) {
                        set_error(st, -EINVAL, "[%s]: invalid name '%s' (letters, digits, '_' and '-', at most 64)",
                                  section, dot + 1);
                        if (st->error_line == st->line)
                                st->error_line = st->section_line;
                        return 0;
                }
                r = k->get(st->config, dot + 1, &obj);
                if (r == -E2BIG)
                        return set_error(st, r, "[%s]: more than %zu [%s.*] sections", section, k->max, k->kind);
                if (r < 0)
                        return set_error(st, r, "out of memory");
                return apply(st, k->items ?: k->section->items, obj, section, key, value);
        }
        set_error(st, -EINVAL, "unknown section [%s]", section);
        if (st->error_line == st->line)
                st->error_line = st->section_line;
        return 0;
}

int config_parse_file(Config *c, const char *filename, char **ret_error) {
        ParseState st = { .config = c };
        _cleanup_fclose_ FILE *f = NULL;
        char **a;
        int line;

        f = fopen(filename, "re");
        if (!f) {
                int r = negative_errno();
                if (ret_error && asprintf(ret_error, "%s: cannot open: %s", filename, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        st.file = f;
        line = ini_parse_stream(conf_reader, &st, conf_ini_handler, &st);
        if (line < 0 && !st.error) {
                if (ret_error && asprintf(ret_error, "%s: cannot parse (out of memory)", filename) < 0)
                        *ret_error = NULL;
                return -ENOMEM;
        }
        if (line > 0 || st.error) {
                /* inih's own syntax errors and ours: report the earlier. */
                bool syntax = line > 0 && (!st.error || line < st.error_line);
                int r = syntax ? -EINVAL : st.error_r < 0 ? st.error_r : -EINVAL;
                if (ret_error && asprintf(ret_error, "%s:%d: %s", filename, syntax ? line : st.error_line,
                                          syntax ? "syntax error (expected [section], key = value or a # comment)"
                                                 : st.error) < 0)
                        *ret_error = NULL;
                free(st.error);
                return r;
        }

        a = realloc(c->sources, (c->n_sources + 1) * sizeof(char *));
        if (!a)
                return -ENOMEM;
        c->sources = a;
        c->sources[c->n_sources] = strdup(filename);
        if (!c->sources[c->n_sources])
                return -ENOMEM;
        c->n_sources++;
        return 0;
}

/* What each check type needs; NULL when the check is complete. */
static const char *check_config_missing(const CheckConfig *k) {
        switch (k->type) {
        case CHECK_HTTP:
                return k->url ? NULL : "type=http needs url=";
        case CHECK_TCP:
                return k->target || k->secret ? NULL : "type=tcp needs target=HOST:PORT (or secret=NAME)";
        case CHECK_MYSQL:
                if (!k->secret && !(k->host && k->user))
                        return "type=mysql needs secret=NAME, or host= and user= (with password_file=)";
                return NULL;
        case CHECK_DISK:
                if (!k->path)
                        return "type=disk needs path=";
                return k->min_free.set || k->min_free_inodes.set ? NULL
                                                                 : "type=disk needs min_free= or min_free_inodes=";
        case CHECK_MEMORY:
                return k->min_available.set ? NULL : "type=memory needs min_available=";
        case CHECK_UNIT:
                return k->unit ? NULL : "type=unit needs unit=";
        case CHECK_EXEC:
                return k->command ? NULL : "type=exec needs command=";
        default:
                return "type= is required (http, tcp, mysql, disk, memory, unit, exec)";
        }
}

static int verify_checks(Config *c, char **ret_error) {
        for (size_t i = 0; i < c->n_checks; i++) {
                const CheckConfig *k = c->checks[i];
                const char *missing = check_config_missing(k);

                if (!missing && k->timeout >= k->interval)
                        missing = "timeout= must be shorter than interval=";
                if (!missing && k->type == CHECK_TCP && k->target && parse_listen_address(k->target) < 0)
                        missing = "target= is not HOST:PORT";
                if (!missing && k->secret) {
                        bool found = false;
                        for (size_t j = 0; j < c->n_secrets; j++)
                                found = found || streq(c->secrets[j]->name, k->secret);
                        if (!found)
                                missing = "secret= names no [secret.NAME] section";
                }
                if (!missing)
                        continue;
                if (ret_error && asprintf(ret_error, "[check.%s]: %s", k->name, missing) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        return 0;
}

int config_verify(Config *c, char **ret_error) {
        int k;

        if (c->n_checks == 0 && c->health_default_check) {
                k = add_default_check(c);
                if (k < 0)
                        return k;
        }
        k = verify_checks(c, ret_error);
        if (k < 0)
                return k;
        k = secret_settings_verify(c->secrets, c->n_secrets, ret_error);
        if (k < 0)
                return k;
        for (size_t i = 0; i < c->n_renders; i++) {
                RenderConfig *r = c->renders[i];
                const char *missing = isempty(r->template_path) ? "template=" : isempty(r->target) ? "target=" : NULL;
                if (missing) {
                        if (ret_error && asprintf(ret_error, "[render.%s]: %s is required", r->name, missing) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
                for (size_t j = 0; j < i; j++)
                        if (streq(c->renders[j]->target, r->target)) {
                                if (ret_error && asprintf(ret_error, "[render.%s] and [render.%s] both write %s",
                                                          c->renders[j]->name, r->name, r->target) < 0)
                                        *ret_error = NULL;
                                return -EINVAL;
                        }
        }
        k = imds_settings_verify(&c->imds, ret_error);
        if (k < 0)
                return k;
        return aws_settings_verify(&c->aws, ret_error);
}

static int conf_filter(const struct dirent *d) {
        size_t l = strlen(d->d_name);
        return d->d_name[0] != '.' && l > 5 && streq(d->d_name + l - 5, ".conf");
}

int config_load(const char *path, Config **ret, char **ret_error) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *main_file = NULL, *dropin_dir = NULL;
        struct stat st;
        int r;

        if (ret_error)
                *ret_error = NULL;
        r = config_new(&c);
        if (r < 0)
                return r;
        if (!path)
                path = AGENTD_CONF_DIR;

        if (stat(path, &st) < 0) {
                r = negative_errno();
                if (ret_error && asprintf(ret_error, "%s: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        if (!S_ISDIR(st.st_mode)) {
                r = config_parse_file(c, path, ret_error);
                if (r < 0)
                        return r;
        } else {
                struct dirent **names = NULL;
                int n;

                if (asprintf(&main_file, "%s/agentd.conf", path) < 0 ||
                    asprintf(&dropin_dir, "%s/agentd.conf.d", path) < 0)
                        return -ENOMEM;
                if (access(main_file, F_OK) == 0) {
                        r = config_parse_file(c, main_file, ret_error);
                        if (r < 0)
                                return r;
                }
                n = scandir(dropin_dir, &names, conf_filter, alphasort);
                if (n < 0 && errno != ENOENT) {
                        r = negative_errno();
                        if (ret_error && asprintf(ret_error, "%s: %s", dropin_dir, strerror(-r)) < 0)
                                *ret_error = NULL;
                        return r;
                }
                r = 0;
                for (int i = 0; i < n; i++) {
                        _cleanup_free_ char *f = NULL;
                        if (r >= 0) {
                                if (asprintf(&f, "%s/%s", dropin_dir, names[i]->d_name) < 0)
                                        r = -ENOMEM;
                                else
                                        r = config_parse_file(c, f, ret_error);
                        }
                        free(names[i]);
                }
                free(names);
                if (r < 0)
                        return r;
        }
        r = config_verify(c, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}
