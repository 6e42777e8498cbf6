/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Pure: php-fpm's status page in JSON (pm.status_path, reached through the
 * rendered site's loopback-only location /fpm-status with ?json):
 * {"pool":"www", "accepted conn":12, "listen queue":0, "idle processes":1,
 *  "active processes":1, "total processes":2, "max children reached":0,
 *  "slow requests":0, ...}
 */

#include <stdint.h>

typedef struct FpmStatus {
        char pool[64];
        uint64_t accepted, listen_queue, idle, active, total, max_children_reached, slow_requests;
} FpmStatus;

/* -EBADMSG if it is not JSON, or a field is missing or not a count. */
int metric_fpm_parse(const char *text, size_t len, FpmStatus *ret);
