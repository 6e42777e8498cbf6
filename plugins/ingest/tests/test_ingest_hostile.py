"""The ingestion API against hostile clients (issue 16), as
tests/integration/test_health_hostile.py does for agentd's /health: its
unix socket (mode 0666: any local user can connect) under slowloris, idle
floods, slow bodies, header floods, pipelining, half-closed connections,
invalid chunking, conflicting Content-Length and oversized bodies.
Throughout, a prober plays nginx and agentd's readiness check: a fresh
connection every 50 ms, GET /health (200), and every fifth a small valid
POST (202). Every one must be answered; afterwards the API's descriptors
and RSS are back where they were. Real MariaDB.

The floods are larger than the old fixed limit of 1,000 connections (its
MHD refused every newcomer past it, and a slow sender held its slot for as
long as it kept sending); the API runs with its default limits, and a short
request_timeout so the test is quick. Sizes are bounded: this also runs
under ASan and valgrind.
"""

import json
import os
import re
import resource
import socket
import subprocess
import threading
import time
import unittest

from ingest_fixture import KEY, SLOW, VALGRIND, IngestTestCase, record, wait_for
from hostile import fd_count, is_closed, read_until_closed, rss_kib, sanitized  # noqa: E402 (tests/integration, on the path)

REQUEST_TIMEOUT = 2.0       # seconds ([ingest] request_timeout), times SLOW
FLOOD = 1100                # above the old limit (1,000) and the default max_connections (512)
HEALTH = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def post_bytes(records, close=True):
    body = "".join(json.dumps(r) + "\n" for r in records).encode()
    return (b"POST /api/ingest/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: application/x-ndjson\r\nContent-Length: %d\r\n%s\r\n" %
            (KEY.encode(), len(body), b"Connection: close\r\n" if close else b"")) + body


def statuses(data):
    return [int(x) for x in re.findall(rb"HTTP/1\.1 (\d{3}) ", data or b"")]


