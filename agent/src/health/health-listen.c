/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>

#include "health.h"
#include "parse-util.h"

/* One address: "unix:/path", "1.2.3.4:80", "[::1]:80" or "*:80" (any IPv4).
 * Hosts must be numeric: the sockets are bound at start, and a resolver
 * call there would block the loop. */
static int parse_one(const char *s, HealthAddress *a) {
        char host[64];
        const char *colon;
        unsigned port;
        size_t hl;

        *a = (HealthAddress) {};
        if (strlen(s) >= sizeof(a->text) || parse_listen_address(s) < 0)
                return -EINVAL;
        snprintf(a->text, sizeof(a->text), "%s", s);
        if (strncmp(s, "unix:", 5) == 0) {
                struct sockaddr_un *un = (struct sockaddr_un *) &a->sa;
                un->sun_family = AF_UNIX;
                if (strlen(s + 5) >= sizeof(un->sun_path))
                        return -EINVAL;
                memcpy(un->sun_path, s + 5, strlen(s + 5) + 1);
                a->sa_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + strlen(un->sun_path) + 1);
                a->is_unix = true;
                return 0;
        }
        colon = strrchr(s, ':');
        if (parse_uint(colon + 1, 1, 65535, &port) < 0)
                return -EINVAL;
        hl = (size_t) (colon - s);
        if (s[0] == '[') {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &a->sa;
                if (hl < 2 || hl - 2 >= sizeof(host))
                        return -EINVAL;
                memcpy(host, s + 1, hl - 2);
                host[hl - 2] = 0;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                        return -EINVAL;
                a->sa_len = sizeof(*in6);
                return 0;
        }
        struct sockaddr_in *in = (struct sockaddr_in *) &a->sa;
        if (hl >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, hl);
        host[hl] = 0;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t) port);
        if (streq(host, "*"))
                in->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
                return -EINVAL;
        a->sa_len = sizeof(*in);
        return 0;
}

int health_listen_parse(const char *list, HealthAddress *ret, size_t max, const char **ret_bad) {
        size_t n = 0;

        if (isempty(list))
                return -EINVAL;
        for (const char *p = list; *p;) {
                char item[160];
                size_t l;

                p += strspn(p, " \t,");
                if (!*p)
                        break;
                l = strcspn(p, ",");
                while (l > 0 && (p[l - 1] == ' ' || p[l - 1] == '\t'))
                        l--;
                if (n >= max || l >= sizeof(item) || (memcpy(item, p, l), item[l] = 0, parse_one(item, &ret[n])) < 0) {
                        if (ret_bad)
                                *ret_bad = p;
                        return -EINVAL;
                }
                n++;
                p += l;
        }
        return n > 0 ? (int) n : -EINVAL;
}
