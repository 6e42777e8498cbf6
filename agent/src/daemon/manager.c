/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "manager"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <systemd/sd-daemon.h>

#include "aws.h"
#include "sequence.h"
#include "check-set.h"
#include "control.h"
#include "credentials.h"
#include "health.h"
#include "imds.h"
#include "lifecycle.h"
#include "list.h"
#include "log.h"
#include "logs.h"
#include "manager.h"
#include "parse-util.h"
#include "metrics.h"
#include "plugins.h"
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
        switch (m->bootstrap ? sequence_state(m->bootstrap) : SEQUENCE_IDLE) {
        case SEQUENCE_DONE:
                return MANAGER_RUNNING;
        case SEQUENCE_FAILED:
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
        health_server_set_agent(m->health, manager_health_agent_state(m), m->draining, m->identity.instance_id,
                                m->core.state == COMPONENT_FAILED ? m->core.last_error : NULL);
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
                r = lifecycle_add_components(m->lifecycle, l);
        if (r >= 0)
                r = check_set_add_components(m->checks, l);
        if (r >= 0)
                r = metrics_add_components(m->metrics, l);
        if (r >= 0)
                r = plugins_add_components(m->plugins, l);
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

static int on_sigterm(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Manager *m = userdata;

        if (m->stopping) {
                log_notice("received %s while stopping: still draining", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                return 0;
        }
        log_info("received %s, stopping", si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
        (void) sd_notify(false, "STOPPING=1");
        manager_set_status(m, "Stopping");
        m->stopping = true;
        /* The same drain as for any trigger; it exits when done. */
        (void) manager_drain(m, si->ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT", 0, true);
        manager_push_health(m);
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
        lifecycle_set_settings(m->lifecycle, &m->config->lifecycle);
        if (check_set_reload(m->checks, config_checks(m->config), m->config->checks.n) >= 0)
                health_server_refresh(m->health);
        metrics_set_settings(m->metrics, &m->config->metrics);
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

/* When a secret was last fetched again because a check's login with it
 * was refused: [secret.NAME] refresh_min is the least time between two. */
typedef struct SecretRefusal {
        char *name;
        usec_t at;              /* CLOCK_MONOTONIC */
        LIST_FIELDS(struct SecretRefusal, refusals);
} SecretRefusal;

static SecretRefusal *secret_refusal(Manager *m, const char *name) {
        SecretRefusal *f;

        LIST_FOREACH(refusals, f, m->secret_refusals)
                if (streq(f->name, name))
                        return f;
        f = calloc(1, sizeof(*f));
        if (!f || !(f->name = strdup(name)))
                return mfree(f);
        LIST_PREPEND(refusals, m->secret_refusals, f);
        return f;
}

static void secret_refusals_free(Manager *m) {
        SecretRefusal *f;

        while ((f = m->secret_refusals)) {
                LIST_REMOVE(refusals, m->secret_refusals, f);
                free(f->name);
                free(f);
        }
}

/* A check's login with [secret.NAME] was refused (MySQL 1045): the
 * database may already have a rotated password that AWSCURRENT names (or
 * is about to). Fetch the secret now instead of at its next `refresh`,
 * rate-limited so that credentials that are simply wrong cost one
 * GetSecretValue per refresh_min, not one per check run. A new version
 * arrives as SECRETS_EVENT_CHANGED and re-renders like any rotation. */
static void on_check_secret_refused(void *userdata, const char *secret) {
        Manager *m = userdata;
        SecretSettings *const *list = config_secrets(m->config);
        const SecretSettings *k = NULL;
        usec_t now = now_usec(CLOCK_MONOTONIC);
        SecretRefusal *f;
        char ago[32], min[32];
        int r;

        for (size_t i = 0; i < m->config->secrets.n; i++)
                if (streq(list[i]->name, secret))
                        k = list[i];
        if (!k || k->refresh_min == 0)
                return;
        f = secret_refusal(m, secret);
        if (!f)
                return (void) log_oom();
        if (f->at != 0 && now - f->at < k->refresh_min) {
                log_debug("[secret.%s]: login refused again; fetched it %s ago, refresh_min=%s", secret,
                          format_duration(ago, sizeof(ago), now - f->at),
                          format_duration(min, sizeof(min), k->refresh_min));
                return;
        }
        f->at = now;
        r = secrets_refresh_now(m->secrets, secret, NULL, NULL);
        if (r < 0)
                log_warning_errno(r, "[secret.%s]: login refused, cannot fetch it again: %m", secret);
        else
                log_notice("[secret.%s]: login refused (MySQL error 1045), fetching the secret again now", secret);
}

/* A check sample: /health answers from the checks; healthy now may be
 * the moment to complete the launch hook. */
static void on_check_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->type != CHECK_SET_EVENT_CHANGED)
                return;
        health_server_refresh(m->health);
        manager_check_launch(m);
}

/* Each collection: agentd's own figures that live elsewhere (log lag). */
static void on_metrics_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;
        uint64_t bytes;
        usec_t age;

        if (ev->type != METRICS_EVENT_COLLECTING || logs_count(m->logs) == 0)
                return;
        logs_lag(m->logs, &bytes, &age);
        (void) metrics_observe(m->metrics, "agentd_log_lag_bytes", METRIC_UNIT_BYTES, (double) bytes);
        (void) metrics_observe(m->metrics, "agentd_log_lag_seconds", METRIC_UNIT_SECONDS, (double) age / USEC_PER_SEC);
}

static void on_lifecycle_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        switch (ev->type) {
        case LIFECYCLE_EVENT_TERMINATE:
                (void) manager_drain(m, ev->name, ev->usec, false);
                break;
        case LIFECYCLE_EVENT_WARM_POOL:
                /* Going into a warm pool: ready, but no traffic. */
                log_info("%s: out of service while in the warm pool", ev->name);
                manager_set_draining(m, true);
                break;
        case LIFECYCLE_EVENT_IN_SERVICE:
                if (!m->drain)
                        manager_set_draining(m, false);
                break;
        }
}

/* /metrics on the health server's local listeners. */
static int on_metrics_endpoint(void *userdata, char **ret, size_t *ret_len) {
        Manager *m = userdata;
        return metrics_format_prometheus(m->metrics, ret, ret_len);
}

/* A plugin came up: sample its health= check shortly, not at the next
 * interval, so /health follows the plugin at once. (Its state reaches
 * agentctl status through its component.) */
static void on_plugins_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;
        _cleanup_free_ char *name = NULL;
        Check *c;

        if (ev->type != PLUGINS_EVENT_RUNNING || asprintf(&name, PLUGIN_CHECK_PREFIX "%s", ev->name) < 0)
                return;
        c = check_set_find(m->checks, name);
        if (c && c->timer)
                (void) check_schedule(c, PLUGIN_CHECK_FIRST_DELAY);
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
        r = lifecycle_new(m->event, m->imds, m->aws, &m->config->lifecycle, on_lifecycle_event, m, &m->lifecycle);
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
                          &(CheckHooks) { .secret_lookup = on_check_secret_lookup,
                                          .secret_refused = on_check_secret_refused, .userdata = m },
                          on_check_event,
                          m, &m->checks);
        if (r < 0)
                return log_error_errno(r, "cannot set up the checks: %m");
        r = metrics_new(m->event, m->glue, m->aws, &m->config->metrics, on_metrics_event, m, &m->metrics);
        if (r < 0)
                return log_error_errno(r, "cannot set up metrics: %m");
        /* Each plugin's metrics= is scraped with the host's metrics (through
         * its health_socket= when it has one: plugins serve both there). */
        for (size_t i = 0; i < m->config->plugins.n; i++) {
                const PluginSettings *p = config_plugins(m->config)[i];
                if (p->metrics && (r = metrics_add_scrape(m->metrics, p->name, p->metrics, p->health_socket)) < 0)
                        return log_error_errno(r, "[plugin.%s]: cannot scrape metrics=%s: %m", p->name, p->metrics);
        }
        r = plugins_new(m->event, config_plugins(m->config), m->config->plugins.n, on_plugins_event, m,
                        &m->plugins);
        if (r < 0)
                return log_error_errno(r, "cannot set up the plugins: %m");
        *ret = TAKE_PTR(m);
        return 0;
}

