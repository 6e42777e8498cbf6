"""The health sidecar end to end: /health and /health/live as the ALB (via
nginx) sees them, every check type against a real target started here
(nginx + php-fpm, MariaDB, a tmpfs of known size, a TCP listener, a shell
command), rise/fall transitions, draining, and agentctl status/check."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time

from harness import SLOW, AgentTestCase, main, wait_for
from services import MariaDB, Nginx, PhpFpm, free_port, php_site


def find_check(doc, name):
    for c in doc["checks"]:
        if c["name"] == name:
            return c
    raise AssertionError("no check %s in %r" % (name, doc["checks"]))


class HealthTest(AgentTestCase):
    def agent_with(self, checks, **kw):
        a = self.agent(config=checks, **kw)
        a.wait_notify("READY=1")
        return a

    def snapshot(self, a, name):
        """(HTTP status, /health document, the check's entry)."""
        status, doc = a.health_doc()
        return status, doc, find_check(doc, name)

    def wait_check(self, a, name, pred, what, timeout=10.0):
        def probe():
            s = self.snapshot(a, name)
            return s if pred(s[2]) else None
        return wait_for(probe, timeout=timeout, what="check %s: %s" % (name, what))

    def test_a_check_starts_pending_and_samples_move_it(self):
        """Right after READY a check is pending, not failing: `rise`
        passes make it passing, `fall` failures failing. /health says
        "starting" (503) meanwhile, and the public copy nginx proxies has
        the reason code only."""
        flag = os.path.join(self.tmp, "ok")
        a = self.agent_with("[check.gate]\ntype = exec\ncommand = test -e %s || exit 2\ninterval = 300ms\ntimeout = 250ms\n"
                            "rise = 2\nfall = 3\n" % flag)
        status, doc, c = self.wait_check(a, "gate", lambda c: c["consecutive_failures"] >= 1, "first failure")
        self.assertEqual(c["status"], "pending")
        self.assertEqual((status, doc["status"], doc["reason_code"]), (503, "starting", "check_pending"))
        rc, st = a.status()
        self.assertNotEqual(st["agent"]["health"], "failed")
        open(flag, "w").close()
        status, doc, c = self.wait_check(a, "gate", lambda c: c["status"] == "passing", "passing")
        self.assertEqual((status, doc["status"], doc["reason_code"]), (200, "healthy", "ok"))
        os.unlink(flag)
        status, doc, c = self.wait_check(a, "gate", lambda c: c["status"] == "failing", "failing")
        self.assertGreaterEqual(c["consecutive_failures"], 3)
        self.assertEqual((status, doc["reason_code"]), (503, "check_failing"))
        self.assertIn("check gate failing", doc["reason"])
        status, _, body = a.health(path="/health/public")
        self.assertEqual(status, 503)
        self.assertEqual(json.loads(body), {"status": "unhealthy", "reason": "check_failing"})

    def test_endpoint_answers_from_cached_state(self):
        a = self.agent_with("[check.mem]\ntype = memory\nrise = 1\nfall = 1\nmin_available = 1MiB\n")
        status, doc, c = self.wait_check(a, "mem", lambda c: c["status"] == "passing", "passing")
        self.assertEqual(status, 200)
        self.assertEqual(doc["status"], "healthy")
        self.assertEqual(doc["instance_id"], "i-0123456789abcdef0")
        self.assertEqual(doc["agent_state"], "running")
        for k in ("status", "detail", "latency_ms", "since", "consecutive_passes", "consecutive_failures"):
            self.assertIn(k, c)
        self.assertIn("available of", c["detail"])
        status, headers, body = a.health()
        self.assertEqual(headers["cache-control"], "no-store")
        self.assertEqual(headers["content-type"], "application/json")
        # HEAD: same status and headers, no body.
        status, headers, body = a.health(method="HEAD")
        self.assertEqual((status, body), (200, b""))
        status, _, body = a.health("/health/live")
        self.assertEqual((status, json.loads(body)["status"]), (200, "alive"))
        status, _, _ = a.health("/nope")
        self.assertEqual(status, 404)
        status, headers, _ = a.health(method="DELETE")
        self.assertEqual(status, 405)
        self.assertEqual(headers["allow"], "GET, HEAD")
        status, _, _ = a.health(method="POST")
        self.assertEqual(status, 405)
        # Status shows the same, and the checks as components.
        rc, st = a.status()
        self.assertEqual(st["health"]["status"], "healthy")
        self.assertEqual(a.subsystem(st, "check.mem")["state"], "ok")
        self.assertIn("unix:" + a.health_socket, a.subsystem(st, "health")["detail"])
        p = a.ctl("status")
        self.assertIn("Checks:", p.stdout)
        self.assertRegex(p.stdout, r"mem +passing +memory +critical")

    def test_bootstrapping_and_failed_answer_503(self):
        self.fake.imds_down(60)
        a = self.agent(config="[imds]\nboot_deadline = 60s\n")
        status, doc = wait_for(lambda: os.path.exists(a.health_socket) and a.health_doc(), what="health socket")
        self.assertEqual((status, doc["status"]), (503, "bootstrapping"))
        b = self.agent_with("[imds]\nenabled = no\n")
        b_status, b_doc = b.health_doc()
        self.assertEqual((b_status, b_doc["status"], b_doc["agent_state"]), (503, "unhealthy", "failed"))

    def test_rise_fall_and_exec_nagios_codes(self):
        code = os.path.join(self.tmp, "code")
        with open(code, "w") as f:
            f.write("0")
        a = self.agent_with("[check.ex]\ntype = exec\nrise = 1\nfall = 1\ncommand = echo \"plugin says $(cat %s)\"; exit $(cat %s)\n"
                            "interval = 200ms\ntimeout = 150ms\nrise = 2\nfall = 3\n" % (code, code))
        self.wait_check(a, "ex", lambda c: c["status"] == "passing", "passing")

        def flip(v):
            with open(code, "w") as f:
                f.write(str(v))
        flip(2)
        # One or two failures: still passing, still 200.
        status, doc, c = self.wait_check(a, "ex", lambda c: 1 <= c["consecutive_failures"] < 3, "failing once")
        self.assertEqual((status, doc["status"], c["status"], c["result"]), (200, "healthy", "passing", "fail"))
        self.assertIn("CRITICAL (exit 2): plugin says 2", c["detail"])
        status, doc, c = self.wait_check(a, "ex", lambda c: c["status"] == "failing", "failing")
        self.assertEqual((status, doc["status"]), (503, "unhealthy"))
        self.assertGreaterEqual(c["consecutive_failures"], 3)
        flip(0)
        status, doc, c = self.wait_check(a, "ex", lambda c: c["consecutive_passes"] == 1, "one pass")
        self.assertEqual((status, c["status"]), (503, "failing"))
        status, doc, c = self.wait_check(a, "ex", lambda c: c["status"] == "passing", "passing again")
        self.assertEqual(status, 200)
        # agentctl check: this run's result as the exit code.
        for v, rc, word in ((0, 0, "OK"), (1, 1, "WARNING"), (2, 2, "CRITICAL"), (3, 2, "UNKNOWN")):
            flip(v)
            p = a.ctl("check", "ex")
            self.assertEqual(p.returncode, rc, p.stdout + p.stderr)
            self.assertIn(word, p.stdout)
        p = a.ctl("check", "nope")
        self.assertEqual(p.returncode, 4)
        self.assertIn("no such check", p.stderr)
        p = a.ctl("check", "ex", "--json")
        self.assertEqual(json.loads(p.stdout)["name"], "ex")

    def test_warning_and_noncritical_failure_degrade_but_serve(self):
        a = self.agent_with("[check.warn]\ntype = exec\nrise = 1\nfall = 1\ncommand = echo slow; exit 1\n"
                            "[check.soft]\ntype = exec\nrise = 1\nfall = 1\ncommand = exit 2\ncritical = no\n")
        status, doc, c = self.wait_check(a, "soft", lambda c: c["status"] == "failing", "failing")
        self.wait_check(a, "warn", lambda c: c["status"] == "warning", "warning")
        status, doc = a.health_doc()
        self.assertEqual((status, doc["status"]), (200, "degraded"))
        rc, st = a.status()
        self.assertEqual(rc, 1)
        self.assertEqual(a.subsystem(st, "check.soft")["state"], "degraded")

    def test_exec_timeout_kills_the_group_and_bounds_output(self):
        a = self.agent_with("[check.hang]\ntype = exec\nrise = 1\nfall = 1\ncommand = trap '' TERM; sleep 60 & wait\n"
                            "interval = 30s\ntimeout = 300ms\n"
                            "[check.noisy]\ntype = exec\nrise = 1\nfall = 1\ncommand = yes | head -c 1000000\ninterval = 30s\ntimeout = 20s\n")
        status, doc, c = self.wait_check(a, "hang", lambda c: c["result"] == "fail", "killed", timeout=15)
        self.assertIn("killed after timeout=300ms", c["detail"])
        # SIGTERM was ignored: SIGKILL to the whole group, nothing left.
        pid = a.proc.pid
        wait_for(lambda: not subprocess.run(["pgrep", "-P", str(pid)], capture_output=True).stdout,
                 what="no children of agentd left")
        status, doc, c = self.wait_check(a, "noisy", lambda c: c["result"] == "pass", "noisy passes")
        self.assertLess(len(c["detail"]), 300)

    def test_disk_on_a_tmpfs_of_known_size(self):
        # Outside self.tmp: cleanups run after tearDown removes it.
        mnt = tempfile.mkdtemp(prefix="agentd-it-tmpfs-")
        self.addCleanup(os.rmdir, mnt)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8M,nr_inodes=64", "tmpfs", mnt], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        a = self.agent_with("[check.space]\ntype = disk\nrise = 1\nfall = 1\npath = %s\nmin_free = 4MiB\n"
                            "interval = 200ms\ntimeout = 100ms\n"
                            "[check.inodes]\ntype = disk\nrise = 1\nfall = 1\npath = %s\nmin_free_inodes = 50%%\n"
                            "interval = 200ms\ntimeout = 100ms\ncritical = no\n" % (mnt, mnt))
        status, doc, c = self.wait_check(a, "space", lambda c: c["status"] == "passing", "passing")
        self.assertIn("8.0 MiB free of 8.0 MiB", c["detail"])
        with open(os.path.join(mnt, "fill"), "wb") as f:
            f.write(b"\0" * (5 << 20))
        status, doc, c = self.wait_check(a, "space", lambda c: c["status"] == "failing", "failing")
        self.assertIn("below min_free=4.0 MiB", c["detail"])
        self.assertEqual(status, 503)
        os.unlink(os.path.join(mnt, "fill"))
        self.wait_check(a, "space", lambda c: c["status"] == "passing", "passing again")
        for i in range(40):
            open(os.path.join(mnt, "f%d" % i), "w").close()
        status, doc, c = self.wait_check(a, "inodes", lambda c: c["status"] == "failing", "inodes failing")
        self.assertIn("below min_free_inodes=50%", c["detail"])
        self.assertEqual((status, doc["status"]), (200, "degraded"))

    def test_memory(self):
        a = self.agent_with("[check.ok]\ntype = memory\nrise = 1\nfall = 1\nmin_available = 1%\n"
                            "[check.never]\ntype = memory\nrise = 1\nfall = 1\nmin_available = 100%\ncritical = no\n")
        self.wait_check(a, "ok", lambda c: c["status"] == "passing", "passing")
        status, doc, c = self.wait_check(a, "never", lambda c: c["status"] == "failing", "failing")
        self.assertIn("below min_available=100%", c["detail"])

    def test_tcp(self):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        self.addCleanup(srv.close)
        port = srv.getsockname()[1]
        closed = free_port()
        a = self.agent_with("[check.up]\ntype = tcp\nrise = 1\nfall = 1\ntarget = 127.0.0.1:%d\n"
                            "[check.byname]\ntype = tcp\nrise = 1\nfall = 1\ntarget = localhost:%d\n"
                            "[check.down]\ntype = tcp\nrise = 1\nfall = 1\ntarget = 127.0.0.1:%d\ncritical = no\n" % (port, port, closed))
        _, _, c = self.wait_check(a, "up", lambda c: c["status"] == "passing", "up")
        self.assertIn("connected to 127.0.0.1:%d" % port, c["detail"])
        self.wait_check(a, "byname", lambda c: c["status"] == "passing", "by name")
        _, _, c = self.wait_check(a, "down", lambda c: c["status"] == "failing", "down")
        self.assertIn("Connection refused", c["detail"])

    def test_http_through_nginx_to_php_fpm(self):
        fpm = PhpFpm(os.path.join(self.tmp, "fpm"))
        fpm.start()
        self.addCleanup(fpm.stop)
        www = os.path.join(self.tmp, "www")
        os.makedirs(www)
        ng = Nginx(os.path.join(self.tmp, "ng"), site_text=lambda port: php_site(port, www, fpm.socket))
        ng.start()
        self.addCleanup(ng.stop)
        a = self.agent_with("[check.fpm]\ntype = http\nrise = 1\nfall = 1\nurl = http://127.0.0.1:%d/ping\nexpect_body = pong\n"
                            "interval = 300ms\ntimeout = 250ms\nfall = 1\n"
                            "[check.status]\ntype = http\nrise = 1\nfall = 1\nurl = http://127.0.0.1:%d/ping\nexpect_status = 204\n"
                            "critical = no\n"
                            "[check.body]\ntype = http\nrise = 1\nfall = 1\nurl = http://127.0.0.1:%d/ping\nexpect_body = pang\n"
                            "critical = no\n" % (ng.port, ng.port, ng.port))
        _, _, c = self.wait_check(a, "fpm", lambda c: c["status"] == "passing", "passing")
        self.assertIn("HTTP 200", c["detail"])
        _, _, c = self.wait_check(a, "status", lambda c: c["status"] == "failing", "wrong status")
        self.assertIn("HTTP 200, expected 204", c["detail"])
        _, _, c = self.wait_check(a, "body", lambda c: c["status"] == "failing", "wrong body")
        self.assertIn('does not contain "pang"', c["detail"])
        fpm.stop()
        status, doc, c = self.wait_check(a, "fpm", lambda c: c["status"] == "failing", "php-fpm down")
        self.assertIn("HTTP 502", c["detail"])
        self.assertEqual(status, 503)

    def test_mysql_with_password_file_and_with_secret(self):
        db = MariaDB(os.path.join(self.tmp, "db"))
        db.start()
        self.addCleanup(db.stop)
        password = "hc-Pass-w0rd-%d" % os.getpid()
        db.create_user("hc", password, "appdb")
        pwfile = os.path.join(self.tmp, "pw")
        with open(pwfile, "w") as f:
            f.write(password + "\n")
        bad = os.path.join(self.tmp, "badpw")
        with open(bad, "w") as f:
            f.write("wrong-%s\n" % password)
        self.fake.create_secret("db", string=json.dumps({"username": "hc", "password": password, "host": "127.0.0.1",
                                                         "port": db.port, "dbname": "appdb"}))
        a = self.agent_with("[secret.db]\nid = db\n"
                            "[check.db]\ntype = mysql\nrise = 1\nfall = 1\nhost = 127.0.0.1\nport = %d\nuser = hc\npassword_file = %s\n"
                            "database = appdb\n"
                            "[check.viasecret]\ntype = mysql\nrise = 1\nfall = 1\nsecret = db\n"
                            "[check.tcpsecret]\ntype = tcp\nrise = 1\nfall = 1\nsecret = db\n"
                            "[check.wrong]\ntype = mysql\nrise = 1\nfall = 1\nhost = 127.0.0.1\nport = %d\nuser = hc\npassword_file = %s\n"
                            "critical = no\n"
                            % (db.port, pwfile, db.port, bad))
        _, _, c = self.wait_check(a, "db", lambda c: c["status"] == "passing", "passing", timeout=15)
        self.assertIn("SELECT 1 on 127.0.0.1:%d: ok" % db.port, c["detail"])
        self.wait_check(a, "viasecret", lambda c: c["status"] == "passing", "via the secret", timeout=15)
        self.wait_check(a, "tcpsecret", lambda c: c["status"] == "passing", "tcp via the secret")
        _, _, c = self.wait_check(a, "wrong", lambda c: c["status"] == "failing", "refused", timeout=15)
        self.assertIn("Access denied", c["detail"])
        p = a.ctl("check", "db")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # Kill the database: the check fails with the reason.
        db.stop()
        _, _, c = self.wait_check(a, "db", lambda c: c["consecutive_failures"] >= 1, "db down", timeout=30)
        self.assertIn("cannot connect", c["detail"])
        # The password never reached a log line or an answer.
        for text in (a.log(), json.dumps(a.health_doc()[1]), a.ctl("status", "--json").stdout):
            self.assertNotIn(password, text)

    def test_mysql_refused_login_fetches_the_secret_again(self):
        # Secrets Manager's alternating-users rotation against a real MariaDB:
        # each rotation sets a new password on the user that AWSCURRENT does
        # NOT name, then points AWSCURRENT at it. agentd's refresh is 1 h here,
        # so only the check's access-denied answer can make it follow.
        db = MariaDB(os.path.join(self.tmp, "db"))
        db.start()
        self.addCleanup(db.stop)
        db.create_user("app", "app-Pass-0", "appdb")

        def doc(user, password):
            return json.dumps({"username": user, "password": password, "host": "127.0.0.1", "port": db.port,
                               "dbname": "appdb", "engine": "mysql"})

        def fetches():
            return len(self.fake.requests(service="secretsmanager", operation="GetSecretValue"))

        interval = 2.0
        self.fake.create_secret("db", string=doc("app", "app-Pass-0"))
        a = self.agent_with("[secret.db]\nid = db\nrefresh = 1h\nrefresh_min = 60s\n"
                            "[check.db]\ntype = mysql\nsecret = db\ndatabase = appdb\n"
                            "interval = %gs\ntimeout = 1500ms\nrise = 1\nfall = 1\n" % interval)
        self.wait_check(a, "db", lambda c: c["status"] == "passing", "passing", timeout=15)
        self.assertEqual(fetches(), 1)

        # Rotation 1 creates the clone user and moves AWSCURRENT to it; the
        # old user still works, so nothing is refused and nothing fetched.
        passes = self.snapshot(a, "db")[2]["consecutive_passes"]
        db.create_user("app_clone", "clone-Pass-1", "appdb")
        self.fake.rotate_secret("db", string=doc("app_clone", "clone-Pass-1"))
        self.wait_check(a, "db", lambda c: c["consecutive_passes"] >= passes + 3, "3 runs after rotation 1",
                        timeout=15)
        self.assertEqual(fetches(), 1)

        # Rotation 2 changes the password of "app" (the user agentd still
        # holds) and moves AWSCURRENT back to it: the next run is refused,
        # the secret is fetched at once, and the run after passes. (AWS sets
        # the password before it moves the label; a run refused in between
        # would fetch the clone's credentials, which still work. Label first
        # here, so the refusal always comes with the new value.)
        t0 = time.time()
        self.fake.rotate_secret("db", string=doc("app", "app-Pass-2"))
        db.set_password("app", "app-Pass-2")
        _, _, c = self.wait_check(a, "db", lambda c: c["status"] == "failing", "refused after rotation 2",
                                  timeout=15)
        self.assertIn("Access denied for user 'app'", c["detail"])
        failed_at = time.time()
        _, _, c = self.wait_check(a, "db", lambda c: c["status"] == "passing", "recovered", timeout=15)
        recovered_at = time.time()
        self.assertEqual(fetches(), 2, "exactly one GetSecretValue for the refusal")
        # Within one interval of the refused run (the poll adds up to a
        # moment; the slowdown factor covers valgrind).
        self.assertLess(recovered_at - failed_at, (interval + 1.0) * SLOW)
        self.assertLess(recovered_at - t0, (2 * interval + 1.0) * SLOW)
        log = a.log()
        self.assertEqual(log.count("check db is now failing"), 1, log)
        self.assertEqual(log.count("[secret.db]: login refused (MySQL error 1045), fetching the secret again"), 1)

        # Credentials that are simply wrong: refused run after run, but the
        # secret was fetched less than refresh_min (60 s) ago, so no more calls.
        db.set_password("app", "nobody-knows-this")
        self.wait_check(a, "db", lambda c: c["consecutive_failures"] >= 3, "3 refused runs", timeout=30)
        self.assertEqual(fetches(), 2, "rate-limited by refresh_min")
        log = a.log()
        self.assertEqual(log.count("login refused (MySQL error 1045)"), 1, log)
        for text in (log, json.dumps(a.health_doc()[1]), a.ctl("status", "--json").stdout):
            for pw in ("app-Pass-0", "clone-Pass-1", "app-Pass-2", "nobody-knows-this"):
                self.assertNotIn(pw, text)

    def test_mysql_secret_not_loaded(self):
        # The secret does not exist: bootstrap fails at the secrets step, the
        # checks still run and say why.
        a = self.agent_with("[secret.gone]\nid = gone\n[check.db]\ntype = mysql\nrise = 1\nfall = 1\nsecret = gone\n")
        status, doc, c = self.wait_check(a, "db", lambda c: c["status"] == "failing", "not loaded")
        self.assertEqual(c["detail"], "secret gone not loaded")
        self.assertEqual((status, doc["status"], doc["agent_state"]), (503, "unhealthy", "failed"))

    def test_unit_without_a_system_bus(self):
        a = self.agent_with("[check.nginx]\ntype = unit\nrise = 1\nfall = 1\nunit = nginx.service\ncritical = no\n",
                            env={"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=%s/no-bus" % self.tmp})
        _, _, c = self.wait_check(a, "nginx", lambda c: c["status"] == "failing", "no bus")
        self.assertIn("no system bus", c["detail"])

    def test_unit_on_a_private_bus_with_a_fake_systemd(self):
        from fake_systemd import DBusDaemon, FakeSystemd
        bus = DBusDaemon(os.path.join(self.tmp, "dbus")).start()
        self.addCleanup(bus.stop)
        sd = FakeSystemd(bus, os.path.join(self.tmp, "systemd"), units={"nginx.service": "true"}).start()
        self.addCleanup(sd.stop)
        a = self.agent_with("[check.nginx]\ntype = unit\nrise = 1\nfall = 1\nunit = nginx.service\ninterval = 200ms\n"
                            "timeout = 150ms\nrise = 1\nfall = 1\n"
                            "[check.gone]\ntype = unit\nrise = 1\nfall = 1\nunit = gone.service\ncritical = no\n",
                            env={"DBUS_SYSTEM_BUS_ADDRESS": bus.address})
        _, _, c = self.wait_check(a, "nginx", lambda c: c["status"] == "passing", "active")
        self.assertEqual(c["detail"], "nginx.service is active")
        sd.set_state("nginx.service", "reloading")
        _, _, c = self.wait_check(a, "nginx", lambda c: c["status"] == "warning", "reloading")
        sd.set_state("nginx.service", "failed")
        status, _, c = self.wait_check(a, "nginx", lambda c: c["status"] == "failing", "failed")
        self.assertEqual((status, c["detail"]), (503, "nginx.service is failed"))
        _, _, c = self.wait_check(a, "gone", lambda c: c["status"] == "failing", "not loaded")
        self.assertEqual(c["detail"], "gone.service is not loaded")

    def test_drain_flips_to_503_at_once_and_sigterm_drains(self):
        a = self.agent_with("[check.mem]\ntype = memory\nrise = 1\nfall = 1\nmin_available = 1MiB\n")
        self.wait_check(a, "mem", lambda c: c["status"] == "passing", "passing")
        self.assertEqual(a.ctl("drain").returncode, 0)
        # No wait: the next answer is already 503.
        status, doc = a.health_doc()
        self.assertEqual((status, doc["status"]), (503, "draining"))
        self.assertEqual(a.ctl("drain", "--undo").returncode, 0)
        self.assertEqual(a.health_doc()[0], 200)
        self.assertEqual(a.stop(signal.SIGTERM), 0)
        log = a.log()
        self.assertLess(log.index("draining: /health now answers 503"), log.index("stopped"))
        self.assertFalse(os.path.exists(a.health_socket))

    def test_reload_keeps_check_state(self):
        a = self.agent_with("[check.mem]\ntype = memory\nrise = 1\nfall = 1\nmin_available = 1MiB\n")
        _, _, before = self.wait_check(a, "mem", lambda c: c["status"] == "passing", "passing")
        a.write_config("[check.mem]\ntype = memory\nrise = 1\nfall = 1\nmin_available = 1MiB\n"
                       "[check.ex]\ntype = exec\nrise = 1\nfall = 1\ncommand = exit 0\n")
        a.send_signal(signal.SIGHUP)
        a.wait_notify("READY=1", count=2)
        _, _, c = self.wait_check(a, "ex", lambda c: c["status"] == "passing", "new check runs")
        _, _, after = self.snapshot(a, "mem")
        self.assertEqual(after["since"], before["since"])


if __name__ == "__main__":
    main()
