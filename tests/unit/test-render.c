/* SPDX-License-Identifier: MIT */
#include <errno.h>

#include "render-vars.h"
#include "render.h"
#include "json-util.h"
#include "tests.h"

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
        const char *secrets[] = { "hunter2secret", "3306" };
        size_t lens[] = { 13, 4 };
        render_redact(buf, secrets, lens, 2);
        CHECK_STREQ(buf, "error near \"***\" in line ***; port ***");
        /* Values under 4 bytes are not redacted (they would shred the text). */
        char buf2[64] = "a b c";
        const char *s2[] = { "b" };
        size_t l2[] = { 1 };
        render_redact(buf2, s2, l2, 1);
        CHECK_STREQ(buf2, "a b c");
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

TEST_MAIN(test_base64(); test_command_expand(); test_redact(); test_pm_sizing();)
