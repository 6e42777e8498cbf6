/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one parser of addresses in the config:
 *   listen addresses  "unix:/run/x.sock", "127.0.0.1:8081", "[::1]:8081",
 *                     "*:8081" (any IPv4); numeric hosts only, since
 *                     sockets are bound at start, before any resolver;
 *   connect targets   "HOST:PORT", "[v6]:PORT", where HOST may be a name
 *                     (resolved later, off the loop).
 * Nothing here logs; errors are -EINVAL (or -ENOMEM).
 */

#include <stdbool.h>
#include <sys/socket.h>

#include "macro.h"

typedef struct SocketAddress {
        struct sockaddr_storage sa;
        socklen_t len;
        bool is_unix;
        char text[128];         /* as written, for messages */
} SocketAddress;

int socket_address_parse_listen(const char *s, SocketAddress *ret);
/* "a, b, c": up to max addresses. Returns how many, or -EINVAL with
 * *ret_bad (optional) pointing at the bad one in list. */
int socket_address_parse_listen_list(const char *list, SocketAddress *ret, size_t max, const char **ret_bad);

/* "HOST:PORT" or "[V6]:PORT" → host (caller frees, brackets removed) and port. */
int host_port_split(const char *s, char **ret_host, unsigned *ret_port);
