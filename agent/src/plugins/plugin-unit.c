/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "plugin"

/*
 * Plugins as systemd units, over the system bus, all asynchronous on the
 * loop (sd_bus_attach_event):
 *
 *   Subscribe                  systemd sends job and unit signals only to
 *                              subscribers; its answer also tells that
 *                              systemd is there at all (plugins.c decides
 *                              the runner from it)
 *   LoadUnit(unit) → object    then a match on PropertiesChanged of that
 *                              object, and GetAll of its Unit and Service
 *                              interfaces for the starting point
 *   StartUnit(unit, replace)   → job; done when JobRemoved names the job
 *   StopUnit(unit, replace)    at drain; systemd's TimeoutStopSec bounds it
 *
 * The plugin's state is derived from what systemd says: ActiveState and
 * SubState, MainPID, NRestarts (systemd restarted it: Restart=), and the
 * main process's exit (ExecMainCode/ExecMainStatus). A property sent as
 * invalidated only is read again with GetAll. JobRemoved may overtake the
 * method reply that names the job: recent job ends are remembered (as
 * render/reload.c does for its reloads).
 */

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "log.h"
#include "plugin-internal.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"
#define SD_UNIT "org.freedesktop.systemd1.Unit"
#define SD_SERVICE "org.freedesktop.systemd1.Service"

static void update(Plugin *p);
static void refresh(Plugin *p);

static void describe_exit(Plugin *p) {
        if (p->exec_main_code == CLD_EXITED)
                snprintf(p->last_exit, sizeof(p->last_exit), "exit status %d", p->exec_main_status);
        else if (p->exec_main_code == CLD_KILLED || p->exec_main_code == CLD_DUMPED)
                snprintf(p->last_exit, sizeof(p->last_exit), "killed by signal %d", p->exec_main_status);
}

