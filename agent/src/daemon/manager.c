/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "manager"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "aws.h"
#include "check.h"
#include "control.h"
#include "health.h"
#include "process.h"
#include "render.h"
#include "secrets.h"
#include "credentials.h"
#include "imds.h"
#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "time-util.h"

/*
 * Bootstrap runs as a chain of asynchronous steps, each started by the
 * completion of the one before:
 *
 *   identity (IMDS) → credentials (env or IMDS role) → secrets (all in
 *   parallel) → render (render, validate, install, reload) → ready
 *
 * Later subsystems (health) insert their steps before "ready". The whole chain is bounded by [agent] bootstrap_timeout. On
 * success: READY=1. On failure the agent stays up in the "failed" state,
 * serving its status (and /health as 503) so the cause can be seen; it
 * still sends READY=1 so systemd does not kill and restart it in a loop
 * while, say, a secret is missing.
 */

const char *manager_state_to_string(ManagerState s) {
        static const char *const names[_MANAGER_STATE_MAX] = {
                [MANAGER_BOOTSTRAPPING] = "bootstrapping", [MANAGER_RUNNING] = "running",
                [MANAGER_FAILED] = "failed", [MANAGER_STOPPING] = "stopping",
        };
        return s < _MANAGER_STATE_MAX ? names[s] : "unknown";
}

void manager_set_status(Manager *m, const char *fmt, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        free(m->core.detail);
        m->core.detail = strdup(buf);
        (void) sd_notifyf(false, "STATUS=%s", buf);
}

int manager_register_component(Manager *m, Component *c) {
        for (size_t i = 0; i < m->n_components; i++)
                if (m->components[i] == c)
                        return 0;
        if (m->n_components >= MANAGER_MAX_COMPONENTS)
                return -E2BIG;
        m->components[m->n_components++] = c;
        return 0;
}

void manager_unregister_component(Manager *m, Component *c) {
        for (size_t i = 0; i < m->n_components; i++)
                if (m->components[i] == c) {
                        memmove(m->components + i, m->components + i + 1,
                                (m->n_components - i - 1) * sizeof(Component *));
                        m->n_components--;
                        return;
                }
}

void manager_set_draining(Manager *m, bool draining) {
        if (m->draining == draining)
                return;
        m->draining = draining;
        log_info("%s: /health now answers %s", draining ? "draining" : "back in service",
                 draining ? "503" : "from the checks");
        health_server_refresh(m->health);
}

int manager_health(Manager *m) {
        int h = 0;

        if (m->state == MANAGER_FAILED)
                return 2;
        for (size_t i = 0; i < m->n_components; i++) {
                Component *c = m->components[i];
                if (c->state == COMPONENT_FAILED)
                        h = MAX(h, c->critical ? 2 : 1);
                else if (c->state == COMPONENT_DEGRADED)
                        h = MAX(h, 1);
        }
        if (m->state == MANAGER_BOOTSTRAPPING)
                h = MAX(h, 1);
        return h;
}

