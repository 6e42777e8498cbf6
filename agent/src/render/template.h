/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Mustache-style templates for the config files agentd renders (nginx
 * server blocks, php-fpm pools, the app's env file, JSON), pure: no I/O, no
 * logging. Values come from a lookup callback; the caller picks the format
 * of the file, and every substituted value is escaped for that format, so
 * no value (a secret, a tag someone typed in the console) can end its
 * quoted string and add a directive. A value that the format cannot
 * represent at all is refused, naming the variable, never quoting the
 * value: values are secrets, and error strings end up in the journal.
 *
 * Syntax: {{name}} (name: [A-Za-z0-9_.:-]+, no empty dot-separated part,
 * blanks allowed inside the braces), {{#name}}...{{/name}} rendered when the
 * value is a non-empty string or true, {{^name}}...{{/name}} when it is
 * absent, false or empty, {{! comment }}. A name unknown to the lookup is an
 * error in {{name}} and "absent" in a section test, so templates can test
 * optional things (tags). Section, inverted, closing and comment tags alone
 * on their line take the line with them, as in the mustache spec. Not
 * supported, each refused with an error: {{{name}}} and {{&name}}
 * (unescaped output), partials {{>x}}, delimiter changes {{=<% %>=}}, lists.
 * Text inside a section that is not rendered is still parsed (a template is
 * valid or not whatever the values), but its variables are not looked up.
 *
 * The template puts each value inside a double-quoted string of the target
 * format; escaping assumes that, and assumes the template does not glue a
 * literal '$' or '\' right before a value.
 *
 *   format   | escaped                         | refused
 *   ---------+---------------------------------+-----------------------------
 *   raw      | nothing (tests, plain text)     | NUL
 *   nginx    | \ -> \\   " -> \"               | NUL
 *            | $ -> ${dollar}                  |
 *   php-fpm  | \ -> \\   " -> \"   $ -> \$     | NUL, newline, "$pool"
 *   env      | \ -> \\   " -> \"   $ -> \$     | NUL, CR, backtick, bad UTF-8
 *            | newline stays a raw newline     |
 *   json     | \ -> \\   " -> \"   control     | NUL, bad UTF-8
 *            | characters -> \n \t \r \b \f \u00XX |
 *
 * nginx: inside "..." the config parser turns \" \' \\ \t \r \n into the
 * character and keeps everything else, raw newlines, ';', '{', '}', '#'
 * included. '$' has no escape: in the directives that take variables
 * (return, fastcgi_param, add_header, proxy_set_header, set...) it starts a
 * variable, and "$ " or "$x" fail the config or silently substitute. So a
 * '$' becomes ${dollar}, and a template using this format defines, at http
 * level: geo $dollar { default "$"; } (geo values are literal, unlike map
 * values). We chose this over refusing '$': Secrets Manager's generated
 * passwords contain '$' often, and they are passed by fastcgi_param. A
 * template that forgets the geo fails `nginx -t` loudly ("unknown dollar
 * variable"). In directives without variables ${dollar} would stay
 * literal; do not put values that may hold '$' there (server_name cannot
 * hold one anyway). nginx refuses a token over 4 KiB ("too long
 * parameter"): keep values shorter.
 *
 * php-fpm: the pool file is read line by line, each line through PHP's INI
 * scanner (normal mode). Inside "...": \" \\ \$ are escapes, other
 * backslashes stay, ${NAME} expands an environment variable, ';' '=' '#'
 * '{' '}' and non-ASCII are literal, a raw newline is a syntax error and
 * "\n" stays two characters: a newline cannot be represented. After the
 * INI scanner, php-fpm replaces every "$pool" with the pool name, with no
 * escape, so a value forming "$pool" (alone or with the text around it) is
 * refused. php-fpm also refuses an empty value (env[X] = ""): wrap such
 * lines in {{#name}}.
 *
 * env: KEY="value" lines read by systemd's EnvironmentFile= (parse_env_file),
 * by PHP dotenv parsers (vlucas/phpdotenv) and by `set -a; . FILE` in a
 * shell. In "...", all three turn \" \\ \$ into the character and keep a
 * raw newline; they disagree on everything else: "\n" is a newline only for
 * phpdotenv, \` is a backtick for systemd and sh but an error for
 * phpdotenv, a raw ` is command substitution in sh, a raw CR is a newline
 * for phpdotenv. Hence newline stays raw and CR and backtick are refused.
 * systemd refuses the whole file on invalid UTF-8.
 *
 * json: RFC 8259 string escaping; JSON text is UTF-8.
 */

#include <stdbool.h>
#include <stddef.h>

#define TEMPLATE_SIZE_MAX ((size_t) 1024 * 1024)
#define TEMPLATE_OUTPUT_MAX ((size_t) 4 * 1024 * 1024)
#define TEMPLATE_DEPTH_MAX 32
#define TEMPLATE_NAME_MAX 255

typedef enum TemplateFormat {
        TEMPLATE_FORMAT_RAW,
        TEMPLATE_FORMAT_NGINX,
        TEMPLATE_FORMAT_PHPFPM,
        TEMPLATE_FORMAT_ENV,
        TEMPLATE_FORMAT_JSON,
        _TEMPLATE_FORMAT_MAX,
} TemplateFormat;

typedef enum TemplateValueType {
        TEMPLATE_VALUE_STRING,
        TEMPLATE_VALUE_BOOL,
} TemplateValueType;

typedef struct TemplateValue {
        TemplateValueType type;
        const char *string;     /* STRING: `length` bytes, need not be NUL-terminated */
        size_t length;
        bool boolean;           /* BOOL; {{name}} renders "true" or "false" */
} TemplateValue;

/* Returns 0 and fills *ret, -ENOENT for an unknown name, or another negative
 * errno, which aborts rendering. The string stays owned by the callback and
 * must stay valid until the next call. */
typedef int (*TemplateLookup)(void *userdata, const char *name, TemplateValue *ret);

/* "raw", "nginx", "php-fpm", "env", "json"; -EINVAL for anything else. */
int template_format_from_string(const char *s);
const char *template_format_to_string(TemplateFormat f);

/* Renders text (len bytes; template_name only names it in errors). On
 * success returns 0, *ret_output (NUL-terminated, *ret_len bytes, holds
 * secrets: wipe it) and *ret_error = NULL. On failure returns a negative
 * errno and *ret_error = "TEMPLATE_NAME:LINE:COLUMN: message" (1-based,
 * column in bytes, of the offending tag's "{{"), which may be NULL when out
 * of memory. ret_len and ret_error may be NULL. */
int template_render(const char *template_name, const char *text, size_t len, TemplateFormat format,
                    TemplateLookup lookup, void *userdata,
                    char **ret_output, size_t *ret_len, char **ret_error);

/* Every name the template references ({{x}} and section tests), each once,
 * in order of first use, as a NULL-terminated array (free with
 * template_names_free()). Checks the syntax as template_render() does. */
int template_variables(const char *template_name, const char *text, size_t len,
                       char ***ret_names, size_t *ret_n, char **ret_error);

void template_names_free(char **names);

/* value (len bytes) as template_render() writes it into a file of this
 * format: what a tool quoting that file (nginx -t, php-fpm -t) may print,
 * so callers can redact it. -EINVAL if the format cannot hold the value.
 * *ret is NUL-terminated and holds a secret: wipe it. */
int template_escape(TemplateFormat format, const char *value, size_t len, char **ret, size_t *ret_len);