Manager *manager_free(Manager *m) {
        if (!m)
                return NULL;
        /* Users of the loop first, the loop last; the control server after
         * every subsystem that may still hold one of its requests. */
        sequence_free(m->bootstrap);
        sequence_free(m->drain);
        sd_event_source_disable_unref(m->drain_timer);
        free(m->drain_trigger);
        lifecycle_free(m->lifecycle);
        plugins_free(m->plugins);
        check_set_free(m->checks);
        logs_free(m->logs);
        health_server_free(m->health);
        metrics_free(m->metrics);
        identity_fetch_free(m->identity_fetch);
        renderer_free(m->renderer);
        secrets_free(m->secrets);
        aws_client_free(m->aws);
        credentials_free(m->credentials);
        imds_free(m->imds);
        curl_glue_free(m->glue);
        control_server_free(m->control);
        secret_refusals_free(m);
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
        /* The same figures as published, for people who scrape (local listeners only). */
        r = health_server_add_endpoint(m->health, "/metrics", "text/plain; version=0.0.4; charset=utf-8",
                                       on_metrics_endpoint, m);
        if (r < 0)
                return log_error_errno(r, "cannot add /metrics to the health server: %m");
        manager_push_health(m);
        return manager_sequence_start(m);
}

int manager_run(Manager *m) {
        int r = sd_event_loop(m->event);
        if (r < 0)
                return log_error_errno(r, "event loop failed: %m");
        log_info("stopped");
        return r;
}
