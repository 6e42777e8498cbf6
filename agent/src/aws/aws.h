/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Signed AWS API calls on the event loop. A call names a service and one of
 * the two wire protocols agentd needs:
 *   JSON 1.1: POST /, X-Amz-Target: <target>, body = JSON document;
 *   Query:    POST /, body = "Action=...&Version=...&..." form-encoded.
 * Parameters always travel in the body, never in the URL: libcurl 7.88
 * signs query strings unsorted, which AWS refuses.
 *
 * Each call waits for usable credentials, is signed by libcurl
 * (CURLOPT_AWS_SIGV4, plus X-Amz-Security-Token for session credentials),
 * and is retried on throttling, 5xx, timeouts and dropped connections with
 * exponential backoff and full jitter, up to [aws] max_attempts. Validation
 * and access errors are not retried. An ExpiredToken answer forces one
 * credential refresh and one more try. A signature refused because the
 * local clock is off is reported with the measured skew.
 */

#include <stdbool.h>
#include <stddef.h>

#include "aws-error.h"
#include "component.h"
#include "conf.h"

typedef struct Manager Manager;
typedef struct AwsClient AwsClient;
typedef struct AwsCall AwsCall;

typedef enum AwsProtocol {
        AWS_PROTOCOL_JSON,
        AWS_PROTOCOL_QUERY,
} AwsProtocol;

typedef struct AwsResult {
        int error;              /* 0 on 2xx; negative errno otherwise */
        long http_status;       /* 0 if no response came */
        const char *body;       /* NUL-terminated response body (or "") */
        size_t body_len;
        const AwsError *aws_error;      /* code/message if AWS answered with one */
        AwsErrorClass error_class;
        unsigned attempts;
        const char *reason;     /* one readable line for logs and status */
} AwsResult;

typedef void (*AwsCallDone)(AwsCall *call, const AwsResult *result, void *userdata);

int aws_client_new(Manager *m, AwsClient **ret);
AwsClient *aws_client_free(AwsClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(AwsClient *, aws_client_free);

/* target: "secretsmanager.GetSecretValue" (JSON) or the Action name (Query,
 * for logging). The body is copied. The call frees itself after done runs;
 * aws_call_cancel() stops it without calling done. */
int aws_call(AwsClient *c, AwsService service, AwsProtocol protocol, const char *target,
             const char *body, AwsCallDone done, void *userdata, AwsCall **ret);
void aws_call_cancel(AwsCall *call);

/* Region for signing and endpoints: AWS_REGION, AWS_DEFAULT_REGION,
 * [aws] region, then the instance's region. NULL if none known. */
const char *aws_client_region(AwsClient *c);
Component *aws_client_component(AwsClient *c);

/* Pure: the endpoint URL for a service, with the SDKs' precedence:
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, [aws] endpoint_url_<service>,
 * [aws] endpoint_url, then https://SERVICE.REGION.amazonaws.com.
 * getenv_fn lets tests supply the environment. */
int aws_endpoint_resolve(AwsService s, const char *region, const Config *config,
                         const char *(*getenv_fn)(const char *), char **ret);
/* Percent-encoding for Query bodies (RFC 3986 unreserved kept). */
char *aws_form_encode(const char *s);
