/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"
#include "http-request.h"

#define MAX_RESPONSE_HEADERS 64
#define MAX_HEADER_LINE 8192

struct HttpRequest {
        CurlGlue *glue;
        CURL *easy;
        struct curl_slist *headers;
        char *url;
        char *body;             /* ours to wipe and free unless body_borrowed */
        size_t body_len;
        bool body_borrowed;
        char *sigv4_param;
        char *username;
        char *password;

        char *response;
        size_t response_len;
        size_t response_alloc;
        size_t max_response;
        bool too_big;

        char *response_headers[MAX_RESPONSE_HEADERS];
        size_t n_response_headers;

        char errbuf[CURL_ERROR_SIZE];
        char error[CURL_ERROR_SIZE + 64];
        bool running;

        HttpRequestDone done;
        void *userdata;
};

int http_errno_from_curl(CURLcode c) {
        switch (c) {
        case CURLE_OK:
                return 0;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_WRITE_ERROR:
        case CURLE_FILESIZE_EXCEEDED:
                return -EFBIG;
        case CURLE_GOT_NOTHING:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CACERT_BADFILE:
                return -EKEYREJECTED;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
                return -EINVAL;
        case CURLE_WEIRD_SERVER_REPLY:
        case CURLE_HTTP2:
        case CURLE_BAD_CONTENT_ENCODING:
                return -EBADMSG;
        default:
                return -EIO;
        }
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        HttpRequest *req = userdata;
        size_t n = size * nmemb;

        if (req->response_len + n > req->max_response) {
                req->too_big = true;
                return 0;       /* aborts the transfer with CURLE_WRITE_ERROR */
        }
        if (req->response_len + n + 1 > req->response_alloc) {
                size_t a = MAX(req->response_alloc * 2, req->response_len + n + 1);
                char *p;
                a = MIN(a, req->max_response + 1);
                /* Not realloc(): answers hold secrets, and realloc leaves
                 * the old bytes in freed memory. Copy, then wipe. */
                p = malloc(a);
                if (!p)
                        return 0;
                if (req->response) {
                        memcpy(p, req->response, req->response_len);
                        explicit_wipe(req->response, req->response_alloc);
                        free(req->response);
                }
                req->response = p;
                req->response_alloc = a;
        }
        memcpy(req->response + req->response_len, ptr, n);
        req->response_len += n;
        req->response[req->response_len] = 0;
        return n;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *userdata) {
        HttpRequest *req = userdata;
        size_t n = size * nitems;

        /* A new status line (after a redirect or 100-continue) starts over. */
        if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
                for (size_t i = 0; i < req->n_response_headers; i++)
                        free(req->response_headers[i]);
                req->n_response_headers = 0;
                return n;
        }
        if (n > MAX_HEADER_LINE || req->n_response_headers >= MAX_RESPONSE_HEADERS)
                return n;       /* ignored, not fatal: we need only a few */
        if (!memchr(ptr, ':', n))
                return n;
        char *h = strndup(ptr, n);
        if (!h)
                return 0;
        h[strcspn(h, "\r\n")] = 0;
        req->response_headers[req->n_response_headers++] = h;
        return n;
}

int http_request_new(CurlGlue *glue, const char *method, const char *url, HttpRequest **ret) {
        _cleanup_(http_request_freep) HttpRequest *req = NULL;

        req = calloc(1, sizeof(*req));
        if (!req)
                return -ENOMEM;
        req->glue = glue;
        req->max_response = 1 << 20;
        req->url = strdup(url);
        req->easy = curl_easy_init();
        if (!req->url || !req->easy)
                return -ENOMEM;

        if (curl_easy_setopt(req->easy, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK)
                return -EINVAL;
        /* Only http(s), no redirects, no signals (we are single-threaded
         * with a resolver thread), TLS verified (libcurl's default, kept
         * explicit), HTTP keep-alive via the multi handle's cache. */
        curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(req->easy, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(req->easy, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(req->easy, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(req->easy, CURLOPT_NOPROXY, "169.254.169.254,127.0.0.1,localhost,::1");
        curl_easy_setopt(req->easy, CURLOPT_USERAGENT, "agentd/" AGENTD_VERSION);
        curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req);
        curl_easy_setopt(req->easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(req->easy, CURLOPT_HEADERDATA, req);
        curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf);
        curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
        curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS, 30000L);
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
                /* An empty body must still be sent as an empty POST body,
                 * so curl sets Content-Length: 0. */
                curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE, 0L);
        if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0)
                curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, "");
        /* Note: no "Expect:" header to suppress 100-continue: libcurl's
         * SigV4 would sign the empty header it then does not send. */
        *ret = TAKE_PTR(req);
        return 0;
}

