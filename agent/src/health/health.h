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
#include <sys/socket.h>
#include <sys/un.h>
#include <cjson/cJSON.h>

#include "check.h"
#include "component.h"

typedef struct Manager Manager;
typedef struct HealthServer HealthServer;

#define HEALTH_MAX_LISTEN 8
#define HEALTH_MEMORY_LIMIT (16U * 1024U)      /* per connection: request line and headers */

typedef struct HealthAddress {
        struct sockaddr_storage sa;
        socklen_t sa_len;
        bool is_unix;
        char text[128];
} HealthAddress;

/* "127.0.0.1:8081, unix:/run/agentd/health.sock, [::1]:8081": numeric
 * hosts only (binding happens at start, before any resolver). Returns the
 * number of addresses, or -EINVAL with *ret_bad pointing into the list. */
int health_listen_parse(const char *list, HealthAddress *ret, size_t max, const char **ret_bad);

/* The instance status: "healthy" and "degraded" answer 200, the rest 503. */
const char *health_status_compute(int manager_state, bool draining, Check *const *checks, size_t n,
                                  unsigned *ret_code);
/* The /health document. */
int health_build_json(Manager *m, cJSON **ret, unsigned *ret_code);

int health_server_new(Manager *m, HealthServer **ret);
HealthServer *health_server_free(HealthServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(HealthServer *, health_server_free);
Component *health_server_component(HealthServer *s);
/* Rebuilds the cached /health answer; NULL-safe. */
void health_server_refresh(HealthServer *s);
