"""Self-test of the real-service fixtures (services.py): MariaDB, php-fpm 8.2
and nginx from Debian, started on loopback ports and unix sockets in temp
dirs; the PHP test app through all three; graceful php-fpm reload after a
password change; failures that must come back as clear errors."""

import os
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from services import (MariaDB, Nginx, PhpFpm, ServiceError, fpm_pool, free_port, http_get,  # noqa: E402
                      php_site, sql_string, write_php_app)

PHP_CLI = os.environ.get("PHP_CLI", "/usr/bin/php8.2")

# Everything SQL and shells like to interpret.
NASTY = "it's \"quoted\" \\back\\slash; DROP TABLE x; -- }{ $HOME ${x} `tick` %s\nsecond line\ttab \u00e9"
NASTY2 = "\\'; }$\n\\n\\\\'' \" ; \\0 end"


class Tmp(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="agentd-svc-")
        self.tmp = self._tmp.name
        self.daemons = []

    def tearDown(self):
        failed = not getattr(getattr(self, "_outcome", None), "success", True)
        for d in reversed(self.daemons):
            try:
                d.stop()
            except ServiceError as e:
                sys.stderr.write("%s\n" % e)
            if failed:
                sys.stderr.write("---- %s log ----\n%s\n" % (d.name, d.log()[-4000:]))
        self._tmp.cleanup()

    def own(self, daemon):
        self.daemons.append(daemon)
        return daemon


class MariaDBTest(Tmp):
    def test_sql_and_nasty_passwords(self):
        db = self.own(MariaDB(os.path.join(self.tmp, "db")))
        db.start()
        self.assertTrue(db.init_seconds is not None and db.init_seconds > 0)
        self.assertNotEqual(db.port, 0)
        self.assertEqual(db.sql("SELECT CURRENT_USER(), NULL, 'a\\tb\\\\c\\nd'"),
                         [["root@localhost", None, "a\tb\\c\nd"]])
        # The literal round-trips exactly.
        self.assertEqual(db.sql("SELECT %s" % sql_string(NASTY)), [[NASTY]])

        db.create_user("app", NASTY, "appdb")
        for tcp, who in ((True, "app@127.0.0.1"), (False, "app@localhost")):
            ok, rows = db.login("app", NASTY, "appdb", tcp=tcp)
            self.assertTrue(ok, rows)
            self.assertEqual(rows, [[who]])
        ok, err = db.login("app", NASTY + "x", "appdb")
        self.assertFalse(ok)
        self.assertIn("Access denied", err)
        ok, err = db.login("app", "", "appdb")
        self.assertFalse(ok)
        # Granted on its database only.
        ok, _ = db.login("app", NASTY, statement="CREATE TABLE appdb.t (i INT); INSERT INTO appdb.t VALUES (1)")
        self.assertTrue(ok)
        ok, err = db.login("app", NASTY, statement="SELECT COUNT(*) FROM mysql.user")
        self.assertFalse(ok, err)

        db.set_password("app", NASTY2)
        for tcp in (True, False):
            self.assertTrue(db.login("app", NASTY2, "appdb", tcp=tcp)[0])
            self.assertFalse(db.login("app", NASTY, "appdb", tcp=tcp)[0])

        # The real PHP driver with the password as the app gets it (getenv).
        www = os.path.join(self.tmp, "www")
        app = write_php_app(www)
        env = dict(os.environ, DB_HOST="127.0.0.1", DB_PORT=str(db.port), DB_USER="app",
                   DB_PASSWORD=NASTY2, DB_NAME="appdb")
        p = subprocess.run([PHP_CLI, app], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(p.stdout, "ok", p.stderr)
        env["DB_PASSWORD"] = NASTY
        p = subprocess.run([PHP_CLI, app], env=env, capture_output=True, text=True, timeout=30)
        self.assertIn("Access denied", p.stdout)

        # Restart: same data dir, not initialised again.
        self.assertEqual(db.stop(), 0)
        marker = db.init_seconds
        db.start()
        self.assertIs(db.init_seconds, marker)
        self.assertTrue(db.login("app", NASTY2, "appdb")[0])
        self.assertEqual(db.sql("SELECT i FROM appdb.t"), [["1"]])

    def test_two_in_parallel(self):
        dbs = [self.own(MariaDB(os.path.join(self.tmp, "db%d" % i))) for i in range(2)]
        errors = []

        def run(db):
            try:
                db.start()
            except Exception as e:      # reported below
                errors.append(e)
        threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertNotEqual(dbs[0].port, dbs[1].port)
        dbs[0].sql("CREATE DATABASE only_here")
        self.assertEqual(dbs[1].sql("SHOW DATABASES LIKE 'only_here'"), [])

    def test_start_failure_has_log(self):
        db = self.own(MariaDB(os.path.join(self.tmp, "db"), port=free_port()))
        db.initialise()
        # A corrupt system table directory: mariadbd refuses to start.
        with open(os.path.join(db.datadir, "ibdata1"), "r+b") as f:
            f.truncate(4096)
        with self.assertRaises(ServiceError) as cm:
            db.start(timeout=60)
        self.assertIn("mariadb log", str(cm.exception))
        self.assertFalse(db.running())


class StackTest(Tmp):
    """nginx -> php-fpm -> MariaDB, the way the platform runs a PHP app."""

    def test_app_and_graceful_password_rotation(self):
        db = self.own(MariaDB(os.path.join(self.tmp, "db")))
        db.start()
        pw1, pw2 = "first-Pass;w0rd}#1", "second-Pass;w0rd}#2"
        db.create_user("app", pw1, "appdb")

        fpm_dir = os.path.join(self.tmp, "fpm")
        os.makedirs(fpm_dir)
        sock = os.path.join(fpm_dir, "php-fpm.sock")
        env = {"DB_HOST": "127.0.0.1", "DB_PORT": str(db.port), "DB_USER": "app", "DB_NAME": "appdb"}
        pool = os.path.join(fpm_dir, "app-pool.conf")     # the caller's own pool file

        def write_pool(password):
            with open(pool + ".tmp", "w") as f:
                f.write(fpm_pool(sock, dict(env, DB_PASSWORD=password), name="app"))
            os.replace(pool + ".tmp", pool)
        write_pool(pw1)
        fpm = self.own(PhpFpm(fpm_dir, pool_config_path=pool))
        ok, out = fpm.test_config(pool)
        self.assertTrue(ok, out)
        fpm.start()
        self.assertEqual(fpm.listen, sock)
        master = fpm.master_pid

        www = os.path.join(self.tmp, "www")
        write_php_app(www)
        ng = self.own(Nginx(os.path.join(self.tmp, "nginx"), site_text=lambda port: php_site(port, www, sock)))
        ok, out = ng.test_config()
        self.assertTrue(ok, out)
        ng.start()

        status, headers, body = http_get(ng.url("/"))
        self.assertEqual((status, body), (200, b"ok"))
        self.assertEqual(headers.get("content-type"), "text/plain;charset=UTF-8")
        self.assertEqual(http_get(ng.url("/ping"))[::2], (200, b"pong"))
        self.assertEqual(http_get(ng.url("/missing.php"))[0], 404)

        # Rotate: the database first (the app now fails, loudly) ...
        db.set_password("app", pw2)
        status, _, body = http_get(ng.url("/"))
        self.assertEqual(status, 500)
        self.assertIn(b"Access denied", body)
        # ... then the pool and a graceful reload.
        write_pool(pw2)
        ok, out = fpm.test_config(pool)
        self.assertTrue(ok, out)
        fpm.reload()
        self.assertEqual(fpm.master_pid, master)
        self.assertTrue(fpm.running())
        self.assertEqual(http_get(ng.url("/"))[::2], (200, b"ok"))
        self.assertIn("Reloading in progress", fpm.log())

        # nginx reload: new workers, same master, still serving.
        old_workers = ng.workers()
        ng_master = ng.pid
        ng.reload()
        self.assertEqual(ng.pid, ng_master)
        self.assertTrue(ng.workers() - old_workers)
        self.assertEqual(http_get(ng.url("/"))[::2], (200, b"ok"))

        self.assertEqual(ng.stop(), 0)
        self.assertEqual(fpm.stop(), 0)
        self.assertEqual(db.stop(), 0)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "nginx", "nginx.pid")))


