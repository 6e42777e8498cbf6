/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What every subsystem reports about itself: a state, a one-line detail, the
 * last error and when things changed. The manager lists the registered
 * components in `agentctl status` and derives the agent's overall health
 * from them, so a new subsystem only embeds a Component and registers it.
 * Details and errors are shown to people: never put a secret in them.
 */

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "macro.h"

typedef enum ComponentState {
        COMPONENT_STARTING,
        COMPONENT_OK,
        COMPONENT_DEGRADED,
        COMPONENT_FAILED,
        COMPONENT_DISABLED,
        _COMPONENT_STATE_MAX,
} ComponentState;

typedef struct Component {
        const char *name;
        bool critical;          /* failed → the agent is failed, else degraded */
        ComponentState state;
        char *detail;
        char *last_error;
        usec_t last_error_at;   /* CLOCK_REALTIME */
        usec_t since;           /* CLOCK_REALTIME of the last state change */
        unsigned errors;        /* count since start */
        /* Optional extra fields for status output. */
        int (*append_json)(const struct Component *c, cJSON *obj);
} Component;

void component_init(Component *c, const char *name, bool critical);
void component_done(Component *c);
/* Sets state and detail (printf-style). */
void component_set(Component *c, ComponentState s, const char *fmt, ...) _printf_(3, 4);
/* Records an error (also becomes the detail) and sets the state. */
void component_error(Component *c, ComponentState s, const char *fmt, ...) _printf_(3, 4);
const char *component_state_to_string(ComponentState s);
int component_to_json(const Component *c, cJSON **ret);

/* What the manager collects for status and health: every subsystem adds
 * its components (one, or one per secret, target, check) on request, so
 * no component is ever registered, and none outlives its owner in a list. */
typedef struct ComponentList {
        Component **items;
        size_t n, allocated;
} ComponentList;

int component_list_add(ComponentList *l, Component *c);
void component_list_done(ComponentList *l);