void manager_extend_timeout(Manager *m, usec_t usec) {
        if (m->state == MANAGER_BOOTSTRAPPING)
                (void) sd_notifyf(false, "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long) usec);
}

void manager_step_begin(Manager *m, const char *name) {
        if (m->n_steps >= MANAGER_MAX_STEPS)
                return;
        m->steps[m->n_steps++] = (BootstrapStep) { .name = name };
        m->step_started = now_usec(CLOCK_MONOTONIC);
        manager_set_status(m, "Bootstrapping: %s", name);
}

void manager_step_end(Manager *m) {
        BootstrapStep *s;
        char buf[32];

        if (m->n_steps == 0)
                return;
        s = &m->steps[m->n_steps - 1];
        s->duration = MAX(now_usec(CLOCK_MONOTONIC) - m->step_started, 1);
        log_info("bootstrap step %s done in %s", s->name, format_duration(buf, sizeof(buf), s->duration));
}

static void run_ready_callbacks(Manager *m) {
        for (size_t i = 0; i < m->n_ready_callbacks; i++)
                m->ready_callbacks[i].callback(m, m->ready_callbacks[i].userdata);
}

static void notify_ready(Manager *m) {
        if (!m->notified_ready) {
                (void) sd_notify(false, "READY=1");
                m->notified_ready = true;
        }
}

void manager_bootstrap_failed(Manager *m, const char *fmt, ...) {
        char buf[512];
        const char *step = m->n_steps > 0 ? m->steps[m->n_steps - 1].name : "start";
        va_list ap;

        if (m->state != MANAGER_BOOTSTRAPPING)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        m->state = MANAGER_FAILED;
        m->bootstrap_timer = sd_event_source_disable_unref(m->bootstrap_timer);
        component_error(&m->core, COMPONENT_FAILED, "bootstrap failed at step %s: %s", step, buf);
        log_error("bootstrap failed at step %s: %s", step, buf);
        manager_set_status(m, "Failed at %s: %s", step, buf);
        health_server_refresh(m->health);
        notify_ready(m);
        run_ready_callbacks(m);
}

static void bootstrap_complete(Manager *m) {
        char buf[32];

        m->state = MANAGER_RUNNING;
        m->ready_monotonic = now_usec(CLOCK_MONOTONIC);
        m->bootstrap_timer = sd_event_source_disable_unref(m->bootstrap_timer);
        component_set(&m->core, COMPONENT_OK, "running");
        health_server_refresh(m->health);
        log_info("ready after %s: instance %s in %s", format_duration(buf, sizeof(buf),
                 m->ready_monotonic - m->start_monotonic), m->identity.instance_id, strna(aws_client_region(m->aws)));
        manager_set_status(m, "Running: instance %s (%s), %s credentials", strna(m->identity.instance_id),
                           strna(aws_client_region(m->aws)), credentials_source(m->credentials));
        notify_ready(m);
        run_ready_callbacks(m);
}

int manager_on_ready(Manager *m, ManagerReadyCallback cb, void *userdata) {
        if (m->n_ready_callbacks >= MANAGER_MAX_READY_CALLBACKS)
                return -E2BIG;
        m->ready_callbacks[m->n_ready_callbacks].callback = cb;
        m->ready_callbacks[m->n_ready_callbacks].userdata = userdata;
        m->n_ready_callbacks++;
        return 0;
}

static void on_render_done(Manager *m, int error, const char *reason, void *userdata) {
        if (m->state != MANAGER_BOOTSTRAPPING)
                return;
        if (error < 0) {
                manager_bootstrap_failed(m, "%s", reason ?: strerror(-error));
                return;
        }
        manager_step_end(m);
        bootstrap_complete(m);
}

static void bootstrap_render(Manager *m) {
        int r;

        if (renderer_count(m->renderer) == 0)
                return bootstrap_complete(m);
        manager_step_begin(m, "render");
        r = renderer_request(m->renderer, NULL, on_render_done, NULL);
        if (r < 0)
                manager_bootstrap_failed(m, "cannot start rendering: %s", strerror(-r));
}

static void on_secrets_loaded(Manager *m, int error, const char *reason) {
        if (m->state != MANAGER_BOOTSTRAPPING)
                return;
        if (error < 0) {
                manager_bootstrap_failed(m, "%s", reason ?: "a secret could not be loaded");
                return;
        }
        manager_step_end(m);
        bootstrap_render(m);
}

/* A secret has a new version: re-render what uses it. If bootstrap had
 * failed for want of it, carry on from there. */
static void on_secret_changed(Manager *m, const char *name) {
        if (m->state == MANAGER_FAILED && secrets_all_loaded(m->secrets) &&
            m->n_steps > 0 && streq(m->steps[m->n_steps - 1].name, "secrets")) {
                log_notice("secret %s is loaded now: resuming bootstrap", name);
                m->state = MANAGER_BOOTSTRAPPING;
                component_set(&m->core, COMPONENT_STARTING, "resuming bootstrap");
                manager_step_end(m);
                bootstrap_render(m);
                return;
        }
        if (m->state == MANAGER_RUNNING && renderer_count(m->renderer) > 0)
                (void) renderer_request(m->renderer, name, NULL, NULL);
}

/* LOADED and CHANGED from the secrets subsystem. */
static void on_secrets_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->type == SECRETS_EVENT_LOADED)
                on_secrets_loaded(m, ev->error, ev->reason);
        else if (ev->type == SECRETS_EVENT_CHANGED)
                on_secret_changed(m, ev->name);
}

