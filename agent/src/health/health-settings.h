/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What [health] and [check.NAME] say, owned by the health layer: the
 * settings structs, their key tables (ConfSection objects the daemon lists
 * in its ConfTable), the value syntaxes only they use, defaults, and the
 * checks across keys (health_settings_verify()). The config engine knows
 * none of this; the health server and the checks read only these structs.
 */

#include <stdbool.h>
#include <stdint.h>

#include "conf-parser.h"
#include "macro.h"

#define HEALTH_DEFAULT_LISTEN "127.0.0.1:8081, unix:/run/agentd/health.sock"
#define HEALTH_DEFAULT_SOCKET_GROUP "www-data"         /* nginx's workers on Debian */
/* libmicrohttpd daemons, one per address: a handful is plenty. */
#define HEALTH_MAX_LISTEN 8
#define CHECK_MAX 32

typedef struct HealthSettings {
        char *listen;                   /* comma-separated HOST:PORT, [V6]:PORT, unix:PATH */
        unsigned max_connections;       /* per address; past it the oldest waiting client is closed */
        unsigned max_connections_per_peer; /* per IP address (TCP) or uid (unix socket) */
        usec_t timeout;                 /* idle connection */
        usec_t request_timeout;         /* the whole request, from accept (or the previous answer) */
        char *socket_group;             /* group of unix sockets (0660); NULL: www-data if it exists */
        bool default_check;             /* no [check.*]: add the php-fpm ping */
} HealthSettings;

typedef enum CheckType {
        CHECK_HTTP,
        CHECK_TCP,
        CHECK_MYSQL,
        CHECK_DISK,
        CHECK_MEMORY,
        CHECK_UNIT,
        CHECK_EXEC,
        _CHECK_TYPE_MAX,
        _CHECK_TYPE_INVALID = -1,
} CheckType;

/* A size or a percentage of a total: "512MiB", "10%". */
typedef struct Threshold {
        uint64_t value;         /* bytes (or inodes), or percent when .percent */
        bool percent;
        bool set;
} Threshold;

typedef struct CheckSettings {
        char *name;             /* NAME of [check.NAME] */
        CheckType type;
        usec_t interval;
        usec_t timeout;
        bool critical;
        unsigned rise, fall;
        /* http */
        char *url;
        char *unix_socket;      /* connect here instead of the URL's host */
        unsigned expect_status;
        char *expect_body;
        /* tcp */
        char *target;
        /* mysql (and tcp: host/port from secret= when target= is unset) */
        char *host;
        unsigned port;
        char *user;
        char *database;
        char *secret;
        char *password_file;
        /* disk */
        char *path;
        Threshold min_free;
        Threshold min_free_inodes;
        /* memory */
        Threshold min_available;
        /* unit */
        char *unit;
        /* exec */
        char *command;
} CheckSettings;

/* [health] (plain, items relative to HealthSettings) and [check.NAME]
 * (named: a ConfList of CheckSettings, at most CHECK_MAX). */
extern const ConfSection health_conf_section;
extern const ConfSection check_conf_section;

/* Defaults; -ENOMEM only. */
int health_settings_init(HealthSettings *s);
void health_settings_done(HealthSettings *s);

/* Does [secret.NAME] exist? The verifier cannot see other layers' sections. */
typedef bool (*HealthSecretExists)(const char *name, void *userdata);

/* After all files: with no [check.*] and default_check=yes adds [check.fpm]
 * (php-fpm's ping through nginx), then checks what each type needs, that
 * timeout < interval, that target= is HOST:PORT and that secret= names a
 * secret (secret_exists NULL: none exists). -EINVAL with *ret_error
 * "[check.NAME]: ..."; -ENOMEM. */
int health_settings_verify(HealthSettings *s, ConfList *checks, HealthSecretExists secret_exists, void *userdata,
                           char **ret_error);

/* Appends an http check (another layer's, e.g. a plugin's health=) with
 * the defaults of [check.NAME] but interval, rise and fall given: -EEXIST
 * when a check of that name exists, -ENOMEM. */
int check_settings_add_http(ConfList *checks, const char *name, const char *url, const char *unix_socket,
                            bool critical, usec_t interval, unsigned rise, unsigned fall);

const char *check_type_to_string(CheckType t);
CheckType check_type_from_string(const char *s);
/* "10%" or a size ("512MiB"); a bare number is bytes (or inodes). */
int threshold_parse(const char *s, Threshold *ret);

/* The value syntaxes of these sections, for the tables. */
int health_conf_parse_listen(const char *v, void *field, const char **reason);
int health_conf_parse_connections(const char *v, void *field, const char **reason);
int health_conf_parse_request_timeout(const char *v, void *field, const char **reason);
int check_conf_parse_type(const char *v, void *field, const char **reason);
int check_conf_parse_rise_fall(const char *v, void *field, const char **reason);
int check_conf_parse_http_status(const char *v, void *field, const char **reason);
int check_conf_parse_threshold(const char *v, void *field, const char **reason);
int check_conf_parse_interval(const char *v, void *field, const char **reason);
