/* SPDX-License-Identifier: MIT */
/*
 * The value syntaxes of the config: durations, sizes, booleans, numbers,
 * thresholds, listen address lists and connect targets, and the config
 * engine's shared value parsers. Invariant: a duration that parses prints
 * (format_duration, for people: rounded down) as at most the same value.
 */
#include <errno.h>

#include "conf-parser.h"
#include "fuzz.h"
#include "health-settings.h"
#include "parse-util.h"
#include "socket-address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        SocketAddress addrs[HEALTH_MAX_LISTEN];
        const char *bad = NULL, *reason = NULL;
        char *s, *host = NULL, buf[128], *str = NULL;
        unsigned port, u;
        uint64_t sz;
        usec_t d, d2;
        Threshold th;
        bool b;
        int k;

        if (size > 4096)
                return 0;
        s = fuzz_string(data, size);

        if (parse_duration(s, &d) >= 0) {
                (void) format_duration(buf, sizeof(buf), d);
                if (parse_duration(buf, &d2) >= 0)
                        FUZZ_ASSERT(d2 <= d);
        }
        (void) parse_size(s, &sz);
        (void) parse_bool(s, &b);
        (void) parse_uint(s, 0, 1000, &u);
        (void) threshold_parse(s, &th);
        k = socket_address_parse_listen_list(s, addrs, HEALTH_MAX_LISTEN, &bad);
        if (k >= 0) {
                FUZZ_ASSERT((size_t) k <= HEALTH_MAX_LISTEN);
                for (int i = 0; i < k; i++)
                        FUZZ_ASSERT(addrs[i].len <= sizeof(addrs[i].sa) && strnlen(addrs[i].text, 128) < 128);
        } else
                FUZZ_ASSERT(!bad || (bad >= s && bad <= s + size));
        if (host_port_split(s, &host, &port) >= 0) {
                FUZZ_ASSERT(host && port <= 65535);
                free(host);
        }
        (void) conf_parse_duration(s, &d, &reason);
        (void) conf_parse_size(s, &sz, &reason);
        (void) conf_parse_port(s, &u, &reason);
        (void) conf_parse_url(s, &str, &reason);
        free(str);
        str = NULL;
        (void) conf_parse_socket_path(s, &str, &reason);
        free(str);
        str = NULL;
        (void) conf_parse_unit(s, &str, &reason);
        free(str);
        free(s);
        return 0;
}
