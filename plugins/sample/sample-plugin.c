/* SPDX-License-Identifier: MIT */
/*
 * agentd's sample plugin: the smallest program that follows the plugin
 * conventions (docs/plugins.md), for the tests and as a model.
 *
 *   - reads its credentials file (KEY="value" lines, as [render.NAME]
 *     format=env writes them) at start and again on SIGHUP, which is what
 *     the unit's ExecReload= sends when agentd reloads it after a rotation;
 *   - says READY=1 (and STATUS=) to systemd with sd_notify once it serves;
 *   - serves GET /health on a unix socket: 200 "ok generation=N user=U"
 *     (the user name in use, never the password), 503 if the credentials
 *     lack SAMPLE_DB_USER or SAMPLE_DB_PASSWORD;
 *   - on SIGTERM stops taking work (closes the socket), finishes what it
 *     has (--drain-time MS: how long that takes, for the tests) and exits 0;
 *   - logs to stderr, which systemd sends to the journal.
 *
 * Usage: agentd-sample-plugin --credentials FILE --socket PATH [--pidfile FILE]
 *                             [--drain-time MS]
 */

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define MAX_FILE 65536
#define MAX_VALUE 1024

static char user[MAX_VALUE + 1], password[MAX_VALUE + 1];
static unsigned generation;

/* The value of KEY="..." in text (\\, \", \$ unescaped), or -ENOENT. */
static int env_value(const char *text, const char *key, char *out) {
        size_t kl = strlen(key), n = 0;

        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                if (strncmp(l, key, kl) != 0 || l[kl] != '=' || l[kl + 1] != '"')
                        continue;
                for (const char *p = l + kl + 2; *p && *p != '"'; p++) {
                        if (*p == '\\' && p[1])
                                p++;
                        if (n >= MAX_VALUE)
                                return -E2BIG;
                        out[n++] = *p;
                }
                out[n] = 0;
                return 0;
        }
        return -ENOENT;
}

static int load_credentials(const char *path) {
        static char text[MAX_FILE + 1];
        char u[MAX_VALUE + 1], pw[MAX_VALUE + 1];
        FILE *f = fopen(path, "re");
        size_t n;

        if (!f) {
                fprintf(stderr, "cannot open the credentials %s: %m\n", path);
                return -errno;
        }
        n = fread(text, 1, MAX_FILE, f);
        fclose(f);
        text[n] = 0;
        if (env_value(text, "SAMPLE_DB_USER", u) < 0 || env_value(text, "SAMPLE_DB_PASSWORD", pw) < 0) {
                fprintf(stderr, "credentials %s: SAMPLE_DB_USER or SAMPLE_DB_PASSWORD missing\n", path);
                return -EINVAL;
        }
        memcpy(user, u, sizeof(user));
        memcpy(password, pw, sizeof(password));
        explicit_bzero(pw, sizeof(pw));
        explicit_bzero(text, n);
        generation++;
        fprintf(stderr, "credentials loaded (generation %u, user %s)\n", generation, user);
        sd_notifyf(false, "STATUS=serving, credentials generation %u", generation);
        return 0;
}

static int listen_unix(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        (void) unlink(path);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || chmod(path, 0666) < 0 || listen(fd, 16) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* One request, one answer, close: enough for a health probe. */
static void serve(int lfd) {
        char req[2048], body[MAX_VALUE + 64], head[256];
        struct timeval tv = { .tv_sec = 1 };
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), code;
        ssize_t n;

        if (fd < 0)
                return;
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        n = read(fd, req, sizeof(req) - 1);
        req[n > 0 ? n : 0] = 0;
        if (strncmp(req, "GET /health ", 12) != 0 && strncmp(req, "HEAD /health ", 13) != 0) {
                code = 404;
                snprintf(body, sizeof(body), "not found\n");
        } else if (!user[0] || !password[0]) {
                code = 503;
                snprintf(body, sizeof(body), "no credentials\n");
        } else {
                code = 200;
                snprintf(body, sizeof(body), "ok generation=%u user=%s\n", generation, user);
        }
        snprintf(head, sizeof(head), "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n", code, code == 200 ? "OK" : code == 503 ? "Service Unavailable" :
                 "Not Found", strlen(body));
        if (write(fd, head, strlen(head)) > 0 && req[0] == 'G')
                (void) !write(fd, body, strlen(body));
        close(fd);
}

int main(int argc, char *argv[]) {
        static const struct option opts[] = {
                { "credentials", required_argument, NULL, 'c' },
                { "socket", required_argument, NULL, 's' },
                { "pidfile", required_argument, NULL, 'p' },
                { "drain-time", required_argument, NULL, 'd' },
                {}
        };
        const char *creds = NULL, *sock = NULL, *pidfile = NULL;
        unsigned drain_ms = 0;
        struct pollfd pfd[2];
        sigset_t mask;
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'c': creds = optarg; break;
                case 's': sock = optarg; break;
                case 'p': pidfile = optarg; break;
                case 'd': drain_ms = (unsigned) strtoul(optarg, NULL, 10); break;
                default: return 2;
                }
        if (!creds || !sock) {
                fprintf(stderr, "usage: %s --credentials FILE --socket PATH [--pidfile FILE] [--drain-time MS]\n", argv[0]);
                return 2;
        }
        setvbuf(stderr, NULL, _IOLBF, 0);
        sigemptyset(&mask);
        sigaddset(&mask, SIGHUP);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        pfd[0] = (struct pollfd) { .fd = signalfd(-1, &mask, SFD_CLOEXEC), .events = POLLIN };
        if (load_credentials(creds) < 0)
                return 1;
        pfd[1] = (struct pollfd) { .fd = listen_unix(sock), .events = POLLIN };
        if (pfd[0].fd < 0 || pfd[1].fd < 0) {
                fprintf(stderr, "cannot listen on %s: %s\n", sock, strerror(pfd[1].fd < 0 ? -pfd[1].fd : errno));
                return 1;
        }
        if (pidfile) {
                FILE *f = fopen(pidfile, "we");
                if (f) {
                        fprintf(f, "%d\n", (int) getpid());
                        fclose(f);
                }
        }
        fprintf(stderr, "serving /health on %s\n", sock);
        sd_notify(false, "READY=1");
        for (;;) {
                struct signalfd_siginfo si;

                if (poll(pfd, 2, -1) < 0 && errno != EINTR)
                        return 1;
                if (pfd[1].revents & POLLIN)
                        serve(pfd[1].fd);
                if (!(pfd[0].revents & POLLIN) || read(pfd[0].fd, &si, sizeof(si)) != sizeof(si))
                        continue;
                if (si.ssi_signo == SIGHUP) {
                        fprintf(stderr, "SIGHUP: reading the credentials again\n");
                        if (load_credentials(creds) < 0)
                                fprintf(stderr, "keeping the credentials of generation %u\n", generation);
                        continue;
                }
                /* Stop taking work: no new connection from here. */
                sd_notify(false, "STOPPING=1");
                close(pfd[1].fd);
                (void) unlink(sock);
                fprintf(stderr, "stopped taking work; finishing in %u ms\n", drain_ms);
                (void) poll(NULL, 0, (int) drain_ms);
                fprintf(stderr, "%s: stopped\n", si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                return 0;
        }
}
