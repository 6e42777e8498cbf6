/* SPDX-License-Identifier: MIT */
/* The health server's guard against slow and idle clients, on socketpairs:
 * which connection goes when the limits are reached, and the whole-request
 * deadline (closing = the peer reads the end of the stream). */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn-guard.h"
#include "time-util.h"
#include "tests.h"

typedef struct Pair {
        int server, client;
        GuardedConn *c;
} Pair;

static void pair_open(ConnGuard *g, Pair *p, char peer) {
        int sv[2];

        CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
        p->server = sv[0];
        p->client = sv[1];
        p->c = conn_guard_add(g, p->server, &peer, 1);
        CHECK(p->c != NULL);
}

/* Did the guard shut the server side down? */
static bool closed(const Pair *p) {
        char b[64];
        ssize_t n;

        while ((n = recv(p->client, b, sizeof(b), MSG_DONTWAIT)) > 0)
                ;
        return n == 0;
}

static void pair_close(Pair *p) {
        conn_guard_remove(p->c);
        close(p->server);
        close(p->client);
}

static void test_limits(void) {
        sd_event *e = NULL;
        ConnGuard *g = NULL;
        ConnGuardStats st;
        Pair p[8];

        CHECK_EQ_INT(sd_event_new(&e), 0);
        CHECK_EQ_INT(conn_guard_new(e, &(ConnGuardSettings) { .max_connections = 3, .max_per_peer = 2,
                                                               .request_timeout = 60 * USEC_PER_SEC }, &g), 0);
        pair_open(g, &p[0], 'a');
        pair_open(g, &p[1], 'b');
        pair_open(g, &p[2], 'c');
        CHECK(!closed(&p[0]) && !closed(&p[1]) && !closed(&p[2]));

        /* Full: the newcomer stays, the oldest waiting one goes. */
        pair_open(g, &p[3], 'd');
        CHECK(closed(&p[0]));
        CHECK(!closed(&p[3]));
        pair_close(&p[0]);

        /* One being answered is not waiting; one whose request sits unread
         * is about to be: the oldest idle one goes instead. */
        conn_guard_request_read(p[1].c);
        CHECK(write(p[2].client, "GET", 3) == 3);
        pair_open(g, &p[4], 'e');
        CHECK(!closed(&p[1]) && !closed(&p[2]) && !closed(&p[4]));
        CHECK(closed(&p[3]));
        pair_close(&p[3]);

        /* Per peer: a third connection from 'e' pushes out e's oldest. */
        pair_close(&p[1]);
        pair_close(&p[2]);
        pair_open(g, &p[5], 'e');
        pair_open(g, &p[6], 'e');
        CHECK(closed(&p[4]));
        CHECK(!closed(&p[5]) && !closed(&p[6]));
        conn_guard_stats(g, &st);
        CHECK_EQ_INT(st.evicted, 2);
        CHECK_EQ_INT(st.peer_limited, 1);
        pair_close(&p[4]);
        pair_close(&p[5]);
        pair_close(&p[6]);
        conn_guard_stats(g, &st);
        CHECK_EQ_INT(st.connections, 0);
        conn_guard_free(g);
        sd_event_unref(e);
}

static void test_deadline(void) {
        sd_event *e = NULL;
        ConnGuard *g = NULL;
        ConnGuardStats st;
        Pair slow, answered, busy;
        usec_t end;

        CHECK_EQ_INT(sd_event_new(&e), 0);
        CHECK_EQ_INT(conn_guard_new(e, &(ConnGuardSettings) { .max_connections = 10, .max_per_peer = 10,
                                                               .request_timeout = 200 * USEC_PER_MSEC }, &g), 0);
        pair_open(g, &slow, 'a');
        pair_open(g, &answered, 'a');
        pair_open(g, &busy, 'a');
        /* Bytes trickling in do not extend the deadline (not an idle
         * timeout); a connection being answered has none. */
        CHECK(write(slow.client, "G", 1) == 1);
        conn_guard_request_read(busy.c);
        conn_guard_request_read(answered.c);
        conn_guard_request_answered(answered.c);        /* kept alive: a new deadline */
        end = now_usec(CLOCK_MONOTONIC) + 10 * USEC_PER_SEC;
        while (!(closed(&slow) && closed(&answered)) && now_usec(CLOCK_MONOTONIC) < end)
                CHECK(sd_event_run(e, 50 * USEC_PER_MSEC) >= 0);
        CHECK(closed(&slow));
        CHECK(closed(&answered));
        CHECK(!closed(&busy));
        conn_guard_stats(g, &st);
        CHECK_EQ_INT(st.timed_out, 2);
        pair_close(&slow);
        pair_close(&answered);
        pair_close(&busy);
        conn_guard_free(g);
        sd_event_unref(e);
}

TEST_MAIN(test_limits(); test_deadline();)
