/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * TCP connections by state, from the kernel's sock_diag netlink interface
 * (libmnl), the way `ss` counts them: no /proc/net/tcp parsing, IPv4 and
 * IPv6 alike, filtered by the kernel. A dump on a local netlink socket
 * answers at once; it does not block the loop on anything remote.
 */

#include <stdint.h>

#include "macro.h"

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
enum {
        TCP_STATE_ESTABLISHED = 1,
        TCP_STATE_SYN_SENT,
        TCP_STATE_SYN_RECV,
        TCP_STATE_FIN_WAIT1,
        TCP_STATE_FIN_WAIT2,
        TCP_STATE_TIME_WAIT,
        TCP_STATE_CLOSE,
        TCP_STATE_CLOSE_WAIT,
        TCP_STATE_LAST_ACK,
        TCP_STATE_LISTEN,
        TCP_STATE_CLOSING,
        _TCP_STATE_MAX,
};

#define TCP_STATE_BIT(s) (1U << (s))

/* Counts TCP sockets whose local port is `local_port` (0: any) in one of
 * the states of `states` (TCP_STATE_BIT()s), over IPv4 and IPv6. Fills
 * counts[state] (optional, _TCP_STATE_MAX entries) and returns the total,
 * or a negative errno. */
int sock_diag_count_tcp(uint16_t local_port, uint32_t states, unsigned counts[_TCP_STATE_MAX]);
