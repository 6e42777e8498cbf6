/* SPDX-License-Identifier: MIT */
#pragma once

/* A string placed so that its terminating NUL is the last byte before a
 * PROT_NONE page: a parser reading one byte past the end crashes, in every
 * build (not only under ASan or valgrind). One at a time; guarded_free()
 * before the next. */

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char *guard_area;

static inline const char *guarded(const char *s) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE), l = strlen(s) + 1;
        char *end;

        if (l > page)
                abort();
        guard_area = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (guard_area == MAP_FAILED || mprotect(guard_area + page, page, PROT_NONE) < 0)
                abort();
        end = guard_area + page;
        memcpy(end - l, s, l);
        return end - l;
}

static inline void guarded_free(void) {
        munmap(guard_area, 2 * (size_t) sysconf(_SC_PAGESIZE));
        guard_area = NULL;
}
