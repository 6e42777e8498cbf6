/* SPDX-License-Identifier: MIT */
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "netlink-link.h"

struct NetlinkLink {
        struct mnl_socket *nl;
        unsigned portid, seq;
        char *buf;
};

#define BUF_SIZE MNL_SOCKET_BUFFER_SIZE

int netlink_link_new(NetlinkLink **ret) {
        _cleanup_(netlink_link_freep) NetlinkLink *l = calloc(1, sizeof(NetlinkLink));
        struct timeval tv = { .tv_sec = 1 };

        if (!l || !(l->buf = malloc(BUF_SIZE)))
                return -ENOMEM;
        l->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
        if (!l->nl)
                return negative_errno();
        if (mnl_socket_bind(l->nl, 0, MNL_SOCKET_AUTOPID) < 0)
                return negative_errno();
        (void) setsockopt(mnl_socket_get_fd(l->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        l->portid = mnl_socket_get_portid(l->nl);
        l->seq = (unsigned) time(NULL);
        *ret = TAKE_PTR(l);
        return 0;
}

NetlinkLink *netlink_link_free(NetlinkLink *l) {
        if (!l)
                return NULL;
        if (l->nl)
                mnl_socket_close(l->nl);
        free(l->buf);
        return mfree(l);
}

typedef struct ParseCtx {
        const struct nlattr *tb[IFLA_MAX + 1];
} ParseCtx;

static int on_attr(const struct nlattr *a, void *data) {
        ParseCtx *c = data;
        int type = mnl_attr_get_type(a);

        if (mnl_attr_type_valid(a, IFLA_MAX) < 0)
                return MNL_CB_OK;
        if (type == IFLA_IFNAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
                return MNL_CB_OK;
        if (type == IFLA_STATS64 && mnl_attr_get_payload_len(a) < sizeof(struct rtnl_link_stats64))
                return MNL_CB_OK;
        c->tb[type] = a;
        return MNL_CB_OK;
}

int netlink_link_parse(const struct nlmsghdr *nlh, LinkStats *ret) {
        const struct ifinfomsg *ifm;
        struct rtnl_link_stats64 st;
        ParseCtx c = {};

        if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifm)))
                return -EBADMSG;
        ifm = mnl_nlmsg_get_payload(nlh);
        if (mnl_attr_parse(nlh, sizeof(*ifm), on_attr, &c) < 0 || !c.tb[IFLA_IFNAME] || !c.tb[IFLA_STATS64])
                return -EBADMSG;
        /* The payload may be unaligned for 64-bit loads: copy it. */
        memcpy(&st, mnl_attr_get_payload(c.tb[IFLA_STATS64]), sizeof(st));
        *ret = (LinkStats) {
                .ifindex = (unsigned) ifm->ifi_index, .loopback = ifm->ifi_flags & IFF_LOOPBACK,
                .rx_bytes = st.rx_bytes, .tx_bytes = st.tx_bytes, .rx_packets = st.rx_packets,
                .tx_packets = st.tx_packets, .rx_errors = st.rx_errors, .tx_errors = st.tx_errors,
                .rx_dropped = st.rx_dropped, .tx_dropped = st.tx_dropped,
        };
        snprintf(ret->name, sizeof(ret->name), "%s", mnl_attr_get_str(c.tb[IFLA_IFNAME]));
        return 0;
}

typedef struct DumpCtx {
        LinkStatsFunc fn;
        void *userdata;
        int r;
} DumpCtx;

static int on_link(const struct nlmsghdr *nlh, void *data) {
        DumpCtx *d = data;
        LinkStats l;

        if (netlink_link_parse(nlh, &l) < 0)
                return MNL_CB_OK;
        d->r = d->fn(&l, d->userdata);
        return d->r < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

int netlink_link_dump(NetlinkLink *l, LinkStatsFunc fn, void *userdata) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(l->buf);
        struct ifinfomsg *ifm;
        DumpCtx d = { fn, userdata, 0 };
        unsigned seq = ++l->seq;
        ssize_t n;
        int r;

        nlh->nlmsg_type = RTM_GETLINK;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        nlh->nlmsg_seq = seq;
        ifm = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifm));
        ifm->ifi_family = AF_UNSPEC;
        if (mnl_socket_sendto(l->nl, nlh, nlh->nlmsg_len) < 0)
                return negative_errno();
        for (;;) {
                n = mnl_socket_recvfrom(l->nl, l->buf, BUF_SIZE);
                if (n < 0)
                        return negative_errno();
                r = mnl_cb_run(l->buf, (size_t) n, seq, l->portid, on_link, &d);
                if (r == MNL_CB_STOP)
                        return 0;
                if (r < 0)
                        return d.r < 0 ? d.r : negative_errno();
        }
}
