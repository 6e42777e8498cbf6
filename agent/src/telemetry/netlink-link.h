/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Interface statistics from rtnetlink (RTM_GETLINK dump, IFLA_STATS64)
 * through libmnl, rather than parsing /proc/net/dev: the kernel's own
 * 64-bit counters, per interface, in one request. A netlink dump is
 * answered from kernel memory inside the send and receive calls, so it
 * never waits on anything outside; a receive timeout guards it anyway.
 */

#include <linux/netlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

typedef struct LinkStats {
        char name[IFNAMSIZ];
        unsigned ifindex;
        bool loopback;
        uint64_t rx_bytes, tx_bytes, rx_packets, tx_packets, rx_errors, tx_errors, rx_dropped, tx_dropped;
} LinkStats;

typedef struct NetlinkLink NetlinkLink;
typedef int (*LinkStatsFunc)(const LinkStats *l, void *userdata);

int netlink_link_new(NetlinkLink **ret);
NetlinkLink *netlink_link_free(NetlinkLink *nl);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetlinkLink *, netlink_link_free);
/* One dump; fn for every link that carries statistics. */
int netlink_link_dump(NetlinkLink *nl, LinkStatsFunc fn, void *userdata);
/* Pure: one RTM_NEWLINK message. -EBADMSG without a name or statistics. */
int netlink_link_parse(const struct nlmsghdr *nlh, LinkStats *ret);
