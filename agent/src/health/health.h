/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The health endpoint the ALB probes (through nginx's `location = /health`
 * proxied to our unix socket): libmicrohttpd without a thread of its own,
 * one MHD daemon per [health] listen= address, each driven by the event
 * loop through MHD's epoll fd plus a timer for MHD's own timeouts.
 *
 * GET/HEAD /health answers 200 (healthy, degraded) or 503 (unhealthy,
 * draining, bootstrapping) with a JSON document; /health/live answers 200
 * whenever the loop turns. Answers never run a check: the response is
 * rebuilt once per state change (health_server_refresh()) and every request
 * queues the same prebuilt MHD response.
 */

#include <stdbool.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "check-set.h"
#include "component.h"
#include "health-settings.h"

typedef struct HealthServer HealthServer;

#define HEALTH_MEMORY_LIMIT (16U * 1024U)      /* per connection: request line and headers */

/* What the agent as a whole is doing, pushed by its owner (the manager). */
typedef enum HealthAgentState {
        HEALTH_AGENT_BOOTSTRAPPING,
        HEALTH_AGENT_RUNNING,
        HEALTH_AGENT_FAILED,            /* bootstrap gave up */
        HEALTH_AGENT_STOPPING,
        _HEALTH_AGENT_STATE_MAX,
} HealthAgentState;

const char *health_agent_state_to_string(HealthAgentState s);

/* What /health says and why. The status: "healthy" and "degraded" answer
 * 200, the rest ("unhealthy", "starting", "draining", "bootstrapping")
 * 503. The reason code is what the public copy (/health/public, which the
 * nginx site proxies for the ALB) carries; the reason text, with check
 * names and their output, stays on loopback and the unix socket. */
typedef struct HealthVerdict {
        const char *status;
        unsigned code;
        const char *reason_code;        /* ok, degraded, check_failing, check_pending, bootstrap_failed,
                                         * bootstrapping, draining, stopping */
        char reason[512];
} HealthVerdict;

/* Pure. agent_reason: why the agent failed (bootstrap), or NULL. */
void health_verdict(HealthAgentState state, bool draining, const char *agent_reason, Check *const *checks, size_t n,
                    HealthVerdict *ret);
/* The status alone (tests, status output). */
const char *health_status_compute(HealthAgentState state, bool draining, Check *const *checks, size_t n,
                                  unsigned *ret_code);

/* Binds every listen= address of s (or takes it from socket activation).
 * An address that cannot be bound fails the component, not the call: its
 * status says why. checks may be NULL (none); s is read here only. The
 * agent starts "bootstrapping", not draining, without an instance id. */
int health_server_new(sd_event *e, const HealthSettings *s, CheckSet *checks, HealthServer **ret);
HealthServer *health_server_free(HealthServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HealthServer *, health_server_free);
Component *health_server_component(HealthServer *s);
/* The owner's state and, when it failed, why; rebuilds the answer.
 * NULL-safe. */
void health_server_set_agent(HealthServer *s, HealthAgentState state, bool draining, const char *instance_id,
                             const char *reason);
/* An extra GET/HEAD endpoint another part of the agent answers (/metrics):
 * fn builds the body (malloc'ed; the server frees it) on each request. It
 * is served on unix and loopback listeners only, and is 404 on any other
 * (the ALB's), since what it shows is for the instance itself. -EEXIST: the
 * path is taken; -E2BIG: past HEALTH_MAX_ENDPOINTS. Strings are copied. */
#define HEALTH_MAX_ENDPOINTS 4
typedef int (*HealthEndpointFunc)(void *userdata, char **ret_body, size_t *ret_len);
int health_server_add_endpoint(HealthServer *s, const char *path, const char *content_type, HealthEndpointFunc fn,
                               void *userdata);

/* Rebuilds the cached /health answer from the checks (call it after a
 * sample, check_set_start() or check_set_reload()); NULL-safe. */
void health_server_refresh(HealthServer *s);
