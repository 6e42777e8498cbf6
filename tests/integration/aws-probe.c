/* SPDX-License-Identifier: MIT */
/*
 * aws-probe: a test driver for the AWS client. It runs agentd's real
 * Manager (bootstrap from IMDS, credentials, signing, retries) and, once
 * ready, makes COUNT calls of one operation, one every INTERVAL, printing
 * one JSON line per finished call:
 *   {"n":1,"ok":true,"status":200,"attempts":1,"code":null,"class":"none","reason":null,"key":"ASIA..."}
 * and a last line "DONE ok=N failed=M". The integration tests read these
 * lines; nothing here is used by agentd itself.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "aws.h"
#include "credentials.h"
#include "log.h"
#include "manager.h"
#include "process.h"
#include "json-util.h"
#include "parse-util.h"

static struct {
        AwsService service;
        AwsProtocol protocol;
        const char *target, *body;
        unsigned count, started, finished, ok;
        usec_t interval;
        sd_event_source *timer;
} probe = { .count = 1 };

static void on_done(AwsCall *call, const AwsResult *res, void *userdata) {
        Manager *m = userdata;
        const AwsCredentials *cr = credentials_current(m->credentials);
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *line = NULL;

        probe.finished++;
        if (res->error == 0)
                probe.ok++;
        cJSON_AddNumberToObject(o, "n", probe.finished);
        cJSON_AddBoolToObject(o, "ok", res->error == 0);
        cJSON_AddNumberToObject(o, "status", res->http_status);
        cJSON_AddNumberToObject(o, "attempts", res->attempts);
        cJSON_AddNumberToObject(o, "errno", -res->error);
        json_add_string_or_null(o, "code", res->aws_error ? res->aws_error->code : NULL);
        cJSON_AddStringToObject(o, "class", aws_error_class_to_string(res->error_class));
        json_add_string_or_null(o, "reason", res->reason);
        json_add_string_or_null(o, "key", cr ? cr->access_key_id : NULL);
        cJSON_AddNumberToObject(o, "body_len", (double) res->body_len);
        line = cJSON_PrintUnformatted(o);
        printf("%s\n", line);
        fflush(stdout);
        if (probe.finished == probe.count) {
                printf("DONE ok=%u failed=%u\n", probe.ok, probe.finished - probe.ok);
                fflush(stdout);
                sd_event_exit(m->event, 0);
        }
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Manager *m = userdata;
        int r = aws_call(m->aws, probe.service, probe.protocol, probe.target, probe.body, on_done, m, NULL);

        if (r < 0) {
                fprintf(stderr, "aws-probe: cannot start call: %s\n", strerror(-r));
                sd_event_exit(m->event, 1);
                return 0;
        }
        if (++probe.started < probe.count) {
                (void) sd_event_source_set_time(s, usec + probe.interval);
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        }
        return 0;
}

static void on_ready(void *source, const AgentEvent *ev, void *userdata) {
        Manager *m = source;

        if (manager_state(m) != MANAGER_RUNNING) {
                printf("BOOTSTRAP FAILED %s\n", strna(m->core.last_error));
                fflush(stdout);
                sd_event_exit(m->event, 1);
                return;
        }
        (void) sd_event_add_time_relative(m->event, &probe.timer, CLOCK_MONOTONIC, 0, 1, on_tick, m);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "service", required_argument, NULL, 's' },
                { "query", no_argument, NULL, 'q' },
                { "target", required_argument, NULL, 't' },
                { "body", required_argument, NULL, 'b' },
                { "count", required_argument, NULL, 'n' },
                { "interval", required_argument, NULL, 'i' },
                {}
        };
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_free_ char *error = NULL;
        const char *config_path = NULL, *service = "secretsmanager";
        Manager *m = NULL;
        int c, r;

        probe.protocol = AWS_PROTOCOL_JSON;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'c': config_path = optarg; break;
                case 's': service = optarg; break;
                case 'q': probe.protocol = AWS_PROTOCOL_QUERY; break;
                case 't': probe.target = optarg; break;
                case 'b': probe.body = optarg; break;
                case 'n': probe.count = (unsigned) atoi(optarg); break;
                case 'i':
                        if (parse_duration(optarg, &probe.interval) < 0)
                                return 2;
                        break;
                default: return 2;
                }
        for (probe.service = 0; probe.service < _AWS_SERVICE_MAX; probe.service++)
                if (streq(aws_service_to_string(probe.service), service))
                        break;
        if (probe.service == _AWS_SERVICE_MAX || !probe.target || !probe.body || probe.count == 0) {
                fprintf(stderr, "usage: aws-probe --config DIR --service S [--query] --target T --body B "
                        "[--count N] [--interval D]\n");
                return 2;
        }
        log_set_max_level(LOG_DEBUG);
        r = config_load(config_path, &config, &error);
        if (r < 0) {
                fprintf(stderr, "aws-probe: %s\n", error ?: strerror(-r));
                return 2;
        }
        process_block_sigchld();
        curl_global_init(CURL_GLOBAL_DEFAULT);
        r = manager_new(config_path, TAKE_PTR(config), &m);
        if (r >= 0)
                m->ready_callback = on_ready;
        if (r >= 0)
                r = manager_start(m);
        if (r >= 0)
                r = sd_event_loop(m->event);
        sd_event_source_disable_unref(probe.timer);
        manager_free(m);
        curl_global_cleanup();
        return r < 0 ? 1 : r;
}