HttpRequest *http_request_free(HttpRequest *req) {
        if (!req)
                return NULL;
        if (req->running)
                curl_glue_remove(req->glue, req->easy);
        if (req->easy)
                curl_easy_cleanup(req->easy);
        curl_slist_free_all(req->headers);
        free(req->url);
        if (req->body && !req->body_borrowed) {
                explicit_wipe(req->body, req->body_len);
                free(req->body);
        }
        free(req->sigv4_param);
        strwipe_free(req->username);
        strwipe_free(req->password);
        if (req->response)
                explicit_wipe(req->response, req->response_len);
        free(req->response);
        for (size_t i = 0; i < req->n_response_headers; i++)
                free(req->response_headers[i]);
        return mfree(req);
}

int http_request_add_header(HttpRequest *req, const char *header) {
        struct curl_slist *l = curl_slist_append(req->headers, header);
        if (!l)
                return -ENOMEM;
        req->headers = l;
        return 0;
}

int http_request_set_body(HttpRequest *req, const void *data, size_t len) {
        char *b = malloc(len + 1);
        if (!b)
                return -ENOMEM;
        memcpy(b, data, len);
        b[len] = 0;
        if (req->body && !req->body_borrowed) {
                explicit_wipe(req->body, req->body_len);
                free(req->body);
        }
        req->body = b;
        req->body_len = len;
        req->body_borrowed = false;
        curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
        curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, req->body);
        return 0;
}

void http_request_set_body_borrowed(HttpRequest *req, const char *data, size_t len) {
        if (req->body && !req->body_borrowed) {
                explicit_wipe(req->body, req->body_len);
                free(req->body);
        }
        req->body = (char *) data;
        req->body_len = len;
        req->body_borrowed = true;
        curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
        curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, req->body);
}

void http_request_set_timeouts(HttpRequest *req, usec_t connect, usec_t total) {
        curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) MAX(connect / USEC_PER_MSEC, 1));
        curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS, (long) MAX(total / USEC_PER_MSEC, 1));
}

void http_request_set_max_response(HttpRequest *req, size_t max) {
        req->max_response = max;
}

int http_request_set_unix_socket(HttpRequest *req, const char *path) {
        CURLcode c = curl_easy_setopt(req->easy, CURLOPT_UNIX_SOCKET_PATH, path);
        return c == CURLE_OK ? 0 : c == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
}

int http_request_set_sigv4(HttpRequest *req, const char *region, const char *service,
                           const char *access_key_id, const char *secret_access_key) {
        free(req->sigv4_param);
        if (asprintf(&req->sigv4_param, "aws:amz:%s:%s", region, service) < 0) {
                req->sigv4_param = NULL;
                return -ENOMEM;
        }
        strwipe_free(req->username);
        strwipe_free(req->password);
        req->username = strdup(access_key_id);
        req->password = strdup(secret_access_key);
        if (!req->username || !req->password)
                return -ENOMEM;
        if (curl_easy_setopt(req->easy, CURLOPT_AWS_SIGV4, req->sigv4_param) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_USERNAME, req->username) != CURLE_OK ||
            curl_easy_setopt(req->easy, CURLOPT_PASSWORD, req->password) != CURLE_OK)
                return -EOPNOTSUPP;
        return 0;
}

