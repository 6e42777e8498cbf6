/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "secrets"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "aws.h"
#include "log.h"
#include "secrets.h"
#include "backoff.h"
#include "json-util.h"
#include "time-util.h"

struct Secret {
        Secrets *owner;
        char *name;
        char *id;
        char *stage;
        usec_t refresh;
        char component_name[80];
        Component component;

        SecretValue value;              /* last good; value.version_id NULL until loaded */
        usec_t loaded_at;               /* CLOCK_REALTIME */
        bool answered;                  /* first load finished, either way */
        AwsCall *call;
        bool describing;                /* the call in flight is a DescribeSecret */
        bool force;                     /* fetch the value even if the version is known */
        bool in_refresh;                /* counted in Secrets.refreshing */
        sd_event_source *timer;
        Backoff backoff;
};

struct Secrets {
        sd_event *event;
        AwsClient *aws;
        AgentCallback cb;
        void *userdata;
        Secret **list;
        size_t n;
        bool started;
        bool loaded_reported;
        sd_event_source *loaded_defer;  /* LOADED with no secret at all */
        AgentCallback refreshed;        /* an `agentctl refresh` waiting */
        void *refreshed_userdata;
        sd_event_source *refresh_defer; /* REFRESHED with nothing to fetch */
        size_t refreshing;
        char loaded_reason[600];
        int refresh_error;
        char refresh_reason[1200];
};

static Secret *secret_find(Secrets *s, const char *name) {
        for (size_t i = 0; i < s->n; i++)
                if (streq(s->list[i]->name, name))
                        return s->list[i];
        return NULL;
}

int secrets_lookup(Secrets *s, const char *name, const char *field, const char **ret, size_t *ret_len) {
        Secret *sec = s ? secret_find(s, name) : NULL;

        if (!sec)
                return -ENOENT;
        if (!sec->value.version_id)
                return -EAGAIN;
        if (!field) {
                if (sec->value.n_fields > 0)
                        return -EMEDIUMTYPE;
                *ret = sec->value.value;
                if (ret_len)
                        *ret_len = sec->value.value_len;
                return 0;
        }
        if (sec->value.n_fields == 0)
                return -EMEDIUMTYPE;
        for (size_t i = 0; i < sec->value.n_fields; i++)
                if (streq(sec->value.field_names[i], field)) {
                        *ret = sec->value.field_values[i];
                        if (ret_len)
                                *ret_len = strlen(sec->value.field_values[i]);
                        return 0;
                }
        return -ENOENT;
}

const char *secrets_version(Secrets *s, const char *name) {
        Secret *sec = s ? secret_find(s, name) : NULL;
        return sec ? sec->value.version_id : NULL;
}

size_t secrets_count(Secrets *s) {
        return s ? s->n : 0;
}

bool secrets_all_loaded(Secrets *s) {
        for (size_t i = 0; s && i < s->n; i++)
                if (!s->list[i]->value.version_id)
                        return false;
        return true;
}

static void maybe_report_loaded(Secrets *s) {
        int error = 0;
        const char *reason = NULL;

        if (s->loaded_reported || !s->started)
                return;
        for (size_t i = 0; i < s->n; i++) {
                if (!s->list[i]->answered)
                        return;
                if (!s->list[i]->value.version_id && error == 0) {
                        error = -ENOKEY;
                        snprintf(s->loaded_reason, sizeof(s->loaded_reason), "[secret.%s]: %s", s->list[i]->name,
                                 strna(s->list[i]->component.last_error));
                        reason = s->loaded_reason;
                }
        }
        s->loaded_reported = true;
        AgentEvent ev = { .type = SECRETS_EVENT_LOADED, .error = error, .reason = reason };
        agent_callback_invoke(s->cb, s, &ev, s->userdata);
}

static void refresh_report(Secrets *s) {
        AgentCallback done = s->refreshed;
        AgentEvent ev = { .type = SECRETS_EVENT_REFRESHED, .error = s->refresh_error,
                          .reason = s->refresh_error ? s->refresh_reason : NULL };

        s->refreshed = NULL;
        agent_callback_invoke(done, s, &ev, s->refreshed_userdata);
}

static void fetch(Secret *sec, bool value);

