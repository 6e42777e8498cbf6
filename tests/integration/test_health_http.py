"""The health endpoint under hostile HTTP: slow senders, huge headers, bad
methods, bodies, pipelining, garbage, more idle connections than allowed.
agentd must keep answering, close what it must, and leak no descriptor.
Also: TCP and unix listeners side by side, and systemd socket activation."""

import os
import re
import signal
import socket
import time

from harness import SLOW, AgentTestCase, main, wait_for
from services import free_port

MAX_CONN = 16


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def recv_all(s, until=None, timeout=5.0):
    """Reads until EOF (or until `until(data)` is true) within timeout."""
    s.settimeout(timeout * SLOW)
    data = b""
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
        if until and until(data):
            break
    return data


class HealthHttpTest(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        sock = os.path.join(self.tmp, "health.sock")
        self.a = self.agent(config="[health]\nlisten = 127.0.0.1:%d, unix:%s\n"
                                   "max_connections = %d\ntimeout = 1s\n"
                                   "[check.mem]\ntype = memory\nmin_available = 1MiB\ninterval = 2s\ntimeout = 1s\n"
                                   % (self.port, sock, MAX_CONN))
        self.a.health_socket = sock
        self.a.wait_notify("READY=1")
        wait_for(lambda: self.a.health()[0] == 200, timeout=30, what="healthy")

    def conn(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=5 * SLOW)

    def raw(self, data, until=None):
        with self.conn() as s:
            s.sendall(data)
            return recv_all(s, until=until)

    def healthy(self):
        status, _, body = self.a.health()
        return status == 200 and b'"status":"healthy"' in body

    def test_malformed_requests_without_crash_or_fd_leak(self):
        pid = self.a.proc.pid
        # Warm up (MHD allocates lazily), then count.
        self.assertTrue(self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
            b"HTTP/1.1 200"))
        baseline = fd_count(pid)

        # Bad methods, and bodies.
        out = self.raw(b"BREW /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 405"), out[:100])
        self.assertIn(b"Allow: GET, HEAD", out)
        out = self.raw(b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        self.assertTrue(out.startswith(b"HTTP/1.1 405"), out[:100])
        out = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:100])
        out = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:100])

        # Huge headers: refused by the per-connection memory limit.
        out = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")
        self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 4"), out[:100])
        self.assertNotIn(b"200 OK", out)
        out = self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(3000)) +
                       b"\r\n")
        self.assertNotIn(b"200 OK", out)

        # Garbage, and an unknown protocol version.
        out = self.raw(os.urandom(4096) + b"\r\n\r\n")
        self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 400"), out[:100])
        out = self.raw(b"GET /health HTTP/7.0\r\n\r\n")
        self.assertNotIn(b"200 OK", out)
        self.assertTrue(self.healthy())

        # Pipelining: three requests in one write, three answers in order.
        reqs = (b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n" +
                b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = self.raw(reqs)
        statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", out)
        self.assertEqual(statuses, [b"200", b"200", b"404"])

        # A slow sender holds only its own slot, and is cut off at the
        # connection timeout (1 s).
        slow = self.conn()
        slow.sendall(b"GET /hea")
        t0 = time.monotonic()
        for _ in range(20):
            self.assertTrue(self.healthy())
        self.assertEqual(recv_all(slow, timeout=10), b"")
        self.assertLess(time.monotonic() - t0, 8 * SLOW)
        slow.close()

        # More idle connections than max_connections: the oldest waiting
        # ones are closed to make room (slots are kept for new clients),
        # the newest stay, and a fresh request is answered at once.
        idle = [self.conn() for _ in range(MAX_CONN + 8)]
        self.assertTrue(self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
            b"HTTP/1.1 200"))
        self.assertTrue(self.healthy())
        closed = [recv_all(s, timeout=0.5) == b"" for s in idle[:9]]
        self.assertTrue(all(closed), closed)
        for s in idle:
            s.close()
        wait_for(lambda: self.raw(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
            b"HTTP/1.1 200"), what="TCP answers again")

        # Nothing leaked.
        wait_for(lambda: fd_count(pid) <= baseline, what="fd count back to %d (now %d)" % (baseline, fd_count(pid)))
        self.assertIsNone(self.a.proc.poll())

    def test_keepalive_reuses_one_connection(self):
        with self.conn() as s:
            for _ in range(50):
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                out = recv_all(s, until=lambda d: b"\r\n\r\n" in d and d.endswith(b"}"))
                self.assertTrue(out.startswith(b"HTTP/1.1 200"), out[:100])


class SocketActivationTest(AgentTestCase):
    def test_listen_fds_are_used(self):
        path = os.path.join(self.tmp, "act.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(16)
        self.addCleanup(srv.close)
        a = self.agent(config="[health]\nlisten = unix:%s\n" % path, start=False)
        a.health_socket = path
        # As systemd does: the socket as fd 3, LISTEN_FDS=1, LISTEN_PID=ours.
        a.args = ["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh"] + a.args
        a.env["LISTEN_FDS"] = "1"
        fd = srv.fileno()
        a.popen_kw = {"pass_fds": (3,), "preexec_fn": lambda: os.dup2(fd, 3)}
        a.start()
        a.wait_notify("READY=1")
        status, doc = a.health_doc()
        self.assertEqual((status, doc["status"]), (200, "healthy"))
        self.assertIn("(socket activation)", a.log())
        self.assertEqual(a.stop(signal.SIGTERM), 0)
        # Not ours to remove: systemd keeps it for the next start.
        self.assertTrue(os.path.exists(path))


if __name__ == "__main__":
    main()
