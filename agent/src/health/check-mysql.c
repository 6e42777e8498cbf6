/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <sys/epoll.h>

#include "check.h"

/*
 * type=mysql: connect and run `SELECT 1` with libmariadb's non-blocking API
 * (MYSQL_OPT_NONBLOCK, mysql_*_start/_cont). Each step returns what it
 * waits for (MYSQL_WAIT_READ/WRITE/EXCEPT/TIMEOUT); an sd-event io source on
 * mysql_get_socket() and a timer give it back with mysql_*_cont(). The host
 * is resolved first by check_resolve() (libmariadb would call getaddrinfo
 * inside connect_start, blocking the loop) and passed as a numeric address.
 *
 * Credentials: secret=NAME (fields username/password, from the secrets
 * subsystem through the hooks' secret_lookup), or user= plus password_file=
 * (read at each run, wiped after the connect). Neither is ever logged.
 *
 * An access-denied answer (error 1045) to credentials that came from the
 * secret is told to the hooks' secret_refused before the sample completes:
 * during a rotation the database may already have the new password while
 * we still hold the old one, and waiting for the secret's `refresh` would
 * leave the check (and everything else using the secret) failing until
 * then. Who fetches it again, and how often, is the owner's decision.
 */

#define PASSWORD_MAX 1024

typedef enum MysqlStep { STEP_CONNECT, STEP_QUERY, STEP_STORE } MysqlStep;

typedef struct MysqlRun {
        MYSQL *mysql;
        MYSQL_RES *result;
        MysqlStep step;
        sd_event_source *io, *timer;
        int io_fd;
        char host[INET6_ADDRSTRLEN + 1];
        unsigned port;
        char *user;
        char *password;
        bool from_secret;       /* user or password came from secret= */
} MysqlRun;

static void mysql_run_stop(Check *c) {
        MysqlRun *q = c->run;

        if (!q)
                return;
        sd_event_source_disable_unref(q->io);
        sd_event_source_disable_unref(q->timer);
        if (q->result)
                mysql_free_result(q->result);
        /* COM_QUIT is one small write; mysql_close() does not wait for an
         * answer, and aborts a connect under way. */
        if (q->mysql)
                mysql_close(q->mysql);
        free(q->user);
        strwipe_free(q->password);
        c->run = mfree(q);
}

static int step(Check *c, int events);

static int on_mysql_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        int ev = 0;

        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))
                ev |= MYSQL_WAIT_READ;
        if (revents & EPOLLOUT)
                ev |= MYSQL_WAIT_WRITE;
        if (revents & EPOLLPRI)
                ev |= MYSQL_WAIT_EXCEPT;
        (void) step(userdata, ev);
        return 0;
}

static int on_mysql_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        (void) step(userdata, MYSQL_WAIT_TIMEOUT);
        return 0;
}