class FailureTest(Tmp):
    def test_php_fpm_bad_pool(self):
        d = os.path.join(self.tmp, "fpm")
        fpm = self.own(PhpFpm(d, pool_text="[www]\nlisten = %s/php-fpm.sock\npm = bogus\n" % d))
        ok, out = fpm.test_config()
        self.assertFalse(ok)
        self.assertIn("pm", out)
        with self.assertRaises(ServiceError) as cm:
            fpm.start(timeout=10)
        self.assertIn("php-fpm log", str(cm.exception))
        self.assertIn("invalid process manager", str(cm.exception))

    def test_php_fpm_reload_bad_pool(self):
        d = os.path.join(self.tmp, "fpm")
        fpm = self.own(PhpFpm(d))
        fpm.start()
        fpm.write_pool("[www]\nlisten = %s\npm = bogus\n" % fpm.socket)
        with self.assertRaises(ServiceError):
            fpm.reload(timeout=10)

    def test_nginx_bad_site_and_bad_reload(self):
        ng = self.own(Nginx(os.path.join(self.tmp, "ng"), site_text="server { listen 127.0.0.1:1; bogus_directive; }"))
        ok, out = ng.test_config()
        self.assertFalse(ok)
        self.assertIn("bogus_directive", out)
        with self.assertRaises(ServiceError) as cm:
            ng.start(timeout=10)
        self.assertIn("bogus_directive", str(cm.exception))

        ng2 = self.own(Nginx(os.path.join(self.tmp, "ng2")))
        ng2.start()
        self.assertEqual(http_get(ng2.url("/__health"))[::2], (200, b"ok\n"))
        ng2.write_site("server { listen 127.0.0.1:%d; nope; }" % ng2.port)
        with self.assertRaises(ServiceError) as cm:
            ng2.reload(timeout=10)
        self.assertIn("nope", str(cm.exception))
        # The old configuration still serves.
        self.assertEqual(http_get(ng2.url("/__health"))[0], 200)

    def test_nginx_port_taken_is_retried(self):
        import socket
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        try:
            ng = self.own(Nginx(os.path.join(self.tmp, "ng")))
            taken = blocker.getsockname()[1]
            ng.port = taken
            ng._render_site()
            ng.start()
            self.assertNotEqual(ng.port, taken)
            self.assertEqual(http_get(ng.url("/__health"))[0], 200)
        finally:
            blocker.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