/* One secret of a forced refresh answered (ok or not). */
static void refresh_answered(Secret *sec, int error, const char *reason) {
        Secrets *s = sec->owner;

        if (!sec->in_refresh)
                return;
        sec->in_refresh = false;
        if (error < 0 && s->refresh_error == 0) {
                s->refresh_error = error;
                snprintf(s->refresh_reason, sizeof(s->refresh_reason), "[secret.%s]: %s", sec->name, strna(reason));
        }
        if (--s->refreshing == 0 && s->refreshed)
                refresh_report(s);
}

static int on_refresh_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        Secret *sec = userdata;
        /* Only the VersionId, unless we have nothing (or were told to). */
        fetch(sec, !sec->value.version_id || sec->force);
        return 0;
}

static void schedule(Secret *sec, usec_t delay) {
        if (!sec->timer) {
                if (sd_event_add_time_relative(sec->owner->event, &sec->timer, CLOCK_MONOTONIC, delay, USEC_PER_SEC,
                                               on_refresh_timer, sec) < 0)
                        log_error("[secret.%s]: cannot arm refresh timer", sec->name);
                return;
        }
        (void) sd_event_source_set_time_relative(sec->timer, delay);
        (void) sd_event_source_set_enabled(sec->timer, SD_EVENT_ONESHOT);
}

/* What went wrong, for people: AWS's code names the cause. */
static void describe_failure(Secret *sec, const char *op, const AwsResult *res, char *buf, size_t n) {
        const char *code = res->aws_error ? res->aws_error->code : NULL;
        const char *hint = NULL;

        if (streq_ptr(code, "ResourceNotFoundException"))
                hint = "the secret does not exist: check id= of this section";
        else if (streq_ptr(code, "AccessDeniedException"))
                hint = "the instance role may not read it: check the IAM policy";
        else if (streq_ptr(code, "DecryptionFailure"))
                hint = "KMS refused to decrypt it: check the key policy and key state";
        else if (streq_ptr(code, "InvalidRequestException"))
                hint = "the secret is scheduled for deletion or has no such stage";
        snprintf(buf, n, "%s %s: %s%s%s%s", op, sec->id, strna(res->reason),
                 hint ? " (" : "", strempty(hint), hint ? ")" : "");
}

static void on_value(AwsCall *call, const AwsResult *res, void *userdata) {
        Secret *sec = userdata;
        Secrets *s = sec->owner;
        SecretValue v = {};
        const char *reason = NULL;
        char buf[1024], when[64];
        bool changed;
        int r;

        sec->call = NULL;
        sec->answered = true;
        sec->force = false;
        if (res->error < 0) {
                describe_failure(sec, "GetSecretValue", res, buf, sizeof(buf));
                goto fail;
        }
        r = secret_value_parse(res->body, res->body_len, &v, &reason);
        if (r < 0) {
                snprintf(buf, sizeof(buf), "GetSecretValue %s: %s", sec->id, reason);
                goto fail;
        }
        changed = !streq_ptr(v.version_id, sec->value.version_id);
        secret_value_done(&sec->value);
        sec->value = v;
        sec->loaded_at = now_usec(CLOCK_REALTIME);
        backoff_reset(&sec->backoff);
        component_set(&sec->component, COMPONENT_OK, "version %s (%s, %zu field%s), loaded %s", v.version_id,
                      v.binary ? "binary" : v.n_fields > 0 ? "JSON" : "string", v.n_fields,
                      v.n_fields == 1 ? "" : "s", format_rfc3339(when, sizeof(when), sec->loaded_at));
        if (changed)
                log_info("[secret.%s]: version %s loaded", sec->name, v.version_id);
        schedule(sec, jitter(sec->refresh, 0.1));
        maybe_report_loaded(s);
        if (changed && s->loaded_reported) {
                AgentEvent ev = { .type = SECRETS_EVENT_CHANGED, .name = sec->name };
                agent_callback_invoke(s->cb, s, &ev, s->userdata);
        }
        refresh_answered(sec, 0, NULL);
        return;
fail:
        /* Keep the last good value; retry sooner than the refresh period. */
        component_error(&sec->component, sec->value.version_id ? COMPONENT_DEGRADED : COMPONENT_FAILED, "%s", buf);
        log_error("[secret.%s]: %s%s", sec->name, buf, sec->value.version_id ? "; keeping the last good value" : "");
        schedule(sec, MIN(backoff_next(&sec->backoff), sec->refresh));
        maybe_report_loaded(s);
        refresh_answered(sec, -EIO, buf);
}

