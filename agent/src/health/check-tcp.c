/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "check.h"
#include "socket-address.h"

/*
 * type=tcp: a non-blocking connect() on the loop. A name (an Aurora
 * endpoint) is resolved by libcurl's threaded resolver on the curl glue
 * (a CONNECT_ONLY transfer), so no getaddrinfo() ever blocks the loop;
 * numeric addresses skip it. (sd-resolve would do, but libsystemd does not
 * install its header.) check_resolve() is shared with the mysql check.
 */


static int numeric_sockaddr(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *ret_len) {
        struct sockaddr_in *in = (struct sockaddr_in *) ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;

        if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) port);
                *ret_len = sizeof(*in);
                return 0;
        }
        if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                *ret_len = sizeof(*in6);
                return 0;
        }
        return -EINVAL;
}

static void on_curl_resolved(CURL *easy, CURLcode result, void *userdata) {
        Check *c = userdata;
        struct sockaddr_storage ss = {};
        char *ip = NULL;
        long port = 0;
        socklen_t len;

        c->resolve_easy = NULL;
        if (result != CURLE_OK || curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) != CURLE_OK || !ip ||
            curl_easy_getinfo(easy, CURLINFO_PRIMARY_PORT, &port) != CURLE_OK ||
            numeric_sockaddr(ip, (unsigned) port, &ss, &len) < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot resolve or reach %s: %s", c->resolve_host,
                               curl_easy_strerror(result));
                curl_easy_cleanup(easy);
                return;
        }
        curl_easy_cleanup(easy);
        c->resolve_done(c, (struct sockaddr *) &ss, len);
}

void check_resolve_cancel(Check *c) {
        c->resolve_host = mfree(c->resolve_host);
        if (!c->resolve_easy)
                return;
        curl_glue_remove(c->glue, c->resolve_easy);
        curl_easy_cleanup(c->resolve_easy);
        c->resolve_easy = NULL;
}

int check_resolve(Check *c, const char *host, unsigned port, CheckResolved done) {
        struct sockaddr_storage ss = {};
        _cleanup_free_ char *url = NULL;
        socklen_t len;
        CURL *easy;
        int r;

        if (numeric_sockaddr(host, port, &ss, &len) >= 0) {
                done(c, (struct sockaddr *) &ss, len);
                return 0;
        }
        /* A name: libcurl's threaded resolver does the lookup off the loop
         * and connects (CONNECT_ONLY); we take the address it used. */
        if (free_and_strdup(&c->resolve_host, host) < 0 || asprintf(&url, "http://%s:%u/", host, port) < 0) {
                url = NULL;
                check_complete(c, CHECK_RESULT_FAIL, "out of memory");
                return -ENOMEM;
        }
        easy = curl_easy_init();
        if (!easy) {
                check_complete(c, CHECK_RESULT_FAIL, "out of memory");
                return -ENOMEM;
        }
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
        curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
        curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) MAX(c->settings->timeout / USEC_PER_MSEC, 1));
        c->resolve_done = done;
        r = curl_glue_add(c->glue, easy, on_curl_resolved, c);
        if (r < 0) {
                curl_easy_cleanup(easy);
                check_complete(c, CHECK_RESULT_FAIL, "cannot resolve %s: %s", host, strerror(-r));
                return r;
        }
        c->resolve_easy = easy;
        return 0;
}

/* host and port of a check: target=, else host=/port=, else secret=. */
int check_endpoint(Check *c, char **ret_host, unsigned *ret_port, unsigned default_port) {
        const CheckSettings *k = c->settings;
        const char *h = NULL, *p = NULL;
        int r;

        if (k->target)
                return host_port_split(k->target, ret_host, ret_port);
        if (k->host) {
                *ret_port = k->port ?: default_port;
                *ret_host = strdup(k->host);
                return *ret_host ? 0 : -ENOMEM;
        }
        r = check_secret_lookup(c, k->secret, "host", &h);
        if (r < 0)
                return r;
        if (check_secret_lookup(c, k->secret, "port", &p) < 0 || !p ||
            sscanf(p, "%u", ret_port) != 1 || *ret_port == 0 || *ret_port > 65535)
                *ret_port = k->port ?: default_port;
        *ret_host = strdup(h);
        return *ret_host ? 0 : -ENOMEM;
}

typedef struct TcpRun {
        int fd;
        sd_event_source *io;
        char addr[INET6_ADDRSTRLEN + 8];
} TcpRun;

static void tcp_stop(Check *c) {
        TcpRun *t = c->run;

        if (!t)
                return;
        sd_event_source_disable_unref(t->io);
        closep(&t->fd);
        c->run = mfree(t);
}

static int on_connected(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Check *c = userdata;
        TcpRun *t = c->run;
        int err = 0;
        socklen_t l = sizeof(err);

        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
                err = errno;
        if (err)
                check_complete(c, CHECK_RESULT_FAIL, "cannot connect to %s: %s", t->addr, strerror(err));
        else
                check_complete(c, CHECK_RESULT_PASS, "connected to %s", t->addr);
        return 0;
}

static void format_addr(const struct sockaddr *sa, char *buf, size_t n) {
        char ip[INET6_ADDRSTRLEN] = "?";

        if (sa->sa_family == AF_INET6) {
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, ip, sizeof(ip));
                snprintf(buf, n, "[%s]:%u", ip, ntohs(((const struct sockaddr_in6 *) sa)->sin6_port));
        } else {
                inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, ip, sizeof(ip));
                snprintf(buf, n, "%s:%u", ip, ntohs(((const struct sockaddr_in *) sa)->sin_port));
        }
}

static void tcp_connect(Check *c, const struct sockaddr *sa, socklen_t len) {
        TcpRun *t = calloc(1, sizeof(*t));
        int r;

        if (!t) {
                check_complete(c, CHECK_RESULT_FAIL, "out of memory");
                return;
        }
        t->fd = -EBADF;
        c->run = t;
        format_addr(sa, t->addr, sizeof(t->addr));
        t->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (t->fd < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot create a socket: %m");
                return;
        }
        if (connect(t->fd, sa, len) < 0 && errno != EINPROGRESS) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot connect to %s: %m", t->addr);
                return;
        }
        r = sd_event_add_io(c->event, &t->io, t->fd, EPOLLOUT, on_connected, c);
        if (r < 0)
                check_complete(c, CHECK_RESULT_FAIL, "cannot watch the socket: %s", strerror(-r));
}

static int tcp_start(Check *c) {
        _cleanup_free_ char *host = NULL;
        unsigned port;
        int r = check_endpoint(c, &host, &port, 3306);

        if (r == -ENOENT) {
                check_complete(c, CHECK_RESULT_FAIL, "secret %s not loaded", c->settings->secret);
                return r;
        }
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "no usable target: %s", strerror(-r));
                return r;
        }
        return check_resolve(c, host, port, tcp_connect);
}

const CheckVTable check_tcp_vtable = {
        .start = tcp_start,
        .stop = tcp_stop,
};
