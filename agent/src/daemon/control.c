/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "control"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "check-set.h"
#include "control.h"
#include "log.h"
#include "manager.h"
#include "status.h"
#include "json-util.h"

struct ControlRequest {
        struct ControlClient *client;   /* NULL once the client is gone */
};

typedef struct ControlClient {
        ControlServer *server;
        int fd;
        sd_event_source *io;
        sd_event_source *timeout;
        char in[CONTROL_MAX_REQUEST];
        size_t in_len;
        char *out;
        size_t out_len, out_sent;
        bool oversized;         /* answered early: drain the rest, then close */
        bool draining;
        ControlRequest *pending;        /* an asynchronous command in progress */
        struct ControlClient *next, *prev;
} ControlClient;

struct ControlServer {
        Manager *manager;
        char *path;
        int fd;
        sd_event_source *io;
        ControlClient *clients;
        unsigned n_clients;
};

static void client_free(ControlClient *c) {
        ControlServer *s = c->server;

        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_clients--;
        if (c->pending)
                c->pending->client = NULL;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timeout);
        closep(&c->fd);
        free(c->out);
        free(c);
}

static char *reply_error(const char *what, const char *arg) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        char msg[256];

        snprintf(msg, sizeof(msg), "%s%s%s", what, arg[0] ? ": " : "", arg);
        if (!o || !cJSON_AddBoolToObject(o, "ok", 0) || !cJSON_AddStringToObject(o, "error", msg))
                return NULL;
        return cJSON_PrintUnformatted(o);
}

static int client_send(struct ControlClient *c);

static char *reply_ok(cJSON *resp) {
        char *out;
        if (!resp)
                return NULL;
        if (!cJSON_GetObjectItem(resp, "ok"))
                cJSON_AddBoolToObject(resp, "ok", 1);
        out = cJSON_PrintUnformatted(resp);
        cJSON_Delete(resp);
        return out;
}

void control_request_reply(ControlRequest *q, void *resp) {
        struct ControlClient *c = q->client;

        if (!c) {
                cJSON_Delete(resp);
                free(q);
                return;
        }
        c->pending = NULL;
        free(q);
        c->out = resp ? reply_ok(resp) : reply_error("internal error", "");
        if (client_send(c) != 0)
                return;
}

void control_request_reply_error(ControlRequest *q, const char *fmt, ...) {
        cJSON *o = cJSON_CreateObject();
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (o) {
                cJSON_AddBoolToObject(o, "ok", 0);
                cJSON_AddStringToObject(o, "error", msg);
        }
        control_request_reply(q, o);
}

/* "check": the waiter of one run, answered through the ControlRequest
 * (which drops the answer if the client left). */
typedef struct CheckRequest {
        CheckWaiter waiter;
        ControlRequest *request;
} CheckRequest;

static void on_check_done(Check *check, void *userdata) {
        CheckRequest *k = userdata;
        cJSON *resp = cJSON_CreateObject(), *j = NULL;

        if (!resp || check_to_json(check, &j) < 0) {
                cJSON_Delete(resp);
                control_request_reply_error(k->request, "cannot build the result: out of memory");
        } else {
                cJSON_AddItemToObject(resp, "check", j);
                control_request_reply(k->request, resp);
        }
        free(k);
}

static char *dispatch_check(ControlServer *s, struct ControlClient *client, const cJSON *req) {
        const char *name = json_get_string_bounded(req, "name", 64);
        Check *check = name ? check_set_find(s->manager->checks, name) : NULL;
        CheckRequest *k;

        if (!name)
                return reply_error("\"check\" needs a \"name\"", "");
        if (!check)
                return reply_error("no such check", name);
        k = calloc(1, sizeof(*k));
        if (k)
                k->request = calloc(1, sizeof(ControlRequest));
        if (!k || !k->request) {
                free(k);
                return reply_error("out of memory", "");
        }
        k->request->client = client;
        k->waiter = (CheckWaiter) { .done = on_check_done, .userdata = k };
        if (check_run_now(check, &k->waiter) < 0) {
                free(k->request);
                free(k);
                return reply_error("cannot run the check", name);
        }
        client->pending = k->request;
        /* The run ends within its timeout (plus an exec check's kill grace). */
        (void) sd_event_source_set_time_relative(client->timeout,
                                                 MAX(check->settings->timeout + 2 * USEC_PER_SEC, CONTROL_TIMEOUT_USEC));
        return NULL;    /* answered later */
}

