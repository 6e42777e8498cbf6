/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A plugin's metrics= URL, scraped every collection interval: Prometheus
 * text (metric-prom.h) turned into series of the host's metrics, published
 * with them. Each sample carries the dimension plugin=NAME and its
 * Prometheus labels as dimensions. Gauges (and untyped samples) are levels;
 * counters become the amount since the previous scrape (a counter that went
 * down restarted: its whole value counts), as CloudWatch sums per window.
 * The first scrape of a counter only sets its base. One request at a time:
 * a slow plugin skips cycles, it never piles them up.
 */

#include "curl-glue.h"
#include "metric-aggregate.h"

#define SCRAPE_MAX_SERIES 512
#define SCRAPE_MAX_RESPONSE (1U << 20)

typedef struct PromScrape PromScrape;

/* unix_socket: where to connect (the URL still gives the path), or NULL. */
int prom_scrape_new(CurlGlue *glue, const char *name, const char *url, const char *unix_socket, PromScrape **ret);
PromScrape *prom_scrape_free(PromScrape *s);
/* Starts a request unless one is under way; its samples go to agg. */
void prom_scrape_run(PromScrape *s, MetricAgg *agg, usec_t timeout);
/* What went wrong with the last answer, or NULL. */
const char *prom_scrape_error(const PromScrape *s);
const char *prom_scrape_name(const PromScrape *s);
