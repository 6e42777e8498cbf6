/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "conf"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf-values.h"
#include "conf.h"
#include "log.h"
#include "parse-util.h"

/* One parser per value syntax. They return 0 or a negative errno and fill
 * `reason` for the message. */

int conf_parse_attempts(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 1, 20, field);
        if (r < 0)
                *reason = "not a number from 1 to 20";
        return r;
}

int conf_parse_token_ttl(const char *v, void *field, const char **reason) {
        usec_t u;
        int r = parse_duration(v, &u);
        if (r < 0 || u < USEC_PER_SEC || u > 21600 * USEC_PER_SEC) {
                *reason = "IMDS token TTL must be a duration from 1s to 6h";
                return -EINVAL;
        }
        *(unsigned *) field = (unsigned) (u / USEC_PER_SEC);
        return 0;
}

int conf_parse_region(const char *v, void *field, const char **reason) {
        for (const char *p = v; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
                        *reason = "not a region name (example: eu-central-1)";
                        return -EINVAL;
                }
        return conf_parse_string(v, field, reason);
}
