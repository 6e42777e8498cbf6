/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <regex.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "logs-settings.h"
#include "parse-util.h"

static const char *const priority_names[] = {
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

int log_priority_from_string(const char *s) {
        unsigned u;

        if (isempty(s))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(priority_names); i++)
                if (streq(s, priority_names[i]))
                        return (int) i;
        if (parse_uint(s, 0, 7, &u) < 0)
                return -EINVAL;
        return (int) u;
}

int logs_conf_parse_priority(const char *v, void *field, const char **reason) {
        int p = log_priority_from_string(v);

        if (p < 0) {
                *reason = "not a priority (0-7, or emerg, alert, crit, err, warning, notice, info, debug)";
                return -EINVAL;
        }
        *(int *) field = p;
        return 0;
}

int logs_conf_parse_interval(const char *v, void *field, const char **reason) {
        usec_t u;

        if (parse_duration(v, &u) < 0 || u < 100 * USEC_PER_MSEC || u > USEC_PER_HOUR) {
                *reason = "not a duration from 100ms to 1h";
                return -EINVAL;
        }
        *(usec_t *) field = u;
        return 0;
}

bool log_group_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n < 1 || n > 512)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char) *p) && !strchr("_./#-", *p))
                        return false;
        return true;
}

bool log_stream_name_valid(const char *s) {
        size_t n = s ? strlen(s) : 0;

        if (n < 1 || n > 512)
                return false;
        for (const char *p = s; *p; p++)
                if (*p == ':' || *p == '*' || (unsigned char) *p < 0x20)
                        return false;
        return true;
}

int log_stream_name_expand(const char *template, const char *source_name, const char *instance_id,
                           const char *hostname, char **ret) {
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        FILE *f;

        f = open_memstream(&out, &len);
        if (!f)
                return -ENOMEM;
        for (const char *p = template; *p; p++) {
                const char *end, *v;
                size_t k;

                if (*p != '{') {
                        fputc(*p, f);
                        continue;
                }
                end = strchr(p, '}');
                if (!end) {
                        fclose(f);
                        return -EINVAL;
                }
                k = (size_t) (end - p - 1);
                if (k == 11 && strncmp(p + 1, "instance.id", k) == 0)
                        v = instance_id;
                else if (k == 4 && strncmp(p + 1, "name", k) == 0)
                        v = source_name;
                else if (k == 8 && strncmp(p + 1, "hostname", k) == 0)
                        v = hostname;
                else {
                        fclose(f);
                        return -EINVAL;
                }
                fputs(strempty(v), f);
                p = end;
        }
        if (fclose(f) != 0)
                return -ENOMEM;
        if (!log_stream_name_valid(out))
                return -EINVAL;
        *ret = TAKE_PTR(out);
        return 0;
}

#define LOGS_ITEM(k, p, f) { k, p, offsetof(LogsSettings, f) }
static const ConfItem logs_items[] = {
        LOGS_ITEM("log_group", conf_parse_string, log_group),
        LOGS_ITEM("flush_interval", logs_conf_parse_interval, flush_interval),
        LOGS_ITEM("state_dir", conf_parse_abs_path, state_dir),
        LOGS_ITEM("create_group", conf_parse_bool, create_group),
        LOGS_ITEM("partial_line_timeout", logs_conf_parse_interval, partial_timeout),
        {}
};

#define SOURCE_ITEM(k, p, f) { k, p, offsetof(LogSourceSettings, f) }
static const ConfItem source_items[] = {
        SOURCE_ITEM("file", conf_parse_string, file),
        SOURCE_ITEM("journal", conf_parse_string, journal),
        SOURCE_ITEM("journal_directory", conf_parse_abs_path, journal_directory),
        SOURCE_ITEM("priority", logs_conf_parse_priority, priority),
        SOURCE_ITEM("group", conf_parse_string, group),
        SOURCE_ITEM("stream", conf_parse_string, stream),
        SOURCE_ITEM("multiline_start", conf_parse_string, multiline_start),
        SOURCE_ITEM("timestamp_format", conf_parse_string, timestamp_format),
        {}
};

static int source_init(void *item) {
        *(LogSourceSettings *) item = (LogSourceSettings) { .priority = -1 };
        return 0;
}

static void source_done(void *item) {
        LogSourceSettings *s = item;

        free(s->file);
        free(s->journal);
        free(s->journal_directory);
        free(s->group);
        free(s->stream);
        free(s->multiline_start);
        free(s->timestamp_format);
}

const ConfSection logs_conf_section = {
        .name = "logs",
        .items = logs_items,
};

const ConfSection log_source_conf_section = {
        .name = "logs",
        .items = source_items,
        .named = true,
        .max = LOG_SOURCE_MAX,
        .size = sizeof(LogSourceSettings),
        .name_offset = offsetof(LogSourceSettings, name),
        .init = source_init,
        .done = source_done,
};

