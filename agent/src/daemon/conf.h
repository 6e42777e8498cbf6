/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Configuration: /etc/agentd/agentd.conf, then /etc/agentd/agentd.conf.d/
 * *.conf in lexical order, later values winning. Every section and key is
 * declared in a table in conf.c; anything else, and any value that does not
 * parse, is an error naming file:line, section and key, and the whole load
 * fails: agentd does not start on a config it does not fully understand.
 *
 * Named sections ("[secret.db]") become one entry each in a list.
 */

#include <stdbool.h>
#include <stdint.h>

#include "aws-settings.h"
#include "macro.h"

#define AGENTD_CONF_DIR "/etc/agentd"
#define AGENTD_DEFAULT_CONTROL_SOCKET "/run/agentd/control.sock"

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

#define CHECK_MAX 32

typedef struct CheckConfig {
        char *name;             /* NAME of [check.NAME] */
        CheckType type;
        usec_t interval;
        usec_t timeout;
        bool critical;
        unsigned rise, fall;
        /* http */
        char *url;
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
} CheckConfig;

#define HEALTH_DEFAULT_LISTEN "127.0.0.1:8081, unix:/run/agentd/health.sock"

typedef struct RenderConfig {
        char *name;             /* NAME of [render.NAME] */
        char *template_path;
        char *target;
        char *format;           /* NULL: from the template's name */
        int mode;               /* -1: 0640 if it uses a secret, else 0644 */
        char *owner;
        char *group;
        char *validate;         /* command, "{}" → the staged file */
        char *reload;           /* systemd unit, reloaded over D-Bus */
        char *reload_command;   /* when systemd is not reachable */
} RenderConfig;

#define AGENTD_TEMPLATE_DIR "/usr/share/agentd/templates"
#define AGENTD_STATE_DIR "/var/lib/agentd"

typedef struct Config {
        /* [agent] */
        int log_level;                  /* -1: not set */
        char *control_socket;
        usec_t bootstrap_timeout;
        char *state_dir;

        ImdsSettings imds;              /* [imds] */
        AwsSettings aws;                /* [aws] */

        /* [logs], [lifecycle]: parsed and validated now; acted on by the log
         * shipping and lifecycle subsystems. */
        char *log_group;
        char *asg_name;
        char *launch_hook;
        char *terminate_hook;
        usec_t drain_timeout;

        /* [health] */
        char *health_listen;            /* comma-separated HOST:PORT, unix:PATH */
        unsigned health_max_connections;
        usec_t health_connection_timeout;
        bool health_default_check;

        /* [check.NAME] */
        CheckConfig **checks;
        size_t n_checks;

        /* [secret.NAME] */
        SecretSettings **secrets;
        size_t n_secrets;

        /* [render.NAME] */
        RenderConfig **renders;
        size_t n_renders;

        /* [vars]: free-form template variables vars.KEY */
        char **var_names;
        char **var_values;
        size_t n_vars;

        /* Where it came from, for status output. */
        char **sources;
        size_t n_sources;
} Config;

/* Defaults only; never fails but for -ENOMEM. */
int config_new(Config **ret);
Config *config_free(Config *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Config *, config_free);

/* path: a directory (agentd.conf + agentd.conf.d/ in it), a file, or NULL
 * for AGENTD_CONF_DIR. On error *ret_error (if given) gets the message, which
 * is also what the caller should print. */
int config_load(const char *path, Config **ret, char **ret_error);

/* Parse one file into c; exposed for tests. */
int config_parse_file(Config *c, const char *filename, char **ret_error);
/* Checks across keys, after all files. */
int config_verify(Config *c, char **ret_error);

const char *check_type_to_string(CheckType t);
CheckType check_type_from_string(const char *s);
/* "10%" or a size ("512MiB"); a bare number is bytes (or inodes). */
int parse_threshold(const char *s, Threshold *ret);
