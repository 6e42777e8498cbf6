/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "tests.h"

static char dir[] = "/tmp/test-conf-XXXXXX";

static void write_file(const char *name, const char *content) {
        char p[256];
        FILE *f;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        f = fopen(p, "we");
        if (!f) {
                perror(p);
                exit(EXIT_FAILURE);
        }
        fputs(content, f);
        fclose(f);
}

static void remove_file(const char *name) {
        char p[256];
        snprintf(p, sizeof(p), "%s/%s", dir, name);
        unlink(p);
}

/* Loads dir; returns the error text (caller frees) or NULL on success. */
static char *load(Config **ret) {
        Config *c = NULL;
        char *error = NULL;
        int r = config_load(dir, &c, &error);

        if (r >= 0) {
                CHECK(error == NULL);
                if (ret)
                        *ret = c;
                else
                        config_free(c);
                return NULL;
        }
        CHECK(c == NULL);
        return error ? error : strdup("(no message)");
}

static void test_empty_is_valid(void) {
        Config *c = NULL;
        char *e = load(&c);

        CHECK(e == NULL);
        free(e);
        if (!c)
                return;
        CHECK_EQ_INT(c->n_sources, 0);
        CHECK_STREQ(c->control_socket, "/run/agentd/control.sock");
        CHECK_EQ_INT(c->imds.boot_deadline, 240 * USEC_PER_SEC);
        CHECK_EQ_INT(c->aws.max_attempts, 5);
        CHECK(c->imds.enabled);
        CHECK_EQ_INT(c->secrets.n, 0);
        config_free(c);
}

static void test_values_and_dropins(void) {
        Config *c = NULL;
        char *e;

        write_file("agentd.conf",
                   "# comment\n"
                   "[agent]\n"
                   "log_level = debug\n"
                   "bootstrap_timeout = 2m\n"
                   "[aws]\n"
                   "region = eu-west-1\n"
                   "max_attempts = 3\n"
                   "max_response_size = 4MiB\n"
                   "[secret.db]\n"
                   "id = arn:aws:secretsmanager:eu-central-1:123456789012:secret:db-AbCdEf\n"
                   "[render.nginx]\n"
                   "template = nginx-site.conf.in\n"
                   "target = /etc/nginx/sites-enabled/app.conf\n"
                   "mode = 0640\n"
                   "reload = nginx.service\n"
                   "[vars]\n"
                   "listen = 80\n");
        write_file("agentd.conf.d/10-a.conf", "[aws]\nregion = us-east-1\n");
        write_file("agentd.conf.d/20-b.conf", "[aws]\nregion = eu-central-1\n[secret.db]\nrefresh = 10m\n");
        write_file("agentd.conf.d/30-c.conf.disabled", "[bogus]\n");
        e = load(&c);
        CHECK(e == NULL);
        free(e);
        if (!c)
                return;
        CHECK_EQ_INT(c->log_level, 7);
        CHECK_EQ_INT(c->bootstrap_timeout, 2 * USEC_PER_MINUTE);
        CHECK_STREQ(c->aws.region, "eu-central-1");         /* the last drop-in wins */
        CHECK_EQ_INT(c->aws.max_attempts, 3);
        CHECK_EQ_INT(c->aws.max_response_size, 4 << 20);
        CHECK_EQ_INT(c->secrets.n, 1);
        CHECK_STREQ(config_secrets(c)[0]->name, "db");
        CHECK_STREQ(config_secrets(c)[0]->version_stage, "AWSCURRENT");
        CHECK_EQ_INT(config_secrets(c)[0]->refresh, 10 * USEC_PER_MINUTE);
        CHECK_EQ_INT(c->n_sources, 3);
        CHECK_EQ_INT(c->renders.n, 1);
        CHECK_STREQ(config_renders(c)[0]->reload, "nginx.service");
        CHECK_EQ_INT(config_renders(c)[0]->mode, 0640);
        CHECK_EQ_INT(c->vars.n, 1);
        CHECK_STREQ(c->vars.values[0], "80");
        config_free(c);
        remove_file("agentd.conf.d/10-a.conf");
        remove_file("agentd.conf.d/20-b.conf");
        remove_file("agentd.conf.d/30-c.conf.disabled");
}

/* Each bad file must fail with file:line and the key in the message. */
static void expect_error(const char *content, const char *where, const char *what) {
        char *e;

        write_file("agentd.conf", content);
        e = load(NULL);
        CHECK(e != NULL);
        if (e) {
                CHECK_CONTAINS(e, where);
                CHECK_CONTAINS(e, what);
        }
        free(e);
}

