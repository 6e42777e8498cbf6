"""Plugins ([plugin.NAME], agent/src/plugins/): agentd starts the sample plugin
(plugins/sample, the real binary) after bootstrap, reports it, reloads it after a
rotation through its credentials file, and stops it at drain after /health turns 503.

Each test runs twice: with the systemd runner, against the fake systemd
(fake_systemd.py) on a private bus, which runs the unit's command as systemd would
(StartUnit, StopUnit, Restart=on-failure with NRestarts, PropertiesChanged, ExecReload
by SIGHUP); and with the exec runner, where no systemd answers on the bus and agentd
runs exec= itself."""

import json
import os
import signal
import socket
import stat
import threading
import time

from fake_systemd import DBusDaemon, FakeSystemd
from harness import SLOW, AgentTestCase, main, wait_for

SAMPLE = os.environ.get("SAMPLE_PLUGIN", "agentd-sample-plugin")
TEMPLATE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "sample",
                        "sample-plugin.env.in")
UNIT = "agentd-sample-plugin.service"


def secret_doc(user, password):
    return json.dumps({"username": user, "password": password, "host": "db.internal", "port": 3306,
                       "dbname": "app", "engine": "mysql"})


def plugin_get(sock, path="/health"):
    """(status, body) from the plugin's own socket; (0, error) when it does not answer."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2 * SLOW)
            s.connect(sock)
            s.sendall(("GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" % path).encode())
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return 0, str(e)
    head, _, body = data.decode().partition("\r\n\r\n")
    return int(head.split()[1]), body


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running (the fake systemd or agentd reaps it soon).
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class PluginTests:
    runner = None       # "systemd" or "exec"

    def setUp(self):
        super().setUp()
        self.dir = os.path.join(self.tmp, "plugin")
        os.makedirs(self.dir)
        self.creds = os.path.join(self.dir, "sample.env")
        self.sock = os.path.join(self.dir, "health.sock")
        self.pidfile = os.path.join(self.dir, "sample.pid")
        self.bus = DBusDaemon(os.path.join(self.tmp, "dbus"))
        self.systemd = None
        if self.runner == "systemd":
            self.bus.start()
            self.addCleanup(self.bus.stop)

    def command(self, drain_ms=0):
        # A script: inih refuses config lines over 200 bytes, and the paths are long.
        script = os.path.join(self.dir, "run-%d" % drain_ms)
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexec %s --credentials %s --socket %s --pidfile %s --drain-time %d\n" % (
                SAMPLE, self.creds, self.sock, self.pidfile, drain_ms))
        os.chmod(script, 0o755)
        return script

    def start_systemd(self, **opts):
        if self.runner != "systemd":
            return None
        self.systemd = FakeSystemd(self.bus, os.path.join(self.tmp, "systemd"))
        self.systemd.set_service(UNIT, opts.pop("command", self.command()), reload="HUP", **opts)
        self.systemd.start()
        self.addCleanup(self.systemd.stop)
        return self.systemd

    def config(self, command=None, drain_timeout="10s", critical="yes", refresh="1h"):
        reload = ("reload = %s\n" % UNIT if self.runner == "systemd" else
                  # The development runner: no systemd to send ExecReload=.
                  "reload_command = [ ! -s %s ] || kill -HUP $(cat %s)\n" % (self.pidfile, self.pidfile))
        return ("[secret.db]\nid = db\nrefresh = %s\n"
                "[render.sample-credentials]\ntemplate = %s\ntarget = %s\nformat = env\nmode = 0600\n%s"
                "[plugin.sample]\n%sexec = %s\nhealth = http://localhost/health\nhealth_socket = %s\n"
                "drain_timeout = %s\ncritical = %s\n" % (
                    refresh, os.path.abspath(TEMPLATE), self.creds, reload,
                    "unit = %s\n" % UNIT if self.runner == "systemd" else "", command or self.command(),
                    self.sock, drain_timeout, critical))

    def boot(self, **kw):
        env = {"DBUS_SYSTEM_BUS_ADDRESS": self.bus.address}
        a = self.agent(config=self.config(**kw), env=env)
        a.wait_notify("READY=1", timeout=30)
        return a

    def plugin(self, a):
        rc, doc = a.status()
        return rc, a.subsystem(doc, "plugin.sample")

    def wait_running(self, a, restarts=0):
        def ready():
            rc, p = self.plugin(a)
            return p if (p["run_state"] == "running" and p["restarts"] == restarts and p["main_pid"] > 0
                         and plugin_get(self.sock)[0] == 200) else None
        return wait_for(ready, timeout=20, what="plugin.sample running with %d restart(s)" % restarts)

    def tearDown(self):
        if self._outcome_failed() and self.systemd is not None:
            import sys
            sys.stderr.write("---- fake systemd events ----\n%s\n%s\n---- unit log ----\n%s\n" % (
                json.dumps(self.systemd.events(), indent=1)[-4000:], self.systemd.log()[-2000:],
                self.systemd.unit_log(UNIT)[-2000:]))
        super().tearDown()

    # ------------------------------------------------------------------
    def test_starts_after_bootstrap_and_not_before(self):
        sd = self.start_systemd()
        # No secret yet: bootstrap fails at the secrets step and keeps waiting.
        a = self.boot(refresh="1s")
        rc, doc = a.status()
        self.assertEqual(doc["agent"]["state"], "failed", doc["agent"])
        _, p = self.plugin(a)
        self.assertEqual((p["run_state"], p["main_pid"], p["state"]), ("waiting", 0, "starting"), p)
        self.assertIn("waiting for bootstrap", p["detail"])
        self.assertFalse(os.path.exists(self.creds))
        self.assertFalse(os.path.exists(self.sock))
        if sd:
            self.assertEqual(sd.calls("StartUnit"), [])
        # The secret appears: bootstrap resumes, renders the credentials, then starts the plugin.
        self.fake.create_secret("db", string=secret_doc("app", "first-Pass-1"))
        p = self.wait_running(a)
        self.assertEqual(a.status()[1]["agent"]["state"], "running")
        self.assertEqual(plugin_get(self.sock), (200, "ok generation=1 user=app\n"))
        st = os.stat(self.creds)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        self.assertEqual(p["runner"], self.runner)
        if sd:
            self.assertEqual([c["args"] for c in sd.calls("StartUnit")], [[UNIT, "replace"]])
            # The credentials' reload at bootstrap did not start it: the first
            # "active" follows agentd's StartUnit.
            start = sd.calls("StartUnit")[0]["seq"]
            first_active = [e for e in sd.unit_events(UNIT) if e["active"] == "active"][0]
            self.assertGreater(first_active["seq"], start)
            self.assertEqual(p["main_pid"], first_active["pid"])
            self.assertEqual([c["method"] for c in sd.calls() if c["method"].startswith("Reload")],
                             ["ReloadOrTryRestartUnit"])
        # /health has the plugin's check, passing.
        wait_for(lambda: a.health()[0] == 200, timeout=20, what="/health 200")
        names = [c["name"] for c in a.health_doc()[1]["checks"]]
        self.assertIn("plugin-sample", names)
        self.assertEqual(a.stop(), 0)

    def test_exit_is_restarted_and_reported(self):
        self.fake.create_secret("db", string=secret_doc("app", "first-Pass-1"))
        self.start_systemd()
        a = self.boot()
        pid = self.wait_running(a)["main_pid"]
        os.kill(pid, signal.SIGKILL)
        p = self.wait_running(a, restarts=1)
        self.assertNotEqual(p["main_pid"], pid)
        self.assertEqual(p["last_exit"], "killed by signal 9")
        self.assertEqual(p["state"], "ok")
        log = a.log()
        self.assertRegex(log, "restarted by systemd|exited \\(killed by signal 9\\); restart 1")
        # Back in service: its health check passes again, the agent is healthy.
        wait_for(lambda: a.status()[0] == 0, timeout=20, what="agentctl status exit 0")
        self.assertEqual(a.stop(), 0)

    def test_failed_critical_plugin_turns_health_503(self):
        self.fake.create_secret("db", string=secret_doc("app", "first-Pass-1"))
        self.start_systemd(start_limit_burst=3)
        a = self.boot()
        pid = self.wait_running(a)["main_pid"]
        wait_for(lambda: a.health()[0] == 200, timeout=20, what="/health 200")
        # It cannot come back: its credentials are gone.
        os.unlink(self.creds)
        os.kill(pid, signal.SIGKILL)
        status, _, body = wait_for(lambda: (lambda r: r if r[0] == 503 else None)(a.health()), timeout=30,
                                   what="/health 503")
        doc = json.loads(body)
        self.assertEqual(doc["status"], "unhealthy")
        check = [c for c in doc["checks"] if c["name"] == "plugin-sample"][0]
        self.assertEqual(check["status"], "failing")
        rc, p = self.plugin(a)
        self.assertEqual(rc, 2)
        self.assertEqual(p["last_exit"], "exit status 1")
        self.assertGreaterEqual(p["restarts"], 1)
        if self.runner == "systemd":
            # systemd gave up (start limit): the plugin itself is failed.
            p = wait_for(lambda: (lambda q: q if q["run_state"] == "failed" else None)(self.plugin(a)[1]),
                         timeout=20, what="plugin.sample failed")
            self.assertEqual((p["state"], p["active_state"]), ("failed", "failed"))
        else:
            self.assertIn(p["run_state"], ("restarting", "running"))
        self.assertIn("credentials", self.systemd.unit_log(UNIT) if self.systemd else a.log())
        self.assertEqual(a.stop(), 0)

    def test_rotation_reaches_the_plugin(self):
        self.fake.create_secret("db", string=secret_doc("app", "first-Pass-1"))
        sd = self.start_systemd()
        a = self.boot()
        pid = self.wait_running(a)["main_pid"]
        self.assertEqual(plugin_get(self.sock), (200, "ok generation=1 user=app\n"))
        before = os.stat(self.creds).st_ino
        # Alternating-users rotation: a new user and password.
        self.fake.rotate_secret("db", string=secret_doc("app_clone", "second-Pass-2"))
        p = a.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        wait_for(lambda: plugin_get(self.sock) == (200, "ok generation=2 user=app_clone\n"), timeout=20,
                 what="the plugin to use the rotated credentials")
        with open(self.creds) as f:
            text = f.read()
        self.assertIn('SAMPLE_DB_PASSWORD="second-Pass-2"', text)
        self.assertNotEqual(os.stat(self.creds).st_ino, before)     # replaced atomically
        self.assertEqual(stat.S_IMODE(os.stat(self.creds).st_mode), 0o600)
        # Reloaded, not restarted: same process, SIGHUP seen.
        q = self.wait_running(a)
        self.assertEqual(q["main_pid"], pid)
        out = sd.unit_log(UNIT) if sd else a.log()
        self.assertIn("SIGHUP: reading the credentials again", out)
        if sd:
            self.assertEqual([c["args"][0] for c in sd.calls("ReloadOrTryRestartUnit")], [UNIT, UNIT])
        self.assertEqual(a.stop(), 0)

    def test_drain_stops_plugins_after_health_503(self):
        self.fake.create_secret("db", string=secret_doc("app", "first-Pass-1"))
        sd = self.start_systemd(command=self.command(drain_ms=1000))
        a = self.boot(command=self.command(drain_ms=1000))
        pid = self.wait_running(a)["main_pid"]
        wait_for(lambda: a.health()[0] == 200, timeout=20, what="/health 200")
        samples = []        # (time, /health status or 0, plugin process alive)
        done = threading.Event()

        def poll():
            while not done.is_set():
                try:
                    h = a.health(timeout=1)[0]
                except OSError:
                    h = 0
                samples.append((time.monotonic(), h, alive(pid)))
                time.sleep(0.01)
        t = threading.Thread(target=poll)
        t.start()
        try:
            a.send_signal(signal.SIGTERM)
            a.proc.wait(30 * SLOW)
            exited = time.monotonic()
        finally:
            done.set()
            t.join()
        self.assertEqual(a.stop(), 0)
        self.assertFalse(alive(pid), "the plugin outlived agentd")
        # /health said 503 while the plugin was still finishing its work, and never
        # 200 once the plugin was gone.
        self.assertTrue([s for s in samples if s[1] == 503 and s[2]], samples[-20:])
        self.assertFalse([s for s in samples if s[1] == 200 and not s[2]], samples[-20:])
        log = a.log()
        order = [log.index(m) for m in ("received SIGTERM", "/health now answers 503", "drain: stopping 1 plugin",
                                        "drain: plugins stopped", "drained in")]
        self.assertEqual(order, sorted(order), log[-3000:])
        if sd:
            inactive = [e for e in sd.unit_events(UNIT) if e["active"] == "inactive"]
            self.assertEqual(len(inactive), 1)
            self.assertLess(inactive[0]["time"], exited)
            self.assertEqual([c["args"] for c in sd.calls("StopUnit")], [[UNIT, "replace"]])
        else:
            self.assertIn("stopped taking work", log)

    def test_drain_timeout_bounds_a_plugin_that_ignores_sigterm(self):
        self.fake.create_secret("db", string=secret_doc("app", "first-Pass-1"))
        # The shell ignores SIGTERM (the plugin in it does not), so only SIGKILL
        # after the drain timeout ends its process group.
        stubborn = "trap '' TERM; %s; exec sleep 600" % self.command()
        if self.runner == "systemd":
            # systemd's TimeoutStopSec does the killing; agentd waits drain_timeout.
            stubborn = "sh -c \"%s\"" % stubborn
            self.start_systemd(command=stubborn, timeout_stop=2)
        a = self.boot(command=stubborn, drain_timeout="2s")
        pid = self.wait_running(a)["main_pid"]
        t0 = time.monotonic()
        self.assertEqual(a.stop(), 0)
        self.assertLess(time.monotonic() - t0, 20 * SLOW)
        self.assertFalse(alive(pid))
        log = a.log()
        if self.runner == "exec":
            self.assertIn("stopped (killed by signal 9)", log)
        else:
            self.assertIn("drain: plugins stopped", log)


class SystemdRunnerTest(PluginTests, AgentTestCase):
    runner = "systemd"

    def test_drain_says_so_when_systemd_is_gone(self):
        """At poweroff the bus may be gone (agentd.service is ordered After=dbus.service
        for that): the drain does not wait for nothing, and does not claim success."""
        self.fake.create_secret("db", string=secret_doc("app", "first-Pass-1"))
        sd = self.start_systemd()
        a = self.boot()
        self.wait_running(a)
        sd.stop()
        self.bus.stop()
        t0 = time.monotonic()
        self.assertEqual(a.stop(), 0)
        self.assertLess(time.monotonic() - t0, 10 * SLOW)
        log = a.log()
        # "cannot stop: Transport endpoint is not connected" or "systemd refused to stop …".
        self.assertRegex(log, r"drain: plugins not stopped: plugin\.sample: (cannot stop|systemd refused)")
        self.assertNotIn("drain: plugins stopped", log)
        self.assertIn("drained in", log)


class ExecRunnerTest(PluginTests, AgentTestCase):
    runner = "exec"


if __name__ == "__main__":
    main()
