/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "conf-parser.h"

typedef struct ParseState {
        const ConfTable *table;
        void *root;
        FILE *file;
        int line;
        int section_line;
        char *error;            /* first error, without file:line */
        int error_line;
        int error_r;
} ParseState;

static int set_error(ParseState *st, int r, const char *fmt, ...) _printf_(3, 4);
static int set_error(ParseState *st, int r, const char *fmt, ...) {
        va_list ap;

        if (st->error)
                return 0;       /* keep the first */
        st->error_line = st->line;
        va_start(ap, fmt);
        if (vasprintf(&st->error, fmt, ap) < 0)
                st->error = NULL;
        va_end(ap);
        st->error_r = r;
        return 0;
}

/* inih reads lines through us, so we know the line of every callback and
 * of the current section header, and can refuse what inih would silently
 * mangle: an over-long line (it splits it at INI_MAX_LINE) and a NUL byte
 * (it would end the line there and parse the tail as a new line). */
static char *conf_reader(char *str, int num, void *stream) {
        ParseState *st = stream;
        size_t l = 0;
        bool nul = false, overlong = false;
        int ch = EOF;
        char *s;

        while ((ch = fgetc(st->file)) != EOF) {
                if (ch == '\n')
                        break;
                if (ch == 0)
                        nul = true;
                else if (l < (size_t) num - 2)
                        str[l++] = (char) ch;
                else
                        overlong = true;
        }
        if (ch == EOF && l == 0 && !nul && !overlong)
                return NULL;
        st->line++;
        str[l++] = '\n';
        str[l] = 0;
        if (nul || overlong) {
                set_error(st, nul ? -EINVAL : -E2BIG, nul ? "line holds a NUL byte" : "line longer than %d bytes",
                          num - 2);
                /* Hand inih a comment instead of a damaged line. */
                strcpy(str, "#\n");
                return str;
        }
        for (s = str; *s == ' ' || *s == '\t'; s++)
                ;
        if (*s == '[')
                st->section_line = st->line;
        return str;
}

static const ConfItem *find_item(const ConfItem *items, const char *key) {
        for (const ConfItem *i = items; i->key; i++)
                if (streq(i->key, key))
                        return i;
        return NULL;
}

static int apply(ParseState *st, const ConfSection *sec, void *base, const char *section, const char *key,
                 const char *value) {
        const char *reason = NULL;
        const ConfItem *item;
        int r;

        if (!sec->items) {
                r = sec->set(base, key, value, &reason);
                if (r == -ENOMEM)
                        return set_error(st, r, "out of memory");
                if (r < 0)
                        return set_error(st, r, "[%s] %s: %s", section, key, strna(reason));
                return 1;
        }
        item = find_item(sec->items, key);
        if (!item)
                return set_error(st, -EINVAL, "[%s]: unknown key '%s'", section, key);
        r = item->parse(value, (uint8_t *) base + item->offset, &reason);
        if (r == -ENOMEM)
                return set_error(st, r, "out of memory");
        if (r < 0)
                /* Values are echoed: config files hold no secrets (those come
                 * from Secrets Manager), and the operator needs to see it. */
                return set_error(st, r, "[%s] %s=%s: %s", section, key, value, strna(reason));
        return 1;
}

bool conf_name_valid(const char *n) {
        if (isempty(n) || strlen(n) > 64)
                return false;
        for (const char *p = n; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                      *p == '_' || *p == '-'))
                        return false;
        return true;
}

void *conf_list_find(const ConfList *l, const ConfSection *s, const char *name) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(conf_list_item_name(s, l->items[i]), name))
                        return l->items[i];
        return NULL;
}

static void item_free(const ConfSection *s, void *item) {
        if (!item)
                return;
        if (s->done)
                s->done(item);
        free(*(char **) ((char *) item + s->name_offset));
        free(item);
}

void conf_list_free(ConfList *l, const ConfSection *s) {
        for (size_t i = 0; i < l->n; i++)
                item_free(s, l->items[i]);
        l->items = mfree(l->items);
        l->n = 0;
}

/* Find or add the item NAME. -E2BIG past the section's max. */
static int list_get(ConfList *l, const ConfSection *s, const char *name, void **ret) {
        void **a, *item = conf_list_find(l, s, name);
        int r;

        if (item) {
                *ret = item;
                return 0;
        }
        if (l->n >= s->max)
                return -E2BIG;
        a = realloc(l->items, (l->n + 1) * sizeof(void *));
        if (!a)
                return -ENOMEM;
        l->items = a;
        item = calloc(1, s->size);
        if (!item)
                return -ENOMEM;
        if (s->init && (r = s->init(item)) < 0) {
                free(item);
                return r;
        }
        *(char **) ((char *) item + s->name_offset) = strdup(name);
        if (!conf_list_item_name(s, item)) {
                item_free(s, item);
                return -ENOMEM;
        }
        l->items[l->n++] = item;
        *ret = item;
        return 0;
}

/* An error about the section itself points at its header line. */
static int section_error(ParseState *st, int r, const char *section, const char *name) {
        if (name)
                set_error(st, r, "[%s]: invalid name '%s' (letters, digits, '_' and '-', at most 64)", section, name);
        else
                set_error(st, r, "unknown section [%s]", section);
        if (st->error_line == st->line)
                st->error_line = st->section_line;
        return 0;
}

