/* SPDX-License-Identifier: MIT */
/*
 * What IMDS answers: the credentials document, the identity document, the
 * role listing, the tag key listing and tag values, the metadata values'
 * validators, and the dates in them (RFC 3339 Expiration) and in HTTP
 * answers (Date, for clock skew). Every parser gets the same input, as the
 * exact-size NUL-terminated buffer the HTTP layer hands over.
 */
#include <errno.h>

#include "credentials.h"
#include "fuzz.h"
#include "identity.h"
#include "time-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s, *v = NULL, key[IDENTITY_TAG_KEY_MAX + 1], buf[64];
        const char *reason = NULL, *p;
        AwsCredentials cr = {};
        usec_t t;
        int k;

        if (size > 64 * 1024)
                return 0;
        s = fuzz_string(data, size);

        if (credentials_parse_imds(s, &cr, &reason) >= 0) {
                FUZZ_ASSERT(cr.access_key_id && cr.secret_access_key);
                aws_credentials_done(&cr);
        } else
                FUZZ_ASSERT(reason);
        if (identity_parse_role(s, &v) >= 0) {
                FUZZ_ASSERT(strlen(v) > 0 && strlen(v) <= 128);
                free(v);
        }
        if (identity_parse_account(s, &v) >= 0) {
                FUZZ_ASSERT(strlen(v) == 12);
                free(v);
        }
        p = s;
        for (unsigned n = 0; (k = identity_next_tag_key(&p, key)) > 0; n++) {
                FUZZ_ASSERT(n < size && strlen(key) <= IDENTITY_TAG_KEY_MAX && !strchr(key, '/'));
                FUZZ_ASSERT(p >= s && p <= s + size);
        }
        (void) identity_valid_tag_value(s);
        (void) identity_valid_instance_id(s);
        (void) identity_valid_region(s);
        (void) identity_valid_token(s, 255);
        if (parse_rfc3339(s, &t) >= 0)
                (void) format_rfc3339(buf, sizeof(buf), t);
        if (parse_http_date(s, &t) >= 0)
                (void) format_rfc3339(buf, sizeof(buf), t);
        free(s);
        return 0;
}
