/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "credentials"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "credentials.h"
#include "imds.h"
#include "log.h"
#include "backoff.h"
#include "list.h"
#include "json-util.h"
#include "secure-alloc.h"
#include "time-util.h"

/* Never hand out credentials closer than this to their expiry (a quarter of
 * their life for the very short-lived ones tests use). */
#define EXPIRY_GUARD (30 * USEC_PER_SEC)

static usec_t expiry_guard(usec_t now, usec_t expiration) {
        if (expiration == USEC_INFINITY || expiration <= now)
                return 0;
        return MIN(EXPIRY_GUARD, (expiration - now) / 4);
}

struct CredentialsWait {
        Credentials *owner;
        AgentCallback ready;
        void *userdata;
        int error;                      /* the outcome, once woken */
        sd_event_source *defer;         /* armed when woken: ready runs from the loop */
        LIST_FIELDS(CredentialsWait, waits);
};

struct Credentials {
        sd_event *event;
        Imds *imds;
        char *role;
        Component component;
        bool from_env;
        AwsCredentials current;
        ImdsCall *call;
        bool refreshing;
        Backoff backoff;
        sd_event_source *refresh_timer;
        CredentialsWait *waits;
};

void aws_credentials_done(AwsCredentials *a) {
        free(a->access_key_id);
        secure_free(a->secret_access_key);
        secure_free(a->session_token);
        *a = (AwsCredentials) {};
}

usec_t credentials_refresh_time(usec_t now, usec_t expiration, double r) {
        usec_t life;

        if (expiration == USEC_INFINITY)
                return USEC_INFINITY;
        if (expiration <= now + expiry_guard(now, expiration) || expiration - now < 4 * USEC_PER_SEC)
                return now;
        life = expiration - now;
        if (life > 30 * USEC_PER_MINUTE)
                /* As the SDKs: 5 to 15 minutes before expiry. */
                return expiration - 5 * USEC_PER_MINUTE - (usec_t) (r * (double) (10 * USEC_PER_MINUTE));
        /* Short-lived: after half to two thirds of the remaining life. */
        return now + life / 2 + (usec_t) (r * (double) (life / 6));
}

