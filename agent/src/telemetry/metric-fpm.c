/* SPDX-License-Identifier: MIT */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>

#include "json-util.h"
#include "metric-aggregate.h"
#include "metric-fpm.h"

static int get_count(const cJSON *o, const char *key, uint64_t *ret) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 || v->valuedouble > 1e18)
                return -EBADMSG;
        *ret = (uint64_t) v->valuedouble;
        return 0;
}

int metric_fpm_parse(const char *text, size_t len, FpmStatus *ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_ParseWithLength(text, len);
        const cJSON *pool;
        FpmStatus s = {};

        if (!cJSON_IsObject(o))
                return -EBADMSG;
        pool = cJSON_GetObjectItemCaseSensitive(o, "pool");
        if (!cJSON_IsString(pool) || !metric_name_valid(pool->valuestring) || strlen(pool->valuestring) >= sizeof(s.pool))
                return -EBADMSG;
        snprintf(s.pool, sizeof(s.pool), "%s", pool->valuestring);
        if (get_count(o, "accepted conn", &s.accepted) < 0 || get_count(o, "listen queue", &s.listen_queue) < 0 ||
            get_count(o, "idle processes", &s.idle) < 0 || get_count(o, "active processes", &s.active) < 0 ||
            get_count(o, "total processes", &s.total) < 0 ||
            get_count(o, "max children reached", &s.max_children_reached) < 0 ||
            get_count(o, "slow requests", &s.slow_requests) < 0)
                return -EBADMSG;
        *ret = s;
        return 0;
}
