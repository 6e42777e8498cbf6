/* SPDX-License-Identifier: MIT */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* The string value of obj[key], or NULL if absent or not a string. */
const char *json_get_string(const cJSON *obj, const char *key);
/* As above, but only non-empty strings of at most max bytes. */
const char *json_get_string_bounded(const cJSON *obj, const char *key, size_t max);
/* Adds obj[key] = s, or null when s is NULL. 0 or -ENOMEM. */
int json_add_string_or_null(cJSON *obj, const char *key, const char *s);

/* Overwrites every string in the tree, then frees it: for documents that
 * carried secrets. */
void json_wipe_delete(cJSON *j);
static inline void json_wipe_deletep(cJSON **j) {
        json_wipe_delete(*j);
}

/* Standard base64 (RFC 4648, padding required, no whitespace). Returns the
 * number of bytes written to out (which needs room for len/4*3), or -EINVAL. */
int base64_decode(const char *in, size_t len, unsigned char *out);
