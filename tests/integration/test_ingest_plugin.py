"""The ingestion plugin run by agentd (issues 13 and 14 together): agentd
renders the plugin's credentials from Secrets Manager and the nginx site
with the /api/ingest/ location, starts the API and two workers as
[plugin.NAME]s after bootstrap (the exec runner: no systemd here), turns
the API's /health into a check; a client's POST through the real nginx is
committed (202) and processed by the workers; at SIGTERM agentd drains:
/health 503, the plugins stopped, then it exits."""

import json
import os
import sys

from harness import AgentTestCase, main, wait_for
from services import Nginx, PhpFpm, free_port, http_get, write_php_app
from stack import TEMPLATES, make_dirs, stack_config

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins", "ingest", "tests"))
from ingest_fixture import INGEST_API, INGEST_WORKER, KEY, Stack, record  # noqa: E402

NO_SYSTEMD = {"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/agentd-test-bus"}


class IngestPluginTest(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.ingest = Stack(os.path.join(self.tmp, "ingest"))
        self.addCleanup(self.ingest.close)
        self.port = free_port()
        self.docroot = os.path.join(self.tmp, "www")
        write_php_app(self.docroot)
        p = make_dirs(self.tmp)
        self.site, self.pool = p["site"], p["pool"]
        os.unlink(self.ingest.creds)        # agentd renders it now

    def config(self):
        s = self.ingest
        plugins = ("[vars]\ningest_socket = %s\n"
                   "[secret.ingest-keys]\nid = ingest-keys\n"
                   "[render.ingest-credentials]\ntemplate = %s/ingest-credentials.in\ntarget = %s\nformat = raw\n"
                   "mode = 0600\n"
                   "[plugin.ingest]\nexec = %s --config %s\nhealth = http://localhost/health\nhealth_socket = %s\n"
                   "metrics = http://localhost/metrics\ndrain_timeout = 15s\n"
                   "[metrics]\ninterval = 1s\npublish_interval = 1s\n"
                   % (s.socket, TEMPLATES, s.creds, INGEST_API, s.conf, s.socket))
        for i in (1, 2):
            plugins += ("[plugin.ingest-worker-%d]\nexec = %s --config %s --instance %d\ndrain_timeout = 15s\n"
                        % (i, INGEST_WORKER, s.conf, i))
        return stack_config(self.tmp, self.port, self.docroot, with_env=False,
                            extra="[health]\nlisten = unix:%s/health.sock\n" % self.tmp + plugins)

    def test_api_and_workers_run_as_plugins_behind_the_rendered_site(self):
        db = self.ingest.db
        self.fake.create_secret("db", string=json.dumps({
            "username": "ingest", "password": "pw-ingest-1", "host": "127.0.0.1", "port": db.port,
            "dbname": "app", "engine": "mysql"}))
        self.fake.create_secret("ingest-keys", string="partner = %s" % KEY)
        a = self.agent(config=self.config(), env=NO_SYSTEMD)
        a.wait_notify("READY=1", timeout=60)
        # The credentials rendered from the two secrets, 0600.
        st = os.stat(self.ingest.creds)
        self.assertEqual(st.st_mode & 0o777, 0o600)
        self.assertIn("partner = " + KEY, open(self.ingest.creds).read())
        # The API's /health became a check; it passes once the plugin serves.
        def healthy():
            rc, doc = a.status()
            c = [c for c in doc["health"]["checks"] if c["name"] == "plugin-ingest"]
            return c and c[0]["status"] == "passing"
        wait_for(healthy, timeout=60, what="the plugin-ingest check passing")
        rc, doc = a.status()
        for name in ("plugin.ingest", "plugin.ingest-worker-1", "plugin.ingest-worker-2"):
            p = a.subsystem(doc, name)
            self.assertEqual(p["run_state"], "running", p)
            self.assertGreater(p["main_pid"], 0)
        # nginx with the site agentd rendered: /api/ingest/ reaches the plugin.
        fpm = PhpFpm(os.path.join(self.tmp, "fpm"), pool_config_path=self.pool)
        fpm.start()
        self.addCleanup(fpm.stop)
        ng = Nginx(os.path.join(self.tmp, "nginx"), site_path=self.site, port=self.port)
        ng.start()
        self.addCleanup(ng.stop)
        body = "".join(json.dumps(record(i)) + "\n" for i in range(50))
        # A counter's value at agentd's first scrape of a plugin is its
        # baseline (as the CloudWatch agent does): post after that scrape,
        # seen as the plugin's gauges in the emulator.
        wait_for(lambda: [d for d in self.fake.metric_data("ingest_db_up")
                          if d["Dimensions"].get("plugin") == "ingest"],
                 timeout=30, what="the plugin's first scrape published")
        status, body_out = http_post("http://127.0.0.1:%d/api/ingest/events" % self.port, body,
                                     {"Authorization": "Bearer " + KEY, "Content-Type": "application/x-ndjson"})
        self.assertEqual(status, 202, body_out)
        job = json.loads(body_out)["job_id"]
        self.ingest.wait_jobs_done([job], timeout=60)
        rows = db.sql("SELECT COUNT(*) FROM events", database="app")
        self.assertEqual(int(rows[0][0]), 50)
        # The plugin's metrics= (Prometheus text) published with the host's:
        # its counter as the amount since the previous scrape, plugin=ingest.
        def accepted():
            items = [d for d in self.fake.metric_data("ingest_jobs_accepted_total")
                     if d["Dimensions"].get("plugin") == "ingest"]
            total = sum(d.get("Value", 0) or (d.get("StatisticValues") or {}).get("Sum", 0) for d in items)
            return items if total >= 1 else None
        items = wait_for(accepted, timeout=30, what="ingest_jobs_accepted_total published")
        self.assertEqual(items[0]["Unit"], "Count")
        self.assertIn("InstanceId", items[0]["Dimensions"])
        # Without the key: refused by the plugin through nginx.
        status, _ = http_post("http://127.0.0.1:%d/api/ingest/events" % self.port, body,
                              {"Content-Type": "application/x-ndjson"})
        self.assertEqual(status, 401)
        # A series first seen after the first scrape (code="401" did not
        # exist before) counts from zero: its first answer is not lost.
        def refused():
            items = [d for d in self.fake.metric_data("ingest_http_responses_total")
                     if d["Dimensions"].get("plugin") == "ingest" and d["Dimensions"].get("code") == "401"]
            return items if sum((d.get("StatisticValues") or {}).get("Sum", d.get("Value", 0)) for d in items) >= 1 \
                else None
        wait_for(refused, timeout=30, what='ingest_http_responses_total{code="401"} published')
        pids = [a.subsystem(doc, n)["main_pid"] for n in ("plugin.ingest", "plugin.ingest-worker-1")]
        # Drain at SIGTERM: the plugins stop, then agentd exits.
        self.assertEqual(a.stop(), 0)
        self.assertIn("drain: plugins stopped", a.log())
        for pid in pids:
            self.assertFalse(os.path.exists("/proc/%d" % pid) and
                             open("/proc/%d/stat" % pid).read().split()[2] != "Z", "plugin %d still runs" % pid)


def http_post(url, body, headers):
    import urllib.error
    import urllib.request
    req = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


if __name__ == "__main__":
    main()
