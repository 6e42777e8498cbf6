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

#include "macro.h"

typedef struct Manager Manager;
typedef struct Reloader Reloader;

typedef void (*ReloadDone)(int error, const char *reason, void *userdata);

int reloader_new(Manager *m, Reloader **ret);
Reloader *reloader_free(Reloader *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Reloader *, reloader_free);

/* unit and/or command (at least one). done is always called, later. */
int reloader_reload(Reloader *r, const char *unit, const char *command, ReloadDone done, void *userdata);
