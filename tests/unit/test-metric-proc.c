/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "metric-proc.h"
#include "tests.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void test_meminfo(void) {
        const char *text = "MemTotal:        1000 kB\nMemFree:          100 kB\nMemAvailable:     400 kB\n"
                           "Buffers:           50 kB\nCached:           200 kB\nSwapCached:         0 kB\n"
                           "SReclaimable:      50 kB\nSwapTotal:        200 kB\nSwapFree:         150 kB\n";
        MemInfo m;
        MemFigures f;

        CHECK_EQ_INT(metric_meminfo_parse(text, &m), 0);
        CHECK_EQ_INT(m.total, 1000 * 1024);
        CHECK_EQ_INT(m.cached, 200 * 1024);     /* "SwapCached:" is not "Cached:" */
        metric_mem_figures(&m, &f);
        /* used = 1000 - 100 - 50 - 200 - 50 = 600 kB */
        CHECK_EQ_INT(f.used, 600 * 1024);
        CHECK(NEAR(f.used_percent, 60.0));
        CHECK(NEAR(f.available_percent, 40.0));
        CHECK_EQ_INT(f.available, 400 * 1024);
        CHECK(NEAR(f.swap_used_percent, 25.0));

        /* no swap: 0 %, not a division by zero */
        CHECK_EQ_INT(metric_meminfo_parse("MemTotal: 10 kB\nMemAvailable: 5 kB\nMemFree: 20 kB\n", &m), 0);
        metric_mem_figures(&m, &f);
        CHECK(NEAR(f.swap_used_percent, 0));
        CHECK_EQ_INT(f.used, 0);                /* free > total: clamped */

        CHECK_EQ_INT(metric_meminfo_parse("MemTotal: 10 kB\n", &m), -EBADMSG);
        CHECK_EQ_INT(metric_meminfo_parse("", &m), -EBADMSG);
        CHECK_EQ_INT(metric_meminfo_parse("MemTotal: 0 kB\nMemAvailable: 0 kB\n", &m), -EBADMSG);
        CHECK_EQ_INT(metric_meminfo_parse("MemTotal: 99999999999999999999 kB\nMemAvailable: 1 kB\n", &m), -EBADMSG);
}

static void test_cpu(void) {
        CpuTimes a, b;
        CpuUsage u;

        CHECK_EQ_INT(metric_cpu_stat_parse("cpu  100 0 100 700 50 0 0 50 0 0\ncpu0 1 2 3 4\n", &a), 0);
        CHECK_EQ_INT(metric_cpu_stat_parse("intr 1\ncpu  200 0 150 1300 100 0 0 150 20 0\n", &b), 0);
        /* delta: user 100 (20 of it guest), system 50, idle 600, iowait 50, steal 100: total 900 */
        CHECK_EQ_INT(metric_cpu_usage(&a, &b, &u), 0);
        CHECK(NEAR(u.user, 80.0 / 9));
        CHECK(NEAR(u.system, 50.0 / 9));
        CHECK(NEAR(u.idle, 600.0 / 9));
        CHECK(NEAR(u.iowait, 50.0 / 9));
        CHECK(NEAR(u.steal, 100.0 / 9));
        CHECK(NEAR(u.active, 100 - 650.0 / 9));
        CHECK_EQ_INT(metric_cpu_usage(&a, &a, &u), -ERANGE);
        CHECK_EQ_INT(metric_cpu_usage(&b, &a, &u), -ERANGE);
        CHECK_EQ_INT(metric_cpu_stat_parse("cpu0 1 2 3 4\n", &a), -EBADMSG);
        CHECK_EQ_INT(metric_cpu_stat_parse("cpu  1 2\n", &a), -EBADMSG);
}

