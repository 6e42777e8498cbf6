/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "guard.h"
#include "parse-util.h"
#include "time-util.h"
#include "tests.h"

static void test_duration(void) {
        usec_t u;

        CHECK_EQ_INT(parse_duration("30s", &u), 0);
        CHECK_EQ_INT(u, 30 * USEC_PER_SEC);
        CHECK_EQ_INT(parse_duration("5m", &u), 0);
        CHECK_EQ_INT(u, 5 * USEC_PER_MINUTE);
        CHECK_EQ_INT(parse_duration("5min", &u), 0);
        CHECK_EQ_INT(u, 5 * USEC_PER_MINUTE);
        CHECK_EQ_INT(parse_duration("1h30m", &u), 0);
        CHECK_EQ_INT(u, 90 * USEC_PER_MINUTE);
        CHECK_EQ_INT(parse_duration("1h 30m 5s", &u), 0);
        CHECK_EQ_INT(u, 90 * USEC_PER_MINUTE + 5 * USEC_PER_SEC);
        CHECK_EQ_INT(parse_duration("250ms", &u), 0);
        CHECK_EQ_INT(u, 250 * USEC_PER_MSEC);
        CHECK_EQ_INT(parse_duration("2d", &u), 0);
        CHECK_EQ_INT(u, 2 * USEC_PER_DAY);
        CHECK_EQ_INT(parse_duration("45", &u), 0);      /* bare: seconds */
        CHECK_EQ_INT(u, 45 * USEC_PER_SEC);
        CHECK_EQ_INT(parse_duration("0", &u), 0);
        CHECK_EQ_INT(u, 0);

        CHECK_EQ_INT(parse_duration("", &u), -EINVAL);
        CHECK_EQ_INT(parse_duration("s", &u), -EINVAL);
        CHECK_EQ_INT(parse_duration("-5s", &u), -EINVAL);
        CHECK_EQ_INT(parse_duration("5x", &u), -EINVAL);
        CHECK_EQ_INT(parse_duration("5 s", &u), -EINVAL);
        CHECK_EQ_INT(parse_duration("1h30", &u), -EINVAL);      /* bare number only alone */
        CHECK_EQ_INT(parse_duration("5seconds", &u), -EINVAL);
        CHECK_EQ_INT(parse_duration("99999999999999999999s", &u), -ERANGE);
        CHECK_EQ_INT(parse_duration("999999999999d", &u), -ERANGE);
}

static void test_size(void) {
        uint64_t s;

        CHECK_EQ_INT(parse_size("10MiB", &s), 0);
        CHECK_EQ_INT(s, 10ULL << 20);
        CHECK_EQ_INT(parse_size("512KiB", &s), 0);
        CHECK_EQ_INT(s, 512ULL << 10);
        CHECK_EQ_INT(parse_size("1G", &s), 0);
        CHECK_EQ_INT(s, 1000000000ULL);
        CHECK_EQ_INT(parse_size("2 GiB", &s), 0);
        CHECK_EQ_INT(s, 2ULL << 30);
        CHECK_EQ_INT(parse_size("4096", &s), 0);
        CHECK_EQ_INT(s, 4096);
        CHECK_EQ_INT(parse_size("7B", &s), 0);
        CHECK_EQ_INT(s, 7);
        CHECK_EQ_INT(parse_size("10mb", &s), -EINVAL);
        CHECK_EQ_INT(parse_size("MiB", &s), -EINVAL);
        CHECK_EQ_INT(parse_size("1.5MiB", &s), -EINVAL);
        CHECK_EQ_INT(parse_size("-1", &s), -EINVAL);
        CHECK_EQ_INT(parse_size("99999999999TiB", &s), -ERANGE);
}

static void test_misc(void) {
        bool b;
        unsigned u;

        CHECK_EQ_INT(parse_bool("yes", &b), 0);
        CHECK(b);
        CHECK_EQ_INT(parse_bool("Off", &b), 0);
        CHECK(!b);
        CHECK_EQ_INT(parse_bool("maybe", &b), -EINVAL);
        CHECK_EQ_INT(parse_uint("5", 1, 20, &u), 0);
        CHECK_EQ_INT(u, 5);
        CHECK_EQ_INT(parse_uint("21", 1, 20, &u), -ERANGE);
        CHECK_EQ_INT(parse_uint("5a", 1, 20, &u), -EINVAL);
}

static void test_time(void) {
        usec_t t;
        char buf[64];

        CHECK_EQ_INT(parse_rfc3339("2026-11-25T23:00:00Z", &t), 0);
        CHECK_STREQ(format_rfc3339(buf, sizeof(buf), t), "2026-11-25T23:00:00Z");
        CHECK_EQ_INT(parse_rfc3339("2026-11-25T23:00:00.123Z", &t), 0);
        CHECK_STREQ(format_rfc3339(buf, sizeof(buf), t), "2026-11-25T23:00:00Z");
        CHECK_EQ_INT(parse_rfc3339("2026-11-26T01:00:00+02:00", &t), 0);
        CHECK_STREQ(format_rfc3339(buf, sizeof(buf), t), "2026-11-25T23:00:00Z");
        CHECK(parse_rfc3339("2026-11-25 23:00:00", &t) < 0);
        CHECK(parse_rfc3339("2026-11-25T23:00:00", &t) < 0);
        CHECK(parse_rfc3339("garbage", &t) < 0);
        CHECK(parse_rfc3339("2026-11-25T23:00:00Zjunk", &t) < 0);
        /* issue 16 #1: a short offset made the parser skip six bytes past
         * what it had read, beyond the string's end (crashes here on the
         * guard page). Exactly "+hh:mm" is accepted. */
        static const char *const bad_offsets[] = {
                "2026-12-01T00:00:00+1:2", "2026-12-01T00:00:00+1", "2026-12-01T00:00:00+", "2026-12-01T00:00:00-01:",
                "2026-12-01T00:00:00+01:0", "2026-12-01T00:00:00+ 1:02", "2026-12-01T00:00:00+-1:02",
                "2026-12-01T00:00:00+24:00", "2026-12-01T00:00:00+01:60", "2026-12-01T00:00:00+0100",
        };
        for (size_t i = 0; i < sizeof(bad_offsets) / sizeof(bad_offsets[0]); i++) {
                CHECK_EQ_INT(parse_rfc3339(guarded(bad_offsets[i]), &t), -EINVAL);
                guarded_free();
        }
        CHECK_EQ_INT(parse_rfc3339(guarded("2026-11-25T20:30:00-02:30"), &t), 0);
        guarded_free();
        CHECK_STREQ(format_rfc3339(buf, sizeof(buf), t), "2026-11-25T23:00:00Z");
        CHECK_EQ_INT(parse_http_date("Wed, 25 Nov 2026 23:00:00 GMT", &t), 0);
        CHECK_STREQ(format_rfc3339(buf, sizeof(buf), t), "2026-11-25T23:00:00Z");
        CHECK(parse_http_date("yesterday", &t) < 0);
        CHECK_STREQ(format_duration(buf, sizeof(buf), 250 * USEC_PER_MSEC), "250ms");
        CHECK_STREQ(format_duration(buf, sizeof(buf), 90 * USEC_PER_SEC), "1min 30s");
}

TEST_MAIN(test_duration(); test_size(); test_misc(); test_time();)
