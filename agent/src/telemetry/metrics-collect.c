/* SPDX-License-Identifier: MIT */
#define LOG_SUBSYS "metrics"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "log.h"
#include "metric-proc.h"
#include "metrics-collect.h"
#include "netlink-link.h"
#include "netlink-sockdiag.h"

#define PROC_MAX (1024 * 1024)
#define COLLECT_MAX_LINKS 64

typedef struct LinkPrev {
        unsigned ifindex;
        LinkStats st;
} LinkPrev;

struct HostCollector {
        char *buf;
        size_t buf_size;
        NetlinkLink *link;
        NetlinkSockdiag *diag;
        CpuTimes cpu_prev;
        bool have_cpu;
        LinkPrev links[COLLECT_MAX_LINKS];
        size_t n_links;
        DiskStat disk_prev[METRICS_MAX_MOUNTS];
        size_t n_disk_prev;
        unsigned skipped_warned;        /* bit per mounts= entry: said once why it is skipped */
        unsigned cycles;
};

int host_collector_new(HostCollector **ret) {
        _cleanup_(host_collector_freep) HostCollector *c = calloc(1, sizeof(HostCollector));
        int r;

        if (!c)
                return -ENOMEM;
        c->buf_size = 64 * 1024;
        c->buf = malloc(c->buf_size);
        if (!c->buf)
                return -ENOMEM;
        r = netlink_link_new(&c->link);
        if (r < 0)
                return log_error_errno(r, "cannot open an rtnetlink socket: %m");
        r = netlink_sockdiag_new(&c->diag);
        if (r < 0)
                return log_error_errno(r, "cannot open a sock_diag socket: %m");
        *ret = TAKE_PTR(c);
        return 0;
}

HostCollector *host_collector_free(HostCollector *c) {
        if (!c)
                return NULL;
        netlink_link_free(c->link);
        netlink_sockdiag_free(c->diag);
        free(c->buf);
        return mfree(c);
}

/* /proc files say size 0: read to EOF into the reusable buffer, bounded. */
static int proc_read(HostCollector *c, const char *path) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
        size_t len = 0;

        if (fd < 0)
                return -errno;
        for (;;) {
                ssize_t n;
                if (len + 1 >= c->buf_size) {
                        char *b;
                        if (c->buf_size >= PROC_MAX)
                                return -EFBIG;
                        b = realloc(c->buf, c->buf_size * 2);
                        if (!b)
                                return -ENOMEM;
                        c->buf = b;
                        c->buf_size *= 2;
                }
                n = read(fd, c->buf + len, c->buf_size - len - 1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                len += (size_t) n;
        }
        c->buf[len] = 0;
        return 0;
}

typedef struct Cycle {
        MetricAgg *agg;
        char *err;
        size_t errsz;
        int r;
} Cycle;

static void fail(Cycle *y, int r, const char *fmt, ...) _printf_(3, 4);
static void fail(Cycle *y, int r, const char *fmt, ...) {
        va_list ap;

        if (y->r < 0)
                return;
        y->r = r;
        va_start(ap, fmt);
        vsnprintf(y->err, y->errsz, fmt, ap);
        va_end(ap);
}

static void add(Cycle *y, const char *name, MetricUnit unit, MetricKind kind, const MetricDim *dims, size_t n,
                double v) {
        int r = metric_agg_add(y->agg, name, unit, kind, dims, n, v);
        if (r < 0)
                fail(y, r, "%s: %s", name, r == -E2BIG ? "too many series" : strerror(-r));
}

