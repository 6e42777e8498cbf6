/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "control"

#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "control.h"
#include "json-util.h"
#include "list.h"
#include "log.h"

typedef struct ControlClient ControlClient;

struct ControlRequest {
        ControlServer *server;
        ControlClient *client;          /* NULL once the client is gone */
        sd_event_source *answer;        /* deferred: sends `out` */
        char *out;
        bool answered;
        LIST_FIELDS(ControlRequest, requests);
};

struct ControlClient {
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
        ControlRequest *pending;
        LIST_FIELDS(ControlClient, clients);
};

struct ControlServer {
        sd_event *event;
        const ControlCommand *commands;
        void *userdata;
        char *path;
        int fd;
        sd_event_source *io;
        ControlClient *clients;
        unsigned n_clients;
        ControlRequest *requests;       /* every request not yet answered and sent */
};

static void request_free(ControlRequest *q) {
        if (!q)
                return;
        if (q->client)
                q->client->pending = NULL;
        LIST_REMOVE(requests, q->server->requests, q);
        sd_event_source_disable_unref(q->answer);
        free(q->out);
        free(q);
}

static void client_free(ControlClient *c) {
        ControlServer *s = c->server;

        LIST_REMOVE(clients, s->clients, c);
        s->n_clients--;
        if (c->pending)
                c->pending->client = NULL;
        sd_event_source_disable_unref(c->io);
        sd_event_source_disable_unref(c->timeout);
        closep(&c->fd);
        free(c->out);
        free(c);
}

static char *format_error(const char *msg) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddBoolToObject(o, "ok", 0) || !cJSON_AddStringToObject(o, "error", msg))
                return NULL;
        return cJSON_PrintUnformatted(o);
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
        if (!c->oversized || shutdown(c->fd, SHUT_WR) < 0 || sd_event_source_set_io_events(c->io, EPOLLIN) < 0) {
                client_free(c);
                return;
        }
        c->draining = true;
}

/* Sends out (taken over) plus the newline that ends a response. Only
 * called from event callbacks, so freeing the client here is safe. */
static void client_send(ControlClient *c, char *out) {
        char *o;
        int r;

        c->out = out;
        if (!c->out)
                c->out = format_error("out of memory");
        if (!c->out) {
                client_free(c);
                return;
        }
        c->out_len = strlen(c->out);
        o = realloc(c->out, c->out_len + 2);
        if (!o) {
                client_free(c);
                return;
        }
        c->out = o;
        c->out[c->out_len++] = '\n';
        c->out[c->out_len] = 0;
        (void) sd_event_source_set_io_events(c->io, EPOLLOUT);
        (void) sd_event_source_set_enabled(c->io, SD_EVENT_ON);
        r = client_flush(c);
        if (r < 0)
                client_free(c);
        else if (r > 0)
                client_done(c);
}

static int on_answer(sd_event_source *src, void *userdata) {
        ControlRequest *q = userdata;
        ControlClient *c = q->client;

        if (c) {
                c->pending = NULL;
                q->client = NULL;
                client_send(c, TAKE_PTR(q->out));
        }
        request_free(q);
        return 0;
}

static void request_answer(ControlRequest *q, char *out) {
        if (q->answered) {
                free(out);
                return;
        }
        q->answered = true;
        q->out = out;
        /* Never from here: the caller may be deep inside a handler. */
        if (sd_event_source_set_enabled(q->answer, SD_EVENT_ONESHOT) < 0)
                log_error("cannot schedule a control answer; the client will time out");
}

void control_request_reply(ControlRequest *q, cJSON *resp) {
        char *out = NULL;

        if (resp) {
                if (!cJSON_GetObjectItem(resp, "ok"))
                        cJSON_AddBoolToObject(resp, "ok", 1);
                out = cJSON_PrintUnformatted(resp);
                cJSON_Delete(resp);
        }
        request_answer(q, out ?: format_error("out of memory"));
}

void control_request_reply_error(ControlRequest *q, const char *fmt, ...) {
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        request_answer(q, format_error(msg));
}

void control_request_reply_result(ControlRequest *q, const char *text) {
        cJSON *o = cJSON_CreateObject();

        if (o && !cJSON_AddStringToObject(o, "result", text))
                o = (cJSON_Delete(o), NULL);
        control_request_reply(q, o);
}

void control_request_extend(ControlRequest *q, usec_t timeout) {
        if (q->client)
                (void) sd_event_source_set_time_relative(q->client->timeout, MAX(timeout, CONTROL_TIMEOUT_USEC));
}

