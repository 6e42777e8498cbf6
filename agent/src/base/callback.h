/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one shape in which a subsystem tells its owner that something
 * happened: a step finished, a value changed, a request completed. As with
 * sd-dhcp-client's callback, the subsystem never knows who listens; the
 * manager passes the callback in at construction (or with a request) and
 * does the wiring: a secret change triggers a render, a check change
 * refreshes /health.
 *
 * `type` is the subsystem's own event enum. Callbacks are always invoked
 * from the event loop, never from inside the call that set them up, so a
 * callback may free the request, start another, or answer a client.
 */

#include "macro.h"

typedef struct AgentEvent {
        int type;               /* the subsystem's FOO_EVENT_* */
        int error;              /* 0, or a negative errno */
        const char *reason;     /* a readable line when error < 0; never a secret */
        const char *name;       /* the secret, target, check... concerned, or NULL */
        usec_t usec;            /* a duration, where the event carries one */
} AgentEvent;

typedef void (*AgentCallback)(void *source, const AgentEvent *ev, void *userdata);

static inline void agent_callback_invoke(AgentCallback cb, void *source, const AgentEvent *ev, void *userdata) {
        if (cb)
                cb(source, ev, userdata);
}
