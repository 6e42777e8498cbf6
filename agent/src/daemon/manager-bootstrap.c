/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "manager"

/*
 * The bootstrap chain (bootstrap.c) with agentd's steps:
 *
 *   identity (IMDS) → credentials (env or IMDS role) → secrets (all in
 *   parallel) → render (render, validate, install, reload) → ready
 *
 * A step the config does not use is not in the chain. The whole chain is
 * bounded by [agent] bootstrap_timeout. On success: READY=1 and the checks
 * start. On failure the agent stays up in the "failed" state, serving its
 * status (and /health as 503) so the cause can be seen; it still sends
 * READY=1 so systemd does not kill and restart it in a loop while, say, a
 * secret is missing. A secret that appears later resumes the chain.
 */

#include <systemd/sd-daemon.h>

#include <unistd.h>

#include "aws.h"
#include "bootstrap.h"
#include "check-set.h"
#include "credentials.h"
#include "health.h"
#include "imds.h"
#include "log.h"
#include "logs.h"
#include "manager.h"
#include "parse-util.h"
#include "render.h"
#include "secrets.h"
#include "time-util.h"

static void notify_ready(Manager *m) {
        if (!m->notified_ready) {
                (void) sd_notify(false, "READY=1");
                m->notified_ready = true;
        }
}

/* Either way the chain ended: tell systemd, start the checks. */
static void bootstrap_ended(Manager *m, int error) {
        char host[256] = "";

        manager_push_health(m);
        notify_ready(m);
        (void) check_set_start(m->checks);
        /* Logs go even when the bootstrap failed: they tell why. */
        (void) gethostname(host, sizeof(host) - 1);
        (void) logs_start(m->logs, m->identity.instance_id, host);
        health_server_refresh(m->health);
        agent_callback_invoke(m->ready_callback, m, &(AgentEvent) { .error = error }, m->ready_userdata);
}

static void on_bootstrap_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;
        const char *step = bootstrap_current_step(m->bootstrap) ?: "start";
        char buf[32];

        if (ev->type == BOOTSTRAP_EVENT_STEP) {
                manager_set_status(m, "Bootstrapping: %s", ev->name);
                return;
        }
        if (ev->error < 0) {
                const char *why = bootstrap_error(m->bootstrap) ?: strerror(-ev->error);
                component_error(&m->core, COMPONENT_FAILED, "bootstrap failed at step %s: %s", step, why);
                log_error("bootstrap failed at step %s: %s", step, why);
                manager_set_status(m, "Failed at %s: %s", step, why);
        } else {
                component_set(&m->core, COMPONENT_OK, "running");
                log_info("ready after %s: instance %s in %s",
                         format_duration(buf, sizeof(buf), now_usec(CLOCK_MONOTONIC) - m->start_monotonic),
                         strna(m->identity.instance_id), strna(aws_client_region(m->aws)));
                manager_set_status(m, "Running: instance %s (%s), %s credentials", strna(m->identity.instance_id),
                                   strna(aws_client_region(m->aws)), credentials_source(m->credentials));
        }
        bootstrap_ended(m, ev->error);
}

/* ---- identity ---- */

static void on_identity_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->type == IDENTITY_EVENT_RETRYING) {
                /* Still busy: keep systemd waiting. */
                if (manager_state(m) == MANAGER_BOOTSTRAPPING)
                        (void) sd_notifyf(false, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long) ev->usec);
                return;
        }
        if (ev->error >= 0) {
                identity_done(&m->identity);
                (void) identity_fetch_take(m->identity_fetch, &m->identity);
        }
        m->identity_fetch = identity_fetch_free(m->identity_fetch);
        if (ev->error < 0)
                return bootstrap_fail(m->bootstrap, ev->error, "%s", strna(ev->reason));
        /* Who we are decides which role and which region. */
        if (credentials_set_role(m->credentials, m->identity.role) < 0 ||
            aws_client_set_fallback_region(m->aws, m->identity.region) < 0)
                return bootstrap_fail(m->bootstrap, -ENOMEM, "out of memory");
        log_info("instance %s (%s, %s, %s), role %s, %zu tags", m->identity.instance_id,
                 m->identity.instance_type, m->identity.availability_zone, m->identity.ami_id,
                 strna(m->identity.role), m->identity.n_tags);
        bootstrap_step_done(m->bootstrap);
}

