/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * AWS error answers, parsed and classified without I/O. JSON protocols
 * answer {"__type": "prefix#Code", "message": "..."} (some services use
 * "Message", and x-amzn-ErrorType carries the code too); the Query protocol
 * answers <ErrorResponse><Error><Code>..</Code><Message>..</Message>.
 * The classification follows the AWS SDKs' standard retry mode.
 */

#include <stdbool.h>
#include <stddef.h>

typedef struct AwsError {
        char code[128];
        char message[512];
} AwsError;

typedef enum AwsErrorClass {
        AWS_ERROR_NONE,         /* 2xx */
        AWS_ERROR_THROTTLE,     /* retry with backoff */
        AWS_ERROR_TRANSIENT,    /* 5xx, timeouts, dropped connections: retry */
        AWS_ERROR_EXPIRED_CREDENTIALS, /* refresh credentials once, retry once */
        AWS_ERROR_CLOCK_SKEW,   /* our clock is off */
        AWS_ERROR_FATAL,        /* validation, access, not found: no retry */
} AwsErrorClass;

/* Fills e from a response body (JSON or XML) and the x-amzn-ErrorType header
 * (may be NULL). Codes and messages are cut to fit and stripped of control
 * characters. Returns 0 if a code was found, -EBADMSG otherwise (then
 * e->code is "HTTP<status>"-style filled by the caller). */
int aws_error_parse(const char *body, size_t len, const char *error_type_header, AwsError *e);

bool aws_error_code_is_throttle(const char *code);
bool aws_error_code_is_expired_credentials(const char *code);
bool aws_error_code_is_clock_skew(const char *code);

/* transport_error: negative errno of the transport, or 0 if a response came.
 * skew_usec: |server Date - local time|, 0 if unknown. */
AwsErrorClass aws_error_classify(int transport_error, long http_status, const char *code, unsigned long long skew_usec);
const char *aws_error_class_to_string(AwsErrorClass c);
