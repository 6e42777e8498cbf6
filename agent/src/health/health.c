/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "health"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "conn-guard.h"
#include "health.h"
#include "json-util.h"
#include "log.h"
#include "socket-address.h"
#include "time-util.h"

/*
 * MHD in "external epoll" mode: MHD_USE_EPOLL without an internal thread.
 * MHD keeps its own epoll set of the listening socket and every connection;
 * that epoll fd turns readable when any of them has work, so one sd-event
 * io source on it plus MHD_run() is the whole loop. MHD also has timers
 * (idle connections), which MHD_get_timeout() reports after every run; a
 * timer source (1 µs accuracy, not sd-event's 250 ms default) wakes it.
 *
 * Sockets are ours, not MHD's: bound here (or passed by systemd socket
 * activation) and handed over with MHD_OPTION_LISTEN_SOCKET, so unix
 * sockets and TCP work alike. A unix socket is 0660, group [health]
 * socket_group (nginx's workers): no other local user can connect.
 *
 * MHD's own timeout only closes idle connections, and its connection limit
 * refuses newcomers: a client sending a byte every few seconds, or a few
 * hundred idle ones, would keep the ALB's probe out. So every connection
 * is also tracked by a ConnGuard (conn-guard.h), told by MHD's connection
 * and request notifications: whole-request deadline, per-peer limit, and
 * the oldest waiting connection closed to make room for a new one (MHD's
 * hard limit is above ours, so MHD always accepts).
 */

typedef struct HealthEndpoint {
        char *path;
        char *content_type;
        HealthEndpointFunc fn;
        void *userdata;
} HealthEndpoint;

typedef struct HealthDaemon {
        HealthServer *server;
        SocketAddress addr;
        bool local;             /* unix or loopback: extra endpoints are served */
        int fd;
        bool activated;         /* from systemd: not ours to unlink */
        struct MHD_Daemon *mhd;
        ConnGuard *guard;
        sd_event_source *io, *timer;
        unsigned n_connections;         /* after the last MHD_run() */
} HealthDaemon;

struct HealthServer {
        sd_event *event;
        CheckSet *checks;
        HealthAgentState agent_state;
        bool draining;
        char *instance_id;
        char *agent_reason;
        gid_t socket_gid;               /* of unix sockets we bind; -1: root's */
        Component component;
        HealthDaemon daemons[HEALTH_MAX_LISTEN];
        size_t n_daemons;
        struct MHD_Response *health, *public, *live, *not_found, *not_allowed, *too_large, *bad_request;
        unsigned health_code;
        HealthEndpoint endpoints[HEALTH_MAX_ENDPOINTS];
        size_t n_endpoints;
};

const char *health_agent_state_to_string(HealthAgentState s) {
        static const char *const names[_HEALTH_AGENT_STATE_MAX] = {
                [HEALTH_AGENT_BOOTSTRAPPING] = "bootstrapping", [HEALTH_AGENT_RUNNING] = "running",
                [HEALTH_AGENT_FAILED] = "failed", [HEALTH_AGENT_STOPPING] = "stopping",
        };
        return s < _HEALTH_AGENT_STATE_MAX ? names[s] : "unknown";
}

