/* SPDX-License-Identifier: MIT */

/*
 * One pass over the template, no syntax tree: a literal run is copied, a
 * tag is parsed where it stands, sections are a fixed stack of at most
 * TEMPLATE_DEPTH_MAX frames that remember whether output was on before
 * them. The same walk, with no lookup and every section entered, lists the
 * names for template_variables(). Positions are byte offsets; line and
 * column are computed only when an error is reported.
 *
 * The output holds secrets, so the buffer never goes through realloc() (which
 * would leave copies behind in freed memory): it grows by copy and wipe, and
 * is wiped when rendering fails. The format's escaper is applied to every
 * value; php-fpm's "$pool" expansion can straddle a value and the text
 * around it, so for that format the spans of values in the output are kept
 * and checked once the whole output is known.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "template.h"

static const char *const format_names[_TEMPLATE_FORMAT_MAX] = {
        [TEMPLATE_FORMAT_RAW] = "raw",
        [TEMPLATE_FORMAT_NGINX] = "nginx",
        [TEMPLATE_FORMAT_PHPFPM] = "php-fpm",
        [TEMPLATE_FORMAT_ENV] = "env",
        [TEMPLATE_FORMAT_JSON] = "json",
};

int template_format_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(format_names); i++)
                if (streq(s, format_names[i]))
                        return (int) i;
        return -EINVAL;
}

const char *template_format_to_string(TemplateFormat f) {
        if ((unsigned) f >= _TEMPLATE_FORMAT_MAX)
                return NULL;
        return format_names[f];
}

typedef struct Buffer {
        char *data;
        size_t len, cap;
} Buffer;

static void buffer_wipe(Buffer *b) {
        explicit_wipe(b->data, b->cap);
        b->data = mfree(b->data);
        b->len = b->cap = 0;
}

/* Room for n more bytes plus a NUL. Over the limit: -E2BIG. */
static int buffer_reserve(Buffer *b, size_t n) {
        size_t want, cap;
        char *p;

        if (n > TEMPLATE_OUTPUT_MAX || b->len > TEMPLATE_OUTPUT_MAX - n)
                return -E2BIG;
        want = b->len + n + 1;
        if (want <= b->cap)
                return 0;
        cap = MAX(b->cap * 2, (size_t) 4096);
        cap = MAX(cap, want);
        cap = MIN(cap, TEMPLATE_OUTPUT_MAX + 1);
        p = malloc(cap);
        if (!p)
                return -ENOMEM;
        if (b->data) {
                memcpy(p, b->data, b->len);
                explicit_wipe(b->data, b->cap);
                free(b->data);
        }
        b->data = p;
        b->cap = cap;
        return 0;
}

