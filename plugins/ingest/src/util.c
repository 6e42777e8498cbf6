/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <pthread.h>
#include <time.h>

#include "util.h"

usec_t now_usec(int clock) {
        struct timespec ts;

        clock_gettime(clock, &ts);
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

int buf_reserve(Buf *b, size_t extra) {
        size_t need = b->len + extra + 1;
        char *p;

        if (need <= b->cap)
                return 0;
        if (need < b->len)
                return -ENOMEM;
        need = MAX(need, b->cap * 2);
        need = MAX(need, (size_t) 256);
        p = realloc(b->data, need);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->cap = need;
        return 0;
}

int buf_add(Buf *b, const void *p, size_t n) {
        if (buf_reserve(b, n) < 0)
                return -ENOMEM;
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

int buf_puts(Buf *b, const char *s) {
        return buf_add(b, s, strlen(s));
}

int buf_printf(Buf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0 || buf_reserve(b, (size_t) n) < 0)
                return -ENOMEM;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t) n;
        return 0;
}

static bool json_plain(unsigned char c) {
        return c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
}

int buf_json_string(Buf *b, const char *s, size_t n) {
        if (buf_reserve(b, n + 2) < 0)
                return -ENOMEM;
        b->data[b->len++] = '"';
        for (size_t i = 0; i < n;) {
                unsigned char c = (unsigned char) s[i];
                size_t run = i;
                char esc[8];

                /* copy runs of characters that need no escape at once */
                while (run < n && json_plain((unsigned char) s[run]))
                        run++;
                if (run > i) {
                        if (buf_add(b, s + i, run - i) < 0)
                                return -ENOMEM;
                        i = run;
                        continue;
                }
                if (c == '"' || c == '\\') {
                        esc[0] = '\\';
                        esc[1] = (char) c;
                        if (buf_add(b, esc, 2) < 0)
                                return -ENOMEM;
                } else {
                        snprintf(esc, sizeof(esc), "\\u%04x", c);
                        if (buf_add(b, esc, 6) < 0)
                                return -ENOMEM;
                }
                i++;
        }
        return buf_add(b, "\"", 1);
}

void buf_done(Buf *b) {
        free(b->data);
        *b = (Buf) {};
}

int parse_uint(const char *s, uint64_t max, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static int parse_scaled(const char *s, const char *const *units, const uint64_t *factors, size_t n,
                        uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (isempty(s) || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno)
                return -ERANGE;
        for (size_t i = 0; i < n; i++)
                if (streq(end, units[i])) {
                        if (v > UINT64_MAX / factors[i])
                                return -ERANGE;
                        *ret = v * factors[i];
                        return 0;
                }
        return -EINVAL;
}

int parse_duration(const char *s, usec_t *ret) {
        static const char *const units[] = { "", "s", "ms", "min", "us" };
        static const uint64_t f[] = { USEC_PER_SEC, USEC_PER_SEC, USEC_PER_MSEC, 60 * USEC_PER_SEC, 1 };
        return parse_scaled(s, units, f, ELEMENTSOF(units), ret);
}

int parse_size(const char *s, uint64_t *ret) {
        static const char *const units[] = { "", "K", "M", "G" };
        static const uint64_t f[] = { 1, 1024, 1024 * 1024, 1024 * 1024 * 1024 };
        return parse_scaled(s, units, f, ELEMENTSOF(units), ret);
}

int parse_bool(const char *s) {
        if (streq(s, "yes") || streq(s, "true") || streq(s, "1") || streq(s, "on"))
                return 1;
        if (streq(s, "no") || streq(s, "false") || streq(s, "0") || streq(s, "off"))
                return 0;
        return -EINVAL;
}

bool ident_valid(const char *s) {
        size_t n = 0;

        if (isempty(s) || isdigit((unsigned char) s[0]))
                return false;
        for (; s[n]; n++)
                if (!isalnum((unsigned char) s[n]) && s[n] != '_')
                        return false;
        return n <= 64;
}

static int max_level = LOG_INFO;
static bool to_journal;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_setup(const char *program) {
        const char *e = getenv("JOURNAL_STREAM");
        const char *lvl = getenv("INGEST_LOG_LEVEL");

        to_journal = !isempty(e);
        if (lvl && streq(lvl, "debug"))
                max_level = LOG_DEBUG;
        (void) program;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_internal(int level, int error, const char *fmt, ...) {
        static const char *const names[] = { "EMERG", "ALERT", "CRIT", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG" };
        int saved = errno;
        char msg[2048];
        va_list ap;

        if (error < 0)
                error = -error;
        if (level <= max_level) {
                errno = error;  /* for %m */
                va_start(ap, fmt);
                vsnprintf(msg, sizeof(msg), fmt, ap);
                va_end(ap);
                pthread_mutex_lock(&log_lock);
                if (to_journal)
                        fprintf(stderr, "<%d>%s\n", level, msg);
                else
                        fprintf(stderr, "%s %s\n", names[level & 7], msg);
                fflush(stderr);
                pthread_mutex_unlock(&log_lock);
        }
        errno = saved;
        return -error;
}

#include <ini.h>

typedef struct LineReader {
        FILE *f;
        int *line;
} LineReader;

static char *read_line(char *str, int num, void *stream) {
        LineReader *r = stream;
        char *s = fgets(str, num, r->f);

        if (s)
                (*r->line)++;
        return s;
}

int ini_parse_counting(FILE *f, IniHandler h, void *user, int *line) {
        LineReader r = { .f = f, .line = line };

        *line = 0;
        return ini_parse_stream(read_line, &r, h, user);
}
