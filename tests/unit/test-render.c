/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "process.h"
#include "render.h"
#include "json-util.h"
#include "system-vars.h"
#include "tests.h"
#include "time-util.h"

#define S(x) x, strlen(x)

static void test_base64(void) {
        unsigned char out[16];
        CHECK_EQ_INT(base64_decode(S("aGVsbG8="), out), 5);
        CHECK(memcmp(out, "hello", 5) == 0);
        CHECK_EQ_INT(base64_decode(S("aGk="), out), 2);
        CHECK_EQ_INT(base64_decode(S(""), out), 0);
        CHECK_EQ_INT(base64_decode(S("aGk"), out), -EINVAL);
        CHECK_EQ_INT(base64_decode(S("a=Gk"), out), -EINVAL);
        CHECK_EQ_INT(base64_decode(S("aG=k"), out), -EINVAL);
}

static void test_command_expand(void) {
        char *c = render_command_expand("nginx -t -c {} && echo {}", "/etc/x y/.a.conf");
        CHECK_STREQ(c, "nginx -t -c '/etc/x y/.a.conf' && echo '/etc/x y/.a.conf'");
        free(c);
        c = render_command_expand("check {}", "/tmp/it's");
        CHECK_STREQ(c, "check '/tmp/it'\\''s'");
        free(c);
        c = render_command_expand("no placeholder", "/x");
        CHECK_STREQ(c, "no placeholder");
        free(c);
}

static void test_redact(void) {
        char buf[256] = "error near \"hunter2secret\" in line hunter2secret; port 3306";
        render_redact_value(buf, S("hunter2secret"));
        render_redact_value(buf, S("3306"));
        CHECK_STREQ(buf, "error near \"***\" in line ***; port ***");
        /* Values under 4 bytes are not redacted (they would shred the text). */
        char buf2[64] = "a b c";
        render_redact_value(buf2, S("b"));
        CHECK_STREQ(buf2, "a b c");

        /* A validator prints the staged file: the value as each format
         * escapes it must go too. */
        static const char *const forms[] = {
                "Pw-$Z\"x\\y",               /* raw */
                "Pw-\\$Z\\\"x\\\\y",       /* php-fpm, env */
                "Pw-${dollar}Z\\\"x\\\\y",   /* nginx */
                "Pw-$Z\\\"x\\\\y",          /* json */
        };
        for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
                char b[256];
                snprintf(b, sizeof(b), "line 3: \"%s\" unexpected", forms[i]);
                render_redact_value(b, S("Pw-$Z\"x\\y"));
                CHECK_STREQ(b, "line 3: \"***\" unexpected");
        }
        /* Output kept up to a limit can end inside the value. */
        char cut[64] = "pass = \"Pw-\\$Z";
        render_redact_value(cut, S("Pw-$Z\"x\\y"));
        CHECK_STREQ(cut, "pass = \"***");
        char cut3[64] = "ends with Pw-";
        render_redact_value(cut3, S("Pw-$Z\"x\\y"));
        CHECK_STREQ(cut3, "ends with Pw-");         /* 3 bytes: under the minimum */
}

static void test_pm_sizing(void) {
        PmSizing p = render_pm_sizing(4096, 64, 768);          /* t3.medium */
        CHECK_EQ_INT(p.max_children, 52);
        CHECK(p.min_spare_servers <= p.start_servers && p.start_servers <= p.max_spare_servers);
        CHECK(p.max_spare_servers <= p.max_children);
        p = render_pm_sizing(512, 64, 768);                    /* tiny: a quarter of memory */
        CHECK_EQ_INT(p.max_children, 2);
        CHECK(p.min_spare_servers >= 1 && p.max_spare_servers > p.min_spare_servers);
        p = render_pm_sizing(1 << 20, 64, 768);                /* huge: capped */
        CHECK_EQ_INT(p.max_children, 256);
}

/* ------------------------------------------------ the renderer on a loop */

static char dir[] = "/tmp/test-render-XXXXXX";

static char *path_in(const char *name) {
        char *p;
        CHECK(asprintf(&p, "%s/%s", dir, name) > 0);
        return p;
}

static void write_text(const char *path, const char *text) {
        FILE *f = fopen(path, "we");
        CHECK(f != NULL);
        if (!f)
                return;
        fputs(text, f);
        fclose(f);
}

static char *read_text(const char *path) {
        char *buf = NULL;
        size_t n = 0;
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        CHECK(getdelim(&buf, &n, 0, f) >= 0);
        fclose(f);
        return buf;
}

typedef struct Answer {
        int n, type, error;
        char *reason, *name;
} Answer;

