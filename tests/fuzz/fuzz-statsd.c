/* SPDX-License-Identifier: MIT */
/*
 * StatsD datagrams (statsd.c) as they arrive on the UDP socket: each part
 * of the input (split at "\n--\n") is one datagram through
 * statsd_process(), into the aggregation the daemon publishes; every few
 * datagrams the sets are flushed and the window sealed, as the collection
 * and publish intervals do. Each line is also parsed alone.
 *
 * Invariants: a line that parses has a valid name, a type, a rate in
 * (0, 1], a finite value within METRIC_VALUE_MAX (not negative for a
 * timer), at most STATSD_MAX_TAGS tags with valid names and values; every
 * packet is counted; what the aggregation seals is finite and within the
 * series limit, and its Prometheus text renders.
 */
#include <math.h>

#include "fuzz.h"
#include "log.h"
#include "metric-aggregate.h"
#include "statsd.h"

#define MAX_SERIES 64

static sd_event *event;

/* statsd_new() binds its UDP socket; if another process has the port, it
 * still returns the object (its component says so), which is all the
 * target needs: datagrams go through statsd_process(). A fresh pair per
 * input: each input replays alone (and libFuzzer's leak check stays
 * cheap, which persistent state made 20 times slower). */
static void setup(MetricAgg **agg, Statsd **statsd) {
        if (!event) {
                log_set_max_level(LOG_CRIT);    /* bad lines are logged: not the point here */
                if (sd_event_new(&event) < 0)
                        abort();
        }
        if (metric_agg_new(MAX_SERIES, agg) < 0 || statsd_new(event, "127.0.0.1:1", *agg, statsd) < 0 || !*statsd)
                abort();
}

static void check_line(const char *p, size_t n) {
        char *line = fuzz_string((const uint8_t *) p, n);
        const char *reason = NULL;
        StatsdLine l;

        if (statsd_parse_line(line, &l, &reason) == 0) {
                FUZZ_ASSERT(metric_name_valid(l.name));
                FUZZ_ASSERT(l.rate > 0 && l.rate <= 1);
                FUZZ_ASSERT(l.n_tags <= STATSD_MAX_TAGS);
                for (size_t i = 0; i < l.n_tags; i++)
                        FUZZ_ASSERT(metric_name_valid(l.tags[i].name) && metric_name_valid(l.tags[i].value));
                if (l.type == STATSD_SET)
                        FUZZ_ASSERT(l.set_value && *l.set_value && strlen(l.set_value) <= METRIC_NAME_MAX);
                else {
                        FUZZ_ASSERT(isfinite(l.value) && fabs(l.value) <= METRIC_VALUE_MAX);
                        FUZZ_ASSERT(l.type != STATSD_TIMER || l.value >= 0);
                }
        } else
                FUZZ_ASSERT(reason && *reason);
        free(line);
}

static void check_batch(const MetricBatch *b) {
        for (size_t i = 0; b && i < b->n; i++) {
                const MetricDatum *d = &b->items[i];
                FUZZ_ASSERT(metric_name_valid(d->name) && d->n_dims <= METRIC_MAX_DIMS);
                FUZZ_ASSERT(isfinite(d->min) && isfinite(d->max) && isfinite(d->sum) && isfinite(d->count));
                FUZZ_ASSERT(d->n_values <= METRIC_MAX_VALUES);
                for (size_t k = 0; k < d->n_values; k++)
                        FUZZ_ASSERT(isfinite(d->values[k]) && isfinite(d->counts[k]));
        }
}

/* An interval passes: sets handed over, the window sealed (series not
 * seen for a few windows are forgotten: memory stays bounded). */
static void interval(MetricAgg *agg, Statsd *statsd, unsigned k) {
        MetricBatch *b = NULL;
        char *text = NULL;
        size_t text_len;

        statsd_flush(statsd);
        FUZZ_ASSERT(metric_agg_seal(agg, (usec_t) (k + 1) * 60 * USEC_PER_SEC, k % 2 == 1, &b) >= 0);
        check_batch(b);
        metric_batch_free(b);
        FUZZ_ASSERT(metric_agg_format_prometheus(agg, &text, &text_len) >= 0);
        FUZZ_ASSERT(strlen(text) == text_len);
        free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *parts[16];
        size_t lens[16], n, before;
        MetricAgg *agg;
        Statsd *statsd;

        if (size > 16 * STATSD_PACKET_MAX)
                return 0;
        setup(&agg, &statsd);
        n = fuzz_split(data, size, parts, lens, 16);
        for (size_t i = 0; i < n; i++) {
                char buf[STATSD_PACKET_MAX + 1];
                size_t len = lens[i] > STATSD_PACKET_MAX ? STATSD_PACKET_MAX : lens[i];

                /* Lines alone first (statsd_process parses in place). */
                for (size_t s = 0, e; s < len; s = e + 1) {
                        const char *nl = memchr(parts[i] + s, '\n', len - s);
                        e = nl ? (size_t) (nl - parts[i]) : len;
                        check_line(parts[i] + s, e - s);
                }
                /* The socket's buffer: STATSD_PACKET_MAX + 1 bytes. */
                memcpy(buf, parts[i], len);
                before = statsd_counters(statsd)->packets;
                statsd_process(statsd, buf, len);
                FUZZ_ASSERT(statsd_counters(statsd)->packets == before + 1);
                FUZZ_ASSERT(metric_agg_n_series(agg) <= MAX_SERIES);
                free(parts[i]);
                /* Every other datagram is a new interval. */
                if (i % 2 == 1)
                        interval(agg, statsd, (unsigned) i);
        }
        interval(agg, statsd, (unsigned) n);
        statsd_free(statsd);
        metric_agg_free(agg);
        return 0;
}
