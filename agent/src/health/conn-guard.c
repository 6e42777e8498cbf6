/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "health"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "conn-guard.h"
#include "list.h"
#include "log.h"
#include "time-util.h"

/*
 * Connections are kept in one list in the order their current deadline
 * started (a kept-alive connection moves to the tail when its next request
 * begins), so the head is always the oldest: eviction and the deadline
 * timer look at the first waiting ones only. Lists are short (a server's
 * connection limit, at most 1,016), so the per-peer count is a walk.
 */

struct GuardedConn {
        ConnGuard *guard;
        int fd;
        usec_t since;           /* CLOCK_MONOTONIC: accepted, or last answer */
        bool waiting;           /* for its request (the deadline runs) */
        bool closing;           /* shut down by us; the owner will remove it */
        unsigned char peer[CONN_GUARD_PEER_MAX];
        size_t peer_len;
        LIST_FIELDS(GuardedConn, conns);
};

struct ConnGuard {
        ConnGuardSettings settings;
        sd_event_source *timer;
        GuardedConn *conns, *tail;
        ConnGuardStats stats;
};

static void rearm(ConnGuard *g);

static void conn_close(GuardedConn *c, const char *why) {
        if (c->closing)
                return;
        c->closing = true;
        c->waiting = false;
        /* The owner's read sees the end of the stream and frees it. */
        (void) shutdown(c->fd, SHUT_RDWR);
        log_debug("closing connection (fd %d): %s", c->fd, why);
}

static void unlink_conn(ConnGuard *g, GuardedConn *c) {
        if (g->tail == c)
                g->tail = c->conns_prev;
        LIST_REMOVE(conns, g->conns, c);
}

/* O(1) append: the list's own LIST_APPEND walks to the tail. */
static void append_conn(ConnGuard *g, GuardedConn *c) {
        c->conns_next = NULL;
        c->conns_prev = g->tail;
        if (g->tail)
                g->tail->conns_next = c;
        else
                g->conns = c;
        g->tail = c;
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        ConnGuard *g = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (GuardedConn *c = g->conns; c; c = c->conns_next) {
                if (!c->waiting)
                        continue;
                if (c->since + g->settings.request_timeout > now)
                        break;          /* ordered: the rest are younger */
                g->stats.timed_out++;
                conn_close(c, "request not complete within request_timeout");
        }
        rearm(g);
        return 0;
}

static void rearm(ConnGuard *g) {
        for (GuardedConn *c = g->conns; c; c = c->conns_next)
                if (c->waiting) {
                        (void) sd_event_source_set_time(g->timer, c->since + g->settings.request_timeout);
                        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT);
                        return;
                }
        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
}

int conn_guard_new(sd_event *e, const ConnGuardSettings *s, ConnGuard **ret) {
        _cleanup_(conn_guard_freep) ConnGuard *g = calloc(1, sizeof(ConnGuard));
        int r;

        if (!g)
                return -ENOMEM;
        g->settings = *s;
        r = sd_event_add_time(e, &g->timer, CLOCK_MONOTONIC, 0, 10 * USEC_PER_MSEC, on_deadline, g);
        if (r < 0)
                return r;
        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(g->timer, "health-request-deadline");
        *ret = TAKE_PTR(g);
        return 0;
}

ConnGuard *conn_guard_free(ConnGuard *g) {
        if (!g)
                return NULL;
        while (g->conns) {
                GuardedConn *c = g->conns;
                unlink_conn(g, c);
                free(c);
        }
        sd_event_source_disable_unref(g->timer);
        return mfree(g);
}

/* Bytes the kernel holds for fd that its owner has not read yet: a request
 * that arrived and is about to be served. */
