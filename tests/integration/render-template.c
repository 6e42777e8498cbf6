/* SPDX-License-Identifier: MIT */
/*
 * render-template: a test driver for template.c, so the integration tests can
 * feed the real nginx, php-fpm and a shell what agentd would write.
 *
 *   render-template FORMAT TEMPLATE_FILE [--json FILE] [NAME=VALUE...]
 *
 * Variables come from a JSON object (strings and booleans; a JSON file can
 * hold any value, newlines included) and from NAME=VALUE arguments. The
 * output goes to stdout; an error goes to stderr with exit status 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-util.h"
#include "macro.h"
#include "template.h"

typedef struct Vars {
        cJSON *json;
        char **argv;
        int argc;
} Vars;

static int lookup(void *userdata, const char *name, TemplateValue *ret) {
        Vars *v = userdata;
        size_t l = strlen(name);
        const cJSON *j;

        for (int i = 0; i < v->argc; i++)
                if (strncmp(v->argv[i], name, l) == 0 && v->argv[i][l] == '=') {
                        *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = v->argv[i] + l + 1,
                                                 .length = strlen(v->argv[i] + l + 1) };
                        return 0;
                }
        j = v->json ? cJSON_GetObjectItemCaseSensitive(v->json, name) : NULL;
        if (cJSON_IsString(j)) {
                *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = j->valuestring,
                                         .length = strlen(j->valuestring) };
                return 0;
        }
        if (cJSON_IsBool(j)) {
                *ret = (TemplateValue) { .type = TEMPLATE_VALUE_BOOL, .boolean = cJSON_IsTrue(j) };
                return 0;
        }
        return -ENOENT;
}

static int read_all(const char *path, char **ret, size_t *ret_len) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0, n;

        if (!f)
                return negative_errno();
        do {
                if (cap - len < 4096) {
                        char *p = realloc(buf, cap + 65536);
                        if (!p)
                                return -ENOMEM;
                        buf = p;
                        cap += 65536;
                }
                n = fread(buf + len, 1, cap - len - 1, f);
                len += n;
        } while (n > 0);
        if (ferror(f))
                return -EIO;
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int main(int argc, char **argv) {
        _cleanup_free_ char *text = NULL, *json_text = NULL, *error = NULL;
        _cleanup_wipe_free_ char *out = NULL;
        _cleanup_(cJSON_Deletep) cJSON *json = NULL;
        size_t len, out_len = 0, json_len;
        Vars vars = {};
        int format, r, first = 3;

        if (argc < 3) {
                fprintf(stderr, "usage: %s FORMAT TEMPLATE_FILE [--json FILE] [NAME=VALUE...]\n", argv[0]);
                return 2;
        }
        format = template_format_from_string(argv[1]);
        if (format < 0) {
                fprintf(stderr, "unknown format '%s'\n", argv[1]);
                return 2;
        }
        r = read_all(argv[2], &text, &len);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", argv[2], strerror(-r));
                return 2;
        }
        if (argc > 4 && streq(argv[3], "--json")) {
                r = read_all(argv[4], &json_text, &json_len);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[4], strerror(-r));
                        return 2;
                }
                json = cJSON_ParseWithLength(json_text, json_len);
                if (!cJSON_IsObject(json)) {
                        fprintf(stderr, "%s: not a JSON object\n", argv[4]);
                        return 2;
                }
                first = 5;
        }
        vars = (Vars) { .json = json, .argv = argv + first, .argc = argc - first };

        r = template_render(argv[2], text, len, format, lookup, &vars, &out, &out_len, &error);
        if (r < 0) {
                fprintf(stderr, "%s\n", error ? error : strerror(-r));
                return 1;
        }
        if (fwrite(out, 1, out_len, stdout) != out_len || fflush(stdout) != 0)
                return 1;
        return 0;
}
