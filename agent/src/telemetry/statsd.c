/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "statsd"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "log.h"
#include "socket-address.h"
#include "statsd.h"

#define BATCH 64                /* datagrams per recvmmsg() */
#define BATCHES_PER_WAKEUP 16   /* then let the loop run other sources */
#define MAX_SETS 256
#define STATSD_RCVBUF (4 * 1024 * 1024)
#define SET_MAX_DISTINCT 1024   /* counted exactly up to here, then saturated */

typedef struct StatsdSet {
        struct StatsdSet *next;
        char *name;
        char **dims;            /* name, value, ... (tags and metric_type) */
        size_t n_dims;
        uint64_t *slots;        /* open addressing of value hashes; 0 = empty */
        size_t n_slots, n_distinct;
} StatsdSet;

struct Statsd {
        sd_event *event;
        MetricAgg *agg;
        int fd;
        sd_event_source *io;
        char *listen;
        StatsdSet *sets;
        size_t n_sets;
        StatsdCounters counters;
        Component component;
        char (*bufs)[STATSD_PACKET_MAX + 1];
};

static int parse_double(const char *s, double *ret) {
        char *end;
        double v;

        if (isempty(s))
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || *end || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

int statsd_parse_line(char *line, StatsdLine *ret, const char **reason) {
        char *colon, *field, *rest, *type;

        *ret = (StatsdLine) { .rate = 1 };
        colon = strchr(line, ':');
        if (!colon) {
                *reason = "no ':' between name and value";
                return -EINVAL;
        }
        *colon = 0;
        ret->name = line;
        if (!metric_name_valid(line) || strpbrk(line, "|@#")) {
                *reason = "invalid metric name (1 to 255 printable characters, none of |@#)";
                return -EINVAL;
        }
        rest = colon + 1;
        field = strsep(&rest, "|");
        type = strsep(&rest, "|");
        if (!type) {
                *reason = "no '|TYPE' after the value";
                return -EINVAL;
        }
        if (streq(type, "c"))
                ret->type = STATSD_COUNTER;
        else if (streq(type, "g"))
                ret->type = STATSD_GAUGE;
        else if (streq(type, "ms") || streq(type, "h"))
                ret->type = STATSD_TIMER;
        else if (streq(type, "s"))
                ret->type = STATSD_SET;
        else {
                *reason = "unknown type (c, g, ms, h or s)";
                return -EINVAL;
        }
        if (ret->type == STATSD_SET) {
                if (isempty(field) || strlen(field) > METRIC_NAME_MAX) {
                        *reason = "empty or too long set value";
                        return -EINVAL;
                }
                ret->set_value = field;
        } else {
                ret->relative = ret->type == STATSD_GAUGE && (field[0] == '+' || field[0] == '-');
                if (parse_double(field, &ret->value) < 0 || fabs(ret->value) > METRIC_VALUE_MAX) {
                        *reason = "value is not a finite number";
                        return -EINVAL;
                }
                if (ret->type == STATSD_TIMER && ret->value < 0) {
                        *reason = "negative timer value";
                        return -EINVAL;
                }
        }
        while ((field = strsep(&rest, "|"))) {
                if (field[0] == '@') {
                        if (parse_double(field + 1, &ret->rate) < 0 || !(ret->rate > 0 && ret->rate <= 1)) {
                                *reason = "sample rate not in (0, 1]";
                                return -EINVAL;
                        }
                } else if (field[0] == '#') {
                        char *tags = field + 1, *tag;
                        while ((tag = strsep(&tags, ","))) {
                                char *v = strchr(tag, ':');
                                if (!v || !v[1])
                                        continue;       /* a bare tag names no dimension value */
                                *v++ = 0;
                                if (!metric_name_valid(tag) || !metric_name_valid(v)) {
                                        *reason = "invalid tag name or value";
                                        return -EINVAL;
                                }
                                if (ret->n_tags >= STATSD_MAX_TAGS) {
                                        *reason = "more than 25 tags";
                                        return -EINVAL;
                                }
                                ret->tags[ret->n_tags++] = (MetricDim) { tag, v };
                        }
                } else if (field[0] == 'c' && field[1] == ':') {
                        continue;               /* DogStatsD container id */
                } else if (field[0] == 'T') {
                        continue;               /* DogStatsD timestamp: we aggregate by arrival */
                } else {
                        *reason = "unknown field after the type";
                        return -EINVAL;
                }
        }
        return 0;
}

static const char *type_dimension(StatsdType t) {
        static const char *const names[] = { "counter", "gauge", "timing", "set" };
        return names[t];
}

static StatsdSet *set_free(StatsdSet *s) {
        if (!s)
                return NULL;
        free(s->name);
        for (size_t i = 0; i < 2 * s->n_dims; i++)
                free(s->dims[i]);
        free(s->dims);
        free(s->slots);
        return mfree(s);
}

static uint64_t hash_str(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (; *s; s++)
                h = (h ^ (unsigned char) *s) * 0x100000001b3ULL;
        return h ? h : 1;
}

static bool set_matches(const StatsdSet *x, const char *name, const MetricDim *dims, size_t n) {
        if (x->n_dims != n || !streq(x->name, name))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(x->dims[2 * i], dims[i].name) || !streq(x->dims[2 * i + 1], dims[i].value))
                        return false;
        return true;
}

