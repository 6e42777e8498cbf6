#!/usr/bin/env python3
"""Metrics to CloudWatch, each figure against an independent measure:

- a tmpfs of known size filled to a known level (disk_used_percent,
  disk_free, disk_inodes_free with path/device/fstype);
- StatsD packets with known values (counters with sample rates, gauges with
  relative changes, timers, sets, DogStatsD tags; bad lines counted);
- N TCP connections accepted by a test listener (netstat_tcp_established on
  the web port);
- memory against `free`'s available column;
- a veth pair between two network namespaces the test creates, through which
  it sends a known number of bytes (agentd runs inside one of them);
- an outage of CloudWatch longer than the buffer: memory flat, the oldest
  windows dropped and counted, the newest published after it.

What was published is read back from the emulator: names, units, dimensions
and statistics; /metrics is read from the health server's unix socket.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import harness
from harness import AgentTestCase, wait_for

INSTANCE_DIMS = {"InstanceId": "i-0123456789abcdef0", "AutoScalingGroupName": "php-app-asg",
                 "ImageId": "ami-0abcdef1234567890", "InstanceType": "t3.medium"}
MiB = 1024 * 1024


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def prom_value(text, name, labels=None):
    """The value of one sample of the Prometheus text, or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if labels is None or got == labels:
            return float(m.group(4))
    return None