static void on_transfer_done(CURL *easy, CURLcode result, void *userdata) {
        HttpRequest *req = userdata;
        long status = 0;
        int r;

        req->running = false;
        r = http_errno_from_curl(result);
        if (req->too_big) {
                r = -EFBIG;
                snprintf(req->error, sizeof(req->error), "response larger than %zu bytes", req->max_response);
        } else if (r < 0)
                snprintf(req->error, sizeof(req->error), "%s", req->errbuf[0] ? req->errbuf : curl_easy_strerror(result));
        else {
                (void) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
                if (!req->response) {
                        req->response = strdup("");
                        if (!req->response)
                                r = -ENOMEM;
                }
        }
        req->done(req, r, status, req->userdata);
}

int http_request_set_ca_bundle(HttpRequest *req, const char *path) {
        struct stat st;

        /* A directory of hashed certificates (openssl rehash): OpenSSL then
         * parses only the CAs a handshake needs. libcurl copies the string. */
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                return curl_easy_setopt(req->easy, CURLOPT_CAINFO, NULL) == CURLE_OK &&
                       curl_easy_setopt(req->easy, CURLOPT_CAPATH, path) == CURLE_OK ? 0 : -ENOMEM;
        /* Instead of the system's CAs, as the AWS SDKs do: not the built-in
         * directory as well. */
        return curl_easy_setopt(req->easy, CURLOPT_CAINFO, path) == CURLE_OK &&
               curl_easy_setopt(req->easy, CURLOPT_CAPATH, NULL) == CURLE_OK ? 0 : -ENOMEM;
}

/* Does libcurl's built-in CA directory hold hashed certificates? Asked once. */
static bool system_ca_dir_hashed(CURL *easy) {
        static int hashed = -1;
        char *dir = NULL, pattern[PATH_MAX];
        glob_t g = {};

        if (hashed >= 0)
                return hashed;
        hashed = 0;
        if (curl_easy_getinfo(easy, CURLINFO_CAPATH, &dir) != CURLE_OK || isempty(dir) ||
            snprintf(pattern, sizeof(pattern), "%s/*.0", dir) >= (int) sizeof(pattern))
                return hashed;
        hashed = glob(pattern, GLOB_NOSORT, NULL, &g) == 0 && g.gl_pathc > 0;
        globfree(&g);
        return hashed;
}

void http_request_use_system_ca_dir(HttpRequest *req) {
        /* The bundle file's ~150 CAs are parsed into each connection's
         * store (~0.8 MiB); the directory's are looked up by hash as a
         * handshake needs them. Same CAs: Debian builds both from one list. */
        if (system_ca_dir_hashed(req->easy))
                (void) curl_easy_setopt(req->easy, CURLOPT_CAINFO, NULL);
}

void http_request_set_no_proxy(HttpRequest *req) {
        curl_easy_setopt(req->easy, CURLOPT_PROXY, "");
        curl_easy_setopt(req->easy, CURLOPT_NOPROXY, "*");
}

int http_request_start(HttpRequest *req, HttpRequestDone done, void *userdata) {
        int r;

        if (req->running)
                return -EBUSY;
        /* Fresh response state, so a request object can be restarted. */
        free(req->response);
        req->response = NULL;
        req->response_len = req->response_alloc = 0;
        req->too_big = false;
        for (size_t i = 0; i < req->n_response_headers; i++)
                free(req->response_headers[i]);
        req->n_response_headers = 0;
        req->errbuf[0] = req->error[0] = 0;

        curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers);
        req->done = done;
        req->userdata = userdata;
        r = curl_glue_add(req->glue, req->easy, on_transfer_done, req);
        if (r < 0)
                return r;
        req->running = true;
        return 0;
}

const char *http_request_body(HttpRequest *req, size_t *ret_len) {
        if (ret_len)
                *ret_len = req->response_len;
        return req->response ? req->response : "";
}

const char *http_request_response_header(HttpRequest *req, const char *name) {
        size_t l = strlen(name);

        for (size_t i = 0; i < req->n_response_headers; i++) {
                const char *h = req->response_headers[i];
                if (strncasecmp(h, name, l) == 0 && h[l] == ':') {
                        h += l + 1;
                        while (*h == ' ' || *h == '\t')
                                h++;
                        return h;
                }
        }
        return NULL;
}

const char *http_request_error(HttpRequest *req) {
        return req->error;
}

const char *http_request_url(HttpRequest *req) {
        return req->url;
}
