/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "parse-util.h"
#include "plugin-settings.h"

#define ITEM(k, p, f) { k, p, offsetof(PluginSettings, f) }
static const ConfItem plugin_items[] = {
        ITEM("unit", plugin_parse_unit, unit),
        ITEM("instances", plugin_parse_instances, instances),
        ITEM("exec", conf_parse_string, exec),
        ITEM("start_after", plugin_parse_stage, start_after),
        ITEM("health", conf_parse_url, health),
        ITEM("health_socket", conf_parse_socket_path, health_socket),
        ITEM("metrics", conf_parse_url, metrics),
        ITEM("drain_timeout", plugin_parse_drain_timeout, drain_timeout),
        ITEM("critical", conf_parse_bool, critical),
        {}
};

const ConfSection plugin_conf_section = {
        .name = "plugin",
        .items = plugin_items,
        .named = true,
        .max = PLUGIN_MAX,
        .size = sizeof(PluginSettings),
        .name_offset = offsetof(PluginSettings, name),
        .init = plugin_settings_init,
        .done = plugin_settings_done,
};

static const char *const stage_names[_PLUGIN_STAGE_MAX] = {
        [PLUGIN_START_BOOTSTRAP] = "bootstrap",
};

const char *plugin_stage_to_string(PluginStage s) {
        return s >= 0 && s < _PLUGIN_STAGE_MAX ? stage_names[s] : "invalid";
}

int plugin_settings_init(void *item) {
        *(PluginSettings *) item = (PluginSettings) {
                .start_after = PLUGIN_START_BOOTSTRAP,
                .drain_timeout = PLUGIN_DEFAULT_DRAIN_TIMEOUT,
                .critical = true,
        };
        return 0;
}

void plugin_settings_done(void *item) {
        PluginSettings *s = item;

        free(s->unit);
        free(s->exec);
        free(s->health);
        free(s->health_socket);
        free(s->metrics);
}

/* A service, or a template "NAME@.service"; never an instance "NAME@x"
 * (instances= says how many) nor anything but a service. */
int plugin_parse_unit(const char *v, void *field, const char **reason) {
        const char *at = strchr(v, '@');
        size_t l = strlen(v);

        if (l < 9 || l > 255 || !streq(v + l - 8, ".service") || v[0] == '@' || strpbrk(v, " /\\\t%") ||
            (at && (at != v + l - 9 || strchr(at + 1, '@')))) {
                *reason = "not a systemd service (ingest.service) or service template (worker@.service)";
                return -EINVAL;
        }
        return conf_parse_string(v, field, reason);
}

int plugin_parse_instances(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 1, PLUGIN_MAX_INSTANCES, field);
        if (r < 0)
                *reason = "not a number from 1 to 64";
        return r;
}

int plugin_parse_stage(const char *v, void *field, const char **reason) {
        for (PluginStage s = 0; s < _PLUGIN_STAGE_MAX; s++)
                if (streq(v, stage_names[s])) {
                        *(PluginStage *) field = s;
                        return 0;
                }
        *reason = "not a start stage (bootstrap)";
        return -EINVAL;
}

int plugin_parse_drain_timeout(const char *v, void *field, const char **reason) {
        usec_t u;
        int r = parse_duration(v, &u);

        if (r < 0 || u < USEC_PER_SEC || u > PLUGIN_MAX_DRAIN_TIMEOUT) {
                *reason = "not a duration from 1s to 80s (agentd.service's TimeoutStopSec is 90s)";
                return -EINVAL;
        }
        *(usec_t *) field = u;
        return 0;
}

bool plugin_settings_is_template(const PluginSettings *s) {
        return s->unit && strchr(s->unit, '@');
}

unsigned plugin_settings_count(const PluginSettings *s) {
        return plugin_settings_is_template(s) ? MAX(s->instances, 1u) : 1;
}

int plugin_settings_unit_name(const PluginSettings *s, unsigned index, char **ret) {
        if (!s->unit)
                return -ENOENT;
        if (!plugin_settings_is_template(s))
                *ret = strdup(s->unit);
        else if (asprintf(ret, "%.*s%u.service", (int) (strchr(s->unit, '@') - s->unit + 1), s->unit,
                          index + 1) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

int plugin_settings_command(const PluginSettings *s, unsigned index, char **ret) {
        char num[16], *out, *o;
        size_t n = 0;

        if (!s->exec)
                return -ENOENT;
        snprintf(num, sizeof(num), "%u", index + 1);
        for (const char *p = s->exec; *p; p++)
                n += p[0] == '%' && p[1] == 'i' ? strlen(num) : 1;
        out = o = malloc(n + 1);
        if (!out)
                return -ENOMEM;
        for (const char *p = s->exec; *p; p++) {
                if (p[0] == '%' && p[1] == 'i') {
                        o = stpcpy(o, num);
                        p++;
                } else if (p[0] == '%' && p[1] == '%') {
                        *o++ = '%';
                        p++;
                } else
                        *o++ = *p;
        }
        *o = 0;
        *ret = out;
        return 0;
}

int plugin_settings_verify(PluginSettings *const *list, size_t n, char **ret_error) {
        for (size_t i = 0; i < n; i++) {
                const PluginSettings *s = list[i];

                if (!s->unit && !s->exec)
                        return conf_error(ret_error, "[plugin.%s]: unit= (the systemd service) or exec= (the "
                                          "development runner) is required", s->name);
                if (plugin_settings_is_template(s) && s->instances == 0)
                        return conf_error(ret_error, "[plugin.%s]: unit=%s is a template: instances= says how many "
                                          "to run", s->name, s->unit);
                if (!plugin_settings_is_template(s) && s->instances > 0)
                        return conf_error(ret_error, "[plugin.%s]: instances= needs a template unit (NAME@.service)",
                                          s->name);
                if (s->health_socket && !s->health)
                        return conf_error(ret_error, "[plugin.%s]: health_socket= needs health= (the URL to ask "
                                          "through it)", s->name);
                for (size_t j = 0; j < i; j++)
                        if (s->unit && streq_ptr(list[j]->unit, s->unit))
                                return conf_error(ret_error, "[plugin.%s] and [plugin.%s] both run %s",
                                                  list[j]->name, s->name, s->unit);
        }
        return 0;
}
