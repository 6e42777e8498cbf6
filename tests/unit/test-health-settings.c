/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "health-settings.h"
#include "tests.h"

/* [health] and [check.NAME] alone, through the config engine. */
typedef struct Root {
        HealthSettings health;
        ConfList checks;
} Root;

static const ConfSectionRef refs[] = {
        { &health_conf_section, offsetof(Root, health) },
        { &check_conf_section, offsetof(Root, checks) },
};
static const ConfTable table = { refs, ELEMENTSOF(refs) };

static bool secret_db_exists(const char *name, void *userdata) {
        (*(unsigned *) userdata)++;
        return streq(name, "db");
}

/* Parses text and verifies it; returns the error (caller frees) or NULL. */
static char *load(const char *text, Root *root) {
        char path[] = "/tmp/test-health-settings-XXXXXX";
        char *error = NULL;
        unsigned asked = 0;
        int fd = mkstemp(path), r;
        FILE *f = fdopen(fd, "w");

        fputs(text, f);
        fclose(f);
        *root = (Root) {};
        CHECK_EQ_INT(health_settings_init(&root->health), 0);
        r = conf_parse_file(&table, root, path, &error);
        unlink(path);
        if (r >= 0)
                r = health_settings_verify(&root->health, &root->checks, secret_db_exists, &asked, &error);
        CHECK((r < 0) == (error != NULL));
        return error;
}

static void done(Root *root) {
        health_settings_done(&root->health);
        conf_list_free(&root->checks, &check_conf_section);
}

static CheckSettings *item(Root *root, size_t i) {
        return root->checks.items[i];
}

static void expect_error(const char *text, const char *what) {
        Root root;
        char *e = load(text, &root);

        CHECK_CONTAINS(e, what);
        free(e);
        done(&root);
}

static void test_defaults(void) {
        Root root;
        char *e = load("", &root);

        CHECK(e == NULL);
        CHECK_STREQ(root.health.listen, HEALTH_DEFAULT_LISTEN);
        CHECK_EQ_INT(root.health.max_connections, 128);
        CHECK_EQ_INT(root.health.timeout, 10 * USEC_PER_SEC);
        /* No [check.*]: the php-fpm ping through nginx. */
        CHECK_EQ_INT(root.checks.n, 1);
        CHECK_STREQ(item(&root, 0)->name, "fpm");
        CHECK_EQ_INT(item(&root, 0)->type, CHECK_HTTP);
        CHECK_STREQ(item(&root, 0)->url, "http://127.0.0.1/fpm-ping");
        CHECK_STREQ(item(&root, 0)->expect_body, "pong");
        CHECK_EQ_INT(item(&root, 0)->expect_status, 200);
        CHECK_EQ_INT(item(&root, 0)->interval, 10 * USEC_PER_SEC);
        CHECK_EQ_INT(item(&root, 0)->timeout, 2 * USEC_PER_SEC);
        CHECK(item(&root, 0)->critical);
        CHECK_EQ_INT(item(&root, 0)->rise, 2);
        CHECK_EQ_INT(item(&root, 0)->fall, 3);
        done(&root);

        e = load("[health]\ndefault_check = no\n", &root);
        CHECK(e == NULL);
        CHECK_EQ_INT(root.checks.n, 0);
        done(&root);
}

static void test_values(void) {
        Root root;
        char *e = load("[health]\nlisten = unix:/tmp/h.sock, [::1]:9\nmax_connections = 8\ntimeout = 3s\n"
                       "[check.root]\ntype = disk\npath = /\nmin_free = 5%\nmin_free_inodes = 1000\n"
                       "critical = no\ninterval = 500ms\ntimeout = 100ms\n"
                       "[check.db]\ntype = mysql\nsecret = db\nrise = 5\nfall = 1\n"
                       "[check.web]\ntype = tcp\ntarget = [::1]:80\n", &root);

        CHECK(e == NULL);
        free(e);
        CHECK_STREQ(root.health.listen, "unix:/tmp/h.sock, [::1]:9");
        CHECK_EQ_INT(root.health.max_connections, 8);
        CHECK_EQ_INT(root.health.timeout, 3 * USEC_PER_SEC);
        /* Configured checks: no default one. */
        CHECK_EQ_INT(root.checks.n, 3);
        CHECK_STREQ(item(&root, 0)->name, "root");
        CHECK(!item(&root, 0)->critical);
        CHECK(item(&root, 0)->min_free.percent);
        CHECK_EQ_INT(item(&root, 0)->min_free.value, 5);
        CHECK(!item(&root, 0)->min_free_inodes.percent);
        CHECK_EQ_INT(item(&root, 0)->min_free_inodes.value, 1000);
        CHECK_EQ_INT(item(&root, 0)->interval, 500 * USEC_PER_MSEC);
        CHECK_EQ_INT(item(&root, 1)->type, CHECK_MYSQL);
        CHECK_EQ_INT(item(&root, 1)->rise, 5);
        CHECK_EQ_INT(item(&root, 1)->fall, 1);
        CHECK_STREQ(item(&root, 2)->target, "[::1]:80");
        done(&root);
}