static void test_errors(void) {
        char where[300];

        snprintf(where, sizeof(where), "%s/agentd.conf:3", dir);
        expect_error("[agent]\n\nlog_levle = debug\n", where, "unknown key 'log_levle'");
        expect_error("[agent]\n\nlog_level = loud\n", where, "log_level=loud");
        expect_error("[aws]\n\nmax_attempts = 0\n", where, "max_attempts");
        expect_error("[imds]\n\nboot_deadline = soon\n", where, "not a duration");
        expect_error("[aws]\n\nmax_response_size = 10mb\n", where, "not a size");
        expect_error("[aws]\n\nendpoint_url = ftp://x\n", where, "not an http");
        expect_error("[agent]\n\ncontrol_socket = relative.sock\n", where, "absolute path");
        expect_error("[aws]\n\nregion = EU West\n", where, "region");
        snprintf(where, sizeof(where), "%s/agentd.conf:2", dir);
        expect_error("# x\n[nonsense]\nkey = 1\n", where, "unknown section [nonsense]");
        expect_error("# x\n[secret.a/b]\nid = x\n", where, "invalid name");
        expect_error("# x\n[broken\nkey = 1\n", where, "syntax error");
        expect_error("# x\nthis is not ini\n", where, "syntax error");
        {
                char longline[400];
                memset(longline, 'x', sizeof(longline));
                memcpy(longline, "[aws]\nregion = ", 15);
                longline[sizeof(longline) - 2] = '\n';
                longline[sizeof(longline) - 1] = 0;
                expect_error(longline, where, "line longer than");
        }
        snprintf(where, sizeof(where), "%s/agentd.conf:1", dir);
        expect_error("orphan = 1\n", where, "outside of any section");
        snprintf(where, sizeof(where), "%s/agentd.conf:3", dir);
        expect_error("[render.a]\ntemplate = t\nmode = 0666\n", where, "world-writable");
        expect_error("[render.a]\ntemplate = t\nmode = 99\n", where, "octal");
        expect_error("[render.a]\ntemplate = t\nformat = yaml\n", where, "not a template format");
        expect_error("[render.a]\ntemplate = t\nreload = nginx\n", where, "systemd service name");
        expect_error("[render.a]\ntemplate = t\ntarget = relative\n", where, "absolute path");
        expect_error("[vars]\nok = 1\nbad name = 2\n", where, "invalid variable name");
        expect_error("[render.a]\ntemplate = t\n", "[render.a]", "target= is required");
        expect_error("[render.a]\ntemplate = t\ntarget = /x\n[render.b]\ntemplate = u\ntarget = /x\n",
                     "[render.b]", "both write /x");
        /* Cross-key checks name the section. */
        expect_error("[secret.db]\nversion_stage = AWSCURRENT\n", "[secret.db]", "id= is required");

        /* An error in a drop-in names the drop-in. */
        write_file("agentd.conf", "[agent]\nlog_level = info\n");
        write_file("agentd.conf.d/50-bad.conf", "[imds]\nenabled = perhaps\n");
        snprintf(where, sizeof(where), "%s/agentd.conf.d/50-bad.conf:2", dir);
        char *e = load(NULL);
        CHECK(e != NULL);
        if (e) {
                CHECK_CONTAINS(e, where);
                CHECK_CONTAINS(e, "enabled=perhaps");
        }
        free(e);
        remove_file("agentd.conf.d/50-bad.conf");
}

#define CHECK0(c) ((CheckSettings *) (c)->checks.items[0])

