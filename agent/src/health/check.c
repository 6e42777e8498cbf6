/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "check"

#include <stdarg.h>
#include <stdio.h>

#include "check.h"
#include "json-util.h"
#include "log.h"
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

int check_secret_lookup(Check *c, const char *secret, const char *field, const char **ret) {
        if (!c->hooks || !c->hooks->secret_lookup || !secret)
                return -ENOENT;
        return c->hooks->secret_lookup(c->hooks->userdata, secret, field, ret);
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
        /* Pending until enough samples agree: the first one after a start
         * often sees a service still reloading. */
        if (k->state != CHECK_STATE_FAILING && k->failures >= fall)
                k->state = CHECK_STATE_FAILING;
        else if (k->state != CHECK_STATE_PASSING && k->passes >= rise)
                k->state = CHECK_STATE_PASSING;
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
                [CHECK_STATE_PENDING] = "pending", [CHECK_STATE_PASSING] = "passing",
                [CHECK_STATE_FAILING] = "failing",
        };
        return s < _CHECK_STATE_MAX ? names[s] : "unknown";
}

const char *check_status_string(const Check *c) {
        if (c->counters.state == CHECK_STATE_PASSING && c->last_result == CHECK_RESULT_WARN)
                return "warning";
        return check_state_to_string(c->counters.state);
}

static void update_component(Check *c) {
        ComponentState s;

        switch (c->counters.state) {
        case CHECK_STATE_PASSING:
                s = c->last_result == CHECK_RESULT_PASS ? COMPONENT_OK : COMPONENT_DEGRADED;
                break;
        case CHECK_STATE_FAILING:
                s = c->settings->critical ? COMPONENT_FAILED : COMPONENT_DEGRADED;
                break;
        default:
                s = COMPONENT_STARTING;
        }
        if (c->last_result == CHECK_RESULT_PASS)
                component_set(&c->component, s, "%s: %s", check_status_string(c), c->detail);
        else
                component_error(&c->component, s, "%s: %s", check_status_string(c), c->detail);
}

/* Each waiter leaves the list before its done() runs, which may free it. */
static void wake_waiters(Check *c) {
        CheckWaiter *w;

        while ((w = c->waiters)) {
                check_waiter_cancel(w);
                w->done(c, w->userdata);
        }
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
        changed = check_counters_update(&c->counters, result != CHECK_RESULT_FAIL, c->settings->rise, c->settings->fall);
        if (changed || (before == CHECK_RESULT_WARN) != (result == CHECK_RESULT_WARN))
                c->since = c->last_run;
        if (changed)
                log_full(c->counters.state == CHECK_STATE_FAILING ? LOG_WARNING : LOG_INFO,
                         "check %s is now %s: %s", c->settings->name, check_status_string(c), c->detail);
        else
                log_debug("check %s: %s (%s)", c->settings->name, c->detail, check_status_string(c));
        update_component(c);
        /* The owner first (it refreshes /health), so a waiter's answer
         * and /health agree. */
        check_set_sample(c->set, c);
        wake_waiters(c);
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
                       format_duration(buf, sizeof(buf), c->settings->timeout));
        return 0;
}

static int start_run(Check *c) {
        int r;

        if (c->running)
                return 0;
        c->running = true;
        c->run_started = now_usec(CLOCK_MONOTONIC);
        r = sd_event_add_time(c->event, &c->timeout_timer, CLOCK_MONOTONIC,
                              c->run_started + c->settings->timeout, 1, on_timeout, c);
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot arm timeout: %s", strerror(-r));
                return r;
        }
        (void) c->vtable->start(c);
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Check *c = userdata;

        (void) sd_event_source_set_time(s, usec + c->settings->interval);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        (void) start_run(c);
        return 0;
}

int check_schedule(Check *c, usec_t delay) {
        c->timer = sd_event_source_disable_unref(c->timer);
        return sd_event_add_time_relative(c->event, &c->timer, CLOCK_MONOTONIC, delay, 1, on_timer, c);
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
        LIST_PREPEND(waiters, c->waiters, w);
        return 0;
}

void check_waiter_cancel(CheckWaiter *w) {
        Check *c = w->check;

        if (!c)
                return;
        LIST_REMOVE(waiters, c->waiters, w);
        w->check = NULL;
}

int check_to_json(const Check *c, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        char buf[64];

        if (!o ||
            !cJSON_AddStringToObject(o, "name", c->settings->name) ||
            !cJSON_AddStringToObject(o, "type", check_type_to_string(c->settings->type)) ||
            !cJSON_AddBoolToObject(o, "critical", c->settings->critical) ||
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
            !cJSON_AddNumberToObject(o, "rise", c->settings->rise) ||
            !cJSON_AddNumberToObject(o, "fall", c->settings->fall))
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static int on_component_json(const Component *comp, cJSON *obj) {
        const Check *c = container_of(comp, const Check, component);
        cJSON *j;
        int r = check_to_json(c, &j);

        if (r < 0)
                return r;
        cJSON_AddItemToObject(obj, "check", j);
        return 0;
}

int check_new(CheckSet *set, sd_event *e, CurlGlue *glue, const CheckHooks *hooks, const CheckSettings *settings,
              Check **ret) {
        _cleanup_(check_freep) Check *c = NULL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->set = set;
        c->event = e;
        c->glue = glue;
        c->hooks = hooks;
        c->settings = settings;
        c->vtable = vtables[settings->type];
        if (asprintf(&c->component_name, "check.%s", settings->name) < 0) {
                c->component_name = NULL;
                return -ENOMEM;
        }
        component_init(&c->component, c->component_name, settings->critical);
        c->component.append_json = on_component_json;
        component_set(&c->component, COMPONENT_STARTING, "%s check, no result yet",
                      check_type_to_string(settings->type));
        *ret = TAKE_PTR(c);
        return 0;
}

void check_take_state(Check *c, const Check *o) {
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

Check *check_free(Check *c) {
        if (!c)
                return NULL;
        wake_waiters(c);
        stop_run(c);
        sd_event_source_disable_unref(c->timer);
        component_done(&c->component);
        free(c->component_name);
        return mfree(c);
}
