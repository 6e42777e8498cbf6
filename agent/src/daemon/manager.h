/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The root object: owns the event loop, the configuration and every
 * subsystem, and is the only place that knows more than one of them. Each
 * subsystem gets what it needs at construction (the loop, lower objects,
 * a pointer to its settings in m->config, a callback) and reports through
 * its callback; the manager does the wiring:
 *
 *   identity done        → credentials get the role, the AWS client the region
 *   a secret changed     → render what uses it (or resume a bootstrap that
 *                          was waiting for it)
 *   a check sample       → /health is rebuilt
 *   bootstrap done       → READY=1, checks start, metrics get the instance
 *                          dimensions and start
 *   bootstrap done       → plugins start (start_after=bootstrap)
 *   bootstrap done       → logs start shipping
 *   identity retrying    → EXTEND_TIMEOUT_USEC to systemd
 *   SIGHUP               → new settings pointers for every subsystem
 *
 * manager.c builds and frees, handles signals and reload; manager-bootstrap.c
 * runs the bootstrap chain; manager-control.c answers agentctl;
 * manager-vars.c answers the renderer's variable lookups; status.c builds
 * the status document.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "callback.h"
#include "control.h"
#include "component.h"
#include "conf.h"
#include "health.h"
#include "curl-glue.h"
#include "identity.h"
#include "render.h"

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
typedef struct CheckSet CheckSet;
typedef struct Sequence Sequence;
typedef struct Lifecycle Lifecycle;
typedef struct Metrics Metrics;
typedef struct Plugins Plugins;
typedef struct Logs Logs;

typedef enum ManagerState {
        MANAGER_BOOTSTRAPPING,
        MANAGER_RUNNING,
        MANAGER_FAILED,         /* bootstrap gave up; still serving status */
        MANAGER_STOPPING,
        _MANAGER_STATE_MAX,
} ManagerState;

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
        CheckSet *checks;
        Metrics *metrics;
        Logs *logs;
        HealthServer *health;
        ControlServer *control;
        Lifecycle *lifecycle;
        Sequence *bootstrap;
        Sequence *drain;                /* once started, until exit (or agentctl resume) */
        Plugins *plugins;

        Component core;         /* the bootstrap itself */
        bool draining;          /* /health answers 503 "draining" */
        bool stopping;
        usec_t start_monotonic;
        usec_t start_realtime;

        sd_event_source *watchdog_timer;
        usec_t watchdog_usec;
        bool notified_ready;
        bool log_level_from_cmdline;
        ControlRequest *pending_refresh;
        struct SecretRefusal *secret_refusals;  /* manager.c: refresh_min of refused logins */

        /* The drain (manager-drain.c). */
        char *drain_trigger;
        bool exit_after_drain;
        sd_event_source *drain_timer;
        usec_t drain_connections_deadline;
        int drain_connections_last;
        unsigned drain_flushes;         /* flushes the drain waits for */
        bool launch_requested;          /* the launch hook's completion went out */

        /* For test harnesses (aws-probe): told once when bootstrap ends. */
        AgentCallback ready_callback;
        void *ready_userdata;
};

int manager_new(const char *config_path, Config *config, Manager **ret);
Manager *manager_free(Manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(Manager *, manager_free);

int manager_start(Manager *m);
int manager_run(Manager *m);
int manager_reload(Manager *m);

ManagerState manager_state(const Manager *m);
const char *manager_state_to_string(ManagerState s);
/* Every subsystem's components, for status and health. */
int manager_collect_components(Manager *m, ComponentList *l);
/* Overall: 0 healthy, 1 degraded, 2 failed (agentctl's exit codes). */
int manager_health(Manager *m);
/* Draining: /health answers 503 at once (SIGTERM, agentctl drain, and the
 * lifecycle subsystem on termination). */
void manager_set_draining(Manager *m, bool draining);
/* Human-readable sd_notify STATUS=, also shown by agentctl. */
void manager_set_status(Manager *m, const char *fmt, ...) _printf_(2, 3);
/* The agent's state as /health sees it. */
HealthAgentState manager_health_agent_state(const Manager *m);
/* Pushes the agent's state to the health server. */
void manager_push_health(Manager *m);

/* manager-bootstrap.c */
int manager_sequence_start(Manager *m);
/* The secrets subsystem's callback: LOADED ends the secrets step, CHANGED
 * re-renders (or resumes a bootstrap that waited for the secret). */
void manager_on_secrets_event(void *source, const AgentEvent *ev, void *userdata);
void manager_secret_changed(Manager *m, const char *name);

/* manager-drain.c: out of service, connections closed, hooks completed;
 * once, whatever asks (why: for the log; time_left: AWS's deadline, 0 for
 * none). exit_when_done: SIGTERM, agentd exits at the end. */
int manager_drain(Manager *m, const char *why, usec_t time_left, bool exit_when_done);
/* agentctl resume: undo a drain that is not a shutdown. -EBUSY otherwise. */
int manager_undrain(Manager *m);
/* Complete the launch hook once healthy (bootstrap done, checks passed). */
void manager_check_launch(Manager *m);

/* manager-control.c: what agentctl can ask (status, refresh, rollback,
 * check, drain, resume, flush), answered through the request. */
extern const ControlCommand manager_control_commands[];
int manager_refresh(Manager *m, const char *secret, ControlRequest *q);
int manager_rollback(Manager *m, const char *name, ControlRequest *q);

/* manager-status.c: the document `agentctl status --json` prints; agentctl
 * renders the same document as text, so both always agree. Nothing secret
 * goes in. */
int manager_status_build(Manager *m, cJSON **ret);

/* manager-vars.c: what the renderer asks of the manager (RenderHooks): the
 * template variables the manager holds and every secret value, for
 * redaction.
 *   instance.id .region .availability_zone .type .ami_id .local_ipv4
 *            .account_id .life_cycle .role      (IMDS identity)
 *   tags.KEY                                     (instance tags, if enabled)
 *   secret.NAME / secret.NAME.FIELD              (Secrets Manager)
 *   vars.KEY                                     ([vars] in the config)
 * (system.* and pm.* are the renderer's own: system-vars.h.) */
int manager_template_lookup(void *userdata, const char *name, TemplateValue *ret);
int manager_foreach_secret(void *userdata, RenderRedactAdd add, void *ctx);
