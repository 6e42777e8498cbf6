/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The inside of the plugins subsystem, shared by plugins.c (the set, the
 * runner decision, stop-all) and its two runners: plugin-unit.c (systemd
 * over D-Bus) and plugin-exec.c (the process runner). A runner moves its
 * Plugin through the states below with plugin_set_state(), which updates
 * the component, logs and tells the set.
 */

#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "backoff.h"
#include "callback.h"
#include "component.h"
#include "list.h"
#include "plugin-settings.h"
#include "process.h"

/* plugins.h includes nothing of this file's, and this file none of it:
 * the two are one module's outside and inside. */
typedef struct Plugins Plugins;

#define PLUGIN_RECENT_JOBS 32

typedef enum PluginRunner {
        PLUGIN_RUNNER_NONE,             /* undecided, or nothing to run it with */
        PLUGIN_RUNNER_SYSTEMD,
        PLUGIN_RUNNER_EXEC,
} PluginRunner;

typedef enum PluginState {
        PLUGIN_STATE_WAITING,           /* for its start stage */
        PLUGIN_STATE_STARTING,
        PLUGIN_STATE_RUNNING,
        PLUGIN_STATE_RESTARTING,        /* exited; systemd (or we) start it again */
        PLUGIN_STATE_STOPPING,
        PLUGIN_STATE_STOPPED,           /* by us, at drain */
        PLUGIN_STATE_FAILED,
        _PLUGIN_STATE_MAX,
} PluginState;

typedef struct Plugin Plugin;

struct Plugin {
        Plugins *owner;
        char *name;             /* the component's: plugin.NAME or plugin.NAME@I */
        char *plugin;           /* NAME */
        char *unit;             /* NULL: exec= only */
        char *command;          /* NULL: unit= only */
        char *health, *metrics; /* shown in status */
        PluginStage stage;
        usec_t drain_timeout;
        Component component;
        PluginRunner runner;
        PluginState state;
        bool stop_requested;

        /* What we know of the process, from either runner. */
        pid_t main_pid;
        unsigned restarts;
        char last_exit[64];     /* "exit status 1", "killed by signal 9", or "" */

        /* systemd */
        char active_state[32], sub_state[32];
        int exec_main_code, exec_main_status;
        char *object_path;
        char *job_path;         /* our pending StartUnit/StopUnit job */
        sd_bus_slot *call_slot, *props_slot, *get_slot;
        bool props_service_read;        /* GetAll: Unit done, Service asked */

        /* exec */
        Process *process;
        sd_event_source *restart_timer;
        Backoff backoff;
        usec_t started_at;      /* CLOCK_MONOTONIC */

        LIST_FIELDS(Plugin, plugins);
};

struct Plugins {
        sd_event *event;
        AgentCallback cb;
        void *userdata;
        Plugin *plugins;
        size_t n;
        PluginRunner runner;    /* for plugins with a unit */
        bool started[_PLUGIN_STAGE_MAX];
        bool deciding;          /* Subscribe is on its way */
        bool stopping;

        sd_bus *bus;
        sd_bus_slot *subscribe_slot;
        /* JobRemoved can overtake the method reply: remember recent ends. */
        struct {
                char *path;
                char *result;
        } recent[PLUGIN_RECENT_JOBS];
        unsigned recent_next;

        AgentCallback stop_done;
        void *stop_userdata;
        sd_event_source *stop_deadline, *stop_defer;
};

const char *plugin_state_to_string(PluginState s);
/* Moves p to s with a one-line detail (printf); tells the set. */
void plugin_set_state(Plugin *p, PluginState s, const char *fmt, ...) _printf_(3, 4);
/* The set: a plugin reached STOPPED or FAILED while stopping. */
void plugins_check_stopped(Plugins *ps);

/* plugin-unit.c: the shared bus connection. Connects, subscribes, and calls
 * plugins_runner_decided() from the loop with the answer. */
int plugin_bus_connect(Plugins *ps);
void plugins_runner_decided(Plugins *ps, PluginRunner runner, const char *why);
void plugin_bus_close(Plugins *ps);
int plugin_unit_start(Plugin *p);
int plugin_unit_stop(Plugin *p);
void plugin_unit_forget(Plugin *p);

/* plugin-exec.c */
int plugin_exec_start(Plugin *p);
int plugin_exec_stop(Plugin *p);
void plugin_exec_forget(Plugin *p);
