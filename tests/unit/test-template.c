/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "template.h"
#include "tests.h"

/* Distinctive, so a check can prove no error message ever carries it. */
#define SECRET "S3cr3t-Canary-7f1c"
#define NASTY "q\"b\\s$x${y};{}#\xc3\xa9\tz"

typedef struct Var {
        const char *name;
        const char *value;      /* NULL: bool */
        bool boolean;
} Var;

static const Var vars[] = {
        { "instance.id", "i-0abc", false },
        { "instance.region", "eu-west-1", false },
        { "tags.Name", "web", false },
        { "tags.aws:autoscaling:groupName", "asg-1", false },
        { "secret.db.password", SECRET, false },
        { "secret.api", "plain", false },
        { "empty", "", false },
        { "yes", NULL, true },
        { "no", NULL, false },
        { "nasty", NASTY, false },
        { "nl", "a\nb", false },
        { "cr", "a\rb", false },
        { "tick", "a`b", false },
        { "bad.utf8", "a\xff" SECRET, false },
        { "ctl", "\x01\x1f\b\f", false },
        { "pool", "$pool", false },
        { "dollar", "x$", false },
        { "nul", NULL, false },         /* filled by lookup with an embedded NUL */
        { "big", NULL, false },         /* 1 MiB of 'a' */
        { "failing", NULL, false },
};

static char big[1024 * 1024];

static int lookup(void *userdata, const char *name, TemplateValue *ret) {
        int *calls = userdata;

        if (calls)
                (*calls)++;
        if (streq(name, "nul")) {
                *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = SECRET "\0x", .length = 20 };
                return 0;
        }
        if (streq(name, "big")) {
                memset(big, 'a', sizeof(big));
                *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = big, .length = sizeof(big) };
                return 0;
        }
        if (streq(name, "failing"))
                return -EIO;
        for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
                if (!streq(vars[i].name, name))
                        continue;
                if (vars[i].value)
                        *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = vars[i].value,
                                                 .length = strlen(vars[i].value) };
                else
                        *ret = (TemplateValue) { .type = TEMPLATE_VALUE_BOOL, .boolean = vars[i].boolean };
                return 0;
        }
        return -ENOENT;
}

/* Renders; returns the output (or NULL) and stores the error (or NULL). */
static char *render(TemplateFormat f, const char *t, int *ret_r, char **ret_error) {
        char *out = NULL, *error = NULL;
        size_t len = 0;
        int r = template_render("t.conf", t, strlen(t), f, lookup, NULL, &out, &len, &error);

        if (r >= 0) {
                CHECK(error == NULL);
                CHECK(out && strlen(out) == len);
        } else {
                CHECK(out == NULL);
                CHECK(error != NULL);
                if (error)
                        CHECK(!strstr(error, SECRET));
        }
        if (ret_r)
                *ret_r = r;
        if (ret_error)
                *ret_error = error;
        else
                free(error);
        return out;
}

static void check_render(TemplateFormat f, const char *t, const char *expected) {
        char *error = NULL;
        char *out = render(f, t, NULL, &error);

        if (!out)
                fprintf(stderr, "rendering \"%s\" failed: %s\n", t, strna(error));
        CHECK_STREQ(out, expected);
        free(out);
        free(error);
}

static void check_error(TemplateFormat f, const char *t, int expected_r, const char *expected_error) {
        char *error = NULL;
        int r = 0;
        char *out = render(f, t, &r, &error);

        CHECK_EQ_INT(r, expected_r);
        CHECK_STREQ(error, expected_error);
        free(out);
        free(error);
}

