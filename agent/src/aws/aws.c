/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "aws"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "aws.h"
#include "credentials.h"
#include "log.h"
#include "backoff.h"
#include "list.h"
#include "http-request.h"
#include "time-util.h"

#define RETRY_BASE (100 * USEC_PER_MSEC)
#define THROTTLE_BASE (500 * USEC_PER_MSEC)
#define RETRY_CAP (20 * USEC_PER_SEC)

struct AwsClient {
        sd_event *event;
        CurlGlue *glue;
        Credentials *credentials;
        const AwsSettings *settings;
        char *fallback_region;
        Component component;
        AwsCall *calls;
        uint64_t n_ok, n_failed, n_retries;
        uint64_t service_calls[_AWS_SERVICE_MAX], service_errors[_AWS_SERVICE_MAX];
        long long clock_skew_sec;       /* server minus local, last measured */
};

struct AwsCall {
        AwsClient *client;
        AwsService service;
        AwsProtocol protocol;
        char *target;
        char *body;                     /* ours to wipe and free unless body_borrowed */
        size_t body_len;
        bool body_borrowed;
        unsigned attempts;
        bool refreshed_credentials;
        char *signed_with;              /* access key id of the last attempt */
        HttpRequest *req;
        CredentialsWait *wait;
        sd_event_source *retry_timer;
        AwsCallDone done;
        void *userdata;
        LIST_FIELDS(AwsCall, calls);
};

char *aws_form_encode(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s);
        char *out = malloc(n * 3 + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
                if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
                        *o++ = (char) *p;
                else {
                        *o++ = '%';
                        *o++ = hex[*p >> 4];
                        *o++ = hex[*p & 15];
                }
        }
        *o = 0;
        return out;
}

int aws_endpoint_resolve(AwsService service, const char *region, const AwsSettings *s,
                         const char *(*getenv_fn)(const char *), char **ret) {
        char var[64];
        const char *e;
        char *url;
        size_t l;

        snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", aws_service_env_id(service));
        e = getenv_fn(var);
        if (isempty(e))
                e = getenv_fn("AWS_ENDPOINT_URL");
        if (isempty(e) && s)
                e = s->service_endpoint_url[service];
        if (isempty(e) && s)
                e = s->endpoint_url;
        if (!isempty(e)) {
                if (strncmp(e, "http://", 7) != 0 && strncmp(e, "https://", 8) != 0)
                        return -EINVAL;
                url = strdup(e);
        } else {
                if (isempty(region))
                        return -ENXIO;
                if (asprintf(&url, "https://%s.%s.amazonaws.com", aws_service_to_string(service), region) < 0)
                        url = NULL;
        }
        if (!url)
                return -ENOMEM;
        l = strlen(url);
        while (l > 8 && url[l - 1] == '/')
                url[--l] = 0;
        *ret = url;
        return 0;
}

static const char *real_getenv(const char *n) {
        return getenv(n);
}

const char *aws_client_region(AwsClient *c) {
        const char *r = getenv("AWS_REGION");

        if (isempty(r))
                r = getenv("AWS_DEFAULT_REGION");
        if (isempty(r))
                r = c->settings->region;
        if (isempty(r))
                r = c->fallback_region;
        return isempty(r) ? NULL : r;
}

static void call_unlink(AwsCall *call) {
        if (call->client)
                LIST_REMOVE(calls, call->client->calls, call);
        call->client = NULL;
}

void aws_call_cancel(AwsCall *call) {
        if (!call)
                return;
        call_unlink(call);
        http_request_free(call->req);
        credentials_wait_cancel(call->wait);
        sd_event_source_disable_unref(call->retry_timer);
        free(call->target);
        if (call->body && !call->body_borrowed) {
                explicit_wipe(call->body, call->body_len);
                free(call->body);
        }
        free(call->signed_with);
        free(call);
}

static void call_finish(AwsCall *call, AwsResult *res) {
        AwsClient *c = call->client;

        res->attempts = call->attempts;
        if (call->service < _AWS_SERVICE_MAX) {
                c->service_calls[call->service]++;
                if (res->error < 0)
                        c->service_errors[call->service]++;
        }
        if (res->error == 0) {
                c->n_ok++;
                if (c->component.state != COMPONENT_OK || !c->component.detail)
                        component_set(&c->component, COMPONENT_OK, "last call succeeded");
        } else {
                c->n_failed++;
                component_error(&c->component, COMPONENT_DEGRADED, "%s %s: %s", aws_service_to_string(call->service),
                                call->target, strna(res->reason));
        }
        call_unlink(call);
        call->done(call, res, call->userdata);
        aws_call_cancel(call);
}

