/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A sequence: named asynchronous steps run one after the other, each
 * started when the one before reports done, the whole bounded by a
 * timeout. It knows nothing of what a step does: the manager builds the
 * list and each step's start function kicks off the work, whose completion
 * calls sequence_step_done(). Two sequences run agentd's life:
 *
 *   bootstrap  identity → credentials → secrets → render (skipping what
 *              the config does not use); manager-bootstrap.c
 *   drain      /health 503 → plugins stop → connections close → logs and
 *              metrics flushed → lifecycle hook completed; manager-drain.c
 *
 * So a sequence can be tested with fake steps, and a later capability adds
 * a step without touching it. A step that fails ends the sequence in
 * `failed`. sequence_resume() takes a failed sequence back to running at
 * the step that failed, for work that recovers by itself (a missing secret
 * that appears later).
 */

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <systemd/sd-event.h>

#include "callback.h"

typedef struct Sequence Sequence;

typedef enum SequenceState {
        SEQUENCE_IDLE,
        SEQUENCE_RUNNING,
        SEQUENCE_DONE,
        SEQUENCE_FAILED,
} SequenceState;

typedef enum SequenceEventType {
        SEQUENCE_EVENT_STEP,           /* ev->name started */
        SEQUENCE_EVENT_DONE,           /* all steps done (error 0) or one failed */
} SequenceEventType;

typedef void (*SequenceStepStart)(Sequence *b, void *userdata);


/* name: "bootstrap", for log lines; timeout_key: the config key that sets
 * the timeout, named in the error when it passes. Both must outlive it. */
int sequence_new(sd_event *e, const char *name, usec_t timeout, const char *timeout_key, AgentCallback cb,
                 void *userdata, Sequence **ret);
Sequence *sequence_free(Sequence *b);
DEFINE_TRIVIAL_CLEANUP_FUNC(Sequence *, sequence_free);

/* Steps run in the order added; name must outlive the chain. */
int sequence_add_step(Sequence *b, const char *name, SequenceStepStart start, void *userdata);
/* Starts the first step from the event loop (never inside this call). */
int sequence_start(Sequence *b);
/* The current step's work ended. May be called from inside its start
 * function: the next step still starts from the loop. */
void sequence_step_done(Sequence *b);
/* Fails the chain at the current step (no-op unless running). */
void sequence_fail(Sequence *b, int error, const char *fmt, ...) _printf_(3, 4);
/* A failed chain runs again from the step that failed, without starting
 * it anew: its work goes on and ends with sequence_step_done(). */
int sequence_resume(Sequence *b);

SequenceState sequence_state(const Sequence *b);
const char *sequence_current_step(const Sequence *b);        /* NULL before the start */
const char *sequence_error(const Sequence *b);                /* why it failed, or NULL */
usec_t sequence_duration(const Sequence *b);                  /* start to done; 0 if not done */
int sequence_to_json(const Sequence *b, cJSON **ret);
