/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Runs one command (`/bin/sh -c COMMAND`, as operators write them in the
 * config) on the event loop: stdout and stderr go through one pipe into a
 * bounded buffer, a timer enforces the deadline (SIGTERM, then SIGKILL 5 s
 * later), and an sd-event child source reaps it; nothing waits or polls.
 * The child gets /dev/null as stdin, a clean signal mask and default signal
 * dispositions.
 */

#include <stdbool.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define PROCESS_MAX_OUTPUT (16U * 1024U)

typedef struct Process Process;

typedef struct ProcessResult {
        int error;              /* 0, or -errno if it could not run / was killed at the deadline (-ETIME) */
        int exit_status;        /* valid when exited */
        bool exited;
        int signal;             /* when killed by a signal */
        const char *output;     /* captured stdout+stderr, NUL-terminated, maybe cut */
        bool output_truncated;
        usec_t duration;
} ProcessResult;

typedef void (*ProcessDone)(Process *p, const ProcessResult *res, void *userdata);

/* The process frees itself after done() returns. */
int process_spawn(sd_event *e, const char *command, usec_t timeout, ProcessDone done, void *userdata,
                  Process **ret);
/* Kills (SIGKILL) and forgets; done is not called. */
void process_cancel(Process *p);
/* "exit status 1", "killed by signal 9", "timed out after 30s" */
char *process_result_describe(const ProcessResult *res, char *buf, size_t n);
/* Blocks SIGCHLD in the calling thread: call before any thread exists. */
void process_block_sigchld(void);
