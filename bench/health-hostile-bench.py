#!/usr/bin/python3
"""The health endpoint under hostile clients, at the sizes issue 16 found
harmful (tests/integration/test_health_hostile.py runs a bounded version):

  slowloris TCP    400 connections from 40 loopback peers, one byte each per second
  slowloris unix   240 connections on health.sock, one byte each per second
  idle flood       2,000 idle TCP connections from 100 peers

Throughout each, a fresh client connects and asks for /health every 20 ms on
TCP and on the unix socket (the ALB's probe comes through nginx on the
latter). Prints, per attack and transport, the fresh requests made, failed,
and their latency (p50, p99, max; target: max < 100 ms, 0 failed), then
agentd's fds and RSS before and after. agentd runs with the default [health]
limits (max_connections 128, max_connections_per_peer 32, request_timeout 5s).

Usage: bench/health-hostile-bench.py [--build BUILD_DIR] [--seconds 15]
"""

import argparse
import multiprocessing
import os
import re
import resource
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fakeaws"))
from client import FakeAWS  # noqa: E402
from harness import Agent, wait_for  # noqa: E402

GET = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def fresh(transport, port, path):
    t0 = time.monotonic()
    try:
        if transport == "tcp":
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(path)
        with s:
            s.sendall(GET)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        ok = data.startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, time.monotonic() - t0


def attack(kind, port, path, stop):
    conns = []
    try:
        if kind == "slowloris-tcp":
            for i in range(400):
                s = socket.socket()
                s.bind(("127.0.0.%d" % (2 + i % 40), 0))
                s.connect(("127.0.0.1", port))
                conns.append(s)
        elif kind == "slowloris-unix":
            for _ in range(240):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                conns.append(s)
        else:
            for i in range(2000):
                s = socket.socket()
                s.bind(("127.0.0.%d" % (2 + i % 100), 0))
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
                conns.append(s)
        n = 0
        while not stop.is_set():
            if kind.startswith("slowloris"):
                for s in conns:
                    try:
                        s.send(GET[n % 20:n % 20 + 1])
                    except OSError:
                        pass
                n += 1
            stop.wait(1.0)
    finally:
        for s in conns:
            s.close()


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--seconds", type=float, default=15)
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 16384), hard))
    with tempfile.TemporaryDirectory(prefix="health-hostile-") as tmp:
        fake = FakeAWS(os.path.join(tmp, "fake"), quiet=True)
        try:
            port = socket.socket()
            port.bind(("127.0.0.1", 0))
            p = port.getsockname()[1]
            port.close()
            sock = os.path.join(tmp, "health.sock")
            agent = Agent(tmp, fake, config="[health]\nlisten = 127.0.0.1:%d, unix:%s\n" % (p, sock),
                          binary=os.path.join(os.path.abspath(a.build), "agent", "src", "agentd"), log_level="info")
            agent.health_socket = sock
            agent.wait_notify("READY=1")
            wait_for(lambda: fresh("unix", p, sock)[0], what="healthy")
            pid = agent.proc.pid
            for _ in range(50):
                fresh("tcp", p, sock)
            fd0, rss0 = fds(pid), rss(pid)
            worst = 0.0
            failed_total = 0
            for kind in ("slowloris-tcp", "slowloris-unix", "idle-flood"):
                # A process of its own: a thread would hold the prober back
                # (Python's GIL) and the figures would be the bench's.
                stop = multiprocessing.Event()
                t = multiprocessing.Process(target=attack, args=(kind, p, sock, stop), daemon=True)
                t.start()
                res = {"tcp": [], "unix": []}
                end = time.monotonic() + a.seconds
                while time.monotonic() < end:
                    for tr in ("tcp", "unix"):
                        res[tr].append(fresh(tr, p, sock))
                    time.sleep(0.02)        # the probe's pace
                stop.set()
                t.join()
                for tr, r in res.items():
                    lat = sorted(x[1] for x in r)
                    failed = sum(1 for x in r if not x[0])
                    failed_total += failed
                    worst = max(worst, lat[-1])
                    print("health_hostile %-15s %-4s fresh requests %4d, failed %d, latency p50 %.1f ms, "
                          "p99 %.1f ms, max %.1f ms (target: max < 100 ms, 0 failed)"
                          % (kind, tr, len(r), failed, lat[len(lat) // 2] * 1e3,
                             lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1e3, lat[-1] * 1e3), flush=True)
            wait_for(lambda: fds(pid) <= fd0, timeout=15, what="fds back")
            print("health_hostile fds %d -> %d, rss %d KiB -> %d KiB" % (fd0, fds(pid), rss0, rss(pid)))
            print("health_hostile worst fresh-client latency %.1f ms, %d failed (target < 100 ms, 0)"
                  % (worst * 1e3, failed_total))
            agent.close()
        finally:
            fake.stop()


if __name__ == "__main__":
    main()
