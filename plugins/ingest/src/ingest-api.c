/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <mysql.h>
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "api.h"

/*
 * ingest-api: the ingestion API daemon (steps 1-3 of the ingestion flow:
 * receive, validate and preprocess, create the job). Type=notify: READY=1
 * once the socket listens (the database may still be down: it answers 503
 * until the schema is in place), WATCHDOG=1 from sd-event, SIGHUP re-reads
 * the credentials file, SIGTERM drains: 503 to new requests, in-flight
 * ones finish, then exit; drain_timeout bounds it.
 */

typedef struct Main {
        sd_event *event;
        IngestConfig *config;
        Api *api;
        sd_event_source *drain_timer;
        bool draining;
} Main;

static void on_drained(void *userdata) {
        Main *m = userdata;

        log_info("drained: no request in flight");
        (void) sd_event_exit(m->event, 0);
}

static int on_drain_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Main *m = userdata;

        log_warning("drain_timeout passed with requests still in flight; exiting");
        (void) sd_event_exit(m->event, 0);
        return 0;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Main *m = userdata;

        if (m->draining)
                return 0;
        m->draining = true;
        log_info("SIGTERM: draining (new requests get 503)");
        (void) sd_notify(0, "STOPPING=1\nSTATUS=draining");
        (void) sd_event_add_time_relative(m->event, &m->drain_timer, CLOCK_MONOTONIC, m->config->drain_timeout, 0,
                                          on_drain_timeout, m);
        api_drain(m->api, on_drained, m);
        return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Main *m = userdata;
        Credentials *c;

        (void) sd_notify(0, "RELOADING=1");
        if (credentials_load(m->config->credentials, true, &c) < 0)
                log_error("SIGHUP: keeping the previous credentials");
        else {
                api_set_credentials(m->api, c);
                log_info("SIGHUP: credentials re-read from %s", m->config->credentials);
        }
        (void) sd_notify(0, "READY=1");
        return 0;
}

static int run(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, 't' },
                {},
        };
        const char *path = "/etc/agentd/ingest.conf";
        Main m = {};
        Credentials *creds = NULL;
        bool check = false;
        int r, o;

        while ((o = getopt_long(argc, argv, "c:t", opts, NULL)) >= 0)
                switch (o) {
                case 'c':
                        path = optarg;
                        break;
                case 't':
                        check = true;
                        break;
                default:
                        return -EINVAL;
                }
        r = config_load(path, &m.config);
        if (r < 0)
                return r;
        r = credentials_load(m.config->credentials, true, &creds);
        if (r < 0 || check) {
                if (r >= 0)
                        printf("%s: ok, %zu dataset(s), %zu API key(s)\n", path, m.config->n_datasets, creds->n_keys);
                credentials_free(creds);
                config_free(m.config);
                return r;
        }
        if (mysql_library_init(0, NULL, NULL) != 0) {
                credentials_free(creds);
                config_free(m.config);
                return log_error_errno(EIO, "cannot initialise libmariadb");
        }
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        sigaddset(&ss, SIGHUP);
        sigprocmask(SIG_BLOCK, &ss, NULL);      /* before the DB threads start: they inherit it */
        signal(SIGPIPE, SIG_IGN);
        r = sd_event_default(&m.event);
        if (r >= 0)
                r = api_new(m.event, m.config, creds, &m.api);
        else
                credentials_free(creds);
        if (r >= 0) {
                (void) sd_event_add_signal(m.event, NULL, SIGTERM, on_term, &m);
                (void) sd_event_add_signal(m.event, NULL, SIGINT, on_term, &m);
                (void) sd_event_add_signal(m.event, NULL, SIGHUP, on_hup, &m);
                (void) sd_event_set_watchdog(m.event, true);
                log_info("listening on %s, %zu dataset(s)", m.config->listen, m.config->n_datasets);
                (void) sd_notify(0, "READY=1\nSTATUS=listening; waiting for the database schema");
                r = sd_event_loop(m.event);
        } else
                log_error_errno(r, "cannot start: %m");
        api_free(m.api);
        sd_event_source_disable_unref(m.drain_timer);
        sd_event_unref(m.event);
        config_free(m.config);
        mysql_library_end();
        return r;
}

int main(int argc, char **argv) {
        log_setup("ingest-api");
        return run(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