static const ControlCommand *find_command(ControlServer *s, const char *name) {
        for (const ControlCommand *k = s->commands; k->name; k++)
                if (streq(k->name, name))
                        return k;
        return NULL;
}

static int request_new(ControlServer *s, ControlClient *c, ControlRequest **ret) {
        ControlRequest *q = calloc(1, sizeof(*q));
        int r;

        if (!q)
                return -ENOMEM;
        q->server = s;
        q->client = c;
        LIST_PREPEND(requests, s->requests, q);
        r = sd_event_add_defer(s->event, &q->answer, on_answer, q);
        if (r < 0) {
                request_free(q);
                return r;
        }
        (void) sd_event_source_set_enabled(q->answer, SD_EVENT_OFF);
        (void) sd_event_source_set_description(q->answer, "control-answer");
        c->pending = q;
        *ret = q;
        return 0;
}

/* Parses the request and hands it to its handler. The answer comes later
 * (on_answer), whatever the handler does. */
static void dispatch(ControlServer *s, ControlClient *c, const char *request) {
        _cleanup_(cJSON_Deletep) cJSON *req = cJSON_Parse(request);
        const ControlCommand *k;
        ControlRequest *q;
        const char *cmd;
        char msg[128];
        int r;

        r = request_new(s, c, &q);
        if (r < 0) {
                client_free(c);
                return;
        }
        if (!cJSON_IsObject(req))
                return control_request_reply_error(q, "request is not a JSON object");
        cmd = json_get_string(req, "command");
        if (!cmd)
                return control_request_reply_error(q, "request has no \"command\" string");
        k = find_command(s, cmd);
        if (!k) {
                snprintf(msg, sizeof(msg), "%.64s%s", cmd, strlen(cmd) > 64 ? "..." : "");
                return control_request_reply_error(q, "unknown command: %s", msg);
        }
        (void) sd_event_source_set_time_relative(c->timeout, k->timeout ?: CONTROL_TIMEOUT_USEC);
        r = k->handler(q, req, s->userdata);
        if (r < 0)
                control_request_reply_error(q, "%s failed: %s", k->name, strerror(-r));
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
                        c->oversized = true;
                        client_send(c, format_error("request too large: more than 64 KiB"));
                        return 0;
                }
                n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                client_free(c);
                        return 0;
                }
                c->in_len += (size_t) n;
                c->in[c->in_len] = 0;
                nl = memchr(c->in, '\n', c->in_len);
                if (nl || n == 0)
                        break;
        }
        if (nl)
                *nl = 0;
        if (c->in_len == 0) {
                client_free(c);
                return 0;
        }
        /* Stop reading; the answer comes through on_answer. */
        (void) sd_event_source_set_enabled(c->io, SD_EVENT_OFF);
        dispatch(c->server, c, c->in);
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
        LIST_PREPEND(clients, s->clients, c);
        s->n_clients++;
        r = sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_client_io, c);
        if (r >= 0)
                r = sd_event_add_time_relative(s->event, &c->timeout, CLOCK_MONOTONIC, CONTROL_TIMEOUT_USEC, 0,
                                               on_client_timeout, c);
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

int control_server_new(sd_event *e, const char *path, const ControlCommand *commands, void *userdata,
                       ControlServer **ret) {
        _cleanup_(control_server_freep) ControlServer *s = NULL;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        mode_t old;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_error_errno(ENAMETOOLONG, "control socket path %s is too long", path);
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->event = sd_event_ref(e);
        s->commands = commands;
        s->userdata = userdata;
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
        r = sd_event_add_io(e, &s->io, s->fd, EPOLLIN, on_accept, s);
        if (r < 0)
                return log_error_errno(r, "cannot watch control socket: %m");
        (void) sd_event_source_set_description(s->io, "control-accept");
        log_debug("control socket listening on %s", path);
        *ret = TAKE_PTR(s);
        return 0;
}

/* Requests still held by a handler are freed here too: free the server
 * after every subsystem that could still answer one. */
ControlServer *control_server_free(ControlServer *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_free(s->clients);
        while (s->requests)
                request_free(s->requests);
        sd_event_source_disable_unref(s->io);
        if (s->fd >= 0) {
                close(s->fd);
                (void) unlink(s->path);
        }
        free(s->path);
        sd_event_unref(s->event);
        return mfree(s);
}
