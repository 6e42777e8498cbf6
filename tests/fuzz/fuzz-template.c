/* SPDX-License-Identifier: MIT */
/*
 * The template language and every escaping format. Input: one byte for the
 * format, then the template, then values, separated by "\n--\n". A name is
 * looked up by its hash among the values; "b.*" names are booleans, "u.*"
 * unknown, "e.*" fail the lookup. Each input is rendered in its format,
 * listed with template_variables(), and each value escaped in every format.
 * Invariant: a RAW render of "{{x}}" gives the value back byte for byte.
 */
#include <errno.h>

#include "fuzz.h"
#include "template.h"

#define MAX_PARTS 9

typedef struct Values {
        char **v;
        size_t *len;
        size_t n;
} Values;

static int lookup(void *userdata, const char *name, TemplateValue *ret) {
        const Values *vals = userdata;
        size_t h = 0;

        if (strncmp(name, "u.", 2) == 0)
                return -ENOENT;
        if (strncmp(name, "e.", 2) == 0)
                return -EIO;
        for (const char *p = name; *p; p++)
                h = h * 31 + (unsigned char) *p;
        if (strncmp(name, "b.", 2) == 0 || vals->n == 0) {
                *ret = (TemplateValue) { .type = TEMPLATE_VALUE_BOOL, .boolean = h & 1 };
                return 0;
        }
        h %= vals->n;
        *ret = (TemplateValue) { .type = TEMPLATE_VALUE_STRING, .string = vals->v[h], .length = vals->len[h] };
        return 0;
}

static int lookup_one(void *userdata, const char *name, TemplateValue *ret) {
        const TemplateValue *v = userdata;
        *ret = *v;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *parts[MAX_PARTS], *out = NULL, *error = NULL, **names = NULL;
        size_t lens[MAX_PARTS], n, ol = 0, nn = 0;
        TemplateFormat format;
        Values vals;
        int r;

        if (size < 1 || size > TEMPLATE_SIZE_MAX)
                return 0;
        format = data[0] % _TEMPLATE_FORMAT_MAX;
        n = fuzz_split(data + 1, size - 1, parts, lens, MAX_PARTS);
        vals = (Values) { .v = parts + 1, .len = lens + 1, .n = n - 1 };

        r = template_render("fuzz.in", parts[0], lens[0], format, lookup, &vals, &out, &ol, &error);
        if (r >= 0) {
                FUZZ_ASSERT(out && out[ol] == 0 && !error);
                free(out);
        } else {
                FUZZ_ASSERT(!out);
                if (r != -ENOMEM)
                        FUZZ_ASSERT(error && strncmp(error, "fuzz.in:", 8) == 0);
                free(error);
        }
        error = NULL;
        r = template_variables("fuzz.in", parts[0], lens[0], &names, &nn, &error);
        if (r >= 0) {
                FUZZ_ASSERT(names && names[nn] == NULL);
                template_names_free(names);
        } else
                free(error);

        for (size_t i = 1; i < n; i++) {
                TemplateValue v = { .type = TEMPLATE_VALUE_STRING, .string = parts[i], .length = lens[i] };
                for (TemplateFormat f = 0; f < _TEMPLATE_FORMAT_MAX; f++) {
                        char *e = NULL;
                        size_t el = 0;
                        if (template_escape(f, parts[i], lens[i], &e, &el) >= 0) {
                                FUZZ_ASSERT(e && e[el] == 0);
                                free(e);
                        }
                }
                out = error = NULL;
                r = template_render("one.in", "{{x}}", 5, TEMPLATE_FORMAT_RAW, lookup_one, &v, &out, &ol, &error);
                if (r >= 0) {
                        FUZZ_ASSERT(ol == lens[i] && memcmp(out, parts[i], ol) == 0);
                        free(out);
                } else
                        free(error);
        }
        for (size_t i = 0; i < n; i++)
                free(parts[i]);
        return 0;
}