static void answer_done(Answer *a) {
        free(a->reason);
        free(a->name);
        *a = (Answer) {};
}

static void on_answer(void *source, const AgentEvent *ev, void *userdata) {
        Answer *a = userdata;
        answer_done(a);
        *a = (Answer) { .n = 1, .type = ev->type, .error = ev->error,
                        .reason = ev->reason ? strdup(ev->reason) : NULL, .name = ev->name ? strdup(ev->name) : NULL };
}

/* Runs the loop until the answer came, or 30 s passed. */
static bool wait_answer(sd_event *e, const Answer *a) {
        usec_t deadline = now_usec(CLOCK_MONOTONIC) + 30 * USEC_PER_SEC;
        while (a->n == 0 && now_usec(CLOCK_MONOTONIC) < deadline)
                if (sd_event_run(e, 100 * USEC_PER_MSEC) < 0)
                        return false;
        return a->n > 0;
}

typedef struct FakeSecrets {
        char **values;
        size_t n;
        size_t used;            /* the one secret.db.password renders */
} FakeSecrets;

static int fake_lookup(void *userdata, const char *name, TemplateValue *ret) {
        FakeSecrets *f = userdata;
        if (!f || !streq(name, "secret.db.password") || f->n == 0)
                return -ENOENT;
        *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = f->values[f->used],
                                 .length = strlen(f->values[f->used]) };
        return 0;
}

static int fake_foreach_secret(void *userdata, RenderRedactAdd add, void *ctx) {
        FakeSecrets *f = userdata;
        for (size_t i = 0; f && i < f->n; i++)
                add(f->values[i], strlen(f->values[i]), ctx);
        return 0;
}

/* One [render.NAME] writing dir/NAME.conf from dir/NAME.in, owned by us. */
static Renderer *one_target(sd_event *e, const char *name, const char *tpl_text, int format, const char *validate,
                            FakeSecrets *secrets, RenderSettings *s) {
        _cleanup_free_ char *state = path_in("state"), *tpl_name = NULL, *target_name = NULL;
        RenderSettings *list[] = { s };
        RenderHooks hooks = { .lookup = fake_lookup, .foreach_secret = fake_foreach_secret, .userdata = secrets };
        Renderer *r = NULL;

        CHECK(asprintf(&tpl_name, "%s.in", name) > 0);
        CHECK(asprintf(&target_name, "%s.conf", name) > 0);
        render_settings_init(s);
        s->name = strdup(name);
        s->template_path = path_in(tpl_name);
        s->target = path_in(target_name);
        s->format = format;
        s->owner = strdup(getpwuid(getuid())->pw_name);
        s->group = strdup(getgrgid(getgid())->gr_name);
        s->validate = validate ? strdup(validate) : NULL;
        write_text(s->template_path, tpl_text);
        CHECK_EQ_INT(renderer_new(e, list, 1, state, &hooks, &r), 0);
        return r;
}

static void settings_free(RenderSettings *s) {
        render_settings_done(s);
        free(s->name);
}

static void test_rollback_answers_from_the_loop(void) {
        sd_event *e = NULL;
        RenderSettings s;
        Answer a = {};
        Renderer *r;
        char *text;

        CHECK(sd_event_new(&e) >= 0);
        r = one_target(e, "out", "version one\n", TEMPLATE_FORMAT_RAW, NULL, NULL, &s);
        CHECK_EQ_INT(renderer_count(r), 1);

        CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
        CHECK_EQ_INT(a.n, 0);                   /* never from inside the call */
        CHECK(wait_answer(e, &a));
        CHECK_EQ_INT(a.type, RENDER_EVENT_DONE);
        CHECK_EQ_INT(a.error, 0);
        CHECK_STREQ(text = read_text(s.target), "version one\n");
        free(text);
        /* Nothing to roll back to yet. */
        CHECK_EQ_INT(renderer_rollback(r, "out", on_answer, &a), -ENODATA);

        answer_done(&a);
        write_text(s.template_path, "version two\n");
        CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
        CHECK(wait_answer(e, &a));
        CHECK_EQ_INT(a.error, 0);
        CHECK_STREQ(text = read_text(s.target), "version two\n");
        free(text);

        /* No reload= here: the rollback is done at once, and still the
         * answer leaves through the loop (control.c frees its client in
         * the answer: a synchronous one was a use-after-free). */
        answer_done(&a);
        CHECK_EQ_INT(renderer_rollback(r, "out", on_answer, &a), 0);
        CHECK_EQ_INT(a.n, 0);
        CHECK(wait_answer(e, &a));
        CHECK_EQ_INT(a.type, RENDER_EVENT_ROLLED_BACK);
        CHECK_EQ_INT(a.error, 0);
        CHECK_STREQ(a.name, "out");
        CHECK_STREQ(text = read_text(s.target), "version one\n");
        free(text);

        answer_done(&a);
        CHECK_EQ_INT(renderer_rollback(r, "nosuch", on_answer, &a), -ENOENT);
        /* A symlink planted at the target: the rollback refuses it. */
        _cleanup_free_ char *victim = path_in("victim");
        write_text(victim, "victim\n");
        CHECK(unlink(s.target) == 0 && symlink(victim, s.target) == 0);
        CHECK_EQ_INT(renderer_rollback(r, "out", on_answer, &a), -ELOOP);
        CHECK_STREQ(text = read_text(victim), "victim\n");
        free(text);
        CHECK(unlink(s.target) == 0);

        /* An answer still queued when the renderer goes: dropped, no call. */
        CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
        renderer_free(r);
        CHECK(sd_event_run(e, 0) >= 0);
        CHECK_EQ_INT(a.n, 0);

        settings_free(&s);
        sd_event_unref(e);
}

