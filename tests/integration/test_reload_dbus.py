"""Reloads through systemd's D-Bus API (agent/src/reload.c), against a fake
systemd (fake_systemd.py) on a private dbus-daemon that agentd reaches as
its system bus through DBUS_SYSTEM_BUS_ADDRESS: Subscribe, then
ReloadOrRestartUnit(unit, "replace") and the job's JobRemoved; failed jobs,
unknown units, JobRemoved overtaking the reply, and the fallback to
reload_command= when systemd is not on the bus. With the real php-fpm,
nginx and MariaDB of test_render.py for the rotation."""

import json
import os
import threading

from fake_systemd import DBusDaemon, FakeSystemd
from harness import SLOW, AgentTestCase, main, wait_for
from services import MariaDB, Nginx, PhpFpm, free_port, http_get, write_php_app
from stack import make_dirs, reload_command, stack_config


FPM = "php8.2-fpm.service"
NGINX = "nginx.service"


def secret_doc(user, password, port, db="appdb"):
    return json.dumps({"username": user, "password": password, "host": "127.0.0.1", "port": port,
                       "dbname": db, "engine": "mysql"})


class ReloadDBusTest(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.db = MariaDB(os.path.join(self.tmp, "db"))
        self.db.start()
        self.addCleanup(self.db.stop)
        self.db.create_user("app", "first-Pass1", "appdb")
        self.fake.create_secret("db", string=secret_doc("app", "first-Pass1", self.db.port))
        self.port = free_port()
        self.docroot = os.path.join(self.tmp, "www")
        write_php_app(self.docroot)
        p = make_dirs(self.tmp)
        self.pool, self.site = p["pool"], p["site"]
        self.fpm_pid, self.nginx_pid = p["fpm_pid"], p["nginx_pid"]
        # What systemd's ExecReload= does for each (graceful).
        self.units = {FPM: reload_command(self.fpm_pid, "USR2"), NGINX: reload_command(self.nginx_pid, "HUP")}
        self.bus = DBusDaemon(os.path.join(self.tmp, "dbus"))
        self.bus.start()
        self.addCleanup(self.bus.stop)
        self.systemd = None
        self.fpm = self.nginx = None

    def start_systemd(self, **kw):
        self.systemd = FakeSystemd(self.bus, os.path.join(self.tmp, "systemd"), units=self.units, **kw)
        self.systemd.start()
        self.addCleanup(self.systemd.stop)
        return self.systemd

    def config(self, fpm_reload=FPM, nginx_reload=NGINX, extra_fpm="", extra_nginx=""):
        return stack_config(self.tmp, self.port, self.docroot, with_env=False,
                            fpm_reload="reload = %s\n%s" % (fpm_reload, extra_fpm),
                            nginx_reload="reload = %s\n%s" % (nginx_reload, extra_nginx))

    def boot(self, **kw):
        a = self.agent(config=self.config(**kw), env={"DBUS_SYSTEM_BUS_ADDRESS": self.bus.address})
        a.wait_notify("READY=1", timeout=60)
        return a

    def start_stack(self):
        self.fpm = PhpFpm(os.path.join(self.tmp, "fpm"), pool_config_path=self.pool)
        self.fpm.start()
        self.addCleanup(self.fpm.stop)
        self.nginx = Nginx(os.path.join(self.tmp, "nginx"), site_path=self.site, port=self.port)
        self.nginx.start()
        self.addCleanup(self.nginx.stop)

    def get(self, path="/"):
        return http_get("http://127.0.0.1:%d%s" % (self.port, path), timeout=10)

    def reloads(self, unit=None):
        return [c["args"] for c in self.systemd.calls("ReloadOrRestartUnit") if unit in (None, c["args"][0])]

    def job_ends(self, unit):
        return [s["args"][3] for s in self.systemd.signals() if s["args"][2] == unit]

    def read(self, path):
        with open(path, encoding="utf-8") as f:
            return f.read()

    def tearDown(self):
        if self._outcome_failed() and self.systemd is not None:
            import sys
            sys.stderr.write("---- fake systemd events ----\n%s\n%s\n"
                             % (json.dumps(self.systemd.events(), indent=1)[-4000:], self.systemd.log()[-2000:]))
        super().tearDown()

    # ------------------------------------------------------------------
    def test_boot_reloads_each_unit_through_systemd(self):
        sd = self.start_systemd()
        a = self.boot()
        rc, doc = a.status()
        self.assertEqual(rc, 0, doc)
        self.assertEqual((doc["agent"]["state"], doc["agent"]["health"]), ("running", "healthy"))
        self.assertEqual(a.subsystem(doc, "render.fpm")["state"], "ok")
        self.assertEqual(a.subsystem(doc, "render.nginx")["state"], "ok")
        calls = sd.calls()
        self.assertEqual([c["method"] for c in calls].count("Subscribe"), 1, calls)
        self.assertEqual(calls[0]["method"], "Subscribe", calls)      # before any job: no missed signal
        self.assertEqual(sorted(self.reloads()), [[NGINX, "replace"], [FPM, "replace"]])
        self.assertEqual(len({c["sender"] for c in calls}), 1, calls)  # one connection
        # Both jobs ended "done" and were delivered to the subscriber.
        self.assertEqual([(s["args"][3], s["delivered"]) for s in sd.signals()], [("done", True)] * 2)
        log = a.log()
        self.assertIn("reloaded %s" % FPM, log)
        self.assertIn("reloaded %s" % NGINX, log)
        self.assertNotIn("with its command", log)

    def test_rotation_reloads_only_php_fpm_gracefully(self):
        sd = self.start_systemd()
        a = self.boot()
        self.assertEqual(a.status()[0], 0)
        self.start_stack()
        self.assertEqual(self.get("/")[:3:2], (200, b"ok"))
        master = self.fpm.master_pid
        ready = self.fpm.ready_count()
        self.assertEqual(len(self.reloads(FPM)), 1)
        self.db.set_password("app", "second-Pass2")
        self.fake.rotate_secret("db", string=secret_doc("app", "second-Pass2", self.db.port))
        wait_for(lambda: 'env[DB_PASSWORD] = "second-Pass2"' in self.read(self.pool), timeout=30,
                 what="the rotated password in the pool")
        wait_for(lambda: len(self.job_ends(FPM)) == 2, timeout=30, what="the php-fpm reload job's end")
        self.assertEqual(self.job_ends(FPM), ["done", "done"])
        # SIGUSR2 reached the master: new workers, same master.
        wait_for(lambda: self.fpm.ready_count() > ready, timeout=30, what="php-fpm reload")
        self.assertEqual(self.fpm.master_pid, master)
        self.assertTrue(self.fpm.running())
        wait_for(lambda: self.get("/")[:3:2] == (200, b"ok"), timeout=20, what="the page with the new password")
        self.assertEqual(self.reloads(FPM), [[FPM, "replace"]] * 2)
        self.assertEqual(self.reloads(NGINX), [[NGINX, "replace"]])   # site.conf did not change
        self.assertEqual([c["method"] for c in sd.calls()].count("Subscribe"), 1)
        rc, doc = a.status()
        self.assertEqual(rc, 0, doc)
        self.assertEqual(a.subsystem(doc, "render.fpm")["installs"], 2)
        self.assertEqual(a.subsystem(doc, "render.nginx")["installs"], 1)

    def test_failed_job_at_boot_fails_bootstrap(self):
        self.units[FPM] = "exit 1"
        sd = self.start_systemd()
        a = self.boot()
        rc, doc = a.status()
        self.assertEqual(rc, 2, doc)
        self.assertEqual(doc["agent"]["state"], "failed")
        want = "systemd could not reload %s: job failed" % FPM
        self.assertIn(want, doc["agent"]["last_error"])
        fpm = a.subsystem(doc, "render.fpm")
        self.assertEqual(fpm["state"], "degraded")
        self.assertIn("installed, but " + want, fpm["last_error"])
        self.assertEqual(a.subsystem(doc, "render.nginx")["state"], "ok")
        self.assertEqual(self.job_ends(FPM), ["failed"])
        self.assertEqual(self.job_ends(NGINX), ["done"])
        self.assertIn(want, a.log())
        p = a.ctl("status")
        self.assertEqual(p.returncode, 2)

    def test_failed_job_after_rotation_degrades(self):
        sd = self.start_systemd()
        a = self.boot()
        self.assertEqual(a.status()[0], 0)
        sd.set_unit(FPM, "echo reload refused >&2; exit 1")
        self.db.set_password("app", "second-Pass2")
        self.fake.rotate_secret("db", string=secret_doc("app", "second-Pass2", self.db.port))

        def degraded():
            rc, doc = a.status()
            return (rc, doc) if a.subsystem(doc, "render.fpm")["state"] == "degraded" else None
        rc, doc = wait_for(degraded, timeout=30, interval=0.2, what="render.fpm degraded")
        self.assertEqual(rc, 1, doc)
        self.assertEqual((doc["agent"]["state"], doc["agent"]["health"]), ("running", "degraded"))
        self.assertIn("installed, but systemd could not reload %s: job failed" % FPM,
                      a.subsystem(doc, "render.fpm")["last_error"])
        self.assertEqual(a.subsystem(doc, "render.nginx")["state"], "ok")
        self.assertEqual(self.job_ends(FPM), ["done", "failed"])
        self.assertEqual(len(self.reloads(NGINX)), 1)
        # The new file stays installed.
        self.assertIn('env[DB_PASSWORD] = "second-Pass2"', self.read(self.pool))

    def test_unknown_unit_is_a_clear_error(self):
        sd = self.start_systemd()
        a = self.boot(nginx_reload="nginx-typo.service")
        rc, doc = a.status()
        self.assertEqual(rc, 2, doc)
        err = doc["agent"]["last_error"]
        self.assertIn("systemd refused to reload nginx-typo.service", err)
        self.assertIn("not found", err)
        ngx = a.subsystem(doc, "render.nginx")
        self.assertEqual(ngx["state"], "degraded")
        self.assertIn("nginx-typo.service", ngx["last_error"])
        self.assertEqual(a.subsystem(doc, "render.fpm")["state"], "ok")
        self.assertEqual(sorted(self.reloads()), [["nginx-typo.service", "replace"], [FPM, "replace"]])
        self.assertEqual(self.job_ends("nginx-typo.service"), [])
        self.assertNotIn("with its command", a.log())        # an answer from systemd: no fallback

    def test_job_removed_before_the_reply(self):
        sd = self.start_systemd(job_removed_before_reply=True)
        a = self.boot()
        rc, doc = a.status()
        self.assertEqual(rc, 0, doc)            # not a bootstrap_timeout: READY=1 comes either way
        self.assertEqual(sorted(self.reloads()), [[NGINX, "replace"], [FPM, "replace"]])
        self.assertEqual([(s["args"][3], s["delivered"]) for s in sd.signals()], [("done", True)] * 2)
        self.assertIn("reloaded %s" % FPM, a.log())
        self.assertIn("reloaded %s" % NGINX, a.log())
        # And again on a rotation, with the same connection.
        self.fake.rotate_secret("db", string=secret_doc("app", "first-Pass1-again", self.db.port))
        wait_for(lambda: len(self.reloads(FPM)) == 2, timeout=30, what="the second php-fpm reload")
        wait_for(lambda: a.log().count("reloaded %s" % FPM) == 2, timeout=30, what="the second reload's end")
        self.assertEqual(a.status()[0], 0)

    def test_reloads_merged_by_systemd_all_complete(self):
        # Two reloads of one unit while its job has not ended: systemd merges
        # the second into the first job and answers with the same job path;
        # its one JobRemoved must end both of agentd's waits.
        sd = self.start_systemd()
        a = self.boot()
        self.fake.rotate_secret("db", string=secret_doc("app", "second-Pass2", self.db.port))
        wait_for(lambda: self.job_ends(FPM) == ["done", "done"], timeout=30, what="the rotation's reload")
        gate = os.path.join(self.tmp, "gate")
        sd.set_unit(FPM, "while [ ! -e %s ]; do sleep 0.02; done" % gate)
        results = {}

        def rollback(n):
            p = a.ctl("rollback", "fpm")
            results[n] = (p.returncode, p.stderr)
        threads = [threading.Thread(target=rollback, args=(n,)) for n in range(2)]
        threads[0].start()
        wait_for(lambda: len(self.reloads(FPM)) == 3, timeout=20, what="the first rollback's reload")
        threads[1].start()
        wait_for(lambda: [e for e in sd.events() if e["kind"] == "merge"], timeout=20, what="the merged reload")
        self.assertEqual(results, {})                    # both wait for the job
        open(gate, "w").close()
        for t in threads:
            t.join(timeout=20 * SLOW)
        self.assertEqual(results, {0: (0, ""), 1: (0, "")})
        self.assertEqual(self.job_ends(FPM), ["done"] * 3)
        self.assertEqual(len(self.reloads(FPM)), 4)

    def test_no_systemd_on_the_bus_falls_back_to_reload_command(self):
        # dbus-daemon answers, but nobody owns org.freedesktop.systemd1.
        marker = os.path.join(self.tmp, "reloaded-%s")
        a = self.boot(extra_fpm="reload_command = touch %s" % (marker % "fpm"),
                      extra_nginx="reload_command = touch %s" % (marker % "nginx"))
        rc, doc = a.status()
        self.assertEqual(rc, 0, doc)
        wait_for(lambda: os.path.exists(marker % "fpm") and os.path.exists(marker % "nginx"), timeout=10,
                 what="the reload commands' markers")
        log = a.log()
        self.assertIn("systemd is not on the system bus; reloading %s with its command" % FPM, log)
        self.assertIn("reloaded with: touch %s" % (marker % "fpm"), log)

    def test_no_bus_falls_back_to_reload_command(self):
        marker = os.path.join(self.tmp, "reloaded-fpm")
        a = self.agent(config=self.config(extra_fpm="reload_command = touch %s" % marker,
                                          nginx_reload="nginx.service\nreload_command = true"),
                       env={"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=" + os.path.join(self.tmp, "no-such-bus")})
        a.wait_notify("READY=1", timeout=60)
        rc, doc = a.status()
        self.assertEqual(rc, 0, doc)
        self.assertTrue(os.path.exists(marker))
        self.assertIn("the system bus is not reachable", a.log())

    def test_no_systemd_and_no_reload_command_is_an_error(self):
        a = self.boot()
        rc, doc = a.status()
        self.assertEqual(rc, 2, doc)
        self.assertIn("cannot reload", doc["agent"]["last_error"])
        self.assertIn("no reload_command= is set", doc["agent"]["last_error"])


if __name__ == "__main__":
    main()
