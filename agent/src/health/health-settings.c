/* SPDX-License-Identifier: MIT */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "health-settings.h"
#include "parse-util.h"
#include "socket-address.h"

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

int threshold_parse(const char *s, Threshold *ret) {
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

int health_conf_parse_listen(const char *v, void *field, const char **reason) {
        SocketAddress a[HEALTH_MAX_LISTEN];

        if (socket_address_parse_listen_list(v, a, ELEMENTSOF(a), NULL) < 0) {
                *reason = "not a list of up to 8 addresses HOST:PORT (numeric host), [IPv6]:PORT or unix:/PATH";
                return -EINVAL;
        }
        return conf_parse_string(v, field, reason);
}

int health_conf_parse_connections(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 1, 1000, field);
        if (r < 0)
                *reason = "not a number from 1 to 1000";
        return r;
}

int health_conf_parse_request_timeout(const char *v, void *field, const char **reason) {
        usec_t u;
        int r = parse_duration(v, &u);
        if (r < 0 || u < 100 * USEC_PER_MSEC || u > USEC_PER_MINUTE) {
                *reason = "not a duration from 100ms to 1min";
                return -EINVAL;
        }
        *(usec_t *) field = u;
        return 0;
}

int check_conf_parse_type(const char *v, void *field, const char **reason) {
        CheckType t = check_type_from_string(v);
        if (t < 0) {
                *reason = "not a check type (http, tcp, mysql, disk, memory, unit, exec)";
                return -EINVAL;
        }
        *(CheckType *) field = t;
        return 0;
}

int check_conf_parse_rise_fall(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 1, 100, field);
        if (r < 0)
                *reason = "not a number from 1 to 100";
        return r;
}

int check_conf_parse_http_status(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 100, 599, field);
        if (r < 0)
                *reason = "not an HTTP status from 100 to 599";
        return r;
}

int check_conf_parse_threshold(const char *v, void *field, const char **reason) {
        int r = threshold_parse(v, field);
        if (r < 0)
                *reason = "not a size or a percentage (examples: 512MiB, 10%)";
        return r;
}

int check_conf_parse_interval(const char *v, void *field, const char **reason) {
        usec_t u;
        int r = parse_duration(v, &u);
        if (r < 0 || u < 100 * USEC_PER_MSEC || u > USEC_PER_DAY) {
                *reason = "not a duration from 100ms to 1d";
                return -EINVAL;
        }
        *(usec_t *) field = u;
        return 0;
}

#define HEALTH_ITEM(k, p, f) { k, p, offsetof(HealthSettings, f) }
static const ConfItem health_items[] = {
        HEALTH_ITEM("listen", health_conf_parse_listen, listen),
        HEALTH_ITEM("max_connections", health_conf_parse_connections, max_connections),
        HEALTH_ITEM("max_connections_per_peer", health_conf_parse_connections, max_connections_per_peer),
        HEALTH_ITEM("timeout", check_conf_parse_interval, timeout),
        HEALTH_ITEM("request_timeout", health_conf_parse_request_timeout, request_timeout),
        HEALTH_ITEM("socket_group", conf_parse_name, socket_group),
        HEALTH_ITEM("default_check", conf_parse_bool, default_check),
        {}
};

#define CHECK_ITEM(k, p, f) { k, p, offsetof(CheckSettings, f) }
static const ConfItem check_items[] = {
        CHECK_ITEM("type", check_conf_parse_type, type),
        CHECK_ITEM("interval", check_conf_parse_interval, interval),
        CHECK_ITEM("timeout", check_conf_parse_interval, timeout),
        CHECK_ITEM("critical", conf_parse_bool, critical),
        CHECK_ITEM("rise", check_conf_parse_rise_fall, rise),
        CHECK_ITEM("fall", check_conf_parse_rise_fall, fall),
        CHECK_ITEM("url", conf_parse_url, url),
        CHECK_ITEM("unix_socket", conf_parse_socket_path, unix_socket),
        CHECK_ITEM("expect_status", check_conf_parse_http_status, expect_status),
        CHECK_ITEM("expect_body", conf_parse_string, expect_body),
        CHECK_ITEM("target", conf_parse_string, target),
        CHECK_ITEM("host", conf_parse_string, host),
        CHECK_ITEM("port", conf_parse_port, port),
        CHECK_ITEM("user", conf_parse_string, user),
        CHECK_ITEM("database", conf_parse_string, database),
        CHECK_ITEM("secret", conf_parse_string, secret),
        CHECK_ITEM("password_file", conf_parse_abs_path, password_file),
        CHECK_ITEM("path", conf_parse_abs_path, path),
        CHECK_ITEM("min_free", check_conf_parse_threshold, min_free),
        CHECK_ITEM("min_free_inodes", check_conf_parse_threshold, min_free_inodes),
        CHECK_ITEM("min_available", check_conf_parse_threshold, min_available),
        CHECK_ITEM("unit", conf_parse_string, unit),
        CHECK_ITEM("command", conf_parse_string, command),
        {}
};

