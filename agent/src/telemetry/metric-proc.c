/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>

#include "metric-proc.h"

static const char *next_line(const char *p) {
        p = strchr(p, '\n');
        return p ? p + 1 : NULL;
}

int metric_meminfo_parse(const char *text, MemInfo *ret) {
        static const struct {
                const char *key;
                size_t offset;
        } keys[] = {
                { "MemTotal:", offsetof(MemInfo, total) },
                { "MemFree:", offsetof(MemInfo, free) },
                { "MemAvailable:", offsetof(MemInfo, available) },
                { "Buffers:", offsetof(MemInfo, buffers) },
                { "Cached:", offsetof(MemInfo, cached) },
                { "SReclaimable:", offsetof(MemInfo, sreclaimable) },
                { "SwapTotal:", offsetof(MemInfo, swap_total) },
                { "SwapFree:", offsetof(MemInfo, swap_free) },
        };
        unsigned seen = 0;

        *ret = (MemInfo) {};
        for (const char *p = text; p && *p; p = next_line(p))
                for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                        size_t l = strlen(keys[i].key);
                        uint64_t kib;
                        if (strncmp(p, keys[i].key, l) != 0 || sscanf(p + l, " %" SCNu64 " kB", &kib) != 1)
                                continue;
                        if (kib > UINT64_MAX / 1024)
                                return -EBADMSG;
                        *(uint64_t *) ((char *) ret + keys[i].offset) = kib * 1024;
                        seen |= 1U << i;
                }
        /* MemTotal and MemAvailable (kernel 3.14 and later) are required. */
        if ((seen & 5) != 5 || ret->total == 0)
                return -EBADMSG;
        return 0;
}

void metric_mem_figures(const MemInfo *m, MemFigures *ret) {
        uint64_t unused = m->free + m->buffers + m->cached + m->sreclaimable;

        ret->used = m->total > unused ? m->total - unused : 0;
        ret->available = MIN(m->available, m->total);
        ret->used_percent = 100.0 * (double) ret->used / (double) m->total;
        ret->available_percent = 100.0 * (double) ret->available / (double) m->total;
        ret->swap_used_percent = m->swap_total > 0 && m->swap_free <= m->swap_total
                                         ? 100.0 * (double) (m->swap_total - m->swap_free) / (double) m->swap_total
                                         : 0;
}

int metric_cpu_stat_parse(const char *text, CpuTimes *ret) {
        for (const char *p = text; p && *p; p = next_line(p)) {
                CpuTimes t = {};
                int n;
                if (strncmp(p, "cpu ", 4) != 0)
                        continue;
                n = sscanf(p + 4, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                                  " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                           &t.user, &t.nice, &t.system, &t.idle, &t.iowait, &t.irq, &t.softirq, &t.steal, &t.guest,
                           &t.guest_nice);
                if (n < 4)
                        return -EBADMSG;
                *ret = t;
                return 0;
        }
        return -EBADMSG;
}

static uint64_t cpu_total(const CpuTimes *t) {
        /* guest and guest_nice are already counted in user and nice. */
        return t->user + t->nice + t->system + t->idle + t->iowait + t->irq + t->softirq + t->steal;
}

int metric_cpu_usage(const CpuTimes *a, const CpuTimes *b, CpuUsage *ret) {
        uint64_t ta = cpu_total(a), tb = cpu_total(b);
        double d;

        if (tb <= ta || b->user < a->user || b->nice < a->nice || b->system < a->system || b->idle < a->idle ||
            b->iowait < a->iowait || b->irq < a->irq || b->softirq < a->softirq || b->steal < a->steal ||
            b->guest < a->guest || b->guest_nice < a->guest_nice)
                return -ERANGE;
        d = (double) (tb - ta) / 100.0;
#define PCT(x) ((double) (b->x - a->x) / d)
        ret->user = MAX(0.0, PCT(user) - PCT(guest));
        ret->nice = MAX(0.0, PCT(nice) - PCT(guest_nice));
        ret->system = PCT(system);
        ret->idle = PCT(idle);
        ret->iowait = PCT(iowait);
        ret->irq = PCT(irq);
        ret->softirq = PCT(softirq);
        ret->steal = PCT(steal);
        ret->active = MAX(0.0, 100.0 - ret->idle - ret->iowait);
#undef PCT
        return 0;
}

