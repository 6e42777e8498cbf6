/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "manager"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "aws.h"
#include "bootstrap.h"
#include "check-set.h"
#include "control.h"
#include "credentials.h"
#include "health.h"
#include "imds.h"
#include "log.h"
#include "logs.h"
#include "manager.h"
#include "render.h"
#include "secrets.h"
#include "time-util.h"

const char *manager_state_to_string(ManagerState s) {
        static const char *const names[_MANAGER_STATE_MAX] = {
                [MANAGER_BOOTSTRAPPING] = "bootstrapping", [MANAGER_RUNNING] = "running",
                [MANAGER_FAILED] = "failed", [MANAGER_STOPPING] = "stopping",
        };
        return s < _MANAGER_STATE_MAX ? names[s] : "unknown";
}

ManagerState manager_state(const Manager *m) {
        if (m->stopping)
                return MANAGER_STOPPING;
        switch (m->bootstrap ? bootstrap_state(m->bootstrap) : BOOTSTRAP_IDLE) {
        case BOOTSTRAP_DONE:
                return MANAGER_RUNNING;
        case BOOTSTRAP_FAILED:
                return MANAGER_FAILED;
        default:
                return MANAGER_BOOTSTRAPPING;
        }
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

HealthAgentState manager_health_agent_state(const Manager *m) {
        static const HealthAgentState states[_MANAGER_STATE_MAX] = {
                [MANAGER_BOOTSTRAPPING] = HEALTH_AGENT_BOOTSTRAPPING, [MANAGER_RUNNING] = HEALTH_AGENT_RUNNING,
                [MANAGER_FAILED] = HEALTH_AGENT_FAILED, [MANAGER_STOPPING] = HEALTH_AGENT_STOPPING,
        };
        return states[manager_state(m)];
}

/* The health server does not read the manager: it is told. */
void manager_push_health(Manager *m) {
        health_server_set_agent(m->health, manager_health_agent_state(m), m->draining, m->identity.instance_id);
}

int manager_collect_components(Manager *m, ComponentList *l) {
        int r;

        r = component_list_add(l, &m->core);
        if (r >= 0)
                r = component_list_add(l, imds_component(m->imds));
        if (r >= 0)
                r = component_list_add(l, credentials_component(m->credentials));
        if (r >= 0)
                r = component_list_add(l, aws_client_component(m->aws));
        if (r >= 0)
                r = secrets_add_components(m->secrets, l);
        if (r >= 0)
                r = renderer_add_components(m->renderer, l);
        if (r >= 0 && m->health)
                r = component_list_add(l, health_server_component(m->health));
        if (r >= 0)
                r = check_set_add_components(m->checks, l);
        if (r >= 0)
                r = logs_add_components(m->logs, l);
        return r;
}

int manager_health(Manager *m) {
        _cleanup_(component_list_done) ComponentList l = {};
        ManagerState s = manager_state(m);
        int h = 0;

        if (s == MANAGER_FAILED || manager_collect_components(m, &l) < 0)
                return 2;
        for (size_t i = 0; i < l.n; i++) {
                Component *c = l.items[i];
                if (c->state == COMPONENT_FAILED)
                        h = MAX(h, c->critical ? 2 : 1);
                else if (c->state == COMPONENT_DEGRADED)
                        h = MAX(h, 1);
        }
        if (s == MANAGER_BOOTSTRAPPING)
                h = MAX(h, 1);
        return h;
}

void manager_set_draining(Manager *m, bool draining) {
        if (m->draining == draining)
                return;
        m->draining = draining;
        log_info("%s: /health now answers %s", draining ? "draining" : "back in service",
                 draining ? "503" : "from the checks");
        manager_push_health(m);
}

static int on_watchdog(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;

        (void) sd_notify(false, "WATCHDOG=1");
        (void) sd_event_source_set_time(s, usec + m->watchdog_usec / 2);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

/* The logs are flushed (or the drain deadline passed): now we can go. */
static void on_stop_flushed(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->error < 0)
                log_warning("stopping with logs not yet delivered: %s (they go after the next start)",
                            strna(ev->reason));
        sd_event_exit(m->event, 0);
}

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        if (m->stopping) {
                log_info("received %s again, stopping now", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                sd_event_exit(m->event, 0);
                return 0;
        }
        log_info("received %s, stopping", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        (void) sd_notify(false, "STOPPING=1");
        manager_set_status(m, "Stopping");
        /* Out of service first: /health answers 503 from here on. */
        m->stopping = true;
        manager_set_draining(m, true);
        manager_push_health(m);
        /* Ship what was written up to now; the unit's TimeoutStopSec is
         * longer than drain_timeout. With no log source we leave at once. */
        if (logs_count(m->logs) > 0 && manager_state(m) != MANAGER_BOOTSTRAPPING &&
            logs_flush(m->logs, m->config->drain_timeout, on_stop_flushed, m) >= 0) {
                manager_set_status(m, "Stopping: delivering logs");
                return 0;
        }
        sd_event_exit(m->event, 0);
        return 0;
}

int manager_reload(Manager *m) {
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *error = NULL;
        Config *old;
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
        if (!streq_ptr(c->health.listen, m->config->health.listen))
                log_notice("reload: [health] listen= changes take effect on restart");
        if (c->log_sources.n != m->config->log_sources.n)
                log_notice("reload: [logs] and [logs.*] changes take effect on restart");
        /* Keep what is bound to the process; take everything else. */
        if (free_and_strdup(&c->control_socket, m->config->control_socket) < 0 ||
            free_and_strdup(&c->health.listen, m->config->health.listen) < 0)
                return log_oom();
        old = m->config;
        m->config = TAKE_PTR(c);
        /* Every subsystem that points into the config gets the new one
         * before the old one goes. ([render.*] and [secret.*] sections are
         * copied at start and change on restart.) */
        imds_set_settings(m->imds, &m->config->imds);
        aws_client_set_settings(m->aws, &m->config->aws);
        if (check_set_reload(m->checks, config_checks(m->config), m->config->checks.n) >= 0)
                health_server_refresh(m->health);
        config_free(old);
        if (!m->log_level_from_cmdline && m->config->log_level >= 0)
                log_set_max_level(m->config->log_level);
        log_info("configuration reloaded from %zu file(s)", m->config->n_sources);
        /* Templates and [vars] may have changed: render again. */
        if (manager_state(m) == MANAGER_RUNNING && renderer_count(m->renderer) > 0)
                (void) renderer_request(m->renderer, NULL, NULL, NULL);
        (void) sd_notify(false, "READY=1");
        return 0;
}

static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        (void) manager_reload(userdata);
        return 0;
}

/* How checks get credentials of [secret.NAME]: not loaded (yet) → -ENOENT. */
static int on_check_secret_lookup(void *userdata, const char *secret, const char *field, const char **ret) {
        Manager *m = userdata;
        int r = secrets_lookup(m->secrets, secret, field, ret, NULL);

        return r == -EAGAIN ? -ENOENT : r;
}

/* A check sample: /health answers from the checks. */
static void on_check_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->type == CHECK_SET_EVENT_CHANGED)
                health_server_refresh(m->health);
}

