"""Fixtures for the ingestion plugin's integration tests: a real MariaDB
(tests/integration/services.py), the built ingest-api and ingest-worker
with their own config, dataset and credentials files in a temp dir, and
an HTTP client on the API's unix socket.

Deadline polls, never sleeps as synchronisation; deadlines scale with
AGENTD_TEST_SLOWDOWN; under AGENTD_VALGRIND=1 the daemons run under
valgrind and a valgrind error fails the test that stops them.
"""

import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from services import MariaDB, ServiceError  # noqa: E402,F401

MARIADB_CLIENT = os.environ.get("MARIADB", "/usr/bin/mariadb")
INGEST_API = os.environ.get("INGEST_API", os.path.join(ROOT, "build", "plugins", "ingest", "ingest-api"))
INGEST_WORKER = os.environ.get("INGEST_WORKER", os.path.join(ROOT, "build", "plugins", "ingest", "ingest-worker"))
SLOW = float(os.environ.get("AGENTD_TEST_SLOWDOWN", "1"))
VALGRIND = os.environ.get("AGENTD_VALGRIND") == "1"
VALGRIND_ERROR = 99

KEY = "test-key-0123456789abcdef"
OTHER_KEY = "rotated-key-abcdef0123456789"

EVENTS_CONF = """[dataset]
table = events
key = id
max_records = 1000
max_errors = 3
[field.id]
type = string
max_length = 64
[field.ts]
type = timestamp
required = yes
[field.kind]
type = string
max_length = 8
required = yes
[field.value]
type = float
[field.count]
type = int
min = 0
[field.ok]
type = bool
"""


