"""Integration test harness: runs the built agentd (or aws-probe) against the
AWS emulator, the way systemd would run it.

Agent(tmpdir, fake, config=...) writes a config directory, binds a datagram
socket and passes it as NOTIFY_SOCKET (plus WATCHDOG_USEC when asked), starts
agentd with stderr captured to a file, and collects every sd_notify message on
a thread. Tests wait on conditions with deadlines (wait_notify, wait_for),
never on sleeps.
"""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("FAKEAWS_DIR", os.path.join(HERE, "..", "fakeaws")))
from client import FakeAWS  # noqa: E402

AGENTD = os.environ.get("AGENTD", "agentd")
AGENTCTL = os.environ.get("AGENTCTL", "agentctl")
AWS_PROBE = os.environ.get("AWS_PROBE", "aws-probe")
# Under valgrind or sanitizers everything is slower: scale deadlines.
SLOW = float(os.environ.get("AGENTD_TEST_SLOWDOWN", "1"))
VALGRIND = os.environ.get("AGENTD_VALGRIND") == "1"
VALGRIND_ERROR = 99


def wrap(cmd, logfile):
    """Prefixes cmd with valgrind when the valgrind test setup is active."""
    if not VALGRIND:
        return cmd
    return ["valgrind", "--quiet", "--leak-check=full", "--show-leak-kinds=definite,indirect",
            "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=%d" % VALGRIND_ERROR,
            "--log-file=" + logfile] + cmd