int logs_settings_init(LogsSettings *s) {
        *s = (LogsSettings) {
                .log_group = strdup(LOGS_DEFAULT_GROUP),
                .flush_interval = 5 * USEC_PER_SEC,
                .partial_timeout = 5 * USEC_PER_SEC,
        };
        return s->log_group ? 0 : -ENOMEM;
}

void logs_settings_done(LogsSettings *s) {
        s->log_group = mfree(s->log_group);
        s->state_dir = mfree(s->state_dir);
}

/* Each whitespace-separated word; count them. */
static size_t count_words(const char *s, bool (*valid)(const char *w, size_t n), bool *ok) {
        size_t n = 0;

        *ok = true;
        for (const char *p = s; *p;) {
                size_t l;

                p += strspn(p, " \t");
                l = strcspn(p, " \t");
                if (l == 0)
                        break;
                if (!valid(p, l))
                        *ok = false;
                n++;
                p += l;
        }
        return n;
}

static bool glob_valid(const char *w, size_t n) {
        return w[0] == '/' && n < 4096;
}

/* FIELD=VALUE with FIELD as journald accepts it: A-Z, 0-9, '_', not
 * starting with a digit, at most 64. */
static bool match_valid(const char *w, size_t n) {
        const char *eq = memchr(w, '=', n);
        size_t k = eq ? (size_t) (eq - w) : 0;

        if (n == 1 && w[0] == '*')
                return true;
        if (k == 0 || k > 64 || isdigit((unsigned char) w[0]))
                return false;
        for (size_t i = 0; i < k; i++)
                if (!(isupper((unsigned char) w[i]) || isdigit((unsigned char) w[i]) || w[i] == '_'))
                        return false;
        return true;
}

static const char *source_invalid(const LogsSettings *s, const LogSourceSettings *k) {
        static char why[128];
        _cleanup_free_ char *stream = NULL;
        size_t n;
        bool ok;

        if (!!k->file == !!k->journal)
                return "exactly one of file= or journal= is required";
        if (k->file) {
                n = count_words(k->file, glob_valid, &ok);
                if (n == 0 || !ok)
                        return "file= needs absolute paths or globs (/var/log/nginx/*.log), space-separated";
                if (n > LOG_SOURCE_MAX_GLOBS)
                        return "file= takes at most 16 globs";
                if (k->journal_directory || k->priority >= 0)
                        return "journal_directory= and priority= only go with journal=";
        } else {
                n = count_words(k->journal, match_valid, &ok);
                if (n == 0 || !ok)
                        return "journal= needs FIELD=VALUE matches (_SYSTEMD_UNIT=nginx.service), or * for all";
                if (n > LOG_SOURCE_MAX_MATCHES)
                        return "journal= takes at most 16 matches";
                if (k->multiline_start || k->timestamp_format)
                        return "multiline_start= and timestamp_format= only go with file=";
        }
        if (k->group && !log_group_name_valid(k->group))
                return "group= is not a CloudWatch Logs group name (1-512 of A-Z a-z 0-9 _ . / # -)";
        if (log_stream_name_expand(k->stream ?: LOGS_DEFAULT_STREAM, k->name, "i-0123456789abcdef0", "host",
                                   &stream) < 0)
                return "stream= has an unknown {placeholder} (known: {instance.id}, {name}, {hostname}) "
                       "or gives an invalid name (1-512 bytes, no ':' or '*')";
        if (k->multiline_start) {
                regex_t re;
                int r = regcomp(&re, k->multiline_start, REG_EXTENDED | REG_NOSUB);
                if (r != 0) {
                        char e[64];
                        regerror(r, &re, e, sizeof(e));
                        snprintf(why, sizeof(why), "multiline_start= is not a POSIX extended regex: %s", e);
                        return why;
                }
                regfree(&re);
        }
        if (k->timestamp_format && (!strchr(k->timestamp_format, '%') || strlen(k->timestamp_format) > 128))
                return "timestamp_format= is not a strptime(3) format (example: %Y/%m/%d %H:%M:%S)";
        (void) s;
        return NULL;
}

int logs_settings_verify(const LogsSettings *s, LogSourceSettings *const *list, size_t n, char **ret_error) {
        if (!log_group_name_valid(s->log_group))
                return conf_error(ret_error, "[logs]: log_group= is not a CloudWatch Logs group name "
                                  "(1-512 of A-Z a-z 0-9 _ . / # -)");
        for (size_t i = 0; i < n; i++) {
                const char *why = source_invalid(s, list[i]);
                if (why)
                        return conf_error(ret_error, "[logs.%s]: %s", list[i]->name, why);
        }
        return 0;
}
