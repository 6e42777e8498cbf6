/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>

#include "metric-prom.h"

typedef struct TypeDecl {
        char name[PROM_MAX_NAME + 1];
        PromType type;          /* counter/gauge; histogram and summary: counter for _sum/_count */
        bool histogram;
} TypeDecl;

static bool name_char(char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
               (!first && c >= '0' && c <= '9');
}

/* A metric or label name at p; its length, or 0. */
static size_t name_len(const char *p, const char *end, bool metric) {
        size_t n = 0;

        while (p + n < end && name_char(p[n], n == 0) && (metric || p[n] != ':'))
                n++;
        return n <= PROM_MAX_NAME ? n : 0;
}

static const char *skip_blanks(const char *p, const char *end) {
        while (p < end && (*p == ' ' || *p == '\t'))
                p++;
        return p;
}

static bool ends_with(const char *s, size_t l, const char *suffix) {
        size_t k = strlen(suffix);
        return l >= k && memcmp(s + l - k, suffix, k) == 0;
}

static void parse_type(const char *p, const char *end, TypeDecl *t) {
        size_t n;

        p = skip_blanks(p, end);
        n = name_len(p, end, true);
        if (n == 0)
                return;
        memcpy(t->name, p, n);
        t->name[n] = 0;
        p = skip_blanks(p + n, end);
        t->histogram = false;
        if ((size_t) (end - p) >= 7 && strncmp(p, "counter", 7) == 0)
                t->type = PROM_COUNTER;
        else if ((size_t) (end - p) >= 5 && strncmp(p, "gauge", 5) == 0)
                t->type = PROM_GAUGE;
        else if (((size_t) (end - p) >= 9 && strncmp(p, "histogram", 9) == 0) ||
                 ((size_t) (end - p) >= 7 && strncmp(p, "summary", 7) == 0)) {
                t->type = PROM_COUNTER;
                t->histogram = true;
        } else
                t->type = PROM_UNTYPED;
}

/* Parses {a="x",b="y"} into labels (values unescaped into buf). Returns
 * the position after '}', or NULL. */
static const char *parse_labels(const char *p, const char *end, PromLabel *labels, size_t *n, char *buf,
                                size_t bufsz, bool *quantile) {
        size_t used = 0;

        *n = 0;
        p++;    /* '{' */
        for (;;) {
                size_t l;
                char *name, *value;

                p = skip_blanks(p, end);
                if (p < end && *p == '}')
                        return p + 1;
                l = name_len(p, end, false);
                if (l == 0 || *n >= PROM_MAX_LABELS || used + l + 1 > bufsz)
                        return NULL;
                name = buf + used;
                memcpy(name, p, l);
                name[l] = 0;
                used += l + 1;
                p = skip_blanks(p + l, end);
                if (p >= end || *p != '=')
                        return NULL;
                p = skip_blanks(p + 1, end);
                if (p >= end || *p != '"')
                        return NULL;
                p++;
                value = buf + used;
                while (p < end && *p != '"') {
                        char c = *p++;
                        if (c == '\\' && p < end) {
                                c = *p++;
                                c = c == 'n' ? '\n' : c;
                        }
                        if (used + 2 > bufsz)
                                return NULL;
                        buf[used++] = c;
                }
                if (p >= end)
                        return NULL;
                buf[used++] = 0;
                p++;    /* closing quote */
                if (streq(name, "quantile") || streq(name, "le"))
                        *quantile = true;
                labels[(*n)++] = (PromLabel) { name, value };
                p = skip_blanks(p, end);
                if (p < end && *p == ',')
                        p++;
        }
}

static int parse_sample(const char *p, const char *end, const TypeDecl *t, PromSample fn, void *userdata) {
        char name[PROM_MAX_NAME + 1], labelbuf[PROM_MAX_LINE], num[64], *e;
        PromLabel labels[PROM_MAX_LABELS];
        size_t n = name_len(p, end, true), n_labels = 0, vl;
        bool quantile = false;
        PromType type = PROM_UNTYPED;
        double v;

        if (n == 0)
                return -EINVAL;
        memcpy(name, p, n);
        name[n] = 0;
        p += n;
        if (p < end && *p == '{') {
                p = parse_labels(p, end, labels, &n_labels, labelbuf, sizeof(labelbuf), &quantile);
                if (!p)
                        return -EINVAL;
        }
        p = skip_blanks(p, end);
        vl = 0;
        while (p + vl < end && p[vl] != ' ' && p[vl] != '\t')
                vl++;
        if (vl == 0 || vl >= sizeof(num))
                return -EINVAL;
        memcpy(num, p, vl);
        num[vl] = 0;
        v = strtod(num, &e);
        if (*e || !isfinite(v))
                return -EINVAL;
        /* A histogram's buckets and a summary's quantiles: only _sum/_count. */
        if (quantile)
                return 0;
        if (t->name[0] && strncmp(name, t->name, strlen(t->name)) == 0) {
                size_t tl = strlen(t->name);
                if (!t->histogram && n == tl)
                        type = t->type;
                else if (t->histogram && (streq(name + tl, "_sum") || streq(name + tl, "_count")))
                        type = PROM_COUNTER;
                else if (t->histogram)
                        return 0;       /* _bucket, _created */
        } else if (ends_with(name, n, "_total"))
                type = PROM_COUNTER;
        fn(name, type, labels, n_labels, v, userdata);
        return 1;
}

int prom_parse(const char *text, size_t len, PromSample fn, void *userdata, unsigned *ret_bad) {
        const char *p = text, *end = text + len;
        TypeDecl t = {};
        unsigned bad = 0;
        int samples = 0;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *le = nl ? nl : end, *q;
                size_t l = (size_t) (le - p);

                if (l > 0 && le[-1] == '\r')
                        l--;
                q = skip_blanks(p, p + l);
                if (l > PROM_MAX_LINE || memchr(p, 0, l))
                        bad++;
                else if (q == p + l)
                        ;       /* blank */
                else if (*q == '#') {
                        q = skip_blanks(q + 1, p + l);
                        if ((size_t) (p + l - q) > 5 && strncmp(q, "TYPE ", 5) == 0)
                                parse_type(q + 5, p + l, &t);
                } else {
                        int r = parse_sample(q, p + l, &t, fn, userdata);
                        if (r < 0)
                                bad++;
                        else
                                samples += r;
                }
                p = nl ? nl + 1 : end;
        }
        if (ret_bad)
                *ret_bad = bad;
        return samples;
}
