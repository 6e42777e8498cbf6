/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "metrics"

#include <stdio.h>
#include <sys/resource.h>

#include "http-request.h"
#include "log.h"
#include "metric-fpm.h"
#include "metric-nginx.h"
#include "metric-publish.h"
#include "parse-util.h"
#include "metrics-collect.h"
#include "metrics-scrape.h"
#include "metrics.h"
#include "statsd.h"
#include "time-util.h"

/* Host series: a few dozen, plus per mount, interface and service. */
#define HOST_MAX_SERIES 2000
#define WEB_MAX_RESPONSE (64 * 1024)

typedef struct WebSource {
        HttpRequest *req;
        usec_t prev_at;         /* CLOCK_MONOTONIC of the previous answer */
        uint64_t prev_requests, prev_max_children, prev_slow;
        bool have_prev;
} WebSource;

struct Metrics {
        sd_event *event;
        CurlGlue *glue;
        AwsClient *aws;
        const MetricsSettings *settings;
        AgentCallback cb;
        void *userdata;
        Component component;
        bool started;

        HostCollector *collector;
        MetricAgg *agg;                 /* host, web servers, agentd's own */
        MetricAgg *statsd_agg;
        Statsd *statsd;
        sd_event_source *collect_timer, *publish_timer;
        usec_t window_start;            /* CLOCK_REALTIME */
        char *dim_values[METRICS_N_DIMENSIONS];

        /* Sealed windows waiting to be published, oldest first. */
        MetricBatch **outbox;
        size_t n_outbox, outbox_allocated;
        AwsCall *call;
        MetricBatch *call_batch;        /* NULL once dropped while the call ran */
        size_t call_consumed, call_sent;

        WebSource nginx, fpm;
        /* metrics_flush(): told once the outbox is empty, or at the deadline. */
        AgentCallback flush_cb;
        void *flush_userdata;
        sd_event_source *flush_timer, *flush_defer;
        PromScrape **scrapes;           /* plugins' metrics= */
        size_t n_scrapes;
        /* What is wrong now, by source; the component shows the first. */
        char collect_error[256], web_error[256], publish_error[512], reported[512];

        /* Counters, and their values at the previous cycle for deltas. */
        uint64_t published, dropped, calls, failed_calls;
        uint64_t dropped_prev, bad_prev, aws_calls_prev[_AWS_SERVICE_MAX], aws_errors_prev[_AWS_SERVICE_MAX];
        usec_t cpu_prev, cpu_prev_at;
};

static usec_t self_cpu_usec(void) {
        struct rusage ru;

        if (getrusage(RUSAGE_SELF, &ru) < 0)
                return 0;
        return (usec_t) ru.ru_utime.tv_sec * USEC_PER_SEC + (usec_t) ru.ru_utime.tv_usec +
               (usec_t) ru.ru_stime.tv_sec * USEC_PER_SEC + (usec_t) ru.ru_stime.tv_usec;
}

static uint64_t self_rss(void) {
        unsigned long size, resident;
        _cleanup_fclose_ FILE *f = fopen("/proc/self/statm", "re");

        if (!f || fscanf(f, "%lu %lu", &size, &resident) != 2)
                return 0;
        return (uint64_t) resident * (uint64_t) sysconf(_SC_PAGESIZE);
}

static void add_quiet(Metrics *m, const char *name, MetricUnit unit, MetricKind kind, const MetricDim *dims, size_t n,
                      double v) {
        if (metric_agg_add(m->agg, name, unit, kind, dims, n, v) == -E2BIG)
                m->dropped++;
}

