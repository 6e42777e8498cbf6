/* SPDX-License-Identifier: MIT */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <curl/curl.h>

#include "config.h"
#include "log.h"
#include "manager.h"
#include "process.h"
#include "render.h"

static void help(void) {
        printf("agentd %s: the instance agent of the PHP data platform\n\n"
               "  -c, --config DIR|FILE  configuration (default %s: agentd.conf and agentd.conf.d/*.conf)\n"
               "      --check-config     validate the configuration and exit 0 (valid) or 1\n"
               "  -l, --log-level LEVEL  debug, info, notice, warning, error\n"
               "  -h, --help             this help\n"
               "      --version          print the version\n", AGENTD_VERSION, AGENTD_CONF_DIR);
}

static int run(int argc, char *argv[]) {
        enum { ARG_CHECK = 0x100, ARG_VERSION };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, ARG_CHECK },
                { "log-level", required_argument, NULL, 'l' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                {}
        };
        _cleanup_(manager_freep) Manager *m = NULL;
        _cleanup_(config_freep) Config *config = NULL;
        _cleanup_free_ char *error = NULL;
        const char *config_path = NULL;
        bool check = false;
        int c, level = -1, r;

        while ((c = getopt_long(argc, argv, "c:l:h", options, NULL)) >= 0)
                switch (c) {
                case 'c':
                        config_path = optarg;
                        break;
                case ARG_CHECK:
                        check = true;
                        break;
                case 'l':
                        level = log_level_from_string(optarg);
                        if (level < 0) {
                                fprintf(stderr, "agentd: --log-level: unknown level '%s'\n", optarg);
                                return EXIT_FAILURE;
                        }
                        break;
                case 'h':
                        help();
                        return EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("agentd %s\n", AGENTD_VERSION);
                        return EXIT_SUCCESS;
                default:
                        return EXIT_FAILURE;
                }
        if (optind < argc) {
                fprintf(stderr, "agentd: unexpected argument '%s'\n", argv[optind]);
                return EXIT_FAILURE;
        }
        if (level >= 0)
                log_set_max_level(level);

        r = config_load(config_path, &config, &error);
        if (r < 0) {
                log_error("invalid configuration: %s", error ?: strerror(-r));
                return EXIT_FAILURE;
        }
        if (check) {
                if (render_check_config(config_renders(config), config->renders.n) < 0)
                        return EXIT_FAILURE;
                printf("configuration OK (%zu file(s)", config->n_sources);
                for (size_t i = 0; i < config->n_sources; i++)
                        printf("%s%s", i == 0 ? ": " : ", ", config->sources[i]);
                printf(")\n");
                return EXIT_SUCCESS;
        }
        if (level < 0 && config->log_level >= 0)
                log_set_max_level(config->log_level);

        /* Before any thread exists (libcurl's resolver threads inherit it):
         * sd-event child sources need SIGCHLD blocked everywhere. */
        process_block_sigchld();
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                log_error("cannot initialise libcurl");
                return EXIT_FAILURE;
        }
        r = manager_new(config_path, TAKE_PTR(config), &m);
        if (r >= 0) {
                m->log_level_from_cmdline = level >= 0;
                r = manager_start(m);
        }
        if (r >= 0)
                r = manager_run(m);
        m = manager_free(m);
        curl_global_cleanup();
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}

int main(int argc, char *argv[]) {
        /* Log batches and HTTP bodies are buffers of about 1 MiB, made and
         * freed all day. A fixed threshold keeps them in mmap()ed chunks
         * given back on free; glibc's sliding one would move them into the
         * heap after the first free, where they stay as resident memory. */
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        return run(argc, argv);
}
