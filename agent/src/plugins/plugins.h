/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The plugins of [plugin.NAME], as one subsystem: agentd orchestrates,
 * systemd supervises. When the owner says (the manager: when bootstrap
 * ends), each plugin's unit is started over D-Bus (StartUnit, waiting for
 * the job's JobRemoved); its state is followed from PropertiesChanged on
 * the unit's object (ActiveState, SubState, MainPID, NRestarts, the main
 * process's exit); at drain it is stopped (StopUnit, bounded by the unit's
 * TimeoutStopSec and, on our side, by drain_timeout). systemd restarts,
 * limits, sandboxes and logs; agentd grows no second supervisor.
 *
 * Where systemd is not on the system bus (development, the integration
 * tests), a plugin with exec= is run by the one process runner instead:
 * same start stage, restart with backoff, SIGTERM at drain (SIGKILL after
 * drain_timeout), its output in agentd's log. Which runner is decided once,
 * at start, by asking systemd to Subscribe.
 *
 * Each unit (one per template instance) is a Component "plugin.NAME" or
 * "plugin.NAME@I" with state, main pid, restarts and last exit in its
 * status JSON. Settings are copied at construction: [plugin.*] changes take
 * effect on restart.
 */

#include <systemd/sd-event.h>

#include "callback.h"
#include "component.h"
#include "plugin-settings.h"

typedef struct Plugins Plugins;

enum {
        PLUGINS_EVENT_CHANGED = 1,      /* a plugin's state changed: name (plugin.NAME[@I]), reason */
        PLUGINS_EVENT_RUNNING,          /* a unit of [plugin.NAME] came up: name (NAME) */
        PLUGINS_EVENT_STOPPED,          /* plugins_stop_all() ended: error -ETIMEDOUT if one did not stop
                                         * in time, -EIO if one could not be stopped; reason names them */
};

int plugins_new(sd_event *e, PluginSettings *const *list, size_t n, AgentCallback cb, void *userdata,
                Plugins **ret);
Plugins *plugins_free(Plugins *ps);
DEFINE_TRIVIAL_CLEANUP_FUNC(Plugins *, plugins_free);

size_t plugins_count(const Plugins *ps);
/* Starts every plugin whose stage is `stage` (once; later calls do
 * nothing for plugins started already). Errors of single plugins go to
 * their components; a negative return means nothing could be started. */
int plugins_start(Plugins *ps, PluginStage stage);
/* Stops every plugin (StopUnit or SIGTERM); done gets
 * PLUGINS_EVENT_STOPPED once all are down or the longest drain_timeout
 * (plus a margin) has passed, always from the event loop. Plugins never
 * started count as stopped. Once called, nothing starts again. */
int plugins_stop_all(Plugins *ps, AgentCallback done, void *userdata);
/* "systemd", "exec", or NULL while undecided. */
const char *plugins_runner(const Plugins *ps);
/* One component per unit. */
int plugins_add_components(Plugins *ps, ComponentList *l);
