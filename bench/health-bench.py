#!/usr/bin/python3
"""Benchmark of the health endpoint: wrk on /health over loopback against
one agentd pinned to one core (taskset), wrk itself on another core. Prints
one figure per line, with its target:

  health_rps          requests/s over --seconds (target >= 20000)
  health_p99_ms       99th percentile latency (target < 2 ms)
  health_rss_kib      agentd's VmRSS before and after the run (target: unchanged)

agentd runs against the AWS emulator (so it is "running", with an instance
id) with two cheap checks (memory, disk), as on an instance.

Usage: bench/health-bench.py --build BUILD_DIR [--seconds 10] [--connections 4]
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fakeaws"))
from client import FakeAWS  # noqa: E402


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url, deadline):
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("health-bench: %s never answered 200" % url)


def parse_wrk(out):
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    if not rps or not p99:
        raise SystemExit("health-bench: cannot parse wrk output:\n" + out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return float(rps.group(1)), float(p99.group(1)) * scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=4)
    args = ap.parse_args()
    agentd = os.path.join(args.build, "agent", "src", "agentd")
    if not shutil.which("wrk"):
        raise SystemExit("health-bench: wrk is not installed (apt-get install wrk)")
    ncpu = os.cpu_count() or 1
    agent_cpu, wrk_cpu = "0", ("1" if ncpu > 1 else "0")

    with tempfile.TemporaryDirectory(prefix="health-bench-") as tmp, FakeAWS(os.path.join(tmp, "fake"),
                                                                              quiet=True) as fake:
        port = free_port()
        conf = os.path.join(tmp, "agentd.conf")
        with open(conf, "w") as f:
            f.write("[agent]\ncontrol_socket = %s/ctl.sock\nlog_level = warning\n"
                    "[health]\nlisten = 127.0.0.1:%d\n"
                    "[check.mem]\ntype = memory\nmin_available = 1%%\n"
                    "[check.disk]\ntype = disk\npath = /\nmin_free = 1%%\n" % (tmp, port))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(fake.env())
        env.pop("NOTIFY_SOCKET", None)
        log = open(os.path.join(tmp, "agentd.log"), "w")
        p = subprocess.Popen(["taskset", "-c", agent_cpu, agentd, "--config", conf], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
        try:
            url = "http://127.0.0.1:%d/health" % port
            wait_healthy(url, time.monotonic() + 30)
            # Warm-up: allocations MHD makes once (connection pools).
            subprocess.run(["taskset", "-c", wrk_cpu, "wrk", "-t1", "-c%d" % args.connections, "-d1s", url],
                           capture_output=True, check=True)
            before = rss_kib(p.pid)
            out = subprocess.run(["taskset", "-c", wrk_cpu, "wrk", "-t1", "-c%d" % args.connections,
                                  "-d%ds" % args.seconds, "--latency", url],
                                 capture_output=True, text=True, check=True).stdout
            after = rss_kib(p.pid)
        finally:
            p.terminate()
            p.wait(10)
            log.close()
        rps, p99 = parse_wrk(out)
        print("health_rps %.0f (target >= 20000; agentd on cpu %s, wrk -t1 -c%d on cpu %s, %d s)"
              % (rps, agent_cpu, args.connections, wrk_cpu, args.seconds))
        print("health_p99_ms %.3f (target < 2)" % p99)
        print("health_rss_kib %d -> %d (target unchanged)" % (before, after))
        if ncpu < 2:
            print("health-bench: one CPU only: wrk and agentd share it, figures are pessimistic",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
