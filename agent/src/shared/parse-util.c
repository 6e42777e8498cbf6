/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "parse-util.h"

/* Reads one unsigned decimal number, refusing signs, blanks and overflow. */
static int parse_u64_prefix(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (!isdigit((unsigned char) *s))
                return -EINVAL;
        for (; isdigit((unsigned char) *s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

static const struct {
        const char *suffix;
        usec_t factor;
} duration_units[] = {
        { "us",   1 },
        { "ms",   USEC_PER_MSEC },
        { "sec",  USEC_PER_SEC },
        { "s",    USEC_PER_SEC },
        { "min",  USEC_PER_MINUTE },
        { "m",    USEC_PER_MINUTE },
        { "h",    USEC_PER_HOUR },
        { "d",    USEC_PER_DAY },
};

int parse_duration(const char *s, usec_t *ret) {
        usec_t total = 0;
        bool any = false;

        if (isempty(s))
                return -EINVAL;

        while (*s) {
                uint64_t v;
                usec_t factor = 0;
                size_t len = 0;
                int r;

                while (*s == ' ')
                        s++;
                if (!*s)
                        break;
                r = parse_u64_prefix(&s, &v);
                if (r < 0)
                        return r;

                /* A bare number is seconds, but only as the whole value. */
                if (!*s && !any) {
                        factor = USEC_PER_SEC;
                } else {
                        for (size_t i = 0; i < ELEMENTSOF(duration_units); i++) {
                                size_t l = strlen(duration_units[i].suffix);
                                if (strncmp(s, duration_units[i].suffix, l) == 0 &&
                                    !isalpha((unsigned char) s[l])) {
                                        factor = duration_units[i].factor;
                                        len = l;
                                        break;
                                }
                        }
                        if (factor == 0)
                                return -EINVAL;
                }
                if (v > (USEC_INFINITY - 1 - total) / factor)
                        return -ERANGE;
                total += v * factor;
                s += len;
                any = true;
        }
        if (!any)
                return -EINVAL;
        *ret = total;
        return 0;
}

int parse_size(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } units[] = {
                { "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 }, { "TiB", 1ULL << 40 },
                { "K", 1000ULL }, { "M", 1000000ULL }, { "G", 1000000000ULL }, { "T", 1000000000000ULL },
                { "B", 1 }, { "", 1 },
        };
        uint64_t v;
        int r;

        if (isempty(s))
                return -EINVAL;
        while (*s == ' ')
                s++;
        r = parse_u64_prefix(&s, &v);
        if (r < 0)
                return r;
        while (*s == ' ')
                s++;
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (streq(s, units[i].suffix)) {
                        if (v > UINT64_MAX / units[i].factor)
                                return -ERANGE;
                        *ret = v * units[i].factor;
                        return 0;
                }
        return -EINVAL;
}

int parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "true", "on" };
        static const char *const no[] = { "0", "no", "false", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret) {
        uint64_t v;
        int r;

        if (isempty(s))
                return -EINVAL;
        r = parse_u64_prefix(&s, &v);
        if (r < 0)
                return r;
        if (*s)
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = (unsigned) v;
        return 0;
}

char *format_duration(char *buf, size_t n, usec_t u) {
        if (u == USEC_INFINITY)
                snprintf(buf, n, "infinity");
        else if (u < USEC_PER_SEC)
                snprintf(buf, n, "%" PRIu64 "ms", u / USEC_PER_MSEC);
        else if (u < USEC_PER_MINUTE)
                snprintf(buf, n, "%" PRIu64 ".%01" PRIu64 "s", u / USEC_PER_SEC, (u % USEC_PER_SEC) / 100000);
        else if (u < USEC_PER_HOUR)
                snprintf(buf, n, "%" PRIu64 "min %" PRIu64 "s", u / USEC_PER_MINUTE, (u % USEC_PER_MINUTE) / USEC_PER_SEC);
        else if (u < USEC_PER_DAY)
                snprintf(buf, n, "%" PRIu64 "h %" PRIu64 "min", u / USEC_PER_HOUR, (u % USEC_PER_HOUR) / USEC_PER_MINUTE);
        else
                snprintf(buf, n, "%" PRIu64 "d %" PRIu64 "h", u / USEC_PER_DAY, (u % USEC_PER_DAY) / USEC_PER_HOUR);
        return buf;
}
