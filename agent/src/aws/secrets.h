/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Secrets Manager secrets, one per [secret.NAME] section. Each is fetched
 * with GetSecretValue at bootstrap, then watched: every `refresh` (jittered
 * ±10%) a DescribeSecret tells which VersionId holds the configured stage,
 * and only when that changed is the value fetched again (cheap, and the
 * value crosses the wire only when it must). `agentctl refresh` and a
 * consumer that saw the old credentials refused (MySQL error 1045 during a
 * rotation) force a GetSecretValue at once.
 *
 * A SecretString holding a JSON object (the RDS/Aurora shape: username,
 * password, host, port, dbname, engine) is split into fields; any other
 * SecretString is one plain value; SecretBinary is decoded from base64.
 * Values never reach a log line, a status or an error message; their memory
 * is wiped when replaced or freed. When a fetch fails, the last good value
 * stays in use and the error is shown.
 */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

#include "aws-settings.h"
#include "aws.h"
#include "callback.h"
#include "component.h"
#include "secret-value.h"

typedef struct Secrets Secrets;
typedef struct Secret Secret;

enum {
        /* Once, when every secret has answered at bootstrap: ev->error is
         * the first failure (ev->reason names the secret), or 0. */
        SECRETS_EVENT_LOADED,
        /* After LOADED: secret ev->name got a new VersionId. */
        SECRETS_EVENT_CHANGED,
        /* The end of a secrets_refresh_now(), to its own callback. */
        SECRETS_EVENT_REFRESHED,
};

/* list: the [secret.NAME] settings, copied (n at most SECRET_SETTINGS_MAX).
 * cb gets LOADED and CHANGED, always from the event loop. */
int secrets_new(sd_event *e, AwsClient *aws, SecretSettings *const *list, size_t n, AgentCallback cb,
                void *userdata, Secrets **ret);
Secrets *secrets_free(Secrets *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Secrets *, secrets_free);

/* Starts loading every secret. With none configured, LOADED still comes,
 * from the loop. */
int secrets_start(Secrets *s);
/* Fetch every secret (or one, by name) now, ignoring the refresh timer.
 * done (optional) gets SECRETS_EVENT_REFRESHED once each of them has
 * answered (ev->error: the first failure), always from the event loop,
 * also when there is nothing to fetch. Changed secrets also go through
 * CHANGED. -ENOENT: no secret NAME; -EBUSY: a refresh with a done callback
 * is waiting already. On a negative return done is never called. */
int secrets_refresh_now(Secrets *s, const char *name, AgentCallback done, void *userdata);

/* Calls fn for every loaded value that must never show: each plain (or
 * binary) value and each field of a JSON secret, however many there are.
 * For redacting command output. fn must not call back into s. */
void secrets_foreach_value(Secrets *s, void (*fn)(const char *v, size_t len, void *userdata), void *userdata);
/* One component per secret ("secret.NAME"). */
int secrets_add_components(Secrets *s, ComponentList *l);

size_t secrets_count(Secrets *s);
bool secrets_all_loaded(Secrets *s);
/* The value of secret NAME's FIELD (field NULL: the whole plain value).
 * -ENOENT: no such secret or field; -EAGAIN: not loaded yet; -EMEDIUMTYPE:
 * asked for a field of a plain secret or the whole of a JSON one. */
int secrets_lookup(Secrets *s, const char *name, const char *field, const char **ret, size_t *ret_len);
const char *secrets_version(Secrets *s, const char *name);
