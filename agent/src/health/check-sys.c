/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "check.h"
#include "parse-util.h"

/*
 * type=disk (statvfs: free space for unprivileged users, and free inodes)
 * and type=memory (MemAvailable from /proc/meminfo). Both are one system
 * call and complete at once. statvfs() on a hung network file system could
 * block: point disk checks at local mounts.
 */

static void format_size(char *buf, size_t n, uint64_t bytes) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
        double v = (double) bytes;
        size_t u = 0;

        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        snprintf(buf, n, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
}

/* Free below the threshold? Percent thresholds compare free/total. */
static bool below(uint64_t free_, uint64_t total, const Threshold *t) {
        if (!t->set)
                return false;
        if (t->percent)
                return total == 0 ? t->value > 0 : (double) free_ * 100.0 < (double) t->value * (double) total;
        return free_ < t->value;
}

static void format_threshold(char *buf, size_t n, const Threshold *t, bool bytes) {
        if (t->percent)
                snprintf(buf, n, "%" PRIu64 "%%", t->value);
        else if (bytes)
                format_size(buf, n, t->value);
        else
                snprintf(buf, n, "%" PRIu64, t->value);
}

CheckResult check_disk_evaluate(uint64_t block_size, uint64_t blocks, uint64_t blocks_avail, uint64_t files,
                                uint64_t files_avail, const Threshold *min_free, const Threshold *min_free_inodes,
                                char *detail, size_t n) {
        uint64_t total = blocks * block_size, avail = blocks_avail * block_size;
        char a[32], t[32], min[32];
        double pct = total ? (double) avail * 100.0 / (double) total : 0;
        double ipct = files ? (double) files_avail * 100.0 / (double) files : 100;

        format_size(a, sizeof(a), avail);
        format_size(t, sizeof(t), total);
        if (below(avail, total, min_free)) {
                format_threshold(min, sizeof(min), min_free, true);
                snprintf(detail, n, "%s free of %s (%.1f%%), below min_free=%s", a, t, pct, min);
                return CHECK_RESULT_FAIL;
        }
        /* File systems without inode accounting (files == 0) pass. */
        if (files > 0 && below(files_avail, files, min_free_inodes)) {
                format_threshold(min, sizeof(min), min_free_inodes, false);
                snprintf(detail, n, "%" PRIu64 " inodes free of %" PRIu64 " (%.1f%%), below min_free_inodes=%s",
                         files_avail, files, ipct, min);
                return CHECK_RESULT_FAIL;
        }
        snprintf(detail, n, "%s free of %s (%.1f%%), %.1f%% inodes free", a, t, pct, ipct);
        return CHECK_RESULT_PASS;
}

static int disk_start(Check *c) {
        char detail[CHECK_DETAIL_MAX];
        struct statvfs st;
        CheckResult r;

        if (statvfs(c->settings->path, &st) < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "statvfs %s: %m", c->settings->path);
                return -errno;
        }
        r = check_disk_evaluate(st.f_frsize, st.f_blocks, st.f_bavail, st.f_files, st.f_favail,
                                &c->settings->min_free, &c->settings->min_free_inodes, detail, sizeof(detail));
        check_complete(c, r, "%s: %s", c->settings->path, detail);
        return 0;
}

int check_meminfo_parse(const char *text, uint64_t *ret_total, uint64_t *ret_available) {
        bool total = false, avail = false;

        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                uint64_t kib;
                if (sscanf(p, "MemTotal: %" SCNu64 " kB", &kib) == 1) {
                        *ret_total = kib * 1024;
                        total = true;
                } else if (sscanf(p, "MemAvailable: %" SCNu64 " kB", &kib) == 1) {
                        *ret_available = kib * 1024;
                        avail = true;
                }
        }
        return total && avail ? 0 : -EBADMSG;
}

CheckResult check_memory_evaluate(uint64_t total, uint64_t available, const Threshold *min, char *detail, size_t n) {
        char a[32], t[32], m[32];

        format_size(a, sizeof(a), available);
        format_size(t, sizeof(t), total);
        if (below(available, total, min)) {
                format_threshold(m, sizeof(m), min, true);
                snprintf(detail, n, "%s available of %s, below min_available=%s", a, t, m);
                return CHECK_RESULT_FAIL;
        }
        snprintf(detail, n, "%s available of %s (%.1f%%)", a, t,
                 total ? (double) available * 100.0 / (double) total : 0);
        return CHECK_RESULT_PASS;
}

static int memory_start(Check *c) {
        char buf[8192], detail[CHECK_DETAIL_MAX];
        uint64_t total = 0, avail = 0;
        _cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
        size_t n;

        if (!f) {
                check_complete(c, CHECK_RESULT_FAIL, "cannot open /proc/meminfo: %m");
                return -errno;
        }
        n = fread(buf, 1, sizeof(buf) - 1, f);
        buf[n] = 0;
        if (check_meminfo_parse(buf, &total, &avail) < 0) {
                check_complete(c, CHECK_RESULT_FAIL, "/proc/meminfo has no MemTotal or MemAvailable");
                return -EBADMSG;
        }
        check_complete(c, check_memory_evaluate(total, avail, &c->settings->min_available, detail, sizeof(detail)),
                       "%s", detail);
        return 0;
}

const CheckVTable check_disk_vtable = { .start = disk_start };
const CheckVTable check_memory_vtable = { .start = memory_start };
