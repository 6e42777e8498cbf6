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

static void json_wipe(cJSON *j) {
        for (cJSON *c = j; c; c = c->next) {
                if (c->child)
                        json_wipe(c->child);
                if (c->valuestring)
                        explicit_wipe(c->valuestring, strlen(c->valuestring));
        }
}

void json_wipe_delete(cJSON *j) {
        if (!j)
                return;
        json_wipe(j->child);
        if (j->valuestring)
                explicit_wipe(j->valuestring, strlen(j->valuestring));
        cJSON_Delete(j);
}

static int b64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int base64_decode(const char *in, size_t len, unsigned char *out) {
        size_t o = 0;

        if (len % 4 != 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                bool last = i + 4 == len;
                for (int k = 0; k < 4; k++) {
                        if (in[i + k] == '=' && last && k >= 2) {
                                v[k] = -2;
                                continue;
                        }
                        v[k] = b64_value(in[i + k]);
                        if (v[k] < 0)
                                return -EINVAL;
                }
                if (v[2] == -2 && v[3] != -2)
                        return -EINVAL;
                out[o++] = (unsigned char) (v[0] << 2 | v[1] >> 4);
                if (v[2] != -2)
                        out[o++] = (unsigned char) ((v[1] & 15) << 4 | v[2] >> 2);
                if (v[3] != -2)
                        out[o++] = (unsigned char) ((v[2] & 3) << 6 | v[3]);
        }
        return (int) o;
}