static void on_describe(AwsCall *call, const AwsResult *res, void *userdata) {
        Secret *sec = userdata;
        _cleanup_(cJSON_Deletep) cJSON *j = NULL;
        const char *current = NULL;

        sec->call = NULL;
        if (res->error < 0) {
                char buf[1024];
                describe_failure(sec, "DescribeSecret", res, buf, sizeof(buf));
                component_error(&sec->component, COMPONENT_DEGRADED, "%s", buf);
                log_warning("[secret.%s]: %s; keeping the last good value", sec->name, buf);
                schedule(sec, MIN(backoff_next(&sec->backoff), sec->refresh));
                return;
        }
        current = secret_describe_current(res->body, res->body_len, sec->stage, &j);
        if (!current) {
                component_error(&sec->component, COMPONENT_DEGRADED,
                                "DescribeSecret %s: no version holds stage %s", sec->id, sec->stage);
                schedule(sec, sec->refresh);
                return;
        }
        if (!streq_ptr(current, sec->value.version_id)) {
                log_info("[secret.%s]: %s moved to version %s, fetching it", sec->name, sec->stage, current);
                fetch(sec, true);
                return;
        }
        backoff_reset(&sec->backoff);
        schedule(sec, jitter(sec->refresh, 0.1));
}

static void fetch(Secret *sec, bool value) {
        _cleanup_(cJSON_Deletep) cJSON *req = cJSON_CreateObject();
        _cleanup_free_ char *body = NULL;
        int r;

        if (sec->call)
                return;         /* one at a time */
        if (!req || !cJSON_AddStringToObject(req, "SecretId", sec->id) ||
            (value && !cJSON_AddStringToObject(req, "VersionStage", sec->stage)))
                return (void) log_oom();
        body = cJSON_PrintUnformatted(req);
        if (!body)
                return (void) log_oom();
        sec->describing = !value;
        r = aws_call(sec->owner->aws, AWS_SERVICE_SECRETSMANAGER, AWS_PROTOCOL_JSON,
                     value ? "secretsmanager.GetSecretValue" : "secretsmanager.DescribeSecret",
                     body, value ? on_value : on_describe, sec, &sec->call);
        if (r < 0) {
                log_error_errno(r, "[secret.%s]: cannot start request: %m", sec->name);
                schedule(sec, 5 * USEC_PER_SEC);
        }
}

static int on_refresh_defer(sd_event_source *src, void *userdata) {
        Secrets *s = userdata;

        s->refresh_defer = sd_event_source_disable_unref(s->refresh_defer);
        if (s->refreshing == 0 && s->refreshed)
                refresh_report(s);
        return 0;
}

int secrets_refresh_now(Secrets *s, const char *name, AgentCallback done, void *userdata) {
        bool found = false;
        int r;

        if (done && s->refreshed)
                return -EBUSY;          /* one waiting refresh at a time */
        for (size_t i = 0; i < s->n; i++)
                if (!name || streq(s->list[i]->name, name))
                        found = true;
        if (!found && name)
                return -ENOENT;
        if (done) {
                s->refreshed = done;
                s->refreshed_userdata = userdata;
                s->refresh_error = 0;
        }
        if (!found) {
                /* Nothing to fetch: the answer still leaves from the loop,
                 * never from inside this call. */
                if (!done)
                        return 0;
                r = sd_event_add_defer(s->event, &s->refresh_defer, on_refresh_defer, s);
                if (r < 0) {
                        s->refreshed = NULL;
                        return r;
                }
                return 0;
        }
        for (size_t i = 0; i < s->n; i++) {
                Secret *sec = s->list[i];
                if (name && !streq(sec->name, name))
                        continue;
                if (sec->call && sec->describing) {
                        aws_call_cancel(sec->call);
                        sec->call = NULL;
                }
                if (!sec->in_refresh) {
                        sec->in_refresh = true;
                        s->refreshing++;
                }
                sec->force = true;
                fetch(sec, true);       /* joins a GetSecretValue in flight */
        }
        return 0;
}

