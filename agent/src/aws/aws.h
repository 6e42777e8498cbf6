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
#include <systemd/sd-event.h>

#include "aws-error.h"
#include "aws-settings.h"
#include "component.h"
#include "credentials.h"
#include "curl-glue.h"

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

/* A request API, like HttpRequest's: the answer carries a body, so it has
 * its own shape rather than AgentEvent. Always called from the loop. */
typedef void (*AwsCallDone)(AwsCall *call, const AwsResult *result, void *userdata);

/* s must outlive the client, or be replaced with aws_client_set_settings()
 * (a SIGHUP reload); calls in flight use the new settings from their next
 * attempt. */
int aws_client_new(sd_event *e, CurlGlue *glue, Credentials *cred, const AwsSettings *s, AwsClient **ret);
void aws_client_set_settings(AwsClient *c, const AwsSettings *s);
/* The instance's region (from IMDS; copied), used when neither the
 * environment nor [aws] region= names one. */
int aws_client_set_fallback_region(AwsClient *c, const char *region);
AwsClient *aws_client_free(AwsClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(AwsClient *, aws_client_free);

/* target: "secretsmanager.GetSecretValue" (JSON) or the Action name (Query,
 * for logging). The body is copied. The call frees itself after done runs;
 * aws_call_cancel() stops it without calling done. */
int aws_call(AwsClient *c, AwsService service, AwsProtocol protocol, const char *target,
             const char *body, AwsCallDone done, void *userdata, AwsCall **ret);
/* The same with the body lent, not copied (len bytes, no NUL needed): it
 * must stay unchanged until done runs or the call is cancelled. For bodies
 * of a megabyte (PutLogEvents), where a copy per call costs memory, time
 * and a wipe. */
int aws_call_borrowed(AwsClient *c, AwsService service, AwsProtocol protocol, const char *target,
                      const char *body, size_t len, AwsCallDone done, void *userdata, AwsCall **ret);
void aws_call_cancel(AwsCall *call);

/* Region for signing and endpoints: AWS_REGION, AWS_DEFAULT_REGION,
 * [aws] region, then the fallback region. NULL if none known. */
const char *aws_client_region(AwsClient *c);
Component *aws_client_component(AwsClient *c);
/* Calls finished for a service since start, and how many of them failed
 * (after their retries): for agentd's own metrics. -EINVAL: no such service. */
int aws_client_service_counters(AwsClient *c, AwsService service, uint64_t *ret_calls, uint64_t *ret_errors);

/* Pure: the endpoint URL for a service, with the SDKs' precedence:
 * AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, [aws] endpoint_url_<service>,
 * [aws] endpoint_url, then https://SERVICE.REGION.amazonaws.com.
 * getenv_fn lets tests supply the environment. */
int aws_endpoint_resolve(AwsService service, const char *region, const AwsSettings *s,
                         const char *(*getenv_fn)(const char *), char **ret);
/* Percent-encoding for Query bodies (RFC 3986 unreserved kept). */
char *aws_form_encode(const char *s);
