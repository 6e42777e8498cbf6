/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Runs one command (`/bin/sh -c COMMAND`, as operators write them in the
 * config) on the event loop. It is the one child-process runner of agentd:
 * validators, reload commands, exec checks and (where systemd is absent)
 * plugins all go through it.
 *
 * - The child runs in a process group of its own, with stdin /dev/null, a
 *   clean signal mask and default dispositions. Signals go to the group, so
 *   a shell's children die with it.
 * - stdout and stderr share one pipe, read on the loop: the first
 *   max_output bytes are kept, the rest is read and discarded (a chatty
 *   child never blocks on a full pipe). An optional line callback sees
 *   every complete line as it comes (lines over 4 KiB are cut).
 * - At the deadline the group gets SIGTERM, then SIGKILL after kill_grace.
 *   process_stop() does the same on demand (drain of a plugin).
 * - The exit is reaped by an sd-event child source, never by polling, and
 *   done runs once both the exit and the end of the output are seen (a
 *   grandchild that keeps the pipe open does not hold the result back).
 */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define PROCESS_DEFAULT_MAX_OUTPUT (16U * 1024U)
#define PROCESS_DEFAULT_KILL_GRACE (5 * USEC_PER_SEC)
#define PROCESS_MAX_LINE 4096U

typedef struct Process Process;

typedef struct ProcessResult {
        int error;              /* 0, -ETIME if killed at the deadline, -ECANCELED after process_stop() */
        int exit_status;        /* valid when exited */
        bool exited;
        int signal;             /* when killed by a signal */
        const char *output;     /* captured stdout+stderr, NUL-terminated, maybe cut */
        bool output_truncated;
        usec_t duration;
} ProcessResult;

typedef void (*ProcessDone)(Process *p, const ProcessResult *res, void *userdata);
typedef void (*ProcessLine)(Process *p, const char *line, void *userdata);

typedef struct ProcessOptions {
        usec_t timeout;         /* 0 or USEC_INFINITY: none */
        usec_t kill_grace;      /* SIGTERM → SIGKILL; 0: PROCESS_DEFAULT_KILL_GRACE */
        size_t max_output;      /* bytes kept; 0: PROCESS_DEFAULT_MAX_OUTPUT */
        ProcessLine line;       /* optional: each output line as it arrives */
} ProcessOptions;

/* The process frees itself after done() returns. */
int process_spawn(sd_event *e, const char *command, const ProcessOptions *o, ProcessDone done, void *userdata,
                  Process **ret);
/* Asks the group to stop: SIGTERM now, SIGKILL after kill_grace; done
 * runs when it is reaped, with error -ECANCELED. */
void process_stop(Process *p);
/* Kills (SIGKILL to the group), reaps and forgets; done is not called. */
void process_cancel(Process *p);
pid_t process_pid(const Process *p);
/* "exit status 1", "killed by signal 9", "timed out after 30s" */
char *process_result_describe(const ProcessResult *res, char *buf, size_t n);
/* Blocks SIGCHLD in the calling thread: call before any thread exists. */
void process_block_sigchld(void);
