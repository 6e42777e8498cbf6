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

#include "component.h"
#include "conf.h"

typedef struct Manager Manager;
typedef struct Secrets Secrets;
typedef struct Secret Secret;

#define SECRET_MAX_SIZE (64U * 1024U)   /* Secrets Manager's own limit */
#define SECRET_MAX_FIELDS 64

/* Called when a secret got a new VersionId (after the first load too). */
typedef void (*SecretsChanged)(Manager *m, const char *name);

int secrets_new(Manager *m, Secrets **ret);
Secrets *secrets_free(Secrets *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(Secrets *, secrets_free);

/* Starts loading every configured secret; done(m, error) is called once all
 * have an answer (error: the first failure, 0 if all loaded). */
typedef void (*SecretsLoaded)(Manager *m, int error, const char *reason);
int secrets_start(Secrets *s, SecretsLoaded done, SecretsChanged changed);
/* Fetch every secret (or one, by name) now, ignoring the refresh timer;
 * done (optional) runs once every one of them has answered, with the
 * first error. Changed secrets also go through SecretsChanged. */
int secrets_refresh_now(Secrets *s, const char *name, SecretsLoaded done);
/* Appends every loaded field value (for redaction) to vals/lens. */
void secrets_redact_fields(Secrets *s, const char **vals, size_t *lens, size_t *n, size_t max);

size_t secrets_count(Secrets *s);
bool secrets_all_loaded(Secrets *s);
/* The value of secret NAME's FIELD (field NULL: the whole plain value).
 * -ENOENT: no such secret or field; -EAGAIN: not loaded yet; -EMEDIUMTYPE:
 * asked for a field of a plain secret or the whole of a JSON one. */
int secrets_lookup(Secrets *s, const char *name, const char *field, const char **ret, size_t *ret_len);
const char *secrets_version(Secrets *s, const char *name);

/* Pure, for tests: parses a GetSecretValue answer into the parts. */
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

int secret_value_parse(const char *body, size_t len, SecretValue *ret, const char **reason);
void secret_value_done(SecretValue *v);