int credentials_parse_imds(const char *json, AwsCredentials *ret, const char **reason) {
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(json);
        const char *code, *akid, *secret, *token, *exp;
        AwsCredentials a = {};
        usec_t e;

        if (!cJSON_IsObject(j)) {
                *reason = "not a JSON object";
                return -EBADMSG;
        }
        code = json_get_string(j, "Code");
        if (!streq_ptr(code, "Success")) {
                *reason = "Code is not \"Success\"";
                return -EBADMSG;
        }
        akid = json_get_string_bounded(j, "AccessKeyId", 128);
        secret = json_get_string_bounded(j, "SecretAccessKey", 256);
        token = json_get_string_bounded(j, "Token", 8192);
        exp = json_get_string(j, "Expiration");
        if (!akid || strspn(akid, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != strlen(akid) || strlen(akid) < 16) {
                *reason = "AccessKeyId missing or malformed";
                return -EBADMSG;
        }
        if (!secret || strpbrk(secret, " \r\n\t:")) {
                *reason = "SecretAccessKey missing or malformed";
                return -EBADMSG;
        }
        if (!token || strpbrk(token, " \r\n\t")) {
                *reason = "Token missing or malformed";
                return -EBADMSG;
        }
        if (!exp || parse_rfc3339(exp, &e) < 0) {
                *reason = "Expiration missing or not an RFC 3339 time";
                return -EBADMSG;
        }
        a.access_key_id = strdup(akid);
        a.secret_access_key = secure_strdup(secret);
        a.session_token = secure_strdup(token);
        a.expiration = e;
        if (!a.access_key_id || !a.secret_access_key || !a.session_token) {
                aws_credentials_done(&a);
                return -ENOMEM;
        }
        /* cJSON's copy of the secret goes with the tree; wipe it first. */
        cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey");
        explicit_wipe(s->valuestring, strlen(s->valuestring));
        s = cJSON_GetObjectItemCaseSensitive(j, "Token");
        explicit_wipe(s->valuestring, strlen(s->valuestring));
        *ret = a;
        return 0;
}

static bool usable(const AwsCredentials *a, usec_t now) {
        return a->access_key_id && (a->expiration == USEC_INFINITY || now + a->guard < a->expiration);
}

const AwsCredentials *credentials_current(Credentials *c) {
        return usable(&c->current, now_usec(CLOCK_REALTIME)) ? &c->current : NULL;
}

void credentials_wait_cancel(CredentialsWait *w) {
        if (!w)
                return;
        if (w->owner)
                LIST_REMOVE(waits, w->owner->waits, w);
        sd_event_source_disable_unref(w->defer);
        free(w);
}

static int on_wait_defer(sd_event_source *s, void *userdata) {
        CredentialsWait *w = userdata;
        AgentEvent ev = { .type = CREDENTIALS_EVENT_READY, .error = w->error };
        Credentials *c = w->owner;
        AgentCallback ready = w->ready;
        void *ud = w->userdata;

        credentials_wait_cancel(w);
        agent_callback_invoke(ready, c, &ev, ud);
        return 0;
}

/* Answers w with error, from the loop. */
static int wait_wake(CredentialsWait *w, int error) {
        int r;

        w->error = error;
        if (w->defer)
                return 0;
        r = sd_event_add_defer(w->owner->event, &w->defer, on_wait_defer, w);
        if (r < 0)
                return log_error_errno(r, "cannot wake a credentials waiter: %m");
        (void) sd_event_source_set_description(w->defer, "credentials-wait");
        return 0;
}

/* Wake every waiter with the outcome. Each answer leaves through the loop,
 * so a refresh failing inside credentials_wait() or credentials_start()
 * never calls anybody back from there. */
static void wake_all(Credentials *c, int error) {
        CredentialsWait *w;

        LIST_FOREACH(waits, w, c->waits)
                (void) wait_wake(w, error);
}

static void schedule_refresh(Credentials *c, usec_t when_realtime);

static void on_imds_credentials(int error, const char *body, size_t len, void *userdata) {
        Credentials *c = userdata;
        AwsCredentials fresh = {};
        const char *reason = NULL;
        usec_t now = now_usec(CLOCK_REALTIME);
        char buf[64];

        c->call = NULL;
        c->refreshing = false;
        if (error >= 0) {
                error = credentials_parse_imds(body, &fresh, &reason);
                if (error >= 0 && fresh.expiration <= now) {
                        reason = "credentials already expired";
                        aws_credentials_done(&fresh);
                        error = -EKEYEXPIRED;
                }
        } else
                reason = imds_strerror(error);

        if (error < 0) {
                usec_t delay = backoff_next(&c->backoff);
                bool still = usable(&c->current, now);
                component_error(&c->component, still ? COMPONENT_DEGRADED : COMPONENT_FAILED,
                                "refreshing role credentials from IMDS failed: %s%s", strna(reason),
                                still ? " (keeping the current ones until they expire)" : "");
                log_warning("refreshing role credentials failed: %s; retrying in %.1fs", strna(reason),
                            (double) delay / USEC_PER_SEC);
                schedule_refresh(c, now + delay);
                /* Waiters get the error only if nothing usable is left. */
                if (!still)
                        wake_all(c, error);
                else
                        wake_all(c, 0);
                return;
        }

        backoff_reset(&c->backoff);
        if (!c->current.access_key_id || !streq(c->current.access_key_id, fresh.access_key_id))
                log_info("role credentials %s loaded, expiring %s", fresh.access_key_id,
                         format_rfc3339(buf, sizeof(buf), fresh.expiration));
        fresh.guard = expiry_guard(now, fresh.expiration);
        aws_credentials_done(&c->current);
        c->current = fresh;
        component_set(&c->component, COMPONENT_OK, "role %s, key %s, expires %s",
                      strna(c->role), c->current.access_key_id,
                      format_rfc3339(buf, sizeof(buf), c->current.expiration));
        schedule_refresh(c, credentials_refresh_time(now, c->current.expiration, random01()));
        wake_all(c, 0);
}

static int refresh_start(Credentials *c) {
        char path[256];
        const char *role = c->role;
        int r;

        if (c->from_env || c->refreshing)
                return 0;
        if (!role) {
                component_error(&c->component, COMPONENT_FAILED,
                                "no credentials: AWS_ACCESS_KEY_ID is not set and the instance has no IAM role");
                wake_all(c, -ENOKEY);
                return -ENOKEY;
        }
        snprintf(path, sizeof(path), "/latest/meta-data/iam/security-credentials/%s", role);
        r = imds_get(c->imds, path, on_imds_credentials, c, &c->call);
        if (r < 0) {
                component_error(&c->component, COMPONENT_FAILED, "cannot request credentials: %s", strerror(-r));
                wake_all(c, r);
                return r;
        }
        c->refreshing = true;
        return 0;
}

static int on_refresh_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Credentials *c = userdata;
        (void) refresh_start(c);
        return 0;
}

