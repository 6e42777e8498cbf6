/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "identity"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "identity.h"
#include "imds.h"
#include "log.h"
#include "backoff.h"
#include "json-util.h"
#include "time-util.h"

#define MAX_PENDING 64

struct IdentityFetch {
        sd_event *event;
        Imds *imds;
        AgentCallback cb;
        void *userdata;
        usec_t imds_timeout;
        bool finished;                  /* DONE sent; result valid if ok */
        bool ok;
        Identity result;
        usec_t deadline;                /* CLOCK_MONOTONIC */
        Backoff backoff;
        unsigned round;
        sd_event_source *retry_timer;

        unsigned pending;
        int error;                      /* first error of this round */
        char reason[512];
        bool tags_phase_started;
        struct Item *items[MAX_PENDING];
        size_t n_items;
};

typedef struct Item {
        IdentityFetch *fetch;
        char *path;
        ImdsCall *call;
        bool optional;                  /* 404 is fine */
        /* Validates and stores the value; returns false if malformed. */
        bool (*store)(struct Item *item, const char *value);
        char **field;
} Item;

bool identity_valid_token(const char *s, size_t max) {
        size_t l;

        if (isempty(s))
                return false;
        l = strlen(s);
        if (l > max)
                return false;
        for (const char *p = s; *p; p++)
                if (!isgraph((unsigned char) *p))
                        return false;
        return true;
}

bool identity_valid_instance_id(const char *s) {
        size_t l;

        if (!s || strncmp(s, "i-", 2) != 0)
                return false;
        l = strlen(s + 2);
        if (l < 8 || l > 17)
                return false;
        for (const char *p = s + 2; *p; p++)
                if (!isxdigit((unsigned char) *p) || isupper((unsigned char) *p))
                        return false;
        return true;
}

bool identity_valid_region(const char *s) {
        if (isempty(s) || strlen(s) > 32)
                return false;
        for (const char *p = s; *p; p++)
                if (!islower((unsigned char) *p) && !isdigit((unsigned char) *p) && *p != '-')
                        return false;
        return strchr(s, '-') != NULL;
}

static bool store_token(Item *it, const char *v) {
        if (!identity_valid_token(v, 255))
                return false;
        return free_and_strdup(it->field, v) >= 0;
}

static bool store_instance_id(Item *it, const char *v) {
        return identity_valid_instance_id(v) && free_and_strdup(it->field, v) >= 0;
}

static bool store_region(Item *it, const char *v) {
        return identity_valid_region(v) && free_and_strdup(it->field, v) >= 0;
}

static bool store_ipv4(Item *it, const char *v) {
        struct in_addr a;
        return v && inet_pton(AF_INET, v, &a) == 1 && free_and_strdup(it->field, v) >= 0;
}

int identity_parse_role(const char *listing, char **ret) {
        /* A listing: the first line is the role name. */
        size_t l = strcspn(listing, "\n");

        if (l == 0 || l > 128)
                return -EBADMSG;
        for (size_t i = 0; i < l; i++)
                if (!isalnum((unsigned char) listing[i]) && !strchr("+=,.@_-", listing[i]))
                        return -EBADMSG;
        *ret = strndup(listing, l);
        return *ret ? 0 : -ENOMEM;
}

int identity_parse_account(const char *document, char **ret) {
        _cleanup_(cJSON_Deletep) cJSON *j = cJSON_Parse(document);
        const char *acct;

        if (!cJSON_IsObject(j))
                return -EBADMSG;
        acct = json_get_string(j, "accountId");
        if (!acct || strlen(acct) != 12 || strspn(acct, "0123456789") != 12)
                return -EBADMSG;
        *ret = strdup(acct);
        return *ret ? 0 : -ENOMEM;
}

