"""Bootstrap end to end with the real parts: Secrets Manager (emulator) →
templates → validate (real nginx -t / php-fpm -t) → atomic install →
reload → a real PHP page talking to a real MariaDB with the rendered
credentials. Rotation under load, injection, bad input, rollback."""

import json
import os
import re
import shutil
import signal
import stat
import subprocess

from harness import AgentTestCase, main, wait_for
from services import MariaDB, Nginx, PhpFpm, free_port, http_get, write_php_app
from stack import TEMPLATES, make_dirs, stack_config

NASTY = 'p"a\'ss;w}o{r d$x${HOME}\\\\#é%'     # everything but a newline


def secret_doc(user, password, port, db="appdb"):
    return json.dumps({"username": user, "password": password, "host": "127.0.0.1", "port": port,
                       "dbname": db, "engine": "mysql"})


class RenderTest(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.db = MariaDB(os.path.join(self.tmp, "db"))
        self.db.start()
        self.addCleanup(self.db.stop)
        self.port = free_port()
        self.docroot = os.path.join(self.tmp, "www")
        write_php_app(self.docroot)
        p = make_dirs(self.tmp)
        self.pool, self.site, self.envfile = p["pool"], p["site"], p["env"]
        self.fpm = self.nginx = None

    def config(self, extra="", nginx_template=None):
        return stack_config(self.tmp, self.port, self.docroot, nginx_template=nginx_template, extra=extra)

    def start_stack(self):
        self.fpm = PhpFpm(os.path.join(self.tmp, "fpm"), pool_config_path=self.pool)
        self.fpm.start()
        self.addCleanup(self.fpm.stop)
        self.nginx = Nginx(os.path.join(self.tmp, "nginx"), site_path=self.site, port=self.port)
        self.nginx.start()
        self.addCleanup(self.nginx.stop)

    def get(self, path="/"):
        return http_get("http://127.0.0.1:%d%s" % (self.port, path), timeout=10)

    def read(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    # ------------------------------------------------------------------
    def test_bootstrap_renders_validates_installs_and_serves(self):
        self.db.create_user("app", "first-Pass1", "appdb")
        self.fake.create_secret("db", string=secret_doc("app", "first-Pass1", self.db.port))
        # /health where the rendered nginx site proxies it.
        a = self.agent(config=self.config(extra="[health]\nlisten = unix:%s/health.sock\n" % self.tmp))
        a.wait_notify("READY=1", timeout=60)
        rc, doc = a.status()
        self.assertEqual(rc, 0, doc)
        self.assertEqual([s["name"] for s in doc["bootstrap"]["steps"]],
                         ["identity", "credentials", "secrets", "render"])
        # Secret-bearing files are 0640 from the start, the rest 0644.
        self.assertEqual(stat.S_IMODE(os.stat(self.pool).st_mode), 0o640)
        self.assertEqual(stat.S_IMODE(os.stat(self.envfile).st_mode), 0o640)
        self.assertEqual(stat.S_IMODE(os.stat(self.site).st_mode), 0o644)
        self.assertIn('env[DB_PASSWORD] = "first-Pass1"', self.read(self.pool))
        self.assertIn('INSTANCE_ID="i-0123456789abcdef0"', self.read(self.envfile))
        self.assertIn("pm.max_children = ", self.read(self.pool))
        sec = a.subsystem(doc, "secret.db")
        self.assertEqual(sec["state"], "ok")
        self.assertEqual(sec["fields"], ["username", "password", "host", "port", "dbname", "engine"])
        self.assertEqual(a.subsystem(doc, "render.fpm")["state"], "ok")
        # No staged leftovers next to the targets.
        self.assertEqual(os.listdir(os.path.dirname(self.pool)), ["app.conf"])
        self.start_stack()
        status, _, body = self.get("/")
        self.assertEqual((status, body), (200, b"ok"))
        status, _, body = self.get("/fpm-ping")
        self.assertEqual((status, body), (200, b"pong"))
        # The ALB's probe goes through nginx to agentd: the public copy,
        # status and reason code only (no instance id, no check output).
        status, _, body = self.get("/health")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"status": "healthy", "reason": "ok"})
        # The agent's own socket has the details.
        a.health_socket = os.path.join(self.tmp, "health.sock")
        status, doc = a.health_doc()
        self.assertEqual(doc["instance_id"], "i-0123456789abcdef0")
        self.assertEqual(a.ctl("drain").returncode, 0)
        status, _, body = self.get("/health")
        self.assertEqual(status, 503, body)
        self.assertEqual(json.loads(body), {"status": "draining", "reason": "draining"})

    def test_rotation_reloads_gracefully_and_no_request_fails(self):
        # Alternating users, as Secrets Manager's multi-user rotation does: each
        # rotation sets a new password on the user AWSCURRENT does not name, then
        # moves AWSCURRENT to it, so the old credentials stay valid while the new
        # ones are rolled out. Three rotations under wrk load through the real
        # nginx -> php-fpm -> MariaDB (the bounded size of bench/bootstrap-bench.py),
        # and not one request may fail.
        if not shutil.which("wrk"):
            self.fail("wrk is not installed (Debian package wrk, .ci/packages/services.txt)")
        self.db.create_user("app_a", "pass-A-0", "appdb")
        self.db.create_user("app_b", "pass-B-0", "appdb")
        self.fake.create_secret("db", string=secret_doc("app_a", "pass-A-0", self.db.port))
        a = self.agent(config=self.config())
        a.wait_notify("READY=1", timeout=60)
        self.start_stack()
        wait_for(lambda: self.fpm.ready_count() >= 1, what="php-fpm's start in its log")
        master = self.fpm.master_pid

        def db_connections():
            return int(self.db.sql("SHOW GLOBAL STATUS LIKE 'Connections'")[0][1])

        # -d is only an upper bound: the test ends wrk with SIGINT (wrk then
        # prints its totals) once the rotations are through.
        wrk = subprocess.Popen(["wrk", "-t1", "-c4", "-d300s", "--timeout", "10s",
                                "http://127.0.0.1:%d/" % self.port],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            before = db_connections()
            wait_for(lambda: db_connections() > before + 20, timeout=30, what="wrk's requests reaching MariaDB")
            for i, user in enumerate(["app_b", "app_a", "app_b"]):
                pw = "pass-%s-%d" % (user[-1].upper(), i + 1)
                self.db.set_password(user, pw)
                reloads = self.fpm.ready_count()
                self.fake.rotate_secret("db", string=secret_doc(user, pw, self.db.port))
                wait_for(lambda: ('env[DB_PASSWORD] = "%s"' % pw) in self.read(self.pool), timeout=30,
                         what="the rotated password in the pool")
                wait_for(lambda: self.fpm.ready_count() > reloads, timeout=30, what="php-fpm reload")
                # Requests go on after the reload, with the new workers.
                before = db_connections()
                wait_for(lambda: db_connections() > before + 20, timeout=30, what="requests after the reload")
        finally:
            wrk.send_signal(signal.SIGINT)
            out, _ = wrk.communicate(timeout=30)
        total = re.search(r"(\d+) requests in", out)
        self.assertIsNotNone(total, out)
        self.assertGreater(int(total.group(1)), 60, out)
        # wrk prints these lines only when there is something to count.
        self.assertNotIn("Non-2xx or 3xx responses", out)
        self.assertNotIn("Socket errors", out)
        self.assertEqual(self.fpm.master_pid, master)       # reloaded, not restarted
        # The page really uses the last credentials: lock the other user out.
        self.db.set_password("app_a", "locked-out-now")
        status, _, body = self.get("/")
        self.assertEqual((status, body), (200, b"ok"))
        rc, doc = a.status()
        self.assertEqual(a.subsystem(doc, "render.fpm")["installs"], 4)

    def test_nasty_password_survives_every_format(self):
        self.db.create_user("app", NASTY, "appdb")
        self.fake.create_secret("db", string=secret_doc("app", NASTY, self.db.port))
        # A test-only nginx template that carries the password, to prove
        # nginx accepts it and keeps it exact.
        tpl = os.path.join(self.tmp, "nginx-echo.conf.in")
        with open(os.path.join(TEMPLATES, "nginx-site.conf.in")) as f:
            text = f.read()
        with open(tpl, "w") as f:
            f.write(text.replace("        location = /health {",
                                 '        location = /echo {\n                default_type text/plain;\n'
                                 '                return 200 "{{secret.db.password}}";\n        }\n\n'
                                 "        location = /health {"))
        a = self.agent(config=self.config(nginx_template=tpl))
        a.wait_notify("READY=1", timeout=60)
        self.assertEqual(a.status()[0], 0)
        self.start_stack()
        status, _, body = self.get("/")
        self.assertEqual((status, body), (200, b"ok"))            # php-fpm env → mysqli login
        status, _, body = self.get("/echo")
        self.assertEqual((status, body.decode()), (200, NASTY))    # nginx string
        import subprocess
        out = subprocess.run(["bash", "-c", 'set -a; . "$1"; printf %s "$DB_PASSWORD"', "x", self.envfile],
                             capture_output=True, text=True)
        self.assertEqual(out.stdout, NASTY)                       # env file

    def test_unrepresentable_value_keeps_the_good_file(self):
        self.db.create_user("app", "good-pass", "appdb")
        self.fake.create_secret("db", string=secret_doc("app", "good-pass", self.db.port))
        a = self.agent(config=self.config())
        a.wait_notify("READY=1", timeout=60)
        good = self.read(self.pool)
        # php-fpm pool values cannot hold a newline: refused, file kept.
        bad = "line1\nline2-distinctive"
        self.fake.rotate_secret("db", string=secret_doc("app", bad, self.db.port))
        def failed():
            rc, doc = a.status()
            return doc if a.subsystem(doc, "render.fpm")["state"] == "degraded" else None
        doc = wait_for(failed, timeout=30, interval=0.2, what="render.fpm degraded")
        err = a.subsystem(doc, "render.fpm")["last_error"]
        self.assertIn("php-fpm-pool.conf.in:", err)
        self.assertIn("secret.db.password", err)
        self.assertEqual(self.read(self.pool), good)
        self.assertEqual(a.status()[0], 1)
        self.assertNotIn("distinctive", a.log() + json.dumps(doc))
        # The env file can carry it, and got it.
        wait_for(lambda: "line2-distinctive" in self.read(self.envfile), timeout=10, what="env file")

    def test_invalid_output_is_refused_unchanged_output_not_rewritten_and_rollback(self):
        self.db.create_user("app", "pw-one-1", "appdb")
        self.fake.create_secret("db", string=secret_doc("app", "pw-one-1", self.db.port))
        tpl = os.path.join(self.tmp, "site.conf.in")
        with open(os.path.join(TEMPLATES, "nginx-site.conf.in")) as f:
            original = f.read()
        with open(tpl, "w") as f:
            f.write(original)
        a = self.agent(config=self.config(nginx_template=tpl))
        a.wait_notify("READY=1", timeout=60)
        self.start_stack()
        v1 = self.read(self.site)
        mtime = os.stat(self.pool).st_mtime_ns
        # Same value, new version: nothing rewritten, nothing reloaded.
        # (php-fpm logs its start line a moment after it answers pings.)
        wait_for(lambda: self.fpm.ready_count() >= 1, what="php-fpm's start in its log")
        before = self.fpm.ready_count()
        self.fake.rotate_secret("db", string=secret_doc("app", "pw-one-1", self.db.port))
        p = a.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(os.stat(self.pool).st_mtime_ns, mtime)
        self.assertEqual(self.fpm.ready_count(), before)
        # A template nginx refuses: validation fails, the good file stays.
        with open(tpl, "w") as f:
            f.write(original.replace("index index.php;", "index index.php;\n        bogus_directive on;"))
        p = a.ctl("refresh")
        self.assertEqual(p.returncode, 2)
        self.assertIn("bogus_directive", p.stderr)
        self.assertEqual(self.read(self.site), v1)
        self.assertEqual(os.listdir(os.path.dirname(self.site)).count(".site.conf.agentd-new"), 0)
        # A valid change is installed and nginx reloaded...
        with open(tpl, "w") as f:
            f.write(original.replace("gzip_min_length 1024;", "gzip_min_length 2048;"))
        workers = self.nginx.workers()
        p = a.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("gzip_min_length 2048;", self.read(self.site))
        wait_for(lambda: self.nginx.workers() and not (self.nginx.workers() & workers), what="nginx reload")
        # ...and rolled back on request.
        p = a.ctl("rollback", "nginx")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.read(self.site), v1)
        self.assertEqual(self.get("/")[0], 200)
        p = a.ctl("rollback", "nosuch")
        self.assertEqual(p.returncode, 2)

    def test_secret_errors_are_clear_and_nothing_is_half_written(self):
        cases = [("missing", None, "ResourceNotFoundException"),
                 ("denied", dict(deny=True), "AccessDeniedException"),
                 ("kms", dict(kms_fail=True), "DecryptionFailure"),
                 ("badjson", dict(string='{"username": "x", "password": '), "not valid JSON")]
        for name, kw, expect in cases:
            with self.subTest(name):
                if kw is not None:
                    kw = dict(kw)
                    self.fake.create_secret(name, string=kw.pop("string", secret_doc("u", "p", 1)), **kw)
                d = os.path.join(self.tmp, name)
                os.makedirs(os.path.join(d, "out"))
                cfg = ("[secret.db]\nid = %s\n[imds]\n[render.env]\ntemplate = %s/app.env.in\ntarget = %s/out/app.env\n"
                       % (name, TEMPLATES, d))
                a = self.agent(config=cfg)
                a.wait_notify("READY=1", timeout=60)
                rc, doc = a.status()
                self.assertEqual(rc, 2)
                self.assertIn("[secret.db]", doc["agent"]["last_error"])
                self.assertIn(expect, doc["agent"]["last_error"])
                p = a.ctl("status")
                self.assertEqual(p.returncode, 2)
                self.assertIn("secret", p.stderr)
                self.assertEqual(os.listdir(os.path.join(d, "out")), [])
                a.stop()

    def test_check_config_checks_templates(self):
        import subprocess
        from harness import AGENTD
        d = os.path.join(self.tmp, "cc")
        os.makedirs(d)
        bad = os.path.join(self.tmp, "bad.conf.in")
        with open(bad, "w") as f:
            f.write("listen {{vars.listen}};\n{{#section}}\nnever closed\n")
        with open(os.path.join(d, "agentd.conf"), "w") as f:
            f.write("[render.x]\ntemplate = %s\ntarget = %s/out\nowner = no-such-user-here\n" % (bad, self.tmp))
        p = subprocess.run([AGENTD, "--config", d, "--check-config"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn(bad + ":2:", p.stderr)
        self.assertIn("no-such-user-here", p.stderr)
        with open(bad, "w") as f:
            f.write("listen {{vars.listen}};\n")
        with open(os.path.join(d, "agentd.conf"), "w") as f:
            f.write("[render.x]\ntemplate = %s\ntarget = %s/out\n" % (bad, self.tmp))
        p = subprocess.run([AGENTD, "--config", d, "--check-config"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_missing_secret_appearing_later_resumes_bootstrap(self):
        a = self.agent(config=self.config())
        a.wait_notify("READY=1", timeout=60)
        self.assertEqual(a.status()[0], 2)
        self.assertFalse(os.path.exists(self.pool))
        self.db.create_user("app", "late-pass", "appdb")
        self.fake.create_secret("db", string=secret_doc("app", "late-pass", self.db.port))
        wait_for(lambda: a.status()[0] == 0, timeout=60, interval=0.3, what="recovery")
        self.assertIn('"late-pass"', self.read(self.pool))


class CheckConfigHostileFilesTest(AgentTestCase):
    """issue 16 #6: a FIFO planted as a drop-in or as a template makes
    `agentd --check-config` fail at once, naming it; it never blocks."""

    def test_fifo_dropin_and_template(self):
        import subprocess
        from harness import AGENTD, SLOW
        d = os.path.join(self.tmp, "cc")
        os.makedirs(os.path.join(d, "agentd.conf.d"))
        tpl = os.path.join(self.tmp, "t.conf.in")
        os.mkfifo(tpl)
        with open(os.path.join(d, "agentd.conf"), "w") as f:
            f.write("[render.x]\ntemplate = %s\ntarget = %s/out\n" % (tpl, self.tmp))
        p = subprocess.run([AGENTD, "--config", d, "--check-config"], capture_output=True, text=True,
                           timeout=30 * SLOW)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("cannot read template %s: not a regular file" % tpl, p.stderr)
        fifo = os.path.join(d, "agentd.conf.d", "50-x.conf")
        os.mkfifo(fifo)
        p = subprocess.run([AGENTD, "--config", d, "--check-config"], capture_output=True, text=True,
                           timeout=30 * SLOW)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("%s: not a regular file" % fifo, p.stderr)


if __name__ == "__main__":
    main()