static char *dispatch(ControlServer *s, struct ControlClient *client, const char *request) {
        _cleanup_(cJSON_Deletep) cJSON *req = cJSON_Parse(request), *resp = NULL;
        const char *cmd;
        cJSON *status = NULL;

        if (!cJSON_IsObject(req))
                return reply_error("request is not a JSON object", "");
        cmd = json_get_string(req, "command");
        if (!cmd)
                return reply_error("request has no \"command\" string", "");
        if (streq(cmd, "status")) {
                if (status_build(s->manager, &status) < 0)
                        return reply_error("cannot build status", "out of memory");
                resp = cJSON_CreateObject();
                if (!resp || !cJSON_AddBoolToObject(resp, "ok", 1)) {
                        cJSON_Delete(status);
                        return NULL;
                }
                cJSON_AddItemToObject(resp, "status", status);
                return cJSON_PrintUnformatted(resp);
        }
        if (streq(cmd, "refresh") || streq(cmd, "rollback")) {
                ControlRequest *q = calloc(1, sizeof(*q));
                const char *arg = json_get_string(req, "name");
                int r;
                if (!q)
                        return reply_error("out of memory", "");
                q->client = client;
                client->pending = q;
                r = streq(cmd, "refresh") ? manager_refresh(s->manager, arg, q)
                                          : manager_rollback(s->manager, arg, q);
                if (r < 0) {
                        client->pending = NULL;
                        free(q);
                        return reply_error(r == -ENOENT ? "no such name" : r == -EBUSY ? "busy, try again" :
                                           r == -ENODATA ? "no previous version to roll back to" :
                                           r == -EINVAL ? "missing \"name\"" : "failed", arg ? arg : "");
                }
                /* Longer than a status request: a refresh talks to AWS. */
                (void) sd_event_source_set_time_relative(client->timeout, CONTROL_ASYNC_TIMEOUT_USEC);
                return NULL;    /* answered later */
        }
        if (streq(cmd, "check"))
                return dispatch_check(s, client, req);
        if (streq(cmd, "drain") || streq(cmd, "resume")) {
                /* For tests and operators; the lifecycle subsystem drains on
                 * termination. */
                manager_set_draining(s->manager, streq(cmd, "drain"));
                return reply_ok(cJSON_CreateObject());
        }
        if (strlen(cmd) > 64)
                return reply_error("unknown command", "(name too long)");
        return reply_error("unknown command", cmd);
}

static int client_flush(ControlClient *c) {
        while (c->out_sent < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return sd_event_source_set_io_events(c->io, EPOLLOUT);
                        return -errno;
                }
                c->out_sent += (size_t) n;
        }
        return 1;       /* all sent */
}

/* After an early answer to an oversized request, closing with unread
 * input would reset the connection before the peer reads our answer. */
static void client_done(ControlClient *c) {
        if (!c->oversized || shutdown(c->fd, SHUT_WR) < 0 ||
            sd_event_source_set_io_events(c->io, EPOLLIN) < 0) {
                client_free(c);
                return;
        }
        c->draining = true;
}

static int on_client_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        ControlClient *c = userdata;
        char *nl;
        int r;

        if (c->draining) {
                char scratch[4096];
                ssize_t n = recv(c->fd, scratch, sizeof(scratch), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                        client_free(c);
                return 0;
        }
        if (c->out) {
                r = client_flush(c);
                if (r < 0)
                        client_free(c);
                else if (r > 0)
                        client_done(c);
                return 0;
        }
        for (;;) {
                ssize_t n;
                if (c->in_len >= sizeof(c->in) - 1) {
                        c->out = reply_error("request too large", "more than 64 KiB");
                        c->oversized = true;
                        break;
                }
                n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        client_free(c);
                        return 0;
                }
                c->in_len += (size_t) n;
                c->in[c->in_len] = 0;
                nl = memchr(c->in, '\n', c->in_len);
                if (nl || n == 0) {
                        if (nl)
                                *nl = 0;
                        if (c->in_len == 0) {
                                client_free(c);
                                return 0;
                        }
                        c->out = dispatch(c->server, c, c->in);
                        if (!c->out && c->pending) {
                                /* Stop reading; the answer comes later. */
                                (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
                                return 0;
                        }
                        break;
                }
        }
        (void) client_send(c);
        return 0;
}