def wait_for(predicate, timeout=20.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def wrap(cmd, logfile):
    if not VALGRIND:
        return cmd
    return ["valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=%d" % VALGRIND_ERROR,
            "--log-file=" + logfile] + cmd


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout=30.0):
        super().__init__("localhost", timeout=timeout * SLOW)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Proc:
    """One ingest-api or ingest-worker process with its log file."""

    def __init__(self, name, cmd, tmpdir, env=None):
        self.name = name
        self.log_path = os.path.join(tmpdir, name + ".log")
        self.vg_log = os.path.join(tmpdir, name + ".valgrind")
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        e.update(env or {})
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(wrap(cmd, self.vg_log), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, env=e)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def running(self):
        return self.proc.poll() is None

    def kill(self):
        if self.running():
            self.proc.kill()
        self.proc.wait()
        self._log.close()
        self.check_sanitizers()

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Signal, wait; returns the exit status; a valgrind error raises."""
        if self.running():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("%s did not stop within %ss of %s:\n%s" % (self.name, timeout, sig, self.log()[-3000:]))
        if not self._log.closed:
            self._log.close()
        if VALGRIND and self.proc.returncode == VALGRIND_ERROR:
            with open(self.vg_log) as f:
                raise AssertionError("valgrind found errors in %s:\n%s" % (self.name, f.read()))
        self.check_sanitizers()
        return self.proc.returncode

    def check_sanitizers(self):
        """Under the ASan+UBSan build, a report in the log fails the test."""
        log = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                raise AssertionError("%s: sanitizer report:\n%s" % (self.name, log[log.index(marker) - 200:][:6000]))


class Stack:
    """MariaDB + config files + the plugin's processes, in tmpdir."""

    def __init__(self, tmpdir, db=None, datasets=None, ingest_extra="", worker_extra=""):
        self.tmp = tmpdir
        self.api = None
        self.workers = []
        self.db = None
        try:
            self._setup(db, datasets, ingest_extra, worker_extra)
        except BaseException:
            try:
                self.close()
            finally:
                raise

    def _setup(self, db, datasets, ingest_extra, worker_extra):
        tmpdir = self.tmp
        self.db = db or MariaDB(os.path.join(tmpdir, "db"))
        if not self.db.running():
            self.db.start()
        self.db.sql("CREATE DATABASE IF NOT EXISTS app; "
                    "CREATE USER IF NOT EXISTS 'ingest'@'localhost' IDENTIFIED BY 'pw-ingest-1'; "
                    "GRANT ALL ON app.* TO 'ingest'@'localhost';")
        self.socket = os.path.join(tmpdir, "api.sock")
        self.dsdir = os.path.join(tmpdir, "datasets.d")
        os.makedirs(self.dsdir, exist_ok=True)
        for name, text in (datasets or {"events": EVENTS_CONF}).items():
            with open(os.path.join(self.dsdir, name + ".conf"), "w") as f:
                f.write(text)
        self.creds = os.path.join(tmpdir, "ingest.credentials")
        self.write_credentials([("test", KEY)])
        self.conf = os.path.join(tmpdir, "ingest.conf")
        with open(self.conf, "w") as f:
            f.write("[ingest]\nlisten = %s\ndatasets = %s\ncredentials = %s\ninstance_id = test-i1\n"
                    "stats_interval = 200ms\ndrain_timeout = 10s\n%s\n"
                    "[database]\nsocket = %s\ndatabase = app\ntimeout = 3s\n"
                    "[worker]\nbatch_size = 50\nlease = 3s\npoll_interval = 50ms\nbackoff = 200ms\nbackoff_max = 1s\n%s\n"
                    % (self.socket, self.dsdir, self.creds, ingest_extra, self.db.socket, worker_extra))

    def write_credentials(self, keys, password="pw-ingest-1"):
        tmp = self.creds + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[database]\nuser = ingest\npassword = %s\n[api_keys]\n" % password)
            for name, k in keys:
                f.write("%s = %s\n" % (name, k))
        os.replace(tmp, self.creds)

    def start_api(self, wait_schema=True):
        if os.path.exists(self.socket):
            os.unlink(self.socket)
        self.api = Proc("ingest-api", [INGEST_API, "--config", self.conf], self.tmp)
        wait_for(lambda: os.path.exists(self.socket) or not self.api.running(), what="the API socket")
        if not self.api.running():
            raise AssertionError("ingest-api exited:\n" + self.api.log())
        if wait_schema:
            def healthy():
                try:
                    return self.request("GET", "/health")[0] == 200
                except OSError:     # bound but not listening yet
                    return False
            wait_for(healthy, what="the API to be ready")
        return self.api

    def start_worker(self, n=None, env=None):
        n = len(self.workers) + 1 if n is None else n
        w = Proc("ingest-worker-%d-%d" % (n, len(self.workers)), [INGEST_WORKER, "--config", self.conf, "--instance", str(n)],
                 self.tmp, env=env)
        self.workers.append(w)
        return w

    def request(self, method, path, body=None, headers=None, key=KEY, timeout=30.0):
        """(status, headers dict lower-case, parsed JSON or text)."""
        h = dict(headers or {})
        if key is not None:
            h.setdefault("Authorization", "Bearer " + key)
        c = UnixHTTP(self.socket, timeout)
        try:
            try:
                c.request(method, path, body=body, headers=h)
            except (BrokenPipeError, ConnectionResetError):
                # The API answered (413) from the headers and closed before
                # the whole body was sent: read that answer, as curl does.
                pass
            r = c.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
        finally:
            c.close()
        if hdrs.get("content-type", "").startswith("application/json"):
            return r.status, hdrs, json.loads(data)
        return r.status, hdrs, data.decode(errors="replace")

    def post(self, records, dataset="events", idem=None, fmt="ndjson", gz=False, **kw):
        if fmt == "ndjson":
            body, ct = "".join(json.dumps(r) + "\n" for r in records).encode(), "application/x-ndjson"
        elif fmt == "json":
            body, ct = json.dumps(records).encode(), "application/json"
        else:
            body, ct = records.encode(), "text/csv"
        h = {"Content-Type": ct}
        if gz:
            body = gzip.compress(body)
            h["Content-Encoding"] = "gzip"
        if idem:
            h["Idempotency-Key"] = idem
        return self.request("POST", "/api/ingest/" + dataset, body=body, headers=h, **kw)

    def job(self, job_id):
        return self.request("GET", "/api/ingest/jobs/%d" % job_id)[2]

    def wait_jobs_done(self, ids, timeout=60.0):
        def done():
            rows = self.db.sql("SELECT id, status FROM ingest_jobs WHERE id IN (%s)" % ",".join(map(str, ids)), database="app")
            bad = [r for r in rows if r[1] == "dead"]
            if bad:
                raise AssertionError("jobs dead: %r" % bad)
            return len(rows) == len(ids) and all(r[1] == "done" for r in rows)
        wait_for(done, timeout, interval=0.1, what="jobs %s..%s done" % (min(ids), max(ids)))

    def close(self):
        errors = []
        for p in [self.api] + self.workers:
            if p is None:
                continue
            try:
                p.stop()
            except AssertionError as e:
                errors.append(str(e))
        try:
            if self.db:
                self.db.stop()
        except ServiceError as e:
            errors.append(str(e))
        if errors:
            raise AssertionError("\n".join(errors))


