/* SPDX-License-Identifier: MIT */
#include "check.h"
#include "http-request.h"

/*
 * type=http: one GET on the curl glue (libcurl multi on the loop), the
 * status compared with expect_status=, the body searched for expect_body=.
 * unix_socket= sends it through a unix socket (a plugin's health endpoint
 * in its RuntimeDirectory), the URL still giving the path and Host:.
 * The body is capped at 64 KiB: a health page is small, and a target that
 * sends more fails rather than costing memory.
 */

#define HTTP_CHECK_MAX_BODY (64U * 1024U)

static void http_stop(Check *c) {
        c->run = http_request_free(c->run);
}

static void on_http_done(HttpRequest *req, int error, long status, void *userdata) {
        Check *c = userdata;
        const char *body;

        if (error < 0 && c->settings->unix_socket) {
                check_complete(c, CHECK_RESULT_FAIL, "GET %s through unix:%s: %s", c->settings->url,
                               c->settings->unix_socket, http_request_error(req));
                return;
        }
        if (error < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "GET %s: %s", c->settings->url, http_request_error(req));
                return;
        }
        if (status != (long) c->settings->expect_status) {
                check_complete(c, CHECK_RESULT_FAIL, "GET %s: HTTP %ld, expected %u", c->settings->url, status,
                               c->settings->expect_status);
                return;
        }
        body = http_request_body(req, NULL);
        if (c->settings->expect_body && !strstr(strempty(body), c->settings->expect_body)) {
                check_complete(c, CHECK_RESULT_FAIL, "GET %s: HTTP %ld, but the body does not contain \"%s\"",
                               c->settings->url, status, c->settings->expect_body);
                return;
        }
        check_complete(c, CHECK_RESULT_PASS, "GET %s: HTTP %ld", c->settings->url, status);
}

static int http_start(Check *c) {
        HttpRequest *req = NULL;
        int r;

        r = http_request_new(c->glue, "GET", c->settings->url, &req);
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot create the request: %s", strerror(-r));
                return r;
        }
        c->run = req;
        if (c->settings->unix_socket && (r = http_request_set_unix_socket(req, c->settings->unix_socket)) < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot use unix socket %s: %s", c->settings->unix_socket,
                               strerror(-r));
                return r;
        }
        /* Our own timer ends the run; curl's is a backstop. */
        http_request_set_timeouts(req, c->settings->timeout, c->settings->timeout + USEC_PER_SEC);
        http_request_set_max_response(req, HTTP_CHECK_MAX_BODY);
        r = http_request_start(req, on_http_done, c);
        if (r < 0)
                check_complete(c, CHECK_RESULT_FAIL, "cannot start the request: %s", strerror(-r));
        return r;
}

const CheckVTable check_http_vtable = {
        .start = http_start,
        .stop = http_stop,
};
