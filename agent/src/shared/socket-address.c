/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/un.h>

#include "parse-util.h"
#include "socket-address.h"

/* Splits at the port's colon: "[v6]:p" or "host:p" (the last colon). */
static int split(const char *s, const char **ret_host, size_t *ret_host_len, unsigned *ret_port) {
        const char *colon;

        if (isempty(s))
                return -EINVAL;
        if (s[0] == '[') {
                const char *close = strstr(s, "]:");
                if (!close || close == s + 1)
                        return -EINVAL;
                *ret_host = s + 1;
                *ret_host_len = (size_t) (close - s - 1);
                colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon || colon == s)
                        return -EINVAL;
                /* An unbracketed v6 address has more colons: refuse it. */
                if (memchr(s, ':', (size_t) (colon - s)))
                        return -EINVAL;
                *ret_host = s;
                *ret_host_len = (size_t) (colon - s);
        }
        return parse_uint(colon + 1, 1, 65535, ret_port) < 0 ? -EINVAL : 0;
}

int host_port_split(const char *s, char **ret_host, unsigned *ret_port) {
        const char *h;
        size_t hl;
        unsigned port;

        if (isempty(s) || strncmp(s, "unix:", 5) == 0 || split(s, &h, &hl, &port) < 0 || hl > 253 ||
            memchr(h, '/', hl) || memchr(h, ' ', hl))
                return -EINVAL;
        *ret_host = strndup(h, hl);
        if (!*ret_host)
                return -ENOMEM;
        *ret_port = port;
        return 0;
}

int socket_address_parse_listen(const char *s, SocketAddress *a) {
        char host[INET6_ADDRSTRLEN];
        const char *h;
        size_t hl;
        unsigned port;

        *a = (SocketAddress) {};
        if (isempty(s) || strlen(s) >= sizeof(a->text))
                return -EINVAL;
        snprintf(a->text, sizeof(a->text), "%s", s);
        if (strncmp(s, "unix:", 5) == 0) {
                struct sockaddr_un *un = (struct sockaddr_un *) &a->sa;
                size_t l = strlen(s + 5);
                if (s[5] != '/' || l >= sizeof(un->sun_path))
                        return -EINVAL;
                un->sun_family = AF_UNIX;
                memcpy(un->sun_path, s + 5, l + 1);
                a->len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + l + 1);
                a->is_unix = true;
                return 0;
        }
        if (split(s, &h, &hl, &port) < 0 || hl >= sizeof(host))
                return -EINVAL;
        memcpy(host, h, hl);
        host[hl] = 0;
        if (s[0] == '[') {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &a->sa;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
                        return -EINVAL;
                a->len = sizeof(*in6);
                return 0;
        }
        struct sockaddr_in *in = (struct sockaddr_in *) &a->sa;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t) port);
        if (streq(host, "*"))
                in->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
                return -EINVAL;
        a->len = sizeof(*in);
        return 0;
}

int socket_address_parse_listen_list(const char *list, SocketAddress *ret, size_t max, const char **ret_bad) {
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
                if (n >= max || l >= sizeof(item) ||
                    (memcpy(item, p, l), item[l] = 0, socket_address_parse_listen(item, &ret[n])) < 0) {
                        if (ret_bad)
                                *ret_bad = p;
                        return -EINVAL;
                }
                n++;
                p += l;
        }
        return n > 0 ? (int) n : -EINVAL;
}
