/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stddef.h>
#include <unistd.h>

#include "render-settings.h"
#include "template.h"
#include "tests.h"

typedef struct Root {
        ConfList renders;
} Root;

static const ConfSectionRef refs[] = {
        { &render_conf_section, offsetof(Root, renders) },
};
static const ConfTable table = { refs, ELEMENTSOF(refs) };

/* Parses text as one file into root; returns the error message, if any. */
static int parse(const char *text, Root *root, char **ret_error) {
        char path[] = "/tmp/test-render-settings-XXXXXX";
        int fd = mkstemp(path), r;

        CHECK(fd >= 0);
        CHECK(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        close(fd);
        *ret_error = NULL;
        r = conf_parse_file(&table, root, path, ret_error);
        unlink(path);
        return r;
}

static void expect_parse_error(const char *text, const char *expect) {
        Root root = {};
        char *error = NULL;

        CHECK(parse(text, &root, &error) < 0);
        CHECK_CONTAINS(error, expect);
        free(error);
        conf_list_free(&root.renders, &render_conf_section);
}

static void expect_verify_error(const char *text, const char *expect) {
        Root root = {};
        char *error = NULL;

        CHECK_EQ_INT(parse(text, &root, &error), 0);
        free(error);
        error = NULL;
        CHECK_EQ_INT(render_settings_verify((RenderSettings *const *) root.renders.items, root.renders.n, &error),
                     -EINVAL);
        CHECK_CONTAINS(error, expect);
        free(error);
        conf_list_free(&root.renders, &render_conf_section);
}

static void test_parse_and_defaults(void) {
        Root root = {};
        char *error = NULL, *p;
        RenderSettings *a, *b;

        CHECK_EQ_INT(parse("[render.nginx]\n"
                           "template = nginx-site.conf.in\n"
                           "target = /etc/nginx/sites-enabled/app.conf\n"
                           "format = nginx\n"
                           "mode = 0640\n"
                           "owner = www-data\n"
                           "group = adm\n"
                           "validate = nginx -t -q -c {}\n"
                           "reload = nginx.service\n"
                           "reload_command = nginx -s reload\n"
                           "[render.env]\n"
                           "template = /srv/app.env.in\n"
                           "target = /srv/app/.env\n", &root, &error), 0);
        CHECK(error == NULL);
        CHECK_EQ_INT(root.renders.n, 2);
        a = conf_list_find(&root.renders, &render_conf_section, "nginx");
        b = conf_list_find(&root.renders, &render_conf_section, "env");
        CHECK(a && b);
        if (!a || !b)
                return;
        CHECK_STREQ(a->template_path, "nginx-site.conf.in");
        CHECK_STREQ(a->target, "/etc/nginx/sites-enabled/app.conf");
        CHECK_EQ_INT(a->format, TEMPLATE_FORMAT_NGINX);
        CHECK_EQ_INT(a->mode, 0640);
        CHECK_STREQ(a->owner, "www-data");
        CHECK_STREQ(a->group, "adm");
        CHECK_STREQ(a->validate, "nginx -t -q -c {}");
        CHECK_STREQ(a->reload, "nginx.service");
        CHECK_STREQ(a->reload_command, "nginx -s reload");
        /* Unset: guessed format, mode from what the template uses. */
        CHECK_EQ_INT(b->format, -1);
        CHECK_EQ_INT(b->mode, -1);
        CHECK(b->owner == NULL && b->validate == NULL && b->reload == NULL);
        CHECK_EQ_INT(render_settings_verify((RenderSettings *const *) root.renders.items, root.renders.n, &error), 0);

        CHECK_STREQ(p = render_settings_template_path(a), AGENTD_TEMPLATE_DIR "/nginx-site.conf.in");
        free(p);
        CHECK_STREQ(p = render_settings_template_path(b), "/srv/app.env.in");
        free(p);
        conf_list_free(&root.renders, &render_conf_section);
}

static void test_values_refused(void) {
        expect_parse_error("[render.a]\nmode = 0666\n", "world-writable");
        expect_parse_error("[render.a]\nmode = 04644\n", "setuid, setgid and sticky bits are refused");
        expect_parse_error("[render.a]\nmode = 02640\n", "setuid, setgid and sticky bits are refused");
        expect_parse_error("[render.a]\nmode = 01644\n", "setuid, setgid and sticky bits are refused");
        expect_parse_error("[render.a]\nmode = 99\n", "octal");
        expect_parse_error("[render.a]\nmode = 017777\n", "octal");
        expect_parse_error("[render.a]\nformat = yaml\n", "not a template format");
        expect_parse_error("[render.a]\nreload = nginx\n", "systemd service name");
        expect_parse_error("[render.a]\ntarget = relative\n", "absolute path");
        expect_parse_error("[render.a]\nowner = a b\n", "not a user or group name");
        expect_parse_error("[render.a]\nnosuchkey = 1\n", "unknown key 'nosuchkey'");
        expect_parse_error("[render.a/b]\ntarget = /x\n", "invalid name");

        /* At most RENDER_MAX sections. */
        char *text = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&text, &n);
        for (int i = 0; i <= RENDER_MAX; i++)
                fprintf(f, "[render.t%d]\ntarget = /x/%d\n", i, i);
        fclose(f);
        expect_parse_error(text, "more than 64 [render.*] sections");
        free(text);
}

static void test_verify(void) {
        expect_verify_error("[render.a]\ntarget = /x\n", "[render.a]: template= is required");
        expect_verify_error("[render.a]\ntemplate = t\n", "[render.a]: target= is required");
        expect_verify_error("[render.a]\ntemplate = t\ntarget = /x\n[render.b]\ntemplate = u\ntarget = /x\n",
                            "[render.a] and [render.b] both write /x");
        expect_verify_error("[render.a]\ntemplate = t\ntarget = /etc/nginx/\n", "names a directory");
}

/* issue 16 #6: a FIFO as template: --check-config says so at once (a
 * blocking open would hang it; alarm() makes a hang fail the test). */
static void test_check_config_fifo_template(void) {
        char dir[] = "/tmp/test-render-settings-XXXXXX", fifo[64];
        RenderSettings s, *list[] = { &s };

        CHECK(mkdtemp(dir) != NULL);
        snprintf(fifo, sizeof(fifo), "%s/t.conf.in", dir);
        CHECK(mkfifo(fifo, 0600) == 0);
        render_settings_init(&s);
        s.name = strdup("fifo");
        s.template_path = strdup(fifo);
        s.target = strdup("/nonexistent/out.conf");
        alarm(20);
        CHECK_EQ_INT(render_check_config(list, 1), -EBADFD);
        alarm(0);
        render_settings_done(&s);
        free(s.name);
        unlink(fifo);
        rmdir(dir);
}

TEST_MAIN(test_parse_and_defaults(); test_values_refused(); test_verify(); test_check_config_fifo_template();)