static void collect_self(Metrics *m) {
        usec_t cpu = self_cpu_usec(), now = now_usec(CLOCK_MONOTONIC);
        const StatsdCounters *sc = m->statsd ? statsd_counters(m->statsd) : NULL;
        uint64_t dropped = m->dropped + (sc ? sc->dropped : 0), bad = sc ? sc->bad_lines : 0;

        add_quiet(m, "agentd_rss", METRIC_UNIT_BYTES, METRIC_GAUGE, NULL, 0, (double) self_rss());
        /* One a cycle: scrapers see the collection turn. */
        add_quiet(m, "agentd_metrics_collections", METRIC_UNIT_COUNT, METRIC_DELTA, NULL, 0, 1);
        if (m->cpu_prev_at > 0 && now > m->cpu_prev_at && cpu >= m->cpu_prev)
                add_quiet(m, "agentd_cpu_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, NULL, 0,
                          100.0 * (double) (cpu - m->cpu_prev) / (double) (now - m->cpu_prev_at));
        m->cpu_prev = cpu;
        m->cpu_prev_at = now;
        for (AwsService s = 0; s < _AWS_SERVICE_MAX; s++) {
                MetricDim dim = { "service", aws_service_to_string(s) };
                uint64_t calls, errors;
                if (aws_client_service_counters(m->aws, s, &calls, &errors) < 0 || calls == 0)
                        continue;
                add_quiet(m, "agentd_aws_calls", METRIC_UNIT_COUNT, METRIC_DELTA, &dim, 1,
                          (double) (calls - m->aws_calls_prev[s]));
                add_quiet(m, "agentd_aws_errors", METRIC_UNIT_COUNT, METRIC_DELTA, &dim, 1,
                          (double) (errors - m->aws_errors_prev[s]));
                m->aws_calls_prev[s] = calls;
                m->aws_errors_prev[s] = errors;
        }
        add_quiet(m, "agentd_metrics_dropped", METRIC_UNIT_COUNT, METRIC_DELTA, NULL, 0,
                  (double) (dropped - m->dropped_prev));
        m->dropped_prev = dropped;
        if (m->statsd) {
                add_quiet(m, "agentd_statsd_bad_lines", METRIC_UNIT_COUNT, METRIC_DELTA, NULL, 0,
                          (double) (bad - m->bad_prev));
                m->bad_prev = bad;
        }
}

/* ---- nginx stub_status and php-fpm status, through the site's loopback-only locations ---- */

static double per_second(uint64_t now, uint64_t prev, usec_t dt) {
        return now >= prev && dt > 0 ? (double) (now - prev) * USEC_PER_SEC / (double) dt : -1;
}

static void web_done(Metrics *m, WebSource *w, HttpRequest *req, int error, long status, bool fpm) {
        usec_t now = now_usec(CLOCK_MONOTONIC);
        const char *what = fpm ? "php-fpm status" : "nginx status";
        size_t len;
        const char *body = http_request_body(req, &len);
        int r = -EBADMSG;

        if (error < 0 || status != 200) {
                if (error < 0)
                        snprintf(m->web_error, sizeof(m->web_error), "%s: %s", what, http_request_error(req));
                else
                        snprintf(m->web_error, sizeof(m->web_error), "%s: HTTP %ld", what, status);
                w->have_prev = false;
                return;
        }
        if (!fpm) {
                NginxStatus s;
                r = metric_nginx_parse(body, &s);
                if (r >= 0) {
                        add_quiet(m, "nginx_active", METRIC_UNIT_COUNT, METRIC_GAUGE, NULL, 0, (double) s.active);
                        add_quiet(m, "nginx_reading", METRIC_UNIT_COUNT, METRIC_GAUGE, NULL, 0, (double) s.reading);
                        add_quiet(m, "nginx_writing", METRIC_UNIT_COUNT, METRIC_GAUGE, NULL, 0, (double) s.writing);
                        add_quiet(m, "nginx_waiting", METRIC_UNIT_COUNT, METRIC_GAUGE, NULL, 0, (double) s.waiting);
                        if (w->have_prev && per_second(s.requests, w->prev_requests, now - w->prev_at) >= 0)
                                add_quiet(m, "nginx_requests", METRIC_UNIT_COUNT_PER_SECOND, METRIC_GAUGE, NULL, 0,
                                          per_second(s.requests, w->prev_requests, now - w->prev_at));
                        w->prev_requests = s.requests;
                }
        } else {
                FpmStatus s;
                r = metric_fpm_parse(body, len, &s);
                if (r >= 0) {
                        MetricDim pool = { "pool", s.pool };
                        add_quiet(m, "phpfpm_active_processes", METRIC_UNIT_COUNT, METRIC_GAUGE, &pool, 1, (double) s.active);
                        add_quiet(m, "phpfpm_idle_processes", METRIC_UNIT_COUNT, METRIC_GAUGE, &pool, 1, (double) s.idle);
                        add_quiet(m, "phpfpm_total_processes", METRIC_UNIT_COUNT, METRIC_GAUGE, &pool, 1, (double) s.total);
                        add_quiet(m, "phpfpm_listen_queue", METRIC_UNIT_COUNT, METRIC_GAUGE, &pool, 1,
                                  (double) s.listen_queue);
                        if (w->have_prev && s.accepted >= w->prev_requests &&
                            s.max_children_reached >= w->prev_max_children && s.slow_requests >= w->prev_slow) {
                                add_quiet(m, "phpfpm_requests", METRIC_UNIT_COUNT_PER_SECOND, METRIC_GAUGE, &pool, 1,
                                          per_second(s.accepted, w->prev_requests, now - w->prev_at));
                                add_quiet(m, "phpfpm_max_children_reached", METRIC_UNIT_COUNT, METRIC_DELTA, &pool, 1,
                                          (double) (s.max_children_reached - w->prev_max_children));
                                add_quiet(m, "phpfpm_slow_requests", METRIC_UNIT_COUNT, METRIC_DELTA, &pool, 1,
                                          (double) (s.slow_requests - w->prev_slow));
                        }
                        w->prev_requests = s.accepted;
                        w->prev_max_children = s.max_children_reached;
                        w->prev_slow = s.slow_requests;
                }
        }
        if (r < 0) {
                snprintf(m->web_error, sizeof(m->web_error), "%s: the answer is not a %s page", what,
                         fpm ? "JSON status (add ?json to fpm_status=)" : "stub_status");
                w->have_prev = false;
                return;
        }
        w->prev_at = now;
        w->have_prev = true;
        m->web_error[0] = 0;
}