class TableLock:
    """Holds LOCK TABLES ingest_jobs, ingest_payloads WRITE from a root
    session, so API requests that reach the database wait: a request that
    stays in flight, deterministically. Release with release()."""

    def __init__(self, db):
        self.p = subprocess.Popen([MARIADB_CLIENT, "--no-defaults", "--protocol=socket", "--socket=" + db.socket,
                                   "--user=root", "--batch", "--unbuffered", "--skip-column-names", "app"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.p.stdin.write("LOCK TABLES ingest_jobs WRITE, ingest_payloads WRITE;\nSELECT 'locked';\n")
        self.p.stdin.flush()
        if self.p.stdout.readline().strip() != "locked":
            raise AssertionError("could not lock the tables")

    def release(self):
        if self.p.poll() is None:
            self.p.stdin.write("UNLOCK TABLES;\n")
            self.p.stdin.close()
            self.p.wait(30)
        self.p.stdout.close()


def waiting_on_lock(db):
    return any("lock" in (r[6] or "").lower() for r in db.sql("SHOW PROCESSLIST") if r[1] == "ingest")


def record(i, **over):
    r = {"id": "r%06d" % i, "ts": "2026-01-02T03:04:05.5+01:00", "kind": "click", "value": i * 0.5, "count": i, "ok": i % 2 == 0}
    r.update(over)
    return r


class IngestTestCase(unittest.TestCase):
    """Cleanups, not tearDown: they also run when setUp fails half way, so
    no MariaDB or daemon outlives its test."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="ingest-it-")
        self.addCleanup(self._tmp.cleanup)
        self.tmp = self._tmp.name
        self.stack = None

    def make_stack(self, **kw):
        self.stack = Stack(self.tmp, **kw)     # stops what it started if it fails
        self.addCleanup(self._close_stack)
        return self.stack

    def hold_table(self, table):
        """Another session holding the end of the stack's (empty) table, so
        every INSERT into it waits; release() lets go."""
        p = subprocess.Popen([MARIADB_CLIENT, "--no-defaults", "--protocol=socket", "--socket=" + self.stack.db.socket,
                              "--user=root", "--batch", "--skip-column-names", "--unbuffered", "--database=app"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (p.kill(), p.wait(), p.stdout.close()))
        p.stdin.write("START TRANSACTION; SELECT COUNT(*) FROM %s FOR UPDATE; SELECT 'locked';\n" % table)
        p.stdin.flush()
        self.assertEqual([p.stdout.readline().strip() for _ in range(2)], ["0", "locked"])
        return p

    def release(self, p):
        p.stdin.write("ROLLBACK;\n")
        p.stdin.close()
        self.assertEqual(p.wait(timeout=30), 0)

    def wait_lock_wait(self, what, timeout=20.0):
        """Until some transaction waits for a row lock. (InnoDB refreshes
        INNODB_TRX only when it was not read for 100 ms: polled every 200.)"""
        wait_for(lambda: self.stack.db.sql("SELECT COUNT(*) FROM information_schema.INNODB_TRX "
                                           "WHERE trx_state = 'LOCK WAIT'") != [["0"]],
                 timeout=timeout, interval=0.2, what=what)

    def _close_stack(self):
        s = self.stack
        failed = not getattr(getattr(self, "_outcome", None), "success", True)
        if failed:
            for p in [s.api] + s.workers:
                if p:
                    sys.stderr.write("---- %s ----\n%s\n" % (p.name, p.log()[-5000:]))
        s.close()
