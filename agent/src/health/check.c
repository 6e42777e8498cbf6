/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "check"

#include <stdarg.h>
#include <stdio.h>

#include "check.h"
#include "health.h"
#include "log.h"
#include "manager.h"
#include "secrets.h"
#include "json-util.h"
#include "parse-util.h"
#include "time-util.h"

/*
 * The scheduler and the state machine; the types live in check-*.c. One
 * timer per check arms the next run `interval` after the previous one
 * started (so a slow target does not stretch the period), one more bounds
 * the run by `timeout`. A run asked for by `agentctl check` joins the run
 * under way rather than starting a second one.
 */

static const CheckVTable *const vtables[_CHECK_TYPE_MAX] = {
        [CHECK_HTTP] = &check_http_vtable, [CHECK_TCP] = &check_tcp_vtable,
        [CHECK_MYSQL] = &check_mysql_vtable, [CHECK_DISK] = &check_disk_vtable,
        [CHECK_MEMORY] = &check_memory_vtable, [CHECK_UNIT] = &check_unit_vtable,
        [CHECK_EXEC] = &check_exec_vtable,
};

int check_secret_lookup_none(Manager *m, const char *secret, const char *field, const char **ret) {
        return -ENOENT;
}

int check_secret_lookup_secrets(Manager *m, const char *secret, const char *field, const char **ret) {
        int r;

        if (!m->secrets)
                return -ENOENT;
        r = secrets_lookup(m->secrets, secret, field, ret, NULL);
        return r == -EAGAIN ? -ENOENT : r;
}

bool check_counters_update(CheckCounters *k, bool passed, unsigned rise, unsigned fall) {
        CheckState old = k->state;

        if (passed) {
                k->passes++;
                k->failures = 0;
        } else {
                k->failures++;
                k->passes = 0;
        }
        if (k->state == CHECK_STATE_UNKNOWN)
                k->state = passed ? CHECK_STATE_PASSING : CHECK_STATE_FAILING;
        else if (k->state == CHECK_STATE_PASSING && k->failures >= fall)
                k->state = CHECK_STATE_FAILING;
        else if (k->state == CHECK_STATE_FAILING && k->passes >= rise)
                k->state = CHECK_STATE_PASSING;
        return k->state != old;
}

CheckResult check_result_from_nagios(int exit_code) {
        return exit_code == 0 ? CHECK_RESULT_PASS : exit_code == 1 ? CHECK_RESULT_WARN : CHECK_RESULT_FAIL;
}

const char *check_nagios_label(int exit_code) {
        switch (exit_code) {
        case 0: return "OK";
        case 1: return "WARNING";
        case 2: return "CRITICAL";
        default: return "UNKNOWN";
        }
}

const char *check_state_to_string(CheckState s) {
        static const char *const names[_CHECK_STATE_MAX] = {
                [CHECK_STATE_UNKNOWN] = "unknown", [CHECK_STATE_PASSING] = "passing",
                [CHECK_STATE_FAILING] = "failing",
        };
        return s < _CHECK_STATE_MAX ? names[s] : "unknown";
}

const char *check_status_string(const Check *c) {
        if (c->counters.state == CHECK_STATE_PASSING && c->last_result == CHECK_RESULT_WARN)
                return "warning";
        return check_state_to_string(c->counters.state);
}

int check_split_host_port(const char *s, char **ret_host, unsigned *ret_port) {
        const char *colon, *h = s;
        size_t hl;
        int r;

        if (parse_listen_address(s) < 0 || strncmp(s, "unix:", 5) == 0)
                return -EINVAL;
        colon = strrchr(s, ':');
        hl = (size_t) (colon - s);
        if (s[0] == '[') {
                h++;
                hl -= 2;
        }
        r = parse_uint(colon + 1, 1, 65535, ret_port);
        if (r < 0)
                return r;
        *ret_host = strndup(h, hl);
        return *ret_host ? 0 : -ENOMEM;
}

static void update_component(Check *c) {
        ComponentState s;

        switch (c->counters.state) {
        case CHECK_STATE_PASSING:
                s = c->last_result == CHECK_RESULT_PASS ? COMPONENT_OK : COMPONENT_DEGRADED;
                break;
        case CHECK_STATE_FAILING:
                s = c->config->critical ? COMPONENT_FAILED : COMPONENT_DEGRADED;
                break;
        default:
                s = COMPONENT_STARTING;
        }
        if (c->last_result == CHECK_RESULT_PASS)
                component_set(&c->component, s, "%s: %s", check_status_string(c), c->detail);
        else
                component_error(&c->component, s, "%s: %s", check_status_string(c), c->detail);
}

static void stop_run(Check *c) {
        c->timeout_timer = sd_event_source_disable_unref(c->timeout_timer);
        check_resolve_cancel(c);
        if (c->run && c->vtable->stop)
                c->vtable->stop(c);
        c->running = false;
}