static void test_diskstats(void) {
        DiskStat d;

        CHECK_EQ_INT(metric_diskstats_parse_line(" 259 0 nvme0n1 100 5 2000 30 200 7 4000 60 0 90 120 0 0 0 0", &d), 0);
        CHECK_STREQ(d.name, "nvme0n1");
        CHECK_EQ_INT(d.reads, 100);
        CHECK_EQ_INT(d.read_bytes, 2000 * 512);
        CHECK_EQ_INT(d.writes, 200);
        CHECK_EQ_INT(d.write_bytes, 4000 * 512);
        CHECK_EQ_INT(d.io_time_ms, 90);
        CHECK_EQ_INT(metric_diskstats_parse_line("8 0 sda 1 2 3", &d), -EBADMSG);
        CHECK_EQ_INT(metric_diskstats_parse_line("garbage", &d), -EBADMSG);
}

static void test_disk(void) {
        DiskFigures f;

        /* 1000 blocks of 4 KiB, 400 free, 300 of them for unprivileged users */
        metric_disk_figures(4096, 1000, 400, 300, 100, 40, &f);
        CHECK_EQ_INT(f.total, 4096000);
        CHECK_EQ_INT(f.used, 600 * 4096);
        CHECK_EQ_INT(f.free, 300 * 4096);
        CHECK_EQ_INT(f.inodes_free, 40);
        CHECK(NEAR(f.used_percent, 100.0 * 600 / 900));
        metric_disk_figures(4096, 0, 0, 0, 0, 0, &f);
        CHECK(NEAR(f.used_percent, 0));
        /* nonsense from a broken file system: clamped, no wrap-around */
        metric_disk_figures(4096, 10, 20, 30, 5, 9, &f);
        CHECK_EQ_INT(f.used, 0);
        CHECK_EQ_INT(f.inodes_free, 5);
}

static void test_mountinfo(void) {
        const char *text =
                "22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n"
                "30 22 0:25 / /proc rw - proc proc rw\n"
                "40 22 0:40 / /mnt/my\\040data rw shared:5 master:2 - tmpfs tmpfs rw,size=8192k\n"
                "41 22 0:41 / /srv/nfs rw - nfs4 server:/export rw\n"
                "42 22 0:42 / /mnt rw - xfs /dev/sdb rw\n"
                "43 22 0:43 / /mnt rw - ext4 /dev/sdc rw\n"
                "broken line\n";
        MountEntry e;

        CHECK_EQ_INT(metric_mountinfo_find(text, "/", &e), 0);
        CHECK_STREQ(e.device, "nvme0n1p1");
        CHECK_STREQ(e.fstype, "ext4");
        CHECK_STREQ(e.path, "/");
        CHECK_EQ_INT(metric_mountinfo_find(text, "/var/lib", &e), 0);
        CHECK_STREQ(e.path, "/");
        CHECK_EQ_INT(metric_mountinfo_find(text, "/mnt/my data", &e), 0);
        CHECK_STREQ(e.path, "/mnt/my data");
        CHECK_STREQ(e.fstype, "tmpfs");
        CHECK_STREQ(e.device, "tmpfs");
        CHECK_EQ_INT(metric_mountinfo_find(text, "/srv/nfs/x", &e), 0);
        CHECK(metric_fstype_is_network(e.fstype));
        /* over-mounted: the last one wins; "/mntx" is not under "/mnt" */
        CHECK_EQ_INT(metric_mountinfo_find(text, "/mnt", &e), 0);
        CHECK_STREQ(e.device, "sdc");
        CHECK_EQ_INT(metric_mountinfo_find(text, "/mntx", &e), 0);
        CHECK_STREQ(e.path, "/");
        CHECK_EQ_INT(metric_mountinfo_find("", "/", &e), -ENOENT);
        CHECK(metric_fstype_is_network("nfs"));
        CHECK(metric_fstype_is_network("cifs"));
        CHECK(!metric_fstype_is_network("ext4"));
        CHECK(metric_fstype_is_pseudo("proc"));
        CHECK(!metric_fstype_is_pseudo("tmpfs"));
}

TEST_MAIN(test_meminfo(); test_cpu(); test_diskstats(); test_disk(); test_mountinfo();)
