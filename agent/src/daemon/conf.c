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

static const ConfItem imds_items[] = {
        ITEM("enabled", conf_parse_bool, imds_enabled),
        ITEM("endpoint", conf_parse_url, imds_endpoint),
        ITEM("boot_deadline", conf_parse_duration, imds_boot_deadline),
        ITEM("timeout", conf_parse_duration, imds_timeout),
        ITEM("token_ttl", conf_parse_token_ttl, imds_token_ttl),
        {}
};

static const ConfItem aws_items[] = {
        ITEM("region", conf_parse_region, region),
        ITEM("endpoint_url", conf_parse_url, endpoint_url),
        ITEM("endpoint_url_secretsmanager", conf_parse_url, service_endpoint_url[AWS_SERVICE_SECRETSMANAGER]),
        ITEM("endpoint_url_logs", conf_parse_url, service_endpoint_url[AWS_SERVICE_LOGS]),
        ITEM("endpoint_url_monitoring", conf_parse_url, service_endpoint_url[AWS_SERVICE_MONITORING]),
        ITEM("endpoint_url_autoscaling", conf_parse_url, service_endpoint_url[AWS_SERVICE_AUTOSCALING]),
        ITEM("max_attempts", conf_parse_attempts, max_attempts),
        ITEM("connect_timeout", conf_parse_duration, connect_timeout),
        ITEM("request_timeout", conf_parse_duration, request_timeout),
        ITEM("max_response_size", conf_parse_size, max_response_size),
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

#define SECRET_ITEM(k, p, f) { k, p, offsetof(SecretConfig, f) }
static const ConfItem secret_items[] = {
        SECRET_ITEM("id", conf_parse_string, id),
        SECRET_ITEM("version_stage", conf_parse_string, version_stage),
        SECRET_ITEM("refresh", conf_parse_duration, refresh),
        {}
};

/* Items relative to the struct at offset in Config. */
static const struct {
        const char *name;
        const ConfItem *items;
        size_t offset;
} plain_sections[] = {
        { "health", NULL, offsetof(Config, health) },     /* health_conf_section */
        { "agent", agent_items, 0 },
        { "imds", imds_items, 0 },
        { "aws", aws_items, 0 },
        { "logs", logs_items, 0 },
        { "lifecycle", lifecycle_items, 0 },
};

static const char *const service_names[_AWS_SERVICE_MAX] = {
        [AWS_SERVICE_SECRETSMANAGER] = "secretsmanager",
        [AWS_SERVICE_LOGS] = "logs",
        [AWS_SERVICE_MONITORING] = "monitoring",
        [AWS_SERVICE_AUTOSCALING] = "autoscaling",
};
static const char *const service_env_ids[_AWS_SERVICE_MAX] = {
        [AWS_SERVICE_SECRETSMANAGER] = "SECRETS_MANAGER",
        [AWS_SERVICE_LOGS] = "CLOUDWATCH_LOGS",
        [AWS_SERVICE_MONITORING] = "CLOUDWATCH",
        [AWS_SERVICE_AUTOSCALING] = "AUTO_SCALING",
};

const char *aws_service_to_string(AwsService s) {
        return s < _AWS_SERVICE_MAX ? service_names[s] : NULL;
}

const char *aws_service_env_id(AwsService s) {
        return s < _AWS_SERVICE_MAX ? service_env_ids[s] : NULL;
}

static RenderSettings *render_settings_free(RenderSettings *r) {
        if (!r)
                return NULL;
        render_settings_done(r);
        free(r->name);
        return mfree(r);
}

static SecretConfig *secret_config_free(SecretConfig *s) {
        if (!s)
                return NULL;
        free(s->name);
        free(s->id);
        free(s->version_stage);
        return mfree(s);
}

/* Find or add [check.NAME], with the health layer's defaults. */
static int check_get(Config *c, const char *name, CheckSettings **ret) {
        const ConfSection *sec = &check_conf_section;
        CheckSettings *k = conf_list_find(&c->checks, sec, name);
        void **a;
        int r;

        if (k) {
                *ret = k;
                return 0;
        }
        if (c->checks.n >= sec->max)
                return -E2BIG;
        a = realloc(c->checks.items, (c->checks.n + 1) * sizeof(void *));
        if (!a)
                return -ENOMEM;
        c->checks.items = a;
        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        r = sec->init(k);
        if (r >= 0 && !(k->name = strdup(name)))
                r = -ENOMEM;
        if (r < 0) {
                sec->done(k);
                free(k);
                return r;
        }
        c->checks.items[c->checks.n++] = k;
        *ret = k;
        return 0;
}

int config_new(Config **ret) {
        Config *c = calloc(1, sizeof(Config));
        if (!c)
                return -ENOMEM;
        c->log_level = -1;
        c->bootstrap_timeout = 5 * USEC_PER_MINUTE;
        c->imds_enabled = true;
        c->imds_boot_deadline = 240 * USEC_PER_SEC;     /* as cloud-init on EC2 */
        c->imds_timeout = 2 * USEC_PER_SEC;
        c->imds_token_ttl = 21600;
        c->max_attempts = 5;
        c->connect_timeout = 5 * USEC_PER_SEC;
        c->request_timeout = 30 * USEC_PER_SEC;
        c->max_response_size = 8ULL << 20;
        c->drain_timeout = 60 * USEC_PER_SEC;
        if (health_settings_init(&c->health) < 0)
                return config_free(c), -ENOMEM;
        c->control_socket = strdup(AGENTD_DEFAULT_CONTROL_SOCKET);
        c->state_dir = strdup(AGENTD_STATE_DIR);
        if (!c->control_socket || !c->state_dir)
                return config_free(c), -ENOMEM;
        *ret = c;
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->control_socket);
        free(c->imds_endpoint);
        free(c->region);
        free(c->endpoint_url);
        for (size_t i = 0; i < _AWS_SERVICE_MAX; i++)
                free(c->service_endpoint_url[i]);
        free(c->log_group);
        free(c->asg_name);
        free(c->launch_hook);
        free(c->terminate_hook);
        health_settings_done(&c->health);
        conf_list_free(&c->checks, &check_conf_section);
        for (size_t i = 0; i < c->n_secrets; i++)
                secret_config_free(c->secrets[i]);
        free(c->secrets);
        for (size_t i = 0; i < c->n_renders; i++)
                render_settings_free(c->renders[i]);
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

static int secret_get(Config *c, const char *name, SecretConfig **ret) {
        SecretConfig *s, **a;

        for (size_t i = 0; i < c->n_secrets; i++)
                if (streq(c->secrets[i]->name, name)) {
                        *ret = c->secrets[i];
                        return 0;
                }
        if (c->n_secrets >= 64)
                return -E2BIG;
        a = realloc(c->secrets, (c->n_secrets + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        c->secrets = a;
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->name = strdup(name);
        s->version_stage = strdup("AWSCURRENT");
        s->refresh = 5 * USEC_PER_MINUTE;
        if (!s->name || !s->version_stage)
                return secret_config_free(s), -ENOMEM;
        c->secrets[c->n_secrets++] = s;
        *ret = s;
        return 0;
}

/* inih reads lines through us, so we know the line of every callback, the
 * line of the current section header, and can refuse over-long lines
 * (inih would silently split them at INI_MAX_LINE). */
static int render_get(Config *c, const char *name, RenderSettings **ret) {
        RenderSettings *r, **a;

        for (size_t i = 0; i < c->n_renders; i++)
                if (streq(c->renders[i]->name, name)) {
                        *ret = c->renders[i];
                        return 0;
                }
        if (c->n_renders >= render_conf_section.max)
                return -E2BIG;
        a = realloc(c->renders, (c->n_renders + 1) * sizeof(*a));
        if (!a)
                return -ENOMEM;
        c->renders = a;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        (void) render_conf_section.init(r);
        r->name = strdup(name);
        if (!r->name)
                return render_settings_free(r), -ENOMEM;
        c->renders[c->n_renders++] = r;
        *ret = r;
        return 0;
}

/* One row per kind of named section, [KIND.NAME]. */
typedef struct NamedKind {
        const char *kind;
        const ConfItem *items;
        size_t max;
        int (*get)(Config *c, const char *name, void **ret);    /* find or add */
} NamedKind;

static int secret_get_any(Config *c, const char *name, void **ret) {
        return secret_get(c, name, (SecretConfig **) ret);
}
static int render_get_any(Config *c, const char *name, void **ret) {
        return render_get(c, name, (RenderSettings **) ret);
}
static int check_get_any(Config *c, const char *name, void **ret) {
        return check_get(c, name, (CheckSettings **) ret);
}

static const NamedKind named_kinds[] = {
        { "secret", secret_items, 64, secret_get_any },
        { "render", NULL, RENDER_MAX, render_get_any },
        { "check", NULL, CHECK_MAX, check_get_any },
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
                        return apply(st, plain_sections[i].items ?: health_conf_section.items,
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
                /* [render.*] and [check.*] own their tables. */
                return apply(st, k->items ?: streq(k->kind, "render") ? render_conf_section.items : check_conf_section.items,
                             obj, section, key, value);
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

static bool secret_exists(const char *name, void *userdata) {
        Config *c = userdata;

        for (size_t j = 0; j < c->n_secrets; j++)
                if (streq(c->secrets[j]->name, name))
                        return true;
        return false;
}

int config_verify(Config *c, char **ret_error) {
        int k;

        k = health_settings_verify(&c->health, &c->checks, secret_exists, c, ret_error);
        if (k < 0)
                return k;
        for (size_t i = 0; i < c->n_secrets; i++)
                if (isempty(c->secrets[i]->id)) {
                        if (ret_error && asprintf(ret_error, "[secret.%s]: id= is required (a secret ARN or name)",
                                                  c->secrets[i]->name) < 0)
                                *ret_error = NULL;
                        return -EINVAL;
                }
        k = render_settings_verify(c->renders, c->n_renders, ret_error);
        if (k < 0)
                return k;
        if (c->imds_timeout == 0 || c->request_timeout == 0 || c->connect_timeout == 0) {
                if (ret_error && asprintf(ret_error, "timeouts must be greater than 0") < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        return 0;
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