/* One a{sv} of Unit/Service properties; those we do not follow are skipped. */
static int read_properties(Plugin *p, sd_bus_message *m) {
        unsigned old_restarts = p->restarts;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name, *s;
                uint32_t u;
                int32_t i;

                r = sd_bus_message_read(m, "s", &name);
                if (r < 0)
                        return r;
                if (streq(name, "ActiveState") || streq(name, "SubState")) {
                        r = sd_bus_message_read(m, "v", "s", &s);
                        if (r >= 0)
                                snprintf(streq(name, "ActiveState") ? p->active_state : p->sub_state,
                                         sizeof(p->active_state), "%s", s);
                } else if (streq(name, "MainPID") || streq(name, "NRestarts")) {
                        r = sd_bus_message_read(m, "v", "u", &u);
                        if (r >= 0 && streq(name, "MainPID"))
                                p->main_pid = (pid_t) u;
                        else if (r >= 0)
                                p->restarts = u;
                } else if (streq(name, "ExecMainCode") || streq(name, "ExecMainStatus")) {
                        r = sd_bus_message_read(m, "v", "i", &i);
                        if (r >= 0 && streq(name, "ExecMainCode"))
                                p->exec_main_code = i;
                        else if (r >= 0)
                                p->exec_main_status = i;
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        describe_exit(p);
        if (p->restarts > old_restarts && !p->stop_requested)
                log_warning("%s: restarted by systemd (NRestarts=%u, last exit: %s)", p->name, p->restarts,
                            p->last_exit[0] ? p->last_exit : "unknown");
        return sd_bus_message_exit_container(m);
}

/* ---- state ---- */

static void update(Plugin *p) {
        const char *a = p->active_state;

        if (p->stop_requested || p->state == PLUGIN_STATE_STOPPED)
                return;         /* the stop job decides */
        if (p->job_path)
                return;         /* the start job decides */
        if (streq(a, "active") || streq(a, "reloading"))
                plugin_set_state(p, PLUGIN_STATE_RUNNING, "%s (%s), pid %d, %u restart(s)", a, p->sub_state,
                                 (int) p->main_pid, p->restarts);
        else if (streq(a, "activating") && streq(p->sub_state, "auto-restart"))
                plugin_set_state(p, PLUGIN_STATE_RESTARTING, "exited (%s); systemd restarts it (%u restart(s) so far)",
                                 p->last_exit[0] ? p->last_exit : "unknown", p->restarts);
        else if (streq(a, "activating"))
                plugin_set_state(p, PLUGIN_STATE_STARTING, "activating (%s)", p->sub_state);
        else if (streq(a, "failed"))
                plugin_set_state(p, PLUGIN_STATE_FAILED, "%s failed (%s; last exit: %s, %u restart(s))", p->unit,
                                 p->sub_state, p->last_exit[0] ? p->last_exit : "none", p->restarts);
        else if (a[0])
                plugin_set_state(p, PLUGIN_STATE_FAILED, "%s is %s (%s): not running (last exit: %s)", p->unit, a,
                                 p->sub_state, p->last_exit[0] ? p->last_exit : "none");
}

static void job_ended(Plugin *p, const char *result) {
        bool stopping = p->stop_requested;

        p->job_path = mfree(p->job_path);
        if (stopping) {
                plugin_set_state(p, PLUGIN_STATE_STOPPED, "stopped by systemd (job %s)", result);
                return;
        }
        if (!streq(result, "done")) {
                plugin_set_state(p, PLUGIN_STATE_FAILED, "systemd could not start %s: job %s", p->unit, result);
                refresh(p);     /* for the exit status */
                return;
        }
        log_debug("%s: start job done", p->name);
        refresh(p);
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Plugins *ps = userdata;
        const char *path, *unit, *result;
        Plugin *p;
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        LIST_FOREACH(plugins, p, ps->plugins)
                if (streq_ptr(p->job_path, path)) {
                        job_ended(p, result);
                        break;
                }
        unsigned i = ps->recent_next++ % PLUGIN_RECENT_JOBS;
        free(ps->recent[i].path);
        free(ps->recent[i].result);
        ps->recent[i].path = strdup(path);
        ps->recent[i].result = strdup(result);
        return 0;
}

/* A StartUnit/StopUnit reply: the job to wait for. */
static int on_job_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Plugin *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *path;

        p->call_slot = sd_bus_slot_unref(p->call_slot);
        if (e) {
                if (p->stop_requested)
                        plugin_set_state(p, PLUGIN_STATE_FAILED, "systemd refused to stop %s: %s", p->unit,
                                         e->message ?: e->name);
                else
                        plugin_set_state(p, PLUGIN_STATE_FAILED, "systemd refused to start %s: %s", p->unit,
                                         e->message ?: e->name);
                return 0;
        }
        if (sd_bus_message_read(m, "o", &path) < 0 || free_and_strdup(&p->job_path, path) < 0) {
                plugin_set_state(p, PLUGIN_STATE_FAILED, "unexpected answer from systemd for %s", p->unit);
                return 0;
        }
        for (unsigned i = 0; i < PLUGIN_RECENT_JOBS; i++)
                if (streq_ptr(p->owner->recent[i].path, path)) {
                        job_ended(p, p->owner->recent[i].result);
                        break;
                }
        return 0;
}

/* ---- properties ---- */

static int on_get_all(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

static int get_all(Plugin *p, const char *interface) {
        p->get_slot = sd_bus_slot_unref(p->get_slot);
        return sd_bus_call_method_async(p->owner->bus, &p->get_slot, SD_DEST, p->object_path,
                                        "org.freedesktop.DBus.Properties", "GetAll", on_get_all, p, "s", interface);
}

static int on_get_all(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Plugin *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r;

        p->get_slot = sd_bus_slot_unref(p->get_slot);
        if (e) {
                log_warning("%s: cannot read the properties of %s: %s", p->name, p->unit, e->message ?: e->name);
                return 0;
        }
        r = read_properties(p, m);
        if (r < 0) {
                log_warning_errno(r, "%s: malformed properties of %s: %m", p->name, p->unit);
                return 0;
        }
        /* Unit first, then Service; the state once both are in. */
        if (!p->props_service_read) {
                p->props_service_read = true;
                r = get_all(p, SD_SERVICE);
                if (r < 0)
                        log_warning_errno(r, "%s: cannot ask for the properties of %s: %m", p->name, p->unit);
                return 0;
        }
        update(p);
        return 0;
}

static void refresh(Plugin *p) {
        int r;

        if (!p->object_path)
                return;
        p->props_service_read = false;
        r = get_all(p, SD_UNIT);
        if (r < 0)
                log_warning_errno(r, "%s: cannot ask for the properties of %s: %m", p->name, p->unit);
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Plugin *p = userdata;
        const char *interface;
        int r;

        r = sd_bus_message_read(m, "s", &interface);
        if (r >= 0)
                r = read_properties(p, m);
        if (r >= 0)
                r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0) {
                log_debug_errno(r, "%s: malformed PropertiesChanged: %m", p->name);
                return 0;
        }
        /* Values systemd only invalidates: read them. */
        if (sd_bus_message_at_end(m, false) == 0 && !p->get_slot)
                refresh(p);
        else
                update(p);
        return 0;
}

