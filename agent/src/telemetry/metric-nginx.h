/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Pure: nginx's stub_status page, which the rendered site serves on
 * loopback only (location = /nginx-status):
 *
 *   Active connections: 291
 *   server accepts handled requests
 *    16630948 16630948 31070465
 *   Reading: 6 Writing: 179 Waiting: 106
 */

#include <stdint.h>

typedef struct NginxStatus {
        uint64_t active, accepts, handled, requests, reading, writing, waiting;
} NginxStatus;

/* -EBADMSG if the text is not a stub_status page. */
int metric_nginx_parse(const char *text, NginxStatus *ret);
