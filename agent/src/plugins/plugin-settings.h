/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * [plugin.NAME]: one plugin each, owned by the plugins layer.
 *
 *   unit = ingest.service          the systemd service agentd starts and stops
 *   unit = worker@.service         a template: with instances=N, worker@1..N
 *   instances = 4
 *   exec = /usr/libexec/x --dev    where systemd is not on the bus (development,
 *                                  tests): agentd runs it itself; "%i" is the
 *                                  instance number
 *   start_after = bootstrap        the only stage today
 *   health = http://localhost/health   turned into [check.plugin-NAME] by the daemon
 *   health_socket = /run/x/health.sock  that URL through a unix socket
 *   metrics = http://127.0.0.1:9101/metrics   Prometheus text, scraped by the
 *                                  metrics work (stored and shown here)
 *   drain_timeout = 30s            how long a stop may take at drain
 *   critical = yes                 a failed plugin fails the agent
 *
 * The daemon lists plugin_conf_section in its ConfTable, runs
 * plugin_settings_verify() and hands the items to plugins_new().
 */

#include <stdbool.h>
#include <stddef.h>

#include "conf-parser.h"
#include "macro.h"

#define PLUGIN_MAX 32
#define PLUGIN_MAX_INSTANCES 64
/* agentd.service's TimeoutStopSec is 90 s: every drain step must fit. */
#define PLUGIN_MAX_DRAIN_TIMEOUT (80 * USEC_PER_SEC)
#define PLUGIN_DEFAULT_DRAIN_TIMEOUT (30 * USEC_PER_SEC)

typedef enum PluginStage {
        PLUGIN_START_BOOTSTRAP,         /* identity, secrets and every [render.*] in place */
        _PLUGIN_STAGE_MAX,
} PluginStage;

typedef struct PluginSettings {
        char *name;             /* NAME of [plugin.NAME] */
        char *unit;             /* NAME.service, or a template NAME@.service */
        unsigned instances;     /* templates: 1..PLUGIN_MAX_INSTANCES; else 0 */
        char *exec;             /* the development runner's command */
        PluginStage start_after;
        char *health;           /* URL, or NULL */
        char *health_socket;    /* unix socket path for health=, or NULL */
        char *metrics;          /* URL, or NULL */
        usec_t drain_timeout;
        bool critical;
} PluginSettings;

extern const ConfSection plugin_conf_section;

int plugin_settings_init(void *item);
void plugin_settings_done(void *item);

/* Value syntaxes of the section, exposed for tests. */
int plugin_parse_unit(const char *v, void *field, const char **reason);
int plugin_parse_instances(const char *v, void *field, const char **reason);
int plugin_parse_stage(const char *v, void *field, const char **reason);
int plugin_parse_drain_timeout(const char *v, void *field, const char **reason);

/* Across keys and sections, after all files: unit= or exec= set, a template
 * unit with instances= (and only then), health_socket= only with health=, no
 * two plugins on one unit. *ret_error: "[plugin.NAME]: ...". */
int plugin_settings_verify(PluginSettings *const *list, size_t n, char **ret_error);

bool plugin_settings_is_template(const PluginSettings *s);
/* The units a plugin runs: "NAME.service", or "NAME@I.service" for I in
 * 1..instances. index is 0-based. */
int plugin_settings_unit_name(const PluginSettings *s, unsigned index, char **ret);
/* exec= with every "%i" replaced by the instance number (1-based; "1" for a
 * plain unit) and "%%" by "%". */
int plugin_settings_command(const PluginSettings *s, unsigned index, char **ret);
/* How many runnable instances: instances= for templates, else 1. */
unsigned plugin_settings_count(const PluginSettings *s);
const char *plugin_stage_to_string(PluginStage s);