void check_complete(Check *c, CheckResult result, const char *fmt, ...) {
        CheckResult before = c->last_result;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        va_list ap;
        bool changed;

        if (!c->running)
                return;
        va_start(ap, fmt);
        vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
        va_end(ap);
        stop_run(c);
        c->latency = now - c->run_started;
        c->last_run = now_usec(CLOCK_REALTIME);
        c->runs++;
        c->last_result = result;
        changed = check_counters_update(&c->counters, result != CHECK_RESULT_FAIL, c->config->rise, c->config->fall);
        if (changed || (before == CHECK_RESULT_WARN) != (result == CHECK_RESULT_WARN))
                c->since = c->last_run;
        if (changed)
                log_full(c->counters.state == CHECK_STATE_FAILING ? LOG_WARNING : LOG_INFO,
                         "check %s is now %s: %s", c->config->name, check_status_string(c), c->detail);
        else
                log_debug("check %s: %s (%s)", c->config->name, c->detail, check_status_string(c));
        update_component(c);
        health_server_refresh(c->manager->health);

        while (c->waiters) {
                CheckWaiter *w = c->waiters;
                check_waiter_cancel(w);
                w->done(c, w->userdata);
        }
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Check *c = userdata;
        char buf[32];

        c->timeout_timer = sd_event_source_disable_unref(c->timeout_timer);
        if (c->vtable->timeout) {
                c->vtable->timeout(c);
                return 0;
        }
        check_complete(c, CHECK_RESULT_FAIL, "no answer within timeout=%s",
                       format_duration(buf, sizeof(buf), c->config->timeout));
        return 0;
}

static int start_run(Check *c) {
        int r;

        if (c->running)
                return 0;
        c->running = true;
        c->run_started = now_usec(CLOCK_MONOTONIC);
        r = sd_event_add_time(c->manager->event, &c->timeout_timer, CLOCK_MONOTONIC,
                              c->run_started + c->config->timeout, 1, on_timeout, c);
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot arm timeout: %s", strerror(-r));
                return r;
        }
        (void) c->vtable->start(c);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Check *c = userdata;

        (void) sd_event_source_set_time(s, usec + c->config->interval);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        (void) start_run(c);
        return 0;
}

int check_schedule(Check *c, usec_t delay) {
        c->timer = sd_event_source_disable_unref(c->timer);
        return sd_event_add_time_relative(c->manager->event, &c->timer, CLOCK_MONOTONIC, delay, 1, on_timer, c);
}

int check_run_now(Check *c, CheckWaiter *w) {
        int r = 0;

        /* Never synchronously: the run starts on the next loop iteration
         * (the periodic timer, moved to now), so w->done is never called
         * from inside this function. */
        if (!c->running) {
                if (c->timer)
                        r = sd_event_source_set_time(c->timer, now_usec(CLOCK_MONOTONIC));
                if (r >= 0 && c->timer)
                        r = sd_event_source_set_enabled(c->timer, SD_EVENT_ON);
                else if (r >= 0)
                        r = check_schedule(c, 0);
                if (r < 0)
                        return r;
        }
        w->check = c;
        w->prev = NULL;
        w->next = c->waiters;
        if (c->waiters)
                c->waiters->prev = w;
        c->waiters = w;
        return 0;
}

void check_waiter_cancel(CheckWaiter *w) {
        Check *c = w->check;

        if (!c)
                return;
        if (w->prev)
                w->prev->next = w->next;
        else
                c->waiters = w->next;
        if (w->next)
                w->next->prev = w->prev;
        w->next = w->prev = NULL;
        w->check = NULL;
}