int manager_new(const char *config_path, Config *config, Manager **ret) {
        _cleanup_(manager_freep) Manager *m = NULL;
        RenderHooks hooks;
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
        r = secrets_new(m->event, m->aws, config_secrets(m->config), m->config->secrets.n, manager_on_secrets_event,
                        m, &m->secrets);
        if (r < 0)
                return log_error_errno(r, "cannot set up secrets: %m");
        hooks = (RenderHooks) { .lookup = manager_template_lookup, .foreach_secret = manager_foreach_secret,
                                .userdata = m };
        r = renderer_new(m->event, config_renders(m->config), m->config->renders.n, m->config->state_dir, &hooks,
                         &m->renderer);
        if (r < 0)
                return log_error_errno(r, "cannot set up rendering: %m");
        r = logs_new(m->event, m->aws, &m->config->logs, config_log_sources(m->config), m->config->log_sources.n,
                     m->config->state_dir, &m->logs);
        if (r < 0)
                return log_error_errno(r, "cannot set up log shipping: %m");
        r = check_set_new(m->event, m->glue, config_checks(m->config), m->config->checks.n,
                          &(CheckHooks) { .secret_lookup = on_check_secret_lookup, .userdata = m }, on_check_event,
                          m, &m->checks);
        if (r < 0)
                return log_error_errno(r, "cannot set up the checks: %m");
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Users of the loop first, the loop last; the control server after
         * every subsystem that may still hold one of its requests. */
        bootstrap_free(m->bootstrap);
        check_set_free(m->checks);
        logs_free(m->logs);
        health_server_free(m->health);
        identity_fetch_free(m->identity_fetch);
        renderer_free(m->renderer);
        secrets_free(m->secrets);
        aws_client_free(m->aws);
        credentials_free(m->credentials);
        imds_free(m->imds);
        curl_glue_free(m->glue);
        control_server_free(m->control);
        identity_done(&m->identity);
        sd_event_source_disable_unref(m->watchdog_timer);
        component_done(&m->core);
        sd_event_unref(m->event);
        config_free(m->config);
        free(m->config_path);
        return mfree(m);
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

        r = control_server_new(m->event, m->config->control_socket, manager_control_commands, m, &m->control);
        if (r < 0)
                return r;
        /* A health address that cannot be bound fails the component, not
         * the agent: its status says why. */
        r = health_server_new(m->event, &m->config->health, m->checks, &m->health);
        if (r < 0)
                return r;
        manager_push_health(m);
        return manager_bootstrap_start(m);
}

int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "event loop failed: %m");
        log_info("stopped");
        return r;
}
