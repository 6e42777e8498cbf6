/* SPDX-License-Identifier: MIT */
#pragma once

#include <time.h>

#include "macro.h"

usec_t now_usec(clockid_t clock);
/* "2026-11-25T23:00:00Z" (fractional seconds and +hh:mm offsets accepted). */
int parse_rfc3339(const char *s, usec_t *ret);
/* An HTTP Date header value: "Wed, 25 Nov 2026 22:00:00 GMT". */
int parse_http_date(const char *s, usec_t *ret);
/* "2026-11-25T22:00:00Z" */
char *format_rfc3339(char *buf, size_t n, usec_t realtime);