static void on_credentials_ready(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;
        int error = ev->error;

        if (m->state != MANAGER_BOOTSTRAPPING)
                return;
        if (error < 0) {
                Component *c = credentials_component(m->credentials);
                manager_bootstrap_failed(m, "%s", c->last_error ?: strerror(-error));
                return;
        }
        manager_step_end(m);
        if (secrets_count(m->secrets) == 0)
                return bootstrap_render(m);
        manager_step_begin(m, "secrets");
        (void) secrets_start(m->secrets);
}

/* ---- control commands ---- */

static void on_refresh_rendered(Manager *m, int error, const char *reason, void *userdata) {
        ControlRequest *q = userdata;
        cJSON *o = cJSON_CreateObject();

        if (error < 0) {
                cJSON_Delete(o);
                return control_request_reply_error(q, "render failed: %s", strna(reason));
        }
        if (o)
                cJSON_AddStringToObject(o, "result", "secrets refreshed, configuration up to date");
        control_request_reply(q, o);
}

static void on_refreshed(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;
        ControlRequest *q = m->pending_refresh;
        int error = ev->error;
        const char *reason = ev->reason;

        m->pending_refresh = NULL;
        if (!q)
                return;
        if (error < 0)
                return control_request_reply_error(q, "refresh failed: %s", strna(reason));
        if (m->state != MANAGER_RUNNING || renderer_count(m->renderer) == 0) {
                cJSON *o = cJSON_CreateObject();
                if (o)
                        cJSON_AddStringToObject(o, "result", "secrets refreshed");
                return control_request_reply(q, o);
        }
        if (renderer_request(m->renderer, NULL, on_refresh_rendered, q) < 0)
                control_request_reply_error(q, "cannot start rendering");
}