static void on_nginx_done(HttpRequest *req, int error, long status, void *userdata) {
        Metrics *m = userdata;
        web_done(m, &m->nginx, req, error, status, false);
        m->nginx.req = http_request_free(m->nginx.req);
}

static void on_fpm_done(HttpRequest *req, int error, long status, void *userdata) {
        Metrics *m = userdata;
        web_done(m, &m->fpm, req, error, status, true);
        m->fpm.req = http_request_free(m->fpm.req);
}

static void web_fetch(Metrics *m, WebSource *w, const char *url, HttpRequestDone done) {
        usec_t total = MIN(m->settings->interval, 5 * USEC_PER_SEC);

        if (!url || w->req)     /* still waiting for the previous answer: skip a cycle */
                return;
        if (http_request_new(m->glue, "GET", url, &w->req) < 0)
                return;
        http_request_set_timeouts(w->req, MIN(total, USEC_PER_SEC), total);
        http_request_set_max_response(w->req, WEB_MAX_RESPONSE);
        if (http_request_start(w->req, done, m) < 0)
                w->req = http_request_free(w->req);
}

/* ---- collection ---- */

static void update_component(Metrics *m) {
        const char *err = m->collect_error[0] ? m->collect_error
                          : m->web_error[0]   ? m->web_error
                          : m->publish_error[0] ? m->publish_error
                                                : NULL;
        char buf[32];

        if (err) {
                /* Counted once per new problem, not once per cycle. */
                if (!streq(err, m->reported) || m->component.state != COMPONENT_DEGRADED)
                        component_error(&m->component, COMPONENT_DEGRADED, "%s", err);
                snprintf(m->reported, sizeof(m->reported), "%s", err);
                return;
        }
        m->reported[0] = 0;
        component_set(&m->component, COMPONENT_OK, "collecting every %s, %zu series, publishing to %s",
                      format_duration(buf, sizeof(buf), m->settings->interval),
                      metric_agg_n_series(m->agg) + (m->statsd_agg ? metric_agg_n_series(m->statsd_agg) : 0),
                      m->settings->namespace);
}

static void collect(Metrics *m) {
        char err[256];
        int r;

        agent_callback_invoke(m->cb, m, &(AgentEvent) { .type = METRICS_EVENT_COLLECTING }, m->userdata);
        r = host_collector_run(m->collector, m->settings, m->agg, err, sizeof(err));

        if (r < 0 && !streq(err, m->collect_error))
                log_warning("collecting: %s", err);
        snprintf(m->collect_error, sizeof(m->collect_error), "%s", r < 0 ? err : "");
        if (m->statsd)
                statsd_flush(m->statsd);
        collect_self(m);
        web_fetch(m, &m->nginx, m->settings->nginx_status, on_nginx_done);
        web_fetch(m, &m->fpm, m->settings->fpm_status, on_fpm_done);
        for (size_t i = 0; i < m->n_scrapes; i++) {
                const char *e = prom_scrape_error(m->scrapes[i]);
                /* The last answer's trouble shows like a web server's. */
                if (e && !m->web_error[0])
                        snprintf(m->web_error, sizeof(m->web_error), "%s", e);
                prom_scrape_run(m->scrapes[i], m->agg, MIN(m->settings->interval, 5 * USEC_PER_SEC));
        }
        update_component(m);
}

