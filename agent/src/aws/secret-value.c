/* SPDX-License-Identifier: MIT */
/*
 * A GetSecretValue answer, taken apart without I/O: the version, and the
 * value as one string, decoded binary, or the fields of a JSON object (the
 * shape RDS and Aurora secrets have). Every copy of the value is wiped
 * when it goes, cJSON's included; the copies kept live in secure_malloc()
 * pages (never in a core dump), and the stack the parse ran on is wiped.
 */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "json-util.h"
#include "secret-value.h"
#include "secure-alloc.h"

void secret_value_done(SecretValue *v) {
        free(v->version_id);
        free(v->arn);
        secure_free(v->value);
        for (size_t i = 0; i < v->n_fields; i++) {
                free(v->field_names[i]);
                secure_free(v->field_values[i]);
        }
        *v = (SecretValue) {};
}

/* A member of the secret's JSON object, as text: strings as they are,
 * numbers and booleans as their JSON text (port 3306 → "3306"). */
static char *field_text(const cJSON *item) {
        char buf[64], *t;

        if (cJSON_IsString(item))
                return secure_strdup(item->valuestring);
        if (cJSON_IsBool(item))
                return secure_strdup(cJSON_IsTrue(item) ? "true" : "false");
        if (cJSON_IsNumber(item)) {
                double d = item->valuedouble;
                /* Cast only what fits: 1e19 as a long long is undefined
                 * behaviour, and prints in exponent form instead. */
                if (isfinite(d) && d >= -0x1p63 && d < 0x1p63 && d == (double) (long long) d)
                        snprintf(buf, sizeof(buf), "%lld", (long long) d);
                else
                        snprintf(buf, sizeof(buf), "%.17g", d);
                t = secure_strdup(buf);
                explicit_wipe(buf, sizeof(buf));        /* a numeric PIN is a secret too */
                return t;
        }
        return NULL;    /* nested objects, arrays, null: not usable as a value */
}

int secret_value_parse(const char *body, size_t len, SecretValue *ret, const char **reason) {
        _cleanup_(json_wipe_deletep) cJSON *j = NULL;
        const char *vid, *str, *bin, *arn;
        SecretValue v = {};

        j = cJSON_ParseWithLength(body, len);
        if (!cJSON_IsObject(j)) {
                *reason = "GetSecretValue answer is not a JSON object";
                return -EBADMSG;
        }
        vid = json_get_string_bounded(j, "VersionId", 64);
        arn = json_get_string_bounded(j, "ARN", 2048);
        str = json_get_string(j, "SecretString");
        bin = json_get_string(j, "SecretBinary");
        if (!vid) {
                *reason = "GetSecretValue answer has no VersionId";
                return -EBADMSG;
        }
        if (!str && !bin) {
                *reason = "GetSecretValue answer has neither SecretString nor SecretBinary";
                return -EBADMSG;
        }
        v.version_id = strdup(vid);
        v.arn = arn ? strdup(arn) : NULL;
        if (!v.version_id || (arn && !v.arn))
                goto oom;

        if (str) {
                v.value_len = strlen(str);
                if (v.value_len > SECRET_MAX_SIZE) {
                        *reason = "SecretString larger than 64 KiB";
                        secret_value_done(&v);
                        return -EFBIG;
                }
                v.value = secure_strndup(str, v.value_len);
                if (!v.value)
                        goto oom;
        } else {
                size_t l = strlen(bin);
                if (l > (SECRET_MAX_SIZE / 3 + 1) * 4) {
                        *reason = "SecretBinary larger than 64 KiB";
                        secret_value_done(&v);
                        return -EFBIG;
                }
                v.value = secure_malloc(l / 4 * 3 + 1);
                if (!v.value)
                        goto oom;
                int n = base64_decode(bin, l, (unsigned char *) v.value);
                if (n < 0) {
                        *reason = "SecretBinary is not valid base64";
                        secret_value_done(&v);
                        return -EBADMSG;
                }
                v.value_len = (size_t) n;
                v.value[n] = 0;
                v.binary = true;
        }

        /* A JSON object becomes fields. Something that looks like one but
         * does not parse is an error, not silently a plain string. */
        const char *p = v.value;
        while (!v.binary && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
                p++;
        if (!v.binary && *p == '{') {
                _cleanup_(json_wipe_deletep) cJSON *o = cJSON_ParseWithLength(v.value, v.value_len);
                const cJSON *item;
                if (!cJSON_IsObject(o)) {
                        *reason = "SecretString starts like a JSON object but is not valid JSON";
                        secret_value_done(&v);
                        return -EBADMSG;
                }
                cJSON_ArrayForEach(item, o) {
                        char *t;
                        if (v.n_fields >= SECRET_MAX_FIELDS) {
                                *reason = "SecretString has more than 64 fields";
                                secret_value_done(&v);
                                return -E2BIG;
                        }
                        if (!item->string || strlen(item->string) > 64)
                                continue;
                        t = field_text(item);
                        if (!t)
                                continue;
                        v.field_names[v.n_fields] = strdup(item->string);
                        v.field_values[v.n_fields] = t;
                        v.n_fields++;
                        if (!v.field_names[v.n_fields - 1])
                                goto oom;
                }
        }
        *ret = v;
        stack_wipe();
        return 0;
oom:
        secret_value_done(&v);
        *reason = "out of memory";
        return -ENOMEM;
}

const char *secret_describe_current(const char *body, size_t len, const char *stage, cJSON **ret_doc) {
        cJSON *j = cJSON_ParseWithLength(body, len);
        const cJSON *map, *v;
        const char *current = NULL;

        *ret_doc = j;
        map = cJSON_GetObjectItemCaseSensitive(j, "VersionIdsToStages");
        if (!cJSON_IsObject(map))
                return NULL;
        cJSON_ArrayForEach(v, map) {
                const cJSON *st;
                /* Same bound as GetSecretValue's VersionId. */
                if (!v->string || strlen(v->string) > 64 || !cJSON_IsArray(v))
                        continue;
                cJSON_ArrayForEach(st, v)
                        if (cJSON_IsString(st) && streq(st->valuestring, stage))
                                current = v->string;
        }
        return current;
}
