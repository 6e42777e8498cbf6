/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <mysql.h>
#include <signal.h>

#include "worker.h"

/*
 * ingest-worker --instance N: one job worker. The systemd template unit
 * agentd-ingest-worker@N.service runs N of them (agentd's [plugin.ingest]
 * instances=). Type=notify: READY=1 at once (a database that is down is
 * waited for, with STATUS=), WATCHDOG=1 between batches and while idle.
 */

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "instance", required_argument, NULL, 'i' },
                {},
        };
        const char *path = "/etc/agentd/ingest.conf";
        IngestConfig *c = NULL;
        Worker *w = NULL;
        uint64_t slot = 0;
        int r, o;

        log_setup("ingest-worker");
        while ((o = getopt_long(argc, argv, "c:i:", opts, NULL)) >= 0)
                switch (o) {
                case 'c':
                        path = optarg;
                        break;
                case 'i':
                        if (parse_uint(optarg, 100000, &slot) < 0) {
                                log_error("--instance=%s: a number expected", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                default:
                        return EXIT_FAILURE;
                }
        signal(SIGPIPE, SIG_IGN);
        r = config_load(path, &c);
        if (r < 0)
                return EXIT_FAILURE;
        if (mysql_library_init(0, NULL, NULL) != 0) {
                config_free(c);
                return EXIT_FAILURE;
        }
        r = worker_new(c, path, (unsigned) slot, &w);
        if (r >= 0)
                r = worker_run(w);
        worker_free(w);
        config_free(c);
        mysql_library_end();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
