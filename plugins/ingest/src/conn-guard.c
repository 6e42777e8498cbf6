/* SPDX-License-Identifier: MIT */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "conn-guard.h"

/*
 * One list in the order each connection's current deadline started (a
 * kept-alive connection moves to the tail when it is answered), so the
 * head is the oldest: the deadline timer and eviction look at the first
 * waiting ones only. Lists are short (max_connections + the reserve), so
 * counting a peer's connections is a walk.
 */

struct GuardedConn {
        ConnGuard *guard;
        int fd;
        usec_t deadline;        /* CLOCK_MONOTONIC, while waiting */
        bool waiting;           /* for its request: the deadline runs */
        bool closing;           /* shut down by us; MHD will remove it */
        bool has_peer;
        uint32_t peer;
        GuardedConn *prev, *next;
};

struct ConnGuard {
        ConnGuardSettings settings;
        sd_event_source *timer;
        GuardedConn *head, *tail;
        ConnGuardStats stats;
};

static void conn_close(GuardedConn *c, const char *why) {
        if (c->closing)
                return;
        c->closing = true;
        c->waiting = false;
        (void) shutdown(c->fd, SHUT_RDWR);
        log_debug("closing connection (fd %d): %s", c->fd, why);
}

static void unlink_conn(ConnGuard *g, GuardedConn *c) {
        if (c->prev)
                c->prev->next = c->next;
        else
                g->head = c->next;
        if (c->next)
                c->next->prev = c->prev;
        else
                g->tail = c->prev;
        c->prev = c->next = NULL;
}

static void append_conn(ConnGuard *g, GuardedConn *c) {
        c->next = NULL;
        c->prev = g->tail;
        if (g->tail)
                g->tail->next = c;
        else
                g->head = c;
        g->tail = c;
}

/* The earliest deadline of a waiting connection. Deadlines of kept-alive
 * connections are longer, so the list is not sorted by deadline: walk it. */
static void rearm(ConnGuard *g) {
        usec_t next = UINT64_MAX;

        for (GuardedConn *c = g->head; c; c = c->next)
                if (c->waiting && c->deadline < next)
                        next = c->deadline;
        if (next == UINT64_MAX) {
                (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time(g->timer, next);
        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_ONESHOT);
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata) {
        ConnGuard *g = userdata;
        usec_t now = now_usec(CLOCK_MONOTONIC);

        for (GuardedConn *c = g->head; c; c = c->next)
                if (c->waiting && c->deadline <= now) {
                        g->stats.timed_out++;
                        conn_close(c, "request not complete within request_timeout");
                }
        rearm(g);
        return 0;
}

int conn_guard_new(sd_event *e, const ConnGuardSettings *s, ConnGuard **ret) {
        ConnGuard *g = calloc(1, sizeof(ConnGuard));
        int r;

        if (!g)
                return -ENOMEM;
        g->settings = *s;
        r = sd_event_add_time(e, &g->timer, CLOCK_MONOTONIC, 0, 10 * USEC_PER_MSEC, on_deadline, g);
        if (r < 0) {
                free(g);
                return r;
        }
        (void) sd_event_source_set_enabled(g->timer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(g->timer, "ingest-request-deadline");
        *ret = g;
        return 0;
}

ConnGuard *conn_guard_free(ConnGuard *g) {
        if (!g)
                return NULL;
        while (g->head) {
                GuardedConn *c = g->head;
                unlink_conn(g, c);
                free(c);
        }
        sd_event_source_disable_unref(g->timer);
        return mfree(g);
}

/* Bytes the kernel holds that MHD has not read yet: a request that arrived
 * and is about to be served, not an idle or slow client. */
static bool has_pending_input(int fd) {
        int n = 0;
        return ioctl(fd, FIONREAD, &n) == 0 && n > 0;
}

static unsigned peer_count(const ConnGuard *g, const GuardedConn *p) {
        unsigned n = 0;

        for (const GuardedConn *c = g->head; c; c = c->next)
                if (!c->closing && c->has_peer == p->has_peer && c->peer == p->peer)
                        n++;
        return n;
}

/* The connection to close for room: waiting for its request, of peer p
 * (NULL: any), not except. Preferred: nothing unread (a fresh client has
 * sent its request by the time newer ones are accepted), then from the
 * peer holding the most connections (a flood comes from few peers), then
 * the oldest. Only the oldest few are weighed: accepts stay cheap. */
#define CANDIDATES 16
static GuardedConn *victim(ConnGuard *g, const GuardedConn *p, const GuardedConn *except) {
        GuardedConn *best = NULL, *fallback = NULL;
        unsigned best_count = 0, n = 0;

        for (GuardedConn *c = g->head; c && n < CANDIDATES; c = c->next) {
                unsigned k;
                if (!c->waiting || c == except || (p && (c->has_peer != p->has_peer || c->peer != p->peer)))
                        continue;
                if (has_pending_input(c->fd)) {
                        fallback = fallback ?: c;
                        continue;
                }
                n++;
                k = p ? 1 : peer_count(g, c);
                if (k > best_count) {
                        best = c;
                        best_count = k;
                }
        }
        return best ?: fallback;
}

GuardedConn *conn_guard_add(ConnGuard *g, int fd, bool has_peer, uint32_t peer) {
        GuardedConn *c = calloc(1, sizeof(GuardedConn)), *v;
        unsigned open = 0;

        if (!c) {
                (void) shutdown(fd, SHUT_RDWR);
                return NULL;
        }
        *c = (GuardedConn) { .guard = g, .fd = fd, .waiting = true, .has_peer = has_peer, .peer = peer,
                             .deadline = now_usec(CLOCK_MONOTONIC) + g->settings.request_timeout };
        append_conn(g, c);
        if (has_peer && peer_count(g, c) > g->settings.max_per_peer) {
                v = victim(g, c, c) ?: c;
                g->stats.peer_limited++;
                conn_close(v, "too many connections from one peer");
        }
        for (GuardedConn *i = g->head; i; i = i->next)
                open += !i->closing;
        if (open > g->settings.max_connections) {
                v = victim(g, NULL, c) ?: c;
                g->stats.evicted++;
                conn_close(v, "connection limit reached, oldest waiting connection closed");
        }
        rearm(g);
        return c;
}

void conn_guard_request_read(GuardedConn *c) {
        if (!c || c->closing || !c->waiting)
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
        c->deadline = now_usec(CLOCK_MONOTONIC) + g->settings.keepalive_timeout;
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
        for (const GuardedConn *c = g->head; c; c = c->next)
                ret->connections++;
}
