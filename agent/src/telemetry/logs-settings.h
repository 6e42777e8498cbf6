/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What [logs] and [logs.NAME] say, owned by the telemetry layer. [logs]
 * holds the defaults (the group, how often a batch goes, where checkpoints
 * live, whether a missing group may be created); each [logs.NAME] is one
 * source: files (globs, re-scanned) or the journal (matches and a minimum
 * priority), with its group and stream, a multiline start pattern and a
 * timestamp format. The config engine matches the plain section [logs] and
 * the named kind [logs.NAME] separately, so both can be declared.
 *
 * Sources are copied by the subsystem at start: changes to them take effect
 * on restart (a SIGHUP keeps the running ones).
 */

#include <stdbool.h>
#include <stdint.h>

#include "conf-parser.h"
#include "macro.h"

#define LOGS_DEFAULT_GROUP "/aws/ec2/php-app"
#define LOGS_DEFAULT_STREAM "{instance.id}/{name}"
#define LOG_SOURCE_MAX 32
#define LOG_SOURCE_MAX_GLOBS 16
#define LOG_SOURCE_MAX_MATCHES 16

/* [logs] */
typedef struct LogsSettings {
        char *log_group;
        usec_t flush_interval;          /* a batch goes at least this often */
        char *state_dir;                /* checkpoints; NULL: [agent] state_dir + "/logs" */
        bool create_group;              /* CreateLogGroup when the group is missing */
        usec_t partial_timeout;         /* a last line without newline goes after this */
} LogsSettings;

typedef enum LogSourceType {
        LOG_SOURCE_FILE,
        LOG_SOURCE_JOURNAL,
        _LOG_SOURCE_TYPE_INVALID = -1,
} LogSourceType;

/* [logs.NAME] */
typedef struct LogSourceSettings {
        char *name;
        char *file;                     /* whitespace-separated absolute globs */
        char *journal;                  /* whitespace-separated FIELD=VALUE matches, or "*" */
        char *journal_directory;        /* read journal files there instead of the system journal */
        int priority;                   /* journal: at most this (0 emerg .. 7 debug); -1 any */
        char *group;                    /* NULL: [logs] log_group */
        char *stream;                   /* template: {instance.id}, {name}, {hostname} */
        char *multiline_start;          /* POSIX extended regex: a matching line starts an event */
        char *timestamp_format;         /* strptime(3) at the start of the line; else the time read */
} LogSourceSettings;

extern const ConfSection logs_conf_section;
extern const ConfSection log_source_conf_section;

int logs_settings_init(LogsSettings *s);
void logs_settings_done(LogsSettings *s);

static inline LogSourceType log_source_type(const LogSourceSettings *s) {
        return s->file ? LOG_SOURCE_FILE : s->journal ? LOG_SOURCE_JOURNAL : _LOG_SOURCE_TYPE_INVALID;
}

/* After all files: one of file= or journal=, the keys only one of them
 * takes, absolute globs, valid matches, a regex that compiles, group names
 * CloudWatch accepts and stream templates with known placeholders. -EINVAL
 * with *ret_error "[logs.NAME]: ..."; -ENOMEM. */
int logs_settings_verify(const LogsSettings *s, LogSourceSettings *const *list, size_t n, char **ret_error);

/* CloudWatch Logs names: a group is 1..512 of [A-Za-z0-9_./#-]; a stream
 * 1..512 bytes without ':' or '*'. */
bool log_group_name_valid(const char *s);
bool log_stream_name_valid(const char *s);

/* The stream name of a source: the template with {instance.id}, {name} and
 * {hostname} replaced. -EINVAL on an unknown placeholder or an invalid
 * result. */
int log_stream_name_expand(const char *template, const char *source_name, const char *instance_id,
                           const char *hostname, char **ret);

/* "err" or "3" → 3. */
int log_priority_from_string(const char *s);

int logs_conf_parse_priority(const char *v, void *field, const char **reason);
int logs_conf_parse_interval(const char *v, void *field, const char **reason);