static void step_identity(Bootstrap *b, void *userdata) {
        Manager *m = userdata;
        int r;

        if (!m->config->imds.enabled)
                return bootstrap_fail(b, -EOPNOTSUPP, "[imds] enabled=no, and no other identity source exists");
        r = identity_fetch_new(m->event, m->imds, &m->config->imds, on_identity_event, m, &m->identity_fetch);
        if (r < 0)
                bootstrap_fail(b, r, "cannot start the identity fetch: %s", strerror(-r));
}

/* ---- credentials ---- */

static void credentials_failed(Manager *m, int error) {
        bootstrap_fail(m->bootstrap, error, "%s", credentials_component(m->credentials)->last_error ?: strerror(-error));
}

static void on_credentials_ready(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->error < 0)
                return credentials_failed(m, ev->error);
        bootstrap_step_done(m->bootstrap);
}

static void step_credentials(Bootstrap *b, void *userdata) {
        Manager *m = userdata;
        int r = credentials_start(m->credentials);

        if (r >= 0)
                r = credentials_wait(m->credentials, on_credentials_ready, m, NULL);
        if (r < 0)
                credentials_failed(m, r);
}

/* ---- secrets ---- */

static void step_secrets(Bootstrap *b, void *userdata) {
        Manager *m = userdata;
        int r = secrets_start(m->secrets);

        if (r < 0)
                bootstrap_fail(b, r, "cannot start loading secrets: %s", strerror(-r));
        /* SECRETS_EVENT_LOADED ends the step (manager_on_secrets_event). */
}

void manager_secret_changed(Manager *m, const char *name) {
        /* Bootstrap failed waiting for this one: carry on from there. */
        if (bootstrap_state(m->bootstrap) == BOOTSTRAP_FAILED && secrets_all_loaded(m->secrets) &&
            streq_ptr(bootstrap_current_step(m->bootstrap), "secrets") && bootstrap_resume(m->bootstrap) >= 0) {
                log_notice("secret %s is loaded now: resuming bootstrap", name);
                component_set(&m->core, COMPONENT_STARTING, "resuming bootstrap");
                manager_push_health(m);
                bootstrap_step_done(m->bootstrap);
                return;
        }
        if (manager_state(m) == MANAGER_RUNNING && renderer_count(m->renderer) > 0)
                (void) renderer_request(m->renderer, name, NULL, NULL);
}

void manager_on_secrets_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->type == SECRETS_EVENT_CHANGED)
                return manager_secret_changed(m, ev->name);
        if (ev->type != SECRETS_EVENT_LOADED || !streq_ptr(bootstrap_current_step(m->bootstrap), "secrets"))
                return;
        if (ev->error < 0)
                return bootstrap_fail(m->bootstrap, ev->error, "%s", ev->reason ?: "a secret could not be loaded");
        bootstrap_step_done(m->bootstrap);
}

/* ---- render ---- */

static void on_rendered(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->error < 0)
                return bootstrap_fail(m->bootstrap, ev->error, "%s", ev->reason ?: strerror(-ev->error));
        bootstrap_step_done(m->bootstrap);
}

static void step_render(Bootstrap *b, void *userdata) {
        Manager *m = userdata;
        int r = renderer_request(m->renderer, NULL, on_rendered, m);

        if (r < 0)
                bootstrap_fail(b, r, "cannot start rendering: %s", strerror(-r));
}

int manager_bootstrap_start(Manager *m) {
        int r;

        r = bootstrap_new(m->event, m->config->bootstrap_timeout, on_bootstrap_event, m, &m->bootstrap);
        if (r < 0)
                return log_error_errno(r, "cannot set up the bootstrap: %m");
        r = bootstrap_add_step(m->bootstrap, "identity", step_identity, m);
        if (r >= 0)
                r = bootstrap_add_step(m->bootstrap, "credentials", step_credentials, m);
        if (r >= 0 && secrets_count(m->secrets) > 0)
                r = bootstrap_add_step(m->bootstrap, "secrets", step_secrets, m);
        if (r >= 0 && renderer_count(m->renderer) > 0)
                r = bootstrap_add_step(m->bootstrap, "render", step_render, m);
        if (r >= 0)
                r = bootstrap_start(m->bootstrap);
        if (r < 0)
                return log_error_errno(r, "cannot start the bootstrap: %m");
        return 0;
}
