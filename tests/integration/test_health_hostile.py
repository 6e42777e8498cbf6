"""The health endpoint against hostile clients (issue 16): slowloris on TCP
and on the unix socket, idle floods, header floods, pipelining, half-closed
connections, invalid chunking, conflicting Content-Length. Throughout, a
prober plays the ALB's check: a fresh connection and a /health request
every 50 ms on TCP and on the unix socket. Every one of them must be
answered 200; afterwards agentd's descriptors and RSS are back to where
they were. The 100 ms answer target is measured by
bench/health-hostile-bench.py; here the latency is printed and only checked against a
generous bound, and not at all under valgrind.

Attackers connect from 127.0.0.2 and up (all of 127.0.0.0/8 is loopback),
the prober from 127.0.0.1, so the per-peer limit is exercised apart from
the global one. Sizes are bounded: this also runs under ASan and valgrind.
"""

import os
import re
import resource
import socket
import threading
import time

from harness import SLOW, VALGRIND, AgentTestCase, main, wait_for
from hostile import fd_count, is_closed, read_until_closed, rss_kib, sanitized
from services import free_port

MAX_CONN = 32
PER_PEER = 8
REQUEST_TIMEOUT = 1.0       # seconds ([health] request_timeout)
GET = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


class Prober(threading.Thread):
    """A fresh client every 50 ms on each address, as the ALB (through
    nginx) would be: records each answer's status and latency."""

    def __init__(self, port, unix_path):
        super().__init__(daemon=True)
        self.port, self.unix_path = port, unix_path
        self.stop = threading.Event()
        self.results = []       # (transport, status or error, seconds)

    def one(self, transport):
        t0 = time.monotonic()
        try:
            if transport == "tcp":
                s = socket.create_connection(("127.0.0.1", self.port), timeout=5 * SLOW)
            else:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(5 * SLOW)
                s.connect(self.unix_path)
            with s:
                s.sendall(GET)
                data = read_until_closed(s, 5 * SLOW) or b""
            m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
            status = int(m.group(1)) if m else "no answer (%r)" % data[:40]
        except OSError as e:
            status = "%s: %s" % (type(e).__name__, e)
        self.results.append((transport, status, time.monotonic() - t0))

    def run(self):
        while not self.stop.is_set():
            self.one("tcp")
            self.one("unix")
            self.stop.wait(0.05)

    def finish(self, test, scenario):
        self.stop.set()
        self.join()
        failed = [r for r in self.results if r[1] != 200]
        lat = sorted(r[2] for r in self.results)
        test.assertGreater(len(lat), 4, scenario)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print("%s: %d fresh /health requests, %d failed, latency p50 %.1f ms p99 %.1f ms max %.1f ms"
              % (scenario, len(lat), len(failed), lat[len(lat) // 2] * 1e3, p99 * 1e3, lat[-1] * 1e3),
              flush=True)
        test.assertEqual(failed, [], "%s: a fresh client was not answered" % scenario)
        if not VALGRIND:
            # The target is 100 ms (bench/health-hostile-bench.py); a test on
            # a shared 2-core machine (load 9 seen, 1.5 s outliers) only
            # catches a stall; an unanswered probe fails above.
            test.assertLess(lat[-1], 5.0 * SLOW, "%s: a fresh client waited %.0f ms" % (scenario, lat[-1] * 1e3))


class HealthHostileTest(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.open = []
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
        self.port = free_port()
        self.sock = os.path.join(self.tmp, "health.sock")
        self.a = self.agent(config="[health]\nlisten = 127.0.0.1:%d, unix:%s\n"
                                   "max_connections = %d\nmax_connections_per_peer = %d\n"
                                   "timeout = 30s\nrequest_timeout = %gs\n"
                                   % (self.port, self.sock, MAX_CONN, PER_PEER, REQUEST_TIMEOUT * SLOW))
        self.a.health_socket = self.sock
        self.a.wait_notify("READY=1")
        wait_for(lambda: self.a.health()[0] == 200, what="healthy")
        self.pid = self.a.proc.pid
        # Warm up (MHD and glibc allocate lazily), then take the baseline.
        for _ in range(20):
            self.raw(GET)
            self.a.health()
        self.close_all()
        self.fds, self.rss = fd_count(self.pid), rss_kib(self.pid)

    def tearDown(self):
        for s in self.open:
            s.close()
        super().tearDown()

    def tcp(self, src=2):
        """A connection from 127.0.0.SRC."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.%d" % src, 0))
        s.settimeout(5 * SLOW)
        s.connect(("127.0.0.1", self.port))
        self.open.append(s)
        return s

    def unix(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5 * SLOW)
        s.connect(self.sock)
        self.open.append(s)
        return s

    def raw(self, data, src=2):
        s = self.tcp(src)
        s.sendall(data)
        return read_until_closed(s, 5 * SLOW)

    def probe_during(self, scenario, attack, seconds):
        """Runs attack(deadline) while the prober checks every 50 ms."""
        p = Prober(self.port, self.sock)
        p.start()
        attack(time.monotonic() + seconds * SLOW)
        p.finish(self, scenario)

    def close_all(self):
        for s in self.open:
            s.close()
        self.open = []

    def back_to_baseline(self):
        self.close_all()
        wait_for(lambda: fd_count(self.pid) <= self.fds, timeout=10,
                 what="agentd's fds back to %d (now %d)" % (self.fds, fd_count(self.pid)))
        # valgrind's own RSS says nothing of agentd's; ASan's quarantine keeps freed memory.
        if not VALGRIND and not sanitized(self.pid):
            wait_for(lambda: rss_kib(self.pid) <= self.rss + 2048, timeout=10,
                     what="agentd's RSS back to %d KiB + 2 MiB (now %d KiB)" % (self.rss, rss_kib(self.pid)))
        self.assertIsNone(self.a.proc.poll())

    # ------------------------------------------------------------------
    def test_slowloris_tcp_and_unix(self):
        # Many more slow senders than slots, from many peers, each sending
        # a byte of its request every 100 ms: never complete, never idle.
        conns = [self.tcp(2 + i % 25) for i in range(150)] + [self.unix() for _ in range(60)]
        sent = {id(s): 0 for s in conns}

        def attack(deadline):
            while time.monotonic() < deadline:
                for s in conns:
                    try:
                        s.send(GET[sent[id(s)] % 20:sent[id(s)] % 20 + 1])
                        sent[id(s)] += 1
                    except OSError:
                        pass
                time.sleep(0.1)     # the attacker's pace, not synchronisation

        self.probe_during("slowloris (150 TCP from 25 peers, 60 unix)", attack, 4)
        # Each was cut off by the whole-request deadline (or evicted): none
        # is still open, though none was ever idle.
        wait_for(lambda: all(is_closed(s) for s in conns), timeout=REQUEST_TIMEOUT + 5,
                 what="every slow sender closed")
        self.back_to_baseline()

    def test_idle_flood_and_per_peer_limit(self):
        def attack(deadline):
            # 600 idle connections from 60 peers: the kernel queues what
            # agentd has not accepted; agentd keeps at most its limit.
            for i in range(600):
                self.tcp(2 + i % 60)
            for _ in range(100):
                self.unix()
            while time.monotonic() < deadline:
                time.sleep(0.1)

        self.probe_during("idle flood (600 TCP, 100 unix)", attack, 3)
        self.assertLessEqual(fd_count(self.pid), self.fds + 2 * (MAX_CONN + 16))
        self.close_all()

        # One peer alone: at most PER_PEER of its connections stay open.
        conns = [self.tcp(200) for _ in range(PER_PEER * 3)]
        wait_for(lambda: sum(is_closed(s) for s in conns) >= PER_PEER * 2, timeout=3,
                 what="that peer's extra connections closed")
        # ... and the peer can still be served (its oldest waiting one went).
        self.assertTrue(self.raw(GET, src=200).startswith(b"HTTP/1.1 200"))
        self.back_to_baseline()

    def test_header_flood_pipelining_half_close_chunking(self):
        def attack(deadline):
            # Header floods: endless header lines, one huge header.
            for i in range(20):
                s = self.tcp(2 + i)
                try:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Flood: yes\r\n" * 4000)
                except OSError:
                    pass            # closed while we wrote: what we want
                out = read_until_closed(s, 5 * SLOW)
                self.assertNotIn(b" 200 ", out or b"")
            while time.monotonic() < deadline:
                time.sleep(0.05)

        self.probe_during("header flood", attack, 1)

        # Pipelining: 100 requests in one write, 100 answers in order.
        s = self.tcp(3)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 99 + GET)
        out = read_until_closed(s, 10 * SLOW)
        self.assertEqual(re.findall(rb"HTTP/1\.1 (\d{3}) ", out or b""), [b"200"] * 100)

        # Half-closed: a whole request then SHUT_WR is answered; half a
        # request then SHUT_WR is closed without one.
        s = self.tcp(4)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        self.assertTrue((read_until_closed(s, 5 * SLOW) or b"").startswith(b"HTTP/1.1 200"))
        s = self.tcp(4)
        s.sendall(b"GET /health HTTP/1.1\r\nHo")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(read_until_closed(s, 5 * SLOW), b"")

        # Invalid chunking: refused before a byte of the body is read.
        for body in (b"zz\r\nhello\r\n0\r\n\r\n", b"-1\r\n\r\n", b"ffffffffffffffffff\r\nx", b"5\r\nhel"):
            out = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
            self.assertTrue((out or b"").startswith(b"HTTP/1.1 4"), out)
            self.assertNotIn(b" 200 ", out)

        # Conflicting Content-Length (and a repeated one): 400, never an
        # answer that a proxy reading the other value would mis-frame.
        for cls in ((b"0", b"5"), (b"5", b"0"), (b"0", b"0")):
            out = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\ncontent-length: %s\r\n"
                           b"Connection: close\r\n\r\nhello" % cls)
            self.assertTrue((out or b"").startswith(b"HTTP/1.1 400"), (cls, out))
        self.back_to_baseline()

    def test_unix_socket_only_for_its_group(self):
        st = os.stat(self.sock)
        self.assertEqual(st.st_mode & 0o777, 0o660)
        # www-data on Debian (nginx's workers); root's group where it is missing.
        try:
            import grp
            want = grp.getgrnam("www-data").gr_gid
        except KeyError:
            want = 0
        self.assertEqual(st.st_gid, want)
        # Another local user cannot connect (and so cannot take its slots).
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(self.sock)
                except PermissionError:
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, "nobody could connect to the health socket")


if __name__ == "__main__":
    main()
