/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "manager"

/*
 * The drain: one sequence (sequence.c), whatever starts it, and only once.
 * Triggers: SIGTERM at shutdown, `agentctl drain`, the target lifecycle
 * state turning Terminated, a Spot interruption notice, a rebalance
 * recommendation (lifecycle.c reports those).
 *
 *   health       /health answers 503 at once (the ALB stops sending)
 *   plugins      the plugins stop taking work and finish what they hold
 *                (StopUnit, or SIGTERM with the exec runner), each bounded
 *                by its drain_timeout
 *   connections  wait until no client connection is open on the web port
 *                (agentd's own checks, from loopback, do not count unless
 *                [lifecycle] drain_loopback=yes)
 *                (sock_diag), at most drain_timeout, or less when AWS gave
 *                less (a Spot notice comes two minutes ahead)
 *   flush        what was logged and measured up to now shipped (log
 *                shipping and metrics, in parallel, each with a deadline)
 *   lifecycle    CompleteLifecycleAction CONTINUE for the terminate hook
 *
 * The flush comes after the plugins stopped, so their last lines ship, and
 * before the hook, so nothing written before the trigger is lost. A drain
 * started by SIGTERM ends with agentd's exit; any other keeps agentd up,
 * out of service, until the shutdown's SIGTERM, which then exits at once.
 */

#include <systemd/sd-daemon.h>

#include "lifecycle.h"
#include "logs.h"
#include "log.h"
#include "manager.h"
#include "parse-util.h"
#include "plugins.h"
#include "sequence.h"
#include "metrics.h"
#include "netlink-sockdiag.h"
#include "time-util.h"

#define CONNECTIONS_POLL (100 * USEC_PER_MSEC)
/* What a step after the connections may take, within systemd's stop
 * timeout (TimeoutStopSec=90s against the default drain_timeout=60s). */
#define DRAIN_TAIL (25 * USEC_PER_SEC)
#define DRAIN_FLUSH (15 * USEC_PER_SEC)

static void step_health(Sequence *s, void *userdata) {
        Manager *m = userdata;

        manager_set_draining(m, true);
        /* The terminate hook waits on us from now on: keep it alive. */
        lifecycle_terminating(m->lifecycle);
        sequence_step_done(s);
}

static void on_plugins_stopped(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->error == -ETIMEDOUT)
                log_warning("drain: plugins not stopped in time: %s", strna(ev->reason));
        else if (ev->error < 0)
                log_warning("drain: plugins not stopped: %s", strna(ev->reason));
        else
                log_info("drain: plugins stopped");
        /* Stopped or not, the drain goes on: the instance leaves anyway. */
        if (m->drain)
                sequence_step_done(m->drain);
}

static void step_plugins(Sequence *s, void *userdata) {
        Manager *m = userdata;
        int r = plugins_stop_all(m->plugins, on_plugins_stopped, m);

        if (r < 0) {
                log_warning_errno(r, "drain: cannot stop the plugins: %m");
                sequence_step_done(s);
        }
}

static int on_connections_poll(sd_event_source *src, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        unsigned port = m->config->lifecycle.web_port;
        _cleanup_(netlink_sockdiag_freep) NetlinkSockdiag *nl = NULL;
        TcpStates st = {};
        usec_t now = now_usec(CLOCK_MONOTONIC);
        int n = netlink_sockdiag_new(&nl);

        if (n >= 0)
                n = netlink_sockdiag_tcp_states(nl, port, &st);
        if (n >= 0)
                n = (int) (m->config->lifecycle.drain_loopback ? st.count[1 /* ESTABLISHED */]
                                                               : st.established_remote);

        if (n < 0) {
                log_warning_errno(n, "drain: cannot count connections on port %u (sock_diag): %m; not waiting", port);
                n = 0;
        }
        if (n == 0 || now >= m->drain_connections_deadline) {
                if (n > 0)
                        log_warning("drain: %d connection(s) still open on port %u at the deadline", n, port);
                else
                        log_info("drain: no connection open on port %u", port);
                m->drain_timer = sd_event_source_disable_unref(m->drain_timer);
                sequence_step_done(m->drain);
                return 0;
        }
        if (n != m->drain_connections_last) {
                log_info("drain: %d connection(s) open on port %u", n, port);
                m->drain_connections_last = n;
        }
        (void) sd_event_source_set_time(src, now + CONNECTIONS_POLL);
        (void) sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
        return 0;
}

static void step_connections(Sequence *s, void *userdata) {
        Manager *m = userdata;
        int r;

        m->drain_connections_last = -1;
        r = sd_event_add_time_relative(m->event, &m->drain_timer, CLOCK_MONOTONIC, 0, USEC_PER_MSEC,
                                       on_connections_poll, m);
        if (r < 0)
                sequence_fail(s, r, "cannot arm the connection poll: %s", strerror(-r));
}

