/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "imds"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "imds.h"
#include "log.h"
#include "http-request.h"
#include "list.h"
#include "time-util.h"

typedef enum CallState {
        CALL_WAITING_TOKEN,
        CALL_RUNNING,
} CallState;

struct ImdsCall {
        Imds *imds;
        char *path;
        CallState state;
        bool retried;           /* after a 401 */
        bool settle;            /* token_settled() has yet to act on it */
        HttpRequest *req;
        ImdsDone done;
        void *userdata;
        LIST_FIELDS(ImdsCall, calls);
};

struct Imds {
        sd_event *event;
        CurlGlue *glue;
        const ImdsSettings *settings;
        char *endpoint;
        Component component;

        char *token;
        usec_t token_valid_until;       /* CLOCK_MONOTONIC */
        HttpRequest *token_req;
        ImdsCall *calls;
};

static void call_unlink(ImdsCall *c) {
        if (c->imds)
                LIST_REMOVE(calls, c->imds->calls, c);
        c->imds = NULL;
}

static ImdsCall *call_free(ImdsCall *c) {
        if (!c)
                return NULL;
        call_unlink(c);
        http_request_free(c->req);
        free(c->path);
        return mfree(c);
}

static void call_finish(ImdsCall *c, int error, const char *body, size_t len) {
        ImdsDone done = c->done;
        void *userdata = c->userdata;

        /* Unlink first: the callback may start new calls or free the Imds. */
        call_unlink(c);
        done(error, body, len, userdata);
        http_request_free(c->req);
        free(c->path);
        free(c);
}

static int imds_request(Imds *imds, const char *method, const char *path, HttpRequest **ret) {
        _cleanup_(http_request_freep) HttpRequest *req = NULL;
        _cleanup_free_ char *url = NULL;
        int r;

        if (asprintf(&url, "%s%s", imds->endpoint, path) < 0)
                return -ENOMEM;
        r = http_request_new(imds->glue, method, url, &req);
        if (r < 0)
                return r;
        /* A link-local service: its one timeout bounds connecting too. */
        http_request_set_timeouts(req, imds->settings->timeout, imds->settings->timeout);
        http_request_set_max_response(req, IMDS_MAX_RESPONSE);
        /* Link-local, and a token PUT through a proxy would carry
         * X-Forwarded-For (refused): never via HTTPS_PROXY/HTTP_PROXY. */
        http_request_set_no_proxy(req);
        *ret = TAKE_PTR(req);
        return 0;
}

static bool token_valid(Imds *imds) {
        return imds->token && now_usec(CLOCK_MONOTONIC) < imds->token_valid_until;
}

static void call_run(ImdsCall *c);
static int token_fetch(Imds *imds);

static int status_to_errno(long status) {
        if (status == 404)
                return -ENOENT;
        if (status == 403 || status == 401)
                return -EACCES;
        if (status == 429)
                return -EBUSY;
        if (status == 400)
                return -EINVAL;
        return -EIO;
}

static void on_get_done(HttpRequest *req, int error, long status, void *userdata) {
        ImdsCall *c = userdata;
        Imds *imds = c->imds;
        const char *body;
        size_t len;

        if (error < 0) {
                log_debug("GET %s: %s", c->path, http_request_error(req));
                return call_finish(c, error, NULL, 0);
        }
        if (status == 401 && !c->retried) {
                /* Token expired or IMDS lost it: get a new one, retry once. */
                log_debug("GET %s: 401, renewing the session token", c->path);
                c->retried = true;
                imds->token = strwipe_free(imds->token);
                c->state = CALL_WAITING_TOKEN;
                int r = token_fetch(imds);
                if (r < 0)
                        call_finish(c, r, NULL, 0);
                return;
        }
        if (status != 200)
                return call_finish(c, status_to_errno(status), NULL, 0);
        body = http_request_body(req, &len);
        call_finish(c, 0, body, len);
}

