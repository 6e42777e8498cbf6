/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "conf"

#include <stdio.h>

#include "conf.h"
#include "log.h"

/* [agent]: the daemon's own keys, relative to Config. */
#define AGENT_ITEM(k, p, f) { k, p, offsetof(Config, f) }
static const ConfItem agent_items[] = {
        AGENT_ITEM("log_level", conf_parse_log_level, log_level),
        AGENT_ITEM("control_socket", conf_parse_socket_path, control_socket),
        AGENT_ITEM("bootstrap_timeout", conf_parse_duration, bootstrap_timeout),
        AGENT_ITEM("state_dir", conf_parse_abs_path, state_dir),
        {}
};
static const ConfSection agent_conf_section = { .name = "agent", .items = agent_items };


/* [vars] takes any key (a template variable name); later files win. */
static int var_set(void *section, const char *key, const char *value, const char **reason) {
        TemplateVars *v = section;
        char **n, **x;

        if (!conf_name_valid(key)) {
                *reason = "invalid variable name (letters, digits, '_' and '-', at most 64)";
                return -EINVAL;
        }
        for (size_t i = 0; i < v->n; i++)
                if (streq(v->names[i], key))
                        return free_and_strdup(&v->values[i], value);
        if (v->n >= AGENTD_MAX_VARS) {
                *reason = "more than 256 variables";
                return -E2BIG;
        }
        n = realloc(v->names, (v->n + 1) * sizeof(char *));
        if (!n)
                return -ENOMEM;
        v->names = n;
        x = realloc(v->values, (v->n + 1) * sizeof(char *));
        if (!x)
                return -ENOMEM;
        v->values = x;
        v->names[v->n] = strdup(key);
        v->values[v->n] = strdup(value);
        if (!v->names[v->n] || !v->values[v->n]) {
                free(v->names[v->n]);
                free(v->values[v->n]);
                return -ENOMEM;
        }
        v->n++;
        return 0;
}
static const ConfSection vars_conf_section = { .name = "vars", .set = var_set };

/* Every section agentd reads, and where its settings live. */
static const ConfSectionRef config_sections[] = {
        { &agent_conf_section, 0 },
        { &imds_conf_section, offsetof(Config, imds) },
        { &aws_conf_section, offsetof(Config, aws) },
        { &secret_conf_section, offsetof(Config, secrets) },
        { &render_conf_section, offsetof(Config, renders) },
        { &health_conf_section, offsetof(Config, health) },
        { &check_conf_section, offsetof(Config, checks) },
        { &plugin_conf_section, offsetof(Config, plugins) },
        { &vars_conf_section, offsetof(Config, vars) },
        { &metrics_conf_section, offsetof(Config, metrics) },
        { &logs_conf_section, offsetof(Config, logs) },
        { &log_source_conf_section, offsetof(Config, log_sources) },
        { &lifecycle_conf_section, offsetof(Config, lifecycle) },
};
static const ConfTable config_table = { config_sections, ELEMENTSOF(config_sections) };