static int buffer_append(Buffer *b, const char *s, size_t n) {
        int r = buffer_reserve(b, n);
        if (r < 0)
                return r;
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

/* Length of the valid UTF-8 sequence at s (shortest form, no surrogates,
 * at most U+10FFFF), or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
        size_t l;
        unsigned cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                l = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                l = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                l = 4, cp = s[0] & 0x07;
        else
                return 0;
        if (n < l)
                return 0;
        for (size_t i = 1; i < l; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((l == 3 && cp < 0x800) || (l == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return l;
}

/* Appends the escaped value. On a value the format cannot hold returns
 * -EINVAL with *reason naming what (never quoting it). */
static int escape_value(Buffer *b, TemplateFormat format, const char *s, size_t n, const char **reason) {
        size_t i = 0;
        int r;

        while (i < n) {
                unsigned char c = (unsigned char) s[i];
                const char *rep = NULL;
                char tmp[8];
                size_t step = 1;

                if (c == 0) {
                        *reason = "a NUL byte";
                        return -EINVAL;
                }
                switch (format) {
                case TEMPLATE_FORMAT_RAW:
                        break;
                case TEMPLATE_FORMAT_NGINX:
                        rep = c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '$' ? "${dollar}" : NULL;
                        break;
                case TEMPLATE_FORMAT_PHPFPM:
                        if (c == '\n') {
                                *reason = "a newline, which php-fpm pool files cannot represent";
                                return -EINVAL;
                        }
                        rep = c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '$' ? "\\$" : NULL;
                        break;
                case TEMPLATE_FORMAT_ENV:
                        if (c == '\r') {
                                *reason = "a carriage return, which env file readers disagree on";
                                return -EINVAL;
                        }
                        if (c == '`') {
                                *reason = "a backtick, which env file readers disagree on (sh runs it, phpdotenv refuses \\`)";
                                return -EINVAL;
                        }
                        if (c >= 0x80) {
                                step = utf8_sequence((const unsigned char *) s + i, n - i);
                                if (step == 0) {
                                        *reason = "invalid UTF-8, which systemd refuses in env files";
                                        return -EINVAL;
                                }
                        }
                        rep = c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '$' ? "\\$" : NULL;
                        break;
                case TEMPLATE_FORMAT_JSON:
                        if (c >= 0x80) {
                                step = utf8_sequence((const unsigned char *) s + i, n - i);
                                if (step == 0) {
                                        *reason = "invalid UTF-8, which JSON cannot represent";
                                        return -EINVAL;
                                }
                        } else if (c == '\\')
                                rep = "\\\\";
                        else if (c == '"')
                                rep = "\\\"";
                        else if (c == '\n')
                                rep = "\\n";
                        else if (c == '\t')
                                rep = "\\t";
                        else if (c == '\r')
                                rep = "\\r";
                        else if (c == '\b')
                                rep = "\\b";
                        else if (c == '\f')
                                rep = "\\f";
                        else if (c < 0x20) {
                                snprintf(tmp, sizeof(tmp), "\\u%04x", c);
                                rep = tmp;
                        }
                        break;
                default:
                        return -EINVAL;
                }
                r = rep ? buffer_append(b, rep, strlen(rep)) : buffer_append(b, s + i, step);
                if (r < 0)
                        return r;
                i += step;
        }
        return 0;
}

typedef enum TagKind {
        TAG_VARIABLE,
        TAG_SECTION,
        TAG_INVERTED,
        TAG_CLOSE,
        TAG_COMMENT,
} TagKind;

typedef struct Tag {
        TagKind kind;
        size_t start, end;      /* offsets of "{{" and after "}}" */
        const char *name;       /* into the text, not NUL-terminated */
        size_t name_len;
} Tag;

typedef struct Frame {
        Tag tag;
        bool was_active;
} Frame;

typedef struct Span {
        size_t begin, end;      /* in the output */
        Tag tag;
} Span;

typedef struct Renderer {
        const char *template_name;
        const char *text;
        size_t len;
        TemplateFormat format;
        TemplateLookup lookup;  /* NULL: only collect names */
        void *userdata;

        Buffer out;
        Span *spans;
        size_t n_spans, cap_spans;
        char **names;
        size_t n_names, cap_names;
        size_t *name_slots;     /* open addressing: index + 1 into names, 0 free */
        size_t n_name_slots;    /* a power of two, at least twice n_names */
        char *error;
} Renderer;

static int fail(Renderer *r, int err, size_t offset, const char *fmt, ...) _printf_(4, 5);
static int fail(Renderer *r, int err, size_t offset, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        unsigned line = 1, column = 1;
        va_list ap;

        for (size_t i = 0; i < offset && i < r->len; i++) {
                if (r->text[i] == '\n') {
                        line++;
                        column = 1;
                } else
                        column++;
        }
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);

        free(r->error);
        if (!msg || asprintf(&r->error, "%s:%u:%u: %s", strempty(r->template_name), line, column, msg) < 0)
                r->error = NULL;
        return err;
}

static bool is_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '.' || c == ':' || c == '-';
}

/* A template character for a message: printable as is, else \xNN. */
static const char *char_repr(char c, char buf[static 8]) {
        if (c > 0x20 && c < 0x7f && c != '\'')
                snprintf(buf, 8, "'%c'", c);
        else
                snprintf(buf, 8, "\\x%02x", (unsigned char) c);
        return buf;
}

