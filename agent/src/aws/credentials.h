/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * AWS credentials, as the SDKs' default chain finds them, minus the files:
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN from the
 * environment, else the instance profile's role credentials from IMDS.
 *
 * Role credentials are refreshed well before their Expiration (5 to 15
 * minutes before, jittered, as the SDKs do; for short-lived credentials, at
 * half to two thirds of their remaining life), one refresh at a time shared
 * by everybody waiting, and never handed out within 30 s of expiring. A
 * failed refresh keeps the old credentials until they really expire and is
 * retried with backoff.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "callback.h"
#include "component.h"
#include "imds.h"

typedef struct Credentials Credentials;
typedef struct CredentialsWait CredentialsWait;

typedef struct AwsCredentials {
        char *access_key_id;
        char *secret_access_key;
        char *session_token;            /* NULL for long-term keys */
        usec_t expiration;              /* CLOCK_REALTIME; USEC_INFINITY if none */
        usec_t guard;                   /* unusable this long before expiration */
} AwsCredentials;

/* The event a CredentialsWait ends with: ev->error is 0 when usable
 * credentials are there (credentials_current()), else why not. */
enum {
        CREDENTIALS_EVENT_READY,
};

int credentials_new(sd_event *e, Imds *imds, Credentials **ret);
Credentials *credentials_free(Credentials *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Credentials *, credentials_free);

/* The instance profile's role (copied; NULL: none), as identity found it.
 * Set it before credentials_start(). */
int credentials_set_role(Credentials *c, const char *role);
/* Starts the first load (and the refresh schedule). A negative return
 * (-ENOKEY: no environment keys and no role) is also in the component. */
int credentials_start(Credentials *c);
/* The current credentials if usable right now, else NULL. */
const AwsCredentials *credentials_current(Credentials *c);
/* Waits for usable credentials (refreshing if needed); ready gets one
 * CREDENTIALS_EVENT_READY, always from the event loop, never from inside
 * this call. A negative return means ready is never called. The wait frees
 * itself after ready; credentials_wait_cancel() ends it without a call. */
int credentials_wait(Credentials *c, AgentCallback ready, void *userdata, CredentialsWait **ret);
void credentials_wait_cancel(CredentialsWait *w);
/* The service refused these credentials as expired: refresh now. */
void credentials_invalidate(Credentials *c, const char *access_key_id);
Component *credentials_component(Credentials *c);
const char *credentials_source(Credentials *c);

/* Pure, for tests: when to refresh credentials that expire at `expiration`,
 * fetched at `now` (both CLOCK_REALTIME), with random r in [0,1). */
usec_t credentials_refresh_time(usec_t now, usec_t expiration, double r);
/* Parse the IMDS role-credentials document; error message into reason. */
int credentials_parse_imds(const char *json, AwsCredentials *ret, const char **reason);
void aws_credentials_done(AwsCredentials *a);
