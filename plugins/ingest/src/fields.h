/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One value of one field: checked and converted to the text MySQL takes
 * for the column (see records.h). Pure functions, no allocation.
 */

#include <cjson/cJSON.h>

#include "conf.h"

/* Converts a JSON value (j) or a CSV cell (text, when j is NULL) to its
 * stored text: in val (at most 64 bytes), or for strings the trimmed input
 * itself; *ret_str and *ret_len say which. Returns NULL when fine, else the
 * reason, for the 422 answer. */
const char *field_convert(const Field *f, const cJSON *j, const char *text, char val[64], const char **ret_str,
                          size_t *ret_len);
bool utf8_valid(const char *s, size_t n, size_t *ret_chars);
/* RFC 3339 (or "YYYY-MM-DD HH:MM:SS[.f][Z|±hh:mm]") → UTC "YYYY-MM-DD HH:MM:SS.ffffff" */
int timestamp_normalise(const char *s, char out[27]);
/* Seconds since the epoch (UTC) and microseconds as "YYYY-MM-DD HH:MM:SS.ffffff";
 * -ERANGE outside years 1000 to 9999. */
int datetime_format(int64_t t, long usec, char out[27]);