void secrets_foreach_value(Secrets *s, void (*fn)(const char *v, size_t len, void *userdata), void *userdata) {
        for (size_t i = 0; s && i < s->n; i++) {
                const SecretValue *v = &s->list[i]->value;

                if (!v->version_id)
                        continue;
                if (v->n_fields == 0 && v->value)
                        fn(v->value, v->value_len, userdata);
                for (size_t k = 0; k < v->n_fields; k++)
                        fn(v->field_values[k], strlen(v->field_values[k]), userdata);
        }
}

int secrets_add_components(Secrets *s, ComponentList *l) {
        for (size_t i = 0; s && i < s->n; i++) {
                int r = component_list_add(l, &s->list[i]->component);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int secret_append_json(const Component *c, cJSON *o) {
        const Secret *sec = container_of(c, const Secret, component);
        char buf[64];
        cJSON *fields;

        if (!cJSON_AddStringToObject(o, "secret_id", sec->id) ||
            !cJSON_AddStringToObject(o, "version_stage", sec->stage) ||
            json_add_string_or_null(o, "version_id", sec->value.version_id) < 0 ||
            json_add_string_or_null(o, "loaded_at", sec->loaded_at ?
                                    format_rfc3339(buf, sizeof(buf), sec->loaded_at) : NULL) < 0)
                return -ENOMEM;
        /* Field names tell what a template may use; values never leave. */
        fields = cJSON_AddArrayToObject(o, "fields");
        if (!fields)
                return -ENOMEM;
        for (size_t i = 0; i < sec->value.n_fields; i++)
                cJSON_AddItemToArray(fields, cJSON_CreateString(sec->value.field_names[i]));
        return 0;
}

static Secret *secret_free(Secret *sec) {
        if (!sec)
                return NULL;
        aws_call_cancel(sec->call);
        sd_event_source_disable_unref(sec->timer);
        secret_value_done(&sec->value);
        component_done(&sec->component);
        free(sec->name);
        free(sec->id);
        free(sec->stage);
        return mfree(sec);
}

int secrets_new(sd_event *e, AwsClient *aws, SecretSettings *const *list, size_t n, AgentCallback cb,
                void *userdata, Secrets **ret) {
        _cleanup_(secrets_freep) Secrets *s = calloc(1, sizeof(Secrets));

        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->aws = aws;
        s->cb = cb;
        s->userdata = userdata;
        s->list = calloc(MAX(n, 1), sizeof(Secret *));
        if (!s->list)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                Secret *sec = calloc(1, sizeof(Secret));
                if (!sec)
                        return -ENOMEM;
                s->list[s->n++] = sec;
                sec->owner = s;
                sec->name = strdup(list[i]->name);
                sec->id = strdup(strempty(list[i]->id));
                sec->stage = strdup(list[i]->version_stage ?: "AWSCURRENT");
                sec->refresh = MAX(list[i]->refresh, USEC_PER_SEC);
                sec->backoff = (Backoff) { .base = USEC_PER_SEC, .cap = MIN(60 * USEC_PER_SEC, sec->refresh) };
                if (!sec->name || !sec->id || !sec->stage)
                        return -ENOMEM;
                snprintf(sec->component_name, sizeof(sec->component_name), "secret.%s", sec->name);
                component_init(&sec->component, sec->component_name, true);
                sec->component.append_json = secret_append_json;
                component_set(&sec->component, COMPONENT_STARTING, "not loaded yet");
        }
        *ret = TAKE_PTR(s);
        return 0;
}

Secrets *secrets_free(Secrets *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n; i++)
                secret_free(s->list[i]);
        free(s->list);
        sd_event_source_disable_unref(s->loaded_defer);
        sd_event_source_disable_unref(s->refresh_defer);
        sd_event_unref(s->event);
        return mfree(s);
}

static int on_loaded_defer(sd_event_source *src, void *userdata) {
        Secrets *s = userdata;

        s->loaded_defer = sd_event_source_disable_unref(s->loaded_defer);
        maybe_report_loaded(s);
        return 0;
}

int secrets_start(Secrets *s) {
        if (s->started)
                return -EALREADY;
        s->started = true;
        for (size_t i = 0; i < s->n; i++)
                fetch(s->list[i], true);
        if (s->n == 0)
                return sd_event_add_defer(s->event, &s->loaded_defer, on_loaded_defer, s);
        return 0;
}