static void test_health_and_checks(void) {
        Config *c = NULL;
        char *e, where[300];

        /* No [check.*]: the php-fpm ping through nginx. */
        write_file("agentd.conf", "[agent]\nlog_level = info\n");
        e = load(&c);
        CHECK(e == NULL);
        free(e);
        if (c) {
                CHECK_STREQ(c->health.listen, "127.0.0.1:8081, unix:/run/agentd/health.sock");
                CHECK_EQ_INT(c->checks.n, 1);
                CHECK_STREQ(CHECK0(c)->name, "fpm");
                CHECK_EQ_INT(CHECK0(c)->type, CHECK_HTTP);
                CHECK_STREQ(CHECK0(c)->url, "http://127.0.0.1/fpm-ping");
                CHECK_STREQ(CHECK0(c)->expect_body, "pong");
                CHECK_EQ_INT(CHECK0(c)->interval, 10 * USEC_PER_SEC);
                CHECK_EQ_INT(CHECK0(c)->timeout, 2 * USEC_PER_SEC);
                CHECK(CHECK0(c)->critical);
                CHECK_EQ_INT(CHECK0(c)->rise, 2);
                CHECK_EQ_INT(CHECK0(c)->fall, 3);
        }
        config_free(c);
        c = NULL;

        write_file("agentd.conf", "[health]\nlisten = unix:/tmp/h.sock\ndefault_check = no\nmax_connections = 8\n"
                                  "[check.root]\ntype = disk\npath = /\nmin_free = 5%\nmin_free_inodes = 1000\n"
                                  "critical = no\nrise = 1\nfall = 5\ninterval = 500ms\ntimeout = 200ms\n");
        e = load(&c);
        CHECK(e == NULL);
        free(e);
        if (c) {
                CHECK_EQ_INT(c->checks.n, 1);
                CHECK_EQ_INT(c->health.max_connections, 8);
                CHECK(!CHECK0(c)->critical);
                CHECK(CHECK0(c)->min_free.percent);
                CHECK_EQ_INT(CHECK0(c)->min_free.value, 5);
                CHECK_EQ_INT(CHECK0(c)->min_free_inodes.value, 1000);
                CHECK_EQ_INT(CHECK0(c)->interval, 500 * USEC_PER_MSEC);
        }
        config_free(c);

        snprintf(where, sizeof(where), "%s/agentd.conf:2", dir);
        expect_error("[health]\nlisten = localhost:8081\n", where, "numeric host");
        expect_error("[health]\nmax_connections = 0\n", where, "from 1 to 1000");
        expect_error("[check.x]\ntype = ping\n", where, "not a check type");
        expect_error("[check.x]\nrise = 0\n", where, "from 1 to 100");
        expect_error("[check.x]\nexpect_status = 42\n", where, "HTTP status");
        expect_error("[check.x]\nmin_free = 120%\n", where, "percentage");
        expect_error("[check.x]\nurll = http://x\n", where, "unknown key 'urll'");
        expect_error("[check.x]\npath = relative\n", where, "absolute path");
        expect_error("[check.x]\ninterval = 1ms\n", where, "from 100ms to 1d");
        expect_error("[check.x]\ncritical = no\n", "[check.x]", "type= is required");
        expect_error("[check.x]\ntype = tcp\n", "[check.x]", "needs target=");
        expect_error("[check.x]\ntype = tcp\ntarget = nope\n", "[check.x]", "not HOST:PORT");
        expect_error("[check.x]\ntype = http\n", "[check.x]", "needs url=");
        expect_error("[check.x]\ntype = mysql\nhost = 127.0.0.1\n", "[check.x]", "needs secret=NAME");
        expect_error("[check.x]\ntype = disk\npath = /\n", "[check.x]", "min_free=");
        expect_error("[check.x]\ntype = mysql\nsecret = db\n", "[check.x]", "names no [secret.NAME]");
        expect_error("[check.x]\ntype = memory\n", "[check.x]", "min_available=");
        expect_error("[check.x]\ntype = unit\n", "[check.x]", "needs unit=");
        expect_error("[check.x]\ntype = exec\n", "[check.x]", "needs command=");
        expect_error("[check.x]\ntype = exec\ncommand = true\ninterval = 1s\ntimeout = 1s\n", "[check.x]",
                     "shorter than interval");
}

static void test_single_file_and_missing(void) {
        Config *c = NULL;
        char *error = NULL, p[256];

        write_file("other.conf", "[aws]\nregion = ap-south-1\n");
        snprintf(p, sizeof(p), "%s/other.conf", dir);
        CHECK_EQ_INT(config_load(p, &c, &error), 0);
        if (c)
                CHECK_STREQ(c->aws.region, "ap-south-1");
        config_free(c);
        c = NULL;
        CHECK(config_load("/nonexistent/agentd", &c, &error) < 0);
        CHECK_CONTAINS(error, "/nonexistent/agentd");
        free(error);
}

/* issue 16 #6: what inih would mangle or a reader would block on. */
static void test_hostile_files(void) {
        char p[300], *e;
        FILE *f;

        /* A NUL byte: the line is refused, its tail never parsed as a line. */
        snprintf(p, sizeof(p), "%s/agentd.conf", dir);
        f = fopen(p, "we");
        CHECK(f != NULL);
        if (!f)
                return;
        static const char nul_line[] = "[aws]\nregion = eu-west-1\0[evil]\nx = 1\n";
        fwrite(nul_line, 1, sizeof(nul_line) - 1, f);
        fclose(f);
        e = load(NULL);
        CHECK_CONTAINS(e, "agentd.conf:2: line holds a NUL byte");
        CHECK(e && !strstr(e, "evil"));
        free(e);
        remove_file("agentd.conf");

        /* A FIFO as a drop-in: refused at once (opening it would block
         * until a writer came). alarm(): a blocked test fails, not hangs. */
        snprintf(p, sizeof(p), "%s/agentd.conf.d/50-fifo.conf", dir);
        CHECK(mkfifo(p, 0600) == 0);
        alarm(20);
        e = load(NULL);
        alarm(0);
        CHECK_CONTAINS(e, "50-fifo.conf: not a regular file");
        free(e);
        unlink(p);
}

static void cleanup(void) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        (void) !system(cmd);
}

TEST_MAIN(
        char d[300];
        if (!mkdtemp(dir))
                return EXIT_FAILURE;
        snprintf(d, sizeof(d), "%s/agentd.conf.d", dir);
        mkdir(d, 0755);
        test_empty_is_valid();
        test_values_and_dropins();
        test_errors();
        test_single_file_and_missing();
        test_health_and_checks();
        test_hostile_files();
        cleanup();
)