static void test_formats(void) {
        CHECK_EQ_INT(template_format_from_string("raw"), TEMPLATE_FORMAT_RAW);
        CHECK_EQ_INT(template_format_from_string("nginx"), TEMPLATE_FORMAT_NGINX);
        CHECK_EQ_INT(template_format_from_string("php-fpm"), TEMPLATE_FORMAT_PHPFPM);
        CHECK_EQ_INT(template_format_from_string("env"), TEMPLATE_FORMAT_ENV);
        CHECK_EQ_INT(template_format_from_string("json"), TEMPLATE_FORMAT_JSON);
        CHECK_EQ_INT(template_format_from_string("yaml"), -EINVAL);
        CHECK_EQ_INT(template_format_from_string(NULL), -EINVAL);
        CHECK_STREQ(template_format_to_string(TEMPLATE_FORMAT_PHPFPM), "php-fpm");
        CHECK(template_format_to_string(_TEMPLATE_FORMAT_MAX) == NULL);
}

static void test_variables_and_syntax(void) {
        check_render(TEMPLATE_FORMAT_RAW, "", "");
        check_render(TEMPLATE_FORMAT_RAW, "plain { } }} text", "plain { } }} text");
        check_render(TEMPLATE_FORMAT_RAW, "id={{instance.id}} r={{ instance.region }}\n", "id=i-0abc r=eu-west-1\n");
        check_render(TEMPLATE_FORMAT_RAW, "{{\ttags.aws:autoscaling:groupName\t}}", "asg-1");
        check_render(TEMPLATE_FORMAT_RAW, "{{yes}}/{{no}}", "true/false");
        check_render(TEMPLATE_FORMAT_RAW, "a{{! a comment }}b{{!\nmulti\nline}}c", "abc");
        check_render(TEMPLATE_FORMAT_RAW, "{{secret.api}}{{empty}}.", "plain.");
}

static void test_sections(void) {
        check_render(TEMPLATE_FORMAT_RAW, "{{#yes}}Y{{/yes}}{{#no}}N{{/no}}", "Y");
        check_render(TEMPLATE_FORMAT_RAW, "{{^yes}}Y{{/yes}}{{^no}}N{{/no}}", "N");
        check_render(TEMPLATE_FORMAT_RAW, "{{#tags.Name}}name={{tags.Name}}{{/tags.Name}}", "name=web");
        check_render(TEMPLATE_FORMAT_RAW, "{{#empty}}E{{/empty}}{{^empty}}not{{/empty}}", "not");
        /* Unknown names are absent in a test, and not looked up where not rendered. */
        check_render(TEMPLATE_FORMAT_RAW, "{{#tags.Env}}{{tags.Env}}{{/tags.Env}}{{^tags.Env}}none{{/tags.Env}}",
                     "none");
        check_render(TEMPLATE_FORMAT_RAW, "{{#yes}}1{{#no}}2{{/no}}{{^no}}3{{#yes}}4{{/yes}}{{/no}}{{/yes}}", "134");
        check_render(TEMPLATE_FORMAT_RAW, "{{#no}}{{#yes}}x{{/yes}}{{/no}}after", "after");
        /* Standalone tags take their line, blanks and CRLF included. */
        check_render(TEMPLATE_FORMAT_RAW,
                     "a\n  {{#yes}}  \nb\n{{/yes}}\r\n{{! note }}\n{{^yes}}\nc\n{{/yes}}\nd",
                     "a\nb\nd");
        check_render(TEMPLATE_FORMAT_RAW, "{{#yes}}\nlast\n{{/yes}}", "last\n");
        check_render(TEMPLATE_FORMAT_RAW, "x {{#yes}}\ny\n {{/yes}} z", "x \ny\n  z");
        check_render(TEMPLATE_FORMAT_RAW, "  {{instance.id}}\n", "  i-0abc\n");
}

static void test_lookup_calls(void) {
        const char *t = "{{#no}}{{instance.id}}{{secret.api}}{{/no}}{{instance.id}}";
        char *out = NULL, *error = NULL;
        int calls = 0;

        CHECK_EQ_INT(template_render("t", t, strlen(t), TEMPLATE_FORMAT_RAW, lookup, &calls, &out, NULL, &error), 0);
        CHECK_EQ_INT(calls, 2);
        CHECK_STREQ(out, "i-0abc");
        free(out);
        free(error);
}