int check_to_json(const Check *c, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        char buf[64];

        if (!o ||
            !cJSON_AddStringToObject(o, "name", c->config->name) ||
            !cJSON_AddStringToObject(o, "type", check_type_to_string(c->config->type)) ||
            !cJSON_AddBoolToObject(o, "critical", c->config->critical) ||
            !cJSON_AddStringToObject(o, "status", check_status_string(c)) ||
            json_add_string_or_null(o, "result", c->runs == 0 ? NULL :
                                    c->last_result == CHECK_RESULT_PASS ? "pass" :
                                    c->last_result == CHECK_RESULT_WARN ? "warn" : "fail") < 0 ||
            json_add_string_or_null(o, "detail", c->runs > 0 ? c->detail : NULL) < 0 ||
            !cJSON_AddNumberToObject(o, "latency_ms", (double) (c->latency / 100) / 10.0) ||
            json_add_string_or_null(o, "since", c->since ? format_rfc3339(buf, sizeof(buf), c->since) : NULL) < 0 ||
            json_add_string_or_null(o, "last_run",
                                    c->last_run ? format_rfc3339(buf, sizeof(buf), c->last_run) : NULL) < 0 ||
            !cJSON_AddNumberToObject(o, "consecutive_passes", c->counters.passes) ||
            !cJSON_AddNumberToObject(o, "consecutive_failures", c->counters.failures) ||
            !cJSON_AddNumberToObject(o, "rise", c->config->rise) ||
            !cJSON_AddNumberToObject(o, "fall", c->config->fall))
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int on_component_json(const Component *comp, cJSON *obj) {
        const Check *c = (const Check *) ((const char *) comp - offsetof(Check, component));
        cJSON *j;
        int r = check_to_json(c, &j);

        if (r < 0)
                return r;
        cJSON_AddItemToObject(obj, "check", j);
        return 0;
}

int check_new(Manager *m, const CheckConfig *config, Check **ret) {
        _cleanup_(check_freep) Check *c = NULL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->manager = m;
        c->config = config;
        c->vtable = vtables[config->type];
        if (asprintf(&c->component_name, "check.%s", config->name) < 0) {
                c->component_name = NULL;
                return -ENOMEM;
        }
        component_init(&c->component, c->component_name, config->critical);
        c->component.append_json = on_component_json;
        component_set(&c->component, COMPONENT_STARTING, "%s check, no result yet",
                      check_type_to_string(config->type));
        *ret = TAKE_PTR(c);
        return 0;
}

Check *check_free(Check *c) {
        if (!c)
                return NULL;
        while (c->waiters) {
                CheckWaiter *w = c->waiters;
                check_waiter_cancel(w);
                w->done(c, w->userdata);
        }
        stop_run(c);
        sd_event_source_disable_unref(c->timer);
        component_done(&c->component);
        free(c->component_name);
        return mfree(c);
}

Check *checks_find(Manager *m, const char *name) {
        for (size_t i = 0; i < m->n_checks; i++)
                if (streq(m->checks[i]->config->name, name))
                        return m->checks[i];
        return NULL;
}

static int build_set(Manager *m, Check ***ret, size_t *ret_n) {
        Check **a;
        size_t n = 0;
        int r = 0;

        a = calloc(MAX(m->config->n_checks, 1), sizeof(Check *));
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < m->config->n_checks && r >= 0; i++) {
                r = check_new(m, m->config->checks[i], &a[n]);
                if (r >= 0)
                        n++;
        }
        if (r < 0) {
                while (n > 0)
                        check_free(a[--n]);
                free(a);
                return r;
        }
        *ret = a;
        *ret_n = n;
        return 0;
}

static int register_and_schedule(Manager *m) {
        for (size_t i = 0; i < m->n_checks; i++) {
                Check *c = m->checks[i];
                int r = manager_register_component(m, &c->component);
                if (r < 0)
                        return log_error_errno(r, "cannot register check %s: too many subsystems",
                                               c->config->name);
                /* The first run at once (spread by a few ms): until a check
                 * has a sample, /health cannot say the instance is healthy. */
                r = check_schedule(c, i * USEC_PER_MSEC);
                if (r < 0)
                        return log_error_errno(r, "cannot arm the timer of check %s: %m", c->config->name);
        }
        return 0;
}

int checks_start(Manager *m) {
        int r;

        if (m->checks)
                return 0;
        r = build_set(m, &m->checks, &m->n_checks);
        if (r < 0)
                return log_error_errno(r, "cannot set up the checks: %m");
        log_info("%zu check(s) configured", m->n_checks);
        r = register_and_schedule(m);
        health_server_refresh(m->health);
        return r;
}

int checks_reload(Manager *m, Config *old) {
        Check **fresh = NULL, **stale = m->checks;
        size_t n_fresh = 0, n_stale = m->n_checks;
        int r;

        if (!stale)
                return 0;       /* not started yet: checks_start() reads the new config */
        r = build_set(m, &fresh, &n_fresh);
        if (r < 0)
                return log_error_errno(r, "reload: cannot rebuild the checks, keeping them: %m");
        for (size_t i = 0; i < n_fresh; i++) {
                Check *c = fresh[i];
                for (size_t j = 0; j < n_stale; j++) {
                        Check *o = stale[j];
                        if (!o || !streq(o->config->name, c->config->name) || o->config->type != c->config->type)
                                continue;
                        c->counters = o->counters;
                        c->last_result = o->last_result;
                        c->latency = o->latency;
                        c->last_run = o->last_run;
                        c->since = o->since;
                        c->runs = o->runs;
                        memcpy(c->detail, o->detail, sizeof(c->detail));
                        if (c->runs > 0)
                                update_component(c);
                }
        }
        for (size_t j = 0; j < n_stale; j++) {
                manager_unregister_component(m, &stale[j]->component);
                check_free(stale[j]);
        }
        free(stale);
        m->checks = fresh;
        m->n_checks = n_fresh;
        r = register_and_schedule(m);
        health_server_refresh(m->health);
        return r;
}

void checks_free(Manager *m) {
        for (size_t i = 0; i < m->n_checks; i++) {
                manager_unregister_component(m, &m->checks[i]->component);
                check_free(m->checks[i]);
        }
        m->checks = mfree(m->checks);
        m->n_checks = 0;
}
