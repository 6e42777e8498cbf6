/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Pure parsers of what the kernel tells about memory, CPU and disks, and
 * the figures the CloudWatch agent derives from them (its Telegraf
 * inputs, so the numbers match the dashboards people already have):
 *
 *   mem_used          MemTotal - MemFree - Buffers - Cached - SReclaimable
 *   mem_used_percent  mem_used / MemTotal
 *   mem_available(_percent)  MemAvailable (/ MemTotal)
 *   swap_used_percent (SwapTotal - SwapFree) / SwapTotal, 0 without swap
 *   cpu_usage_*       share of the jiffies between two /proc/stat reads;
 *                     user excludes guest time, as Telegraf's
 *   disk_used_percent used / (used + available to unprivileged users),
 *                     where used = total - free (statvfs, as df)
 *
 * No I/O here: callers read the files (text in, figures out) so the unit
 * tests reach every edge.
 */

#include <stdbool.h>
#include <stdint.h>

#include "macro.h"

typedef struct MemInfo {
        uint64_t total, free, available, buffers, cached, sreclaimable, swap_total, swap_free;
} MemInfo;

typedef struct MemFigures {
        double used_percent, available_percent, swap_used_percent;
        uint64_t used, available;
} MemFigures;

/* -EBADMSG without MemTotal or MemAvailable. Values in bytes. */
int metric_meminfo_parse(const char *text, MemInfo *ret);
void metric_mem_figures(const MemInfo *m, MemFigures *ret);

typedef struct CpuTimes {
        uint64_t user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice;
} CpuTimes;

typedef struct CpuUsage {
        double user, nice, system, idle, iowait, irq, softirq, steal, active;
} CpuUsage;

/* The aggregate "cpu " line of /proc/stat. -EBADMSG without it. */
int metric_cpu_stat_parse(const char *text, CpuTimes *ret);
/* Percentages between two reads; -ERANGE when no time passed or the
 * counters went backwards. */
int metric_cpu_usage(const CpuTimes *prev, const CpuTimes *cur, CpuUsage *ret);

typedef struct DiskStat {
        char name[32];
        uint64_t reads, read_bytes, writes, write_bytes, io_time_ms;
} DiskStat;

/* One line of /proc/diskstats; -EBADMSG if it is not one. */
int metric_diskstats_parse_line(const char *line, DiskStat *ret);

typedef struct DiskFigures {
        uint64_t total, free, used, inodes_free, inodes_total;
        double used_percent;
} DiskFigures;

/* statvfs fields: f_frsize, f_blocks, f_bfree, f_bavail, f_files, f_ffree. */
void metric_disk_figures(uint64_t frsize, uint64_t blocks, uint64_t bfree, uint64_t bavail, uint64_t files,
                         uint64_t ffree, DiskFigures *ret);

typedef struct MountEntry {
        char path[256];
        char device[128];       /* "nvme0n1p1" as the agent reports it: without "/dev/" */
        char fstype[32];
} MountEntry;

/* The mount that holds path, from /proc/self/mountinfo text: the mount
 * point that is the longest prefix of path, the last one mounted winning.
 * -ENOENT if none. */
int metric_mountinfo_find(const char *text, const char *path, MountEntry *ret);
/* NFS, CIFS and friends: statvfs() may hang on them. */
bool metric_fstype_is_network(const char *fstype);
/* proc, sysfs, cgroup...: no disk figures worth publishing. */
bool metric_fstype_is_pseudo(const char *fstype);