static void test_syntax_errors(void) {
        check_error(TEMPLATE_FORMAT_RAW, "a\nbc {{missing}}", -ENOENT, "t.conf:2:4: unknown variable 'missing'");
        check_error(TEMPLATE_FORMAT_RAW, "x {{ instance.id", -EINVAL, "t.conf:1:3: unclosed tag, expected '}}'");
        check_error(TEMPLATE_FORMAT_RAW, "x {{ instance.id }", -EINVAL, "t.conf:1:3: unclosed tag, expected '}}'");
        check_error(TEMPLATE_FORMAT_RAW, "{{instance.id\n}}", -EINVAL, "t.conf:1:1: unclosed tag, expected '}}'");
        check_error(TEMPLATE_FORMAT_RAW, "\n\n  {{", -EINVAL, "t.conf:3:3: unclosed tag, expected '}}'");
        check_error(TEMPLATE_FORMAT_RAW, "{{! never closed", -EINVAL, "t.conf:1:1: unclosed comment, expected '}}'");
        check_error(TEMPLATE_FORMAT_RAW, "{{a b}}", -EINVAL,
                    "t.conf:1:1: invalid character 'b' in tag (names: letters, digits, '_', '.', ':', '-')");
        check_error(TEMPLATE_FORMAT_RAW, "{{a/b}}", -EINVAL,
                    "t.conf:1:1: invalid character '/' in tag (names: letters, digits, '_', '.', ':', '-')");
        check_error(TEMPLATE_FORMAT_RAW, "{{ }}", -EINVAL, "t.conf:1:1: missing name in tag");
        check_error(TEMPLATE_FORMAT_RAW, "{{#}}", -EINVAL, "t.conf:1:1: missing name in tag");
        check_error(TEMPLATE_FORMAT_RAW, "{{a..b}}", -EINVAL, "t.conf:1:1: invalid name 'a..b': empty part between dots");
        check_error(TEMPLATE_FORMAT_RAW, "{{.a}}", -EINVAL, "t.conf:1:1: invalid name '.a': empty part between dots");
        check_error(TEMPLATE_FORMAT_RAW, "{{{secret.api}}}", -EINVAL,
                    "t.conf:1:1: unescaped output ({{{name}}}, {{&name}}) is not supported: every value is escaped");
        check_error(TEMPLATE_FORMAT_RAW, "ab{{& secret.api}}", -EINVAL,
                    "t.conf:1:3: unescaped output ({{{name}}}, {{&name}}) is not supported: every value is escaped");
        check_error(TEMPLATE_FORMAT_RAW, "{{>part}}", -EINVAL, "t.conf:1:1: partials ({{>name}}) are not supported");
        check_error(TEMPLATE_FORMAT_RAW, "{{=<% %>=}}", -EINVAL,
                    "t.conf:1:1: delimiter changes ({{=...=}}) are not supported");
        check_error(TEMPLATE_FORMAT_RAW, "x\n {{#yes}}\n{{/no}}", -EINVAL,
                    "t.conf:3:1: closing tag 'no' does not match section 'yes' opened at 2:2");
        check_error(TEMPLATE_FORMAT_RAW, "{{/yes}}", -EINVAL, "t.conf:1:1: closing tag 'yes' without an opening section");
        check_error(TEMPLATE_FORMAT_RAW, "{{#yes}}\n{{#tags.X}}{{/tags.X}}\n  {{^no}}", -EINVAL,
                    "t.conf:3:3: section 'no' is never closed");
        /* Syntax is checked in sections that are not rendered, too. */
        check_error(TEMPLATE_FORMAT_RAW, "{{#no}}\n{{bad name}}{{/no}}", -EINVAL,
                    "t.conf:2:1: invalid character 'n' in tag (names: letters, digits, '_', '.', ':', '-')");
        check_error(TEMPLATE_FORMAT_RAW, "{{failing}}", -EIO, "t.conf:1:1: looking up 'failing' failed: Input/output error");
        check_error(TEMPLATE_FORMAT_RAW, "{{#failing}}{{/failing}}", -EIO,
                    "t.conf:1:1: looking up 'failing' failed: Input/output error");
}

