/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "metrics-settings.h"
#include "parse-util.h"
#include "socket-address.h"

static const char *const dimension_names[METRICS_N_DIMENSIONS] = {
        "InstanceId", "AutoScalingGroupName", "ImageId", "InstanceType",
};

const char *metrics_dimension_name(unsigned index) {
        return index < METRICS_N_DIMENSIONS ? dimension_names[index] : NULL;
}

/* Splits "a, b,c" on commas into trimmed words; calls fn for each. */
static int foreach_word(const char *v, int (*fn)(const char *w, void *ud), void *ud) {
        _cleanup_free_ char *copy = strdup(v);
        char *rest = copy, *w;
        int r;

        if (!copy)
                return -ENOMEM;
        while ((w = strsep(&rest, ","))) {
                char *e;
                while (isspace((unsigned char) *w))
                        w++;
                e = w + strlen(w);
                while (e > w && isspace((unsigned char) e[-1]))
                        *--e = 0;
                if (!*w)
                        return -EINVAL;
                r = fn(w, ud);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_dimension(const char *w, void *ud) {
        for (unsigned i = 0; i < METRICS_N_DIMENSIONS; i++)
                if (streq(w, dimension_names[i])) {
                        *(unsigned *) ud |= 1U << i;
                        return 0;
                }
        return -EINVAL;
}

int metrics_conf_parse_dimensions(const char *v, void *field, const char **reason) {
        unsigned bits = 0;

        if (!streq(v, "none") && (isempty(v) || foreach_word(v, add_dimension, &bits) < 0)) {
                *reason = "not \"none\" or a list of InstanceId, AutoScalingGroupName, ImageId, InstanceType";
                return -EINVAL;
        }
        *(unsigned *) field = bits;
        return 0;
}

typedef struct ListAdd {
        MetricsList *list;
        size_t max;
        bool paths;
} ListAdd;

static int add_word(const char *w, void *ud) {
        ListAdd *a = ud;

        if (a->list->n >= a->max)
                return -E2BIG;
        if (a->paths ? (w[0] != '/' || strlen(w) > 4095) : (strlen(w) >= 16 || strpbrk(w, "/ :")))
                return -EINVAL;
        for (size_t i = 0; i < a->list->n; i++)
                if (streq(a->list->items[i], w))
                        return 0;
        a->list->items[a->list->n] = strdup(w);
        if (!a->list->items[a->list->n])
                return -ENOMEM;
        a->list->n++;
        return 0;
}

static void list_clear(MetricsList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->items[i]);
        l->n = 0;
}

static int parse_list(const char *v, MetricsList *l, size_t max, bool paths) {
        MetricsList n = {};
        ListAdd a = { &n, max, paths };
        int r = isempty(v) ? 0 : foreach_word(v, add_word, &a);

        if (r < 0) {
                list_clear(&n);
                return r;
        }
        list_clear(l);
        *l = n;
        return 0;
}

int metrics_conf_parse_mounts(const char *v, void *field, const char **reason) {
        int r = parse_list(v, field, METRICS_MAX_MOUNTS, true);
        if (r < 0)
                *reason = r == -E2BIG ? "more than 16 mount points" : "not a list of absolute paths";
        return r;
}

int metrics_conf_parse_interfaces(const char *v, void *field, const char **reason) {
        int r = parse_list(v, field, METRICS_MAX_INTERFACES, false);
        if (r < 0)
                *reason = r == -E2BIG ? "more than 32 interfaces" : "not a list of interface names";
        return r;
}

/* Applications send StatsD over loopback only: a listener on another
 * address would take metrics (and their memory) from the network. */
int metrics_conf_parse_statsd(const char *v, void *field, const char **reason) {
        SocketAddress a;
        bool loopback = false;

        if (streq(v, "no") || streq(v, "off") || isempty(v))
                return free_and_strdup(field, NULL);
        if (socket_address_parse_listen(v, &a) >= 0 && !a.is_unix) {
                if (a.sa.ss_family == AF_INET)
                        loopback = (ntohl(((struct sockaddr_in *) &a.sa)->sin_addr.s_addr) >> 24) == 127;
                else if (a.sa.ss_family == AF_INET6)
                        loopback = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *) &a.sa)->sin6_addr);
        }
        if (!loopback) {
                *reason = "not a loopback address HOST:PORT (127.0.0.0/8 or [::1]), or \"off\"";
                return -EINVAL;
        }
        return free_and_strdup(field, v);
}

