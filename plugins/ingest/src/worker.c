/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "db.h"
#include "worker.h"

#include "worker-internal.h"

int worker_new(const IngestConfig *c, const char *config_path, unsigned slot, Worker **ret) {
        Worker *w = calloc(1, sizeof(*w));
        sigset_t ss;
        int r;

        if (!w)
                return -ENOMEM;
        w->config = c;
        w->sigfd = -1;
        w->upsert = upsert_new();
        if (!w->upsert) {
                free(w);
                return -ENOMEM;
        }
        r = credentials_load(c->credentials, false, &w->creds);
        if (r < 0) {
                upsert_free(w->upsert);
                free(w);
                return r;
        }
        snprintf(w->counter_key, sizeof(w->counter_key), "%.180s/%u", c->instance_id, slot);
        snprintf(w->owner, sizeof(w->owner), "%.180s/%u/%d", c->instance_id, slot, (int) getpid());
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigprocmask(SIG_BLOCK, &ss, NULL);
        w->sigfd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
        if (w->sigfd < 0) {
                r = -errno;
                worker_free(w);
                return r;
        }
        if (sd_watchdog_enabled(false, &w->watchdog_usec) <= 0)
                w->watchdog_usec = 0;
        *ret = w;
        return 0;
}

Worker *worker_free(Worker *w) {
        if (!w)
                return NULL;
        disconnect(w);
        upsert_free(w->upsert);
        credentials_free(w->creds);
        if (w->sigfd >= 0)
                close(w->sigfd);
        return mfree(w);
}

void ping(Worker *w) {
        usec_t now = now_usec(CLOCK_MONOTONIC);

        if (w->watchdog_usec && now - w->last_ping >= w->watchdog_usec / 4) {
                (void) sd_notify(0, "WATCHDOG=1");
                w->last_ping = now;
        }
}

/* Reads pending signals; with timeout > 0 waits for one that long. */
void check_signals(Worker *w, usec_t timeout) {
        struct pollfd p = { .fd = w->sigfd, .events = POLLIN };
        struct signalfd_siginfo si;

        ping(w);
        if (timeout > 0)
                (void) poll(&p, 1, (int) (timeout / USEC_PER_MSEC));
        while (read(w->sigfd, &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                        Credentials *c;
                        if (credentials_load(w->config->credentials, false, &c) == 0) {
                                credentials_free(w->creds);
                                w->creds = c;
                                log_info("SIGHUP: credentials re-read; reconnecting with them");
                                disconnect(w);
                        } else
                                log_error("SIGHUP: keeping the previous credentials");
                } else if (!w->draining) {
                        w->draining = true;
                        w->drain_deadline = now_usec(CLOCK_MONOTONIC) + w->config->drain_timeout;
                        log_info("%s: draining (the current job finishes or is handed back)", strsignal((int) si.ssi_signo));
                        (void) sd_notify(0, "STOPPING=1\nSTATUS=draining");
                }
        }
}

void disconnect(Worker *w) {
        upsert_reset(w->upsert);        /* its statements die with the connection */
        if (w->m)
                mysql_close(w->m);
        w->m = NULL;
}

/* A statement failed: drop the connection if it is gone. */
int failed(Worker *w, int r) {
        if (r == -ECONNRESET)
                disconnect(w);
        else if (w->m)
                (void) db_exec(w->m, "ROLLBACK");
        return r;
}

usec_t backoff(const IngestConfig *c, uint64_t attempt) {
        usec_t d = c->backoff_base;

        for (uint64_t i = 1; i < attempt && d < c->backoff_max; i++)
                d *= 2;
        d = MIN(d, c->backoff_max);
        /* ±20% jitter: workers that failed together do not retry together. */
        return d - d / 5 + (usec_t) (random() % (long) (d / 5 * 2 + 1));
}

/* errors: the job's JSON array, with this attempt's message appended
 * (only the first ERRORS_KEPT are kept). */
char *errors_append(const char *old, uint64_t attempt, const char *msg) {
        cJSON *a = old ? cJSON_Parse(old) : NULL, *e;
        char *s;

        if (!cJSON_IsArray(a)) {
                cJSON_Delete(a);
                a = cJSON_CreateArray();
        }
        if (a && cJSON_GetArraySize(a) < ERRORS_KEPT && (e = cJSON_CreateObject())) {
                cJSON_AddNumberToObject(e, "attempt", (double) attempt);
                cJSON_AddStringToObject(e, "error", msg);
                cJSON_AddItemToArray(a, e);
        }
        s = a ? cJSON_PrintUnformatted(a) : NULL;
        cJSON_Delete(a);
        return s;
}

static int ensure_connected(Worker *w) {
        int r;

        if (w->m && w->migrated)
                return 0;
        if (!w->m) {
                r = db_connect(w->config, w->creds, &w->m);
                if (r < 0) {
                        if (w->connect_failures++ == 0)
                                (void) sd_notify(0, "STATUS=waiting for the database");
                        return r;
                }
                if (w->connect_failures)
                        log_info("database reachable again");
                w->connect_failures = 0;
                /* Small jobs are held by the row locks of an open claim
                 * transaction (group_claim): should this worker vanish
                 * without its connection closing (an instance terminated
                 * mid-job), the server drops the session, rolling back and
                 * freeing the jobs, within about a lease, as a lease would
                 * expire. The worker itself is never idle that long. */
                r = db_execf(w->m, "SET SESSION wait_timeout = %" PRIu64,
                             (uint64_t) (MAX(w->config->lease, 2 * w->config->poll_interval) + USEC_PER_SEC - 1) / USEC_PER_SEC);
                if (r < 0)
                        return failed(w, r);
        }
        if (!w->migrated) {
                r = db_migrate(w->m, w->config);
                if (r < 0)
                        return failed(w, r);
                w->migrated = true;
                (void) sd_notify(0, "STATUS=processing jobs");
        }
        return 0;
}

int worker_run(Worker *w) {
        srandom((unsigned) (getpid() ^ now_usec(CLOCK_REALTIME)));
        (void) sd_notify(0, "READY=1\nSTATUS=connecting to the database");
        log_info("worker %s started", w->owner);
        while (!w->draining) {
                Group g;
                int r = ensure_connected(w);
                if (r < 0) {
                        check_signals(w, MIN(w->config->backoff_base * (1 + MIN(w->connect_failures, 10u)), 10 * USEC_PER_SEC));
                        continue;
                }
                r = group_claim(w, &g);
                if (r <= 0) {
                        check_signals(w, w->config->poll_interval);
                        continue;
                }
                r = group_process(w, &g);
                if (r < 0)
                        log_warning_errno(r, "jobs %" PRIu64 "...: interrupted (%s); %s", g.jobs[0].id,
                                          r == -ECONNRESET ? "database connection lost" : strerror(-r),
                                          g.in_tx ? "rolled back, they are queued again"
                                                  : "their leases will expire and they will be retried");
                group_done(&g);
                /* Claiming again at once after a short claim would chase
                 * each new job with a transaction of its own: many workers
                 * on a shallow queue then pay the per-claim cost for a job
                 * or two. Waiting as an idle worker would lets a claim fill
                 * and adds no more latency than polling already does. */
                check_signals(w, g.short_claim ? w->config->poll_interval : 0);
        }
        log_info("worker %s stopped", w->owner);
        return 0;
}