class MetricsTest(AgentTestCase):
    def published(self, name, dims=None):
        return [d for d in self.fake.metric_data(name) if dims is None or d["Dimensions"] == dims]

    def wait_published(self, name, dims, pred=lambda items: True, timeout=20):
        return wait_for(lambda: (lambda items: items if items and pred(items) else None)(self.published(name, dims)),
                        timeout=timeout, what="%s %r published" % (name, dims))

    def metrics_text(self, agent):
        status, headers, body = agent.health("/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["content-type"].startswith("text/plain; version=0.0.4"))
        return body.decode()

    def mount_tmpfs(self, size="8M", inodes=64):
        mnt = tempfile.mkdtemp(prefix="agentd-it-tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,nr_inodes=%d" % (size, inodes), "tmpfs", mnt], check=True)
        self.addCleanup(os.rmdir, mnt)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        return mnt

    def test_host_statsd_and_tcp_published(self):
        # 8 MiB tmpfs with 3 MiB written: 37.5 % used, 5 MiB free, 62 of 64 inodes free (root + file).
        mnt = self.mount_tmpfs()
        with open(os.path.join(mnt, "fill"), "wb") as f:
            f.write(b"\1" * (3 * MiB))
        # N connections accepted by a listener on the "web port".
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        clients, accepted = [], []
        for _ in range(5):
            c = socket.create_connection(("127.0.0.1", port))
            clients.append(c)
            accepted.append(listener.accept()[0])
        self.addCleanup(lambda: [s.close() for s in clients + accepted + [listener]])
        udp = free_udp_port()
        applog = os.path.join(self.tmp, "app.log")
        with open(applog, "w") as f:
            f.write("a line for the log lag\n")
        a = self.agent(config="[metrics]\ninterval = 1s\npublish_interval = 2s\nmounts = /, %s\nweb_port = %d\n"
                              "statsd_listen = 127.0.0.1:%d\n[logs.app]\nfile = %s\n" % (mnt, port, udp, applog))
        a.wait_notify("READY=1")
        ready_at = time.monotonic()
        wait_for(lambda: a.status()[1] and a.subsystem(a.status()[1], "statsd")["state"] == "ok", what="statsd up")

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for i in range(30):
            s.sendto(b"app.requests:1|c|#route:/home,bare", ("127.0.0.1", udp))
        for i in range(10):
            s.sendto(b"app.requests:1|c|@0.5|#route:/home", ("127.0.0.1", udp))
        s.sendto(b"app.queue:7|g\napp.queue:+3|g", ("127.0.0.1", udp))
        s.sendto(b"app.latency:100|ms\n" * 5 + b"app.latency:200|ms|@0.5\n" * 5, ("127.0.0.1", udp))
        s.sendto(b"app.users:alice|s\napp.users:bob|s\napp.users:alice|s", ("127.0.0.1", udp))
        s.sendto(b"no colon here\napp.x:abc|c\napp.y:1|zz", ("127.0.0.1", udp))
        s.close()

        # disk: every sample of the tmpfs, with the agent's dimensions
        disk_dims = dict(INSTANCE_DIMS, path=mnt, device="tmpfs", fstype="tmpfs")
        for name, unit, value in (("disk_used_percent", "Percent", 37.5), ("disk_free", "Bytes", 5 * MiB),
                                  ("disk_inodes_free", "Count", 62)):
            items = self.wait_published(name, disk_dims)
            st = items[0]["StatisticValues"]
            self.assertEqual(items[0]["Unit"], unit, name)
            self.assertAlmostEqual(st["Minimum"], value, places=6, msg=name)
            self.assertAlmostEqual(st["Maximum"], value, places=6, msg=name)
            self.assertAlmostEqual(st["Sum"], value * st["SampleCount"], places=3, msg=name)
        # the root file system too, and the ASG-wide rollup of both
        root = [d for d in self.published("disk_used_percent") if d["Dimensions"].get("path") == "/"]
        self.assertTrue(root and root[0]["Dimensions"]["device"] and root[0]["Dimensions"]["fstype"])
        agg = self.wait_published("disk_used_percent", {"AutoScalingGroupName": "php-app-asg"})
        self.assertEqual(agg[0]["Unit"], "Percent")
        self.assertLessEqual(agg[0]["StatisticValues"]["Minimum"], 37.5 + 1e-6)

        # agentd's own: how far log shipping is behind
        lag = self.wait_published("agentd_log_lag_bytes", INSTANCE_DIMS)
        self.assertEqual(lag[0]["Unit"], "Bytes")
        self.assertTrue(self.published("agentd_log_lag_seconds"))

        # TCP: the 5 accepted connections of the web port, and its listener
        est = self.wait_published("netstat_tcp_established", INSTANCE_DIMS)
        self.assertEqual((est[0]["StatisticValues"]["Minimum"], est[0]["StatisticValues"]["Maximum"]), (5, 5))
        self.assertEqual(est[0]["Unit"], "Count")
        lis = self.wait_published("netstat_tcp_listen", INSTANCE_DIMS)
        self.assertEqual(lis[0]["StatisticValues"]["Maximum"], 1)

        # memory against free(1)'s "available" column, read at about the same time
        mem = self.wait_published("mem_available_percent", INSTANCE_DIMS)
        out = subprocess.run(["free", "-b"], capture_output=True, text=True, check=True).stdout.split("\n")[1].split()
        free_pct = 100.0 * int(out[6]) / int(out[1])
        self.assertEqual(mem[-1]["Unit"], "Percent")
        self.assertLess(abs(mem[-1]["StatisticValues"]["Maximum"] - free_pct), 5.0)
        cpu = self.wait_published("cpu_usage_idle", dict(INSTANCE_DIMS, cpu="cpu-total"))
        self.assertTrue(0 <= cpu[0]["StatisticValues"]["Minimum"] <= 100)

        # StatsD: sums over everything published, since packets may straddle windows
        req_dims = dict(INSTANCE_DIMS, route="/home", metric_type="counter")
        items = self.wait_published("app.requests", req_dims,
                                    lambda it: sum(d["StatisticValues"]["Sum"] for d in it) >= 50)
        self.assertEqual(sum(d["StatisticValues"]["Sum"] for d in items), 50)
        self.assertEqual(items[0]["Unit"], "Count")
        gauge = self.wait_published("app.queue", dict(INSTANCE_DIMS, metric_type="gauge"))
        self.assertEqual(gauge[-1]["StatisticValues"]["Maximum"], 10)
        timer = self.wait_published("app.latency", dict(INSTANCE_DIMS, metric_type="timing"),
                                    lambda it: sum(sum(d.get("Counts", [])) for d in it) >= 15)
        counts = {}
        for d in timer:
            self.assertEqual(d["Unit"], "Milliseconds")
            for v, c in zip(d["Values"], d["Counts"]):
                counts[v] = counts.get(v, 0) + c
        self.assertEqual(counts, {100.0: 5, 200.0: 10})
        users = self.wait_published("app.users", dict(INSTANCE_DIMS, metric_type="set"))
        self.assertEqual(users[0]["StatisticValues"]["Maximum"], 2)
        st = a.subsystem(a.status()[1], "metrics")
        self.assertEqual(st["statsd_bad_lines"], 3)
        self.assertIn("bad lines dropped", a.subsystem(a.status()[1], "statsd")["detail"])

        # one PutMetricData a publish (every 2 s), not one per metric
        calls = self.fake.requests("monitoring", "PutMetricData")
        self.assertTrue(all(r["status"] == 200 for r in calls))
        self.assertLessEqual(len(calls), (time.monotonic() - ready_at) / 2 + 1)

        # /metrics: the same figures, local view (no instance dimensions)
        text = self.metrics_text(a)
        self.assertEqual(prom_value(text, "disk_used_percent", {"path": mnt, "device": "tmpfs", "fstype": "tmpfs"}),
                         37.5)
        self.assertEqual(prom_value(text, "netstat_tcp_established"), 5)
        self.assertEqual(prom_value(text, "app_requests_total", {"route": "/home", "metric_type": "counter"}), 50)
        self.assertEqual(prom_value(text, "app_latency_count", {"metric_type": "timing"}), 15)
        self.assertIn("# TYPE mem_used_percent gauge", text)

    def test_outage_longer_than_the_buffer(self):
        a = self.agent(config="[aws]\nmax_attempts = 2\n[metrics]\ninterval = 1s\npublish_interval = 1s\n"
                              "buffer = 3s\nstatsd_listen = off\nmounts = /\n")
        a.wait_notify("READY=1")
        self.wait_published("mem_used_percent", INSTANCE_DIMS)
        self.fake.fault("error5xx", "monitoring", count=100000)
        started = time.time()
        wait_for(lambda: a.subsystem(a.status()[1], "metrics")["failed_calls"] > 0, what="a failed publish")
        rss = []
        deadline = time.monotonic() + 8   # wall-clock windows: not scaled
        while time.monotonic() < deadline:
            st = a.subsystem(a.status()[1], "metrics")
            self.assertLessEqual(st["buffered_windows"], 3)
            with open("/proc/%d/status" % a.proc.pid) as f:
                rss.append(int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)))
            time.sleep(0.5)
        st = a.subsystem(a.status()[1], "metrics")
        self.assertGreater(st["dropped"], 0)
        self.assertEqual(st["state"], "degraded")
        if harness.SLOW == 1:
            # flat: after the buffer filled (first seconds), no growth worth a window (sanitizer
            # quarantines and valgrind have memory of their own: plain builds only)
            self.assertLess(max(rss[len(rss) // 2:]) - rss[len(rss) // 2], 512, rss)
        ended = time.time()
        before = len(self.published("mem_used_percent", INSTANCE_DIMS))
        self.fake.clear_faults()
        dropped = self.wait_published("agentd_metrics_dropped", INSTANCE_DIMS,
                                      lambda it: sum(d["StatisticValues"]["Sum"] for d in it) > 0, timeout=30)
        self.assertEqual(dropped[0]["Unit"], "Count")
        wait_for(lambda: a.subsystem(a.status()[1], "metrics")["state"] == "ok", what="back to ok")
        # what came after the outage: the newest windows only (the oldest were dropped)
        late = self.published("mem_used_percent", INSTANCE_DIMS)[before:]
        outage = [d["Timestamp"] for d in late if d["Timestamp"] < ended]
        self.assertTrue(outage, "no buffered window was published after the outage (ended %.1f, published after: %s)"
                        % (ended, [d["Timestamp"] for d in late]))
        self.assertGreater(min(outage), started + 3, "the oldest windows of the outage were not dropped")


NS_A, NS_B = "agentd-it-%d-a" % os.getpid(), "agentd-it-%d-b" % os.getpid()
ADDR_A, ADDR_B = "10.231.%d.1" % (os.getpid() % 250), "10.231.%d.2" % (os.getpid() % 250)
MAC_A, MAC_B = "02:00:00:00:0a:01", "02:00:00:00:0a:02"


def ip(*args, ns=None):
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    subprocess.run(cmd, check=True, capture_output=True, text=True)


@harness.unittest.skipUnless(shutil.which("ip") and os.geteuid() == 0, "needs root and iproute2")
class NetnsTest(AgentTestCase):
    """Two namespaces joined by a veth pair, no IPv6, static neighbours: the
    only frames on the link are the ones this test sends."""

    def setUp(self):
        super().setUp()
        for ns in (NS_A, NS_B):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            ip("ip", "netns", "add", ns)
            self.addCleanup(subprocess.run, ["ip", "netns", "del", ns], capture_output=True)
            ip("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=ns)
            ip("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", ns=ns)
            ip("ip", "link", "set", "lo", "up", ns=ns)
        ip("ip", "link", "add", "vmA", "netns", NS_A, "address", MAC_A, "type", "veth",
           "peer", "name", "vmB", "netns", NS_B, "address", MAC_B)
        for ns, dev, addr, peer, mac in ((NS_A, "vmA", ADDR_A, ADDR_B, MAC_B), (NS_B, "vmB", ADDR_B, ADDR_A, MAC_A)):
            ip("ip", "addr", "add", addr + "/30", "dev", dev, ns=ns)
            ip("ip", "link", "set", dev, "up", ns=ns)
            ip("ip", "neigh", "replace", peer, "lladdr", mac, "dev", dev, "nud", "permanent", ns=ns)

    def test_bytes_through_a_veth_pair(self):
        # No IMDS in there: bootstrap fails at once, metrics run anyway; read on the unix socket.
        a = self.agent(prefix=("ip", "netns", "exec", NS_A),
                       config="[imds]\nenabled = no\n[metrics]\ninterval = 1s\nstatsd_listen = off\n"
                              "interfaces = vmA\n")
        a.wait_notify("READY=1")

        def counters():
            _, _, body = a.health("/metrics")
            text = body.decode()
            return (prom_value(text, "net_bytes_recv_total", {"interface": "vmA"}),
                    prom_value(text, "net_packets_recv_total", {"interface": "vmA"}))

        def link_rx():
            out = subprocess.run(["ip", "netns", "exec", NS_A, "ip", "-s", "-j", "link", "show", "vmA"],
                                 capture_output=True, text=True, check=True).stdout
            rx = json.loads(out)[0]["stats64"]["rx"]
            return rx["bytes"], rx["packets"]

        def collections():
            return prom_value(a.health("/metrics")[2].decode(), "agentd_metrics_collections_total") or 0

        base = wait_for(lambda: (lambda c: c if c[0] is not None else None)(counters()), what="vmA counters")
        kernel_base = link_rx()
        n, payload = 40, 1000
        subprocess.run(["ip", "netns", "exec", NS_B, "/usr/bin/python3", "-c",
                        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                        "for _ in range(%d): s.sendto(b'x' * %d, ('%s', 9))\n" % (n, payload, ADDR_A)], check=True)
        # Ethernet 14 + IPv4 20 + UDP 8 bytes of headers each
        want = (base[0] + n * (payload + 42), base[1] + n)
        wait_for(lambda: counters() == want, what="%r bytes and packets received on vmA" % (want,))
        # nothing else arrives: two collections later it still holds
        seen = collections()
        wait_for(lambda: collections() >= seen + 2, what="two more collections")
        self.assertEqual(counters(), want)
        # and iproute2's reading of the same link agrees
        kernel = link_rx()
        self.assertEqual((kernel[0] - kernel_base[0], kernel[1] - kernel_base[1]), (n * (payload + 42), n))

if __name__ == "__main__":
    harness.main()
