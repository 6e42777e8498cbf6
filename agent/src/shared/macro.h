/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small helpers every file uses: scope-bound cleanup (the gnu11 cleanup
 * attribute, as systemd does), ownership transfer and time constants.
 * Nothing here logs or allocates on its own.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define CLAMP(x, lo, hi) MIN(MAX((x), (lo)), (hi))

/* The struct that embeds `member` at ptr (a Component in a Check, say). */
#define container_of(ptr, type, member) \
        ((type *) (void *) ((char *) (ptr) - offsetof(type, member)))

/* Hand a pointer over: returns it and leaves NULL behind, so the cleanup
 * handler of the old owner does nothing. */
#define TAKE_PTR(p)                             \
        ({                                      \
                typeof(p) _p_ = (p);            \
                (p) = NULL;                     \
                _p_;                            \
        })
#define TAKE_FD(fd)                             \
        ({                                      \
                int _fd_ = (fd);                \
                (fd) = -EBADF;                  \
                _fd_;                           \
        })

#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type *p) {                   \
                if (*p)                                         \
                        func(*p);                               \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* Overwrite memory the compiler must not optimise away: secrets. */
static inline void explicit_wipe(void *p, size_t n) {
        if (p && n > 0)
                explicit_bzero(p, n);
}
static inline char *strwipe_free(char *s) {
        if (s)
                explicit_wipe(s, strlen(s));
        free(s);
        return NULL;
}
static inline void strwipe_freep(char **s) {
        strwipe_free(*s);
}
#define _cleanup_wipe_free_ _cleanup_(strwipe_freep)

static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static inline const char *strempty(const char *s) {
        return s ? s : "";
}
static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}
static inline int streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)
#define isempty(s) (!(s) || !(s)[0])

/* Replace a string field, freeing the old value. */
static inline int free_and_strdup(char **p, const char *s) {
        char *t = NULL;
        if (s) {
                t = strdup(s);
                if (!t)
                        return -ENOMEM;
        }
        free(*p);
        *p = t;
        return 0;
}

typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t) UINT64_MAX)
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)
#define USEC_PER_MINUTE ((usec_t) 60 * USEC_PER_SEC)
#define USEC_PER_HOUR ((usec_t) 60 * USEC_PER_MINUTE)
#define USEC_PER_DAY ((usec_t) 24 * USEC_PER_HOUR)
