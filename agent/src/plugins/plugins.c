/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "plugin"

/*
 * The set of plugins: built from the settings (copied), started per stage,
 * stopped all at once at drain. The runner is decided once, on the first
 * start: if any plugin has a unit, ask systemd to Subscribe on the system
 * bus; an answer means systemd runs every plugin that has a unit, no
 * answer (no bus, nobody owning org.freedesktop.systemd1) means exec= runs
 * them. A plugin with exec= only always uses the process runner. Starting
 * waits for that decision; stopping does not start anything.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "plugin-internal.h"
#include "plugins.h"

/* On top of the longest drain_timeout: systemd's JobRemoved after a
 * TimeoutStopSec that equals it, the exec runner's SIGKILL and reap. */
#define STOP_MARGIN (3 * USEC_PER_SEC)

static const char *const state_names[_PLUGIN_STATE_MAX] = {
        [PLUGIN_STATE_WAITING] = "waiting", [PLUGIN_STATE_STARTING] = "starting",
        [PLUGIN_STATE_RUNNING] = "running", [PLUGIN_STATE_RESTARTING] = "restarting",
        [PLUGIN_STATE_STOPPING] = "stopping", [PLUGIN_STATE_STOPPED] = "stopped",
        [PLUGIN_STATE_FAILED] = "failed",
};

const char *plugin_state_to_string(PluginState s) {
        return s >= 0 && s < _PLUGIN_STATE_MAX ? state_names[s] : "unknown";
}

static const char *runner_name(PluginRunner r) {
        return r == PLUGIN_RUNNER_SYSTEMD ? "systemd" : r == PLUGIN_RUNNER_EXEC ? "exec" : NULL;
}

const char *plugins_runner(const Plugins *ps) {
        return ps ? runner_name(ps->runner) : NULL;
}

size_t plugins_count(const Plugins *ps) {
        return ps ? ps->n : 0;
}