void health_verdict(HealthAgentState state, bool draining, const char *agent_reason, Check *const *checks, size_t n,
                    HealthVerdict *v) {
        const Check *failing = NULL, *pending = NULL, *degraded = NULL;

        *v = (HealthVerdict) { .code = MHD_HTTP_SERVICE_UNAVAILABLE };
        if (draining || state == HEALTH_AGENT_STOPPING) {
                v->status = "draining";
                v->reason_code = state == HEALTH_AGENT_STOPPING ? "stopping" : "draining";
                snprintf(v->reason, sizeof(v->reason), "%s", state == HEALTH_AGENT_STOPPING ?
                         "agentd is stopping" : "taken out of service (draining)");
                return;
        }
        if (state == HEALTH_AGENT_BOOTSTRAPPING) {
                v->status = "bootstrapping";
                v->reason_code = "bootstrapping";
                snprintf(v->reason, sizeof(v->reason), "bootstrap still running");
                return;
        }
        if (state == HEALTH_AGENT_FAILED) {
                v->status = "unhealthy";
                v->reason_code = "bootstrap_failed";
                snprintf(v->reason, sizeof(v->reason), "%s", agent_reason ?: "bootstrap failed");
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const Check *c = checks[i];
                if (c->counters.state == CHECK_STATE_FAILING) {
                        if (c->settings->critical && !failing)
                                failing = c;
                        else if (!c->settings->critical && !degraded)
                                degraded = c;
                } else if (c->counters.state == CHECK_STATE_PENDING) {
                        if (c->settings->critical && !pending)
                                pending = c;
                } else if (c->last_result == CHECK_RESULT_WARN && !degraded)
                        degraded = c;
        }
        if (failing) {
                v->status = "unhealthy";
                v->reason_code = "check_failing";
                snprintf(v->reason, sizeof(v->reason), "check %s failing: %s", failing->settings->name,
                         failing->detail);
        } else if (pending) {
                v->status = "starting";
                v->reason_code = "check_pending";
                snprintf(v->reason, sizeof(v->reason), "check %s pending (%u of %u passes)", pending->settings->name,
                         pending->counters.passes, pending->settings->rise);
        } else {
                v->code = MHD_HTTP_OK;
                v->status = degraded ? "degraded" : "healthy";
                v->reason_code = degraded ? "degraded" : "ok";
                if (degraded)
                        snprintf(v->reason, sizeof(v->reason), "check %s %s: %s", degraded->settings->name,
                                 check_status_string(degraded), degraded->detail);
        }
}

const char *health_status_compute(HealthAgentState state, bool draining, Check *const *checks, size_t n,
                                  unsigned *ret_code) {
        HealthVerdict v;

        health_verdict(state, draining, NULL, checks, n, &v);
        *ret_code = v.code;
        return v.status;
}

static int build_json(HealthServer *s, const HealthVerdict *v, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
        size_t n;
        Check *const *checks = check_set_checks(s->checks, &n);
        cJSON *arr;

        if (!o ||
            !cJSON_AddStringToObject(o, "status", v->status) ||
            !cJSON_AddStringToObject(o, "reason_code", v->reason_code) ||
            json_add_string_or_null(o, "reason", v->reason[0] ? v->reason : NULL) < 0 ||
            json_add_string_or_null(o, "instance_id", s->instance_id) < 0 ||
            !cJSON_AddStringToObject(o, "agent_state", health_agent_state_to_string(s->agent_state)) ||
            !(arr = cJSON_AddArrayToObject(o, "checks")))
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                cJSON *c;
                int r = check_to_json(checks[i], &c);
                if (r < 0)
                        return r;
                cJSON_AddItemToArray(arr, c);
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static struct MHD_Response *make_response(const char *body, const char *type) {
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);

        if (!r)
                return NULL;
        if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
            MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
                MHD_destroy_response(r);
                return NULL;
        }
        return r;
}

/* The copy nginx proxies to the internet: the status and a reason code,
 * no check names, hosts or output. */
static char *public_body(const HealthVerdict *v) {
        _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();

        if (!o || !cJSON_AddStringToObject(o, "status", v->status) ||
            !cJSON_AddStringToObject(o, "reason", v->reason_code))
                return NULL;
        return cJSON_PrintUnformatted(o);
}

void health_server_refresh(HealthServer *s) {
        _cleanup_(cJSON_Deletep) cJSON *doc = NULL;
        _cleanup_free_ char *body = NULL, *pub = NULL;
        struct MHD_Response *r, *p = NULL;
        HealthVerdict v;
        size_t n;
        Check *const *checks;

        if (!s)
                return;
        checks = check_set_checks(s->checks, &n);
        health_verdict(s->agent_state, s->draining, s->agent_reason, checks, n, &v);
        if (build_json(s, &v, &doc) < 0 || !(body = cJSON_PrintUnformatted(doc)) || !(pub = public_body(&v)) ||
            !(r = make_response(body, "application/json")) || !(p = make_response(pub, "application/json"))) {
                if (p)
                        MHD_destroy_response(p);
                /* Keep serving the previous answer rather than none. */
                log_error("cannot rebuild the /health answer: out of memory");
                return;
        }
        /* Connections still sending the old ones hold their own reference. */
        if (s->health)
                MHD_destroy_response(s->health);
        if (s->public)
                MHD_destroy_response(s->public);
        s->health = r;
        s->public = p;
        s->health_code = v.code;
}

