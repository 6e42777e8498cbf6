/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "metric-fpm.h"
#include "metric-nginx.h"
#include "netlink-link.h"
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>

#include "netlink-sockdiag.h"
#include "tests.h"

static void test_nginx(void) {
        NginxStatus s;

        CHECK_EQ_INT(metric_nginx_parse("Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 "
                                        "31070465 \nReading: 6 Writing: 179 Waiting: 106 \n", &s), 0);
        CHECK_EQ_INT(s.active, 291);
        CHECK_EQ_INT(s.requests, 31070465);
        CHECK_EQ_INT(s.waiting, 106);
        CHECK_EQ_INT(metric_nginx_parse("<html>404</html>", &s), -EBADMSG);
        CHECK_EQ_INT(metric_nginx_parse("Active connections: 1\nserver accepts handled requests\n 1 2\n", &s), -EBADMSG);
}

static void test_fpm(void) {
        const char *ok = "{\"pool\":\"www\",\"process manager\":\"dynamic\",\"accepted conn\":12,\"listen queue\":1,"
                         "\"max listen queue\":3,\"idle processes\":2,\"active processes\":1,\"total processes\":3,"
                         "\"max children reached\":4,\"slow requests\":5}";
        FpmStatus s;

        CHECK_EQ_INT(metric_fpm_parse(ok, strlen(ok), &s), 0);
        CHECK_STREQ(s.pool, "www");
        CHECK(s.accepted == 12 && s.listen_queue == 1 && s.idle == 2 && s.active == 1 && s.total == 3 &&
              s.max_children_reached == 4 && s.slow_requests == 5);
        CHECK_EQ_INT(metric_fpm_parse("pool: www\n", 10, &s), -EBADMSG);   /* the text format */
        CHECK_EQ_INT(metric_fpm_parse("{\"pool\":\"www\"}", 14, &s), -EBADMSG);
        CHECK_EQ_INT(metric_fpm_parse("{\"pool\":\"www\",\"accepted conn\":-1}", 33, &s), -EBADMSG);
        CHECK_EQ_INT(metric_fpm_parse("[]", 2, &s), -EBADMSG);
}

static int on_link(const LinkStats *l, void *userdata) {
        if (l->loopback && streq(l->name, "lo"))
                (*(unsigned *) userdata)++;
        return 0;
}

static void test_netlink_link(void) {
        _cleanup_(netlink_link_freep) NetlinkLink *nl = NULL;
        unsigned found = 0;

        CHECK_EQ_INT(netlink_link_new(&nl), 0);
        CHECK_EQ_INT(netlink_link_dump(nl, on_link, &found), 0);
        CHECK_EQ_INT(found, 1);
        /* a second dump on the same socket */
        CHECK_EQ_INT(netlink_link_dump(nl, on_link, &found), 0);
        CHECK_EQ_INT(found, 2);
}

/* A listener with 3 accepted connections: sock_diag (filtered in the
 * kernel by the port) sees 3 established and 1 listening, for that port. */
/* A peer elsewhere counts as a client, loopback (v4, v6, v4-mapped) not. */
static void test_sockdiag_remote(void) {
        struct {
                struct nlmsghdr h;
                struct inet_diag_msg m;
        } msg = { .h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct inet_diag_msg)), .nlmsg_type = SOCK_DIAG_BY_FAMILY } };
        TcpStates st = {};

        msg.m.idiag_state = 1;
        msg.m.id.idiag_sport = htons(80);
        msg.m.idiag_family = AF_INET;
        msg.m.id.idiag_dst[0] = htonl(0x0a00010c);     /* 10.0.1.12: the ALB */
        CHECK_EQ_INT(netlink_sockdiag_count(&msg.h, 80, &st), 0);
        msg.m.id.idiag_dst[0] = htonl(0x7f000001);     /* 127.0.0.1: agentd's own check */
        CHECK_EQ_INT(netlink_sockdiag_count(&msg.h, 80, &st), 0);
        msg.m.idiag_family = AF_INET6;
        msg.m.id.idiag_dst[0] = msg.m.id.idiag_dst[1] = 0;
        msg.m.id.idiag_dst[2] = htonl(0xffff);
        msg.m.id.idiag_dst[3] = htonl(0x7f000001);     /* ::ffff:127.0.0.1 */
        CHECK_EQ_INT(netlink_sockdiag_count(&msg.h, 80, &st), 0);
        msg.m.id.idiag_dst[2] = 0;
        msg.m.id.idiag_dst[3] = htonl(1);              /* ::1 */
        CHECK_EQ_INT(netlink_sockdiag_count(&msg.h, 80, &st), 0);
        CHECK_EQ_INT(st.count[1], 4);
        CHECK_EQ_INT(st.established_remote, 1);
}

static void test_sockdiag(void) {
        _cleanup_(netlink_sockdiag_freep) NetlinkSockdiag *d = NULL;
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof(sa);
        int lfd = socket(AF_INET, SOCK_STREAM, 0), c[3], a[3];
        TcpStates st;
        unsigned port;

        CHECK(bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) == 0 && listen(lfd, 8) == 0);
        CHECK(getsockname(lfd, (struct sockaddr *) &sa, &l) == 0);
        port = ntohs(sa.sin_port);
        for (int i = 0; i < 3; i++) {
                c[i] = socket(AF_INET, SOCK_STREAM, 0);
                CHECK(connect(c[i], (struct sockaddr *) &sa, sizeof(sa)) == 0);
                a[i] = accept(lfd, NULL, NULL);
        }
        CHECK_EQ_INT(netlink_sockdiag_new(&d), 0);
        CHECK_EQ_INT(netlink_sockdiag_tcp_states(d, port, &st), 0);
        CHECK_EQ_INT(st.count[1], 3);           /* TCP_ESTABLISHED: the accepted ends */
        CHECK_EQ_INT(st.count[10], 1);          /* TCP_LISTEN */
        CHECK_EQ_INT(st.established_remote, 0); /* all from loopback: not clients a drain waits for */
        CHECK_STREQ(tcp_state_name(1), "established");
        CHECK_STREQ(tcp_state_name(6), "time_wait");
        CHECK(tcp_state_name(0) == NULL && tcp_state_name(99) == NULL);
        /* every port: at least these 7 */
        CHECK_EQ_INT(netlink_sockdiag_tcp_states(d, 0, &st), 0);
        CHECK(st.count[1] >= 6);
        for (int i = 0; i < 3; i++) {
                close(c[i]);
                close(a[i]);
        }
        close(lfd);
}

TEST_MAIN(test_nginx(); test_fpm(); test_netlink_link(); test_sockdiag(); test_sockdiag_remote();)