static void test_errors(void) {
        /* Values: named with file:line by the engine. */
        expect_error("[health]\nlisten = localhost:8081\n", "numeric host");
        expect_error("[health]\nlisten = 1.1.1.1:1,1.1.1.1:2,1.1.1.1:3,1.1.1.1:4,1.1.1.1:5,1.1.1.1:6,"
                     "1.1.1.1:7,1.1.1.1:8,1.1.1.1:9\n", "up to 8 addresses");
        expect_error("[health]\nmax_connections = 0\n", "from 1 to 1000");
        expect_error("[health]\nmax_connections = 1001\n", "from 1 to 1000");
        expect_error("[health]\nport = 1\n", "unknown key 'port'");
        expect_error("[check.x]\ntype = ping\n", "not a check type");
        expect_error("[check.x]\nrise = 0\n", "from 1 to 100");
        expect_error("[check.x]\nfall = 101\n", "from 1 to 100");
        expect_error("[check.x]\nexpect_status = 42\n", "HTTP status");
        expect_error("[check.x]\nmin_free = 120%\n", "percentage");
        expect_error("[check.x]\nmin_available = lots\n", "percentage");
        expect_error("[check.x]\nurll = http://x\n", "unknown key 'urll'");
        expect_error("[check.x]\npath = relative\n", "absolute path");
        expect_error("[check.x]\ninterval = 1ms\n", "from 100ms to 1d");
        expect_error("[check.x]\ntimeout = 2d\n", "from 100ms to 1d");
        expect_error("[check.bad/name]\ntype = disk\n", "invalid name");

        /* Across keys: named by section. */
        expect_error("[check.x]\ncritical = no\n", "[check.x]: type= is required");
        expect_error("[check.x]\ntype = tcp\n", "[check.x]: type=tcp needs target=");
        expect_error("[check.x]\ntype = tcp\ntarget = nope\n", "[check.x]: target= is not HOST:PORT");
        expect_error("[check.x]\ntype = tcp\ntarget = ::1:80\n", "target= is not HOST:PORT");
        expect_error("[check.x]\ntype = http\n", "needs url=");
        expect_error("[check.x]\ntype = mysql\nhost = 127.0.0.1\n", "needs secret=NAME");
        expect_error("[check.x]\ntype = disk\npath = /\n", "min_free=");
        expect_error("[check.x]\ntype = memory\n", "needs min_available=");
        expect_error("[check.x]\ntype = unit\n", "needs unit=");
        expect_error("[check.x]\ntype = exec\n", "needs command=");
        expect_error("[check.x]\ntype = exec\ncommand = true\ninterval = 1s\ntimeout = 1s\n", "shorter than interval=");
        expect_error("[check.x]\ntype = mysql\nsecret = other\n", "[check.x]: secret= names no [secret.NAME]");

        /* No way to see secrets: none exists. */
        Root root;
        char *e = NULL;
        CHECK_EQ_INT(health_settings_init(&root.health), 0);
        root.checks = (ConfList) {};
        CHECK_EQ_INT(health_settings_verify(&root.health, &root.checks, NULL, NULL, &e), 0);
        ((CheckSettings *) root.checks.items[0])->secret = strdup("db");
        CHECK_EQ_INT(health_settings_verify(&root.health, &root.checks, NULL, NULL, &e), -EINVAL);
        CHECK_STREQ(e, "[check.fpm]: secret= names no [secret.NAME] section");
        free(e);
        done(&root);
}

static void test_thresholds(void) {
        Threshold t;

        CHECK_EQ_INT(threshold_parse("10%", &t), 0);
        CHECK(t.percent && t.set);
        CHECK_EQ_INT(t.value, 10);
        CHECK_EQ_INT(threshold_parse("512MiB", &t), 0);
        CHECK(!t.percent);
        CHECK_EQ_INT(t.value, 512ULL << 20);
        CHECK_EQ_INT(threshold_parse("0%", &t), 0);
        CHECK(threshold_parse("101%", &t) < 0);
        CHECK(threshold_parse("%", &t) < 0);
        CHECK(threshold_parse("lots", &t) < 0);
        CHECK(threshold_parse("", &t) < 0);
        CHECK_STREQ(check_type_to_string(CHECK_MYSQL), "mysql");
        CHECK_STREQ(check_type_to_string(_CHECK_TYPE_INVALID), "invalid");
        CHECK_EQ_INT(check_type_from_string("exec"), CHECK_EXEC);
        CHECK_EQ_INT(check_type_from_string("ping"), _CHECK_TYPE_INVALID);
        CHECK_EQ_INT(check_type_from_string(NULL), _CHECK_TYPE_INVALID);
}

TEST_MAIN(test_defaults(); test_values(); test_errors(); test_thresholds();)