static void collect_memory(HostCollector *c, Cycle *y) {
        MemFigures f;
        MemInfo m;
        int r = proc_read(c, "/proc/meminfo");

        if (r >= 0)
                r = metric_meminfo_parse(c->buf, &m);
        if (r < 0)
                return fail(y, r, "/proc/meminfo: %s", r == -EBADMSG ? "no MemTotal or MemAvailable" : strerror(-r));
        metric_mem_figures(&m, &f);
        add(y, "mem_used_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, NULL, 0, f.used_percent);
        add(y, "mem_available_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, NULL, 0, f.available_percent);
        add(y, "mem_used", METRIC_UNIT_BYTES, METRIC_GAUGE, NULL, 0, (double) f.used);
        add(y, "mem_available", METRIC_UNIT_BYTES, METRIC_GAUGE, NULL, 0, (double) f.available);
        add(y, "swap_used_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, NULL, 0, f.swap_used_percent);
}

static void collect_cpu(HostCollector *c, Cycle *y) {
        static const MetricDim total = { "cpu", "cpu-total" };
        CpuTimes t;
        CpuUsage u;
        int r = proc_read(c, "/proc/stat");

        if (r >= 0)
                r = metric_cpu_stat_parse(c->buf, &t);
        if (r < 0)
                return fail(y, r, "/proc/stat: %s", r == -EBADMSG ? "no cpu line" : strerror(-r));
        if (c->have_cpu && metric_cpu_usage(&c->cpu_prev, &t, &u) >= 0) {
                const struct {
                        const char *name;
                        double v;
                } f[] = {
                        { "cpu_usage_user", u.user }, { "cpu_usage_system", u.system }, { "cpu_usage_idle", u.idle },
                        { "cpu_usage_iowait", u.iowait }, { "cpu_usage_steal", u.steal }, { "cpu_usage_nice", u.nice },
                        { "cpu_usage_irq", u.irq }, { "cpu_usage_softirq", u.softirq },
                        { "cpu_usage_active", u.active },
                };
                for (size_t i = 0; i < ELEMENTSOF(f); i++)
                        add(y, f[i].name, METRIC_UNIT_PERCENT, METRIC_GAUGE, &total, 1, f[i].v);
        }
        c->cpu_prev = t;
        c->have_cpu = true;
}

static DiskStat *disk_prev(HostCollector *c, const char *name) {
        for (size_t i = 0; i < c->n_disk_prev; i++)
                if (streq(c->disk_prev[i].name, name))
                        return &c->disk_prev[i];
        return NULL;
}

static void collect_diskio(HostCollector *c, Cycle *y, const MountEntry *mounts, size_t n) {
        DiskStat now[METRICS_MAX_MOUNTS];
        size_t k = 0;

        if (n == 0 || proc_read(c, "/proc/diskstats") < 0)
                return;
        for (const char *p = c->buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                DiskStat d;
                if (metric_diskstats_parse_line(p, &d) < 0)
                        continue;
                for (size_t i = 0; i < n && k < ELEMENTSOF(now); i++)
                        if (streq(mounts[i].device, d.name)) {
                                now[k++] = d;
                                break;
                        }
        }
        for (size_t i = 0; i < k; i++) {
                const DiskStat *o = disk_prev(c, now[i].name), *d = &now[i];
                MetricDim dim = { "name", d->name };
                if (!o || d->reads < o->reads || d->writes < o->writes || d->read_bytes < o->read_bytes ||
                    d->write_bytes < o->write_bytes || d->io_time_ms < o->io_time_ms)
                        continue;
                add(y, "diskio_reads", METRIC_UNIT_COUNT, METRIC_DELTA, &dim, 1, (double) (d->reads - o->reads));
                add(y, "diskio_writes", METRIC_UNIT_COUNT, METRIC_DELTA, &dim, 1, (double) (d->writes - o->writes));
                add(y, "diskio_read_bytes", METRIC_UNIT_BYTES, METRIC_DELTA, &dim, 1,
                    (double) (d->read_bytes - o->read_bytes));
                add(y, "diskio_write_bytes", METRIC_UNIT_BYTES, METRIC_DELTA, &dim, 1,
                    (double) (d->write_bytes - o->write_bytes));
                add(y, "diskio_io_time", METRIC_UNIT_MILLISECONDS, METRIC_DELTA, &dim, 1,
                    (double) (d->io_time_ms - o->io_time_ms));
        }
        memcpy(c->disk_prev, now, k * sizeof(DiskStat));
        c->n_disk_prev = k;
}

static void collect_disks(HostCollector *c, const MetricsSettings *s, Cycle *y) {
        MountEntry found[METRICS_MAX_MOUNTS];
        size_t n_found = 0;
        int r = proc_read(c, "/proc/self/mountinfo");

        if (r < 0)
                return fail(y, r, "/proc/self/mountinfo: %s", strerror(-r));
        for (size_t i = 0; i < s->mounts.n && i < METRICS_MAX_MOUNTS; i++) {
                const char *path = s->mounts.items[i];
                struct statvfs st;
                DiskFigures f;
                MountEntry e;
                bool skip;

                if (metric_mountinfo_find(c->buf, path, &e) < 0) {
                        fail(y, -ENOENT, "%s: not in /proc/self/mountinfo", path);
                        continue;
                }
                skip = metric_fstype_is_network(e.fstype) || metric_fstype_is_pseudo(e.fstype);
                if (skip) {
                        if (!(c->skipped_warned & (1U << i)))
                                log_notice("mounts=%s: %s file system %s skipped (statvfs could block, or nothing to "
                                           "measure)", path, metric_fstype_is_network(e.fstype) ? "network" : "pseudo",
                                           e.fstype);
                        c->skipped_warned |= 1U << i;
                        continue;
                }
                if (statvfs(path, &st) < 0) {
                        fail(y, -errno, "statvfs %s: %m", path);
                        continue;
                }
                metric_disk_figures(st.f_frsize, st.f_blocks, st.f_bfree, st.f_bavail, st.f_files, st.f_ffree, &f);
                MetricDim dims[] = { { "path", path }, { "device", e.device }, { "fstype", e.fstype } };
                add(y, "disk_used_percent", METRIC_UNIT_PERCENT, METRIC_GAUGE, dims, 3, f.used_percent);
                add(y, "disk_free", METRIC_UNIT_BYTES, METRIC_GAUGE, dims, 3, (double) f.free);
                add(y, "disk_inodes_free", METRIC_UNIT_COUNT, METRIC_GAUGE, dims, 3, (double) f.inodes_free);
                found[n_found++] = e;
        }
        collect_diskio(c, y, found, n_found);
}

typedef struct LinkCtx {
        HostCollector *c;
        const MetricsSettings *s;
        Cycle *y;
        LinkPrev next[COLLECT_MAX_LINKS];
        size_t n;
} LinkCtx;

static bool link_wanted(const MetricsSettings *s, const LinkStats *l) {
        if (s->interfaces.n == 0)
                return !l->loopback;
        for (size_t i = 0; i < s->interfaces.n; i++)
                if (streq(s->interfaces.items[i], l->name))
                        return true;
        return false;
}

static int on_link(const LinkStats *l, void *userdata) {
        LinkCtx *x = userdata;
        const LinkStats *o = NULL;
        MetricDim dim = { "interface", l->name };

        if (!link_wanted(x->s, l) || x->n >= COLLECT_MAX_LINKS)
                return 0;
        x->next[x->n++] = (LinkPrev) { l->ifindex, *l };
        for (size_t i = 0; i < x->c->n_links; i++)
                if (x->c->links[i].ifindex == l->ifindex && streq(x->c->links[i].st.name, l->name))
                        o = &x->c->links[i].st;
        if (!o)
                return 0;
#define DELTA(metric, unit, field)                                                                    \
        if (l->field >= o->field)                                                                     \
                add(x->y, metric, unit, METRIC_DELTA, &dim, 1, (double) (l->field - o->field));
        DELTA("net_bytes_sent", METRIC_UNIT_BYTES, tx_bytes);
        DELTA("net_bytes_recv", METRIC_UNIT_BYTES, rx_bytes);
        DELTA("net_packets_sent", METRIC_UNIT_COUNT, tx_packets);
        DELTA("net_packets_recv", METRIC_UNIT_COUNT, rx_packets);
        DELTA("net_err_in", METRIC_UNIT_COUNT, rx_errors);
        DELTA("net_err_out", METRIC_UNIT_COUNT, tx_errors);
        DELTA("net_drop_in", METRIC_UNIT_COUNT, rx_dropped);
        DELTA("net_drop_out", METRIC_UNIT_COUNT, tx_dropped);
#undef DELTA
        return 0;
}

static void collect_links(HostCollector *c, const MetricsSettings *s, Cycle *y) {
        LinkCtx x = { .c = c, .s = s, .y = y };
        int r = netlink_link_dump(c->link, on_link, &x);

        if (r < 0)
                return fail(y, r, "rtnetlink link dump: %s", strerror(-r));
        memcpy(c->links, x.next, x.n * sizeof(LinkPrev));
        c->n_links = x.n;
}

static void collect_tcp(HostCollector *c, const MetricsSettings *s, Cycle *y) {
        TcpStates st;
        char name[64];
        int r = netlink_sockdiag_tcp_states(c->diag, s->web_port, &st);

        if (r < 0)
                return fail(y, r, "sock_diag TCP dump: %s", strerror(-r));
        for (unsigned i = 0; i < TCP_STATE_MAX; i++)
                if (tcp_state_name(i)) {
                        snprintf(name, sizeof(name), "netstat_tcp_%s", tcp_state_name(i));
                        add(y, name, METRIC_UNIT_COUNT, METRIC_GAUGE, NULL, 0, st.count[i]);
                }
}

int host_collector_run(HostCollector *c, const MetricsSettings *s, MetricAgg *agg, char *err, size_t errsz) {
        Cycle y = { .agg = agg, .err = err, .errsz = errsz };

        if (errsz > 0)
                err[0] = 0;
        collect_memory(c, &y);
        collect_cpu(c, &y);
        collect_disks(c, s, &y);
        collect_links(c, s, &y);
        /* The kernel walks its whole TCP hash for a dump (sized from RAM:
         * 262,144 buckets on 24 GiB), most of a cycle's CPU. The states are
         * gauges published once per window: one sample a window will do. */
        if (c->cycles++ % MAX(s->publish_interval / MAX(s->interval, 1), 1) == 0)
                collect_tcp(c, s, &y);
        return y.r;
}
