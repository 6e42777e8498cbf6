/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "http-request.h"
#include "metric-prom.h"
#include "metrics-scrape.h"

typedef struct CounterBase {
        char *key;              /* name{labels} */
        double value;
} CounterBase;

struct PromScrape {
        CurlGlue *glue;
        char *name, *url, *unix_socket;
        HttpRequest *req;
        MetricAgg *agg;         /* where the answer being awaited goes */
        CounterBase *bases;
        size_t n_bases;
        unsigned bad, dropped;
        bool scraped;           /* a scrape was parsed: series new after it start at 0 */
        char error[256];
};

static char *series_key(const char *name, const PromLabel *labels, size_t n) {
        size_t l = strlen(name) + 3;
        char *k, *p;

        for (size_t i = 0; i < n; i++)
                l += strlen(labels[i].name) + strlen(labels[i].value) + 3;
        k = malloc(l);
        if (!k)
                return NULL;
        p = k + sprintf(k, "%s{", name);
        for (size_t i = 0; i < n; i++)
                p += sprintf(p, "%s=%s,", labels[i].name, labels[i].value);
        strcpy(p, "}");
        return k;
}

/* The amount since the previous scrape; -1 on the first scrape, whose
 * values are the baseline (what was counted before agentd looked). A series
 * that first appears later (a label value seen for the first time, as
 * code="401") was created since: all of its value is new. */
static double counter_delta(PromScrape *s, const char *name, const PromLabel *labels, size_t n, double v) {
        _cleanup_free_ char *key = series_key(name, labels, n);
        CounterBase *a;
        double d;

        if (!key)
                return -1;
        for (size_t i = 0; i < s->n_bases; i++)
                if (streq(s->bases[i].key, key)) {
                        d = v >= s->bases[i].value ? v - s->bases[i].value : v;
                        s->bases[i].value = v;
                        return d;
                }
        if (s->n_bases >= SCRAPE_MAX_SERIES) {
                s->dropped++;
                return -1;
        }
        a = realloc(s->bases, (s->n_bases + 1) * sizeof(CounterBase));
        if (!a)
                return -1;
        s->bases = a;
        s->bases[s->n_bases++] = (CounterBase) { TAKE_PTR(key), v };
        return s->scraped ? v : -1;
}

static void on_sample(const char *name, PromType type, const PromLabel *labels, size_t n_labels, double value,
                      void *userdata) {
        PromScrape *s = userdata;
        MetricDim dims[1 + PROM_MAX_LABELS] = { { "plugin", s->name } };
        size_t n = 1;

        for (size_t i = 0; i < n_labels; i++)
                if (metric_name_valid(labels[i].value) && !streq(labels[i].name, "plugin"))
                        dims[n++] = (MetricDim) { labels[i].name, labels[i].value };
        if (type == PROM_COUNTER) {
                double d = counter_delta(s, name, labels, n_labels, value);
                if (d >= 0 && metric_agg_add(s->agg, name, METRIC_UNIT_COUNT, METRIC_DELTA, dims, n, d) == -E2BIG)
                        s->dropped++;
        } else if (metric_agg_add(s->agg, name, METRIC_UNIT_NONE, METRIC_GAUGE, dims, n, value) == -E2BIG)
                s->dropped++;
}

static void on_done(HttpRequest *req, int error, long status, void *userdata) {
        PromScrape *s = userdata;
        size_t len;
        const char *body = http_request_body(req, &len);
        int r;

        if (error < 0 || status != 200)
                snprintf(s->error, sizeof(s->error), "plugin %s metrics %s: %s", s->name, s->url,
                         error < 0 ? strna(http_request_error(req)) : "not HTTP 200");
        else {
                r = prom_parse(body, len, on_sample, s, &s->bad);
                if (r > 0)
                        s->scraped = true;
                if (r == 0 && s->bad > 0)
                        snprintf(s->error, sizeof(s->error), "plugin %s metrics %s: not Prometheus text (%u bad lines)",
                                 s->name, s->url, s->bad);
                else
                        s->error[0] = 0;
        }
        s->req = http_request_free(s->req);
}

void prom_scrape_run(PromScrape *s, MetricAgg *agg, usec_t timeout) {
        if (s->req)     /* still waiting: skip a cycle */
                return;
        s->agg = agg;
        if (http_request_new(s->glue, "GET", s->url, &s->req) < 0)
                return;
        http_request_set_timeouts(s->req, MIN(timeout, USEC_PER_SEC), timeout);
        http_request_set_max_response(s->req, SCRAPE_MAX_RESPONSE);
        if ((s->unix_socket && http_request_set_unix_socket(s->req, s->unix_socket) < 0) ||
            http_request_start(s->req, on_done, s) < 0)
                s->req = http_request_free(s->req);
}

const char *prom_scrape_error(const PromScrape *s) {
        return s->error[0] ? s->error : NULL;
}

const char *prom_scrape_name(const PromScrape *s) {
        return s->name;
}

int prom_scrape_new(CurlGlue *glue, const char *name, const char *url, const char *unix_socket, PromScrape **ret) {
        PromScrape *s = calloc(1, sizeof(*s));

        if (!s)
                return -ENOMEM;
        s->glue = glue;
        s->name = strdup(name);
        s->url = strdup(url);
        s->unix_socket = unix_socket ? strdup(unix_socket) : NULL;
        if (!s->name || !s->url || (unix_socket && !s->unix_socket)) {
                prom_scrape_free(s);
                return -ENOMEM;
        }
        *ret = s;
        return 0;
}

PromScrape *prom_scrape_free(PromScrape *s) {
        if (!s)
                return NULL;
        http_request_free(s->req);
        for (size_t i = 0; i < s->n_bases; i++)
                free(s->bases[i].key);
        free(s->bases);
        free(s->name);
        free(s->url);
        free(s->unix_socket);
        return mfree(s);
}
