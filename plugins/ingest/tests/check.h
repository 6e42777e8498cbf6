/* SPDX-License-Identifier: MIT */
#pragma once
/* Minimal assertions for the plugin's unit tests: print where and abort. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                     \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                        \
                }                                                                       \
        } while (0)
#define CHECK_STR(a, b)                                                                 \
        do {                                                                            \
                const char *_a = (a), *_b = (b);                                        \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                                \
                        fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, _a ? _a : "(null)", _b ? _b : "(null)"); \
                        abort();                                                        \
                }                                                                       \
        } while (0)
#define CHECK_CONTAINS(hay, needle)                                                     \
        do {                                                                            \
                const char *_h = (hay);                                                 \
                if (!_h || !strstr(_h, (needle))) {                                     \
                        fprintf(stderr, "%s:%d: \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, _h ? _h : "(null)", (needle)); \
                        abort();                                                        \
                }                                                                       \
        } while (0)
