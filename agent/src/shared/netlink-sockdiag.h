/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * TCP connections by state through sock_diag (NETLINK_SOCK_DIAG,
 * inet_diag dumps of IPv4 and IPv6) with libmnl, counted for one local
 * port (the web port) or all: what `ss -tan sport = :80` shows, without
 * parsing /proc/net/tcp, whose size grows with every connection. The
 * metrics count the web port's states with it, the drain waits until no
 * connection is established on it. A dump on a local netlink socket
 * answers at once; it waits on nothing remote.
 */

#include <linux/netlink.h>
#include <stdint.h>

#include "macro.h"

#define TCP_STATE_MAX 13        /* TCP_ESTABLISHED (1) .. TCP_NEW_SYN_RECV (12) */

typedef struct TcpStates {
        unsigned count[TCP_STATE_MAX];
        /* Established with a peer that is not this host's loopback: the
         * clients a drain waits for (agentd's own checks on 127.0.0.1, with
         * their kept-alive connections, are not). */
        unsigned established_remote;
} TcpStates;

typedef struct NetlinkSockdiag NetlinkSockdiag;

int netlink_sockdiag_new(NetlinkSockdiag **ret);
NetlinkSockdiag *netlink_sockdiag_free(NetlinkSockdiag *nl);
DEFINE_TRIVIAL_CLEANUP_FUNC(NetlinkSockdiag *, netlink_sockdiag_free);
/* Counts every TCP socket whose local port is port (0: every socket). */
int netlink_sockdiag_tcp_states(NetlinkSockdiag *nl, unsigned port, TcpStates *ret);
/* Pure: adds one inet_diag answer to the counts; -EBADMSG if too short. */
int netlink_sockdiag_count(const struct nlmsghdr *nlh, unsigned port, TcpStates *states);
/* "established", "time_wait"... as the CloudWatch agent's netstat_tcp_* names; NULL for none. */
const char *tcp_state_name(unsigned state);