static void fail_now(AwsCall *call, int error, const char *reason) {
        AwsResult res = { .error = error, .body = "", .reason = reason, .error_class = AWS_ERROR_FATAL };
        call_finish(call, &res);
}

static void attempt_start(AwsCall *call);

static int on_retry_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        AwsCall *call = userdata;
        call->retry_timer = sd_event_source_disable_unref(call->retry_timer);
        attempt_start(call);
        return 0;
}

static bool schedule_retry(AwsCall *call, AwsErrorClass cls, const char *reason) {
        AwsClient *c = call->client;
        usec_t base = cls == AWS_ERROR_THROTTLE ? THROTTLE_BASE : RETRY_BASE;
        usec_t delay;
        int r;

        if (call->attempts >= c->settings->max_attempts)
                return false;
        /* Full jitter; a skewed clock will not fix itself in milliseconds. */
        delay = cls == AWS_ERROR_CLOCK_SKEW ? RETRY_CAP : backoff_delay(base, RETRY_CAP, call->attempts, random01());
        log_info("%s %s: %s; retry %u/%u in %.2fs", aws_service_to_string(call->service), call->target, reason,
                 call->attempts, c->settings->max_attempts - 1, (double) delay / USEC_PER_SEC);
        r = sd_event_add_time_relative(c->event, &call->retry_timer, CLOCK_MONOTONIC, delay, USEC_PER_MSEC, on_retry_timer, call);
        if (r < 0)
                return false;
        call->client->n_retries++;
        return true;
}

static void on_response(HttpRequest *req, int error, long status, void *userdata) {
        AwsCall *call = userdata;
        AwsClient *c = call->client;
        AwsError aerr = {};
        AwsResult res = { .error = error, .http_status = status };
        char reason[768];
        unsigned long long skew = 0;
        const char *date;
        usec_t server_now;

        res.body = http_request_body(req, &res.body_len);
        date = http_request_response_header(req, "Date");
        if (date && parse_http_date(date, &server_now) >= 0) {
                usec_t local = now_usec(CLOCK_REALTIME);
                skew = server_now > local ? server_now - local : local - server_now;
                c->clock_skew_sec = ((long long) server_now - (long long) local) / (long long) USEC_PER_SEC;
        }

        if (error < 0) {
                snprintf(reason, sizeof(reason), "%s (%s)", http_request_error(req), http_request_url(req));
        } else if (status < 200 || status >= 300) {
                if (aws_error_parse(res.body, res.body_len, http_request_response_header(req, "x-amzn-ErrorType"),
                                    &aerr) < 0)
                        snprintf(aerr.code, sizeof(aerr.code), "HTTP%ld", status);
                res.aws_error = &aerr;
                res.error = status == 403 ? -EACCES : status == 404 ? -ENOENT : status >= 500 ? -EIO : -EREMOTEIO;
                snprintf(reason, sizeof(reason), "HTTP %ld %s: %s", status, aerr.code,
                         aerr.message[0] ? aerr.message : "(no message)");
        } else
                reason[0] = 0;
        res.reason = reason;
        res.error_class = aws_error_classify(error, status, aerr.code, skew);

        switch (res.error_class) {
        case AWS_ERROR_NONE:
                res.error = 0;
                res.reason = NULL;
                return call_finish(call, &res);
        case AWS_ERROR_EXPIRED_CREDENTIALS:
                if (!call->refreshed_credentials) {
                        call->refreshed_credentials = true;
                        credentials_invalidate(c->credentials, call->signed_with);
                        /* One more try, even past max_attempts. */
                        log_info("%s %s: %s; refreshing credentials and retrying once",
                                 aws_service_to_string(call->service), call->target, reason);
                        attempt_start(call);
                        return;
                }
                break;
        case AWS_ERROR_CLOCK_SKEW: {
                char msg[896];
                snprintf(msg, sizeof(msg), "%s; the local clock is %llds %s AWS time: fix time synchronisation",
                         reason, c->clock_skew_sec < 0 ? -c->clock_skew_sec : c->clock_skew_sec,
                         c->clock_skew_sec > 0 ? "behind" : "ahead of");
                log_error("%s %s: %s", aws_service_to_string(call->service), call->target, msg);
                if (schedule_retry(call, res.error_class, msg))
                        return;
                res.reason = msg;
                return call_finish(call, &res);
        }
        case AWS_ERROR_THROTTLE:
        case AWS_ERROR_TRANSIENT:
                if (schedule_retry(call, res.error_class, reason))
                        return;
                break;
        case AWS_ERROR_FATAL:
                break;
        }
        call_finish(call, &res);
}

