/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The whole configuration: /etc/agentd/agentd.conf, then /etc/agentd/
 * agentd.conf.d/ *.conf in lexical order, later values winning. The config
 * engine (base/conf-parser.h) reads them against the sections each layer
 * declares with its settings; this file only says where each section's
 * settings live in Config, owns the daemon's own sections ([agent], [vars]
 * and [vars]) and runs every
 * layer's cross-key checks. Anything not declared, and any value that does
 * not parse, is an error naming file:line, section and key, and the whole
 * load fails: agentd does not start on a config it does not fully
 * understand.
 */

#include <stdbool.h>
#include <stdint.h>

#include "aws-settings.h"
#include "conf-parser.h"
#include "health-settings.h"
#include "lifecycle-settings.h"
#include "logs-settings.h"
#include "macro.h"
#include "metrics-settings.h"
#include "plugin-settings.h"
#include "render-settings.h"

#define AGENTD_CONF_DIR "/etc/agentd"
#define AGENTD_DEFAULT_CONTROL_SOCKET "/run/agentd/control.sock"
#define AGENTD_STATE_DIR "/var/lib/agentd"
#define AGENTD_MAX_VARS 256

/* [vars]: free-form template variables vars.KEY. */
typedef struct TemplateVars {
        char **names;
        char **values;
        size_t n;
} TemplateVars;

typedef struct Config {
        /* [agent] */
        int log_level;                  /* -1: not set */
        char *control_socket;
        usec_t bootstrap_timeout;
        char *state_dir;

        ImdsSettings imds;              /* [imds] */
        AwsSettings aws;                /* [aws] */
        ConfList secrets;               /* [secret.NAME]: SecretSettings */
        ConfList renders;               /* [render.NAME]: RenderSettings */
        HealthSettings health;          /* [health] */
        ConfList checks;                /* [check.NAME]: CheckSettings, and [check.plugin-NAME] from
                                         * each [plugin.NAME] health= */
        ConfList plugins;               /* [plugin.NAME]: PluginSettings */
        TemplateVars vars;              /* [vars] */
        MetricsSettings metrics;        /* [metrics] */
        LifecycleSettings lifecycle;    /* [lifecycle] */
        LogsSettings logs;              /* [logs] */
        ConfList log_sources;           /* [logs.NAME]: LogSourceSettings */


        /* Where it came from, for status output. */
        char **sources;
        size_t n_sources;
} Config;

/* The named-section lists as the layers take them. */
#define config_secrets(c) ((SecretSettings *const *) (c)->secrets.items)
#define config_renders(c) ((RenderSettings *const *) (c)->renders.items)
#define config_checks(c) ((CheckSettings *const *) (c)->checks.items)
#define config_plugins(c) ((PluginSettings *const *) (c)->plugins.items)

/* A plugin's health= becomes the http check [check.plugin-NAME], sampled
 * every 5 s, failing after 2 failed samples, passing after 1. */
#define PLUGIN_CHECK_PREFIX "plugin-"
#define PLUGIN_CHECK_INTERVAL (5 * USEC_PER_SEC)
/* ... and once soon after the plugin came up (its socket may lag its start). */
#define PLUGIN_CHECK_FIRST_DELAY (500 * USEC_PER_MSEC)
#define config_log_sources(c) ((LogSourceSettings *const *) (c)->log_sources.items)

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