int manager_refresh(Manager *m, const char *secret, ControlRequest *q) {
        int r;

        if (m->pending_refresh)
                return -EBUSY;
        if (secrets_count(m->secrets) == 0) {
                if (renderer_count(m->renderer) == 0 || m->state != MANAGER_RUNNING) {
                        cJSON *o = cJSON_CreateObject();
                        if (o)
                                cJSON_AddStringToObject(o, "result", "nothing to refresh");
                        control_request_reply(q, o);
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

static void on_rolled_back(Manager *m, int error, const char *reason, void *userdata) {
        ControlRequest *q = userdata;
        cJSON *o;

        if (error < 0)
                return control_request_reply_error(q, "rolled back, but: %s", strna(reason));
        o = cJSON_CreateObject();
        if (o)
                cJSON_AddStringToObject(o, "result", "rolled back to the previous version");
        control_request_reply(q, o);
}

int manager_rollback(Manager *m, const char *name, ControlRequest *q) {
        if (isempty(name))
                return -EINVAL;
        return renderer_rollback(m->renderer, name, on_rolled_back, q);
}

static void on_identity_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;
        int r;

        if (ev->type == IDENTITY_EVENT_RETRYING) {
                manager_extend_timeout(m, ev->usec);
                return;
        }
        if (ev->error >= 0) {
                identity_done(&m->identity);
                (void) identity_fetch_take(m->identity_fetch, &m->identity);
        }
        m->identity_fetch = identity_fetch_free(m->identity_fetch);
        if (m->state != MANAGER_BOOTSTRAPPING)
                return;
        if (ev->error < 0) {
                manager_bootstrap_failed(m, "%s", strna(ev->reason));
                return;
        }
        if (credentials_set_role(m->credentials, m->identity.role) < 0 ||
            aws_client_set_fallback_region(m->aws, m->identity.region) < 0) {
                manager_bootstrap_failed(m, "out of memory");
                return;
        }
        manager_step_end(m);
        log_info("instance %s (%s, %s, %s), role %s, %zu tags", m->identity.instance_id,
                 m->identity.instance_type, m->identity.availability_zone, m->identity.ami_id,
                 strna(m->identity.role), m->identity.n_tags);

        manager_step_begin(m, "credentials");
        r = credentials_start(m->credentials);
        if (r < 0) {
                manager_bootstrap_failed(m, "%s", credentials_component(m->credentials)->last_error ?: strerror(-r));
                return;
        }
        r = credentials_wait(m->credentials, on_credentials_ready, m, NULL);
        if (r < 0)
                manager_bootstrap_failed(m, "%s", credentials_component(m->credentials)->last_error ?: strerror(-r));
}

static int on_bootstrap_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        char buf[32];

        manager_bootstrap_failed(m, "not done within bootstrap_timeout=%s",
                                 format_duration(buf, sizeof(buf), m->config->bootstrap_timeout));
        return 0;
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) sd_notify(false, "WATCHDOG=1");
        (void) sd_event_source_set_time(s, usec + m->watchdog_usec / 2);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        log_info("received %s, stopping", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        (void) sd_notify(false, "STOPPING=1");
        manager_set_status(m, "Stopping");
        /* Out of service first: /health answers 503 from here on. */
        manager_set_draining(m, true);
        m->state = MANAGER_STOPPING;
        health_server_refresh(m->health);
        /* Drain hooks of later subsystems go here; with nothing queued we
         * can leave at once. */
        sd_event_exit(m->event, 0);
        return 0;
}

int manager_reload(Manager *m) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        int r;

        (void) sd_notify(false, "RELOADING=1");
        r = config_load(m->config_path, &c, &error);
        if (r < 0) {
                log_error("reload: configuration refused, keeping the running one: %s", error ?: strerror(-r));
                component_error(&m->core, m->core.state, "reload refused: %s", error ?: strerror(-r));
                (void) sd_notify(false, "READY=1");
                return r;
        }
        if (!streq_ptr(c->control_socket, m->config->control_socket) ||
            !streq_ptr(c->imds.endpoint, m->config->imds.endpoint))
                log_notice("reload: control_socket and [imds] endpoint changes take effect on restart");
        if (!streq_ptr(c->health_listen, m->config->health_listen))
                log_notice("reload: [health] listen= changes take effect on restart");
        /* Keep what is bound to the process; take everything else. */
        free_and_strdup(&c->control_socket, m->config->control_socket);
        free_and_strdup(&c->health_listen, m->config->health_listen);
        Config *old = m->config;
        m->config = TAKE_PTR(c);
        imds_set_settings(m->imds, &m->config->imds);
        aws_client_set_settings(m->aws, &m->config->aws);
        (void) checks_reload(m, old);
        config_free(old);
        if (!m->log_level_from_cmdline && m->config->log_level >= 0)
                log_set_max_level(m->config->log_level);
        log_info("configuration reloaded from %zu file(s)", m->config->n_sources);
        /* Templates may have changed on disk: render again. ([render.*] and
         * [secret.*] sections themselves take effect on restart.) */
        if (m->state == MANAGER_RUNNING && renderer_count(m->renderer) > 0)
                (void) renderer_request(m->renderer, NULL, NULL, NULL);
        (void) sd_notify(false, "READY=1");
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata);
        return 0;
}