/* Starts the GET; on failure the caller finishes or frees the call. */
static int call_start(ImdsCall *c) {
        _cleanup_free_ char *hdr = NULL;
        int r;

        c->req = http_request_free(c->req);
        r = imds_request(c->imds, "GET", c->path, &c->req);
        if (r >= 0 && asprintf(&hdr, "X-aws-ec2-metadata-token: %s", c->imds->token) < 0)
                r = -ENOMEM;
        if (r >= 0)
                r = http_request_add_header(c->req, hdr);
        if (r >= 0) {
                c->state = CALL_RUNNING;
                r = http_request_start(c->req, on_get_done, c);
        }
        if (hdr)
                explicit_wipe(hdr, strlen(hdr));
        return r;
}

static void call_run(ImdsCall *c) {
        int r = call_start(c);
        if (r < 0)
                call_finish(c, r, NULL, 0);
}

/* Fail or start every call that waits for the token. A done callback may
 * start calls (they wait for the next token, not this answer) or cancel
 * others: mark the waiting ones first, then settle one at a time. */
static void token_settled(Imds *imds, int error) {
        ImdsCall *c;

        LIST_FOREACH(calls, c, imds->calls)
                c->settle = c->state == CALL_WAITING_TOKEN;
        for (;;) {
                LIST_FOREACH(calls, c, imds->calls)
                        if (c->settle)
                                break;
                if (!c)
                        return;
                c->settle = false;
                if (error < 0)
                        call_finish(c, error, NULL, 0);
                else
                        call_run(c);
        }
}

static void on_token_done(HttpRequest *req, int error, long status, void *userdata) {
        Imds *imds = userdata;
        unsigned ttl = imds->settings->token_ttl;
        const char *body;
        size_t len;
        usec_t margin;

        if (error < 0) {
                component_error(&imds->component, COMPONENT_DEGRADED, "token request to %s failed: %s",
                                imds->endpoint, http_request_error(req));
                goto fail;
        }
        if (status != 200) {
                error = status == 403 ? -EACCES : status_to_errno(status);
                component_error(&imds->component, COMPONENT_DEGRADED, "token request to %s answered HTTP %ld%s",
                                imds->endpoint, status,
                                status == 403 ? " (IMDS is disabled for this instance)" : "");
                goto fail;
        }
        body = http_request_body(req, &len);
        if (len == 0 || len > 4096 || strlen(body) != len || strpbrk(body, "\r\n")) {
                error = -EBADMSG;
                component_error(&imds->component, COMPONENT_DEGRADED,
                                "token request to %s: malformed token (%zu bytes)", imds->endpoint, len);
                goto fail;
        }
        strwipe_free(imds->token);
        imds->token = strdup(body);
        if (!imds->token) {
                error = -ENOMEM;
                goto fail;
        }
        /* Renew a minute early (a tenth of the TTL for short test TTLs). */
        margin = MIN(60 * USEC_PER_SEC, ttl * USEC_PER_SEC / 10);
        imds->token_valid_until = now_usec(CLOCK_MONOTONIC) + ttl * USEC_PER_SEC - margin;
        component_set(&imds->component, COMPONENT_OK, "session token valid for %us", ttl);
        imds->token_req = http_request_free(imds->token_req);
        token_settled(imds, 0);
        return;
fail:
        log_debug("token request failed: %s", imds->component.detail ?: "?");
        imds->token_req = http_request_free(imds->token_req);
        token_settled(imds, error);
}

static int token_fetch(Imds *imds) {
        char hdr[64];
        int r;

        if (imds->token_req)
                return 0;       /* one in flight already: wait for it */
        r = imds_request(imds, "PUT", "/latest/api/token", &imds->token_req);
        if (r < 0)
                return r;
        snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token-ttl-seconds: %u", imds->settings->token_ttl);
        r = http_request_add_header(imds->token_req, hdr);
        if (r >= 0)
                r = http_request_start(imds->token_req, on_token_done, imds);
        if (r < 0)
                imds->token_req = http_request_free(imds->token_req);
        return r;
}