static bool has_pending_input(int fd) {
        int n = 0;
        return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

/* The connection to close for room: one still waiting for its request,
 * among those of peer (NULL: any), other than except. Preferred, in order:
 * nothing unread (a fresh client has sent its request by the time newer
 * connections are accepted: what is unread is about to be served, while an
 * idle or slow client has nothing waiting); from the peer holding the most
 * connections (a flood comes from few peers, the probe from one
 * connection); the oldest. Only the oldest few are weighed: accepts stay
 * cheap under a flood. */
#define CANDIDATES 16
static unsigned peer_count(ConnGuard *g, const GuardedConn *peer);
static GuardedConn *oldest_waiting(ConnGuard *g, const GuardedConn *peer, const GuardedConn *except) {
        GuardedConn *best = NULL, *fallback = NULL;
        unsigned best_count = 0, n = 0;

        for (GuardedConn *c = g->conns; c && n < CANDIDATES; c = c->conns_next) {
                unsigned k;
                if (!c->waiting || c == except ||
                    (peer && (c->peer_len != peer->peer_len || memcmp(c->peer, peer->peer, c->peer_len) != 0)))
                        continue;
                if (has_pending_input(c->fd)) {
                        fallback = fallback ?: c;
                        continue;
                }
                n++;
                k = peer ? 1 : peer_count(g, c);
                if (k > best_count) {
                        best = c;
                        best_count = k;
                }
        }
        return best ?: fallback;
}

static unsigned peer_count(ConnGuard *g, const GuardedConn *peer) {
        unsigned n = 0;

        for (GuardedConn *c = g->conns; c; c = c->conns_next)
                if (!c->closing && c->peer_len == peer->peer_len && memcmp(c->peer, peer->peer, c->peer_len) == 0)
                        n++;
        return n;
}

GuardedConn *conn_guard_add(ConnGuard *g, int fd, const void *peer, size_t peer_len) {
        GuardedConn *c = calloc(1, sizeof(GuardedConn)), *victim;
        unsigned open = 0;

        if (!c) {
                (void) shutdown(fd, SHUT_RDWR);
                return NULL;
        }
        *c = (GuardedConn) { .guard = g, .fd = fd, .since = now_usec(CLOCK_MONOTONIC), .waiting = true };
        if (peer_len > 0 && peer_len <= CONN_GUARD_PEER_MAX) {
                memcpy(c->peer, peer, peer_len);
                c->peer_len = peer_len;
        }
        append_conn(g, c);

        if (c->peer_len > 0 && peer_count(g, c) > g->settings.max_per_peer) {
                /* That peer's oldest waiting connection goes; if all of its
                 * others are being answered, the newcomer does. */
                victim = oldest_waiting(g, c, c) ?: c;
                g->stats.peer_limited++;
                conn_close(victim, "too many connections from one peer");
        }
        for (GuardedConn *i = g->conns; i; i = i->conns_next)
                if (!i->closing)
                        open++;
        if (open > g->settings.max_connections) {
                /* Keep the slot for the newcomer: the slowest client goes. */
                victim = oldest_waiting(g, NULL, c) ?: c;
                g->stats.evicted++;
                conn_close(victim, "connection limit reached, oldest waiting connection closed");
        }
        rearm(g);
        return c;
}

void conn_guard_request_read(GuardedConn *c) {
        if (!c || c->closing)
                return;
        c->waiting = false;
        rearm(c->guard);
}

void conn_guard_request_answered(GuardedConn *c) {
        ConnGuard *g;

        if (!c || c->closing)
                return;
        g = c->guard;
        unlink_conn(g, c);
        c->since = now_usec(CLOCK_MONOTONIC);
        c->waiting = true;
        append_conn(g, c);
        rearm(g);
}

void conn_guard_remove(GuardedConn *c) {
        ConnGuard *g;

        if (!c)
                return;
        g = c->guard;
        unlink_conn(g, c);
        free(c);
        rearm(g);
}

void conn_guard_stats(const ConnGuard *g, ConnGuardStats *ret) {
        *ret = g->stats;
        ret->connections = 0;
        for (GuardedConn *c = g->conns; c; c = c->conns_next)
                ret->connections++;
}
