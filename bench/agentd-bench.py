#!/usr/bin/python3
"""Benchmarks of agentd against the AWS emulator on loopback. Prints one
figure per line, with its target:

  start_to_ready_ms   spawn of agentd → READY=1 (identity + credentials from
                      IMDS), median/min/max over --runs starts
  idle_rss_kib        VmRSS after READY and after --idle seconds of idling
  idle_pss_kib        the same as PSS, and the anonymous (heap) part
  idle_cpu_percent    CPU time used over those --idle seconds / wall time

Usage: bench/agentd-bench.py --build BUILD_DIR [--runs 20] [--idle 60]
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fakeaws"))
from client import FakeAWS  # noqa: E402


def start_agent(agentd, tmp, fake, i):
    conf = os.path.join(tmp, "conf%d" % i)
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "agentd.conf"), "w") as f:
        f.write("[agent]\ncontrol_socket = %s/ctl%d.sock\nlog_level = warning\n" % (tmp, i))
        # The default check (php-fpm ping) runs as on an instance; the
        # endpoint on a private socket, not the fixed default port.
        f.write("[health]\nlisten = unix:%s/health%d.sock\n" % (tmp, i))
    nsock = os.path.join(tmp, "notify%d.sock" % i)
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(nsock)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(fake.env())
    env["NOTIFY_SOCKET"] = nsock
    t0 = time.monotonic()
    p = subprocess.Popen([agentd, "--config", conf], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "agentd%d.log" % i), "w"))
    ns.settimeout(30)
    while True:
        msg = ns.recv(4096).decode()
        if "READY=1" in msg:
            break
    ready_ms = (time.monotonic() - t0) * 1000
    ns.close()
    return p, ready_ms


def watchdog_gaps(agentd, tmp, fake, interval_usec=600000, pings=12):
    """Gaps between WATCHDOG=1 pings with WatchdogSec of interval_usec:
    agentd pings at half the interval. (Moved here from the integration
    tests: under valgrind a gap is no measure of agentd.)"""
    conf = os.path.join(tmp, "conf-wd")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "agentd.conf"), "w") as f:
        f.write("[agent]\ncontrol_socket = %s/ctl-wd.sock\nlog_level = warning\n" % tmp)
        f.write("[health]\nlisten = unix:%s/health-wd.sock\ndefault_check = no\n" % tmp)
    nsock = os.path.join(tmp, "notify-wd.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(nsock)
    ns.settimeout(10)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(fake.env())
    env.update(NOTIFY_SOCKET=nsock, WATCHDOG_USEC=str(interval_usec))
    p = subprocess.Popen([agentd, "--config", conf], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times = []
    while len(times) < pings:
        if "WATCHDOG=1" in ns.recv(4096).decode():
            times.append(time.monotonic())
    p.terminate()
    p.wait()
    ns.close()
    return [b - a for a, b in zip(times, times[1:])]


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_rollup(pid):
    """Pss and Anonymous (KiB) from smaps_rollup: RSS counts every page of
    the shared libraries touched (libcrypto alone is ~3 MiB), PSS divides
    shared pages among the processes mapping them, Anonymous is our heap."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0] in ("Pss:", "Anonymous:"):
                out[parts[0][:-1]] = int(parts[1])
    return out


def proc_cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--idle", type=float, default=60.0)
    args = ap.parse_args()
    agentd = os.path.join(args.build, "agent", "src", "agentd")

    with tempfile.TemporaryDirectory(prefix="agentd-bench-") as tmp, \
            FakeAWS(os.path.join(tmp, "fake"), quiet=True) as fake:
        times = []
        for i in range(args.runs):
            p, ms = start_agent(agentd, tmp, fake, i)
            times.append(ms)
            if i < args.runs - 1:
                p.terminate()
                p.wait()
        gaps = watchdog_gaps(agentd, tmp, fake)
        print("watchdog_gap_ms max=%.0f median=%.0f with WatchdogSec=600ms (target: every gap < 600)"
              % (max(gaps) * 1000, statistics.median(gaps) * 1000))
        print("start_to_ready_ms median=%.1f min=%.1f max=%.1f runs=%d (target < 100)"
              % (statistics.median(times), min(times), max(times), len(times)))
        rss0 = proc_rss_kib(p.pid)
        cpu0 = proc_cpu_seconds(p.pid)
        t0 = time.monotonic()
        time.sleep(args.idle)          # a benchmark measures idling: this is the point
        wall = time.monotonic() - t0
        cpu = proc_cpu_seconds(p.pid) - cpu0
        rss1 = proc_rss_kib(p.pid)
        roll = proc_rollup(p.pid)
        print("idle_rss_kib after_ready=%d after_%ds=%d (target < 8192)" % (rss0, args.idle, rss1))
        print("idle_pss_kib %d anonymous_kib %d" % (roll.get("Pss", 0), roll.get("Anonymous", 0)))
        print("idle_cpu_percent %.3f over %.0fs (target < 0.1)" % (100.0 * cpu / wall, wall))
        p.terminate()
        p.wait()


if __name__ == "__main__":
    main()