int identity_next_tag_key(const char **p, char key[static IDENTITY_TAG_KEY_MAX + 1]) {
        for (;;) {
                size_t l = strcspn(*p, "\n");
                const char *line = *p;

                if (l == 0 && **p == 0)
                        return 0;
                *p += l;
                if (**p == '\n')
                        (*p)++;
                if (l == 0)
                        continue;
                if (l > IDENTITY_TAG_KEY_MAX)
                        return -EBADMSG;
                memcpy(key, line, l);
                key[l] = 0;
                /* Keys land in URLs and template names: no '/', no blanks. */
                if (!identity_valid_token(key, IDENTITY_TAG_KEY_MAX) || strchr(key, '/') || strchr(key, '%'))
                        return -EBADMSG;
                return 1;
        }
}

bool identity_valid_tag_value(const char *s) {
        /* Tag values are free text up to 256 characters; keep them printable. */
        if (strlen(s) > 256)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        return false;
        return true;
}

static bool store_role(Item *it, const char *v) {
        char *role;

        if (identity_parse_role(v, &role) < 0)
                return false;
        free(*it->field);
        *it->field = role;
        return true;
}

static bool store_document(Item *it, const char *v) {
        char *acct;

        if (identity_parse_account(v, &acct) < 0)
                return false;
        free(it->fetch->result.account_id);
        it->fetch->result.account_id = acct;
        return true;
}

static bool store_tag_keys(Item *it, const char *v);

static bool store_tag_value(Item *it, const char *v) {
        return identity_valid_tag_value(v) && free_and_strdup(it->field, v) >= 0;
}

static void fetch_item_done(int error, const char *body, size_t len, void *userdata);

static int fetch_add(IdentityFetch *f, const char *path, bool optional,
                     bool (*store)(Item *, const char *), char **field) {
        Item *it;
        int r;

        if (f->n_items >= MAX_PENDING)
                return -E2BIG;
        it = calloc(1, sizeof(*it));
        if (!it)
                return -ENOMEM;
        *it = (Item) { .fetch = f, .optional = optional, .store = store, .field = field };
        it->path = strdup(path);
        if (!it->path) {
                free(it);
                return -ENOMEM;
        }
        f->items[f->n_items++] = it;
        f->pending++;
        r = imds_get(f->imds, path, fetch_item_done, it, &it->call);
        if (r < 0) {
                f->pending--;
                it->call = NULL;
                return r;
        }
        return 0;
}

static bool store_tag_keys(Item *it, const char *v) {
        IdentityFetch *f = it->fetch;
        char key[IDENTITY_TAG_KEY_MAX + 1], path[256];
        int k;

        f->result.tags_available = true;
        while ((k = identity_next_tag_key(&v, key)) > 0) {
                if (f->result.n_tags >= IDENTITY_MAX_TAGS)
                        return false;
                size_t i = f->result.n_tags++;
                f->result.tag_keys[i] = strdup(key);
                if (!f->result.tag_keys[i])
                        return false;
                snprintf(path, sizeof(path), "/latest/meta-data/tags/instance/%s", key);
                if (fetch_add(f, path, false, store_tag_value, &f->result.tag_values[i]) < 0)
                        return false;
        }
        return k == 0;
}

static void fetch_round_start(IdentityFetch *f);

static void fetch_clear_items(IdentityFetch *f) {
        for (size_t i = 0; i < f->n_items; i++) {
                if (f->items[i]->call)
                        imds_call_cancel(f->items[i]->call);
                free(f->items[i]->path);
                free(f->items[i]);
        }
        f->n_items = 0;
        f->pending = 0;
}

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        IdentityFetch *f = userdata;
        f->retry_timer = sd_event_source_disable_unref(f->retry_timer);
        fetch_round_start(f);
        return 0;
}

static void fetch_finish(IdentityFetch *f, int error, const char *reason) {
        AgentEvent ev = { .type = IDENTITY_EVENT_DONE, .error = error, .reason = reason };

        f->finished = true;
        f->ok = error == 0;
        /* Last thing: the callback may free f. */
        agent_callback_invoke(f->cb, f, &ev, f->userdata);
}

