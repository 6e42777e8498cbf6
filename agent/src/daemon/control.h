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
 *
 * The server knows no command: the owner passes a table of handlers. A
 * handler answers its ControlRequest exactly once, at once or later, and
 * the answer always leaves through a deferred event source, never from
 * inside the handler's call: so no handler, however it is wired, can free
 * a client under the server's feet. If the client went away meanwhile, the
 * answer is dropped.
 */

#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "macro.h"

typedef struct ControlServer ControlServer;
typedef struct ControlRequest ControlRequest;

#define CONTROL_MAX_REQUEST (64U * 1024U)
#define CONTROL_MAX_CLIENTS 16
#define CONTROL_TIMEOUT_USEC (5 * USEC_PER_SEC)
#define CONTROL_ASYNC_TIMEOUT_USEC (120 * USEC_PER_SEC)

/* args: the whole request object. A negative return without an answer
 * answers with the errno's text. */
typedef int (*ControlHandler)(ControlRequest *q, const cJSON *args, void *userdata);

typedef struct ControlCommand {
        const char *name;
        ControlHandler handler;
        usec_t timeout;         /* how long the client may wait; 0: CONTROL_TIMEOUT_USEC */
} ControlCommand;

/* commands: terminated by an entry with name NULL; must outlive the server. */
int control_server_new(sd_event *e, const char *path, const ControlCommand *commands, void *userdata,
                       ControlServer **ret);
ControlServer *control_server_free(ControlServer *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(ControlServer *, control_server_free);

/* resp: the JSON reply object (taken over; "ok": true added unless set);
 * NULL → an out-of-memory error. Only the first answer counts. */
void control_request_reply(ControlRequest *q, cJSON *resp);
void control_request_reply_error(ControlRequest *q, const char *fmt, ...) _printf_(2, 3);
/* {"ok": true, "result": TEXT} */
void control_request_reply_result(ControlRequest *q, const char *text);
/* Lets the client wait longer for this answer (a check's own timeout). */
void control_request_extend(ControlRequest *q, usec_t timeout);