static int parse_tag(Renderer *r, size_t start, Tag *ret) {
        const char *t = r->text;
        size_t n = r->len, p = start + 2;
        char buf[8];
        Tag tag = { .kind = TAG_VARIABLE, .start = start };

        if (p >= n)
                return fail(r, -EINVAL, start, "unclosed tag, expected '}}'");
        switch (t[p]) {
        case '!': {
                const char *e = memmem(t + p, n - p, "}}", 2);
                if (!e)
                        return fail(r, -EINVAL, start, "unclosed comment, expected '}}'");
                *ret = (Tag) { .kind = TAG_COMMENT, .start = start, .end = (size_t) (e - t) + 2 };
                return 0;
        }
        case '{':
        case '&':
                return fail(r, -EINVAL, start,
                            "unescaped output ({{{name}}}, {{&name}}) is not supported: every value is escaped");
        case '>':
                return fail(r, -EINVAL, start, "partials ({{>name}}) are not supported");
        case '=':
                return fail(r, -EINVAL, start, "delimiter changes ({{=...=}}) are not supported");
        case '#':
                tag.kind = TAG_SECTION;
                p++;
                break;
        case '^':
                tag.kind = TAG_INVERTED;
                p++;
                break;
        case '/':
                tag.kind = TAG_CLOSE;
                p++;
                break;
        }

        while (p < n && (t[p] == ' ' || t[p] == '\t'))
                p++;
        tag.name = t + p;
        while (p < n && is_name_char(t[p]))
                p++;
        tag.name_len = (size_t) (t + p - tag.name);
        while (p < n && (t[p] == ' ' || t[p] == '\t'))
                p++;
        if (p + 1 < n && t[p] == '}' && t[p + 1] == '}') {
                tag.end = p + 2;
        } else if (p >= n || t[p] == '\n' || t[p] == '\r' || (t[p] == '}' && p + 1 >= n))
                return fail(r, -EINVAL, start, "unclosed tag, expected '}}'");
        else
                return fail(r, -EINVAL, start, "invalid character %s in tag (names: letters, digits, '_', '.', ':', '-')",
                            char_repr(t[p], buf));

        if (tag.name_len == 0)
                return fail(r, -EINVAL, start, "missing name in tag");
        if (tag.name_len > TEMPLATE_NAME_MAX)
                return fail(r, -ENAMETOOLONG, start, "name longer than %d characters", TEMPLATE_NAME_MAX);
        if (tag.name[0] == '.' || tag.name[tag.name_len - 1] == '.' || memmem(tag.name, tag.name_len, "..", 2))
                return fail(r, -EINVAL, start, "invalid name '%.*s': empty part between dots",
                            (int) tag.name_len, tag.name);
        *ret = tag;
        return 0;
}

/* A section, inverted, closing or comment tag alone on its line (blanks
 * around it) takes the line: returns where the literal before it ends and
 * where the text after it resumes. */
static void standalone_extent(const Renderer *r, const Tag *tag, size_t pos, size_t *lit_end, size_t *resume) {
        const char *t = r->text;
        size_t ls = tag->start, e = tag->end;

        *lit_end = tag->start;
        *resume = tag->end;
        if (tag->kind == TAG_VARIABLE)
                return;
        while (ls > pos && (t[ls - 1] == ' ' || t[ls - 1] == '\t'))
                ls--;
        if (ls > 0 && t[ls - 1] != '\n')
                return;
        while (e < r->len && (t[e] == ' ' || t[e] == '\t'))
                e++;
        if (e < r->len && t[e] == '\n')
                e++;
        else if (e + 1 < r->len && t[e] == '\r' && t[e + 1] == '\n')
                e += 2;
        else if (e < r->len)
                return;
        *lit_end = ls;
        *resume = e;
}

static int emit_literal(Renderer *r, size_t from, size_t to) {
        int k;

        if (!r->lookup || from >= to)
                return 0;
        k = buffer_append(&r->out, r->text + from, to - from);
        if (k == -E2BIG)
                return fail(r, k, from, "output larger than %zu bytes", (size_t) TEMPLATE_OUTPUT_MAX);
        if (k < 0)
                return fail(r, k, from, "out of memory");
        return 0;
}

