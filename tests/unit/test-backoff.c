/* SPDX-License-Identifier: MIT */
#include "backoff.h"
#include "tests.h"

static void test_ceiling(void) {
        usec_t base = 100 * USEC_PER_MSEC, cap = 20 * USEC_PER_SEC;

        CHECK_EQ_INT(backoff_ceiling(base, cap, 0), 0);
        CHECK_EQ_INT(backoff_ceiling(base, cap, 1), base);
        CHECK_EQ_INT(backoff_ceiling(base, cap, 2), 2 * base);
        CHECK_EQ_INT(backoff_ceiling(base, cap, 5), 16 * base);
        CHECK_EQ_INT(backoff_ceiling(base, cap, 9), cap);       /* 25.6 s capped */
        CHECK_EQ_INT(backoff_ceiling(base, cap, 1000), cap);    /* no overflow */
        CHECK_EQ_INT(backoff_ceiling(base, cap, UINT32_MAX), cap);
}

static void test_full_jitter(void) {
        usec_t base = 100 * USEC_PER_MSEC, cap = 20 * USEC_PER_SEC;

        CHECK_EQ_INT(backoff_delay(base, cap, 3, 0.0), 0);
        CHECK_EQ_INT(backoff_delay(base, cap, 3, 0.5), 200 * USEC_PER_MSEC);
        CHECK(backoff_delay(base, cap, 3, 1.0) < 400 * USEC_PER_MSEC);
        CHECK(backoff_delay(base, cap, 3, -3.0) == 0);

        /* Real random draws stay inside [0, ceiling) and are not all equal. */
        for (unsigned attempt = 1; attempt < 12; attempt++) {
                usec_t ceiling = backoff_ceiling(base, cap, attempt), first = 0;
                bool varied = false;
                for (int i = 0; i < 200; i++) {
                        Backoff b = { .base = base, .cap = cap, .attempt = attempt - 1 };
                        usec_t d = backoff_next(&b);
                        CHECK(d < ceiling || (ceiling == 0 && d == 0));
                        CHECK_EQ_INT(b.attempt, attempt);
                        if (i == 0)
                                first = d;
                        else if (d != first)
                                varied = true;
                }
                CHECK(varied);
        }
}

static void test_jitter(void) {
        for (int i = 0; i < 1000; i++) {
                usec_t j = jitter(1000 * USEC_PER_MSEC, 0.1);
                CHECK(j >= 900 * USEC_PER_MSEC && j <= 1100 * USEC_PER_MSEC);
                double r = random01();
                CHECK(r >= 0.0 && r < 1.0);
        }
}

TEST_MAIN(test_ceiling(); test_full_jitter(); test_jitter();)
