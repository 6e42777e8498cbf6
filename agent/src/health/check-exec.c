/* SPDX-License-Identifier: MIT */
#include <stdio.h>

#include "check.h"
#include "process.h"
#include "parse-util.h"

/*
 * type=exec: a Nagios-style plugin, run as `/bin/sh -c COMMAND` by the one
 * process runner (process.h: own process group, stdin /dev/null, stdout
 * and stderr into one pipe read on the loop, reaped by an sd-event child
 * source). The first EXEC_MAX_OUTPUT bytes are kept (the first line
 * becomes the detail), the rest is read and discarded. At the check's
 * timeout the group gets SIGTERM, then SIGKILL after EXEC_KILL_GRACE, and
 * the run completes when the child is reaped.
 *
 * Exit codes: 0 OK (pass), 1 WARNING (pass, shown as warning), 2 CRITICAL
 * and anything else, signals included, fail.
 */

#define EXEC_MAX_OUTPUT 4096
#define EXEC_KILL_GRACE (1 * USEC_PER_SEC)

typedef struct ExecRun {
        Process *process;
        bool timed_out;
} ExecRun;

static void exec_stop(Check *c) {
        ExecRun *e = c->run;

        if (!e)
                return;
        /* Only at shutdown or reload is the child still there: kill and
         * reap it now, it must not outlive us unreaped. */
        process_cancel(e->process);
        c->run = mfree(e);
}

static void on_process_done(Process *p, const ProcessResult *res, void *userdata) {
        Check *c = userdata;
        ExecRun *e = c->run;
        char first[CHECK_DETAIL_MAX - 32];
        char buf[32];

        /* The process frees itself after we return. */
        e->process = NULL;
        snprintf(first, sizeof(first), "%.*s", (int) strcspn(res->output, "\n"), res->output);
        if (e->timed_out)
                check_complete(c, CHECK_RESULT_FAIL, "killed after timeout=%s%s%s",
                               format_duration(buf, sizeof(buf), c->settings->timeout), first[0] ? ": " : "", first);
        else if (res->exited)
                check_complete(c, check_result_from_nagios(res->exit_status), "%s (exit %d)%s%s",
                               check_nagios_label(res->exit_status), res->exit_status, first[0] ? ": " : "", first);
        else
                check_complete(c, CHECK_RESULT_FAIL, "UNKNOWN (killed by signal %d)%s%s", res->signal,
                               first[0] ? ": " : "", first);
}

static void exec_timeout(Check *c) {
        ExecRun *e = c->run;

        if (!e || !e->process)
                return;
        e->timed_out = true;
        process_stop(e->process);
}

static int exec_start(Check *c) {
        static const ProcessOptions options = {
                .kill_grace = EXEC_KILL_GRACE,
                .max_output = EXEC_MAX_OUTPUT,
        };
        ExecRun *e = calloc(1, sizeof(*e));
        int r;

        if (!e) {
                check_complete(c, CHECK_RESULT_FAIL, "out of memory");
                return -ENOMEM;
        }
        c->run = e;
        /* No deadline of its own: the check's timeout calls exec_timeout(). */
        r = process_spawn(c->event, c->settings->command, &options, on_process_done, c, &e->process);
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot run /bin/sh: %s", strerror(-r));
                return r;
        }
        return 0;
}

const CheckVTable check_exec_vtable = {
        .start = exec_start,
        .stop = exec_stop,
        .timeout = exec_timeout,
};
