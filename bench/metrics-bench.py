#!/usr/bin/python3
"""Benchmark of the metrics subsystem, one agentd against the AWS emulator,
pinned to one core (taskset); load generators on another. Prints one figure
per line, with its target:

  metrics_collect_cpu_ms   agentd CPU per collection cycle (target < 1 ms):
                           interval=1s, nothing published, over --cycles cycles,
                           minus agentd's idle CPU measured the same way
  metrics_publish_cpu_ms   agentd CPU per publish (one PutMetricData of the
                           window's statistic sets): publish_interval=1s as
                           well, minus the collection figure
  metrics_statsd_cpu_pct   agentd CPU with 50 StatsD metrics at --pps packets/s
                           (target < 5 % of one core)
  metrics_statsd_rss_kib   agentd's VmRSS before and after the StatsD run

CPU time is the sum of every thread's /proc/PID/task/*/schedstat (ns).

Usage: bench/metrics-bench.py --build BUILD_DIR [--cycles 20] [--pps 10000] [--seconds 10]
"""

import argparse
import glob
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fakeaws"))
from client import FakeAWS  # noqa: E402


def cpu_ns(pid):
    total = 0
    for path in glob.glob("/proc/%d/task/*/schedstat" % pid):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError):
            pass
    return total


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def host_ehash():
    try:
        out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
        m = re.search(r"TCP established hash table entries: (\d+)", out)
        return m.group(1) if m else "?"
    except OSError:
        return "?"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __init__(self, build, tmp, fake, metrics, cpu, prefix=(), extra=""):
        self.tmp = tmp
        conf = os.path.join(tmp, "agentd.conf")
        with open(conf, "w") as f:
            f.write("[agent]\ncontrol_socket = %s/ctl.sock\nlog_level = warning\nstate_dir = %s\n"
                    "[health]\nlisten = unix:%s/health.sock\ndefault_check = no\n%s[metrics]\n%s"
                    % (tmp, tmp, tmp, extra, metrics))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "NOTIFY_SOCKET"}
        env.update(fake.env())
        self.log = open(os.path.join(tmp, "agentd.log"), "w")
        self.proc = subprocess.Popen(list(prefix) + ["taskset", "-c", cpu, os.path.join(build, "agent", "src", "agentd"),
                                      "--config", conf], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.log)
        self.agentctl = os.path.join(build, "agent", "src", "agentctl")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            p = subprocess.run([self.agentctl, "--socket", tmp + "/ctl.sock", "status", "--json"],
                               capture_output=True, text=True)
            try:
                if json.loads(p.stdout)["agent"]["state"] in ("running", "failed"):
                    return
            except (ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise SystemExit("metrics-bench: agentd did not start:\n" + open(self.log.name).read()[-2000:])

    def cpu_over(self, seconds):
        """agentd's CPU ns over `seconds` of wall-clock time."""
        a = cpu_ns(self.proc.pid)
        time.sleep(seconds)
        return cpu_ns(self.proc.pid) - a

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()


SMALL_EHASH = 32768


def ehash_entries():
    try:
        with open("/proc/sys/net/ipv4/tcp_child_ehash_entries") as f:
            return int(f.read())
    except (OSError, ValueError):
        return None


def small_ehash_netns():
    """A namespace with its own TCP hash of SMALL_EHASH buckets (Linux >= 6.1,
    root); None if that cannot be made. The host's hash, sized from its RAM,
    is what a sock_diag dump walks."""
    old = ehash_entries()
    if old is None or os.geteuid() != 0:
        return None
    name = "metrics-bench-%d" % os.getpid()
    try:
        subprocess.run(["sysctl", "-qw", "net.ipv4.tcp_child_ehash_entries=%d" % SMALL_EHASH], check=True)
        subprocess.run(["ip", "netns", "add", name], check=True)
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        return name
    except (OSError, subprocess.CalledProcessError):
        return None
    finally:
        subprocess.run(["sysctl", "-qw", "net.ipv4.tcp_child_ehash_entries=%d" % old], capture_output=True)


def statsd_load(port, pps, seconds, cpu):
    """A sender on its own core: 50 metrics (counters, timers, gauges, sets with tags), pps packets/s."""
    code = r"""
import socket, time, sys
port, pps, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
lines = []
for i in range(50):
    kind = ("c", "ms", "g", "s")[i % 4]
    value = "user%d" % (i % 7) if kind == "s" else str(1 + i % 9)
    lines.append(("app.metric%02d:%s|%s|#route:/r%d" % (i, value, kind, i % 3)).encode())
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
start = time.monotonic(); sent = 0
while True:
    now = time.monotonic() - start
    if now >= seconds:
        break
    due = int(now * pps)
    while sent < due:
        s.sendto(lines[sent % 50], ("127.0.0.1", port)); sent += 1
    time.sleep(0.001)
print(sent)
"""
    return subprocess.Popen(["taskset", "-c", cpu, sys.executable, "-c", code, str(port), str(pps), str(seconds)],
                            stdout=subprocess.PIPE, text=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--pps", type=int, default=10000)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    ncpu = os.cpu_count() or 1
    agent_cpu, load_cpu = "0", ("1" if ncpu > 1 else "0")

    with tempfile.TemporaryDirectory(prefix="metrics-bench-") as tmp, \
            FakeAWS(os.path.join(tmp, "fake"), quiet=True) as fake:
        def run(name, metrics, fn, **kw):
            d = os.path.join(tmp, name)
            os.makedirs(d)
            a = Agent(args.build, d, fake, metrics, agent_cpu, **kw)
            try:
                time.sleep(2)           # warm-up: first cycle, baselines, connection to the emulator
                return fn(a)
            finally:
                a.stop()

        idle = run("idle", "enabled = no\n", lambda a: a.cpu_over(args.cycles))
        collect = run("collect", "interval = 1s\npublish_interval = 1h\nstatsd_listen = off\n",
                      lambda a: a.cpu_over(args.cycles))
        calls_before = len(fake.requests("monitoring", "PutMetricData"))
        publish = run("publish", "interval = 1s\npublish_interval = 1s\nstatsd_listen = off\n",
                      lambda a: a.cpu_over(args.cycles))
        calls = fake.requests("monitoring", "PutMetricData")[calls_before:]
        items = len(fake.metric_data()) / max(len(calls), 1)
        per_cycle = (collect - idle) / args.cycles / 1e6
        per_publish = (publish - collect) / max(len(calls) - 2, 1) / 1e6
        print("metrics_collect_cpu_ms %.3f (target < 1; %d cycles at interval=1s, idle agentd subtracted; this "
              "host's TCP hash: %s buckets)" % (per_cycle, args.cycles, host_ehash()))
        print("metrics_publish_cpu_ms %.3f (one PutMetricData of %.0f data points; %d calls)"
              % (per_publish, items, len(calls)))

        small = small_ehash_netns()
        if small:
            try:
                # No emulator in there: bootstrap fails at once, metrics run anyway.
                k = dict(prefix=("ip", "netns", "exec", small), extra="[imds]\nenabled = no\n")
                idle_ns = run("idle-ns", "enabled = no\n", lambda a: a.cpu_over(args.cycles), **k)
                collect_ns = run("collect-ns", "interval = 1s\npublish_interval = 1h\nstatsd_listen = off\n",
                                 lambda a: a.cpu_over(args.cycles), **k)
            finally:
                subprocess.run(["ip", "netns", "del", small], capture_output=True)
            print("metrics_collect_cpu_ms_small_host %.3f (target < 1; in a network namespace whose TCP hash has "
                  "%d buckets, as on a 4 GiB instance: sock_diag walks every bucket)"
                  % ((collect_ns - idle_ns) / args.cycles / 1e6, SMALL_EHASH))

        port = free_udp_port()

        def statsd(a):
            before = rss_kib(a.proc.pid)
            t0, c0 = time.monotonic(), cpu_ns(a.proc.pid)
            p = statsd_load(port, args.pps, args.seconds, load_cpu)
            sent = int(p.communicate()[0].strip() or 0)
            used, wall = cpu_ns(a.proc.pid) - c0, time.monotonic() - t0
            st = subprocess.run([a.agentctl, "--socket", a.tmp + "/ctl.sock", "status", "--json"],
                                capture_output=True, text=True).stdout
            return before, rss_kib(a.proc.pid), used / (wall * 1e9) * 100, sent / wall, st

        before, after, pct, rate, st = run("statsd", "interval = 10s\nstatsd_listen = 127.0.0.1:%d\n" % port,
                                           statsd)
        m = [s for s in json.loads(st)["subsystems"] if s["name"] == "metrics"][0]
        print("metrics_statsd_cpu_pct %.2f (target < 5; %.0f packets/s of 50 metrics, %d lines taken, %d bad, "
              "%d dropped)" % (pct, rate, m["statsd_lines"], m["statsd_bad_lines"], m["statsd_dropped"]))
        print("metrics_statsd_rss_kib %d -> %d" % (before, after))
        if ncpu < 2:
            print("metrics-bench: one CPU only: the sender and agentd share it", file=sys.stderr)


if __name__ == "__main__":
    main()
