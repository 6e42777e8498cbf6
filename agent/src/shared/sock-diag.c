/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "sock-diag.h"

typedef struct Count {
        uint16_t port;
        unsigned total;
        unsigned *counts;
} Count;

static int on_message(const struct nlmsghdr *nlh, void *data) {
        const struct inet_diag_msg *msg = mnl_nlmsg_get_payload(nlh);
        Count *c = data;

        if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*msg)))
                return MNL_CB_ERROR;
        if (c->port && ntohs(msg->id.idiag_sport) != c->port)
                return MNL_CB_OK;
        c->total++;
        if (c->counts && msg->idiag_state < _TCP_STATE_MAX)
                c->counts[msg->idiag_state]++;
        return MNL_CB_OK;
}

static int dump(struct mnl_socket *nl, uint8_t family, uint32_t states, Count *c) {
        char buf[MNL_SOCKET_BUFFER_SIZE];
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        struct inet_diag_req_v2 *req;
        unsigned seq = (unsigned) time(NULL), portid = mnl_socket_get_portid(nl);
        ssize_t n;
        int r;

        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
        req->sdiag_family = family;
        req->sdiag_protocol = IPPROTO_TCP;
        req->idiag_states = states;
        if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
                return -errno;
        while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
                r = mnl_cb_run(buf, (size_t) n, seq, portid, on_message, c);
                if (r == MNL_CB_STOP)
                        return 0;
                if (r == MNL_CB_ERROR)
                        return errno > 0 ? -errno : -EPROTO;
        }
        return n < 0 ? -errno : 0;
}

int sock_diag_count_tcp(uint16_t local_port, uint32_t states, unsigned counts[_TCP_STATE_MAX]) {
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
        Count c = { .port = local_port, .counts = counts };
        int r;

        if (!nl)
                return -errno;
        if (counts)
                memset(counts, 0, sizeof(unsigned) * _TCP_STATE_MAX);
        r = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ? -errno : 0;
        if (r >= 0)
                r = dump(nl, AF_INET, states, &c);
        /* A kernel without IPv6 answers ENOENT for it: the v4 count stands. */
        if (r >= 0 && (r = dump(nl, AF_INET6, states, &c)) == -ENOENT)
                r = 0;
        mnl_socket_close(nl);
        return r < 0 ? r : (int) c.total;
}