static void test_limits(void) {
        char t[TEMPLATE_DEPTH_MAX * 16 + 64], *p = t;
        char *out = NULL, *error = NULL, *big_template;
        int r;

        for (int i = 0; i < TEMPLATE_DEPTH_MAX; i++)
                p += sprintf(p, "{{#yes}}");
        for (int i = 0; i < TEMPLATE_DEPTH_MAX; i++)
                p += sprintf(p, "{{/yes}}");
        check_render(TEMPLATE_FORMAT_RAW, t, "");

        p = t;
        for (int i = 0; i <= TEMPLATE_DEPTH_MAX; i++)
                p += sprintf(p, "{{^no}}");
        check_error(TEMPLATE_FORMAT_RAW, t, -E2BIG, "t.conf:1:225: sections nested deeper than 32");

        /* 5 x 1 MiB values: over the 4 MiB output limit at the 5th. */
        check_error(TEMPLATE_FORMAT_RAW, "{{big}}{{big}}{{big}}\n{{big}}{{big}}", -E2BIG,
                    "t.conf:2:1: output larger than 4194304 bytes");
        out = render(TEMPLATE_FORMAT_RAW, "{{big}}{{big}}{{big}}{{big}}", &r, NULL);
        CHECK_EQ_INT(r, 0);
        CHECK(out && strlen(out) == 4 * 1024 * 1024);
        free(out);

        big_template = malloc(TEMPLATE_SIZE_MAX + 1);
        CHECK(big_template);
        if (!big_template)
                return;
        memset(big_template, 'x', TEMPLATE_SIZE_MAX + 1);
        out = NULL;
        r = template_render("big.conf", big_template, TEMPLATE_SIZE_MAX, TEMPLATE_FORMAT_RAW, lookup, NULL, &out,
                            NULL, &error);
        CHECK_EQ_INT(r, 0);
        free(out);
        out = NULL;
        r = template_render("big.conf", big_template, TEMPLATE_SIZE_MAX + 1, TEMPLATE_FORMAT_RAW, lookup, NULL,
                            &out, NULL, &error);
        CHECK_EQ_INT(r, -EFBIG);
        CHECK_STREQ(error, "big.conf:1:1: template larger than 1048576 bytes");
        CHECK(out == NULL);
        free(error);
        free(big_template);

        error = NULL;
        r = template_render("nul.conf", "ab\ncd\0", 6, TEMPLATE_FORMAT_RAW, lookup, NULL, &out, NULL, &error);
        CHECK_EQ_INT(r, -EINVAL);
        CHECK_STREQ(error, "nul.conf:2:3: NUL byte in template");
        free(error);
}