static void on_flushed(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        if (ev->error < 0)
                log_warning("drain: %s not flushed: %s (%s)", source == (void *) m->metrics ? "metrics" : "logs",
                            ev->error == -ETIMEDOUT ? "deadline passed" : strna(ev->reason),
                            source == (void *) m->metrics ? "dropped" : "they go after the next start");
        else
                log_info("drain: %s flushed", source == (void *) m->metrics ? "metrics" : "logs");
        if (m->drain_flushes > 0 && --m->drain_flushes == 0 && m->drain)
                sequence_step_done(m->drain);
}

static void step_flush(Sequence *s, void *userdata) {
        Manager *m = userdata;

        m->drain_flushes = 0;
        /* Both at once; the logs may take the drain's time (their lines are
         * what tells what happened to the instance). */
        if (logs_count(m->logs) > 0 && logs_flush(m->logs, m->config->lifecycle.drain_timeout, on_flushed, m) >= 0)
                m->drain_flushes++;
        if (metrics_flush(m->metrics, DRAIN_FLUSH, on_flushed, m) >= 0)
                m->drain_flushes++;
        if (m->drain_flushes == 0)
                sequence_step_done(s);
}

static void on_terminate_completed(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;

        /* Not completed is logged by the lifecycle; the drain is over all
         * the same: the instance goes either way. */
        if (m->drain)
                sequence_step_done(m->drain);
}

static void step_lifecycle(Sequence *s, void *userdata) {
        Manager *m = userdata;
        int r = lifecycle_complete(m->lifecycle, LIFECYCLE_HOOK_TERMINATE, true, on_terminate_completed, m);

        if (r < 0) {
                if (r != -ESTALE)
                        log_info("drain: terminate hook not completed: %s",
                                 r == -EADDRNOTAVAIL ? "instance id unknown" : strerror(-r));
                sequence_step_done(s);
        }
}

static void on_drain_event(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = userdata;
        char buf[32];

        if (ev->type == SEQUENCE_EVENT_STEP) {
                manager_set_status(m, "Draining: %s", ev->name);
                return;
        }
        if (ev->error < 0)
                log_warning("drain ended early: %s", strna(sequence_error(m->drain)));
        else
                log_info("drained in %s", format_duration(buf, sizeof(buf), sequence_duration(m->drain)));
        manager_set_status(m, "Drained (%s)", strna(m->drain_trigger));
        if (m->exit_after_drain)
                sd_event_exit(m->event, 0);
}

int manager_drain(Manager *m, const char *why, usec_t time_left, bool exit_when_done) {
        const LifecycleSettings *ls = &m->config->lifecycle;
        usec_t wait = ls->drain_timeout;
        int r;

        if (m->drain) {
                m->exit_after_drain = m->exit_after_drain || exit_when_done;
                log_info("%s: already draining (since: %s)", why, strna(m->drain_trigger));
                if (m->exit_after_drain && sequence_state(m->drain) != SEQUENCE_RUNNING)
                        sd_event_exit(m->event, 0);
                return 0;
        }
        /* AWS's own deadline (Spot: two minutes) leaves room for the rest. */
        if (time_left > 0)
                wait = MIN(wait, time_left > DRAIN_TAIL ? time_left - DRAIN_TAIL : 0);
        m->exit_after_drain = exit_when_done;
        r = free_and_strdup(&m->drain_trigger, why);
        if (r < 0)
                return log_oom();
        m->drain_connections_deadline = now_usec(CLOCK_MONOTONIC) + wait;
        log_notice("draining: %s", why);
        /* Out of service before anything else, whatever follows. */
        manager_set_draining(m, true);
        r = sequence_new(m->event, "drain", wait + (exit_when_done ? DRAIN_TAIL : ls->completion_timeout + DRAIN_TAIL),
                         "drain_timeout", on_drain_event, m, &m->drain);
        if (r >= 0)
                r = sequence_add_step(m->drain, "health", step_health, m);
        if (r >= 0 && plugins_count(m->plugins) > 0)
                r = sequence_add_step(m->drain, "plugins", step_plugins, m);
        if (r >= 0)
                r = sequence_add_step(m->drain, "connections", step_connections, m);
        if (r >= 0)
                r = sequence_add_step(m->drain, "flush", step_flush, m);
        if (r >= 0 && lifecycle_hook_configured(m->lifecycle, LIFECYCLE_HOOK_TERMINATE))
                r = sequence_add_step(m->drain, "lifecycle", step_lifecycle, m);
        if (r >= 0)
                r = sequence_start(m->drain);
        if (r < 0) {
                log_error_errno(r, "cannot start the drain: %m");
                if (exit_when_done)
                        sd_event_exit(m->event, 0);
                return r;
        }
        return 0;
}

/* `agentctl resume`: back in service, if the drain may still be undone. */
int manager_undrain(Manager *m) {
        if (m->exit_after_drain || m->stopping)
                return -EBUSY;
        m->drain_timer = sd_event_source_disable_unref(m->drain_timer);
        m->drain = sequence_free(m->drain);
        m->drain_trigger = mfree(m->drain_trigger);
        manager_set_draining(m, false);
        return 0;
}
