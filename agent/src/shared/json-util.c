/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "json-util.h"

const char *json_get_string(const cJSON *obj, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *json_get_string_bounded(const cJSON *obj, const char *key, size_t max) {
        const char *s = json_get_string(obj, key);
        if (isempty(s) || strlen(s) > max)
                return NULL;
        return s;
}

int json_add_string_or_null(cJSON *obj, const char *key, const char *s) {
        cJSON *v = s ? cJSON_CreateString(s) : cJSON_CreateNull();
        if (!v)
                return -ENOMEM;
        if (!cJSON_AddItemToObject(obj, key, v)) {
                cJSON_Delete(v);
                return -ENOMEM;
        }
        return 0;
}
