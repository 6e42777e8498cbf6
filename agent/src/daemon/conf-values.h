/* SPDX-License-Identifier: MIT */
#pragma once

#include "conf-parser.h"

int conf_parse_mode(const char *v, void *field, const char **reason);
int conf_parse_format(const char *v, void *field, const char **reason);
int conf_parse_listen(const char *v, void *field, const char **reason);
int conf_parse_connections(const char *v, void *field, const char **reason);
int conf_parse_check_type(const char *v, void *field, const char **reason);
int conf_parse_rise_fall(const char *v, void *field, const char **reason);
int conf_parse_http_status(const char *v, void *field, const char **reason);
int conf_parse_threshold(const char *v, void *field, const char **reason);
int conf_parse_check_interval(const char *v, void *field, const char **reason);
