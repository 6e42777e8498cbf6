/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "time-util.h"

usec_t now_usec(clockid_t clock) {
        struct timespec ts;

        if (clock_gettime(clock, &ts) < 0)
                return 0;
        return (usec_t) ts.tv_sec * USEC_PER_SEC + (usec_t) ts.tv_nsec / 1000;
}

int parse_rfc3339(const char *s, usec_t *ret) {
        struct tm tm = {};
        const char *p;
        time_t t;
        long offset = 0;

        if (isempty(s))
                return -EINVAL;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                p++;
                if (!isdigit((unsigned char) *p))
                        return -EINVAL;
                while (isdigit((unsigned char) *p))
                        p++;
        }
        if (*p == 'Z' || *p == 'z')
                p++;
        else if (*p == '+' || *p == '-') {
                /* Exactly "+hh:mm": each byte checked before the next is
                 * read, so a short offset ("+1:2") cannot lead past the
                 * string's end. */
                int hh, mm;
                char sign = *p;
                if (!isdigit((unsigned char) p[1]) || !isdigit((unsigned char) p[2]) || p[3] != ':' ||
                    !isdigit((unsigned char) p[4]) || !isdigit((unsigned char) p[5]))
                        return -EINVAL;
                hh = (p[1] - '0') * 10 + (p[2] - '0');
                mm = (p[4] - '0') * 10 + (p[5] - '0');
                if (hh > 23 || mm > 59)
                        return -EINVAL;
                offset = (hh * 3600L + mm * 60L) * (sign == '+' ? 1 : -1);
                p += 6;
        } else
                return -EINVAL;
        if (*p)
                return -EINVAL;
        t = timegm(&tm);
        if (t == (time_t) -1 || t - offset < 0)
                return -ERANGE;
        *ret = (usec_t) (t - offset) * USEC_PER_SEC;
        return 0;
}

int parse_http_date(const char *s, usec_t *ret) {
        struct tm tm = {};
        const char *p;
        time_t t;

        if (isempty(s))
                return -EINVAL;
        p = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (!p)
                return -EINVAL;
        while (*p == ' ' || *p == '\r' || *p == '\n')
                p++;
        if (*p)
                return -EINVAL;
        t = timegm(&tm);
        if (t == (time_t) -1 || t < 0)
                return -ERANGE;
        *ret = (usec_t) t * USEC_PER_SEC;
        return 0;
}

char *format_rfc3339(char *buf, size_t n, usec_t realtime) {
        time_t t = (time_t) (realtime / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&t, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, n, "n/a");
        return buf;
}