static StatsdSet *set_find(Statsd *s, const char *name, const MetricDim *dims, size_t n) {
        for (StatsdSet *x = s->sets; x; x = x->next)
                if (set_matches(x, name, dims, n))
                        return x;
        return NULL;
}

static int set_add(Statsd *s, const char *name, const MetricDim *dims, size_t n, const char *value) {
        StatsdSet *x = set_find(s, name, dims, n);
        uint64_t h = hash_str(value);
        size_t i;

        if (!x) {
                if (s->n_sets >= MAX_SETS || !metric_name_valid(name))
                        return -E2BIG;
                x = calloc(1, sizeof(*x));
                if (!x)
                        return -ENOMEM;
                x->name = strdup(name);
                x->dims = calloc(2 * n + 1, sizeof(char *));
                x->n_dims = n;
                if (!x->name || !x->dims)
                        return set_free(x), -ENOMEM;
                for (i = 0; i < n; i++)
                        if (!(x->dims[2 * i] = strdup(dims[i].name)) || !(x->dims[2 * i + 1] = strdup(dims[i].value)))
                                return set_free(x), -ENOMEM;
                x->next = s->sets;
                s->sets = x;
                s->n_sets++;
        }
        if (x->n_distinct >= SET_MAX_DISTINCT)
                return 0;
        if ((x->n_distinct + 1) * 2 > x->n_slots) {
                size_t nn = MAX(x->n_slots * 2, (size_t) 16);
                uint64_t *ns = calloc(nn, sizeof(uint64_t));
                if (!ns)
                        return -ENOMEM;
                for (size_t k = 0; k < x->n_slots; k++)
                        if (x->slots[k]) {
                                for (i = x->slots[k] & (nn - 1); ns[i]; i = (i + 1) & (nn - 1))
                                        ;
                                ns[i] = x->slots[k];
                        }
                free(x->slots);
                x->slots = ns;
                x->n_slots = nn;
        }
        for (i = h & (x->n_slots - 1); x->slots[i]; i = (i + 1) & (x->n_slots - 1))
                if (x->slots[i] == h)
                        return 0;
        x->slots[i] = h;
        x->n_distinct++;
        return 0;
}

void statsd_flush(Statsd *s) {
        for (StatsdSet **p = &s->sets, *x; (x = *p);) {
                MetricDim dims[METRIC_MAX_DIMS];
                for (size_t i = 0; i < x->n_dims; i++)
                        dims[i] = (MetricDim) { x->dims[2 * i], x->dims[2 * i + 1] };
                if (x->n_distinct == 0) {
                        /* Quiet for a whole interval: forget it. */
                        *p = x->next;
                        set_free(x);
                        s->n_sets--;
                        continue;
                }
                if (metric_agg_add(s->agg, x->name, METRIC_UNIT_COUNT, METRIC_GAUGE, dims, x->n_dims,
                                   (double) x->n_distinct) == -E2BIG)
                        s->counters.dropped++;
                x->n_distinct = 0;
                memset(x->slots, 0, x->n_slots * sizeof(uint64_t));
                p = &x->next;
        }
}

static void bad_line(Statsd *s, const char *reason) {
        s->counters.bad_lines++;
        /* The first few in the log; then only the count and the last reason. */
        if (s->counters.bad_lines <= 10)
                log_notice("dropped a line from a StatsD client: %s%s", reason,
                           s->counters.bad_lines == 10 ? " (not logging further bad lines)" : "");
        component_set(&s->component, COMPONENT_OK, "listening on %s; %llu bad lines dropped, the last: %s", s->listen,
                      (unsigned long long) s->counters.bad_lines, reason);
}

