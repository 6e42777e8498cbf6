/* SPDX-License-Identifier: MIT */
#pragma once

#include "macro.h"

/*
 * Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"): the delay before retry n (n >= 1) is uniform in
 * [0, min(cap, base * 2^(n-1))]. Full jitter spreads a fleet that failed at
 * the same moment, which matters when a whole ASG boots at once.
 */
typedef struct Backoff {
        usec_t base;
        usec_t cap;
        unsigned attempt;       /* retries handed out so far */
} Backoff;

/* Upper bound of the delay for retry `attempt` (1-based). Pure. */
usec_t backoff_ceiling(usec_t base, usec_t cap, unsigned attempt);
/* Delay for retry `attempt` given a random value in [0, 1). Pure. */
usec_t backoff_delay(usec_t base, usec_t cap, unsigned attempt, double random01);
/* Next delay, advancing the attempt count, using a process-wide PRNG. */
usec_t backoff_next(Backoff *b);
static inline void backoff_reset(Backoff *b) {
        b->attempt = 0;
}
/* Uniform random in [0, 1); seeded once from getrandom(). */
double random01(void);
/* d ± fraction*d, uniformly. */
usec_t jitter(usec_t d, double fraction);