int manager_new(const char *config_path, Config *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        int r;

        m = calloc(1, sizeof(*m));
        if (!m)
                return log_oom();
        m->config = config;
        m->start_monotonic = now_usec(CLOCK_MONOTONIC);
        m->start_realtime = now_usec(CLOCK_REALTIME);
        if (config_path && !(m->config_path = strdup(config_path)))
                return log_oom();
        component_init(&m->core, "bootstrap", true);
        m->check_secret_lookup = check_secret_lookup_secrets;

        r = sd_event_default(&m->event);
        if (r < 0)
                return log_error_errno(r, "cannot create event loop: %m");
        r = curl_glue_new(m->event, &m->glue);
        if (r < 0)
                return log_error_errno(r, "cannot set up libcurl: %m");
        r = imds_new(m->event, m->glue, &m->config->imds, &m->imds);
        if (r < 0)
                return r;
        r = credentials_new(m->event, m->imds, &m->credentials);
        if (r < 0)
                return log_oom();
        r = aws_client_new(m->event, m->glue, m->credentials, &m->config->aws, &m->aws);
        if (r < 0)
                return log_oom();
        r = secrets_new(m->event, m->aws, m->config->secrets, m->config->n_secrets, on_secrets_event, m,
                        &m->secrets);
        if (r < 0)
                return log_error_errno(r, "cannot set up secrets: %m");
        r = renderer_new(m, &m->renderer);
        if (r < 0)
                return log_error_errno(r, "cannot set up rendering: %m");

        if (manager_register_component(m, &m->core) < 0 ||
            manager_register_component(m, imds_component(m->imds)) < 0 ||
            manager_register_component(m, credentials_component(m->credentials)) < 0 ||
            manager_register_component(m, aws_client_component(m->aws)) < 0)
                return -E2BIG;
        {
                ComponentList l = {};
                r = secrets_add_components(m->secrets, &l);
                for (size_t i = 0; r >= 0 && i < l.n; i++)
                        r = manager_register_component(m, l.items[i]);
                component_list_done(&l);
                if (r < 0)
                        return log_error_errno(r, "cannot register the secrets' components: %m");
        }
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Users of the loop first, the loop last. */
        control_server_free(m->control);
        checks_free(m);
        health_server_free(m->health);
        identity_fetch_free(m->identity_fetch);
        renderer_free(m->renderer);
        secrets_free(m->secrets);
        aws_client_free(m->aws);
        credentials_free(m->credentials);
        imds_free(m->imds);
        curl_glue_free(m->glue);
        identity_done(&m->identity);
        sd_event_source_disable_unref(m->watchdog_timer);
        sd_event_source_disable_unref(m->bootstrap_timer);
        component_done(&m->core);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m->config_path);
        return mfree(m);
}

static void on_ready_start_checks(Manager *m, void *userdata) {
        (void) checks_start(m);
}

int manager_start(Manager *m) {
        int r;

        /* SIGPIPE must not kill us when a peer (or journald) goes away. */
        (void) signal(SIGPIPE, SIG_IGN);
        /* Child sources need SIGCHLD blocked in every thread: main() did it
         * before libcurl could start its resolver threads. */
        r = sd_event_add_signal(m->event, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_sigterm, m);
        if (r >= 0)
                r = sd_event_add_signal(m->event, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_sighup, m);
        if (r < 0)
                return log_error_errno(r, "cannot install signal handlers: %m");

        if (sd_watchdog_enabled(false, &m->watchdog_usec) > 0 && m->watchdog_usec > 0) {
                r = sd_event_add_time_relative(m->event, &m->watchdog_timer, CLOCK_MONOTONIC,
                                               m->watchdog_usec / 2, m->watchdog_usec / 20, on_watchdog, m);
                if (r < 0)
                        return log_error_errno(r, "cannot arm watchdog timer: %m");
                (void) sd_event_source_set_enabled(m->watchdog_timer, SD_EVENT_ON);
                (void) sd_notify(false, "WATCHDOG=1");
                log_debug("watchdog every %llu ms", (unsigned long long) (m->watchdog_usec / 2 / USEC_PER_MSEC));
        }

        r = control_server_new(m, m->config->control_socket, &m->control);
        if (r < 0)
                return r;
        /* A health address that cannot be bound fails the component, not
         * the agent: its status says why. */
        r = health_server_new(m, &m->health);
        if (r < 0)
                return r;
        r = manager_register_component(m, health_server_component(m->health));
        if (r >= 0)
                r = manager_on_ready(m, on_ready_start_checks, NULL);
        if (r < 0)
                return log_error_errno(r, "cannot register the health server: %m");

        r = sd_event_add_time_relative(m->event, &m->bootstrap_timer, CLOCK_MONOTONIC,
                                       m->config->bootstrap_timeout, 0, on_bootstrap_timeout, m);
        if (r < 0)
                return log_error_errno(r, "cannot arm bootstrap timer: %m");

        m->state = MANAGER_BOOTSTRAPPING;
        manager_step_begin(m, "identity");
        if (!m->config->imds.enabled) {
                manager_bootstrap_failed(m, "[imds] enabled=no, and no other identity source exists");
                return 0;
        }
        r = identity_fetch_new(m->event, m->imds, &m->config->imds, on_identity_event, m, &m->identity_fetch);
        if (r < 0)
                return log_error_errno(r, "cannot start identity fetch: %m");
        return 0;
}

int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "event loop failed: %m");
        log_info("stopped");
        return r;
}
