/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The bootstrap chain: named asynchronous steps run one after the other,
 * each started when the one before reports done, the whole bounded by a
 * timeout. The chain knows nothing of what a step does: the manager builds
 * the list (identity → credentials → secrets → render, skipping what the
 * config does not use) and each step's start function kicks off the work;
 * the work's completion calls bootstrap_step_done(). So the chain can be
 * tested with fake steps, and a later capability adds a step without
 * touching it.
 *
 * A step that fails ends the chain in `failed` (the agent stays up and
 * says why). bootstrap_resume() takes a failed chain back to running at
 * the step that failed, for work that recovers by itself (a missing secret
 * that appears later).
 */

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "callback.h"

typedef struct Bootstrap Bootstrap;

typedef enum BootstrapState {
        BOOTSTRAP_IDLE,
        BOOTSTRAP_RUNNING,
        BOOTSTRAP_DONE,
        BOOTSTRAP_FAILED,
} BootstrapState;

typedef enum BootstrapEventType {
        BOOTSTRAP_EVENT_STEP,           /* ev->name started */
        BOOTSTRAP_EVENT_DONE,           /* all steps done (error 0) or one failed */
} BootstrapEventType;

typedef void (*BootstrapStart)(Bootstrap *b, void *userdata);


int bootstrap_new(sd_event *e, usec_t timeout, AgentCallback cb, void *userdata, Bootstrap **ret);
Bootstrap *bootstrap_free(Bootstrap *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Bootstrap *, bootstrap_free);

/* Steps run in the order added; name must outlive the chain. */
int bootstrap_add_step(Bootstrap *b, const char *name, BootstrapStart start, void *userdata);
/* Starts the first step from the event loop (never inside this call). */
int bootstrap_start(Bootstrap *b);
/* The current step's work ended. May be called from inside its start
 * function: the next step still starts from the loop. */
void bootstrap_step_done(Bootstrap *b);
/* Fails the chain at the current step (no-op unless running). */
void bootstrap_fail(Bootstrap *b, int error, const char *fmt, ...) _printf_(3, 4);
/* A failed chain runs again from the step that failed, without starting
 * it anew: its work goes on and ends with bootstrap_step_done(). */
int bootstrap_resume(Bootstrap *b);

BootstrapState bootstrap_state(const Bootstrap *b);
const char *bootstrap_current_step(const Bootstrap *b);        /* NULL before the start */
const char *bootstrap_error(const Bootstrap *b);                /* why it failed, or NULL */
usec_t bootstrap_duration(const Bootstrap *b);                  /* start to done; 0 if not done */
int bootstrap_to_json(const Bootstrap *b, cJSON **ret);
