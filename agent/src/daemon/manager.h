/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The root object: owns the event loop, the configuration and every
 * subsystem, runs the bootstrap sequence and speaks sd_notify. Subsystems
 * get the Manager and read m->config on use (never caching it), so a SIGHUP
 * reload that swaps the config reaches them.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "check-set.h"
#include "component.h"
#include "conf.h"
#include "identity.h"
#include "curl-glue.h"
#include "health.h"

typedef struct Manager Manager;
typedef struct Imds Imds;
typedef struct Credentials Credentials;
typedef struct AwsClient AwsClient;
typedef struct ControlServer ControlServer;
typedef struct ControlRequest ControlRequest;
typedef struct Secrets Secrets;
typedef struct Renderer Renderer;
typedef struct IdentityFetch IdentityFetch;
typedef struct HealthServer HealthServer;

typedef enum ManagerState {
        MANAGER_BOOTSTRAPPING,
        MANAGER_RUNNING,
        MANAGER_FAILED,         /* bootstrap gave up; still serving status */
        MANAGER_STOPPING,
        _MANAGER_STATE_MAX,
} ManagerState;

#define MANAGER_MAX_COMPONENTS 256
#define MANAGER_MAX_STEPS 16

typedef void (*ManagerReadyCallback)(Manager *m, void *userdata);
#define MANAGER_MAX_READY_CALLBACKS 8

typedef struct BootstrapStep {
        const char *name;
        usec_t duration;        /* 0 while running */
} BootstrapStep;

struct Manager {
        sd_event *event;
        Config *config;
        char *config_path;      /* --config, or NULL for the default */

        CurlGlue *glue;
        Imds *imds;
        Identity identity;
        IdentityFetch *identity_fetch;
        Credentials *credentials;
        AwsClient *aws;
        Secrets *secrets;
        Renderer *renderer;
        ControlServer *control;
        HealthServer *health;

        /* [check.NAME], started when bootstrap ends (check-set.h). */
        CheckSet *checks;
        /* Taken out of service: /health answers 503 "draining". */
        bool draining;

        Component core;         /* the bootstrap itself */
        Component *components[MANAGER_MAX_COMPONENTS];
        size_t n_components;

        ManagerState state;
        usec_t start_monotonic;
        usec_t start_realtime;
        usec_t ready_monotonic;
        BootstrapStep steps[MANAGER_MAX_STEPS];
        size_t n_steps;
        usec_t step_started;

        sd_event_source *watchdog_timer;
        sd_event_source *bootstrap_timer;
        usec_t watchdog_usec;
        bool notified_ready;
        bool log_level_from_cmdline;
        ControlRequest *pending_refresh;

        struct {
                ManagerReadyCallback callback;
                void *userdata;
        } ready_callbacks[MANAGER_MAX_READY_CALLBACKS];
        size_t n_ready_callbacks;
};

int manager_new(const char *config_path, Config *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

int manager_start(Manager *m);
int manager_run(Manager *m);

int manager_register_component(Manager *m, Component *c);
void manager_unregister_component(Manager *m, Component *c);
/* Draining: /health answers 503 at once (the lifecycle subsystem drains
 * on termination; SIGTERM does too). */
void manager_set_draining(Manager *m, bool draining);
/* Human-readable sd_notify STATUS=, also shown by agentctl. */
void manager_set_status(Manager *m, const char *fmt, ...) _printf_(2, 3);
/* Overall: 0 healthy, 1 degraded, 2 failed (agentctl's exit codes). */
int manager_health(Manager *m);
/* Every component: the registered ones, then one per check. */
int manager_collect_components(Manager *m, ComponentList *l);
/* m->state as the health server knows it. */
HealthAgentState manager_health_agent_state(Manager *m);
const char *manager_state_to_string(ManagerState s);

/* Bootstrap progress, called by the steps themselves. */
void manager_step_begin(Manager *m, const char *name);
void manager_step_end(Manager *m);
void manager_bootstrap_failed(Manager *m, const char *fmt, ...) _printf_(2, 3);
/* Tells systemd we are still busy (EXTEND_TIMEOUT_USEC) while retrying. */
void manager_extend_timeout(Manager *m, usec_t usec);

int manager_reload(Manager *m);
/* Control commands answered asynchronously through q. */
int manager_refresh(Manager *m, const char *secret, ControlRequest *q);
int manager_rollback(Manager *m, const char *name, ControlRequest *q);

/* Called once when bootstrap ends, either way (m->state says which), in
 * registration order. */
int manager_on_ready(Manager *m, ManagerReadyCallback cb, void *userdata);
