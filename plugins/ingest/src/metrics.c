/* SPDX-License-Identifier: MIT */
#include "metrics.h"

static const double bucket_bounds[LATENCY_BUCKETS] = {
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

void metrics_observe(Metrics *m, unsigned code, usec_t duration) {
        double s = (double) duration / 1e6;
        size_t i;

        if (code < ELEMENTSOF(m->by_code))
                m->by_code[code]++;
        for (i = 0; i < LATENCY_BUCKETS && s > bucket_bounds[i]; i++)
                ;
        m->latency_buckets[i]++;
        m->latency_sum += s;
        m->latency_count++;
}

void metrics_stats(Metrics *m, const QueueStats *s, usec_t now) {
        if (m->stats_valid && now > m->stats_at && s->records_done >= m->stats.records_done)
                m->records_per_second = (double) (s->records_done - m->stats.records_done) * 1e6 / (double) (now - m->stats_at);
        m->stats = *s;
        m->stats_valid = true;
        m->stats_at = now;
}

#define HEAD(b, name, type, help) buf_printf(b, "# HELP " name " " help "\n# TYPE " name " " type "\n")

int metrics_render(const Metrics *m, Buf *b) {
        uint64_t cum = 0;

        HEAD(b, "ingest_http_responses_total", "counter", "HTTP answers of the ingestion API by status code.");
        for (size_t c = 100; c < ELEMENTSOF(m->by_code); c++)
                if (m->by_code[c])
                        buf_printf(b, "ingest_http_responses_total{code=\"%zu\"} %" PRIu64 "\n", c, m->by_code[c]);
        HEAD(b, "ingest_http_request_duration_seconds", "histogram", "Time from a request's headers to its answer.");
        for (size_t i = 0; i < LATENCY_BUCKETS; i++) {
                cum += m->latency_buckets[i];
                buf_printf(b, "ingest_http_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", bucket_bounds[i], cum);
        }
        cum += m->latency_buckets[LATENCY_BUCKETS];
        buf_printf(b, "ingest_http_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
        buf_printf(b, "ingest_http_request_duration_seconds_sum %.6f\n", m->latency_sum);
        buf_printf(b, "ingest_http_request_duration_seconds_count %" PRIu64 "\n", m->latency_count);

        HEAD(b, "ingest_jobs_accepted_total", "counter", "Jobs this instance's API committed (202).");
        buf_printf(b, "ingest_jobs_accepted_total %" PRIu64 "\n", m->jobs_accepted);
        HEAD(b, "ingest_jobs_replayed_total", "counter", "Requests answered with an earlier job through their Idempotency-Key.");
        buf_printf(b, "ingest_jobs_replayed_total %" PRIu64 "\n", m->jobs_replayed);
        HEAD(b, "ingest_records_accepted_total", "counter", "Records in the jobs this instance's API accepted.");
        buf_printf(b, "ingest_records_accepted_total %" PRIu64 "\n", m->records_accepted);
        HEAD(b, "ingest_db_up", "gauge", "1 when the last database connection attempt worked.");
        buf_printf(b, "ingest_db_up %d\n", m->db_up);
        HEAD(b, "ingest_db_requests_in_flight", "gauge", "Requests waiting for or in a database transaction (above db_threads, they queue).");
        buf_printf(b, "ingest_db_requests_in_flight %u\n", m->db_in_flight);
        HEAD(b, "ingest_draining", "gauge", "1 while the API drains (answers 503).");
        buf_printf(b, "ingest_draining %d\n", m->draining);
        if (!m->stats_valid)
                return b->data ? 0 : -ENOMEM;   /* no queue figures yet: none rather than zeros */
        HEAD(b, "ingest_jobs_done_total", "counter", "Jobs this instance's workers completed.");
        buf_printf(b, "ingest_jobs_done_total %" PRIu64 "\n", m->stats.jobs_done);
        HEAD(b, "ingest_jobs_failed_total", "counter", "Failed attempts (retried later) of this instance's workers.");
        buf_printf(b, "ingest_jobs_failed_total %" PRIu64 "\n", m->stats.jobs_failed);
        HEAD(b, "ingest_jobs_dead_total", "counter", "Jobs this instance's workers gave up on after max_attempts.");
        buf_printf(b, "ingest_jobs_dead_total %" PRIu64 "\n", m->stats.jobs_dead);
        HEAD(b, "ingest_records_processed_total", "counter", "Records this instance's workers stored.");
        buf_printf(b, "ingest_records_processed_total %" PRIu64 "\n", m->stats.records_done);
        HEAD(b, "ingest_records_per_second", "gauge", "Records this instance's workers stored per second, last interval.");
        buf_printf(b, "ingest_records_per_second %.1f\n", m->records_per_second);
        HEAD(b, "ingest_queue_depth", "gauge", "Jobs waiting (queued or failed awaiting retry), whole cluster.");
        buf_printf(b, "ingest_queue_depth %" PRIu64 "\n", m->stats.depth);
        HEAD(b, "ingest_queue_running", "gauge", "Jobs leased by a worker, whole cluster.");
        buf_printf(b, "ingest_queue_running %" PRIu64 "\n", m->stats.running);
        HEAD(b, "ingest_queue_oldest_age_seconds", "gauge", "Age of the oldest waiting job, whole cluster.");
        return buf_printf(b, "ingest_queue_oldest_age_seconds %.3f\n", m->stats.oldest_age);
}