int config_new(Config **ret) {
        _cleanup_(config_freep) Config *c = calloc(1, sizeof(Config));

        if (!c)
                return -ENOMEM;
        c->log_level = -1;
        c->bootstrap_timeout = 5 * USEC_PER_MINUTE;
        c->control_socket = strdup(AGENTD_DEFAULT_CONTROL_SOCKET);
        c->state_dir = strdup(AGENTD_STATE_DIR);
        if (!c->control_socket || !c->state_dir || imds_settings_init(&c->imds) < 0 ||
            aws_settings_init(&c->aws) < 0 || health_settings_init(&c->health) < 0 ||
            lifecycle_settings_init(&c->lifecycle) < 0 ||
            metrics_settings_init(&c->metrics) < 0 ||
            logs_settings_init(&c->logs) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        free(c->control_socket);
        free(c->state_dir);
        imds_settings_done(&c->imds);
        aws_settings_done(&c->aws);
        conf_list_free(&c->secrets, &secret_conf_section);
        conf_list_free(&c->renders, &render_conf_section);
        health_settings_done(&c->health);
        metrics_settings_done(&c->metrics);
        conf_list_free(&c->checks, &check_conf_section);
        conf_list_free(&c->plugins, &plugin_conf_section);
        for (size_t i = 0; i < c->vars.n; i++) {
                free(c->vars.names[i]);
                free(c->vars.values[i]);
        }
        free(c->vars.names);
        free(c->vars.values);
        lifecycle_settings_done(&c->lifecycle);
        logs_settings_done(&c->logs);
        conf_list_free(&c->log_sources, &log_source_conf_section);
        for (size_t i = 0; i < c->n_sources; i++)
                free(c->sources[i]);
        free(c->sources);
        return mfree(c);
}

int config_parse_file(Config *c, const char *filename, char **ret_error) {
        char **a;
        int r = conf_parse_file(&config_table, c, filename, ret_error);

        if (r < 0)
                return r;
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
        return conf_list_find(&c->secrets, &secret_conf_section, name) != NULL;
}

/* Each plugin's health= as a check of the health layer (which the plugins
 * layer may not see): after the health verify, so a config whose only
 * checks are plugins' still gets the default fpm check. */
static int add_plugin_checks(Config *c, char **ret_error) {
        for (size_t i = 0; i < c->plugins.n; i++) {
                const PluginSettings *p = config_plugins(c)[i];
                _cleanup_free_ char *name = NULL;
                int r;

                if (!p->health)
                        continue;
                if (asprintf(&name, PLUGIN_CHECK_PREFIX "%s", p->name) < 0)
                        return -ENOMEM;
                r = check_settings_add_http(&c->checks, name, p->health, p->health_socket, p->critical,
                                            PLUGIN_CHECK_INTERVAL, 1, 2);
                if (r == -EEXIST) {
                        const CheckSettings *k = conf_list_find(&c->checks, &check_conf_section, name);
                        /* Verified twice: ours already. */
                        if (k->type == CHECK_HTTP && streq_ptr(k->url, p->health) &&
                            streq_ptr(k->unix_socket, p->health_socket))
                                continue;
                }
                if (r == -EEXIST)
                        return conf_error(ret_error, "[plugin.%s]: health= adds the check [check.%s], which is "
                                          "configured already: rename that section", p->name, name);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A [render.NAME] whose reload= names a plugin's unit (its credentials
 * file): reloaded only while the plugin runs. At bootstrap the plugin is
 * not started yet, and ReloadOrRestartUnit would start it before agentd
 * does; after a rotation the running plugin gets its ExecReload= (SIGHUP). */
static int link_plugin_renders(Config *c) {
        for (size_t i = 0; i < c->renders.n; i++) {
                RenderSettings *rs = config_renders(c)[i];

                for (size_t j = 0; rs->reload && j < c->plugins.n; j++) {
                        const PluginSettings *p = config_plugins(c)[j];
                        for (unsigned k = 0; k < plugin_settings_count(p); k++) {
                                _cleanup_free_ char *unit = NULL;
                                int r = plugin_settings_unit_name(p, k, &unit);
                                if (r == -ENOENT)
                                        break;
                                if (r < 0)
                                        return r;
                                if (streq(unit, rs->reload))
                                        rs->reload_if_running = true;
                        }
                }
        }
        return 0;
}

int config_verify(Config *c, char **ret_error) {
        int r;

        r = imds_settings_verify(&c->imds, ret_error);
        if (r >= 0)
                r = aws_settings_verify(&c->aws, ret_error);
        if (r >= 0)
                r = secret_settings_verify(config_secrets(c), c->secrets.n, ret_error);
        if (r >= 0)
                r = render_settings_verify(config_renders(c), c->renders.n, ret_error);
        if (r >= 0)
                r = health_settings_verify(&c->health, &c->checks, secret_exists, c, ret_error);
        if (r >= 0)
                r = lifecycle_settings_verify(&c->lifecycle, ret_error);
        if (r >= 0)
                r = metrics_settings_verify(&c->metrics, ret_error);
        if (r >= 0)
                r = plugin_settings_verify(config_plugins(c), c->plugins.n, ret_error);
        if (r >= 0)
                r = add_plugin_checks(c, ret_error);
        if (r >= 0)
                r = link_plugin_renders(c);
        if (r >= 0)
                r = logs_settings_verify(&c->logs, config_log_sources(c), c->log_sources.n, ret_error);
        return r;
}

int config_load(const char *path, Config **ret, char **ret_error) {
        _cleanup_(config_freep) Config *c = NULL;
        int r;

        if (ret_error)
                *ret_error = NULL;
        r = config_new(&c);
        if (r < 0)
                return r;
        r = conf_parse_path(&config_table, c, path ?: AGENTD_CONF_DIR, "agentd.conf", "agentd.conf.d", &c->sources,
                            &c->n_sources, ret_error);
        if (r < 0)
                return r;
        r = config_verify(c, ret_error);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}
