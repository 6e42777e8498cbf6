/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "macro.h"

/* Parsers for the value syntaxes of the config file. All return 0 or
 * -EINVAL (bad syntax) / -ERANGE (out of range) and never log. */

/* "30s", "5m", "1h30m", "250ms", "2d"; a bare number means seconds. */
int parse_duration(const char *s, usec_t *ret);
/* "10MiB", "512KiB", "1G" (powers of 1024 for *iB, of 1000 for K/M/G),
 * a bare number means bytes. */
int parse_size(const char *s, uint64_t *ret);
int parse_bool(const char *s, bool *ret);
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret);

/* Writes e.g. "1h 5min 3s" or "250ms" into buf. */
char *format_duration(char *buf, size_t n, usec_t u);
