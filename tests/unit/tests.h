/* SPDX-License-Identifier: MIT */
#pragma once

/* Just enough to make a failing check say what and where; each test file
 * is one executable run by meson, exit status 0 means every check passed. */

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tests_failed;

#define CHECK(expr)                                                             \
        do {                                                                    \
                if (!(expr)) {                                                  \
                        fprintf(stderr, "%s:%d: check failed: %s\n",            \
                                __FILE__, __LINE__, #expr);                     \
                        tests_failed++;                                         \
                }                                                               \
        } while (0)

#define CHECK_EQ_INT(a, b)                                                      \
        do {                                                                    \
                long long _a = (long long) (a), _b = (long long) (b);           \
                if (_a != _b) {                                                 \
                        fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
                                __FILE__, __LINE__, #a, _a, #b, _b);            \
                        tests_failed++;                                         \
                }                                                               \
        } while (0)

#define CHECK_STREQ(a, b)                                                       \
        do {                                                                    \
                const char *_a = (a), *_b = (b);                                \
                if (!_a || !_b || strcmp(_a, _b) != 0) {                        \
                        fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", \
                                __FILE__, __LINE__, #a, _a ? _a : "(null)",     \
                                _b ? _b : "(null)");                            \
                        tests_failed++;                                         \
                }                                                               \
        } while (0)

#define CHECK_CONTAINS(hay, needle)                                             \
        do {                                                                    \
                const char *_h = (hay), *_n = (needle);                         \
                if (!_h || !strstr(_h, _n)) {                                   \
                        fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", \
                                __FILE__, __LINE__, _h ? _h : "(null)", _n);    \
                        tests_failed++;                                         \
                }                                                               \
        } while (0)

#define TEST_MAIN(...)                                                          \
        int main(void) {                                                        \
                __VA_ARGS__                                                     \
                if (tests_failed)                                               \
                        fprintf(stderr, "%d check(s) failed\n", tests_failed);  \
                return tests_failed ? EXIT_FAILURE : EXIT_SUCCESS;              \
        }
