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
 * backoff until [imds] boot_deadline, then the fetch fails for good. Each
 * retry is announced (IDENTITY_EVENT_RETRYING) with how much longer the
 * owner should be given, so systemd's start timeout can be extended. The
 * outcome also shows in the imds component.
 */

#include <stdbool.h>
#include <cjson/cJSON.h>
#include <systemd/sd-event.h>

#include "aws-settings.h"
#include "callback.h"
#include "imds.h"
#include "macro.h"

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

/* Pure parsers of the IMDS answers, exposed for tests and fuzzers (tests/
 * fuzz/fuzz-imds.c). -EBADMSG when malformed, -ENOMEM. */
#define IDENTITY_TAG_KEY_MAX 128
/* iam/security-credentials/: the role name on the listing's first line. */
int identity_parse_role(const char *listing, char **ret);
/* The instance identity document's accountId (12 digits). */
int identity_parse_account(const char *document, char **ret);
/* tags/instance: the next key of the listing (blank lines skipped), 1 with
 * key filled, 0 at the end, -EBADMSG for a key unfit for a URL or a name. */
int identity_next_tag_key(const char **p, char key[static IDENTITY_TAG_KEY_MAX + 1]);
bool identity_valid_tag_value(const char *s);

/* Pure validators, exposed for tests. */
bool identity_valid_instance_id(const char *s);
bool identity_valid_region(const char *s);
bool identity_valid_token(const char *s, size_t max);   /* printable, no blanks */

enum {
        /* A round failed transiently; another starts later. ev->usec: how
         * much longer the fetch may take from now (EXTEND_TIMEOUT_USEC). */
        IDENTITY_EVENT_RETRYING,
        /* Finished, once: ev->error 0 (identity_fetch_take() has the result)
         * or a negative errno with ev->reason. */
        IDENTITY_EVENT_DONE,
};

/* Starts fetching (from the event loop: cb never runs inside this call).
 * boot_deadline and timeout are copied from s. cb may free the fetch. */
int identity_fetch_new(sd_event *e, Imds *imds, const ImdsSettings *s, AgentCallback cb, void *userdata,
                       IdentityFetch **ret);
IdentityFetch *identity_fetch_free(IdentityFetch *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(IdentityFetch *, identity_fetch_free);
/* Moves the identity out after IDENTITY_EVENT_DONE with error 0 (ret is
 * overwritten, not freed); -EAGAIN before that. */
int identity_fetch_take(IdentityFetch *f, Identity *ret);