static int on_load_unit(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Plugin *p = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *path;
        int r;

        p->call_slot = sd_bus_slot_unref(p->call_slot);
        if (e) {
                plugin_set_state(p, PLUGIN_STATE_FAILED, "systemd cannot load %s: %s", p->unit, e->message ?: e->name);
                return 0;
        }
        r = sd_bus_message_read(m, "o", &path);
        if (r >= 0)
                r = free_and_strdup(&p->object_path, path);
        if (r >= 0)
                r = sd_bus_match_signal_async(p->owner->bus, &p->props_slot, SD_DEST, p->object_path,
                                              "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                              on_properties_changed, NULL, p);
        if (r >= 0)
                r = sd_bus_call_method_async(p->owner->bus, &p->call_slot, SD_DEST, SD_PATH, SD_MANAGER, "StartUnit",
                                             on_job_reply, p, "ss", p->unit, "replace");
        if (r < 0) {
                plugin_set_state(p, PLUGIN_STATE_FAILED, "cannot start %s: %s", p->unit, strerror(-r));
                return 0;
        }
        refresh(p);
        return 0;
}

int plugin_unit_start(Plugin *p) {
        plugin_set_state(p, PLUGIN_STATE_STARTING, "starting %s", p->unit);
        return sd_bus_call_method_async(p->owner->bus, &p->call_slot, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit",
                                        on_load_unit, p, "s", p->unit);
}

int plugin_unit_stop(Plugin *p) {
        int r;

        p->call_slot = sd_bus_slot_unref(p->call_slot);
        p->job_path = mfree(p->job_path);
        r = sd_bus_call_method_async(p->owner->bus, &p->call_slot, SD_DEST, SD_PATH, SD_MANAGER, "StopUnit",
                                     on_job_reply, p, "ss", p->unit, "replace");
        if (r >= 0)
                plugin_set_state(p, PLUGIN_STATE_STOPPING, "StopUnit %s", p->unit);
        return r;
}

void plugin_unit_forget(Plugin *p) {
        p->call_slot = sd_bus_slot_unref(p->call_slot);
        p->props_slot = sd_bus_slot_unref(p->props_slot);
        p->get_slot = sd_bus_slot_unref(p->get_slot);
        p->object_path = mfree(p->object_path);
        p->job_path = mfree(p->job_path);
}

/* ---- the connection ---- */

static int on_subscribed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        Plugins *ps = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        char why[256];

        ps->subscribe_slot = sd_bus_slot_unref(ps->subscribe_slot);
        if (!e) {
                plugins_runner_decided(ps, PLUGIN_RUNNER_SYSTEMD, NULL);
                return 0;
        }
        /* The connection stays (idle) until plugins_free(): closing a bus
         * from inside its own callback is not worth the risk. */
        snprintf(why, sizeof(why), "systemd did not answer on the system bus (%s)", e->message ?: e->name);
        plugins_runner_decided(ps, PLUGIN_RUNNER_EXEC, why);
        return 0;
}

int plugin_bus_connect(Plugins *ps) {
        int r;

        r = sd_bus_open_system(&ps->bus);
        if (r >= 0)
                r = sd_bus_attach_event(ps->bus, ps->event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = sd_bus_match_signal_async(ps->bus, NULL, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved",
                                              on_job_removed, NULL, ps);
        if (r >= 0)
                r = sd_bus_call_method_async(ps->bus, &ps->subscribe_slot, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe",
                                             on_subscribed, ps, NULL);
        if (r < 0)
                plugin_bus_close(ps);
        return r;
}

void plugin_bus_close(Plugins *ps) {
        ps->subscribe_slot = sd_bus_slot_unref(ps->subscribe_slot);
        ps->bus = sd_bus_flush_close_unref(ps->bus);
        for (unsigned i = 0; i < PLUGIN_RECENT_JOBS; i++) {
                ps->recent[i].path = mfree(ps->recent[i].path);
                ps->recent[i].result = mfree(ps->recent[i].result);
        }
}
