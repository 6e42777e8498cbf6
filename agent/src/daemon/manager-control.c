/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "control"

/*
 * The control commands: what `agentctl` can ask. Each handler answers its
 * request through control_request_reply*(), at once or when the work it
 * started ends; the control server sends every answer from a deferred
 * event, so answering at once is as safe as answering later.
 */

#include "check-set.h"
#include "control.h"
#include "json-util.h"
#include "log.h"
#include "logs.h"
#include "render.h"
#include "secrets.h"
#include "manager.h"

static int on_status(ControlRequest *q, const cJSON *args, void *userdata) {
        Manager *m = userdata;
        cJSON *status = NULL, *resp;
        int r;

        r = manager_status_build(m, &status);
        if (r < 0)
                return r;
        resp = cJSON_CreateObject();
        if (!resp || !cJSON_AddBoolToObject(resp, "ok", 1)) {
                cJSON_Delete(status);
                cJSON_Delete(resp);
                return -ENOMEM;
        }
        cJSON_AddItemToObject(resp, "status", status);
        control_request_reply(q, resp);
        return 0;
}

/* ---- refresh: secrets now, then render ---- */

static void on_refresh_rendered(void *source, const AgentEvent *ev, void *userdata) {
        ControlRequest *q = userdata;

        if (ev->error < 0)
                return control_request_reply_error(q, "render failed: %s", strna(ev->reason));
        control_request_reply_result(q, "secrets refreshed, configuration up to date");
}

static void on_refreshed(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;
        ControlRequest *q = TAKE_PTR(m->pending_refresh);

        if (!q)
                return;
        if (ev->error < 0)
                return control_request_reply_error(q, "refresh failed: %s", strna(ev->reason));
        if (manager_state(m) != MANAGER_RUNNING || renderer_count(m->renderer) == 0)
                return control_request_reply_result(q, "secrets refreshed");
        if (renderer_request(m->renderer, NULL, on_refresh_rendered, q) < 0)
                control_request_reply_error(q, "cannot start rendering");
}

int manager_refresh(Manager *m, const char *secret, ControlRequest *q) {
        int r;

        if (m->pending_refresh)
                return -EBUSY;
        if (secrets_count(m->secrets) == 0) {
                if (renderer_count(m->renderer) == 0 || manager_state(m) != MANAGER_RUNNING) {
                        /* Answered here; the control server sends it later. */
                        control_request_reply_result(q, "nothing to refresh");
                        return 0;
                }
                return renderer_request(m->renderer, NULL, on_refresh_rendered, q);
        }
        m->pending_refresh = q;
        r = secrets_refresh_now(m->secrets, secret, on_refreshed, m);
        if (r < 0)
                m->pending_refresh = NULL;
        return r;
}

/* ---- rollback ---- */

static void on_rolled_back(void *source, const AgentEvent *ev, void *userdata) {
        ControlRequest *q = userdata;

        if (ev->error < 0)
                return control_request_reply_error(q, "rolled back, but: %s", strna(ev->reason));
        control_request_reply_result(q, "rolled back to the previous version");
}

int manager_rollback(Manager *m, const char *name, ControlRequest *q) {
        if (isempty(name))
                return -EINVAL;
        return renderer_rollback(m->renderer, name, on_rolled_back, q);
}

static int on_refresh(ControlRequest *q, const cJSON *args, void *userdata) {
        int r = manager_refresh(userdata, json_get_string(args, "name"), q);

        if (r == -EBUSY)
                control_request_reply_error(q, "busy, try again");
        else if (r == -ENOENT)
                control_request_reply_error(q, "no such secret: %s", strna(json_get_string(args, "name")));
        else if (r < 0)
                control_request_reply_error(q, "refresh failed: %s", strerror(-r));
        return 0;
}

static int on_rollback(ControlRequest *q, const cJSON *args, void *userdata) {
        const char *name = json_get_string(args, "name");
        int r;

        if (isempty(name)) {
                control_request_reply_error(q, "\"rollback\" needs a \"name\"");
                return 0;
        }
        r = manager_rollback(userdata, name, q);
        if (r == -ENOENT)
                control_request_reply_error(q, "no such name: %s", name);
        else if (r == -ENODATA)
                control_request_reply_error(q, "no previous version to roll back to: %s", name);
        else if (r < 0)
                control_request_reply_error(q, "rollback failed: %s", strerror(-r));
        return 0;
}

