/* SPDX-License-Identifier: MIT */
#pragma once

#include "conf-parser.h"

int conf_parse_attempts(const char *v, void *field, const char **reason);
int conf_parse_token_ttl(const char *v, void *field, const char **reason);
int conf_parse_region(const char *v, void *field, const char **reason);
int conf_parse_listen(const char *v, void *field, const char **reason);
int conf_parse_connections(const char *v, void *field, const char **reason);
int conf_parse_check_type(const char *v, void *field, const char **reason);
int conf_parse_rise_fall(const char *v, void *field, const char **reason);
int conf_parse_http_status(const char *v, void *field, const char **reason);
int conf_parse_threshold(const char *v, void *field, const char **reason);
int conf_parse_check_interval(const char *v, void *field, const char **reason);