class Prober(threading.Thread):
    """A fresh client every 50 ms: GET /health, and every fifth a POST of
    one record. Records (kind, status or error, seconds)."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.results = []
        self.n = 0

    def one(self):
        self.n += 1
        kind = "post" if self.n % 5 == 0 else "health"
        req = post_bytes([record(self.n, id="probe-%d" % self.n)]) if kind == "post" else HEALTH
        t0 = time.monotonic()
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10 * SLOW)
            with s:
                s.connect(self.path)
                s.sendall(req)
                data = read_until_closed(s, 10 * SLOW) or b""
            m = statuses(data)
            status = m[0] if m else "no answer (%r)" % data[:40]
        except OSError as e:
            status = "%s: %s" % (type(e).__name__, e)
        self.results.append((kind, status, time.monotonic() - t0))

    def run(self):
        while not self.stop.is_set():
            self.one()
            self.stop.wait(0.05)

    def finish(self, test, scenario):
        self.stop.set()
        self.join()
        want = {"health": 200, "post": 202}
        failed = [r for r in self.results if r[1] != want[r[0]]]
        lat = sorted(r[2] for r in self.results)
        test.assertGreater(len(lat), 4, scenario)
        print("%s: %d fresh requests, %d failed, latency p50 %.1f ms max %.1f ms"
              % (scenario, len(lat), len(failed), lat[len(lat) // 2] * 1e3, lat[-1] * 1e3), flush=True)
        test.assertEqual(failed, [], "%s: a fresh client was not answered" % scenario)
        if not VALGRIND:
            # A stall, not the latency target, on a shared 2-core machine.
            test.assertLess(lat[-1], 5.0 * SLOW, "%s: a fresh client waited %.0f ms" % (scenario, lat[-1] * 1e3))


class HostileBase(IngestTestCase):
    request_timeout = REQUEST_TIMEOUT

    def setUp(self):
        super().setUp()
        self.open = []
        self.addCleanup(self.close_all)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
        self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        self.make_stack(ingest_extra="request_timeout = %dms\n" % (self.request_timeout * SLOW * 1000))
        self.stack.start_api()
        self.sock = self.stack.socket
        self.pid = self.stack.api.proc.pid
        # Warm up (MHD, glibc and the DB threads allocate lazily), then the baseline.
        for i in range(20):
            self.assertEqual(statuses(self.raw(HEALTH)), [200])
            self.assertEqual(statuses(self.raw(post_bytes([record(i, id="warm-%d" % i)]))), [202])
        self.close_all()
        self.fds, self.rss = fd_count(self.pid), rss_kib(self.pid)

    def conn(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5 * SLOW)
        s.connect(self.sock)
        self.open.append(s)
        return s

    def raw(self, data, shut=False):
        s = self.conn()
        try:
            s.sendall(data)
        except OSError:
            pass            # closed while we wrote: read what was answered
        if shut:
            s.shutdown(socket.SHUT_WR)
        return read_until_closed(s, 10 * SLOW)

    def close_all(self):
        for s in self.open:
            s.close()
        self.open = []

    def probe_during(self, scenario, attack, seconds):
        p = Prober(self.sock)
        p.start()
        try:
            attack(time.monotonic() + seconds * SLOW)
        finally:
            p.finish(self, scenario)

    def back_to_baseline(self):
        self.close_all()
        wait_for(lambda: fd_count(self.pid) <= self.fds, timeout=10,
                 what="the API's fds back to %d (now %d)" % (self.fds, fd_count(self.pid)))
        if not VALGRIND and not sanitized(self.pid):
            wait_for(lambda: rss_kib(self.pid) <= self.rss + 4096, timeout=10,
                     what="the API's RSS back to %d KiB + 4 MiB (now %d KiB)" % (self.rss, rss_kib(self.pid)))
        self.assertTrue(self.stack.api.running())
        self.assertEqual(self.stack.request("GET", "/health")[0], 200)


class IngestHostileTest(HostileBase):
    def test_slowloris(self):
        # More slow senders than slots, each sending a byte of a request
        # every 100 ms: never complete, never idle.
        conns, sent = [], {}

        def attack(deadline):
            while time.monotonic() < deadline:
                if len(conns) < FLOOD:
                    for _ in range(200):
                        try:
                            conns.append(self.conn())
                        except OSError:
                            break       # the listen queue is full: the API is shedding them
                for s in conns:
                    k = sent.get(id(s), 0)
                    try:
                        s.send(HEALTH[k % 30:k % 30 + 1])
                        sent[id(s)] = k + 1
                    except OSError:
                        pass
                time.sleep(0.1)     # the attacker's pace, not synchronisation

        self.probe_during("slowloris (%d unix connections)" % FLOOD, attack, 6)
        # Every one was cut off (the deadline, or evicted for a newcomer)
        # though none was ever idle, and none got an answer.
        wait_for(lambda: all(is_closed(s) for s in conns), timeout=REQUEST_TIMEOUT + 10,
                 what="every slow sender closed")
        self.back_to_baseline()

    def test_idle_flood_and_slow_body(self):
        def attack(deadline):
            for _ in range(FLOOD):
                try:
                    self.conn()
                except OSError:
                    break
            while time.monotonic() < deadline:
                time.sleep(0.1)

        self.probe_during("idle flood (%d unix connections)" % FLOOD, attack, 3)
        # The API keeps at most its limit (512) plus the reserve open.
        self.assertLessEqual(fd_count(self.pid), self.fds + 512 + 64 + 8)
        self.close_all()

        # A POST whose body trickles in: the whole-request deadline closes
        # it without storing anything, though it was never idle.
        before = self.stack.db.sql("SELECT COUNT(*) FROM ingest_jobs", database="app")[0][0]
        req = post_bytes([record(1, id="slow-body")])
        s = self.conn()
        s.sendall(req[:len(req) - 20])
        t0 = time.monotonic()
        out = None
        for b in req[len(req) - 20:-1]:
            if is_closed(s):
                out = b""
                break
            try:
                s.send(bytes([b]))
            except OSError:
                out = b""
                break
            time.sleep(0.25 * SLOW)     # the attacker's pace
        if out is None:
            out = read_until_closed(s, 10 * SLOW)
        self.assertNotIn(202, statuses(out))
        self.assertLess(time.monotonic() - t0, (REQUEST_TIMEOUT + 5) * SLOW)
        self.assertEqual(self.stack.db.sql("SELECT COUNT(*) FROM ingest_jobs", database="app")[0][0], before)
        self.back_to_baseline()

    def test_header_flood_pipelining_half_close_chunking_framing(self):
        def attack(deadline):
            # Endless header lines: refused (MHD's memory limit), never served.
            for _ in range(10):
                out = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Flood: yes\r\n" * 30000)
                self.assertNotIn(200, statuses(out))
            while time.monotonic() < deadline:
                time.sleep(0.05)

        self.probe_during("header flood", attack, 1)

        # Pipelining: GETs and POSTs in one write, every answer in order.
        reqs = [b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", post_bytes([record(1, id="pipe-1")], close=False)] * 10
        out = self.raw(b"".join(reqs) + HEALTH)
        self.assertEqual(statuses(out), [200, 202] * 10 + [200])

        # Half-closed: a whole request then SHUT_WR is answered; half a
        # request then SHUT_WR gets no answer, and the connection closes.
        self.assertEqual(statuses(self.raw(HEALTH, shut=True)), [200])
        self.assertEqual(statuses(self.raw(post_bytes([record(2, id="half")]), shut=True)), [202])
        self.assertEqual(self.raw(b"GET /health HTTP/1.1\r\nHo", shut=True), b"")
        self.assertEqual(statuses(self.raw(post_bytes([record(3, id="half-body")])[:-10], shut=True)), [])

        # Invalid chunking: refused, never stored.
        head = (b"POST /api/ingest/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                b"Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n" % KEY.encode())
        line = json.dumps(record(4, id="chunk")).encode() + b"\n"
        for body in (b"zz\r\n" + line + b"\r\n0\r\n\r\n", b"-1\r\n\r\n", b"ffffffffffffffffff\r\nx",
                     b"%x\r\n%s\r\n0\r\n\r\n" % (len(line) + 5, line), b"%x\r\n%s" % (len(line), line)):
            out = self.raw(head + body, shut=True)
            self.assertNotIn(202, statuses(out), body)
        # ... while valid chunking works.
        self.assertEqual(statuses(self.raw(head + b"%x\r\n%s\r\n0\r\n\r\n" % (len(line), line), shut=True)), [202])

        # Conflicting or repeated Content-Length, or one with chunking: 400
        # before the body is read, never an answer a proxy would mis-frame.
        body = line
        for extra in (b"Content-Length: %d\r\ncontent-length: 5\r\n" % len(body),
                      b"Content-Length: 5\r\nContent-Length: %d\r\n" % len(body),
                      b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(body), len(body)),
                      b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n" % len(body)):
            out = self.raw(b"POST /api/ingest/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                           b"Content-Type: application/x-ndjson\r\n%sConnection: close\r\n\r\n%s" % (KEY.encode(), extra, body))
            self.assertEqual(statuses(out)[:1], [400], (extra, out))

        # Oversized: by Content-Length, 413 before the body; chunked, 413
        # once past max_body (8M by default), with nothing stored.
        out = self.raw(b"POST /api/ingest/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       b"Content-Type: application/x-ndjson\r\nContent-Length: 9000000000\r\n\r\n" % KEY.encode())
        self.assertEqual(statuses(out), [413])
        jobs = self.stack.db.sql("SELECT COUNT(*) FROM ingest_jobs", database="app")[0][0]
        big = (line * (9 * 1024 * 1024 // len(line) + 1))
        s = self.conn()
        s.sendall(head)
        try:
            for i in range(0, len(big), 1 << 20):
                piece = big[i:i + (1 << 20)]
                s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            s.sendall(b"0\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.assertEqual(statuses(read_until_closed(s, 30 * SLOW)), [413])
        self.assertEqual(self.stack.db.sql("SELECT COUNT(*) FROM ingest_jobs", database="app")[0][0], jobs)
        self.back_to_baseline()


class IngestPerPeerTest(HostileBase):
    # Long enough that only the per-peer limit closes connections here.
    request_timeout = 60.0

    def test_per_peer_limit(self):
        # Another local user (nobody) opens many idle connections: at most
        # max_connections_per_peer (384 by default) of them stay open, and
        # our fresh clients are answered meanwhile.
        script = ("import socket, sys\n"
                  "c = []\n"
                  "for _ in range(600):\n"
                  "    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); c.append(s)\n"
                  "print('open', flush=True)\n"
                  "def closed(s):\n"
                  "    try:\n"
                  "        return s.recv(1, socket.MSG_DONTWAIT) == b''\n"
                  "    except BlockingIOError:\n"
                  "        return False\n"
                  "    except OSError:\n"
                  "        return True\n"
                  "while sys.stdin.readline():\n"
                  "    print(sum(closed(s) for s in c), flush=True)\n")

        def demote():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            resource.setrlimit(resource.RLIMIT_NOFILE, (2048, 2048))

        os.chmod(self.tmp, 0o711)      # nobody reaches the socket (mode 0666) in it
        p = subprocess.Popen(["/usr/bin/python3", "-c", script, self.sock], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, preexec_fn=demote)
        self.addCleanup(p.wait, 10)
        self.addCleanup(p.kill)
        prober = Prober(self.sock)
        prober.start()
        self.assertEqual(p.stdout.readline().strip(), "open")

        def closed_by_api():
            p.stdin.write("\n")
            p.stdin.flush()
            return int(p.stdout.readline())
        # The API closes nobody's oldest ones as it accepts more.
        wait_for(lambda: closed_by_api() >= 600 - 384, timeout=10, what="nobody's extra connections closed")
        wait_for(lambda: len(prober.results) >= 20, timeout=10, what="fresh requests during the flood")
        self.assertLessEqual(closed_by_api(), 600 - 384 + 16)   # the rest stay: the limit, not a blanket refusal
        prober.finish(self, "one peer's flood (600 connections of nobody)")
        p.stdin.close()
        p.wait(10)
        p.stdout.close()
        self.back_to_baseline()


if __name__ == "__main__":
    unittest.main()