def wait_for(predicate, timeout=10.0, interval=0.02, what="condition"):
    """Polls predicate() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=5.0):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Agent:
    def __init__(self, tmpdir, fake=None, config="", env=None, watchdog_usec=None, args=(),
                 binary=None, log_level="debug", start=True, prefix=()):
        self.tmpdir = tmpdir
        self.confdir = os.path.join(tmpdir, "conf")
        os.makedirs(os.path.join(self.confdir, "agentd.conf.d"), exist_ok=True)
        self.socket_path = os.path.join(tmpdir, "run", "control.sock")
        self.health_socket = os.path.join(tmpdir, "run", "health.sock")
        self.write_config(config)
        self.notify_path = os.path.join(tmpdir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        self.messages = []          # (monotonic time, message)
        self.cond = threading.Condition()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("AWS_") and k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
        if fake is not None:
            self.env.update(fake.env())
        self.env["NOTIFY_SOCKET"] = self.notify_path
        if watchdog_usec:
            self.env["WATCHDOG_USEC"] = str(watchdog_usec)
        self.env.update(env or {})
        self.args = [binary or AGENTD, "--config", self.confdir, "--log-level", log_level] + list(args)
        # Runs before valgrind and agentd, e.g. ("ip", "netns", "exec", NAME).
        self.prefix = list(prefix)
        self.log_path = os.path.join(tmpdir, "agentd.log")
        self.proc = None
        self.popen_kw = {}          # extra subprocess.Popen arguments (e.g. pass_fds)
        self.stdout = None
        self._reader = threading.Thread(target=self._read_notify, daemon=True)
        self._reader.start()
        if start:
            self.start()

    def write_config(self, config, name="agentd.conf"):
        with open(os.path.join(self.confdir, name), "w") as f:
            # A state dir of its own: rollback copies of one test never
            # leak into the next (nor into /var/lib/agentd).
            f.write("[agent]\ncontrol_socket = %s\nstate_dir = %s\n" % (self.socket_path, os.path.join(self.tmpdir, "state"))
                    if name == "agentd.conf" else "")
            # Never the fixed default port or /run; no fpm check unless a
            # test asks (a later [health] section in `config` wins).
            f.write("[health]\nlisten = unix:%s\ndefault_check = no\n" % self.health_socket
                    if name == "agentd.conf" else "")
            # Nor the fixed StatsD port: parallel agents would race for it
            # (a test that wants StatsD names its own port).
            f.write("[metrics]\nstatsd_listen = off\n" if name == "agentd.conf" else "")
            f.write(config)

    def start(self):
        self._log = open(self.log_path, "ab")
        self.valgrind_log = os.path.join(self.tmpdir, "valgrind.log")
        self.proc = subprocess.Popen(self.prefix + wrap(self.args, self.valgrind_log), env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self._log, **self.popen_kw)

    def _read_notify(self):
        while True:
            try:
                data = self.notify.recv(4096)
            except OSError:
                return
            with self.cond:
                for line in data.decode(errors="replace").split("\n"):
                    if line:
                        self.messages.append((time.monotonic(), line))
                self.cond.notify_all()

    def wait_notify(self, prefix, timeout=20.0, count=1):
        """Waits until `count` notify messages starting with prefix arrived.
        Once agentd has exited, what it sent is already queued on our socket:
        then wait only briefly for the reader thread."""
        deadline = time.monotonic() + timeout * SLOW
        exited_at = None
        with self.cond:
            while True:
                hits = [m for t, m in self.messages if m.startswith(prefix)]
                if len(hits) >= count:
                    return hits
                left = deadline - time.monotonic()
                if exited_at is None and self.proc and self.proc.poll() is not None:
                    exited_at = time.monotonic()
                if left <= 0 or (exited_at is not None and time.monotonic() - exited_at > 2):
                    raise AssertionError("no %r notification (got %r); agentd log:\n%s"
                                         % (prefix, [m for _, m in self.messages][-20:], self.log()[-4000:]))
                self.cond.wait(min(left, 0.2))

    def notifications(self, prefix=""):
        with self.cond:
            return [(t, m) for t, m in self.messages if m.startswith(prefix)]

    def ctl(self, *args, env=None):
        e = dict(os.environ)
        e.pop("AGENTD_CONTROL_SOCKET", None)
        e.update(env or {})
        return subprocess.run([AGENTCTL, "--socket", self.socket_path] + list(args), env=e,
                              capture_output=True, text=True, timeout=30 * SLOW)

    def status(self):
        """(exit code, parsed --json document)"""
        p = self.ctl("status", "--json")
        try:
            doc = json.loads(p.stdout) if p.stdout.strip() else None
        except ValueError:
            raise AssertionError("agentctl status --json printed no JSON: %r %r" % (p.stdout, p.stderr))
        return p.returncode, doc

    def subsystem(self, doc, name):
        for s in doc["subsystems"]:
            if s["name"] == name:
                return s
        raise AssertionError("no subsystem %s in %r" % (name, doc["subsystems"]))

    def health(self, path="/health", method="GET", headers=None, body=None, timeout=5.0):
        """One HTTP request to the health endpoint on its unix socket:
        (status, headers dict with lower-case names, body bytes)."""
        c = UnixHTTPConnection(self.health_socket, timeout=timeout * SLOW)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def health_doc(self):
        status, _, body = self.health()
        return status, json.loads(body)

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        if self.proc is None:
            return None
        if self.stdout is not None:
            return self.proc.returncode     # stopped already
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("agentd did not stop within %ss of %s" % (timeout, sig))
        self.stdout = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()
        if self.proc.returncode == VALGRIND_ERROR and VALGRIND:
            with open(self.valgrind_log) as f:
                raise AssertionError("valgrind found errors in agentd:\n" + f.read())
        return self.proc.returncode

    def close(self):
        try:
            self.stop()
        finally:
            self.notify.close()


def run_probe(tmpdir, fake, target, body, service="secretsmanager", query=False, count=1, interval="0",
              config="", env=None, timeout=120):
    """Runs aws-probe; returns (exit code, list of result dicts, stderr log)."""
    confdir = os.path.join(tmpdir, "probe-conf")
    os.makedirs(confdir, exist_ok=True)
    with open(os.path.join(confdir, "agentd.conf"), "w") as f:
        f.write("[agent]\ncontrol_socket = %s\n" % os.path.join(tmpdir, "probe.sock"))
        f.write(config)
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "NOTIFY_SOCKET"}
    e.update(fake.env())
    e.update(env or {})
    args = [AWS_PROBE, "--config", confdir, "--service", service, "--target", target, "--body", body,
            "--count", str(count), "--interval", interval] + (["--query"] if query else [])
    vlog = os.path.join(tmpdir, "valgrind-probe.log")
    p = subprocess.run(wrap(args, vlog), env=e, capture_output=True, text=True, timeout=timeout * SLOW)
    if VALGRIND and p.returncode == VALGRIND_ERROR:
        with open(vlog) as f:
            raise AssertionError("valgrind found errors in aws-probe:\n" + f.read())
    results = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    # Kept for the secret-leak scan in AgentTestCase.tearDown.
    n = len([f for f in os.listdir(tmpdir) if f.startswith("probe-") and f.endswith(".log")])
    with open(os.path.join(tmpdir, "probe-%d.log" % n), "w") as f:
        f.write(p.stderr + p.stdout)
    return p.returncode, results, p.stderr + p.stdout


class AgentTestCase(unittest.TestCase):
    """Gives each test a temp dir, a fresh emulator, and cleans up agents."""

    fake_state = None
    fake_args = ()

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="agentd-it-")
        self.tmp = self._tmp.name
        self.fake = FakeAWS(os.path.join(self.tmp, "fake"), state=self.fake_state, extra_args=self.fake_args)
        self.agents = []
        # tearDown does not run when setUp fails; cleanups do.
        self.addCleanup(self._stop_leftovers)

    def _stop_leftovers(self):
        for a in self.agents:
            if a.proc and a.proc.poll() is None:
                a.proc.kill()
                a.proc.wait()
        self.fake.stop()
        self._tmp.cleanup()

    def tearDown(self):
        for a in self.agents:
            try:
                a.close()
            except AssertionError:
                pass
        leaks = self._secret_leaks()
        self.fake.stop()
        if self._outcome_failed():
            for a in self.agents:
                sys.stderr.write("---- agentd log (%s) ----\n%s\n" % (a.tmpdir, a.log()[-6000:]))
            sys.stderr.write("---- fakeaws output ----\n%s\n" % self.fake.output()[-3000:])
        if os.environ.get("AGENTD_TEST_KEEP"):
            kept = tempfile.mkdtemp(prefix="agentd-kept-")
            shutil.copytree(self.tmp, kept, dirs_exist_ok=True, ignore_dangling_symlinks=True,
                            ignore=shutil.ignore_patterns("*.sock"))
            sys.stderr.write("kept a copy in %s\n" % kept)
        self._tmp.cleanup()
        self.assertEqual(leaks, [], "secret material in agentd or emulator output")

    def _secret_leaks(self):
        """Every secret key and session token the emulator issued, searched
        for in everything agentd, aws-probe and the emulator printed."""
        try:
            creds = self.fake.state()["credentials"]
        except Exception:
            return []
        secrets = [c["SecretAccessKey"] for c in creds["issued"]] + [c["Token"] for c in creds["issued"]]
        secrets += [c["secret_access_key"] for c in creds["static"]]
        # Secrets Manager values: whole strings and, for JSON ones, the
        # password-like fields (usernames, hosts and ports are not secret).
        for sec in self.fake.state()["secrets"].values():
            for v in sec["versions"].values():
                text = v.get("string") or ""
                try:
                    doc = json.loads(text)
                except ValueError:
                    doc = None
                if isinstance(doc, dict):
                    secrets += [str(val) for k, val in doc.items() if "pass" in k.lower() and len(str(val)) >= 6]
                elif len(text) >= 6:
                    secrets.append(text)
        texts = [self.fake.output()]
        # agentd's own output; not the rendered files or the services' logs.
        for root, _, files in os.walk(self.tmp):
            for f in files:
                if f in ("agentd.log", "valgrind.log", "valgrind-probe.log") or f.startswith("probe-"):
                    with open(os.path.join(root, f), errors="replace") as fh:
                        texts.append(fh.read())
        return [s[:6] + "..." for s in secrets if s and any(s in t for t in texts)]

    def _outcome_failed(self):
        # The outcome's own flag is reset for the tearDown part: ask the result.
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return bool(result) and any(t is self for t, _ in result.failures + result.errors)

    def agent(self, **kw):
        self._agent_seq = getattr(self, "_agent_seq", 0) + 1
        d = os.path.join(self.tmp, "agent%d" % self._agent_seq)
        os.makedirs(d)
        a = Agent(d, self.fake, **kw)
        self.agents.append(a)
        return a


def main():
    unittest.main(verbosity=2)