/* Built per request: the body changes with every collection. */
static enum MHD_Result answer_endpoint(struct MHD_Connection *conn, const HealthEndpoint *e) {
        struct MHD_Response *r;
        enum MHD_Result ret;
        char *body = NULL;
        size_t len = 0;

        if (e->fn(e->userdata, &body, &len) < 0 || !body) {
                free(body);
                r = MHD_create_response_from_buffer(0, (void *) "", MHD_RESPMEM_PERSISTENT);
                if (!r)
                        return MHD_NO;
                ret = MHD_queue_response(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, r);
                MHD_destroy_response(r);
                return ret;
        }
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(body);
                return MHD_NO;
        }
        if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, e->content_type) != MHD_YES ||
            MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES) {
                MHD_destroy_response(r);
                return MHD_NO;
        }
        ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        return ret;
}

static bool address_is_local(const SocketAddress *a) {
        if (a->is_unix)
                return true;
        if (a->sa.ss_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *) &a->sa)->sin_addr.s_addr) >> 24) == 127;
        if (a->sa.ss_family == AF_INET6)
                return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *) &a->sa)->sin6_addr);
        return false;
}

int health_server_add_endpoint(HealthServer *s, const char *path, const char *content_type, HealthEndpointFunc fn,
                               void *userdata) {
        HealthEndpoint *e;

        if (streq(path, "/health") || streq(path, "/health/live"))
                return -EEXIST;
        for (size_t i = 0; i < s->n_endpoints; i++)
                if (streq(s->endpoints[i].path, path))
                        return -EEXIST;
        if (s->n_endpoints >= HEALTH_MAX_ENDPOINTS)
                return -E2BIG;
        e = &s->endpoints[s->n_endpoints];
        *e = (HealthEndpoint) { .path = strdup(path), .content_type = strdup(content_type), .fn = fn,
                                .userdata = userdata };
        if (!e->path || !e->content_type) {
                free(e->path);
                free(e->content_type);
                return -ENOMEM;
        }
        s->n_endpoints++;
        return 0;
}

static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value) {
        if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
                (*(unsigned *) cls)++;
        return MHD_YES;
}

static GuardedConn *guarded(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *i = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return i ? i->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
        HealthDaemon *d = cls;
        HealthServer *s = d->server;
        unsigned n_cl = 0;
        const char *cl;

        /* Headers are in (no body is taken): the request deadline ends. */
        if (!*con_cls)
                conn_guard_request_read(guarded(conn));
        /* MHD takes the first of two Content-Length headers; a proxy in
         * front may take the other (request smuggling): refuse both. */
        (void) MHD_get_connection_values(conn, MHD_HEADER_KIND, count_content_length, &n_cl);
        if (n_cl > 1)
                return MHD_queue_response(conn, MHD_HTTP_BAD_REQUEST, s->bad_request);
        if (!streq(method, MHD_HTTP_METHOD_GET) && !streq(method, MHD_HTTP_METHOD_HEAD))
                return MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, s->not_allowed);
        /* A body is refused before it is read: MHD then closes the
         * connection instead of reading it. */
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (*upload_data_size > 0 || (cl && !streq(cl, "0")) ||
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
                return MHD_queue_response(conn, MHD_HTTP_CONTENT_TOO_LARGE, s->too_large);
        /* A response queued on the first call (headers only) makes MHD
         * 0.9.x discard the rest of the request and close the connection:
         * answer on the second call, so keep-alive and pipelining work. */
        if (!*con_cls) {
                *con_cls = s;
                return MHD_YES;
        }
        if (streq(url, "/health"))
                return MHD_queue_response(conn, s->health_code, s->health);
        if (streq(url, "/health/public"))
                return MHD_queue_response(conn, s->health_code, s->public);
        if (streq(url, "/health/live"))
                return MHD_queue_response(conn, MHD_HTTP_OK, s->live);
        for (size_t i = 0; d->local && i < s->n_endpoints; i++)
                if (streq(url, s->endpoints[i].path))
                        return answer_endpoint(conn, &s->endpoints[i]);
        return MHD_queue_response(conn, MHD_HTTP_NOT_FOUND, s->not_found);
}

