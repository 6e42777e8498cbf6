/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "conf"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "conf-values.h"
#include "conf.h"
#include "health.h"
#include "log.h"
#include "template.h"
#include "parse-util.h"

/* One parser per value syntax. They return 0 or a negative errno and fill
 * `reason` for the message. */

int conf_parse_mode(const char *v, void *field, const char **reason) {
        char *end;
        long m;

        errno = 0;
        m = strtol(v, &end, 8);
        if (isempty(v) || *end || errno || m < 0 || m > 07777) {
                *reason = "not an octal file mode (example: 0640)";
                return -EINVAL;
        }
        if (m & 0002) {
                *reason = "world-writable modes are refused";
                return -EINVAL;
        }
        *(int *) field = (int) m;
        return 0;
}

int conf_parse_format(const char *v, void *field, const char **reason) {
        static const char *const formats[] = { "nginx", "php-fpm", "env", "json", "raw" };
        for (size_t i = 0; i < ELEMENTSOF(formats); i++)
                if (streq(v, formats[i]))
                        return conf_parse_string(v, field, reason);
        *reason = "not a template format (nginx, php-fpm, env, json, raw)";
        return -EINVAL;
}

int conf_parse_listen(const char *v, void *field, const char **reason) {
        HealthAddress a[HEALTH_MAX_LISTEN];

        if (health_listen_parse(v, a, ELEMENTSOF(a), NULL) < 0) {
                *reason = "not a list of up to 8 addresses HOST:PORT (numeric host), [IPv6]:PORT or unix:/PATH";
                return -EINVAL;
        }
        return conf_parse_string(v, field, reason);
}

int conf_parse_connections(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 1, 1000, field);
        if (r < 0)
                *reason = "not a number from 1 to 1000";
        return r;
}

int conf_parse_check_type(const char *v, void *field, const char **reason) {
        CheckType t = check_type_from_string(v);
        if (t < 0) {
                *reason = "not a check type (http, tcp, mysql, disk, memory, unit, exec)";
                return -EINVAL;
        }
        *(CheckType *) field = t;
        return 0;
}

int conf_parse_rise_fall(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 1, 100, field);
        if (r < 0)
                *reason = "not a number from 1 to 100";
        return r;
}

int conf_parse_http_status(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 100, 599, field);
        if (r < 0)
                *reason = "not an HTTP status from 100 to 599";
        return r;
}

int conf_parse_threshold(const char *v, void *field, const char **reason) {
        int r = parse_threshold(v, field);
        if (r < 0)
                *reason = "not a size or a percentage (examples: 512MiB, 10%)";
        return r;
}

int conf_parse_check_interval(const char *v, void *field, const char **reason) {
        usec_t u;
        int r = parse_duration(v, &u);
        if (r < 0 || u < 100 * USEC_PER_MSEC || u > USEC_PER_DAY) {
                *reason = "not a duration from 100ms to 1d";
                return -EINVAL;
        }
        *(usec_t *) field = u;
        return 0;
}