static void test_target_not_a_regular_file(void) {
        static const struct { const char *name, *expect; } cases[] = {
                { "link", "is a symbolic link" },
                { "fifo", "is not a regular file" },
        };
        _cleanup_free_ char *victim = path_in("victim");

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                sd_event *e = NULL;
                RenderSettings s;
                Answer a = {};
                Renderer *r;
                struct stat st;
                char *text;

                CHECK(sd_event_new(&e) >= 0);
                r = one_target(e, cases[i].name, "new content\n", TEMPLATE_FORMAT_RAW, NULL, NULL, &s);
                write_text(victim, "victim\n");
                if (i == 0)
                        CHECK(symlink(victim, s.target) == 0);
                else
                        CHECK(mkfifo(s.target, 0600) == 0);
                CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
                CHECK(wait_answer(e, &a));      /* a FIFO does not block the loop */
                CHECK(a.error < 0);
                CHECK_CONTAINS(a.reason, s.target);
                CHECK_CONTAINS(a.reason, cases[i].expect);
                CHECK(lstat(s.target, &st) == 0 && (i == 0 ? S_ISLNK(st.st_mode) : S_ISFIFO(st.st_mode)));
                CHECK_STREQ(text = read_text(victim), "victim\n");
                free(text);
                answer_done(&a);
                renderer_free(r);
                settings_free(&s);
                sd_event_unref(e);
        }
}

/* issue 16 #4: /etc/shadow (here a stand-in, 0600 with a hash in it) can
 * never travel through a target into the rollback copy, nor be written by
 * `agentctl rollback` to a readable file: a symlink at the target is
 * refused by every path, and a target in a directory anyone but root can
 * write is not touched at all (there, links and FIFOs could be planted
 * between two calls). */