void plugin_set_state(Plugin *p, PluginState s, const char *fmt, ...) {
        static const ComponentState cs[_PLUGIN_STATE_MAX] = {
                [PLUGIN_STATE_WAITING] = COMPONENT_STARTING, [PLUGIN_STATE_STARTING] = COMPONENT_STARTING,
                [PLUGIN_STATE_RUNNING] = COMPONENT_OK, [PLUGIN_STATE_RESTARTING] = COMPONENT_DEGRADED,
                [PLUGIN_STATE_STOPPING] = COMPONENT_OK, [PLUGIN_STATE_STOPPED] = COMPONENT_DISABLED,
                [PLUGIN_STATE_FAILED] = COMPONENT_FAILED,
        };
        PluginState old = p->state;
        char detail[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
        p->state = s;
        if (s == PLUGIN_STATE_FAILED || (s == PLUGIN_STATE_RESTARTING && old != s))
                component_error(&p->component, cs[s], "%s", detail);
        else
                component_set(&p->component, cs[s], "%s", detail);
        if (old != s) {
                int level = s == PLUGIN_STATE_FAILED ? LOG_ERR : s == PLUGIN_STATE_RESTARTING ? LOG_WARNING : LOG_INFO;
                log_full(level, "%s: %s → %s: %s", p->name, plugin_state_to_string(old), plugin_state_to_string(s),
                         detail);
        }
        agent_callback_invoke(p->owner->cb, p->owner,
                              &(AgentEvent) { .type = PLUGINS_EVENT_CHANGED, .name = p->name, .reason = detail },
                              p->owner->userdata);
        if (s == PLUGIN_STATE_RUNNING && old != s)
                agent_callback_invoke(p->owner->cb, p->owner,
                                      &(AgentEvent) { .type = PLUGINS_EVENT_RUNNING, .name = p->plugin },
                                      p->owner->userdata);
        if (s == PLUGIN_STATE_STOPPED || s == PLUGIN_STATE_FAILED)
                plugins_check_stopped(p->owner);
}

static int plugin_append_json(const Component *c, cJSON *o) {
        const Plugin *p = container_of(c, Plugin, component);

        if (!cJSON_AddStringToObject(o, "plugin", p->plugin) ||
            !cJSON_AddStringToObject(o, "run_state", plugin_state_to_string(p->state)) ||
            !cJSON_AddStringToObject(o, "runner", runner_name(p->runner) ?: "none") ||
            (p->unit && !cJSON_AddStringToObject(o, "unit", p->unit)) ||
            (p->active_state[0] && !cJSON_AddStringToObject(o, "active_state", p->active_state)) ||
            (p->sub_state[0] && !cJSON_AddStringToObject(o, "sub_state", p->sub_state)) ||
            !cJSON_AddNumberToObject(o, "main_pid", p->main_pid) ||
            !cJSON_AddNumberToObject(o, "restarts", p->restarts) ||
            (p->last_exit[0] ? !cJSON_AddStringToObject(o, "last_exit", p->last_exit)
                             : !cJSON_AddNullToObject(o, "last_exit")) ||
            (p->health && !cJSON_AddStringToObject(o, "health", p->health)) ||
            (p->metrics && !cJSON_AddStringToObject(o, "metrics", p->metrics)))
                return -ENOMEM;
        return 0;
}

static Plugin *plugin_free(Plugin *p) {
        if (!p)
                return NULL;
        plugin_unit_forget(p);
        plugin_exec_forget(p);
        component_done(&p->component);
        free(p->name);
        free(p->plugin);
        free(p->unit);
        free(p->command);
        free(p->health);
        free(p->metrics);
        return mfree(p);
}

static int plugin_new(Plugins *ps, const PluginSettings *s, unsigned index, Plugin **ret) {
        Plugin *p = calloc(1, sizeof(*p));
        int r = 0;

        if (!p)
                return -ENOMEM;
        *p = (Plugin) { .owner = ps, .stage = s->start_after, .drain_timeout = s->drain_timeout,
                        .backoff = { .base = 500 * USEC_PER_MSEC, .cap = 30 * USEC_PER_SEC } };
        if ((plugin_settings_is_template(s) ? asprintf(&p->name, "plugin.%s@%u", s->name, index + 1)
                                            : asprintf(&p->name, "plugin.%s", s->name)) < 0) {
                p->name = NULL;
                r = -ENOMEM;
        }
        if (r >= 0 && s->unit)
                r = plugin_settings_unit_name(s, index, &p->unit);
        if (r >= 0 && s->exec)
                r = plugin_settings_command(s, index, &p->command);
        if (r >= 0 && (!(p->plugin = strdup(s->name)) || (s->health && !(p->health = strdup(s->health))) ||
                       (s->metrics && !(p->metrics = strdup(s->metrics)))))
                r = -ENOMEM;
        if (r < 0) {
                plugin_free(p);
                return r;
        }
        component_init(&p->component, p->name, s->critical);
        p->component.append_json = plugin_append_json;
        component_set(&p->component, COMPONENT_STARTING, "waiting for %s", plugin_stage_to_string(s->start_after));
        *ret = p;
        return 0;
}

int plugins_new(sd_event *e, PluginSettings *const *list, size_t n, AgentCallback cb, void *userdata,
                Plugins **ret) {
        _cleanup_(plugins_freep) Plugins *ps = calloc(1, sizeof(Plugins));

        if (!ps)
                return -ENOMEM;
        ps->event = sd_event_ref(e);
        ps->cb = cb;
        ps->userdata = userdata;
        for (size_t i = 0; i < n; i++)
                for (unsigned k = 0; k < plugin_settings_count(list[i]); k++) {
                        Plugin *p;
                        int r = plugin_new(ps, list[i], k, &p);
                        if (r < 0)
                                return r;
                        LIST_APPEND(plugins, ps->plugins, p);
                        ps->n++;
                }
        *ret = TAKE_PTR(ps);
        return 0;
}

Plugins *plugins_free(Plugins *ps) {
        Plugin *p;

        if (!ps)
                return NULL;
        /* Nothing is stopped here: at exit the units stay as systemd has
         * them (agentd's own restart must not take the plugins down), and
         * exec children are killed with their process group. */
        while ((p = ps->plugins)) {
                LIST_REMOVE(plugins, ps->plugins, p);
                plugin_free(p);
        }
        plugin_bus_close(ps);
        sd_event_source_disable_unref(ps->stop_deadline);
        sd_event_source_disable_unref(ps->stop_defer);
        sd_event_unref(ps->event);
        return mfree(ps);
}

int plugins_add_components(Plugins *ps, ComponentList *l) {
        Plugin *p;

        LIST_FOREACH(plugins, p, ps ? ps->plugins : NULL) {
                int r = component_list_add(l, &p->component);
                if (r < 0)
                        return r;
        }
        return 0;
}

static void start_one(Plugin *p) {
        int r;

        if (p->unit && p->owner->runner == PLUGIN_RUNNER_SYSTEMD) {
                p->runner = PLUGIN_RUNNER_SYSTEMD;
                r = plugin_unit_start(p);
        } else if (p->command) {
                p->runner = PLUGIN_RUNNER_EXEC;
                r = plugin_exec_start(p);
        } else {
                plugin_set_state(p, PLUGIN_STATE_FAILED, "systemd is not on the system bus, and no exec= is set "
                                 "to run %s without it", p->unit);
                return;
        }
        if (r < 0)
                plugin_set_state(p, PLUGIN_STATE_FAILED, "cannot start: %s", strerror(-r));
}

static void start_stage(Plugins *ps, PluginStage stage) {
        Plugin *p;

        LIST_FOREACH(plugins, p, ps->plugins)
                if (p->stage == stage && p->state == PLUGIN_STATE_WAITING)
                        start_one(p);
}

void plugins_runner_decided(Plugins *ps, PluginRunner runner, const char *why) {
        ps->deciding = false;
        ps->runner = runner;
        if (runner == PLUGIN_RUNNER_SYSTEMD)
                log_info("plugins run as systemd units");
        else
                log_notice("plugins run with exec= by agentd itself: %s", why);
        if (ps->stopping)
                return;
        for (PluginStage s = 0; s < _PLUGIN_STAGE_MAX; s++)
                if (ps->started[s])
                        start_stage(ps, s);
}

int plugins_start(Plugins *ps, PluginStage stage) {
        bool any_unit = false;
        Plugin *p;
        int r;

        if (!ps || ps->stopping || ps->started[stage])
                return 0;
        ps->started[stage] = true;
        if (ps->runner != PLUGIN_RUNNER_NONE) {
                start_stage(ps, stage);
                return 0;
        }
        if (ps->deciding)
                return 0;
        LIST_FOREACH(plugins, p, ps->plugins)
                any_unit = any_unit || p->unit;
        if (!any_unit) {
                ps->runner = PLUGIN_RUNNER_EXEC;
                start_stage(ps, stage);
                return 0;
        }
        ps->deciding = true;
        r = plugin_bus_connect(ps);
        if (r < 0) {
                char why[128];
                snprintf(why, sizeof(why), "the system bus is not reachable (%s)", strerror(-r));
                plugins_runner_decided(ps, PLUGIN_RUNNER_EXEC, why);
        }
        return 0;
}

/* ---- drain ---- */

static void stop_finish(Plugins *ps, int error, const char *reason) {
        AgentCallback done = ps->stop_done;

        ps->stop_done = NULL;
        ps->stop_deadline = sd_event_source_disable_unref(ps->stop_deadline);
        ps->stop_defer = sd_event_source_disable_unref(ps->stop_defer);
        agent_callback_invoke(done, ps, &(AgentEvent) { .type = PLUGINS_EVENT_STOPPED, .error = error,
                                                        .reason = reason }, ps->stop_userdata);
}

static bool still_stopping(const Plugin *p) {
        return p->stop_requested && p->state != PLUGIN_STATE_STOPPED && p->state != PLUGIN_STATE_FAILED;
}

static bool all_down(Plugins *ps) {
        Plugin *p;

        LIST_FOREACH(plugins, p, ps->plugins)
                if (still_stopping(p))
                        return false;
        return true;
}

void plugins_check_stopped(Plugins *ps) {
        char reason[512] = "";
        size_t l = 0;
        Plugin *p;

        if (!ps->stop_done || ps->stop_defer || !all_down(ps))
                return;
        /* A stop that failed (systemd refused, the bus went away) leaves the
         * plugin in an unknown state: say so, do not call it stopped. */
        LIST_FOREACH(plugins, p, ps->plugins)
                if (p->stop_requested && p->state == PLUGIN_STATE_FAILED && l < sizeof(reason) - 1)
                        l += snprintf(reason + l, sizeof(reason) - l, "%s%s: %s", l ? "; " : "", p->name,
                                      strna(p->component.detail));
        if (l > 0) {
                stop_finish(ps, -EIO, reason);
                return;
        }
        log_info("every plugin is down");
        stop_finish(ps, 0, NULL);
}

static int on_stop_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        Plugins *ps = userdata;
        char reason[512] = "";
        size_t l = 0;
        Plugin *p;

        LIST_FOREACH(plugins, p, ps->plugins)
                if (still_stopping(p) && l < sizeof(reason) - 1)
                        l += snprintf(reason + l, sizeof(reason) - l, "%s%s", l ? ", " : "", p->name);
        log_warning("drain: %s still stopping at the deadline; leaving it to systemd's TimeoutStopSec", reason);
        stop_finish(ps, -ETIMEDOUT, reason);
        return 0;
}