static void test_escaping(void) {
        /* The same nasty value in every format. */
        check_render(TEMPLATE_FORMAT_RAW, "{{nasty}}", NASTY);
        check_render(TEMPLATE_FORMAT_NGINX, "return 200 \"{{nasty}}\";",
                     "return 200 \"q\\\"b\\\\s${dollar}x${dollar}{y};{}#\xc3\xa9\tz\";");
        check_render(TEMPLATE_FORMAT_PHPFPM, "env[X] = \"{{nasty}}\"",
                     "env[X] = \"q\\\"b\\\\s\\$x\\${y};{}#\xc3\xa9\tz\"");
        check_render(TEMPLATE_FORMAT_ENV, "X=\"{{nasty}}\"", "X=\"q\\\"b\\\\s\\$x\\${y};{}#\xc3\xa9\tz\"");
        check_render(TEMPLATE_FORMAT_JSON, "{\"x\": \"{{nasty}}\"}",
                     "{\"x\": \"q\\\"b\\\\s$x${y};{}#\xc3\xa9\\tz\"}");

        /* Newlines. */
        check_render(TEMPLATE_FORMAT_RAW, "{{nl}}", "a\nb");
        check_render(TEMPLATE_FORMAT_NGINX, "{{nl}}", "a\nb");
        check_render(TEMPLATE_FORMAT_ENV, "{{nl}}", "a\nb");
        check_render(TEMPLATE_FORMAT_JSON, "{{nl}}", "a\\nb");
        check_error(TEMPLATE_FORMAT_PHPFPM, "env[A] = \"x\"\nenv[B] = \"{{nl}}\"", -EINVAL,
                    "t.conf:2:11: value of 'nl' contains a newline, which php-fpm pool files cannot represent");

        /* Carriage return, backtick, control characters, invalid UTF-8. */
        check_render(TEMPLATE_FORMAT_NGINX, "{{cr}}{{tick}}", "a\rba`b");
        check_render(TEMPLATE_FORMAT_PHPFPM, "{{cr}}{{tick}}", "a\rba`b");
        check_render(TEMPLATE_FORMAT_JSON, "{{cr}}{{tick}}{{ctl}}", "a\\rba`b\\u0001\\u001f\\b\\f");
        check_error(TEMPLATE_FORMAT_ENV, "{{cr}}", -EINVAL,
                    "t.conf:1:1: value of 'cr' contains a carriage return, which env file readers disagree on");
        check_error(TEMPLATE_FORMAT_ENV, "{{tick}}", -EINVAL,
                    "t.conf:1:1: value of 'tick' contains a backtick, which env file readers disagree on "
                    "(sh runs it, phpdotenv refuses \\`)");
        check_render(TEMPLATE_FORMAT_RAW, "{{bad.utf8}}", "a\xff" SECRET);
        check_render(TEMPLATE_FORMAT_NGINX, "{{bad.utf8}}", "a\xff" SECRET);
        check_render(TEMPLATE_FORMAT_PHPFPM, "{{bad.utf8}}", "a\xff" SECRET);
        check_error(TEMPLATE_FORMAT_ENV, "{{bad.utf8}}", -EINVAL,
                    "t.conf:1:1: value of 'bad.utf8' contains invalid UTF-8, which systemd refuses in env files");
        check_error(TEMPLATE_FORMAT_JSON, "{{bad.utf8}}", -EINVAL,
                    "t.conf:1:1: value of 'bad.utf8' contains invalid UTF-8, which JSON cannot represent");

        /* NUL is refused everywhere, the secret never shows. */
        for (TemplateFormat f = 0; f < _TEMPLATE_FORMAT_MAX; f++)
                check_error(f, "{{nul}}", -EINVAL, "t.conf:1:1: value of 'nul' contains a NUL byte");

        /* php-fpm replaces "$pool" after unescaping, even from \$pool. */
        check_error(TEMPLATE_FORMAT_PHPFPM, "env[A] = \"{{pool}}\"", -EINVAL,
                    "t.conf:1:11: value of 'pool' forms \"$pool\", which php-fpm replaces by the pool name");
        check_error(TEMPLATE_FORMAT_PHPFPM, "env[A] = \"{{dollar}}pool\"", -EINVAL,
                    "t.conf:1:11: value of 'dollar' forms \"$pool\", which php-fpm replaces by the pool name");
        check_render(TEMPLATE_FORMAT_PHPFPM, "listen = /run/$pool.sock\nenv[A] = \"{{dollar}}po\"",
                     "listen = /run/$pool.sock\nenv[A] = \"x\\$po\"");
        check_render(TEMPLATE_FORMAT_NGINX, "{{pool}}", "${dollar}pool");

        /* JSON keeps non-ASCII, "/" and DEL as they are. */
        check_render(TEMPLATE_FORMAT_JSON, "{{instance.id}}", "i-0abc");
}

