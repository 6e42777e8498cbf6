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
