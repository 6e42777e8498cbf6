/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The credentials file: written by agentd's [render.NAME] from a Secrets
 * Manager secret (0600, owned by the plugin's user), re-read on SIGHUP.
 *
 *   [database]
 *   user = ingest
 *   password = ...
 *   [api_keys]
 *   NAME = KEY          ; one line a key; NAME is what the logs show
 *
 * A file readable by group or others is refused: keys must not leak through
 * a mode mistake. Values are wiped from memory when freed and never logged.
 */

#include "util.h"

#define API_KEYS_MAX 256
#define API_KEY_MAX 512

typedef struct Credentials {
        char *db_user;
        char *db_password;
        char *key_names[API_KEYS_MAX];
        char *keys[API_KEYS_MAX];
        size_t n_keys;
} Credentials;

/* want_keys: the API needs at least one key; the worker needs none. */
int credentials_load(const char *path, bool want_keys, Credentials **ret);
Credentials *credentials_free(Credentials *c);

/* The name of the key that matches `given` (compared in constant time
 * against every key), or NULL. */
const char *credentials_check_key(const Credentials *c, const char *given, size_t len);

/* Constant-time comparison: the time depends on the length of `secret`
 * only, never on where `given` differs from it. */
bool ct_equal(const char *given, size_t given_len, const char *secret, size_t secret_len);
