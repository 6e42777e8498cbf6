/* SPDX-License-Identifier: MIT */
#include <stdbool.h>
#include <sys/random.h>

#include "backoff.h"

usec_t backoff_ceiling(usec_t base, usec_t cap, unsigned attempt) {
        usec_t c = base;

        if (attempt == 0)
                return 0;
        for (unsigned i = 1; i < attempt; i++) {
                if (c >= cap / 2) {
                        c = cap;
                        break;
                }
                c *= 2;
        }
        return MIN(c, cap);
}

usec_t backoff_delay(usec_t base, usec_t cap, unsigned attempt, double r) {
        usec_t ceiling = backoff_ceiling(base, cap, attempt);

        if (r < 0)
                r = 0;
        if (r >= 1)
                r = 0.999999;
        return (usec_t) ((double) ceiling * r);
}

static uint64_t prng_state;

static uint64_t xorshift64(void) {
        if (prng_state == 0) {
                if (getrandom(&prng_state, sizeof(prng_state), GRND_NONBLOCK) != sizeof(prng_state) ||
                    prng_state == 0)
                        prng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t) getpid();
        }
        prng_state ^= prng_state << 13;
        prng_state ^= prng_state >> 7;
        prng_state ^= prng_state << 17;
        return prng_state;
}

double random01(void) {
        return (double) (xorshift64() >> 11) / (double) (1ULL << 53);
}

usec_t backoff_next(Backoff *b) {
        b->attempt++;
        return backoff_delay(b->base, b->cap, b->attempt, random01());
}

usec_t jitter(usec_t d, double fraction) {
        double f = 1.0 + fraction * (2.0 * random01() - 1.0);
        return (usec_t) ((double) d * f);
}