static int on_collect(sd_event_source *s, uint64_t usec, void *userdata) {
        Metrics *m = userdata;

        collect(m);
        (void) sd_event_source_set_time(s, usec + m->settings->interval);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

/* ---- publishing ---- */

static void outbox_pop(Metrics *m) {
        if (m->call_batch == m->outbox[0])
                m->call_batch = NULL;
        metric_batch_free(m->outbox[0]);
        memmove(m->outbox, m->outbox + 1, (m->n_outbox - 1) * sizeof(MetricBatch *));
        m->n_outbox--;
}

static size_t outbox_max(const Metrics *m) {
        return MAX((size_t) (m->settings->buffer / m->settings->publish_interval), (size_t) 1);
}

static int outbox_push(Metrics *m, MetricBatch *b) {
        while (m->n_outbox >= outbox_max(m)) {
                MetricBatch *old = m->outbox[0];
                size_t lost = old->n - old->sent;
                char ts[32], buf[32];

                metric_format_timestamp(old->n > 0 ? old->items[0].timestamp : 0, ts);
                m->dropped += lost;
                log_warning("metrics buffer full ([metrics] buffer = %s): dropped the oldest window (%s, %zu data points)",
                            format_duration(buf, sizeof(buf), m->settings->buffer), ts, lost);
                outbox_pop(m);
        }
        if (m->n_outbox >= m->outbox_allocated) {
                size_t n = MAX(m->outbox_allocated * 2, (size_t) 8);
                MetricBatch **x = realloc(m->outbox, n * sizeof(MetricBatch *));
                if (!x)
                        return -ENOMEM;
                m->outbox = x;
                m->outbox_allocated = n;
        }
        m->outbox[m->n_outbox++] = b;
        return 0;
}

static size_t instance_dims(Metrics *m, unsigned bits, MetricDim *dims, bool all_or_none) {
        size_t n = 0;

        for (unsigned i = 0; i < METRICS_N_DIMENSIONS; i++) {
                if (!(bits & (1U << i)))
                        continue;
                if (!m->dim_values[i]) {
                        if (all_or_none)
                                return 0;
                        continue;
                }
                dims[n++] = (MetricDim) { metrics_dimension_name(i), m->dim_values[i] };
        }
        return n;
}

static void publish_next(Metrics *m);

static void flush_end(Metrics *m, int error) {
        AgentCallback cb = m->flush_cb;

        if (!cb)
                return;
        m->flush_cb = NULL;
        m->flush_timer = sd_event_source_disable_unref(m->flush_timer);
        m->flush_defer = sd_event_source_disable_unref(m->flush_defer);
        agent_callback_invoke(cb, m, &(AgentEvent) { .type = METRICS_EVENT_FLUSHED, .error = error,
                                                     .reason = error < 0 ? m->publish_error : NULL },
                              m->flush_userdata);
}

static void flush_check(Metrics *m) {
        if (m->flush_cb && !m->call && m->n_outbox == 0)
                flush_end(m, 0);
}

static int on_flush_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        flush_end(userdata, -ETIMEDOUT);
        return 0;
}

static int on_flush_defer(sd_event_source *s, uint64_t usec, void *userdata) {
        flush_check(userdata);
        return 0;
}

