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

#include "conf-parser.h"
#include "health-settings.h"
#include "macro.h"
#include "render-settings.h"

#define AGENTD_CONF_DIR "/etc/agentd"
#define AGENTD_DEFAULT_CONTROL_SOCKET "/run/agentd/control.sock"

typedef enum AwsService {
        AWS_SERVICE_SECRETSMANAGER,
        AWS_SERVICE_LOGS,
        AWS_SERVICE_MONITORING,
        AWS_SERVICE_AUTOSCALING,
        _AWS_SERVICE_MAX,
} AwsService;

typedef struct SecretConfig {
        char *name;             /* NAME of [secret.NAME] */
        char *id;               /* ARN or name */
        char *version_stage;
        usec_t refresh;
} SecretConfig;

#define AGENTD_STATE_DIR "/var/lib/agentd"

typedef struct Config {
        /* [agent] */
        int log_level;                  /* -1: not set */
        char *control_socket;
        usec_t bootstrap_timeout;
        char *state_dir;

        /* [imds] */
        bool imds_enabled;
        char *imds_endpoint;
        usec_t imds_boot_deadline;
        usec_t imds_timeout;
        unsigned imds_token_ttl;        /* seconds */

        /* [aws] */
        char *region;
        char *endpoint_url;
        char *service_endpoint_url[_AWS_SERVICE_MAX];
        unsigned max_attempts;
        usec_t connect_timeout;
        usec_t request_timeout;
        uint64_t max_response_size;

        /* [logs], [lifecycle]: parsed and validated now; acted on by the log
         * shipping and lifecycle subsystems. */
        char *log_group;
        char *asg_name;
        char *launch_hook;
        char *terminate_hook;
        usec_t drain_timeout;

        /* [health] */
        HealthSettings health;

        /* [check.NAME]: CheckSettings items (check_conf_section) */
        ConfList checks;

        /* [secret.NAME] */
        SecretConfig **secrets;
        size_t n_secrets;

        /* [render.NAME] (render-settings.h) */
        RenderSettings **renders;
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

const char *aws_service_to_string(AwsService s);
/* The SDK's service id for AWS_ENDPOINT_URL_<ID>, e.g. "SECRETS_MANAGER". */
const char *aws_service_env_id(AwsService s);
