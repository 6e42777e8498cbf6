/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <math.h>
#include <time.h>

#include "fields.h"

bool utf8_valid(const char *s, size_t n, size_t *ret_chars) {
        const unsigned char *p = (const unsigned char *) s;
        size_t chars = 0;

        for (size_t i = 0; i < n; chars++) {
                unsigned c = p[i], need;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xc2 && c <= 0xdf)
                        need = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        need = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        need = 3, cp = c & 0x07;
                else
                        return false;
                for (unsigned k = 1; k <= need; k++) {
                        if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i + k] & 0x3f);
                }
                /* overlong, surrogate or beyond U+10FFFF */
                if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += need + 1;
        }
        if (ret_chars)
                *ret_chars = chars;
        return true;
}

static int two(const char *s) {
        return isdigit((unsigned char) s[0]) && isdigit((unsigned char) s[1]) ? (s[0] - '0') * 10 + s[1] - '0' : -1;
}

/* Calendar arithmetic without the C library's time zone machinery (timegm
 * and gmtime_r were a tenth of the API's CPU): days since 1970-01-01 of a
 * proleptic Gregorian date and back (H. Hinnant's algorithms). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned) (y - era * 400);
        unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t) doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned) (z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;

        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int64_t) yoe + era * 400 + (*m <= 2);
}

static unsigned days_in_month(int64_t y, unsigned m) {
        static const unsigned char n[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        bool leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        return m == 2 && leap ? 29 : n[m - 1];
}

static void put_digits(char *p, unsigned v, int n) {
        while (n-- > 0) {
                p[n] = (char) ('0' + v % 10);
                v /= 10;
        }
}

int datetime_format(int64_t t, long usec, char out[27]) {
        int64_t days = t / 86400, secs = t % 86400, y;
        unsigned m, d;

        if (secs < 0) {
                secs += 86400;
                days--;
        }
        civil_from_days(days, &y, &m, &d);
        if (y < 1000 || y > 9999 || usec < 0 || usec > 999999)
                return -ERANGE;
        /* YYYY-MM-DD HH:MM:SS.ffffff */
        memcpy(out, "0000-00-00 00:00:00.000000", 27);
        put_digits(out, (unsigned) y, 4);
        put_digits(out + 5, m, 2);
        put_digits(out + 8, d, 2);
        put_digits(out + 11, (unsigned) (secs / 3600), 2);
        put_digits(out + 14, (unsigned) (secs / 60 % 60), 2);
        put_digits(out + 17, (unsigned) (secs % 60), 2);
        put_digits(out + 20, (unsigned) usec, 6);
        return 0;
}