/* MHD accepted or closed a connection: the guard tracks it. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        HealthDaemon *d = cls;
        const union MHD_ConnectionInfo *fd_info, *addr_info;
        unsigned char peer[CONN_GUARD_PEER_MAX];
        size_t peer_len = 0;

        if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
                conn_guard_remove(*socket_context);
                *socket_context = NULL;
                return;
        }
        fd_info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (!fd_info)
                return;
        /* The peer: its address on TCP, its uid on a unix socket. */
        if (d->addr.is_unix) {
                struct ucred cred;
                socklen_t l = sizeof(cred);
                if (getsockopt(fd_info->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &l) == 0) {
                        memcpy(peer, &cred.uid, sizeof(cred.uid));
                        peer_len = sizeof(cred.uid);
                }
        } else if ((addr_info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS)) &&
                   addr_info->client_addr) {
                const struct sockaddr *sa = addr_info->client_addr;
                if (sa->sa_family == AF_INET) {
                        memcpy(peer, &((const struct sockaddr_in *) sa)->sin_addr, 4);
                        peer_len = 4;
                } else if (sa->sa_family == AF_INET6) {
                        memcpy(peer, &((const struct sockaddr_in6 *) sa)->sin6_addr, 16);
                        peer_len = 16;
                }
        }
        *socket_context = conn_guard_add(d->guard, fd_info->connect_fd, peer, peer_len);
}

/* An answer went out; on a kept-alive connection the next request's
 * deadline starts (for a closing one, CLOSED follows). */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
                conn_guard_request_answered(guarded(conn));
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) _printf_(2, 0);
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[256];

        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = 0;
        log_debug("libmicrohttpd: %s", buf);
}

static void rearm(HealthDaemon *d) {
        MHD_UNSIGNED_LONG_LONG ms;

        if (MHD_get_timeout(d->mhd, &ms) != MHD_YES) {
                (void) sd_event_source_set_enabled(d->timer, SD_EVENT_OFF);
                return;
        }
        (void) sd_event_source_set_time_relative(d->timer, (usec_t) ms * USEC_PER_MSEC);
        (void) sd_event_source_set_enabled(d->timer, SD_EVENT_ONESHOT);
}

static unsigned n_connections(HealthDaemon *d) {
        const union MHD_DaemonInfo *i = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        return i ? i->num_connections : 0;
}

static void run_mhd(HealthDaemon *d) {
        unsigned before = d->n_connections;

        if (MHD_run(d->mhd) != MHD_YES)
                log_debug("MHD_run failed on %s", d->addr.text);
        d->n_connections = n_connections(d);
        /* At the connection limit MHD takes the listening socket out of its
         * epoll set, and puts it back at the start of a later run, once
         * closed connections were cleaned up at the end of one. Nothing
         * would wake us for that later run: do it now. */
        if (d->n_connections < before) {
                (void) MHD_run(d->mhd);
                d->n_connections = n_connections(d);
        }
        rearm(d);
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        run_mhd(userdata);
        return 0;
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata) {
        run_mhd(userdata);
        return 0;
}