static int check_settings_init(void *item) {
        *(CheckSettings *) item = (CheckSettings) {
                .type = _CHECK_TYPE_INVALID,
                .interval = 10 * USEC_PER_SEC,
                .timeout = 2 * USEC_PER_SEC,
                .critical = true,
                .rise = 2,
                .fall = 3,
                .expect_status = 200,
        };
        return 0;
}

static void check_settings_done(void *item) {
        CheckSettings *k = item;

        free(k->url);
        free(k->unix_socket);
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
}

const ConfSection health_conf_section = {
        .name = "health",
        .items = health_items,
};

const ConfSection check_conf_section = {
        .name = "check",
        .items = check_items,
        .named = true,
        .max = CHECK_MAX,
        .size = sizeof(CheckSettings),
        .name_offset = offsetof(CheckSettings, name),
        .init = check_settings_init,
        .done = check_settings_done,
};

int health_settings_init(HealthSettings *s) {
        *s = (HealthSettings) {
                .max_connections = 128,
                .max_connections_per_peer = 32,
                .timeout = 10 * USEC_PER_SEC,
                .request_timeout = 5 * USEC_PER_SEC,
                .default_check = true,
                .listen = strdup(HEALTH_DEFAULT_LISTEN),
        };
        return s->listen ? 0 : -ENOMEM;
}

void health_settings_done(HealthSettings *s) {
        s->listen = mfree(s->listen);
        s->socket_group = mfree(s->socket_group);
}

/* Appends k to the list, or frees it. */
static int checks_append(ConfList *checks, CheckSettings *k) {
        void **a = realloc(checks->items, (checks->n + 1) * sizeof(void *));

        if (!a) {
                check_settings_done(k);
                free(k->name);
                free(k);
                return -ENOMEM;
        }
        checks->items = a;
        checks->items[checks->n++] = k;
        return 0;
}

/* No [check.*] at all: php-fpm's ping through nginx, as the platform's
 * nginx site serves it (location = /fpm-ping). */
static int add_default_check(ConfList *checks) {
        CheckSettings *k = calloc(1, sizeof(*k));

        if (!k)
                return -ENOMEM;
        (void) check_settings_init(k);
        k->type = CHECK_HTTP;
        k->name = strdup("fpm");
        k->url = strdup("http://127.0.0.1/fpm-ping");
        k->expect_body = strdup("pong");
        if (!k->name || !k->url || !k->expect_body) {
                check_settings_done(k);
                free(k->name);
                free(k);
                return -ENOMEM;
        }
        return checks_append(checks, k);
}

int check_settings_add_http(ConfList *checks, const char *name, const char *url, const char *unix_socket,
                            bool critical, usec_t interval, unsigned rise, unsigned fall) {
        CheckSettings *k;

        if (conf_list_find(checks, &check_conf_section, name))
                return -EEXIST;
        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        (void) check_settings_init(k);
        k->type = CHECK_HTTP;
        k->critical = critical;
        k->interval = interval;
        k->timeout = MIN(k->timeout, interval / 2);
        k->rise = rise;
        k->fall = fall;
        k->name = strdup(name);
        k->url = strdup(url);
        if (unix_socket)
                k->unix_socket = strdup(unix_socket);
        if (!k->name || !k->url || (unix_socket && !k->unix_socket)) {
                check_settings_done(k);
                free(k->name);
                free(k);
                return -ENOMEM;
        }
        return checks_append(checks, k);
}

/* What each check type needs; NULL when the check is complete. */
static const char *check_missing(const CheckSettings *k) {
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

static bool target_valid(const char *target) {
        _cleanup_free_ char *host = NULL;
        unsigned port;

        return host_port_split(target, &host, &port) >= 0;
}

int health_settings_verify(HealthSettings *s, ConfList *checks, HealthSecretExists secret_exists, void *userdata,
                           char **ret_error) {
        int r;

        if (checks->n == 0 && s->default_check) {
                r = add_default_check(checks);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < checks->n; i++) {
                const CheckSettings *k = checks->items[i];
                const char *missing = check_missing(k);

                if (!missing && k->timeout >= k->interval)
                        missing = "timeout= must be shorter than interval=";
                if (!missing && k->unix_socket && k->type != CHECK_HTTP)
                        missing = "unix_socket= is for type=http";
                if (!missing && k->type == CHECK_TCP && k->target && !target_valid(k->target))
                        missing = "target= is not HOST:PORT";
                if (!missing && k->secret && !(secret_exists && secret_exists(k->secret, userdata)))
                        missing = "secret= names no [secret.NAME] section";
                if (missing)
                        return conf_error(ret_error, "[check.%s]: %s", k->name, missing);
        }
        return 0;
}
