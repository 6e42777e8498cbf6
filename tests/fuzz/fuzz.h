/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared by the libFuzzer targets of this folder. Each target is one input
 * surface of agentd, fed through the same functions the daemon calls on
 * outside input; libFuzzer (-fsanitize=fuzzer) provides main(), ASan and
 * UBSan report what goes wrong. A target may also abort() on a broken
 * invariant (FUZZ_ASSERT): that is a finding like a crash.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(expr)                                                                    \
        do {                                                                                 \
                if (!(expr)) {                                                               \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__, #expr); \
                        abort();                                                             \
                }                                                                            \
        } while (0)

/* The input as a C string, in a buffer of exactly size + 1 bytes (so ASan
 * sees a read past its end). Bodies from the network are NUL-terminated by
 * the HTTP layer; embedded NULs stay in (len is the real size). */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);

        if (!s)
                abort();
        memcpy(s, data, size);
        s[size] = 0;
        return s;
}

/* Splits the input at each "\n--\n" into at most max parts (NUL-terminated
 * copies, free each; lens[i]: the part's size, NULs included). Returns how
 * many. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, char **parts, size_t *lens, size_t max) {
        static const char sep[] = "\n--\n";
        size_t n = 0, start = 0;

        for (size_t i = 0; n + 1 < max && i + 4 <= size; i++)
                if (memcmp(data + i, sep, 4) == 0) {
                        lens[n] = i - start;
                        parts[n++] = fuzz_string(data + start, i - start);
                        start = i + 4;
                        i += 3;
                }
        lens[n] = size - start;
        parts[n++] = fuzz_string(data + start, size - start);
        return n;
}
