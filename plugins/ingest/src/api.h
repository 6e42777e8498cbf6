/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The ingestion API: HTTP/1.1 on a unix socket (nginx proxies /api/ingest/
 * to it), libmicrohttpd driven by sd-event through MHD's epoll fd.
 *
 *   POST /api/ingest/{dataset}   202 {job_id, location} | 400 401 404 413 415 422 429 503
 *   GET  /api/ingest/jobs/{id}   200 {status, counts, timings, errors} | 401 404 503
 *   GET  /metrics                Prometheus text
 *   GET  /health                 200 ready | 503 draining, DB down, schema not ready
 *
 * Every request is checked from its headers first (draining, auth,
 * dataset, type, size, backpressure); the body is then read into memory
 * (gunzipped as it comes) and the connection suspended while a DB thread
 * validates and stores it; the answer leaves when the thread is done.
 */

#include <systemd/sd-event.h>

#include "credentials.h"
#include "dbpool.h"
#include "metrics.h"

typedef struct Api Api;

/* Takes ownership of creds. */
int api_new(sd_event *e, const IngestConfig *c, Credentials *creds, Api **ret);
Api *api_free(Api *a);
/* SIGHUP: the new credentials replace the old for API keys and the DB. */
void api_set_credentials(Api *a, Credentials *creds);
/* Stop accepting (503), then call done() once nothing is in flight. */
void api_drain(Api *a, void (*done)(void *userdata), void *userdata);
