/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One asynchronous HTTP request on the curl glue: method, URL, headers,
 * body, connect and total timeouts, an optional SigV4 signature (libcurl's
 * CURLOPT_AWS_SIGV4), and a response body bounded by max_response_size.
 * The completion callback gets 0 and the HTTP status, or a negative errno
 * for transport failures (with a readable reason in http_request_error()).
 * Never logs: callers decide what a failure means.
 */

#include <stdbool.h>
#include <stddef.h>

#include "curl-glue.h"
#include "macro.h"

typedef struct HttpRequest HttpRequest;
typedef void (*HttpRequestDone)(HttpRequest *req, int error, long status, void *userdata);

int http_request_new(CurlGlue *glue, const char *method, const char *url, HttpRequest **ret);
HttpRequest *http_request_free(HttpRequest *req);
DEFINE_TRIVIAL_CLEANUP_FUNC(HttpRequest *, http_request_free);

/* "Name: value"; the value is copied. */
int http_request_add_header(HttpRequest *req, const char *header);
/* The body is copied (and wiped when freed). */
int http_request_set_body(HttpRequest *req, const void *data, size_t len);
/* The same without a copy: data must outlive the request (a retried AWS
 * call keeps its body; a log batch body is ~1 MiB). */
void http_request_set_body_borrowed(HttpRequest *req, const char *data, size_t len);
void http_request_set_timeouts(HttpRequest *req, usec_t connect, usec_t total);
void http_request_set_max_response(HttpRequest *req, size_t max);
/* Connect to this unix socket instead of the URL's host and port (curl's
 * --unix-socket; the URL still gives the path and Host:). Copied. */
int http_request_set_unix_socket(HttpRequest *req, const char *path);
/* Sign with SigV4 for REGION/SERVICE; token may be NULL. Strings copied. */
int http_request_set_sigv4(HttpRequest *req, const char *region, const char *service,
                           const char *access_key_id, const char *secret_access_key);

/* Trust this CA bundle (a PEM file) instead of the system's: what the SDKs
 * do with AWS_CA_BUNDLE. A directory of hashed certificates works too. */
int http_request_set_ca_bundle(HttpRequest *req, const char *path);
/* The system's CAs from libcurl's CA directory (/etc/ssl/certs) instead of
 * its bundle file, when the directory holds hashed certificates: the same
 * CAs, loaded as a handshake needs them instead of all ~150 parsed for each
 * connection. Otherwise libcurl's defaults stay. */
void http_request_use_system_ca_dir(HttpRequest *req);
/* Never through a proxy, whatever HTTPS_PROXY/HTTP_PROXY say (IMDS). */
void http_request_set_no_proxy(HttpRequest *req);

int http_request_start(HttpRequest *req, HttpRequestDone done, void *userdata);

/* Valid in and after the callback. The body is NUL-terminated. */
const char *http_request_body(HttpRequest *req, size_t *ret_len);
/* Value of a response header (case-insensitive name), NULL if absent. */
const char *http_request_response_header(HttpRequest *req, const char *name);
const char *http_request_error(HttpRequest *req);
const char *http_request_url(HttpRequest *req);

/* CURLcode → negative errno, once, here. */
int http_errno_from_curl(CURLcode c);
