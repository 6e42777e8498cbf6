/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#define SECRET_MAX_SIZE (64U * 1024U)   /* Secrets Manager's own limit */
#define SECRET_MAX_FIELDS 64            /* more is refused (-E2BIG), never cut */

/*
 * A GetSecretValue answer taken apart, without I/O (secret-value.c). A
 * JSON-object SecretString is split into fields (numbers and booleans as
 * their JSON text; nested values skipped); anything else is one value.
 */
typedef struct SecretValue {
        char *version_id;
        char *arn;
        char *value;            /* SecretString, or decoded SecretBinary */
        size_t value_len;
        bool binary;
        size_t n_fields;        /* JSON object SecretString: its members */
        char *field_names[SECRET_MAX_FIELDS];
        char *field_values[SECRET_MAX_FIELDS];
} SecretValue;

/* 0, or a negative errno with a message (never the value) in *reason. */
int secret_value_parse(const char *body, size_t len, SecretValue *ret, const char **reason);
void secret_value_done(SecretValue *v);

/* A DescribeSecret answer: the version holding stage (NULL: none, or not an
 * answer), pointing into *ret_doc, which the caller deletes (also on NULL). */
const char *secret_describe_current(const char *body, size_t len, const char *stage, cJSON **ret_doc);