/* "check": one run now, answered with its result. */
typedef struct CheckRequest {
        CheckWaiter waiter;
        ControlRequest *request;
} CheckRequest;

static void on_check_done(Check *check, void *userdata) {
        CheckRequest *k = userdata;
        cJSON *resp = cJSON_CreateObject(), *j = NULL;

        if (!resp || check_to_json(check, &j) < 0) {
                cJSON_Delete(resp);
                control_request_reply_error(k->request, "cannot build the result: out of memory");
        } else {
                cJSON_AddItemToObject(resp, "check", j);
                control_request_reply(k->request, resp);
        }
        free(k);
}

static int on_check(ControlRequest *q, const cJSON *args, void *userdata) {
        Manager *m = userdata;
        const char *name = json_get_string_bounded(args, "name", 64);
        Check *check = name ? check_set_find(m->checks, name) : NULL;
        CheckRequest *k;

        if (!name) {
                control_request_reply_error(q, "\"check\" needs a \"name\"");
                return 0;
        }
        if (!check) {
                control_request_reply_error(q, "no such check: %s", name);
                return 0;
        }
        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        k->request = q;
        k->waiter = (CheckWaiter) { .done = on_check_done, .userdata = k };
        if (check_run_now(check, &k->waiter) < 0) {
                free(k);
                control_request_reply_error(q, "cannot run the check: %s", name);
                return 0;
        }
        /* The run ends within its timeout (plus an exec check's kill grace). */
        control_request_extend(q, check->settings->timeout + 2 * USEC_PER_SEC);
        return 0;
}

/* The same drain as a termination, but agentd stays up: /health 503,
 * connections waited for, the terminate hook completed if one waits. */
static int on_drain(ControlRequest *q, const cJSON *args, void *userdata) {
        int r = manager_drain(userdata, "agentctl drain", 0, false);

        if (r < 0)
                return r;
        control_request_reply_result(q, "draining: /health answers 503");
        return 0;
}

static int on_resume(ControlRequest *q, const cJSON *args, void *userdata) {
        int r = manager_undrain(userdata);

        if (r == -EBUSY) {
                control_request_reply_error(q, "agentd is stopping: cannot resume");
                return 0;
        }
        control_request_reply_result(q, "back in service: /health answers from the checks");
        return 0;
}

/* ---- flush: every log line written so far reaches CloudWatch ---- */

static void on_flushed(void *source, const AgentEvent *ev, void *userdata) {
        ControlRequest *q = userdata;

        if (ev->error < 0)
                return control_request_reply_error(q, "flush: %s", strna(ev->reason));
        control_request_reply_result(q, "every log line written so far is delivered");
}

static int on_flush(ControlRequest *q, const cJSON *args, void *userdata) {
        Manager *m = userdata;
        int r;

        if (logs_count(m->logs) == 0) {
                control_request_reply_result(q, "no log sources configured");
                return 0;
        }
        if (manager_state(m) == MANAGER_BOOTSTRAPPING) {
                control_request_reply_error(q, "still bootstrapping: logs are not shipped yet");
                return 0;
        }
        /* Bounded like a drain, and shorter than the client waits. */
        r = logs_flush(m->logs, MIN(m->config->lifecycle.drain_timeout, CONTROL_ASYNC_TIMEOUT_USEC - 10 * USEC_PER_SEC),
                       on_flushed, q);
        if (r == -EBUSY)
                control_request_reply_error(q, "a flush is already running, try again");
        else if (r < 0)
                control_request_reply_error(q, "flush failed: %s", strerror(-r));
        return 0;
}

const ControlCommand manager_control_commands[] = {
        { "status", on_status, 0 },
        /* Longer than a status request: a refresh talks to AWS. */
        { "refresh", on_refresh, CONTROL_ASYNC_TIMEOUT_USEC },
        { "rollback", on_rollback, CONTROL_ASYNC_TIMEOUT_USEC },
        { "check", on_check, 0 },
        { "drain", on_drain, 0 },
        { "resume", on_resume, 0 },
        { "flush", on_flush, CONTROL_ASYNC_TIMEOUT_USEC },
        {}
};
