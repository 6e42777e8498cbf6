/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The API daemon's metrics, in the Prometheus text format (version 0.0.4)
 * that agentd scrapes from /metrics and publishes with the host's.
 * Everything here is touched on the loop thread only.
 *
 * Queue figures (depth, oldest age, running) are the whole cluster's: they
 * come from the shared job table and are the signal a step-scaling policy
 * wants. Job and record counters are this instance's: the API's own, and
 * its workers' (their per-worker rows in ingest_counters, summed).
 */

#include "jobs.h"

#define LATENCY_BUCKETS 12

typedef struct Metrics {
        uint64_t responses[6];          /* by status class: 1xx..5xx, index 1..5 */
        uint64_t by_code[600];
        uint64_t latency_buckets[LATENCY_BUCKETS + 1];
        double latency_sum;
        uint64_t latency_count;
        uint64_t jobs_accepted, records_accepted, jobs_replayed;
        QueueStats stats;
        bool stats_valid;
        usec_t stats_at;
        double records_per_second;      /* this instance's workers, over the last stats interval */
        bool db_up, draining;
        unsigned db_in_flight;          /* requests waiting for or in a database transaction */
} Metrics;

void metrics_observe(Metrics *m, unsigned code, usec_t duration);
void metrics_stats(Metrics *m, const QueueStats *s, usec_t now);
int metrics_render(const Metrics *m, Buf *b);