static int build_request(AwsCall *call, const AwsCredentials *cred, HttpRequest **ret) {
        AwsClient *c = call->client;
        _cleanup_(http_request_freep) HttpRequest *req = NULL;
        _cleanup_free_ char *url = NULL, *target = NULL;
        _cleanup_wipe_free_ char *token = NULL;
        const char *region = aws_client_region(call->client);
        int r;

        if (!region)
                return -ENXIO;
        r = aws_endpoint_resolve(call->service, region, c->settings, real_getenv, &url);
        if (r < 0)
                return r;
        r = http_request_new(c->glue, "POST", url, &req);
        if (r < 0)
                return r;
        http_request_set_timeouts(req, c->settings->connect_timeout, c->settings->request_timeout);
        http_request_set_max_response(req, c->settings->max_response_size);
        /* A private CA, as the SDKs take it: AWS_CA_BUNDLE, then [aws]
         * ca_bundle. Proxies: libcurl reads HTTPS_PROXY and NO_PROXY. */
        {
                const char *ca = getenv("AWS_CA_BUNDLE");
                if (isempty(ca))
                        ca = c->settings->ca_bundle;
                if (isempty(ca))
                        http_request_use_system_ca_dir(req);
                else if ((r = http_request_set_ca_bundle(req, ca)) < 0)
                        return r;
        }
        if (call->protocol == AWS_PROTOCOL_JSON) {
                if (asprintf(&target, "X-Amz-Target: %s", call->target) < 0)
                        return -ENOMEM;
                r = http_request_add_header(req, "Content-Type: application/x-amz-json-1.1");
                if (r >= 0)
                        r = http_request_add_header(req, target);
        } else
                r = http_request_add_header(req, "Content-Type: application/x-www-form-urlencoded; charset=utf-8");
        if (r < 0)
                return r;
        if (cred->session_token) {
                if (asprintf(&token, "X-Amz-Security-Token: %s", cred->session_token) < 0)
                        return -ENOMEM;
                r = http_request_add_header(req, token);
                if (r < 0)
                        return r;
        }
        /* call->body outlives every attempt's request (freed after it). */
        http_request_set_body_borrowed(req, call->body, call->body_len);
        r = http_request_set_sigv4(req, region, aws_service_to_string(call->service),
                                   cred->access_key_id, cred->secret_access_key);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(req);
        return 0;
}

static void on_credentials(void *source, const AgentEvent *ev, void *userdata) {
        AwsCall *call = userdata;
        const AwsCredentials *cred;
        int error = ev->error;
        char reason[256];
        int r;

        call->wait = NULL;
        cred = credentials_current(call->client->credentials);
        if (error < 0 || !cred) {
                Component *cc = credentials_component(call->client->credentials);
                snprintf(reason, sizeof(reason), "no usable credentials: %s",
                         cc->last_error ? cc->last_error : strerror(error < 0 ? -error : ENOKEY));
                return fail_now(call, error < 0 ? error : -ENOKEY, reason);
        }
        call->req = http_request_free(call->req);
        r = build_request(call, cred, &call->req);
        if (r >= 0) {
                r = free_and_strdup(&call->signed_with, cred->access_key_id);
                if (r >= 0)
                        r = http_request_start(call->req, on_response, call);
        }
        if (r < 0) {
                snprintf(reason, sizeof(reason), "cannot build request: %s",
                         r == -ENXIO ? "no region known (set [aws] region= or AWS_REGION)" :
                         r == -EINVAL ? "endpoint URL is not http(s)://" : strerror(-r));
                return fail_now(call, r, reason);
        }
}

