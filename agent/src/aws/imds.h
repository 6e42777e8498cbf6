/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * IMDSv2 client. Every GET carries a session token from
 * PUT /latest/api/token; the token is shared, renewed before it expires and,
 * when IMDS answers 401 (token expired or IMDS restarted), fetched again and
 * the GET retried once. IMDSv1 is never used. Concurrent GETs that need a
 * token wait on the one token request in flight.
 *
 * Errors passed to ImdsDone: -ENOENT (404: item absent), -EACCES (403: IMDS
 * disabled, or 401 twice), -EFBIG (response over the limit), -EBUSY (429
 * throttled), -EIO (5xx), transport errors (-ECONNREFUSED, -ETIMEDOUT,
 * -ECONNRESET...). imds_error_is_transient() says which are worth a retry.
 */

#include <stdbool.h>
#include <stddef.h>

#include <systemd/sd-event.h>

#include "aws-settings.h"
#include "component.h"
#include "curl-glue.h"

typedef struct Imds Imds;
typedef struct ImdsCall ImdsCall;

/* body is NUL-terminated and valid only during the call. */
typedef void (*ImdsDone)(int error, const char *body, size_t len, void *userdata);

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_MAX_RESPONSE (64U * 1024U)

/* The endpoint is AWS_EC2_METADATA_SERVICE_ENDPOINT, else s->endpoint,
 * else IMDS_DEFAULT_ENDPOINT, fixed for the life of the object (-EINVAL,
 * logged, if it is not http(s)://). s must outlive the object, or be
 * replaced with imds_set_settings() (a SIGHUP reload). */
int imds_new(sd_event *e, CurlGlue *glue, const ImdsSettings *s, Imds **ret);
/* Takes timeout, token_ttl and enabled from s for the next requests. */
void imds_set_settings(Imds *imds, const ImdsSettings *s);
Imds *imds_free(Imds *imds);
DEFINE_TRIVIAL_CLEANUP_FUNC(Imds *, imds_free);

/* path relative to the endpoint, e.g. "/latest/meta-data/instance-id".
 * *ret (optional) allows cancelling; the call frees itself after done.
 * done always runs from the event loop; a negative return (-EOPNOTSUPP:
 * [imds] enabled=no) means it never runs. */
int imds_get(Imds *imds, const char *path, ImdsDone done, void *userdata, ImdsCall **ret);
void imds_call_cancel(ImdsCall *call);

bool imds_error_is_transient(int error);
/* What an ImdsDone error means, in words for status and logs. */
const char *imds_strerror(int error);
const char *imds_endpoint(Imds *imds);
/* The "imds" status: the token, and (written by identity.c) whether the
 * instance identity could be read. */
Component *imds_component(Imds *imds);
