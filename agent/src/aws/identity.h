/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Who this instance is, read from IMDS once at boot: instance id, region,
 * AZ, type, AMI, private IP, account, IAM role and the instance tags (when
 * tags in metadata are enabled; a 404 there is not an error). Every value
 * is checked for shape and size before it is stored, since it ends up in
 * logs, status output and rendered config.
 *
 * At boot IMDS may not answer yet: transient failures are retried with
 * backoff until [imds] boot_deadline, then the fetch fails for good.
 */

#include <stdbool.h>
#include <cjson/cJSON.h>

#include "macro.h"

typedef struct Manager Manager;
typedef struct IdentityFetch IdentityFetch;

#define IDENTITY_MAX_TAGS 50

typedef struct Identity {
        char *instance_id;
        char *region;
        char *availability_zone;
        char *instance_type;
        char *ami_id;
        char *local_ipv4;
        char *account_id;
        char *life_cycle;
        char *role;                     /* NULL: no instance profile */
        bool tags_available;
        char *tag_keys[IDENTITY_MAX_TAGS];
        char *tag_values[IDENTITY_MAX_TAGS];
        size_t n_tags;
} Identity;

void identity_done(Identity *id);
const char *identity_tag(const Identity *id, const char *key);
int identity_to_json(const Identity *id, cJSON **ret);

/* Pure validators, exposed for tests. */
bool identity_valid_instance_id(const char *s);
bool identity_valid_region(const char *s);
bool identity_valid_token(const char *s, size_t max);   /* printable, no blanks */

/* error: 0, or negative errno with a human message in `reason`. */
typedef void (*IdentityDone)(Manager *m, int error, const char *reason);

int identity_fetch_start(Manager *m, IdentityDone done, IdentityFetch **ret);
IdentityFetch *identity_fetch_free(IdentityFetch *f);