static int bind_address(HealthDaemon *d) {
        _cleanup_close_ int fd = -EBADF;
        int one = 1, r;

        fd = socket(d->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (d->addr.is_unix) {
                const char *path = ((struct sockaddr_un *) &d->addr.sa)->sun_path;
                _cleanup_free_ char *dir = strdup(path);
                char *slash = dir ? strrchr(dir, '/') : NULL;
                mode_t old;

                if (slash && slash != dir) {
                        *slash = 0;
                        (void) mkdir(dir, 0755);
                }
                (void) unlink(path);
                /* Created 0660 root:root, then given to nginx's group: at
                 * no instant can another local user connect (any user could
                 * take every slot of a world-connectable socket). */
                old = umask(0117);
                r = bind(fd, (struct sockaddr *) &d->addr.sa, d->addr.len);
                umask(old);
                if (r >= 0 && d->server->socket_gid != (gid_t) -1 && chown(path, (uid_t) -1, d->server->socket_gid) < 0)
                        return -errno;
        } else {
                (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                /* Inherited by accepted sockets: headers and body go out
                 * at once, no Nagle/delayed-ACK stall. */
                (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                r = bind(fd, (struct sockaddr *) &d->addr.sa, d->addr.len);
        }
        /* A deep queue: a flood of connections must not drop the probe's SYN. */
        if (r < 0 || listen(fd, SOMAXCONN) < 0)
                return -errno;
        d->fd = TAKE_FD(fd);
        return 0;
}

static int take_activated(HealthDaemon *d, int n_fds, bool *used) {
        for (int i = 0; i < n_fds; i++) {
                int fd = SD_LISTEN_FDS_START + i, k;
                if (used[i])
                        continue;
                if (d->addr.is_unix)
                        k = sd_is_socket_unix(fd, SOCK_STREAM, 1, ((struct sockaddr_un *) &d->addr.sa)->sun_path, 0);
                else
                        k = sd_is_socket_sockaddr(fd, SOCK_STREAM, (struct sockaddr *) &d->addr.sa,
                                                  d->addr.len, 1);
                if (k > 0) {
                        used[i] = true;
                        d->fd = fd;
                        d->activated = true;
                        (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                        return 1;
                }
        }
        return 0;
}

static int daemon_start(HealthServer *s, HealthDaemon *d, const HealthSettings *c) {
        const union MHD_DaemonInfo *info;
        int r;

        d->local = address_is_local(&d->addr);
        r = conn_guard_new(s->event,
                           &(ConnGuardSettings) { .max_connections = c->max_connections,
                                                  .max_per_peer = c->max_connections_per_peer,
                                                  .request_timeout = c->request_timeout },
                           &d->guard);
        if (r < 0)
                return r;
        d->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, d,
                                  MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                  MHD_OPTION_LISTEN_SOCKET, d->fd,
                                  MHD_OPTION_NOTIFY_CONNECTION, on_connection, d,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, d,
                                  /* Above the guard's limit: it closes the
                                   * slowest to make room, MHD never refuses. */
                                  MHD_OPTION_CONNECTION_LIMIT, c->max_connections + CONN_GUARD_RESERVE,
                                  MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned) MAX(c->timeout / USEC_PER_SEC, 1),
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HEALTH_MEMORY_LIMIT,
                                  MHD_OPTION_END);
        if (!d->mhd)
                return -EINVAL;
        info = MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return -EINVAL;
        r = sd_event_add_io(s->event, &d->io, info->epoll_fd, EPOLLIN, on_io, d);
        if (r < 0)
                return r;
        r = sd_event_add_time_relative(s->event, &d->timer, CLOCK_MONOTONIC, 0, 1, on_timer, d);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(d->io, "health-mhd");
        rearm(d);
        return 0;
}

static int daemon_open(HealthServer *s, HealthDaemon *d, const HealthSettings *settings, int n_fds, bool *used) {
        int r = take_activated(d, n_fds, used);

        if (r == 0) {
                r = bind_address(d);
                if (r < 0)
                        return log_error_errno(r, "cannot listen on %s: %m", d->addr.text);
        }
        r = daemon_start(s, d, settings);
        if (r < 0)
                return log_error_errno(r, "cannot start the HTTP server on %s: %m", d->addr.text);
        log_debug("health endpoint on %s%s", d->addr.text, d->activated ? " (socket activation)" : "");
        return 0;
}

static void daemon_stop(HealthDaemon *d) {
        d->io = sd_event_source_disable_unref(d->io);
        d->timer = sd_event_source_disable_unref(d->timer);
        if (d->mhd)
                MHD_stop_daemon(d->mhd);        /* CLOSED for each connection: the guard forgets them */
        d->mhd = NULL;
        d->guard = conn_guard_free(d->guard);
        if (d->fd >= 0) {
                close(d->fd);
                if (d->addr.is_unix && !d->activated)
                        (void) unlink(((struct sockaddr_un *) &d->addr.sa)->sun_path);
        }
        d->fd = -EBADF;
}

int health_server_new(sd_event *e, const HealthSettings *settings, CheckSet *checks, HealthServer **ret) {
        _cleanup_(health_server_freep) HealthServer *s = NULL;
        SocketAddress addrs[HEALTH_MAX_LISTEN];
        bool used[64] = {};
        const char *bad = NULL, *bad_group = NULL;
        char text[HEALTH_MAX_LISTEN * (sizeof(addrs[0].text) + 2)] = "";
        int n, n_fds, failed = 0;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        s->event = sd_event_ref(e);
        s->checks = checks;
        component_init(&s->component, "health", true);
        s->live = make_response("{\"status\":\"alive\"}\n", "application/json");
        s->not_found = make_response("not found\n", "text/plain");
        s->not_allowed = make_response("method not allowed: GET or HEAD only\n", "text/plain");
        s->too_large = make_response("request bodies are not accepted\n", "text/plain");
        s->bad_request = make_response("conflicting Content-Length headers\n", "text/plain");
        if (!s->live || !s->not_found || !s->not_allowed || !s->too_large || !s->bad_request ||
            MHD_add_response_header(s->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)
                return log_oom();
        health_server_refresh(s);

        /* Resolved once, here: NSS lookups do not belong on the loop. */
        s->socket_gid = (gid_t) -1;
        {
                struct group *gr = getgrnam(settings->socket_group ?: HEALTH_DEFAULT_SOCKET_GROUP);
                if (gr)
                        s->socket_gid = gr->gr_gid;
                else if (settings->socket_group)
                        bad_group = settings->socket_group;
        }

        n = socket_address_parse_listen_list(settings->listen, addrs, HEALTH_MAX_LISTEN, &bad);
        if (n < 0)      /* the config parser validated it already */
                return log_error_errno(n, "[health] listen=%s: invalid at '%s'", settings->listen, strna(bad));
        n_fds = sd_listen_fds(true);
        n_fds = CLAMP(n_fds, 0, (int) ELEMENTSOF(used));
        for (int i = 0; i < n_fds; i++)
                (void) fcntl(SD_LISTEN_FDS_START + i, F_SETFD, FD_CLOEXEC);
        for (int i = 0; i < n; i++) {
                HealthDaemon *d = &s->daemons[s->n_daemons++];
                *d = (HealthDaemon) { .server = s, .addr = addrs[i], .fd = -EBADF };
                if (d->addr.is_unix && bad_group) {
                        log_error("[health] socket_group=%s: no such group; not listening on %s", bad_group,
                                  d->addr.text);
                        failed++;
                        continue;
                }
                if (daemon_open(s, d, settings, n_fds, used) < 0) {
                        daemon_stop(d);
                        failed++;
                        continue;
                }
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s%s", text[0] ? ", " : "",
                         d->addr.text);
        }
        for (int i = 0; i < n_fds; i++)
                if (!used[i])
                        log_notice("socket-activated fd %d matches no [health] listen= address, ignored",
                                   SD_LISTEN_FDS_START + i);
        if (failed)
                component_error(&s->component, COMPONENT_FAILED, "cannot listen on %d of %d address(es)%s%s",
                                failed, n, text[0] ? "; listening on " : "", text);
        else
                component_set(&s->component, COMPONENT_OK, "listening on %s", text);
        *ret = TAKE_PTR(s);
        return 0;
}

HealthServer *health_server_free(HealthServer *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_daemons; i++)
                daemon_stop(&s->daemons[i]);
        struct MHD_Response *responses[] = { s->health, s->public, s->live, s->not_found, s->not_allowed,
                                             s->too_large, s->bad_request };
        for (size_t i = 0; i < ELEMENTSOF(responses); i++)
                if (responses[i])
                        MHD_destroy_response(responses[i]);
        for (size_t i = 0; i < s->n_endpoints; i++) {
                free(s->endpoints[i].path);
                free(s->endpoints[i].content_type);
        }
        component_done(&s->component);
        free(s->instance_id);
        free(s->agent_reason);
        sd_event_unref(s->event);
        return mfree(s);
}

Component *health_server_component(HealthServer *s) {
        return &s->component;
}

void health_server_set_agent(HealthServer *s, HealthAgentState state, bool draining, const char *instance_id,
                             const char *reason) {
        if (!s)
                return;
        if (!streq_ptr(s->agent_reason, reason) && free_and_strdup(&s->agent_reason, reason) < 0)
                log_oom();
        s->agent_state = state;
        s->draining = draining;
        if (!streq_ptr(s->instance_id, instance_id) && free_and_strdup(&s->instance_id, instance_id) < 0)
                log_oom();
        health_server_refresh(s);
}