int imds_get(Imds *imds, const char *path, ImdsDone done, void *userdata, ImdsCall **ret) {
        ImdsCall *c;
        int r;

        if (!imds->settings->enabled)
                return -EOPNOTSUPP;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->imds = imds;
        c->done = done;
        c->userdata = userdata;
        c->path = strdup(path);
        if (!c->path) {
                free(c);
                return -ENOMEM;
        }
        LIST_PREPEND(calls, imds->calls, c);

        if (token_valid(imds)) {
                r = call_start(c);
                if (r < 0) {
                        call_free(c);
                        return r;
                }
                if (ret)
                        *ret = c;
                return 0;
        }
        c->state = CALL_WAITING_TOKEN;
        r = token_fetch(imds);
        if (r < 0) {
                call_free(c);
                return r;
        }
        if (ret)
                *ret = c;
        return 0;
}

void imds_call_cancel(ImdsCall *call) {
        call_free(call);
}

bool imds_error_is_transient(int error) {
        switch (error) {
        case -ECONNREFUSED:
        case -ETIMEDOUT:
        case -ECONNRESET:
        case -EHOSTUNREACH:
        case -EIO:
        case -EBUSY:
        case -EBADMSG:
        case -EFBIG:    /* a garbled answer at boot is worth another try */
                return true;
        default:
                return false;
        }
}

int imds_new(sd_event *event, CurlGlue *glue, const ImdsSettings *s, Imds **ret) {
        _cleanup_(imds_freep) Imds *imds = NULL;
        const char *e = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
        size_t l;

        imds = calloc(1, sizeof(*imds));
        if (!imds)
                return -ENOMEM;
        imds->event = sd_event_ref(event);
        imds->glue = glue;
        imds->settings = s;
        component_init(&imds->component, "imds", true);
        if (isempty(e))
                e = s->endpoint;
        if (isempty(e))
                e = IMDS_DEFAULT_ENDPOINT;
        if (strncmp(e, "http://", 7) != 0 && strncmp(e, "https://", 8) != 0)
                return log_error_errno(EINVAL, "IMDS endpoint '%s' is not an http:// URL "
                                       "(from AWS_EC2_METADATA_SERVICE_ENDPOINT or [imds] endpoint=)", e);
        imds->endpoint = strdup(e);
        if (!imds->endpoint)
                return -ENOMEM;
        l = strlen(imds->endpoint);
        while (l > 0 && imds->endpoint[l - 1] == '/')
                imds->endpoint[--l] = 0;
        if (!s->enabled)
                component_set(&imds->component, COMPONENT_DISABLED, "disabled by [imds] enabled=no");
        else
                component_set(&imds->component, COMPONENT_STARTING, "endpoint %s", imds->endpoint);
        *ret = TAKE_PTR(imds);
        return 0;
}

Imds *imds_free(Imds *imds) {
        if (!imds)
                return NULL;
        while (imds->calls)
                call_free(imds->calls);
        http_request_free(imds->token_req);
        strwipe_free(imds->token);
        free(imds->endpoint);
        component_done(&imds->component);
        sd_event_unref(imds->event);
        return mfree(imds);
}

void imds_set_settings(Imds *imds, const ImdsSettings *s) {
        imds->settings = s;
}

const char *imds_strerror(int error) {
        switch (error) {
        case -ENOENT:       return "not found (404)";
        case -EACCES:       return "access denied (IMDS disabled, or the session token was refused)";
        case -EBUSY:        return "throttled (429)";
        case -EIO:          return "server error (5xx)";
        case -EINVAL:       return "bad request (400)";
        case -EFBIG:        return "answer larger than 64 KiB";
        case -EBADMSG:      return "malformed answer";
        case -ECONNREFUSED: return "connection refused";
        case -ETIMEDOUT:    return "timed out";
        case -ECONNRESET:   return "connection dropped or answer truncated";
        case -EHOSTUNREACH: return "endpoint unreachable";
        default:            return strerror(-error);
        }
}

const char *imds_endpoint(Imds *imds) {
        return imds->endpoint;
}

Component *imds_component(Imds *imds) {
        return &imds->component;
}