/* Sends c->out plus the newline that ends a response. Returns non-zero if
 * the client is gone (freed). */
static int client_send(ControlClient *c) {
        char *o;
        int r;

        if (!c->out) {
                client_free(c);
                return 1;
        }
        c->out_len = strlen(c->out);
        o = realloc(c->out, c->out_len + 2);
        if (!o) {
                client_free(c);
                return 1;
        }
        c->out = o;
        c->out[c->out_len++] = '\n';
        c->out[c->out_len] = 0;
        (void) sd_event_source_set_enabled(c->io, SD_EVENT_ON);
        r = client_flush(c);
        if (r < 0) {
                client_free(c);
                return 1;
        }
        if (r > 0)
                client_done(c);
        return 0;
}

static int on_client_timeout(sd_event_source *src, uint64_t usec, void *userdata) {
        ControlClient *c = userdata;
        log_debug("control client timed out");
        client_free(c);
        return 0;
}

static bool peer_allowed(int fd) {
        struct ucred cred;
        socklen_t l = sizeof(cred);

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) < 0)
                return false;
        return cred.uid == 0 || cred.uid == getuid();
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        ControlServer *s = userdata;
        ControlClient *c;
        int cfd, r;

        cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR)
                        log_warning_errno(errno, "accept on control socket failed: %m");
                return 0;
        }
        if (!peer_allowed(cfd)) {
                log_warning("control connection refused: peer is neither root nor uid %u", (unsigned) getuid());
                close(cfd);
                return 0;
        }
        if (s->n_clients >= CONTROL_MAX_CLIENTS) {
                log_warning("control connection refused: %d clients already connected", CONTROL_MAX_CLIENTS);
                close(cfd);
                return 0;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                close(cfd);
                return 0;
        }
        c->server = s;
        c->fd = cfd;
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;
        r = sd_event_add_io(s->manager->event, &c->io, cfd, EPOLLIN, on_client_io, c);
        if (r >= 0)
                r = sd_event_add_time_relative(s->manager->event, &c->timeout, CLOCK_MONOTONIC,
                                               CONTROL_TIMEOUT_USEC, 0, on_client_timeout, c);
        if (r < 0)
                client_free(c);
        return 0;
}

static int mkdir_parents(const char *path) {
        _cleanup_free_ char *d = strdup(path);
        char *slash;

        if (!d)
                return -ENOMEM;
        slash = strrchr(d, '/');
        if (!slash || slash == d)
                return 0;
        *slash = 0;
        for (char *p = d + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        if (mkdir(d, 0755) < 0 && errno != EEXIST)
                                return -errno;
                        *p = '/';
                }
        /* 0755: nginx's workers reach the health socket next to ours; the
         * control socket itself is 0600 and checks its peers. */
        if (mkdir(d, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

int control_server_new(Manager *m, const char *path, ControlServer **ret) {
        _cleanup_(control_server_freep) ControlServer *s = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        mode_t old;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "control socket path %s is too long", path);
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->manager = m;
        s->fd = -EBADF;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;
        strcpy(sa.sun_path, path);

        r = mkdir_parents(path);
        if (r < 0)
                return log_error_errno(r, "cannot create the directory of %s: %m", path);
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0)
                return log_error_errno(errno, "cannot create control socket: %m");
        (void) unlink(path);
        /* Created 0600 from the first instant: no window for other users. */
        old = umask(0177);
        r = bind(s->fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old);
        if (r < 0)
                return log_error_errno(errno, "cannot bind control socket %s: %m", path);
        if (listen(s->fd, 16) < 0)
                return log_error_errno(errno, "cannot listen on control socket %s: %m", path);
        r = sd_event_add_io(m->event, &s->io, s->fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return log_error_errno(r, "cannot watch control socket: %m");
        (void) sd_event_source_set_description(s->io, "control-accept");
        log_debug("control socket listening on %s", path);
        *ret = TAKE_PTR(s);
        return 0;
}

ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        sd_event_source_disable_unref(s->io);
        if (s->fd >= 0) {
                close(s->fd);
                (void) unlink(s->path);
        }
        free(s->path);
        return mfree(s);
}