static size_t name_hash(const char *name, size_t len) {
        uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char) name[i]) * 1099511628211ULL;
        return (size_t) h;
}

/* Slot of name in the set: its own, or the free one where it would go. */
static size_t name_slot(const Renderer *r, const char *name, size_t len) {
        size_t mask = r->n_name_slots - 1, i = name_hash(name, len) & mask;

        for (;; i = (i + 1) & mask) {
                size_t k = r->name_slots[i];
                if (k == 0 || (strncmp(r->names[k - 1], name, len) == 0 && r->names[k - 1][len] == 0))
                        return i;
        }
}

/* Each name once, in order of first use. A hash set, not a scan of the
 * list: a 1 MiB template holds 170,000 distinct names, and comparing each
 * with all before it took minutes. */
static int add_name(Renderer *r, const Tag *tag) {
        size_t slot;

        if (2 * (r->n_names + 1) > r->n_name_slots) {
                size_t n = MAX(r->n_name_slots * 2, (size_t) 64);
                size_t *old = r->name_slots, n_old = r->n_name_slots;
                r->name_slots = calloc(n, sizeof(size_t));
                if (!r->name_slots) {
                        r->name_slots = old;
                        return -ENOMEM;
                }
                r->n_name_slots = n;
                for (size_t i = 0; i < n_old; i++)
                        if (old[i] != 0) {
                                const char *name = r->names[old[i] - 1];
                                r->name_slots[name_slot(r, name, strlen(name))] = old[i];
                        }
                free(old);
        }
        slot = name_slot(r, tag->name, tag->name_len);
        if (r->name_slots[slot] != 0)
                return 0;
        if (r->n_names + 2 > r->cap_names) {
                size_t cap = MAX(r->cap_names * 2, (size_t) 16);
                char **n = reallocarray(r->names, cap, sizeof(char *));
                if (!n)
                        return -ENOMEM;
                r->names = n;
                r->cap_names = cap;
        }
        r->names[r->n_names] = strndup(tag->name, tag->name_len);
        if (!r->names[r->n_names])
                return -ENOMEM;
        r->names[++r->n_names] = NULL;
        r->name_slots[slot] = r->n_names;
        return 0;
}

/* 1: found, 0: unknown name. */
static int lookup(Renderer *r, const Tag *tag, TemplateValue *ret) {
        char name[TEMPLATE_NAME_MAX + 1];
        int k;

        memcpy(name, tag->name, tag->name_len);
        name[tag->name_len] = 0;
        *ret = (TemplateValue) {};
        k = r->lookup(r->userdata, name, ret);
        if (k == -ENOENT)
                return 0;
        if (k < 0)
                return fail(r, k, tag->start, "looking up '%s' failed: %s", name, strerror(-k));
        if (ret->type != TEMPLATE_VALUE_STRING && ret->type != TEMPLATE_VALUE_BOOL)
                return fail(r, -EINVAL, tag->start, "lookup of '%s' returned an invalid value type", name);
        return 1;
}

static int emit_variable(Renderer *r, const Tag *tag) {
        TemplateValue v;
        const char *reason = NULL;
        Span span;
        int k;

        k = lookup(r, tag, &v);
        if (k < 0)
                return k;
        if (k == 0)
                return fail(r, -ENOENT, tag->start, "unknown variable '%.*s'", (int) tag->name_len, tag->name);

        span = (Span) { .begin = r->out.len, .tag = *tag };
        if (v.type == TEMPLATE_VALUE_BOOL)
                k = buffer_append(&r->out, v.boolean ? "true" : "false", v.boolean ? 4 : 5);
        else
                k = escape_value(&r->out, r->format, strempty(v.string), v.string ? v.length : 0, &reason);
        if (k == -E2BIG)
                return fail(r, k, tag->start, "output larger than %zu bytes", (size_t) TEMPLATE_OUTPUT_MAX);
        if (k == -EINVAL)
                return fail(r, k, tag->start, "value of '%.*s' contains %s", (int) tag->name_len, tag->name,
                            strna(reason));
        if (k < 0)
                return fail(r, k, tag->start, "%s", strerror(-k));
        span.end = r->out.len;

        if (r->format == TEMPLATE_FORMAT_PHPFPM && span.end > span.begin) {
                if (r->n_spans == r->cap_spans) {
                        size_t cap = MAX(r->cap_spans * 2, (size_t) 16);
                        Span *s = reallocarray(r->spans, cap, sizeof(Span));
                        if (!s)
                                return fail(r, -ENOMEM, tag->start, "out of memory");
                        r->spans = s;
                        r->cap_spans = cap;
                }
                r->spans[r->n_spans++] = span;
        }
        return 0;
}

