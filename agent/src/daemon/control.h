/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The control socket: a unix stream socket (mode 0600; peers must be root or
 * agentd's own user, checked with SO_PEERCRED) speaking one JSON request per
 * connection, newline-terminated, answered by one JSON object:
 *   → {"command": "status"}
 *   ← {"ok": true, "status": {...}}   or   {"ok": false, "error": "..."}
 * Clients are served from the event loop with bounded buffers, a deadline
 * and a cap on concurrent connections; a slow or silent client costs
 * nothing but its slot.
 */

#include "macro.h"

typedef struct Manager Manager;
typedef struct ControlServer ControlServer;

#define CONTROL_MAX_REQUEST (64U * 1024U)
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_TIMEOUT_USEC (5 * USEC_PER_SEC)

/* A request answered later (refresh, rollback): the command handler keeps
 * it and calls control_request_reply() once; if the client went away
 * meanwhile, the reply is dropped. */
typedef struct ControlRequest ControlRequest;
#define CONTROL_ASYNC_TIMEOUT_USEC (120 * USEC_PER_SEC)

/* resp: the JSON reply object (taken over); NULL → a generic error. */
void control_request_reply(ControlRequest *q, void *resp /* cJSON* */);
void control_request_reply_error(ControlRequest *q, const char *fmt, ...) _printf_(2, 3);

int control_server_new(Manager *m, const char *path, ControlServer **ret);
ControlServer *control_server_free(ControlServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlServer *, control_server_free);