int metric_diskstats_parse_line(const char *line, DiskStat *ret) {
        uint64_t f[11];
        unsigned major, minor;
        char name[32];
        int n;

        n = sscanf(line, " %u %u %31s %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                         " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                   &major, &minor, name, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
                   &f[10]);
        if (n < 14)
                return -EBADMSG;
        *ret = (DiskStat) {
                .reads = f[0], .read_bytes = f[2] * 512, .writes = f[4], .write_bytes = f[6] * 512,
                .io_time_ms = f[9],
        };
        memcpy(ret->name, name, sizeof(name));
        return 0;
}

void metric_disk_figures(uint64_t frsize, uint64_t blocks, uint64_t bfree, uint64_t bavail, uint64_t files,
                         uint64_t ffree, DiskFigures *ret) {
        bfree = MIN(bfree, blocks);
        bavail = MIN(bavail, bfree);
        *ret = (DiskFigures) {
                .total = blocks * frsize,
                .free = bavail * frsize,
                .used = (blocks - bfree) * frsize,
                .inodes_free = MIN(ffree, files),
                .inodes_total = files,
        };
        ret->used_percent = ret->used + ret->free > 0 ? 100.0 * (double) ret->used / (double) (ret->used + ret->free)
                                                      : 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static bool unescape_field(const char *s, size_t n, char *out, size_t outsz) {
        size_t o = 0;

        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (c == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
                    s[i + 3] >= '0' && s[i + 3] <= '7') {
                        c = (char) (((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
                        i += 3;
                }
                if (o + 1 >= outsz)
                        return false;
                out[o++] = c;
        }
        out[o] = 0;
        return true;
}

/* The n-th space-separated field of a line (0-based): start and length. */
static bool field(const char *line, const char *end, unsigned n, const char **ret, size_t *ret_len) {
        const char *p = line;

        for (unsigned i = 0;; i++) {
                const char *e;
                while (p < end && *p == ' ')
                        p++;
                if (p >= end)
                        return false;
                e = memchr(p, ' ', (size_t) (end - p)) ?: end;
                if (i == n) {
                        *ret = p;
                        *ret_len = (size_t) (e - p);
                        return true;
                }
                p = e;
        }
}

static bool is_prefix_mount(const char *mnt, const char *path) {
        size_t l = strlen(mnt);
        if (streq(mnt, "/"))
                return path[0] == '/';
        return strncmp(mnt, path, l) == 0 && (path[l] == 0 || path[l] == '/');
}

int metric_mountinfo_find(const char *text, const char *path, MountEntry *ret) {
        size_t best = 0;
        bool found = false;

        for (const char *p = text; p && *p; p = next_line(p)) {
                const char *end = strchr(p, '\n') ?: p + strlen(p), *sep, *f;
                MountEntry e = {};
                size_t l, mlen;

                /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS */
                if (!field(p, end, 4, &f, &l) || !unescape_field(f, l, e.path, sizeof(e.path)))
                        continue;
                /* Spaces in paths are escaped: the first " - " is the separator. */
                sep = memmem(p, (size_t) (end - p), " - ", 3);
                if (!sep || !field(sep + 3, end, 0, &f, &l) || !unescape_field(f, l, e.fstype, sizeof(e.fstype)) ||
                    !field(sep + 3, end, 1, &f, &l) || !unescape_field(f, l, e.device, sizeof(e.device)))
                        continue;
                if (!is_prefix_mount(e.path, path))
                        continue;
                mlen = strlen(e.path);
                if (found && mlen < best)
                        continue;
                if (strncmp(e.device, "/dev/", 5) == 0)
                        memmove(e.device, e.device + 5, strlen(e.device + 5) + 1);
                best = mlen;
                *ret = e;
                found = true;
        }
        return found ? 0 : -ENOENT;
}

static bool in_list(const char *s, const char *const *list) {
        for (; *list; list++)
                if (streq(s, *list))
                        return true;
        return false;
}

bool metric_fstype_is_network(const char *fstype) {
        static const char *const net[] = {
                "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "lustre", "9p",
                "fuse.sshfs", "fuse.s3fs", "fuse.glusterfs", "gfs2", "ocfs2", "davfs", "fuse.rclone", NULL,
        };
        return in_list(fstype, net) || strncmp(fstype, "nfs", 3) == 0;
}

bool metric_fstype_is_pseudo(const char *fstype) {
        static const char *const pseudo[] = {
                "proc", "sysfs", "cgroup", "cgroup2", "devpts", "devtmpfs", "securityfs", "debugfs", "tracefs",
                "pstore", "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc", "rpc_pipefs",
                "nsfs", "efivarfs", "selinuxfs", "squashfs", "overlay_ro", NULL,
        };
        return in_list(fstype, pseudo);
}
