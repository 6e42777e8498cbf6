/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * One collection cycle of the host's figures into a MetricAgg, under the
 * CloudWatch agent's names and units:
 *
 *   memory   mem_used_percent, mem_available_percent (Percent), mem_used,
 *            mem_available (Bytes), swap_used_percent      /proc/meminfo
 *   CPU      cpu_usage_user/system/iowait/idle/steal/nice/irq/softirq/active
 *            (Percent, dimension cpu=cpu-total)            /proc/stat
 *   disk     disk_used_percent (Percent), disk_free (Bytes),
 *            disk_inodes_free (Count); dimensions path, device, fstype
 *                                                          statvfs
 *   disk I/O diskio_reads, diskio_writes (Count), diskio_read_bytes,
 *            diskio_write_bytes (Bytes), diskio_io_time (Milliseconds)
 *            per interval, dimension name                  /proc/diskstats
 *   network  net_bytes_sent/recv (Bytes), net_packets_sent/recv,
 *            net_err_in/out, net_drop_in/out (Count) per interval,
 *            dimension interface                           rtnetlink
 *   TCP      netstat_tcp_established, netstat_tcp_time_wait, ... (Count)
 *            of the web port                               sock_diag
 *
 * Nothing here blocks the loop: /proc reads and netlink dumps are answered
 * from kernel memory, and statvfs() runs only on the configured mounts
 * whose file system is local (a hung NFS server would hang it: network
 * file systems are skipped, and said so once). Counters become amounts per
 * interval; the first cycle only sets the baseline, and a counter that
 * went backwards (a reset) is skipped for that cycle.
 */

#include <stddef.h>

#include "metric-aggregate.h"
#include "metrics-settings.h"

typedef struct HostCollector HostCollector;

int host_collector_new(HostCollector **ret);
HostCollector *host_collector_free(HostCollector *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(HostCollector *, host_collector_free);
/* One cycle. Returns 0, or the first error with a readable line in err
 * (the other sources are still collected). */
int host_collector_run(HostCollector *c, const MetricsSettings *s, MetricAgg *agg, char *err, size_t errsz);
