/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The plugin's own small helpers: scope-bound cleanup, ownership transfer,
 * time constants and logging. The plugin is its own program and shares no
 * code with agentd; these mirror agentd's conventions (negative errno
 * returns, log_*_errno returning -abs(error)) so both read alike.
 *
 * Logging: one line on stderr, "<N>message" when stderr is the journal
 * ($JOURNAL_STREAM, so journald takes the priority from the prefix), else
 * "LEVEL message". Never pass a secret to these functions.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define TAKE_PTR(p)                     \
        ({                              \
                typeof(p) _p_ = (p);    \
                (p) = NULL;             \
                _p_;                    \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd) {
        if (*fd >= 0)
                close(*fd);
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

static inline char *strwipe_free(char *s) {
        if (s)
                explicit_bzero(s, strlen(s));
        free(s);
        return NULL;
}

#define streq(a, b) (strcmp((a), (b)) == 0)
#define isempty(s) (!(s) || !(s)[0])

typedef uint64_t usec_t;
#define USEC_PER_SEC ((usec_t) 1000000ULL)
#define USEC_PER_MSEC ((usec_t) 1000ULL)

usec_t now_usec(int clock);

/* A growable byte buffer; always NUL-terminated once anything was added. */
typedef struct Buf {
        char *data;
        size_t len, cap;
} Buf;

int buf_reserve(Buf *b, size_t extra);
int buf_add(Buf *b, const void *p, size_t n);
int buf_puts(Buf *b, const char *s);
int buf_printf(Buf *b, const char *fmt, ...) _printf_(2, 3);
/* Appends s as a JSON string literal (quotes and escapes). */
int buf_json_string(Buf *b, const char *s, size_t n);
void buf_done(Buf *b);

/* "30", "30s", "500ms", "2min" → usec; "8M", "64K", "1G", "100" → bytes. */
int parse_duration(const char *s, usec_t *ret);
int parse_size(const char *s, uint64_t *ret);
int parse_uint(const char *s, uint64_t max, uint64_t *ret);
int parse_bool(const char *s);
/* [A-Za-z_][A-Za-z0-9_]{0,63}: safe as a SQL identifier and a URL segment. */
bool ident_valid(const char *s);

void log_setup(const char *program);
void log_set_max_level(int level);
int log_internal(int level, int error, const char *fmt, ...) _printf_(3, 4);
#define log_debug(...) (void) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) (void) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) (void) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) (void) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) (void) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_oom() log_internal(LOG_ERR, ENOMEM, "out of memory")

/* inih as Debian builds it passes no line numbers to handlers: this
 * parses f, keeping *line at the line being handled. Returns inih's
 * value (0, or the first bad line). */
typedef int (*IniHandler)(void *user, const char *section, const char *name, const char *value);
int ini_parse_counting(FILE *f, IniHandler h, void *user, int *line);