static int conf_ini_handler(void *user, const char *section, const char *key, const char *value) {
        ParseState *st = user;
        const char *dot;

        if (!key)               /* section header alone (INI_CALL_HANDLER_ON_NEW_SECTION) */
                return 1;
        if (isempty(section))
                return set_error(st, -EINVAL, "key '%s' outside of any section", key);
        dot = strchr(section, '.');
        for (size_t i = 0; i < st->table->n; i++) {
                const ConfSection *s = st->table->refs[i].section;
                void *base = (uint8_t *) st->root + st->table->refs[i].offset;
                size_t kl = strlen(s->name);
                void *item;
                int r;

                if (!s->named) {
                        if (streq(section, s->name))
                                return apply(st, s, base, section, key, value);
                        continue;
                }
                if (!dot || (size_t) (dot - section) != kl || strncmp(section, s->name, kl) != 0)
                        continue;
                if (!conf_name_valid(dot + 1))
                        return section_error(st, -EINVAL, section, dot + 1);
                r = list_get(base, s, dot + 1, &item);
                if (r == -E2BIG)
                        return set_error(st, r, "[%s]: more than %zu [%s.*] sections", section, s->max, s->name);
                if (r < 0)
                        return set_error(st, r, "out of memory");
                return apply(st, s, item, section, key, value);
        }
        return section_error(st, -EINVAL, section, NULL);
}

int conf_parse_file(const ConfTable *t, void *root, const char *filename, char **ret_error) {
        ParseState st = { .table = t, .root = root };
        _cleanup_fclose_ FILE *f = NULL;
        int line, r;

        /* A FIFO or a device would block the reader, and a FIFO blocks
         * open() itself without O_NONBLOCK: regular files only. */
        {
                _cleanup_close_ int fd = open(filename, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
                struct stat sb;

                if (fd < 0) {
                        r = negative_errno();
                        return conf_error(ret_error, "%s: cannot open: %s", filename, strerror(-r)), r;
                }
                if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
                        return conf_error(ret_error, "%s: not a regular file", filename), -EBADFD;
                f = fdopen(fd, "r");
                if (!f)
                        return conf_error(ret_error, "%s: cannot open: out of memory", filename), -ENOMEM;
                TAKE_FD(fd);
        }
        st.file = f;
        line = ini_parse_stream(conf_reader, &st, conf_ini_handler, &st);
        if (line < 0 && !st.error)
                return conf_error(ret_error, "%s: cannot parse (out of memory)", filename), -ENOMEM;
        if (line > 0 || st.error) {
                /* inih's own syntax errors and ours: report the earlier. */
                bool syntax = line > 0 && (!st.error || line < st.error_line);
                r = syntax ? -EINVAL : st.error_r < 0 ? st.error_r : -EINVAL;
                conf_error(ret_error, "%s:%d: %s", filename, syntax ? line : st.error_line,
                           syntax ? "syntax error (expected [section], key = value or a # comment)" : st.error);
                free(st.error);
                return r;
        }
        return 0;
}

static int add_source(char ***sources, size_t *n, const char *f) {
        char **a = realloc(*sources, (*n + 1) * sizeof(char *));

        if (!a)
                return -ENOMEM;
        *sources = a;
        a[*n] = strdup(f);
        if (!a[*n])
                return -ENOMEM;
        (*n)++;
        return 0;
}

static int parse_one(const ConfTable *t, void *root, const char *f, char ***sources, size_t *n_sources,
                     char **ret_error) {
        int r = conf_parse_file(t, root, f, ret_error);
        return r < 0 ? r : add_source(sources, n_sources, f);
}

static int conf_filter(const struct dirent *d) {
        size_t l = strlen(d->d_name);
        return d->d_name[0] != '.' && l > 5 && streq(d->d_name + l - 5, ".conf");
}

int conf_parse_path(const ConfTable *t, void *root, const char *path, const char *main_name,
                    const char *dropin_dir, char ***sources, size_t *n_sources, char **ret_error) {
        _cleanup_free_ char *main_file = NULL, *dropins = NULL;
        struct dirent **names = NULL;
        struct stat st;
        int n, r;

        if (stat(path, &st) < 0) {
                r = negative_errno();
                return conf_error(ret_error, "%s: %s", path, strerror(-r)), r;
        }
        if (!S_ISDIR(st.st_mode))
                return parse_one(t, root, path, sources, n_sources, ret_error);
        if (asprintf(&main_file, "%s/%s", path, main_name) < 0 || asprintf(&dropins, "%s/%s", path, dropin_dir) < 0)
                return -ENOMEM;
        if (access(main_file, F_OK) == 0) {
                r = parse_one(t, root, main_file, sources, n_sources, ret_error);
                if (r < 0)
                        return r;
        }
        n = scandir(dropins, &names, conf_filter, alphasort);
        if (n < 0 && errno != ENOENT) {
                r = negative_errno();
                return conf_error(ret_error, "%s: %s", dropins, strerror(-r)), r;
        }
        r = 0;
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *f = NULL;
                if (r >= 0)
                        r = asprintf(&f, "%s/%s", dropins, names[i]->d_name) < 0
                                    ? -ENOMEM
                                    : parse_one(t, root, f, sources, n_sources, ret_error);
                free(names[i]);
        }
        free(names);
        return r;
}

int conf_error(char **ret_error, const char *fmt, ...) {
        va_list ap;

        if (!ret_error)
                return -EINVAL;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
        return -EINVAL;
}