static void on_published(AwsCall *call, const AwsResult *res, void *userdata) {
        Metrics *m = userdata;
        MetricBatch *b = m->call_batch;

        m->call = NULL;
        m->call_batch = NULL;
        m->calls++;
        if (res->error < 0)
                m->failed_calls++;
        if (res->error < 0 && res->error_class != AWS_ERROR_FATAL) {
                /* Kept: the next publish tries again, oldest first. */
                if (!m->publish_error[0]) {
                        char buf[32];
                        log_warning("PutMetricData failed, keeping the data (up to [metrics] buffer = %s): %s",
                                    format_duration(buf, sizeof(buf), m->settings->buffer), strna(res->reason));
                }
                snprintf(m->publish_error, sizeof(m->publish_error), "PutMetricData failed, data buffered: %s",
                         strna(res->reason));
                update_component(m);
                return;
        }
        if (res->error < 0) {
                log_error("PutMetricData refused, %zu data points dropped: %s", m->call_sent, strna(res->reason));
                snprintf(m->publish_error, sizeof(m->publish_error), "PutMetricData refused, data dropped: %s",
                         strna(res->reason));
                m->dropped += m->call_sent;
        } else {
                if (m->publish_error[0])
                        log_info("PutMetricData succeeds again");
                m->publish_error[0] = 0;
                m->published += m->call_sent;
        }
        update_component(m);
        if (b) {
                b->sent += m->call_consumed;
                if (res->error == 0)
                        agent_callback_invoke(m->cb, m,
                                              &(AgentEvent) { .type = METRICS_EVENT_PUBLISHED,
                                                              .usec = b->n > 0 ? b->items[0].timestamp : 0 },
                                              m->userdata);
                if (b->sent >= b->n && m->n_outbox > 0 && m->outbox[0] == b)
                        outbox_pop(m);
        }
        /* A refusal waits for the next tick; a success drains the backlog. */
        if (res->error == 0)
                publish_next(m);
        flush_check(m);
}

static void publish_next(Metrics *m) {
        MetricDim append[METRICS_N_DIMENSIONS], agg[METRICS_N_DIMENSIONS];
        MetricPublishDims dims = { append, 0, agg, 0 };

        dims.n_append = instance_dims(m, m->settings->append_dimensions, append, false);
        dims.n_aggregation = instance_dims(m, m->settings->aggregation_dimensions, agg, true);
        while (!m->call && m->n_outbox > 0) {
                MetricBatch *b = m->outbox[0];
                _cleanup_free_ char *body = NULL;
                size_t len, used, sent;
                int r;

                r = metric_publish_build(m->settings->namespace, &dims, b->items + b->sent, b->n - b->sent,
                                         METRIC_PUBLISH_MAX_ITEMS, METRIC_PUBLISH_MAX_BODY, &body, &len, &used, &sent);
                if (r < 0 || !body) {
                        /* Nothing to send here (aggregated series without their dimension values), or an
                         * item larger than a request, which cannot happen within the name limits. */
                        if (r < 0) {
                                m->dropped++;
                                used = 1;
                        }
                        b->sent += used;
                        if (b->sent >= b->n)
                                outbox_pop(m);
                        continue;
                }
                r = aws_call(m->aws, AWS_SERVICE_MONITORING, AWS_PROTOCOL_QUERY, "PutMetricData", body, on_published,
                             m, &m->call);
                if (r < 0) {
                        snprintf(m->publish_error, sizeof(m->publish_error), "cannot start PutMetricData: %s",
                                 strerror(-r));
                        update_component(m);
                        return;
                }
                m->call_batch = b;
                m->call_consumed = used;
                m->call_sent = sent;
        }
}

static void seal_window(Metrics *m) {
        _cleanup_(metric_batch_freep) MetricBatch *b = NULL, *sb = NULL;
        bool aggregate = m->settings->aggregation_dimensions != 0;
        usec_t start = m->window_start;

        m->window_start = now_usec(CLOCK_REALTIME);
        if (metric_agg_seal(m->agg, start, aggregate, &b) < 0 ||
            (m->statsd_agg && metric_agg_seal(m->statsd_agg, start, aggregate, &sb) < 0)) {
                log_oom();
                return;
        }
        if (b && sb) {
                MetricDatum *x = realloc(b->items, (b->n + sb->n) * sizeof(MetricDatum));
                if (!x) {
                        log_oom();
                        return;
                }
                b->items = x;
                memcpy(b->items + b->n, sb->items, sb->n * sizeof(MetricDatum));
                b->n += sb->n;
                sb->n = 0;
        } else if (!b)
                b = TAKE_PTR(sb);
        if (b && outbox_push(m, b) >= 0)
                TAKE_PTR(b);
}

static int on_publish(sd_event_source *s, uint64_t usec, void *userdata) {
        Metrics *m = userdata;

        seal_window(m);
        publish_next(m);
        (void) sd_event_source_set_time(s, usec + m->settings->publish_interval);
        (void) sd_event_source_set_enabled(s, SD_EVENT_ON);
        return 0;
}