static void test_shadow_never_copied(void) {
        _cleanup_free_ char *shadow = path_in("shadow"), *pub = path_in("pub"), *pub_target = path_in("pub/x.conf"),
                            *rb = path_in("state/rollback/sh"), *rb_pub = path_in("state/rollback/pub");
        sd_event *e = NULL;
        RenderSettings s;
        Answer a = {};
        Renderer *r;
        struct stat st;
        char *text;

        write_text(shadow, "root:$6$SHADOWHASH:19000:0:99999:7:::\n");
        CHECK(chmod(shadow, 0600) == 0);
        CHECK(sd_event_new(&e) >= 0);
        r = one_target(e, "sh", "version one\n", TEMPLATE_FORMAT_RAW, NULL, NULL, &s);
        CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
        CHECK(wait_answer(e, &a) && a.error == 0);
        answer_done(&a);
        write_text(s.template_path, "version two\n");
        CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
        CHECK(wait_answer(e, &a) && a.error == 0);
        answer_done(&a);

        /* The target becomes a link to shadow: render and rollback refuse
         * it, the rollback copy stays version one. */
        CHECK(unlink(s.target) == 0 && symlink(shadow, s.target) == 0);
        write_text(s.template_path, "version three\n");
        CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
        CHECK(wait_answer(e, &a));
        CHECK_CONTAINS(a.reason, "is a symbolic link");
        answer_done(&a);
        CHECK_EQ_INT(renderer_rollback(r, "sh", on_answer, &a), -ELOOP);
        CHECK_STREQ(text = read_text(rb), "version one\n");
        free(text);
        /* Link gone: the rollback writes version one, never the hash. */
        CHECK(unlink(s.target) == 0);
        CHECK_EQ_INT(renderer_rollback(r, "sh", on_answer, &a), 0);
        CHECK(wait_answer(e, &a) && a.error == 0);
        answer_done(&a);
        CHECK_STREQ(text = read_text(s.target), "version one\n");
        free(text);
        CHECK(lstat(s.target, &st) == 0 && S_ISREG(st.st_mode));
        renderer_free(r);
        settings_free(&s);

        /* A world-writable directory (sticky or not): nothing written,
         * nothing read, a clear reason; the planted link stays as it is. */
        CHECK(mkdir(pub, 0755) == 0 && chmod(pub, 01777) == 0);
        r = one_target(e, "pub", "content\n", TEMPLATE_FORMAT_RAW, NULL, NULL, &s);
        renderer_free(r);
        free(s.target);
        s.target = strdup(pub_target);
        {
                RenderSettings *list[] = { &s };
                _cleanup_free_ char *state = path_in("state");
                CHECK_EQ_INT(renderer_new(e, list, 1, state, NULL, &r), 0);
        }
        CHECK(symlink(shadow, pub_target) == 0);
        CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
        CHECK(wait_answer(e, &a));
        CHECK(a.error < 0);
        CHECK_CONTAINS(a.reason, "is writable by others than root");
        CHECK_CONTAINS(a.reason, "mode 1777");
        answer_done(&a);
        CHECK_EQ_INT(renderer_rollback(r, "pub", on_answer, &a), -EPERM);
        CHECK(lstat(pub_target, &st) == 0 && S_ISLNK(st.st_mode));
        CHECK(read_text(rb_pub) == NULL);
        CHECK_STREQ(text = read_text(shadow), "root:$6$SHADOWHASH:19000:0:99999:7:::\n");
        free(text);
        /* Group-writable by a group other than root's: refused too. */
        CHECK(unlink(pub_target) == 0 && chmod(pub, 0775) == 0 && chown(pub, 0, 100) == 0);
        CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
        CHECK(wait_answer(e, &a));
        CHECK_CONTAINS(a.reason, "group gid 100, mode 0775");
        answer_done(&a);
        CHECK(lstat(pub_target, &st) < 0 && errno == ENOENT);
        renderer_free(r);
        settings_free(&s);
        sd_event_unref(e);
}

/* The validator prints the staged file: the value escaped for php-fpm must
 * not reach the reason (status, logs), whichever of many secrets it is. */
static void test_validator_output_redacted(void) {
        FakeSecrets f = { .n = 300 };           /* over the old cap of 256 */
        sd_event *e = NULL;
        RenderSettings s;
        Answer a = {};
        Renderer *r;

        f.values = calloc(f.n, sizeof(char *));
        for (size_t i = 0; i < f.n; i++)
                CHECK(asprintf(&f.values[i], "Pw-$Z\"x\\y-%03zu", i) > 0);
        f.used = f.n - 1;
        /* issue 16 #5's own value, whose php-fpm form "Pw-\$Z\"x\\y" leaked. */
        free(f.values[f.used]);
        f.values[f.used] = strdup("Pw-$Z\"x\\y");
        CHECK(sd_event_new(&e) >= 0);
        r = one_target(e, "pool", "[www]\nenv[DB_PASSWORD] = \"{{secret.db.password}}\"\n", TEMPLATE_FORMAT_PHPFPM,
                       "cat {}; exit 1", &f, &s);
        CHECK_EQ_INT(renderer_request(r, NULL, on_answer, &a), 0);
        CHECK(wait_answer(e, &a));
        CHECK_EQ_INT(a.error, -EINVAL);
        CHECK_CONTAINS(a.reason, "refused the new file (exit status 1)");
        CHECK_CONTAINS(a.reason, "env[DB_PASSWORD] = \"***\"");
        CHECK(a.reason && !strstr(a.reason, "Pw-") && !strstr(a.reason, "$Z"));
        CHECK(access(s.target, F_OK) < 0);      /* nothing installed */
        answer_done(&a);
        renderer_free(r);
        settings_free(&s);
        sd_event_unref(e);
        for (size_t i = 0; i < f.n; i++)
                free(f.values[i]);
        free(f.values);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static void remove_dir(void) {
        CHECK(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

TEST_MAIN(process_block_sigchld(); CHECK(mkdtemp(dir) != NULL); test_base64(); test_command_expand(); test_redact();
          test_pm_sizing(); test_rollback_answers_from_the_loop(); test_target_not_a_regular_file();
          test_validator_output_redacted(); if (geteuid() == 0) test_shadow_never_copied(); remove_dir();)