static void schedule_refresh(Credentials *c, usec_t when_realtime) {
        int r;

        if (when_realtime == USEC_INFINITY)
                return;
        if (!c->refresh_timer) {
                r = sd_event_add_time(c->event, &c->refresh_timer, CLOCK_REALTIME, when_realtime,
                                      USEC_PER_SEC, on_refresh_timer, c);
                if (r < 0) {
                        log_error_errno(r, "cannot arm credential refresh timer: %m");
                        return;
                }
                (void) sd_event_source_set_description(c->refresh_timer, "credentials-refresh");
                return;
        }
        (void) sd_event_source_set_time(c->refresh_timer, when_realtime);
        (void) sd_event_source_set_enabled(c->refresh_timer, SD_EVENT_ONESHOT);
}

int credentials_wait(Credentials *c, AgentCallback ready, void *userdata, CredentialsWait **ret) {
        CredentialsWait *w;
        bool now_usable = credentials_current(c) != NULL;
        int r;

        if (!now_usable) {
                if (c->from_env)
                        return -ENOKEY;
                /* Fails only synchronously, before we are on the list. */
                r = refresh_start(c);
                if (r < 0)
                        return r;
        }
        w = calloc(1, sizeof(*w));
        if (!w)
                return -ENOMEM;
        *w = (CredentialsWait) { .owner = c, .ready = ready, .userdata = userdata };
        LIST_PREPEND(waits, c->waits, w);
        if (now_usable) {
                r = wait_wake(w, 0);
                if (r < 0) {
                        credentials_wait_cancel(w);
                        return r;
                }
        }
        if (ret)
                *ret = w;
        return 0;
}

void credentials_invalidate(Credentials *c, const char *access_key_id) {
        if (c->from_env || !c->current.access_key_id)
                return;
        if (access_key_id && !streq(access_key_id, c->current.access_key_id))
                return;         /* already replaced */
        log_notice("credentials %s refused as expired by AWS; refreshing now", c->current.access_key_id);
        /* Keep them only as "expired" so nothing uses them meanwhile. */
        c->current.expiration = 0;
        (void) refresh_start(c);
}

int credentials_start(Credentials *c) {
        const char *akid = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
        const char *token = getenv("AWS_SESSION_TOKEN");

        if (!isempty(akid) && !isempty(secret)) {
                c->from_env = true;
                c->current.access_key_id = strdup(akid);
                c->current.secret_access_key = secure_strdup(secret);
                c->current.session_token = isempty(token) ? NULL : secure_strdup(token);
                c->current.expiration = USEC_INFINITY;
                if (!c->current.access_key_id || !c->current.secret_access_key ||
                    (!isempty(token) && !c->current.session_token))
                        return -ENOMEM;
                component_set(&c->component, COMPONENT_OK, "static key %s from the environment",
                              c->current.access_key_id);
                return 0;
        }
        return refresh_start(c);
}

int credentials_set_role(Credentials *c, const char *role) {
        return free_and_strdup(&c->role, role);
}

int credentials_new(sd_event *e, Imds *imds, Credentials **ret) {
        Credentials *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->imds = imds;
        c->backoff = (Backoff) { .base = USEC_PER_SEC, .cap = 60 * USEC_PER_SEC };
        component_init(&c->component, "credentials", true);
        *ret = c;
        return 0;
}

Credentials *credentials_free(Credentials *c) {
        if (!c)
                return NULL;
        while (c->waits)
                credentials_wait_cancel(c->waits);
        imds_call_cancel(c->call);
        sd_event_source_disable_unref(c->refresh_timer);
        aws_credentials_done(&c->current);
        component_done(&c->component);
        free(c->role);
        sd_event_unref(c->event);
        return mfree(c);
}

Component *credentials_component(Credentials *c) {
        return &c->component;
}

const char *credentials_source(Credentials *c) {
        return c->from_env ? "environment" : "imds";
}
