/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "metric-nginx.h"

int metric_nginx_parse(const char *text, NginxStatus *ret) {
        NginxStatus s = {};
        int n;

        n = sscanf(text,
                   "Active connections: %" SCNu64 " server accepts handled requests %" SCNu64 " %" SCNu64 " %" SCNu64
                   " Reading: %" SCNu64 " Writing: %" SCNu64 " Waiting: %" SCNu64,
                   &s.active, &s.accepts, &s.handled, &s.requests, &s.reading, &s.writing, &s.waiting);
        if (n != 7)
                return -EBADMSG;
        *ret = s;
        return 0;
}
