/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Keeps slow and idle clients from taking a server's connection slots, so
 * that a fresh client (the ALB's probe through nginx) is always served:
 *
 * - a whole-request deadline: a connection must deliver its request (line
 *   and headers; /health takes no body) within request_timeout of being
 *   accepted, or of its previous answer on a kept-alive connection. An
 *   idle timeout does not do this: one byte every few seconds keeps a
 *   connection "active" forever;
 * - slots kept for new clients: past max_connections, the oldest
 *   connection still waiting for its request is closed to make room, so the
 *   newcomer is served rather than refused (the owner gives its server a
 *   hard limit above max_connections: CONN_GUARD_RESERVE);
 * - a per-peer limit: past max_per_peer connections from one peer (an IP
 *   address, or a uid on a unix socket), that peer's oldest waiting
 *   connection is closed.
 *
 * The guard knows sockets, not HTTP: it closes a connection with
 * shutdown(SHUT_RDWR), and the server that owns the descriptor sees the
 * end of the stream and frees it (then calls conn_guard_remove()).
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define CONN_GUARD_RESERVE 64U
#define CONN_GUARD_PEER_MAX 16U         /* bytes of a peer key: an IPv6 address */

typedef struct ConnGuard ConnGuard;
typedef struct GuardedConn GuardedConn;

typedef struct ConnGuardSettings {
        unsigned max_connections;
        unsigned max_per_peer;
        usec_t request_timeout;
} ConnGuardSettings;

typedef struct ConnGuardStats {
        unsigned connections;
        unsigned long long timed_out, evicted, peer_limited;
} ConnGuardStats;

int conn_guard_new(sd_event *e, const ConnGuardSettings *s, ConnGuard **ret);
/* Every connection still tracked is forgotten, not closed. */
ConnGuard *conn_guard_free(ConnGuard *g);
DEFINE_TRIVIAL_CLEANUP_FUNC(ConnGuard *, conn_guard_free);

/* A connection was accepted on fd from peer (peer_len <= CONN_GUARD_PEER_MAX
 * bytes; 0: no per-peer limit). Its request deadline starts now. May close
 * other connections, or this one (it is still returned, and still to be
 * removed). NULL: out of memory (the connection is closed). */
GuardedConn *conn_guard_add(ConnGuard *g, int fd, const void *peer, size_t peer_len);
/* The request is complete: no deadline while it is answered. */
void conn_guard_request_read(GuardedConn *c);
/* The answer went out and the connection stays open: the next request's
 * deadline starts now. */
void conn_guard_request_answered(GuardedConn *c);
/* The owner closed the connection. NULL-safe. */
void conn_guard_remove(GuardedConn *c);
void conn_guard_stats(const ConnGuard *g, ConnGuardStats *ret);
