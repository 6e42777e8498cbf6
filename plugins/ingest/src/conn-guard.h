/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Keeps slow and idle clients from taking the API's connection slots, so a
 * fresh client (nginx forwarding a POST, agentd's readiness check) is
 * always served. The same measures as agentd's /health server got
 * (agent/src/health/conn-guard.h; the plugin shares no code with agentd):
 *
 * - a whole-request deadline: the request line, headers and body must
 *   arrive within request_timeout of the connection being accepted. On a
 *   kept-alive connection the next request has keepalive_timeout (longer
 *   than nginx's upstream keepalive_timeout, so nginx, not we, closes its
 *   idle connections: no POST races a close). MHD's own timeout is an idle
 *   timeout: a byte every few seconds would hold a slot forever;
 * - slots kept for new clients: past max_connections, the oldest
 *   connection still waiting for its request is closed to make room
 *   (MHD's hard limit is CONN_GUARD_RESERVE above ours, so MHD accepts);
 * - a per-peer limit (the peer is the uid on the unix socket): past
 *   max_per_peer, that peer's oldest waiting connection is closed.
 *
 * The guard closes with shutdown(SHUT_RDWR); MHD sees the end of the
 * stream, frees the connection and tells us (conn_guard_remove()).
 */

#include <systemd/sd-event.h>

#include "util.h"

#define CONN_GUARD_RESERVE 64U

typedef struct ConnGuard ConnGuard;
typedef struct GuardedConn GuardedConn;

typedef struct ConnGuardSettings {
        unsigned max_connections;
        unsigned max_per_peer;
        usec_t request_timeout;
        usec_t keepalive_timeout;
} ConnGuardSettings;

typedef struct ConnGuardStats {
        unsigned connections;
        uint64_t timed_out, evicted, peer_limited;
} ConnGuardStats;

int conn_guard_new(sd_event *e, const ConnGuardSettings *s, ConnGuard **ret);
/* Connections still tracked are forgotten, not closed. */
ConnGuard *conn_guard_free(ConnGuard *g);

/* Accepted on fd from peer (a uid; has_peer false: unknown). May close an
 * older connection, or this one (still returned, still to be removed).
 * NULL: out of memory (the connection is shut down). */
GuardedConn *conn_guard_add(ConnGuard *g, int fd, bool has_peer, uint32_t peer);
/* The whole request is in: no deadline while it is processed. */
void conn_guard_request_read(GuardedConn *c);
/* Answered, and the connection stays open: the next request's deadline. */
void conn_guard_request_answered(GuardedConn *c);
/* MHD closed it. NULL-safe. */
void conn_guard_remove(GuardedConn *c);
void conn_guard_stats(const ConnGuard *g, ConnGuardStats *ret);
