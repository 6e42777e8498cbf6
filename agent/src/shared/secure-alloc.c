/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <sys/mman.h>

#include "macro.h"
#include "secure-alloc.h"

/* The mapping's size sits in front of the caller's bytes, on the same
 * page(s); 16 bytes keep the returned pointer aligned for anything. */
#define HEADER 16U

void *secure_malloc(size_t n) {
        size_t total;
        void *p;

        if (n > SIZE_MAX - HEADER)
                return NULL;
        total = n + HEADER;
        p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                return NULL;
        /* Best effort: a kernel without it still gets wiped pages. */
        (void) madvise(p, total, MADV_DONTDUMP);
        memcpy(p, &total, sizeof(total));
        return (char *) p + HEADER;
}

void secure_free(void *p) {
        size_t total;
        char *base;

        if (!p)
                return;
        base = (char *) p - HEADER;
        memcpy(&total, base, sizeof(total));
        explicit_wipe(base, total);
        (void) munmap(base, total);
}

char *secure_strndup(const char *s, size_t n) {
        char *d = secure_malloc(n + 1);

        if (d)
                memcpy(d, s, n);        /* zeroed: terminated */
        return d;
}

char *secure_strdup(const char *s) {
        return secure_strndup(s, strlen(s));
}

__attribute__((noinline)) void stack_wipe(void) {
        char area[STACK_WIPE_SIZE];

        explicit_bzero(area, sizeof(area));
        __asm__ __volatile__("" : : "r"(area) : "memory");
}