int metrics_flush(Metrics *m, usec_t timeout, AgentCallback cb, void *userdata) {
        int r;

        if (m->flush_cb)
                return -EBUSY;
        m->flush_cb = cb;
        m->flush_userdata = userdata;
        /* What was collected up to now goes out as one more window. */
        if (m->started) {
                seal_window(m);
                publish_next(m);
        }
        r = sd_event_add_time_relative(m->event, &m->flush_timer, CLOCK_MONOTONIC, timeout, USEC_PER_MSEC,
                                       on_flush_timeout, m);
        /* Never from inside this call, even when nothing waits. */
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &m->flush_defer, CLOCK_MONOTONIC, 0, 1, on_flush_defer, m);
        if (r < 0) {
                m->flush_cb = NULL;
                m->flush_timer = sd_event_source_disable_unref(m->flush_timer);
                return r;
        }
        return 0;
}

/* ---- the subsystem ---- */

static int append_json(const Component *c, cJSON *o) {
        Metrics *m = container_of(c, Metrics, component);
        const StatsdCounters *sc = m->statsd ? statsd_counters(m->statsd) : NULL;

        if (!cJSON_AddNumberToObject(o, "series", (double) metric_agg_n_series(m->agg)) ||
            !cJSON_AddNumberToObject(o, "published", (double) m->published) ||
            !cJSON_AddNumberToObject(o, "dropped", (double) (m->dropped + (sc ? sc->dropped : 0))) ||
            !cJSON_AddNumberToObject(o, "buffered_windows", (double) m->n_outbox) ||
            !cJSON_AddNumberToObject(o, "calls", (double) m->calls) ||
            !cJSON_AddNumberToObject(o, "failed_calls", (double) m->failed_calls))
                return -ENOMEM;
        if (sc && (!cJSON_AddNumberToObject(o, "statsd_series", (double) metric_agg_n_series(m->statsd_agg)) ||
                   !cJSON_AddNumberToObject(o, "statsd_packets", (double) sc->packets) ||
                   !cJSON_AddNumberToObject(o, "statsd_lines", (double) sc->lines) ||
                   !cJSON_AddNumberToObject(o, "statsd_bad_lines", (double) sc->bad_lines) ||
                   !cJSON_AddNumberToObject(o, "statsd_dropped", (double) sc->dropped)))
                return -ENOMEM;
        return 0;
}

