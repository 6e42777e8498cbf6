/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "socket-address.h"
#include "tests.h"

static void test_listen(void) {
        SocketAddress a[8];
        const char *bad = NULL;
        char ip[64];

        CHECK_EQ_INT(socket_address_parse_listen("127.0.0.1:8081", &a[0]), 0);
        CHECK(!a[0].is_unix);
        CHECK_EQ_INT(a[0].sa.ss_family, AF_INET);
        CHECK_EQ_INT(a[0].len, sizeof(struct sockaddr_in));
        CHECK_EQ_INT(ntohs(((struct sockaddr_in *) &a[0].sa)->sin_port), 8081);
        inet_ntop(AF_INET, &((struct sockaddr_in *) &a[0].sa)->sin_addr, ip, sizeof(ip));
        CHECK_STREQ(ip, "127.0.0.1");
        CHECK_STREQ(a[0].text, "127.0.0.1:8081");
        CHECK_EQ_INT(socket_address_parse_listen("[::1]:80", &a[0]), 0);
        CHECK_EQ_INT(a[0].sa.ss_family, AF_INET6);
        CHECK_EQ_INT(socket_address_parse_listen("unix:/run/agentd/health.sock", &a[0]), 0);
        CHECK(a[0].is_unix);
        CHECK_STREQ(((struct sockaddr_un *) &a[0].sa)->sun_path, "/run/agentd/health.sock");

        CHECK(socket_address_parse_listen("unix:relative", &a[0]) < 0);
        CHECK(socket_address_parse_listen("127.0.0.1:0", &a[0]) < 0);
        CHECK(socket_address_parse_listen("127.0.0.1:70000", &a[0]) < 0);
        CHECK(socket_address_parse_listen("localhost", &a[0]) < 0);
        /* Names would need a resolver at start: refused. */
        CHECK(socket_address_parse_listen("localhost:8081", &a[0]) < 0);
        CHECK(socket_address_parse_listen("::1:80", &a[0]) < 0);
        CHECK(socket_address_parse_listen("[::1]80", &a[0]) < 0);
        CHECK(socket_address_parse_listen("", &a[0]) < 0);

        CHECK_EQ_INT(socket_address_parse_listen_list("127.0.0.1:8081, unix:/run/agentd/health.sock", a, 8, NULL), 2);
        CHECK(!a[0].is_unix);
        CHECK(a[1].is_unix);
        CHECK_STREQ(a[1].text, "unix:/run/agentd/health.sock");
        CHECK_EQ_INT(socket_address_parse_listen_list("[::1]:80,*:8080 ,  unix:/x.sock", a, 8, NULL), 3);
        CHECK_EQ_INT(a[0].sa.ss_family, AF_INET6);
        CHECK_EQ_INT(ntohs(((struct sockaddr_in6 *) &a[0].sa)->sin6_port), 80);
        CHECK_EQ_INT(((struct sockaddr_in *) &a[1].sa)->sin_addr.s_addr, htonl(INADDR_ANY));
        CHECK_STREQ(a[1].text, "*:8080");

        CHECK(socket_address_parse_listen_list("localhost:8081", a, 8, &bad) < 0);
        CHECK_STREQ(bad, "localhost:8081");
        CHECK(socket_address_parse_listen_list("127.0.0.1:8081, 1.2.3.4:0", a, 8, &bad) < 0);
        CHECK_STREQ(bad, "1.2.3.4:0");
        CHECK(socket_address_parse_listen_list("127.0.0.1:99999", a, 8, NULL) < 0);
        CHECK(socket_address_parse_listen_list("unix:relative.sock", a, 8, NULL) < 0);
        CHECK(socket_address_parse_listen_list("", a, 8, NULL) < 0);
        CHECK(socket_address_parse_listen_list(" , ", a, 8, NULL) < 0);
        /* More than max: refused, not cut. */
        CHECK(socket_address_parse_listen_list("1.1.1.1:1,1.1.1.1:2,1.1.1.1:3", a, 2, &bad) < 0);
        CHECK_STREQ(bad, "1.1.1.1:3");
}

static void test_host_port(void) {
        char *h = NULL;
        unsigned p = 0;

        CHECK_EQ_INT(host_port_split("db.example.com:3306", &h, &p), 0);
        CHECK_STREQ(h, "db.example.com");
        CHECK_EQ_INT(p, 3306);
        free(h);
        CHECK_EQ_INT(host_port_split("[::1]:80", &h, &p), 0);
        CHECK_STREQ(h, "::1");
        CHECK_EQ_INT(p, 80);
        free(h);
        CHECK_EQ_INT(host_port_split("10.0.0.1:1", &h, &p), 0);
        CHECK_STREQ(h, "10.0.0.1");
        free(h);
        h = NULL;
        CHECK_EQ_INT(host_port_split("nohost", &h, &p), -EINVAL);
        CHECK_EQ_INT(host_port_split("unix:/x", &h, &p), -EINVAL);
        CHECK_EQ_INT(host_port_split(":80", &h, &p), -EINVAL);
        CHECK_EQ_INT(host_port_split("host:0", &h, &p), -EINVAL);
        CHECK_EQ_INT(host_port_split("host:65536", &h, &p), -EINVAL);
        CHECK_EQ_INT(host_port_split("::1:80", &h, &p), -EINVAL);
        CHECK_EQ_INT(host_port_split("a b:80", &h, &p), -EINVAL);
        CHECK_EQ_INT(host_port_split("", &h, &p), -EINVAL);
        CHECK(h == NULL);
}

TEST_MAIN(test_listen(); test_host_port();)
