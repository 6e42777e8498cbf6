/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <stdbool.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "netlink-sockdiag.h"

struct NetlinkSockdiag {
        struct mnl_socket *nl;
        unsigned portid, seq;
        char *buf;
};

#define BUF_SIZE (32 * 1024)

const char *tcp_state_name(unsigned state) {
        static const char *const names[TCP_STATE_MAX] = {
                [1] = "established", [2] = "syn_sent", [3] = "syn_recv", [4] = "fin_wait1", [5] = "fin_wait2",
                [6] = "time_wait", [7] = "close", [8] = "close_wait", [9] = "last_ack", [10] = "listen",
                [11] = "closing",
        };
        return state < TCP_STATE_MAX ? names[state] : NULL;
}

int netlink_sockdiag_new(NetlinkSockdiag **ret) {
        _cleanup_(netlink_sockdiag_freep) NetlinkSockdiag *d = calloc(1, sizeof(NetlinkSockdiag));
        struct timeval tv = { .tv_sec = 1 };

        if (!d || !(d->buf = malloc(BUF_SIZE)))
                return -ENOMEM;
        d->nl = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
        if (!d->nl)
                return negative_errno();
        if (mnl_socket_bind(d->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return negative_errno();
        (void) setsockopt(mnl_socket_get_fd(d->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        d->portid = mnl_socket_get_portid(d->nl);
        d->seq = (unsigned) time(NULL);
        *ret = TAKE_PTR(d);
        return 0;
}

NetlinkSockdiag *netlink_sockdiag_free(NetlinkSockdiag *d) {
        if (!d)
                return NULL;
        if (d->nl)
                mnl_socket_close(d->nl);
        free(d->buf);
        return mfree(d);
}

static bool peer_is_loopback(const struct inet_diag_msg *m) {
        const uint8_t *a = (const uint8_t *) m->id.idiag_dst;
        static const uint8_t v6_loopback[16] = { [15] = 1 };
        static const uint8_t v4_mapped[12] = { [10] = 0xff, [11] = 0xff };

        if (m->idiag_family == AF_INET)
                return a[0] == 127;
        return memcmp(a, v6_loopback, 16) == 0 || (memcmp(a, v4_mapped, 12) == 0 && a[12] == 127);
}

int netlink_sockdiag_count(const struct nlmsghdr *nlh, unsigned port, TcpStates *states) {
        const struct inet_diag_msg *m;

        if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
                return -EBADMSG;
        m = mnl_nlmsg_get_payload(nlh);
        if (port != 0 && ntohs(m->id.idiag_sport) != port)
                return 0;
        if (m->idiag_state < TCP_STATE_MAX)
                states->count[m->idiag_state]++;
        if (m->idiag_state == 1 /* TCP_ESTABLISHED */ && !peer_is_loopback(m))
                states->established_remote++;
        return 0;
}

typedef struct CountCtx {
        unsigned port;
        TcpStates *states;
} CountCtx;

static int on_msg(const struct nlmsghdr *nlh, void *data) {
        CountCtx *c = data;
        (void) netlink_sockdiag_count(nlh, c->port, c->states);
        return MNL_CB_OK;
}

static int dump_family(NetlinkSockdiag *d, int family, CountCtx *c) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf);
        struct inet_diag_req_v2 *req;
        unsigned seq = ++d->seq;
        ssize_t n;
        int r;

        nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
        req->sdiag_family = (uint8_t) family;
        req->sdiag_protocol = IPPROTO_TCP;
        req->idiag_states = ~0U;
        if (c->port != 0) {
                /* Filtered in the kernel (as ss does): sport >= port and
                 * sport <= port. A jump to 4 past the end rejects. */
                struct inet_diag_bc_op bc[4] = {
                        { INET_DIAG_BC_S_GE, 8, 20 }, { 0, 0, (unsigned short) c->port },
                        { INET_DIAG_BC_S_LE, 8, 12 }, { 0, 0, (unsigned short) c->port },
                };
                mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, sizeof(bc), bc);
        }
        if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();
        for (;;) {
                n = mnl_socket_recvfrom(d->nl, d->buf, BUF_SIZE);
                if (n < 0)
                        return negative_errno();
                r = mnl_cb_run(d->buf, (size_t) n, seq, d->portid, on_msg, c);
                if (r == MNL_CB_STOP)
                        return 0;
                if (r < 0)
                        return negative_errno();
        }
}

int netlink_sockdiag_tcp_states(NetlinkSockdiag *d, unsigned port, TcpStates *ret) {
        CountCtx c = { port, ret };
        int r;

        *ret = (TcpStates) {};
        r = dump_family(d, AF_INET, &c);
        if (r < 0)
                return r;
        r = dump_family(d, AF_INET6, &c);
        /* A kernel without IPv6 answers ENOENT for that family. */
        return r == -ENOENT || r == -EAFNOSUPPORT ? 0 : r;
}