static void process_line(Statsd *s, char *text) {
        MetricDim dims[STATSD_MAX_TAGS + 1];
        const char *reason = NULL;
        StatsdLine l;
        int r;

        if (statsd_parse_line(text, &l, &reason) < 0)
                return bad_line(s, reason);
        memcpy(dims, l.tags, l.n_tags * sizeof(MetricDim));
        dims[l.n_tags] = (MetricDim) { "metric_type", type_dimension(l.type) };
        switch (l.type) {
        case STATSD_COUNTER:
                r = metric_agg_add(s->agg, l.name, METRIC_UNIT_COUNT, METRIC_DELTA, dims, l.n_tags + 1, l.value / l.rate);
                break;
        case STATSD_GAUGE:
                if (l.relative) {
                        double last;
                        if (metric_agg_last(s->agg, l.name, METRIC_UNIT_NONE, dims, l.n_tags + 1, &last) >= 0)
                                l.value += last;
                }
                r = metric_agg_add(s->agg, l.name, METRIC_UNIT_NONE, METRIC_GAUGE, dims, l.n_tags + 1, l.value);
                break;
        case STATSD_TIMER:
                r = metric_agg_add_value(s->agg, l.name, METRIC_UNIT_MILLISECONDS, dims, l.n_tags + 1, l.value,
                                         1.0 / l.rate);
                break;
        default:
                r = set_add(s, l.name, dims, l.n_tags + 1, l.set_value);
        }
        if (r == -E2BIG)
                s->counters.dropped++;
        else if (r < 0)
                bad_line(s, r == -ENOMEM ? "out of memory" : "a series seen before with another type");
        else
                s->counters.lines++;
}

void statsd_process(Statsd *s, char *buf, size_t len) {
        char *rest = buf, *line;

        buf[len] = 0;
        s->counters.packets++;
        if (strlen(buf) != len)
                return bad_line(s, "NUL byte in a packet");
        while ((line = strsep(&rest, "\n"))) {
                size_t l = strlen(line);
                if (l > 0 && line[l - 1] == '\r')
                        line[--l] = 0;
                if (l > 0)
                        process_line(s, line);
        }
}

static int on_readable(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Statsd *s = userdata;
        struct mmsghdr msgs[BATCH];
        struct iovec iov[BATCH];

        for (unsigned b = 0; b < BATCHES_PER_WAKEUP; b++) {
                int n;
                for (unsigned i = 0; i < BATCH; i++) {
                        iov[i] = (struct iovec) { s->bufs[i], STATSD_PACKET_MAX };
                        msgs[i] = (struct mmsghdr) { .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
                }
                n = recvmmsg(s->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
                if (n < 0) {
                        if (errno != EAGAIN && errno != EINTR)
                                log_debug_errno(errno, "recvmmsg: %m");
                        break;
                }
                for (int i = 0; i < n; i++) {
                        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
                                s->counters.packets++;
                                bad_line(s, "datagram larger than 8 KiB");
                                continue;
                        }
                        statsd_process(s, s->bufs[i], msgs[i].msg_len);
                }
                if (n < BATCH)
                        break;
        }
        return 0;
}

int statsd_new(sd_event *e, const char *listen, MetricAgg *agg, Statsd **ret) {
        _cleanup_(statsd_freep) Statsd *s = NULL;
        SocketAddress a;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return log_oom();
        s->event = sd_event_ref(e);
        s->agg = agg;
        s->fd = -EBADF;
        component_init(&s->component, "statsd", false);
        s->listen = strdup(listen);
        s->bufs = malloc(BATCH * sizeof(*s->bufs));
        if (!s->listen || !s->bufs)
                return log_oom();
        r = socket_address_parse_listen(listen, &a);
        if (r < 0 || a.is_unix)
                return log_error_errno(-EINVAL, "[metrics] statsd_listen=%s: not a UDP address", listen);
        s->fd = socket(a.sa.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0 || bind(s->fd, (struct sockaddr *) &a.sa, a.len) < 0) {
                r = -errno;
                component_error(&s->component, COMPONENT_FAILED, "cannot listen on udp %s: %s", listen, strerror(-r));
                log_error_errno(r, "StatsD: cannot listen on udp %s: %m", listen);
                *ret = TAKE_PTR(s);
                return 0;
        }
        /* Bursts wait in the kernel while the loop does other work: give
         * them room (the FORCE variant passes rmem_max when privileged). */
        {
                int size = STATSD_RCVBUF;
                if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
                        (void) setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
        }
        r = sd_event_add_io(e, &s->io, s->fd, EPOLLIN, on_readable, s);
        if (r < 0)
                return log_error_errno(r, "StatsD: cannot watch the socket: %m");
        (void) sd_event_source_set_description(s->io, "statsd");
        component_set(&s->component, COMPONENT_OK, "listening on udp %s", listen);
        *ret = TAKE_PTR(s);
        return 0;
}

Statsd *statsd_free(Statsd *s) {
        if (!s)
                return NULL;
        sd_event_source_disable_unref(s->io);
        if (s->fd >= 0)
                close(s->fd);
        while (s->sets) {
                StatsdSet *x = s->sets;
                s->sets = x->next;
                set_free(x);
        }
        component_done(&s->component);
        free(s->listen);
        free(s->bufs);
        sd_event_unref(s->event);
        return mfree(s);
}

const StatsdCounters *statsd_counters(const Statsd *s) {
        return &s->counters;
}

Component *statsd_component(Statsd *s) {
        return &s->component;
}