/* php-fpm replaces "$pool" after unescaping; refuse any occurrence that a
 * value took part in. Spans are in output order. */
static int check_pool_expansion(Renderer *r) {
        static const char needle[] = "$pool";
        const size_t nl = sizeof(needle) - 1;
        size_t s = 0;

        for (const char *p = r->out.data; p && (p = memmem(p, r->out.len - (size_t) (p - r->out.data), needle, nl));
             p++) {
                size_t b = (size_t) (p - r->out.data), e = b + nl;

                while (s < r->n_spans && r->spans[s].end <= b)
                        s++;
                if (s < r->n_spans && r->spans[s].begin < e)
                        return fail(r, -EINVAL, r->spans[s].tag.start,
                                    "value of '%.*s' forms \"$pool\", which php-fpm replaces by the pool name",
                                    (int) r->spans[s].tag.name_len, r->spans[s].tag.name);
        }
        return 0;
}

static int run(Renderer *r) {
        Frame stack[TEMPLATE_DEPTH_MAX];
        size_t depth = 0, pos = 0;
        bool active = true;
        int k;

        if (r->len > TEMPLATE_SIZE_MAX)
                return fail(r, -EFBIG, 0, "template larger than %zu bytes", (size_t) TEMPLATE_SIZE_MAX);
        if (r->len > 0 && memchr(r->text, 0, r->len))
                return fail(r, -EINVAL, (size_t) ((const char *) memchr(r->text, 0, r->len) - r->text),
                            "NUL byte in template");

        while (pos < r->len) {
                const char *open = memmem(r->text + pos, r->len - pos, "{{", 2);
                size_t lit_end, resume;
                Tag tag = {};

                if (!open) {
                        k = active ? emit_literal(r, pos, r->len) : 0;
                        if (k < 0)
                                return k;
                        break;
                }
                k = parse_tag(r, (size_t) (open - r->text), &tag);
                if (k < 0)
                        return k;
                standalone_extent(r, &tag, pos, &lit_end, &resume);
                if (active) {
                        k = emit_literal(r, pos, lit_end);
                        if (k < 0)
                                return k;
                }
                pos = resume;

                switch (tag.kind) {
                case TAG_COMMENT:
                        break;
                case TAG_VARIABLE:
                        k = !r->lookup ? add_name(r, &tag) : active ? emit_variable(r, &tag) : 0;
                        if (k == -ENOMEM)
                                return fail(r, k, tag.start, "out of memory");
                        if (k < 0)
                                return k;
                        break;
                case TAG_SECTION:
                case TAG_INVERTED: {
                        bool truthy = false;
                        TemplateValue v;

                        if (depth >= TEMPLATE_DEPTH_MAX)
                                return fail(r, -E2BIG, tag.start, "sections nested deeper than %d",
                                            TEMPLATE_DEPTH_MAX);
                        stack[depth++] = (Frame) { .tag = tag, .was_active = active };
                        if (!r->lookup) {
                                if (add_name(r, &tag) < 0)
                                        return fail(r, -ENOMEM, tag.start, "out of memory");
                                break;
                        }
                        if (!active)
                                break;
                        k = lookup(r, &tag, &v);
                        if (k < 0)
                                return k;
                        if (k > 0)
                                truthy = v.type == TEMPLATE_VALUE_BOOL ? v.boolean : v.string && v.length > 0;
                        active = tag.kind == TAG_SECTION ? truthy : !truthy;
                        break;
                }
                case TAG_CLOSE: {
                        const Tag *o;

                        if (depth == 0)
                                return fail(r, -EINVAL, tag.start, "closing tag '%.*s' without an opening section",
                                            (int) tag.name_len, tag.name);
                        o = &stack[depth - 1].tag;
                        if (o->name_len != tag.name_len || memcmp(o->name, tag.name, tag.name_len) != 0) {
                                unsigned line = 1, col = 1;
                                for (size_t i = 0; i < o->start; i++)
                                        if (r->text[i] == '\n')
                                                line++, col = 1;
                                        else
                                                col++;
                                return fail(r, -EINVAL, tag.start,
                                            "closing tag '%.*s' does not match section '%.*s' opened at %u:%u",
                                            (int) tag.name_len, tag.name, (int) o->name_len, o->name, line, col);
                        }
                        active = stack[--depth].was_active;
                        break;
                }
                }
        }
        if (depth > 0)
                return fail(r, -EINVAL, stack[depth - 1].tag.start, "section '%.*s' is never closed",
                            (int) stack[depth - 1].tag.name_len, stack[depth - 1].tag.name);
        if (r->format == TEMPLATE_FORMAT_PHPFPM)
                return check_pool_expansion(r);
        return 0;
}

