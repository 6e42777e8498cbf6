/* SPDX-License-Identifier: MIT */
/*
 * agentctl: asks agentd over its control socket and prints the answer for
 * people (or as JSON with --json). Exit codes: 0 healthy, 1 degraded,
 * 2 failed, 3 agent not reachable, 4 usage or protocol error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "config.h"
#include "conf.h"
#include "json-util.h"
#include "macro.h"

#define EXIT_UNREACHABLE 3
#define EXIT_USAGE 4
#define MAX_RESPONSE (4U << 20)
#define TIMEOUT_MS 10000

static int request(const char *path, const char *command, const char *name, char **ret, const char **why) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ char *req = NULL;
        size_t len = 0, alloc = 0;
        size_t sent = 0, reqlen;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                *why = "socket path too long";
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                *why = strerror(errno);
                return -errno;
        }
        {
                _cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
                _cleanup_free_ char *j = NULL;
                if (!o || !cJSON_AddStringToObject(o, "command", command) ||
                    (name && !cJSON_AddStringToObject(o, "name", name)) || !(j = cJSON_PrintUnformatted(o)) ||
                    asprintf(&req, "%s\n", j) < 0)
                        return -ENOMEM;
        }
        reqlen = strlen(req);
        while (sent < reqlen) {
                ssize_t n = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
                if (n < 0) {
                        *why = strerror(errno);
                        return -errno;
                }
                sent += (size_t) n;
        }
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;
                int k = poll(&p, 1, streq(command, "status") ? TIMEOUT_MS : 150000);
                if (k == 0) {
                        *why = "no answer in time";
                        return -ETIMEDOUT;
                }
                if (k < 0 && errno != EINTR) {
                        *why = strerror(errno);
                        return -errno;
                }
                if (len + 65536 + 1 > alloc) {
                        char *b;
                        if (alloc > MAX_RESPONSE) {
                                *why = "answer too large";
                                return -EFBIG;
                        }
                        alloc = alloc * 2 + 65536 + 1;
                        b = realloc(buf, alloc);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                n = recv(fd, buf + len, alloc - len - 1, 0);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        *why = strerror(errno);
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
                if (memchr(buf + len - n, '\n', (size_t) n))
                        break;
        }
        if (!buf || len == 0) {
                *why = "connection closed without an answer";
                return -ECONNRESET;
        }
        buf[len] = 0;
        *ret = TAKE_PTR(buf);
        return 0;
}

static const char *str(const cJSON *o, const char *k) {
        const char *s = json_get_string(o, k);
        return s ? s : "-";
}

static double num(const cJSON *o, const char *k) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
        return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static const char *fmt_secs(char *buf, size_t n, double s) {
        long t = (long) s;
        if (t < 60)
                snprintf(buf, n, "%lds", t);
        else if (t < 3600)
                snprintf(buf, n, "%ldmin %lds", t / 60, t % 60);
        else if (t < 86400)
                snprintf(buf, n, "%ldh %ldmin", t / 3600, (t % 3600) / 60);
        else
                snprintf(buf, n, "%ldd %ldh", t / 86400, (t % 86400) / 3600);
        return buf;
}

static const char *status_color(const char *s, bool color) {
        if (!color)
                return "";
        return streq(s, "passing") || streq(s, "healthy") ? "\033[32m" :
               streq(s, "failing") || streq(s, "unhealthy") ? "\033[31m" : "\033[33m";
}

static void print_check(const cJSON *e, bool color) {
        const char *s = str(e, "status");

        printf("    %-12s %s%-8s%s %-6s %s %6.1f ms  since %s  passes %.0f, failures %.0f\n", str(e, "name"),
               status_color(s, color), s, color ? "\033[0m" : "", str(e, "type"),
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "critical")) ? "critical    " : "non-critical",
               num(e, "latency_ms"), str(e, "since"), num(e, "consecutive_passes"), num(e, "consecutive_failures"));
        printf("    %-12s last result %s: %s\n", "", str(e, "result"), str(e, "detail"));
}

static void print_checks(const cJSON *h, bool color) {
        const cJSON *e;
        const char *s = str(h, "status");

        printf("  Health:      %s%s%s (/health answers %.0f)\n", status_color(s, color), s, color ? "\033[0m" : "",
               num(h, "http_status"));
        printf("  Checks:%s\n", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "checks")) ? "" : "      (none)");
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(h, "checks"))
                print_check(e, color);
}

static void print_status(const cJSON *st, bool color) {
        const cJSON *agent = cJSON_GetObjectItemCaseSensitive(st, "agent");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(st, "identity");
        const cJSON *cred = cJSON_GetObjectItemCaseSensitive(st, "credentials");
        const cJSON *boot = cJSON_GetObjectItemCaseSensitive(st, "bootstrap");
        const cJSON *subs = cJSON_GetObjectItemCaseSensitive(st, "subsystems");
        const cJSON *vers = cJSON_GetObjectItemCaseSensitive(agent, "versions");
        const cJSON *e, *ready;
        const char *health = str(agent, "health");
        const char *on = "", *off = color ? "\033[0m" : "";
        char buf[64];

        if (color)
                on = streq(health, "healthy") ? "\033[32m" : streq(health, "degraded") ? "\033[33m" : "\033[31m";
        printf("agentd %s: %s%s%s (%s)\n", str(vers, "agentd"), on, health, off, str(agent, "state"));
        printf("  Status:      %s\n", str(agent, "status"));
        if (json_get_string(agent, "last_error"))
                printf("  Last error:  %s\n", str(agent, "last_error"));
        printf("  Uptime:      %s (since %s, pid %.0f)\n", fmt_secs(buf, sizeof(buf), num(agent, "uptime_sec")),
               str(agent, "started_at"), num(agent, "pid"));
        ready = cJSON_GetObjectItemCaseSensitive(boot, "ready_after_ms");
        printf("  Sequence:   ");
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(boot, "steps"))
                printf("%s %s%s  ", str(e, "name"),
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "done")) ? "" :
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "failed")) ? "(failed) " : "(running) ",
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "done"))
                       ? (snprintf(buf, sizeof(buf), "%.0f ms", num(e, "duration_ms")), buf) : "");
        if (cJSON_IsNumber(ready))
                printf("→ ready after %.0f ms", ready->valuedouble);
        printf("\n");
        if (cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(st, "drain"))) {
                const cJSON *drain = cJSON_GetObjectItemCaseSensitive(st, "drain");
                printf("  Drain:       %s: ", str(drain, "trigger"));
                cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(drain, "steps"))
                        printf("%s %s%s  ", str(e, "name"),
                               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "done")) ? "" :
                               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "failed")) ? "(failed) " : "(running) ",
                               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "done"))
                               ? (snprintf(buf, sizeof(buf), "%.0f ms", num(e, "duration_ms")), buf) : "");
                if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(drain, "ready_after_ms")))
                        printf("→ drained after %.0f ms", num(drain, "ready_after_ms"));
                printf("\n");
        }
        if (cJSON_IsObject(id)) {
                const cJSON *tags = cJSON_GetObjectItemCaseSensitive(id, "tags");
                printf("  Instance:    %s (%s, %s, %s, %s)\n", str(id, "instance_id"), str(id, "instance_type"),
                       str(id, "availability_zone"), str(id, "ami_id"), str(id, "local_ipv4"));
                printf("  Account:     %s, region %s, role %s\n", str(id, "account_id"), str(id, "region"),
                       str(id, "iam_role"));
                printf("  Tags:        ");
                if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(id, "tags_in_metadata")))
                        printf("(tags in instance metadata not enabled)");
                cJSON_ArrayForEach(e, tags)
                        printf("%s=%s%s", e->string, cJSON_IsString(e) ? e->valuestring : "", e->next ? ", " : "");
                printf("\n");
        } else
                printf("  Instance:    (not known yet)\n");
        if (cJSON_IsObject(cred))
                printf("  Credentials: %s, key %s%s%s\n", str(cred, "source"), str(cred, "access_key_id"),
                       json_get_string(cred, "expiration") ? ", expires " : "",
                       json_get_string(cred, "expiration") ?: "");
        else
                printf("  Credentials: (none usable)\n");
        print_checks(cJSON_GetObjectItemCaseSensitive(st, "health"), color);
        printf("  Subsystems:\n");
        cJSON_ArrayForEach(e, subs) {
                const char *s = str(e, "state");
                const char *c = !color ? "" : streq(s, "ok") ? "\033[32m" : streq(s, "failed") ? "\033[31m" :
                                streq(s, "disabled") ? "" : "\033[33m";
                printf("    %-12s %s%-9s%s %s\n", str(e, "name"), c, s, off, str(e, "detail"));
                if (json_get_string(e, "last_error") && !streq(str(e, "last_error"), str(e, "detail")))
                        printf("    %-12s last error at %s: %s\n", "", str(e, "last_error_at"), str(e, "last_error"));
        }
        printf("  Config:      ");
        if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(agent, "config_files")) == 0)
                printf("(defaults only)");
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(agent, "config_files"))
                printf("%s%s", cJSON_IsString(e) ? e->valuestring : "?", e->next ? ", " : "");
        printf("\n  Versions:    agentd %s, libcurl %s, cJSON %s\n", str(vers, "agentd"), str(vers, "libcurl"),
               str(vers, "cjson"));
}

static void help(void) {
        printf("agentctl %s: query agentd\n\n"
               "  agentctl [--socket PATH] status [--json]   state of the agent and its subsystems\n"
               "  agentctl [--socket PATH] refresh [SECRET]   fetch secrets now, re-render, reload\n"
               "  agentctl [--socket PATH] rollback NAME      put back the previous file of [render.NAME]\n"
               "  agentctl [--socket PATH] check NAME [--json] run [check.NAME] now, print its result\n"
               "  agentctl [--socket PATH] drain [--undo]     drain as at termination: /health 503, wait for\n"
               "                                              connections, complete the terminate hook; --undo:\n"
               "                                              back in service\n"
               "  agentctl [--socket PATH] flush              deliver every log line written so far, wait\n\n"
               "Exit codes: status: 0 healthy, 1 degraded, 2 failed; refresh, rollback, flush: 0 done,\n"
               "2 failed; check: 0 pass, 1 warning, 2 fail; all: 3 agentd not reachable, 4 usage error.\n"
               "The socket is --socket, else $AGENTD_CONTROL_SOCKET, else %s.\n",
               AGENTD_VERSION, AGENTD_DEFAULT_CONTROL_SOCKET);
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, 'j' },
                { "undo", no_argument, NULL, 'u' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *answer = NULL;
        _cleanup_(cJSON_Deletep) cJSON *resp = NULL;
        const char *sock = getenv("AGENTD_CONTROL_SOCKET"), *why = NULL, *cmd;
        const cJSON *status;
        bool json = false, undo = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "s:jhu", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        sock = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'u':
                        undo = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return EXIT_USAGE;
                }
        if (isempty(sock))
                sock = AGENTD_DEFAULT_CONTROL_SOCKET;
        cmd = optind < argc ? argv[optind] : "status";
        const char *name = optind + 1 < argc ? argv[optind + 1] : NULL;
        if ((!streq(cmd, "status") && !streq(cmd, "refresh") && !streq(cmd, "rollback") && !streq(cmd, "check") &&
             !streq(cmd, "drain") && !streq(cmd, "flush")) ||
            optind + 2 < argc || ((streq(cmd, "status") || streq(cmd, "drain") || streq(cmd, "flush")) && name) ||
            ((streq(cmd, "rollback") || streq(cmd, "check")) && !name)) {
                fprintf(stderr, "agentctl: %s '%s' (try --help)\n",
                        streq(cmd, "rollback") && !name ? "rollback needs the NAME of a [render.NAME]" :
                        streq(cmd, "check") && !name ? "check needs the NAME of a [check.NAME]" :
                        "unknown command or arguments", cmd);
                return EXIT_USAGE;
        }
        if (streq(cmd, "drain") && undo)
                cmd = "resume";

        r = request(sock, cmd, name, &answer, &why);
        if (r < 0) {
                fprintf(stderr, "agentctl: agentd is not reachable at %s: %s%s\n", sock, why,
                        r == -ENOENT || r == -ECONNREFUSED ? " (is agentd running? systemctl status agentd)" :
                        r == -EACCES ? " (run as root)" : "");
                return EXIT_UNREACHABLE;
        }
        resp = cJSON_Parse(answer);
        if (!cJSON_IsObject(resp)) {
                fprintf(stderr, "agentctl: agentd sent an answer that is not JSON\n");
                return EXIT_USAGE;
        }
        if (streq(cmd, "check") && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
                fprintf(stderr, "agentctl: agentd refused the request: %s\n", str(resp, "error"));
                return EXIT_USAGE;
        }
        if (streq(cmd, "check")) {
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(resp, "check");
                const char *res = str(k, "result");
                if (json) {
                        _cleanup_free_ char *out = cJSON_Print(k);
                        printf("%s\n", strna(out));
                } else
                        print_check(k, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));
                /* This run's result, not the rise/fall state. */
                return streq(res, "pass") ? 0 : streq(res, "warn") ? 1 : 2;
        }
        if (streq(cmd, "drain") || streq(cmd, "resume")) {
                bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"));
                if (ok)
                        printf("%s\n", undo ? "back in service: /health answers from the checks"
                                             : "draining: /health answers 503");
                else
                        fprintf(stderr, "agentctl: %s failed: %s\n", cmd, str(resp, "error"));
                return ok ? 0 : 2;
        }
        if (!streq(cmd, "status")) {
                bool ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"));
                if (json) {
                        _cleanup_free_ char *out = cJSON_Print(resp);
                        printf("%s\n", strna(out));
                } else if (ok)
                        printf("%s: %s\n", cmd, str(resp, "result"));
                else
                        fprintf(stderr, "agentctl: %s failed: %s\n", cmd, str(resp, "error"));
                return ok ? 0 : 2;
        }
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(resp, "ok"))) {
                fprintf(stderr, "agentctl: agentd refused the request: %s\n", str(resp, "error"));
                return EXIT_USAGE;
        }
        status = cJSON_GetObjectItemCaseSensitive(resp, "status");
        if (json) {
                _cleanup_free_ char *out = cJSON_Print(status);
                if (!out)
                        return EXIT_USAGE;
                printf("%s\n", out);
        } else
                print_status(status, isatty(STDOUT_FILENO) && !getenv("NO_COLOR"));

        const char *health = str(cJSON_GetObjectItemCaseSensitive(status, "agent"), "health");
        if (streq(health, "healthy"))
                return 0;
        if (streq(health, "degraded")) {
                if (!json)
                        fprintf(stderr, "agentctl: agentd is degraded: see the subsystems above\n");
                return 1;
        }
        if (!json)
                fprintf(stderr, "agentctl: agentd has failed: %s\n",
                        str(cJSON_GetObjectItemCaseSensitive(status, "agent"), "last_error"));
        return 2;
}