int metrics_new(sd_event *e, CurlGlue *glue, AwsClient *aws, const MetricsSettings *s, AgentCallback cb,
                void *userdata, Metrics **ret) {
        _cleanup_(metrics_freep) Metrics *m = calloc(1, sizeof(Metrics));
        int r;

        if (!m)
                return -ENOMEM;
        m->event = sd_event_ref(e);
        m->glue = glue;
        m->aws = aws;
        m->settings = s;
        m->cb = cb;
        m->userdata = userdata;
        component_init(&m->component, "metrics", false);
        m->component.append_json = append_json;
        if (!s->enabled)
                component_set(&m->component, COMPONENT_DISABLED, "[metrics] enabled=no");
        else
                component_set(&m->component, COMPONENT_STARTING, "waiting for the end of bootstrap");
        r = metric_agg_new(HOST_MAX_SERIES, &m->agg);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

Metrics *metrics_free(Metrics *m) {
        if (!m)
                return NULL;
        aws_call_cancel(m->call);
        http_request_free(m->nginx.req);
        http_request_free(m->fpm.req);
        for (size_t i = 0; i < m->n_scrapes; i++)
                prom_scrape_free(m->scrapes[i]);
        sd_event_source_disable_unref(m->flush_timer);
        sd_event_source_disable_unref(m->flush_defer);
        free(m->scrapes);
        sd_event_source_disable_unref(m->collect_timer);
        sd_event_source_disable_unref(m->publish_timer);
        statsd_free(m->statsd);
        while (m->n_outbox > 0)
                outbox_pop(m);
        free(m->outbox);
        metric_agg_free(m->statsd_agg);
        metric_agg_free(m->agg);
        host_collector_free(m->collector);
        for (size_t i = 0; i < METRICS_N_DIMENSIONS; i++)
                free(m->dim_values[i]);
        component_done(&m->component);
        sd_event_unref(m->event);
        return mfree(m);
}

int metrics_add_scrape(Metrics *m, const char *name, const char *url, const char *unix_socket) {
        PromScrape **a;
        int r;

        if (!metric_name_valid(name))
                return -EINVAL;
        a = realloc(m->scrapes, (m->n_scrapes + 1) * sizeof(PromScrape *));
        if (!a)
                return -ENOMEM;
        m->scrapes = a;
        r = prom_scrape_new(m->glue, name, url, unix_socket, &m->scrapes[m->n_scrapes]);
        if (r < 0)
                return r;
        m->n_scrapes++;
        return 0;
}

int metrics_set_identity(Metrics *m, const MetricsIdentity *id) {
        const char *v[METRICS_N_DIMENSIONS] = { id->instance_id, id->asg, id->image_id, id->instance_type };

        for (size_t i = 0; i < METRICS_N_DIMENSIONS; i++)
                if (free_and_strdup(&m->dim_values[i], metric_name_valid(v[i]) ? v[i] : NULL) < 0)
                        return -ENOMEM;
        return 0;
}

static int statsd_open(Metrics *m) {
        int r;

        if (!m->settings->statsd_listen)
                return 0;
        if (!m->statsd_agg) {
                r = metric_agg_new(m->settings->statsd_max_metrics, &m->statsd_agg);
                if (r < 0)
                        return r;
        }
        return statsd_new(m->event, m->settings->statsd_listen, m->statsd_agg, &m->statsd);
}

int metrics_start(Metrics *m) {
        int r;

        if (!m || m->started || !m->settings->enabled)
                return 0;
        r = host_collector_new(&m->collector);
        if (r < 0) {
                component_error(&m->component, COMPONENT_FAILED, "cannot open netlink sockets: %s", strerror(-r));
                return r;
        }
        r = statsd_open(m);
        if (r < 0)
                return r;
        m->window_start = now_usec(CLOCK_REALTIME);
        /* The first cycle at once sets the baselines of the counters. */
        r = sd_event_add_time_relative(m->event, &m->collect_timer, CLOCK_MONOTONIC, 0, 10 * USEC_PER_MSEC,
                                       on_collect, m);
        if (r >= 0)
                r = sd_event_add_time_relative(m->event, &m->publish_timer, CLOCK_MONOTONIC,
                                               m->settings->publish_interval, 10 * USEC_PER_MSEC, on_publish, m);
        if (r < 0)
                return log_error_errno(r, "cannot arm the metrics timers: %m");
        m->started = true;
        log_info("collecting metrics every %llu s, publishing every %llu s to namespace %s%s%s",
                 (unsigned long long) (m->settings->interval / USEC_PER_SEC),
                 (unsigned long long) (m->settings->publish_interval / USEC_PER_SEC), m->settings->namespace,
                 m->settings->statsd_listen ? ", StatsD on udp " : "", strempty(m->settings->statsd_listen));
        return 0;
}

void metrics_set_settings(Metrics *m, const MetricsSettings *s) {
        bool restart_statsd = !streq_ptr(s->statsd_listen, m->settings->statsd_listen);

        if (s->enabled != m->settings->enabled)
                log_notice("reload: [metrics] enabled= changes take effect on restart");
        m->settings = s;
        if (!m->started)
                return;
        if (restart_statsd) {
                m->statsd = statsd_free(m->statsd);
                if (statsd_open(m) < 0)
                        log_warning("reload: cannot start the StatsD listener on %s", strna(s->statsd_listen));
        }
        /* The next tick of each timer uses the new intervals. */
        (void) sd_event_source_set_time_relative(m->collect_timer, s->interval);
        (void) sd_event_source_set_time_relative(m->publish_timer, s->publish_interval);
}

int metrics_add_components(Metrics *m, ComponentList *l) {
        int r = component_list_add(l, &m->component);

        if (r >= 0 && m->statsd)
                r = component_list_add(l, statsd_component(m->statsd));
        return r;
}

int metrics_format_prometheus(Metrics *m, char **ret, size_t *ret_len) {
        _cleanup_free_ char *a = NULL, *b = NULL;
        size_t la = 0, lb = 0;
        char *out;
        int r;

        r = metric_agg_format_prometheus(m->agg, &a, &la);
        if (r >= 0 && m->statsd_agg)
                r = metric_agg_format_prometheus(m->statsd_agg, &b, &lb);
        if (r < 0)
                return r;
        out = malloc(la + lb + 1);
        if (!out)
                return -ENOMEM;
        memcpy(out, a, la);
        if (lb)
                memcpy(out + la, b, lb);
        out[la + lb] = 0;
        *ret = out;
        *ret_len = la + lb;
        return 0;
}

int metrics_observe(Metrics *m, const char *name, MetricUnit unit, double value) {
        if (!m || !m->started)
                return 0;
        return metric_agg_add(m->agg, name, unit, METRIC_GAUGE, NULL, 0, value);
}
