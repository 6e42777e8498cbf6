/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The value syntaxes of the config file, one parser each, used by the key
 * tables in conf.c: they store into `field` and return 0, or a negative
 * errno with `reason` set for the error message. Internal to conf.c.
 */

#include <stddef.h>

typedef int (*ConfParser)(const char *value, void *field, const char **reason);

typedef struct ConfItem {
        const char *key;
        ConfParser parse;
        size_t offset;
} ConfItem;

int conf_parse_string(const char *v, void *field, const char **reason);
int conf_parse_duration(const char *v, void *field, const char **reason);
int conf_parse_size(const char *v, void *field, const char **reason);
int conf_parse_bool(const char *v, void *field, const char **reason);
int conf_parse_attempts(const char *v, void *field, const char **reason);
int conf_parse_token_ttl(const char *v, void *field, const char **reason);
int conf_parse_log_level(const char *v, void *field, const char **reason);
int conf_parse_url(const char *v, void *field, const char **reason);
int conf_parse_path(const char *v, void *field, const char **reason);
int conf_parse_region(const char *v, void *field, const char **reason);
int conf_parse_mode(const char *v, void *field, const char **reason);
int conf_parse_format(const char *v, void *field, const char **reason);
int conf_parse_unit(const char *v, void *field, const char **reason);
int conf_parse_name(const char *v, void *field, const char **reason);
int conf_parse_abs_path(const char *v, void *field, const char **reason);
int conf_parse_listen(const char *v, void *field, const char **reason);
int conf_parse_connections(const char *v, void *field, const char **reason);
int conf_parse_check_type(const char *v, void *field, const char **reason);
int conf_parse_rise_fall(const char *v, void *field, const char **reason);
int conf_parse_http_status(const char *v, void *field, const char **reason);
int conf_parse_port(const char *v, void *field, const char **reason);
int conf_parse_threshold(const char *v, void *field, const char **reason);
int conf_parse_check_interval(const char *v, void *field, const char **reason);