static void renderer_done(Renderer *r) {
        buffer_wipe(&r->out);
        free(r->spans);
        template_names_free(r->names);
        free(r->name_slots);
        free(r->error);
}

int template_render(const char *template_name, const char *text, size_t len, TemplateFormat format,
                    TemplateLookup lookup_cb, void *userdata,
                    char **ret_output, size_t *ret_len, char **ret_error) {
        Renderer r = {
                .template_name = template_name,
                .text = text,
                .len = text ? len : 0,
                .format = format,
                .lookup = lookup_cb,
                .userdata = userdata,
        };
        int k;

        if (!lookup_cb || !ret_output || (unsigned) format >= _TEMPLATE_FORMAT_MAX)
                return -EINVAL;

        k = run(&r);
        if (k >= 0)
                k = buffer_reserve(&r.out, 0);  /* an empty output is still a string */
        if (k < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(r.error);
                renderer_done(&r);
                return k;
        }
        if (ret_len)
                *ret_len = r.out.len;
        r.out.data[r.out.len] = 0;
        *ret_output = TAKE_PTR(r.out.data);
        if (ret_error)
                *ret_error = NULL;
        renderer_done(&r);
        return 0;
}

int template_variables(const char *template_name, const char *text, size_t len,
                       char ***ret_names, size_t *ret_n, char **ret_error) {
        Renderer r = {
                .template_name = template_name,
                .text = text,
                .len = text ? len : 0,
        };
        int k;

        if (!ret_names)
                return -EINVAL;
        k = run(&r);
        if (k >= 0 && !r.names) {
                r.names = calloc(1, sizeof(char *));
                if (!r.names)
                        k = -ENOMEM;
        }
        if (k < 0) {
                if (ret_error)
                        *ret_error = TAKE_PTR(r.error);
                renderer_done(&r);
                return k;
        }
        if (ret_n)
                *ret_n = r.n_names;
        *ret_names = TAKE_PTR(r.names);
        if (ret_error)
                *ret_error = NULL;
        renderer_done(&r);
        return 0;
}

void template_names_free(char **names) {
        if (!names)
                return;
        for (char **p = names; *p; p++)
                free(*p);
        free(names);
}

int template_escape(TemplateFormat format, const char *value, size_t len, char **ret, size_t *ret_len) {
        Buffer b = {};
        const char *reason = NULL;
        int r;

        r = buffer_reserve(&b, len);
        if (r >= 0)
                r = escape_value(&b, format, value, len, &reason);
        if (r < 0) {
                buffer_wipe(&b);
                return r;
        }
        /* An empty value appends nothing: terminate here, not in append. */
        b.data[b.len] = 0;
        *ret = b.data;
        if (ret_len)
                *ret_len = b.len;
        return 0;
}