static int on_stop_defer(sd_event_source *s, void *userdata) {
        Plugins *ps = userdata;

        ps->stop_defer = sd_event_source_disable_unref(ps->stop_defer);
        plugins_check_stopped(ps);
        return 0;
}

int plugins_stop_all(Plugins *ps, AgentCallback done, void *userdata) {
        usec_t longest = 0;
        unsigned n = 0;
        Plugin *p;
        int r;

        if (ps->stop_done)
                return -EBUSY;
        /* The answer always leaves from the loop, never from this call:
         * the defer is armed first, so a plugin that is down at once does
         * not answer from inside the loop below. */
        r = sd_event_add_defer(ps->event, &ps->stop_defer, on_stop_defer, ps);
        if (r < 0)
                return r;
        ps->stopping = true;
        ps->stop_done = done;
        ps->stop_userdata = userdata;
        LIST_FOREACH(plugins, p, ps->plugins) {
                if (p->state == PLUGIN_STATE_WAITING || p->state == PLUGIN_STATE_STOPPED ||
                    (p->state == PLUGIN_STATE_FAILED && !p->main_pid))
                        continue;
                p->stop_requested = true;
                longest = MAX(longest, p->drain_timeout);
                n++;
                r = p->runner == PLUGIN_RUNNER_SYSTEMD ? plugin_unit_stop(p) : plugin_exec_stop(p);
                if (r < 0)
                        plugin_set_state(p, PLUGIN_STATE_FAILED, "cannot stop: %s", strerror(-r));
        }
        if (n > 0)
                log_info("drain: stopping %u plugin(s), at most %llu s", n,
                         (unsigned long long) ((longest + STOP_MARGIN) / USEC_PER_SEC));
        if (n > 0) {
                r = sd_event_add_time_relative(ps->event, &ps->stop_deadline, CLOCK_MONOTONIC, longest + STOP_MARGIN,
                                               100 * USEC_PER_MSEC, on_stop_deadline, ps);
                if (r < 0)
                        /* Without a deadline the wait is bounded by
                         * systemd's TimeoutStopSec and SIGKILL only. */
                        log_warning_errno(r, "drain: cannot arm the stop deadline: %m");
        }
        return 0;
}
