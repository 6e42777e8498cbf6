/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "manager"

/*
 * The bootstrap chain (sequence.c) with agentd's steps:
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
#include "sequence.h"
#include "check-set.h"
#include "credentials.h"
#include "health.h"
#include "imds.h"
#include "lifecycle.h"
#include "log.h"
#include "logs.h"
#include "manager.h"
#include "metrics.h"
#include "parse-util.h"
#include "plugins.h"
#include "render.h"
#include "secrets.h"
#include "time-util.h"

static void notify_ready(Manager *m) {
        if (!m->notified_ready) {
                (void) sd_notify(false, "READY=1");
                m->notified_ready = true;
        }
}

static void on_launch_completed(void *source, const AgentEvent *ev, void *userdata) {
        /* The lifecycle logs how it went; nothing else waits on it. */
}

void manager_check_launch(Manager *m) {
        size_t n;
        Check *const *checks;
        unsigned code;
        int r;

        if (m->launch_requested || manager_state(m) != MANAGER_RUNNING || m->drain)
                return;
        checks = check_set_checks(m->checks, &n);
        /* Healthy as the ALB will see it: critical checks passed `rise`
         * times. (A warm-pool instance is out of service: not that.) */
        (void) health_status_compute(HEALTH_AGENT_RUNNING, false, checks, n, &code);
        if (code != 200)
                return;
        r = lifecycle_complete(m->lifecycle, LIFECYCLE_HOOK_LAUNCH, true, on_launch_completed, m);
        if (r != -EADDRNOTAVAIL)
                m->launch_requested = true;
}

/* The instance dimensions of every metric, as the CloudWatch agent sets
 * them; the group name from the instance tags, else [lifecycle] asg_name. */
static void start_metrics(Manager *m) {
        MetricsIdentity id = {
                .instance_id = m->identity.instance_id,
                .asg = identity_tag(&m->identity, "aws:autoscaling:groupName") ?: m->config->lifecycle.asg_name,
                .image_id = m->identity.ami_id,
                .instance_type = m->identity.instance_type,
        };

        if (metrics_set_identity(m->metrics, &id) < 0)
                log_oom();
        (void) metrics_start(m->metrics);
}

/* Either way the chain ended: tell systemd, start the checks and metrics
 * (host figures are worth having even when bootstrap failed), and answer
 * the launch hook (CONTINUE once healthy, ABANDON now if it failed). */
static void bootstrap_ended(Manager *m, int error) {
        char host[256] = "";

        manager_push_health(m);
        notify_ready(m);
        (void) check_set_start(m->checks);
        start_metrics(m);
        if (error >= 0 && !m->stopping)
                (void) plugins_start(m->plugins, PLUGIN_START_BOOTSTRAP);
        /* Logs go even when the bootstrap failed: they tell why. */
        (void) gethostname(host, sizeof(host) - 1);
        (void) logs_start(m->logs, m->identity.instance_id, host);
        health_server_refresh(m->health);
        if (error < 0 && !m->launch_requested &&
            lifecycle_complete(m->lifecycle, LIFECYCLE_HOOK_LAUNCH, false, on_launch_completed, m) >= 0)
                m->launch_requested = true;
        manager_check_launch(m);
        agent_callback_invoke(m->ready_callback, m, &(AgentEvent) { .error = error }, m->ready_userdata);
}

static void on_bootstrap_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;
        const char *step = sequence_current_step(m->bootstrap) ?: "start";
        char buf[32];

        if (ev->type == SEQUENCE_EVENT_STEP) {
                manager_set_status(m, "Bootstrapping: %s", ev->name);
                return;
        }
        if (ev->error < 0) {
                const char *why = sequence_error(m->bootstrap) ?: strerror(-ev->error);
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
                return sequence_fail(m->bootstrap, ev->error, "%s", strna(ev->reason));
        /* Who we are decides which role and which region. */
        if (credentials_set_role(m->credentials, m->identity.role) < 0 ||
            aws_client_set_fallback_region(m->aws, m->identity.region) < 0)
                return sequence_fail(m->bootstrap, -ENOMEM, "out of memory");
        log_info("instance %s (%s, %s, %s), role %s, %zu tags", m->identity.instance_id,
                 m->identity.instance_type, m->identity.availability_zone, m->identity.ami_id,
                 strna(m->identity.role), m->identity.n_tags);
        if (lifecycle_start(m->lifecycle, m->identity.instance_id,
                            identity_tag(&m->identity, "aws:autoscaling:groupName")) < 0)
                log_warning("cannot watch the lifecycle state: out of memory");
        sequence_step_done(m->bootstrap);
}