int timestamp_normalise(const char *s, char out[27]) {
        struct tm tm = {};
        long usec = 0;
        int off = 0, y;
        int64_t t;

        /* YYYY-MM-DD[T ]HH:MM:SS */
        if (strlen(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
            s[13] != ':' || s[16] != ':')
                return -EINVAL;
        if (two(s) < 0 || two(s + 2) < 0)
                return -EINVAL;
        y = two(s) * 100 + two(s + 2);
        tm.tm_year = y - 1900;
        tm.tm_mon = two(s + 5) - 1;
        tm.tm_mday = two(s + 8);
        tm.tm_hour = two(s + 11);
        tm.tm_min = two(s + 14);
        tm.tm_sec = two(s + 17);
        if (tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
            tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
                return -EINVAL;
        s += 19;
        if (*s == '.') {
                int digits = 0;
                for (s++; isdigit((unsigned char) *s); s++, digits++)
                        if (digits < 6)
                                usec = usec * 10 + (*s - '0');
                if (digits == 0)
                        return -EINVAL;
                for (; digits < 6; digits++)
                        usec *= 10;
        }
        if (*s == 'Z' || *s == 'z')
                s++;
        else if (*s == '+' || *s == '-') {
                int h, m;
                if (strnlen(s, 6) < 6)
                        return -EINVAL;
                h = two(s + 1);
                m = s[3] == ':' ? two(s + 4) : -1;
                if (h < 0 || h > 23 || m < 0 || m > 59)
                        return -EINVAL;
                off = (h * 60 + m) * 60 * (*s == '-' ? -1 : 1);
                s += 6;
        } else
                return -EINVAL;         /* no zone: ambiguous, refused */
        if (*s)
                return -EINVAL;
        if (tm.tm_sec == 60)
                tm.tm_sec = 59;         /* a leap second, folded */
        if ((unsigned) tm.tm_mday > days_in_month(y, (unsigned) tm.tm_mon + 1))
                return -EINVAL;         /* 31 February */
        t = days_from_civil(y, (unsigned) tm.tm_mon + 1, (unsigned) tm.tm_mday) * 86400 + tm.tm_hour * 3600 +
            tm.tm_min * 60 + tm.tm_sec - off;
        return datetime_format(t, usec, out);
}

static void trim(const char **s, size_t *n) {
        while (*n && isspace((unsigned char) **s))
                (*s)++, (*n)--;
        while (*n && isspace((unsigned char) (*s)[*n - 1]))
                (*n)--;
}

const char *field_convert(const Field *f, const cJSON *j, const char *text, char val[64], const char **ret_str,
                           size_t *ret_len) {
        char tmp[64];
        size_t n;

        *ret_str = val;
        if (j && cJSON_IsNumber(j)) {
                double v = j->valuedouble;
                switch (f->type) {
                case FIELD_INT:
                        if (v != floor(v) || fabs(v) > 9007199254740992.0)
                                return "not an integer within ±2^53 (send larger integers as strings)";
                        if ((f->has_min && v < f->min) || (f->has_max && v > f->max))
                                return "out of the field's min/max";
                        snprintf(val, 64, "%lld", (long long) v);      /* exact: |v| <= 2^53 */
                        break;
                case FIELD_FLOAT:
                        if ((f->has_min && v < f->min) || (f->has_max && v > f->max))
                                return "out of the field's min/max";
                        snprintf(val, 64, "%.17g", v);
                        break;
                case FIELD_BOOL:
                        if (v != 0 && v != 1)
                                return "a boolean must be true, false, 0 or 1";
                        snprintf(val, 64, "%d", v != 0);
                        break;
                case FIELD_TIMESTAMP: {
                        int64_t t;
                        long usec;
                        /* Range first: a double past int64's range cast
                         * to it is undefined (1e300 was). */
                        if (!isfinite(v) || v < -30610224000.0 || v > 253402300799.0)
                                return "epoch seconds out of range (years 1000 to 9999)";
                        t = (int64_t) floor(v);
                        usec = lround((v - floor(v)) * 1e6);
                        if (usec >= 1000000) {
                                /* 1.9999999 rounds up to the next second. */
                                t++;
                                usec -= 1000000;
                        }
                        if (datetime_format(t, usec, val) < 0)
                                return "epoch seconds out of range (years 1000 to 9999)";
                        break;
                }
                case FIELD_STRING:
                        return "a number where a string is expected";
                }
                *ret_len = strlen(val);
                return NULL;
        }
        if (j && cJSON_IsBool(j)) {
                if (f->type != FIELD_BOOL)
                        return "a boolean where another type is expected";
                strcpy(val, cJSON_IsTrue(j) ? "1" : "0");
                *ret_len = 1;
                return NULL;
        }
        if (j && !cJSON_IsString(j))
                return "an object or array where a scalar is expected";
        if (j)
                text = j->valuestring;
        n = strlen(text);
        trim(&text, &n);
        if (f->type == FIELD_STRING) {
                size_t chars;
                if (!utf8_valid(text, n, &chars))
                        return "not valid UTF-8";
                if (chars > f->max_length)
                        return "longer than the field's max_length";
                *ret_str = text;
                *ret_len = n;
                return NULL;
        }
        if (n == 0 || n >= sizeof(tmp))
                return n == 0 ? "empty" : "too long for its type";
        memcpy(tmp, text, n);
        tmp[n] = 0;
        switch (f->type) {
        case FIELD_INT: {
                char *end;
                long long v;
                errno = 0;
                v = strtoll(tmp, &end, 10);
                if (errno || *end || !(isdigit((unsigned char) tmp[0]) || tmp[0] == '-' || tmp[0] == '+'))
                        return "not an integer (64-bit)";
                if ((f->has_min && (double) v < f->min) || (f->has_max && (double) v > f->max))
                        return "out of the field's min/max";
                snprintf(val, 64, "%lld", v);
                break;
        }
        case FIELD_FLOAT: {
                char *end;
                double v = strtod(tmp, &end);
                if (*end || !isfinite(v) || isalpha((unsigned char) tmp[0]))
                        return "not a finite number";
                if ((f->has_min && v < f->min) || (f->has_max && v > f->max))
                        return "out of the field's min/max";
                snprintf(val, 64, "%.17g", v);
                break;
        }
        case FIELD_BOOL: {
                static const char *const t[] = { "true", "1", "yes", "t" }, *const fl[] = { "false", "0", "no", "f" };
                for (size_t i = 0; i < 4; i++) {
                        if (strcasecmp(tmp, t[i]) == 0)
                                return strcpy(val, "1"), *ret_len = 1, NULL;
                        if (strcasecmp(tmp, fl[i]) == 0)
                                return strcpy(val, "0"), *ret_len = 1, NULL;
                }
                return "not a boolean (true/false, 1/0, yes/no)";
        }
        case FIELD_TIMESTAMP:
                if (timestamp_normalise(tmp, val) < 0)
                        return "not an RFC 3339 timestamp with a zone (e.g. 2026-01-02T03:04:05Z), years 1000-9999";
                break;
        default:
                break;
        }
        *ret_len = strlen(val);
        return NULL;
}

