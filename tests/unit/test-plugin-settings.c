/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#include "plugin-settings.h"
#include "tests.h"

typedef struct Root {
        ConfList plugins;
} Root;

static const ConfSectionRef refs[] = {
        { &plugin_conf_section, offsetof(Root, plugins) },
};
static const ConfTable table = { refs, ELEMENTSOF(refs) };

static int parse(const char *text, Root *root, char **ret_error) {
        char path[] = "/tmp/test-plugin-settings-XXXXXX";
        int fd = mkstemp(path), r;

        CHECK(fd >= 0);
        CHECK(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        close(fd);
        *ret_error = NULL;
        r = conf_parse_file(&table, root, path, ret_error);
        unlink(path);
        return r;
}

static PluginSettings *item(Root *root, size_t i) {
        return root->plugins.items[i];
}

static void expect_parse_error(const char *text, const char *expect) {
        Root root = {};
        char *error = NULL;

        CHECK(parse(text, &root, &error) < 0);
        CHECK_CONTAINS(error, expect);
        free(error);
        conf_list_free(&root.plugins, &plugin_conf_section);
}

static void expect_verify_error(const char *text, const char *expect) {
        Root root = {};
        char *error = NULL;

        CHECK_EQ_INT(parse(text, &root, &error), 0);
        free(error);
        error = NULL;
        CHECK_EQ_INT(plugin_settings_verify((PluginSettings *const *) root.plugins.items, root.plugins.n, &error),
                     -EINVAL);
        CHECK_CONTAINS(error, expect);
        free(error);
        conf_list_free(&root.plugins, &plugin_conf_section);
}

static void test_defaults_and_keys(void) {
        Root root = {};
        char *error = NULL, *s = NULL;
        PluginSettings *p;

        CHECK_EQ_INT(parse("[plugin.ingest]\nunit = ingest.service\n"
                           "[plugin.workers]\nunit = worker@.service\ninstances = 3\nexec = /usr/bin/w --n %i --pct %%\n"
                           "health = http://localhost/health\nhealth_socket = /run/w/h.sock\n"
                           "metrics = http://127.0.0.1:9101/metrics\ndrain_timeout = 45s\ncritical = no\n"
                           "start_after = bootstrap\n",
                           &root, &error), 0);
        CHECK(!error);
        CHECK_EQ_INT(root.plugins.n, 2);
        p = item(&root, 0);
        CHECK_STREQ(p->name, "ingest");
        CHECK_EQ_INT(p->drain_timeout, PLUGIN_DEFAULT_DRAIN_TIMEOUT);
        CHECK(p->critical);
        CHECK(!plugin_settings_is_template(p));
        CHECK_EQ_INT(plugin_settings_count(p), 1);
        CHECK_EQ_INT(plugin_settings_unit_name(p, 0, &s), 0);
        CHECK_STREQ(s, "ingest.service");
        free(s);
        CHECK_EQ_INT(plugin_settings_command(p, 0, &s), -ENOENT);

        p = item(&root, 1);
        CHECK(plugin_settings_is_template(p));
        CHECK_EQ_INT(plugin_settings_count(p), 3);
        CHECK_EQ_INT(plugin_settings_unit_name(p, 2, &s), 0);
        CHECK_STREQ(s, "worker@3.service");
        free(s);
        CHECK_EQ_INT(plugin_settings_command(p, 1, &s), 0);
        CHECK_STREQ(s, "/usr/bin/w --n 2 --pct %");
        free(s);
        CHECK_EQ_INT(p->drain_timeout, 45 * USEC_PER_SEC);
        CHECK(!p->critical);
        CHECK_STREQ(p->health_socket, "/run/w/h.sock");
        CHECK_STREQ(p->metrics, "http://127.0.0.1:9101/metrics");
        CHECK_EQ_INT(plugin_settings_verify((PluginSettings *const *) root.plugins.items, root.plugins.n, &error), 0);
        conf_list_free(&root.plugins, &plugin_conf_section);
}

static void test_refused_values(void) {
        expect_parse_error("[plugin.x]\nunit = x.socket\n", "not a systemd service");
        expect_parse_error("[plugin.x]\nunit = x@1.service\n", "not a systemd service");
        expect_parse_error("[plugin.x]\nunit = ../x.service\n", "not a systemd service");
        expect_parse_error("[plugin.x]\nunit = @.service\n", "not a systemd service");
        expect_parse_error("[plugin.x]\ninstances = 0\n", "from 1 to 64");
        expect_parse_error("[plugin.x]\ninstances = 65\n", "from 1 to 64");
        expect_parse_error("[plugin.x]\nstart_after = boot\n", "not a start stage");
        expect_parse_error("[plugin.x]\ndrain_timeout = 90s\n", "from 1s to 80s");
        expect_parse_error("[plugin.x]\ndrain_timeout = 500ms\n", "from 1s to 80s");
        expect_parse_error("[plugin.x]\nhealth = unix:/run/x.sock\n", "not an http");
        expect_parse_error("[plugin.x]\nhealth_socket = run/x.sock\n", "absolute");
        expect_parse_error("[plugin.x]\nrestart = always\n", "restart");
        expect_parse_error("[plugin.bad/name]\nunit = x.service\n", "plugin");
}

static void test_verify(void) {
        expect_verify_error("[plugin.x]\ncritical = no\n", "[plugin.x]: unit= (the systemd service) or exec=");
        expect_verify_error("[plugin.x]\nunit = w@.service\n", "is a template: instances=");
        expect_verify_error("[plugin.x]\nunit = w.service\ninstances = 2\n", "instances= needs a template");
        expect_verify_error("[plugin.x]\nexec = /bin/x\nhealth_socket = /run/x.sock\n", "health_socket= needs health=");
        expect_verify_error("[plugin.a]\nunit = w.service\n[plugin.b]\nunit = w.service\n",
                            "[plugin.a] and [plugin.b] both run w.service");
}

TEST_MAIN(
        test_defaults_and_keys();
        test_refused_values();
        test_verify();
)