static void fetch_round_end(IdentityFetch *f) {
        Component *c = imds_component(f->imds);
        usec_t now = now_usec(CLOCK_MONOTONIC), delay;
        int r;

        fetch_clear_items(f);
        if (f->error == 0) {
                component_set(c, COMPONENT_OK, "identity loaded from %s", imds_endpoint(f->imds));
                return fetch_finish(f, 0, NULL);
        }
        if (!imds_error_is_transient(f->error) || now >= f->deadline) {
                char msg[640];
                snprintf(msg, sizeof(msg), "%s%s", f->reason,
                         imds_error_is_transient(f->error) ? " (gave up after [imds] boot_deadline)" : "");
                component_error(c, COMPONENT_FAILED, "%s", msg);
                return fetch_finish(f, f->error, msg);
        }
        delay = backoff_next(&f->backoff);
        delay = MIN(delay, f->deadline - now);
        component_error(c, COMPONENT_STARTING, "%s; retry %u in %.1fs", f->reason, f->backoff.attempt,
                        (double) delay / USEC_PER_SEC);
        log_warning("%s; retrying in %.1fs (until boot_deadline)", f->reason, (double) delay / USEC_PER_SEC);
        r = sd_event_add_time_relative(f->event, &f->retry_timer, CLOCK_MONOTONIC, delay, USEC_PER_MSEC,
                                       on_retry_timer, f);
        if (r < 0) {
                component_error(c, COMPONENT_FAILED, "cannot arm retry timer: %s", strerror(-r));
                return fetch_finish(f, r, "cannot arm retry timer");
        }
        AgentEvent ev = { .type = IDENTITY_EVENT_RETRYING,
                          .usec = delay + 2 * f->imds_timeout + 10 * USEC_PER_SEC };
        agent_callback_invoke(f->cb, f, &ev, f->userdata);
}

static void fetch_item_done(int error, const char *body, size_t len, void *userdata) {
        Item *it = userdata;
        IdentityFetch *f = it->fetch;
        char reason[sizeof(f->reason)];

        it->call = NULL;
        if (error == -ENOENT && it->optional)
                error = 0;
        else if (error == 0 && (strlen(body) != len || !it->store(it, body))) {
                error = -EBADMSG;
                snprintf(reason, sizeof(reason), "IMDS %s: malformed value (%zu bytes)", it->path, len);
        } else if (error < 0)
                snprintf(reason, sizeof(reason), "IMDS %s: %s", it->path, imds_strerror(error));
        if (error < 0) {
                /* Every failure is logged; the first one becomes the status. */
                log_debug("%s", reason);
                if (f->error == 0) {
                        f->error = error;
                        memcpy(f->reason, reason, sizeof(reason));
                }
        }
        if (--f->pending == 0)
                fetch_round_end(f);
}

static void fetch_round_start(IdentityFetch *f) {
        Identity *id = &f->result;
        static const char *md = "/latest/meta-data/";
        char p[128];
        int r = 0;

        identity_done(id);
        f->error = 0;
        f->reason[0] = 0;
        f->round++;
        /* Hold one pending reference so synchronous completions cannot end
         * the round while we are still adding items. */
        f->pending = 1;

#define ADD(path, opt, st, fld) \
        if (r >= 0) { snprintf(p, sizeof(p), "%s%s", md, path); r = fetch_add(f, p, opt, st, fld); }
        ADD("instance-id", false, store_instance_id, &id->instance_id);
        ADD("placement/region", false, store_region, &id->region);
        ADD("placement/availability-zone", false, store_region, &id->availability_zone);
        ADD("instance-type", false, store_token, &id->instance_type);
        ADD("ami-id", false, store_token, &id->ami_id);
        ADD("local-ipv4", true, store_ipv4, &id->local_ipv4);
        ADD("instance-life-cycle", true, store_token, &id->life_cycle);
        ADD("iam/security-credentials/", true, store_role, &id->role);
        ADD("tags/instance", true, store_tag_keys, NULL);
#undef ADD
        if (r >= 0)
                r = fetch_add(f, "/latest/dynamic/instance-identity/document", false, store_document, NULL);
        if (r < 0 && f->error == 0) {
                f->error = r;
                snprintf(f->reason, sizeof(f->reason), "cannot start IMDS requests: %s", strerror(-r));
        }
        if (--f->pending == 0)
                fetch_round_end(f);
}

