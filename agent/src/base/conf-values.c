/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>

#include "conf-parser.h"
#include "log.h"
#include "parse-util.h"

/* The value syntaxes many sections share. Each returns 0 or a negative
 * errno and fills `reason` for the message. */
int conf_parse_string(const char *v, void *field, const char **reason) {
        if (strlen(v) > 4096) {
                *reason = "value longer than 4096 bytes";
                return -ERANGE;
        }
        return free_and_strdup(field, isempty(v) ? NULL : v);
}

int conf_parse_duration(const char *v, void *field, const char **reason) {
        int r = parse_duration(v, field);
        if (r < 0)
                *reason = r == -ERANGE ? "duration out of range"
                                       : "not a duration (examples: 30s, 5m, 1h30m, 250ms)";
        return r;
}

int conf_parse_size(const char *v, void *field, const char **reason) {
        int r = parse_size(v, field);
        if (r < 0)
                *reason = r == -ERANGE ? "size out of range" : "not a size (examples: 512KiB, 10MiB, 1G)";
        return r;
}

int conf_parse_bool(const char *v, void *field, const char **reason) {
        int r = parse_bool(v, field);
        if (r < 0)
                *reason = "not a boolean (yes/no, true/false, on/off, 1/0)";
        return r;
}

int conf_parse_log_level(const char *v, void *field, const char **reason) {
        int l = log_level_from_string(v);
        if (l < 0) {
                *reason = "not a log level (debug, info, notice, warning, error, crit)";
                return l;
        }
        *(int *) field = l;
        return 0;
}

int conf_parse_url(const char *v, void *field, const char **reason) {
        if (!isempty(v) && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
                *reason = "not an http:// or https:// URL";
                return -EINVAL;
        }
        return conf_parse_string(v, field, reason);
}

int conf_parse_socket_path(const char *v, void *field, const char **reason) {
        if (isempty(v) || v[0] != '/') {
                *reason = "not an absolute path";
                return -EINVAL;
        }
        if (strlen(v) >= 108) {
                *reason = "socket path longer than 107 bytes";
                return -ERANGE;
        }
        return conf_parse_string(v, field, reason);
}

int conf_parse_unit(const char *v, void *field, const char **reason) {
        size_t l = strlen(v);
        if (l < 9 || l > 255 || !streq(v + l - 8, ".service") || strpbrk(v, " /\\\t")) {
                *reason = "not a systemd service name (example: nginx.service)";
                return -EINVAL;
        }
        return conf_parse_string(v, field, reason);
}

int conf_parse_name(const char *v, void *field, const char **reason) {
        if (isempty(v) || strlen(v) > 32 || strpbrk(v, " :/\t")) {
                *reason = "not a user or group name";
                return -EINVAL;
        }
        return conf_parse_string(v, field, reason);
}

int conf_parse_abs_path(const char *v, void *field, const char **reason) {
        if (isempty(v) || v[0] != '/') {
                *reason = "not an absolute path";
                return -EINVAL;
        }
        return conf_parse_string(v, field, reason);
}

int conf_parse_port(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 1, 65535, field);
        if (r < 0)
                *reason = "not a port from 1 to 65535";
        return r;
}