static void attempt_start(AwsCall *call) {
        int r;

        call->attempts++;
        r = credentials_wait(call->client->credentials, on_credentials, call, &call->wait);
        if (r < 0) {
                char reason[256];
                Component *cc = credentials_component(call->client->credentials);
                snprintf(reason, sizeof(reason), "no usable credentials: %s",
                         cc->last_error ? cc->last_error : strerror(-r));
                fail_now(call, r, reason);
        }
}

static int on_first_attempt(sd_event_source *s, void *userdata) {
        AwsCall *call = userdata;
        call->retry_timer = sd_event_source_disable_unref(call->retry_timer);
        attempt_start(call);
        return 0;
}

static int call_new(AwsClient *c, AwsService service, AwsProtocol protocol, const char *target, const char *body,
                    size_t len, bool borrowed, AwsCallDone done, void *userdata, AwsCall **ret) {
        AwsCall *call;
        int r;

        if (service >= _AWS_SERVICE_MAX || isempty(target) || !body)
                return -EINVAL;
        call = calloc(1, sizeof(*call));
        if (!call)
                return -ENOMEM;
        *call = (AwsCall) { .client = c, .service = service, .protocol = protocol, .body_len = len,
                            .body_borrowed = borrowed, .done = done, .userdata = userdata };
        call->target = strdup(target);
        call->body = borrowed ? (char *) body : strndup(body, len);
        if (!call->target || !call->body) {
                aws_call_cancel(call);
                return -ENOMEM;
        }
        /* Start from the loop, so done never runs inside aws_call(). */
        r = sd_event_add_defer(c->event, &call->retry_timer, on_first_attempt, call);
        if (r < 0) {
                aws_call_cancel(call);
                return r;
        }
        LIST_PREPEND(calls, c->calls, call);
        if (ret)
                *ret = call;
        return 0;
}

int aws_call(AwsClient *c, AwsService service, AwsProtocol protocol, const char *target,
             const char *body, AwsCallDone done, void *userdata, AwsCall **ret) {
        return call_new(c, service, protocol, target, body, body ? strlen(body) : 0, false, done, userdata, ret);
}

int aws_call_borrowed(AwsClient *c, AwsService service, AwsProtocol protocol, const char *target,
                      const char *body, size_t len, AwsCallDone done, void *userdata, AwsCall **ret) {
        return call_new(c, service, protocol, target, body, len, true, done, userdata, ret);
}

static int aws_append_json(const Component *comp, cJSON *o) {
        const AwsClient *c = container_of(comp, const AwsClient, component);
        if (!cJSON_AddNumberToObject(o, "calls_ok", (double) c->n_ok) ||
            !cJSON_AddNumberToObject(o, "calls_failed", (double) c->n_failed) ||
            !cJSON_AddNumberToObject(o, "retries", (double) c->n_retries) ||
            !cJSON_AddNumberToObject(o, "clock_skew_sec", (double) c->clock_skew_sec))
                return -ENOMEM;
        return 0;
}

int aws_client_new(sd_event *e, CurlGlue *glue, Credentials *cred, const AwsSettings *s, AwsClient **ret) {
        AwsClient *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(e);
        c->glue = glue;
        c->credentials = cred;
        c->settings = s;
        /* Not critical by itself: the subsystems making calls decide. */
        component_init(&c->component, "aws", false);
        c->component.append_json = aws_append_json;
        component_set(&c->component, COMPONENT_OK, "no calls yet");
        *ret = c;
        return 0;
}

AwsClient *aws_client_free(AwsClient *c) {
        if (!c)
                return NULL;
        while (c->calls)
                aws_call_cancel(c->calls);
        component_done(&c->component);
        free(c->fallback_region);
        sd_event_unref(c->event);
        return mfree(c);
}

void aws_client_set_settings(AwsClient *c, const AwsSettings *s) {
        c->settings = s;
}

int aws_client_set_fallback_region(AwsClient *c, const char *region) {
        return free_and_strdup(&c->fallback_region, region);
}

int aws_client_service_counters(AwsClient *c, AwsService service, uint64_t *ret_calls, uint64_t *ret_errors) {
        if (!c || service >= _AWS_SERVICE_MAX)
                return -EINVAL;
        *ret_calls = c->service_calls[service];
        *ret_errors = c->service_errors[service];
        return 0;
}

Component *aws_client_component(AwsClient *c) {
        return &c->component;
}
