/* SPDX-License-Identifier: MIT */
#pragma once

#include "conf-parser.h"

int conf_parse_attempts(const char *v, void *field, const char **reason);
int conf_parse_token_ttl(const char *v, void *field, const char **reason);
int conf_parse_region(const char *v, void *field, const char **reason);