/* CloudWatch: 1 to 255 printable ASCII characters, not "AWS/...". */
int metrics_conf_parse_namespace(const char *v, void *field, const char **reason) {
        size_t l = strlen(v);
        bool ok = l >= 1 && l <= 255 && strncmp(v, "AWS/", 4) != 0 && v[0] != ':';

        for (const char *p = v; ok && *p; p++)
                ok = *p > ' ' && *p < 127;
        if (!ok) {
                *reason = "not a CloudWatch namespace (1 to 255 printable ASCII characters, no spaces, not AWS/...)";
                return -EINVAL;
        }
        return free_and_strdup(field, v);
}

static int parse_interval(const char *v, void *field, const char **reason) {
        usec_t u;
        if (parse_duration(v, &u) < 0 || u < USEC_PER_SEC || u > USEC_PER_HOUR) {
                *reason = "not a duration from 1s to 1h";
                return -EINVAL;
        }
        *(usec_t *) field = u;
        return 0;
}

static int parse_buffer(const char *v, void *field, const char **reason) {
        usec_t u;
        if (parse_duration(v, &u) < 0 || u > USEC_PER_DAY) {
                *reason = "not a duration up to 1d";
                return -EINVAL;
        }
        *(usec_t *) field = u;
        return 0;
}

static int parse_max_metrics(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 1, 10000, field);
        if (r < 0)
                *reason = "not a number from 1 to 10000";
        return r;
}

static int parse_web_port(const char *v, void *field, const char **reason) {
        int r = parse_uint(v, 0, 65535, field);
        if (r < 0)
                *reason = "not a port from 0 (every port) to 65535";
        return r;
}

#define METRICS_ITEM(k, p, f) { k, p, offsetof(MetricsSettings, f) }
static const ConfItem metrics_items[] = {
        METRICS_ITEM("enabled", conf_parse_bool, enabled),
        METRICS_ITEM("interval", parse_interval, interval),
        METRICS_ITEM("publish_interval", parse_interval, publish_interval),
        METRICS_ITEM("namespace", metrics_conf_parse_namespace, namespace),
        METRICS_ITEM("append_dimensions", metrics_conf_parse_dimensions, append_dimensions),
        METRICS_ITEM("aggregation_dimensions", metrics_conf_parse_dimensions, aggregation_dimensions),
        METRICS_ITEM("mounts", metrics_conf_parse_mounts, mounts),
        METRICS_ITEM("interfaces", metrics_conf_parse_interfaces, interfaces),
        METRICS_ITEM("statsd_listen", metrics_conf_parse_statsd, statsd_listen),
        METRICS_ITEM("statsd_max_metrics", parse_max_metrics, statsd_max_metrics),
        METRICS_ITEM("buffer", parse_buffer, buffer),
        METRICS_ITEM("web_port", parse_web_port, web_port),
        METRICS_ITEM("nginx_status", conf_parse_url, nginx_status),
        METRICS_ITEM("fpm_status", conf_parse_url, fpm_status),
        {}
};

const ConfSection metrics_conf_section = {
        .name = "metrics",
        .items = metrics_items,
};

int metrics_settings_init(MetricsSettings *s) {
        *s = (MetricsSettings) {
                .enabled = true,
                .interval = 10 * USEC_PER_SEC,
                .publish_interval = 60 * USEC_PER_SEC,
                .namespace = strdup(METRICS_DEFAULT_NAMESPACE),
                .append_dimensions = _METRICS_DIM_ALL,
                .aggregation_dimensions = METRICS_DIM_ASG,
                .statsd_listen = strdup(METRICS_DEFAULT_STATSD),
                .statsd_max_metrics = 1000,
                .buffer = 60 * USEC_PER_MINUTE,
                .web_port = 80,
        };
        s->mounts.items[0] = strdup("/");
        s->mounts.n = 1;
        return s->namespace && s->statsd_listen && s->mounts.items[0] ? 0 : -ENOMEM;
}

void metrics_settings_done(MetricsSettings *s) {
        free(s->namespace);
        free(s->statsd_listen);
        free(s->nginx_status);
        free(s->fpm_status);
        list_clear(&s->mounts);
        list_clear(&s->interfaces);
}

int metrics_settings_verify(const MetricsSettings *s, char **ret_error) {
        if (s->publish_interval < s->interval)
                return conf_error(ret_error, "[metrics]: publish_interval= is shorter than interval=");
        if (s->buffer > 0 && s->buffer < s->publish_interval)
                return conf_error(ret_error, "[metrics]: buffer= is shorter than publish_interval= (0 keeps nothing)");
        if (s->namespace == NULL)
                return conf_error(ret_error, "[metrics]: namespace= must not be empty");
        return 0;
}
