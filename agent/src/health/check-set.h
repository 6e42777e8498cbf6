/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The checks of [check.NAME], as one subsystem: built from the settings
 * list, started when the owner says (the manager: when bootstrap ends),
 * rebuilt on reload. Each sample is reported through the callback
 * (CHECK_SET_EVENT_CHANGED, from the event loop: a timer, I/O or child
 * event, never from inside a call of the owner); the owner refreshes
 * /health then. The set knows neither the manager nor the secrets: what a
 * check needs from outside comes in through CheckHooks.
 */

#include <systemd/sd-event.h>

#include "callback.h"
#include "check.h"
#include "component.h"
#include "curl-glue.h"
#include "health-settings.h"

typedef enum CheckSetEvent {
        CHECK_SET_EVENT_CHANGED,        /* a sample arrived; ev->name is the check */
} CheckSetEvent;

/* The Check objects point into list[i] (the owner's config) and into
 * *hooks' copy held by the set; glue and e must outlive the set. */
int check_set_new(sd_event *e, CurlGlue *glue, CheckSettings *const *list, size_t n, const CheckHooks *hooks,
                  AgentCallback cb, void *userdata, CheckSet **ret);
CheckSet *check_set_free(CheckSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(CheckSet *, check_set_free);

/* Arms every check, the first runs at once (a few ms apart): until a
 * check has a sample, /health cannot say the instance is healthy. */
int check_set_start(CheckSet *s);
/* Rebuilds the checks from a new list (call it before freeing the old
 * one), keeping the results of a check whose name and type did not
 * change; re-armed if started. On failure the old checks stay. */
int check_set_reload(CheckSet *s, CheckSettings *const *list, size_t n);

Check *check_set_find(CheckSet *s, const char *name);
/* The checks, in config order; NULL-safe (no set: none). */
Check *const *check_set_checks(CheckSet *s, size_t *ret_n);
/* One component per check, "check.NAME". */
int check_set_add_components(CheckSet *s, ComponentList *l);