static int on_first_round(sd_event_source *s, void *userdata) {
        IdentityFetch *f = userdata;
        f->retry_timer = sd_event_source_disable_unref(f->retry_timer);
        fetch_round_start(f);
        return 0;
}

int identity_fetch_new(sd_event *e, Imds *imds, const ImdsSettings *s, AgentCallback cb, void *userdata,
                       IdentityFetch **ret) {
        _cleanup_(identity_fetch_freep) IdentityFetch *f = calloc(1, sizeof(*f));
        int r;

        if (!f)
                return -ENOMEM;
        f->event = sd_event_ref(e);
        f->imds = imds;
        f->cb = cb;
        f->userdata = userdata;
        f->imds_timeout = s->timeout;
        f->deadline = now_usec(CLOCK_MONOTONIC) + s->boot_deadline;
        f->backoff = (Backoff) { .base = 200 * USEC_PER_MSEC, .cap = 10 * USEC_PER_SEC };
        /* The first round starts from the loop: a failure to even send a
         * request is reported like any other, never from in here. */
        r = sd_event_add_defer(e, &f->retry_timer, on_first_round, f);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(f);
        return 0;
}

IdentityFetch *identity_fetch_free(IdentityFetch *f) {
        if (!f)
                return NULL;
        fetch_clear_items(f);
        sd_event_source_disable_unref(f->retry_timer);
        identity_done(&f->result);
        sd_event_unref(f->event);
        return mfree(f);
}

int identity_fetch_take(IdentityFetch *f, Identity *ret) {
        if (!f->finished || !f->ok)
                return -EAGAIN;
        *ret = f->result;
        f->result = (Identity) {};
        f->ok = false;
        return 0;
}

void identity_done(Identity *id) {
        char **fields[] = { &id->instance_id, &id->region, &id->availability_zone, &id->instance_type,
                            &id->ami_id, &id->local_ipv4, &id->account_id, &id->life_cycle, &id->role };
        for (size_t i = 0; i < ELEMENTSOF(fields); i++)
                *fields[i] = mfree(*fields[i]);
        for (size_t i = 0; i < id->n_tags; i++) {
                id->tag_keys[i] = mfree(id->tag_keys[i]);
                id->tag_values[i] = mfree(id->tag_values[i]);
        }
        id->n_tags = 0;
        id->tags_available = false;
}

const char *identity_tag(const Identity *id, const char *key) {
        for (size_t i = 0; i < id->n_tags; i++)
                if (streq(id->tag_keys[i], key))
                        return id->tag_values[i];
        return NULL;
}

int identity_to_json(const Identity *id, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        cJSON *tags;

        if (!o ||
            json_add_string_or_null(o, "instance_id", id->instance_id) < 0 ||
            json_add_string_or_null(o, "region", id->region) < 0 ||
            json_add_string_or_null(o, "availability_zone", id->availability_zone) < 0 ||
            json_add_string_or_null(o, "instance_type", id->instance_type) < 0 ||
            json_add_string_or_null(o, "ami_id", id->ami_id) < 0 ||
            json_add_string_or_null(o, "local_ipv4", id->local_ipv4) < 0 ||
            json_add_string_or_null(o, "account_id", id->account_id) < 0 ||
            json_add_string_or_null(o, "life_cycle", id->life_cycle) < 0 ||
            json_add_string_or_null(o, "iam_role", id->role) < 0 ||
            !cJSON_AddBoolToObject(o, "tags_in_metadata", id->tags_available))
                return -ENOMEM;
        tags = cJSON_AddObjectToObject(o, "tags");
        if (!tags)
                return -ENOMEM;
        for (size_t i = 0; i < id->n_tags; i++)
                if (json_add_string_or_null(tags, id->tag_keys[i], id->tag_values[i]) < 0)
                        return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
