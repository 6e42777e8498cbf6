/* SPDX-License-Identifier: MIT */
/*
 * Every AWS response body agentd parses: error answers (JSON 1.1 and the
 * Query protocol's XML, with the x-amzn-ErrorType header taken from the
 * input's first line), GetSecretValue (the value as a string, as binary,
 * as a JSON object of fields) and DescribeSecret (the version holding a
 * stage). Bodies come NUL-terminated, as the HTTP layer hands them over.
 */
#include <errno.h>

#include "aws-error.h"
#include "fuzz.h"
#include "secret-value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s, *header;
        const char *nl, *reason = NULL, *current;
        SecretValue v = {};
        cJSON *doc = NULL;
        AwsError e;

        if (size > 256 * 1024)
                return 0;
        s = fuzz_string(data, size);

        (void) aws_error_parse(s, size, NULL, &e);
        FUZZ_ASSERT(strnlen(e.code, sizeof(e.code)) < sizeof(e.code));
        FUZZ_ASSERT(strnlen(e.message, sizeof(e.message)) < sizeof(e.message));
        for (const char *c = e.message; *c; c++)
                FUZZ_ASSERT((unsigned char) *c >= 0x20);        /* no control characters reach a log */
        nl = memchr(s, '\n', size);
        if (nl) {
                header = fuzz_string(data, (size_t) (nl - s));
                (void) aws_error_parse(nl + 1, size - (size_t) (nl - s) - 1, header, &e);
                free(header);
        }
        (void) aws_error_classify(0, 400, e.code, 0);

        if (secret_value_parse(s, size, &v, &reason) >= 0) {
                FUZZ_ASSERT(v.version_id && v.value && v.n_fields <= SECRET_MAX_FIELDS);
                FUZZ_ASSERT(v.value_len <= SECRET_MAX_SIZE);
                secret_value_done(&v);
        } else
                FUZZ_ASSERT(reason);

        current = secret_describe_current(s, size, "AWSCURRENT", &doc);
        FUZZ_ASSERT(!current || strlen(current) <= 64);
        cJSON_Delete(doc);
        free(s);
        return 0;
}
