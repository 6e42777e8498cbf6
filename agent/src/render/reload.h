/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Reloading the services whose configuration changed. When systemd answers
 * on the system bus, a unit is reloaded with ReloadOrRestartUnit(unit,
 * "replace") and the reload counts as done when systemd reports the job's
 * end (JobRemoved, result "done"); nginx and php-fpm reload gracefully that
 * way (php-fpm's ExecReload is SIGUSR2). When systemd is not reachable (no
 * bus, or no systemd on it), the configured command runs instead.
 */

#include <systemd/sd-event.h>

#include "callback.h"
#include "macro.h"

typedef struct Reloader Reloader;

enum {
        RELOAD_EVENT_DONE = 1,  /* error, reason (never a secret from us; a command's output may quote one) */
};

int reloader_new(sd_event *e, Reloader **ret);
Reloader *reloader_free(Reloader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Reloader *, reloader_free);

/* unit and/or command (at least one). done gets RELOAD_EVENT_DONE once,
 * always from the event loop, never from inside this call. Pending
 * reloads are dropped, without callback, by reloader_free(). */
int reloader_reload(Reloader *r, const char *unit, const char *command, AgentCallback done, void *userdata);
/* The same with ReloadOrTryRestartUnit: a unit that is not running is left
 * alone (a plugin's credentials rendered at bootstrap must not start the
 * plugin before agentd does). */
int reloader_reload_if_running(Reloader *r, const char *unit, const char *command, AgentCallback done,
                               void *userdata);