/* Waits for what libmariadb asked for. */
static int wait_for(Check *c, int status) {
        MysqlRun *q = c->run;
        int fd = mysql_get_socket(q->mysql), r;
        uint32_t ev = 0;

        if (status & MYSQL_WAIT_READ)
                ev |= EPOLLIN;
        if (status & MYSQL_WAIT_WRITE)
                ev |= EPOLLOUT;
        if (status & MYSQL_WAIT_EXCEPT)
                ev |= EPOLLPRI;
        if (q->io && q->io_fd != fd)
                q->io = sd_event_source_disable_unref(q->io);
        if (!q->io) {
                r = sd_event_add_io(c->event, &q->io, fd, ev, on_mysql_io, c);
                if (r < 0)
                        return r;
                q->io_fd = fd;
        } else {
                r = sd_event_source_set_io_events(q->io, ev);
                if (r < 0)
                        return r;
                (void) sd_event_source_set_enabled(q->io, SD_EVENT_ON);
        }
        if (status & MYSQL_WAIT_TIMEOUT) {
                usec_t t = (usec_t) mysql_get_timeout_value_ms(q->mysql) * USEC_PER_MSEC;
                q->timer = sd_event_source_disable_unref(q->timer);
                r = sd_event_add_time_relative(c->event, &q->timer, CLOCK_MONOTONIC, t, 1,
                                               on_mysql_timer, c);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Runs the state machine from the current step with `events` (0 to
 * begin); completes the check or waits again. */
static int step(Check *c, int events) {
        MysqlRun *q = c->run;
        MYSQL *ret = NULL;
        int status, err = 0;

        q->timer = sd_event_source_disable_unref(q->timer);
        for (;;) {
                switch (q->step) {
                case STEP_CONNECT:
                        status = events ? mysql_real_connect_cont(&ret, q->mysql, events)
                                        : mysql_real_connect_start(&ret, q->mysql, q->host, q->user, q->password,
                                                                   c->settings->database, q->port, NULL, 0);
                        if (status)
                                break;
                        q->password = strwipe_free(q->password);
                        if (!ret) {
                                bool refused = mysql_errno(q->mysql) == ER_ACCESS_DENIED_ERROR;

                                if (refused && q->from_secret && c->hooks && c->hooks->secret_refused)
                                        c->hooks->secret_refused(c->hooks->userdata, c->settings->secret);
                                check_complete(c, CHECK_RESULT_FAIL, "cannot connect to %s:%u: %s", q->host,
                                               q->port, mysql_error(q->mysql));
                                return refused ? -EACCES : -ECONNREFUSED;
                        }
                        q->step = STEP_QUERY;
                        events = 0;
                        continue;
                case STEP_QUERY:
                        status = events ? mysql_real_query_cont(&err, q->mysql, events)
                                        : mysql_real_query_start(&err, q->mysql, "SELECT 1", 8);
                        if (status)
                                break;
                        if (err) {
                                check_complete(c, CHECK_RESULT_FAIL, "SELECT 1 on %s:%u failed: %s", q->host,
                                               q->port, mysql_error(q->mysql));
                                return -EIO;
                        }
                        q->step = STEP_STORE;
                        events = 0;
                        continue;
                case STEP_STORE:
                        status = events ? mysql_store_result_cont(&q->result, q->mysql, events)
                                        : mysql_store_result_start(&q->result, q->mysql);
                        if (status)
                                break;
                        if (!q->result || mysql_num_rows(q->result) != 1) {
                                check_complete(c, CHECK_RESULT_FAIL, "SELECT 1 on %s:%u returned no row: %s",
                                               q->host, q->port, mysql_error(q->mysql));
                                return -EIO;
                        }
                        check_complete(c, CHECK_RESULT_PASS, "SELECT 1 on %s:%u: ok", q->host, q->port);
                        return 0;
                }
                break;
        }
        err = wait_for(c, status);
        if (err < 0)
                check_complete(c, CHECK_RESULT_FAIL, "cannot watch the connection: %s", strerror(-err));
        return err;
}

static int read_password(const char *path, char **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        char buf[PASSWORD_MAX + 1];
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf));
        if (n < 0)
                return -errno;
        if (n > PASSWORD_MAX) {
                explicit_wipe(buf, sizeof(buf));
                return -EFBIG;
        }
        buf[n] = 0;
        buf[strcspn(buf, "\r\n")] = 0;
        *ret = strdup(buf);
        explicit_wipe(buf, sizeof(buf));
        return *ret ? 0 : -ENOMEM;
}

static void on_resolved(Check *c, const struct sockaddr *sa, socklen_t len) {
        MysqlRun *q = c->run;
        unsigned timeout = (unsigned) MAX(c->settings->timeout / USEC_PER_SEC, 1);
        my_bool off = 0;

        if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, q->host, sizeof(q->host));
        else
                inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, q->host, sizeof(q->host));
        q->mysql = mysql_init(NULL);
        if (!q->mysql) {
                check_complete(c, CHECK_RESULT_FAIL, "out of memory");
                return;
        }
        mysql_options(q->mysql, MYSQL_OPT_NONBLOCK, 0);
        mysql_options(q->mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
        mysql_options(q->mysql, MYSQL_OPT_READ_TIMEOUT, &timeout);
        mysql_options(q->mysql, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
        mysql_options(q->mysql, MYSQL_OPT_RECONNECT, &off);
        /* No option files: only what the check says. */
        (void) step(c, 0);
}

static int mysql_start(Check *c) {
        const CheckSettings *k = c->settings;
        _cleanup_free_ char *host = NULL;
        MysqlRun *q;
        int r;

        q = calloc(1, sizeof(*q));
        if (!q) {
                check_complete(c, CHECK_RESULT_FAIL, "out of memory");
                return -ENOMEM;
        }
        c->run = q;
        r = check_endpoint(c, &host, &q->port, 3306);
        if (r >= 0) {
                const char *u = k->user, *p = NULL;
                if (k->secret && !k->user)
                        r = check_secret_lookup(c, k->secret, "username", &u);
                if (r >= 0 && k->secret && !k->password_file)
                        r = check_secret_lookup(c, k->secret, "password", &p);
                if (r >= 0 && !(q->user = strdup(strempty(u))))
                        r = -ENOMEM;
                if (r >= 0 && p && !(q->password = strdup(p)))
                        r = -ENOMEM;
                q->from_secret = k->secret && (!k->user || !k->password_file);
                if (r >= 0 && k->password_file) {
                        r = read_password(k->password_file, &q->password);
                        if (r < 0) {
                                check_complete(c, CHECK_RESULT_FAIL, "cannot read password_file=%s: %s",
                                               k->password_file, r == -EFBIG ? "longer than 1024 bytes"
                                                                             : strerror(-r));
                                return r;
                        }
                }
        }
        if (r == -ENOENT && k->secret) {
                check_complete(c, CHECK_RESULT_FAIL, "secret %s not loaded", k->secret);
                return r;
        }
        if (r < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "no usable endpoint or credentials: %s", strerror(-r));
                return r;
        }
        return check_resolve(c, host, q->port, on_resolved);
}

const CheckVTable check_mysql_vtable = {
        .start = mysql_start,
        .stop = mysql_run_stop,
};