static void test_error_never_holds_value(void) {
        char *error = NULL;
        int r;
        char *out = render(TEMPLATE_FORMAT_PHPFPM, "{{#secret.db.password}}{{secret.db.password}}{{nl}}{{/secret.db.password}}",
                           &r, &error);

        CHECK(r < 0);
        CHECK(out == NULL);
        CHECK(error && !strstr(error, SECRET));
        CHECK_CONTAINS(error, "'nl'");
        free(error);
}

/* Found by fuzz-template: an empty value's escaped form was not
 * NUL-terminated (the header promises it is). */
static void test_escape_empty(void) {
        for (TemplateFormat f = 0; f < _TEMPLATE_FORMAT_MAX; f++) {
                char *e = NULL;
                size_t el = 1;
                CHECK_EQ_INT(template_escape(f, "", 0, &e, &el), 0);
                CHECK_EQ_INT(el, 0);
                CHECK(e && e[0] == 0);
                free(e);
        }
}

static void test_variables(void) {
        const char *t = "{{! c }}{{instance.id}}{{#tags.Name}}{{tags.Name}}{{instance.id}}{{/tags.Name}}"
                        "{{^secret.db}}{{secret.db.password}}{{/secret.db}}";
        char **names = NULL, *error = NULL;
        size_t n = 0;

        CHECK_EQ_INT(template_variables("v", t, strlen(t), &names, &n, &error), 0);
        CHECK(error == NULL);
        CHECK_EQ_INT(n, 4);
        if (names && n == 4) {
                CHECK_STREQ(names[0], "instance.id");
                CHECK_STREQ(names[1], "tags.Name");
                CHECK_STREQ(names[2], "secret.db");
                CHECK_STREQ(names[3], "secret.db.password");
                CHECK(names[4] == NULL);
        }
        template_names_free(names);

        names = NULL;
        CHECK_EQ_INT(template_variables("v", "none", 4, &names, &n, &error), 0);
        CHECK_EQ_INT(n, 0);
        CHECK(names && names[0] == NULL);
        template_names_free(names);

        names = NULL;
        CHECK_EQ_INT(template_variables("v", "{{#a}}\n{{/b}}", 13, &names, &n, &error), -EINVAL);
        CHECK_STREQ(error, "v:2:1: closing tag 'b' does not match section 'a' opened at 1:1");
        CHECK(names == NULL);
        free(error);
}

/* issue 16 #6: a template as large as allowed, made of distinct names (and
 * each used twice): every name once, in order. De-duplicating by scanning
 * the list took minutes here (the test's timeout fails it); the time itself
 * is measured by bench/template-names. */
static void test_many_distinct_names(void) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
        size_t cap = TEMPLATE_SIZE_MAX, len = 0, count = 0, n = 0;
        char *t = malloc(cap), **names = NULL, *error = NULL;

        CHECK(t != NULL);
        if (!t)
                return;
        /* "{{abc}}" (7 bytes) for names 0..N-1, then the first thousand again. */
        for (size_t i = 0; len + 7 <= cap - 7000; i++, count++) {
                size_t k = i;
                t[len++] = '{';
                t[len++] = '{';
                for (int j = 0; j < 3; j++, k /= 64)
                        t[len++] = alphabet[k % 64];
                t[len++] = '}';
                t[len++] = '}';
        }
        CHECK(count > 140000 && count < 64 * 64 * 64);
        memcpy(t + len, t, 7000);
        len += 7000;
        CHECK_EQ_INT(template_variables("big", t, len, &names, &n, &error), 0);
        CHECK_EQ_INT(n, count);
        if (names && n == count) {
                CHECK_STREQ(names[0], "aaa");
                CHECK_STREQ(names[1], "baa");
                CHECK_STREQ(names[64], "aba");
                CHECK(names[count] == NULL);
        }
        template_names_free(names);
        free(t);
}

TEST_MAIN(
        test_many_distinct_names();
        test_formats();
        test_variables_and_syntax();
        test_sections();
        test_lookup_calls();
        test_syntax_errors();
        test_limits();
        test_escaping();
        test_error_never_holds_value();
        test_variables();
        test_escape_empty();
)