static void step_identity(Sequence *b, void *userdata) {
        Manager *m = userdata;
        int r;

        if (!m->config->imds.enabled)
                return sequence_fail(b, -EOPNOTSUPP, "[imds] enabled=no, and no other identity source exists");
        r = identity_fetch_new(m->event, m->imds, &m->config->imds, on_identity_event, m, &m->identity_fetch);
        if (r < 0)
                sequence_fail(b, r, "cannot start the identity fetch: %s", strerror(-r));
}

/* ---- credentials ---- */

static void credentials_failed(Manager *m, int error) {
        sequence_fail(m->bootstrap, error, "%s", credentials_component(m->credentials)->last_error ?: strerror(-error));
}

static void on_credentials_ready(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->error < 0)
                return credentials_failed(m, ev->error);
        sequence_step_done(m->bootstrap);
}

static void step_credentials(Sequence *b, void *userdata) {
        Manager *m = userdata;
        int r = credentials_start(m->credentials);

        if (r >= 0)
                r = credentials_wait(m->credentials, on_credentials_ready, m, NULL);
        if (r < 0)
                credentials_failed(m, r);
}

/* ---- secrets ---- */

static void step_secrets(Sequence *b, void *userdata) {
        Manager *m = userdata;
        int r = secrets_start(m->secrets);

        if (r < 0)
                sequence_fail(b, r, "cannot start loading secrets: %s", strerror(-r));
        /* SECRETS_EVENT_LOADED ends the step (manager_on_secrets_event). */
}

void manager_secret_changed(Manager *m, const char *name) {
        /* Sequence failed waiting for this one: carry on from there. */
        if (sequence_state(m->bootstrap) == SEQUENCE_FAILED && secrets_all_loaded(m->secrets) &&
            streq_ptr(sequence_current_step(m->bootstrap), "secrets") && sequence_resume(m->bootstrap) >= 0) {
                log_notice("secret %s is loaded now: resuming bootstrap", name);
                component_set(&m->core, COMPONENT_STARTING, "resuming bootstrap");
                manager_push_health(m);
                sequence_step_done(m->bootstrap);
                return;
        }
        if (manager_state(m) == MANAGER_RUNNING && renderer_count(m->renderer) > 0)
                (void) renderer_request(m->renderer, name, NULL, NULL);
}

void manager_on_secrets_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->type == SECRETS_EVENT_CHANGED)
                return manager_secret_changed(m, ev->name);
        if (ev->type != SECRETS_EVENT_LOADED || !streq_ptr(sequence_current_step(m->bootstrap), "secrets"))
                return;
        if (ev->error < 0)
                return sequence_fail(m->bootstrap, ev->error, "%s", ev->reason ?: "a secret could not be loaded");
        sequence_step_done(m->bootstrap);
}

/* ---- render ---- */

static void on_rendered(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->error < 0)
                return sequence_fail(m->bootstrap, ev->error, "%s", ev->reason ?: strerror(-ev->error));
        sequence_step_done(m->bootstrap);
}

static void step_render(Sequence *b, void *userdata) {
        Manager *m = userdata;
        int r = renderer_request(m->renderer, NULL, on_rendered, m);

        if (r < 0)
                sequence_fail(b, r, "cannot start rendering: %s", strerror(-r));
}

int manager_sequence_start(Manager *m) {
        int r;

        r = sequence_new(m->event, "bootstrap", m->config->bootstrap_timeout, "bootstrap_timeout", on_bootstrap_event, m,
                         &m->bootstrap);
        if (r < 0)
                return log_error_errno(r, "cannot set up the bootstrap: %m");
        r = sequence_add_step(m->bootstrap, "identity", step_identity, m);
        if (r >= 0)
                r = sequence_add_step(m->bootstrap, "credentials", step_credentials, m);
        if (r >= 0 && secrets_count(m->secrets) > 0)
                r = sequence_add_step(m->bootstrap, "secrets", step_secrets, m);
        if (r >= 0 && renderer_count(m->renderer) > 0)
                r = sequence_add_step(m->bootstrap, "render", step_render, m);
        if (r >= 0)
                r = sequence_start(m->bootstrap);
        if (r < 0)
                return log_error_errno(r, "cannot start the bootstrap: %m");
        return 0;
}
