/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "plugin"

/*
 * The development runner: where systemd is not on the bus, a plugin's
 * exec= runs under the one process runner (base/process.h), as systemd
 * would run it with Restart=always: its output becomes agentd's log lines,
 * an exit is reported (restarts, last exit) and followed by a restart
 * after a backoff (0.5 s doubling to 30 s, full jitter; reset once a run
 * lasted 30 s), and a stop is SIGTERM to its process group, SIGKILL after
 * drain_timeout. A simple command (no shell syntax) is run as
 * `exec COMMAND`, so the plugin itself is the main process: its pid is the
 * one reported, and the runner waits for it, not for a shell that SIGTERM
 * ends at once. When the main process is gone, what is left of its process
 * group is killed, as systemd does with a service's cgroup. It is not meant to replace systemd on an instance: no
 * sandbox, no resource limits, no start limit.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "plugin-internal.h"
#include "parse-util.h"
#include "time-util.h"

#define STABLE_RUN (30 * USEC_PER_SEC)

static int spawn(Plugin *p);

static void on_line(Process *proc, const char *line, void *userdata) {
        Plugin *p = userdata;

        /* The plugin's own words, as journald would keep them. */
        log_info("%s: %s", p->name, line);
}

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata) {
        Plugin *p = userdata;
        int r;

        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
        r = spawn(p);
        if (r < 0)
                plugin_set_state(p, PLUGIN_STATE_FAILED, "cannot restart `%s`: %s", p->command, strerror(-r));
        return 0;
}

static void on_exit_(Process *proc, const ProcessResult *res, void *userdata) {
        Plugin *p = userdata;
        char d[32];
        usec_t delay;
        int r;

        p->process = NULL;      /* it frees itself */
        if (p->main_pid > 0)
                (void) kill(-p->main_pid, SIGKILL);
        p->main_pid = 0;
        process_result_describe(res, p->last_exit, sizeof(p->last_exit));
        if (p->stop_requested) {
                plugin_set_state(p, PLUGIN_STATE_STOPPED, "stopped (%s)", p->last_exit);
                return;
        }
        if (now_usec(CLOCK_MONOTONIC) - p->started_at >= STABLE_RUN)
                backoff_reset(&p->backoff);
        delay = backoff_next(&p->backoff);
        p->restarts++;
        r = sd_event_add_time_relative(p->owner->event, &p->restart_timer, CLOCK_MONOTONIC, delay,
                                       10 * USEC_PER_MSEC, on_restart, p);
        if (r < 0) {
                plugin_set_state(p, PLUGIN_STATE_FAILED, "exited (%s), cannot arm its restart: %s", p->last_exit,
                                 strerror(-r));
                return;
        }
        plugin_set_state(p, PLUGIN_STATE_RESTARTING, "exited (%s); restart %u in %s", p->last_exit, p->restarts,
                         format_duration(d, sizeof(d), delay));
}

/* No shell syntax: safe to prefix with "exec". */
static bool command_is_simple(const char *c) {
        return !strpbrk(c, ";&|()<>`$\n{}!*?[#~=") && strncmp(c, "exec ", 5) != 0;
}

static int spawn(Plugin *p) {
        ProcessOptions o = { .kill_grace = p->drain_timeout, .max_output = 1, .line = on_line };
        _cleanup_free_ char *exec = NULL;
        int r;

        if (command_is_simple(p->command) && asprintf(&exec, "exec %s", p->command) < 0)
                return -ENOMEM;
        r = process_spawn(p->owner->event, exec ?: p->command, &o, on_exit_, p, &p->process);
        if (r < 0)
                return r;
        p->main_pid = process_pid(p->process);
        p->started_at = now_usec(CLOCK_MONOTONIC);
        plugin_set_state(p, PLUGIN_STATE_RUNNING, "running `%s`, pid %d", p->command, (int) p->main_pid);
        return 0;
}

int plugin_exec_start(Plugin *p) {
        log_debug("%s: starting `%s`", p->name, p->command);
        return spawn(p);
}

int plugin_exec_stop(Plugin *p) {
        if (p->restart_timer) {
                /* Between two runs: nothing to signal. */
                p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
                plugin_set_state(p, PLUGIN_STATE_STOPPED, "stopped while waiting to restart");
                return 0;
        }
        if (!p->process)
                return 0;
        plugin_set_state(p, PLUGIN_STATE_STOPPING, "SIGTERM to pid %d, SIGKILL after %llu s", (int) p->main_pid,
                         (unsigned long long) (p->drain_timeout / USEC_PER_SEC));
        process_stop(p->process);
        return 0;
}

void plugin_exec_forget(Plugin *p) {
        process_cancel(p->process);
        p->process = NULL;
        p->restart_timer = sd_event_source_disable_unref(p->restart_timer);
}
