"""agentd boots against the emulator: identity, credentials, sd_notify
protocol (READY, STATUS, WATCHDOG, STOPPING, RELOADING), config checks."""

import os
import signal
import subprocess

from harness import AGENTD, AgentTestCase, main, wait_for


class BootTest(AgentTestCase):
    def test_ready_with_identity_and_credentials(self):
        a = self.agent()
        a.wait_notify("READY=1")
        rc, doc = a.status()
        self.assertEqual(rc, 0, doc)
        inst = self.fake.state()["instance"]
        self.assertEqual(doc["identity"]["instance_id"], inst["instance_id"])
        self.assertEqual(doc["identity"]["region"], inst["region"])
        self.assertEqual(doc["identity"]["availability_zone"], inst["availability_zone"])
        self.assertEqual(doc["identity"]["instance_type"], inst["instance_type"])
        self.assertEqual(doc["identity"]["ami_id"], inst["ami_id"])
        self.assertEqual(doc["identity"]["local_ipv4"], inst["local_ipv4"])
        self.assertEqual(doc["identity"]["account_id"], inst["account_id"])
        self.assertEqual(doc["identity"]["iam_role"], inst["role"])
        self.assertEqual(doc["identity"]["tags"], inst["tags"])
        self.assertEqual(doc["agent"]["state"], "running")
        self.assertEqual(doc["agent"]["health"], "healthy")
        # The key IMDS handed out is the one in use; the secret is not shown.
        creds = self.fake.state()["credentials"]
        self.assertEqual(doc["credentials"]["access_key_id"], creds["current"])
        self.assertEqual(doc["credentials"]["source"], "imds")
        self.assertEqual([s["name"] for s in doc["bootstrap"]["steps"]], ["identity", "credentials"])
        self.assertTrue(all(s["done"] for s in doc["bootstrap"]["steps"]))
        self.assertIsNotNone(doc["bootstrap"]["ready_after_ms"])
        # STATUS= is for people.
        status = a.notifications("STATUS=")[-1][1]
        self.assertIn("Running", status)
        self.assertIn(inst["instance_id"], status)
        # IMDSv2 only: every GET carried a token (the emulator refuses others).
        reqs = self.fake.requests(service="imds")
        self.assertTrue(reqs)
        self.assertFalse([r for r in reqs if r["status"] == 401], reqs)

        # The text status a person reads.
        p = a.ctl("status")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(inst["instance_id"], p.stdout)
        self.assertIn("healthy", p.stdout)
        self.assertIn("credentials", p.stdout)
        self.assertEqual(a.stop(), 0)

        # Nothing secret reached a log line or status output.
        everything = a.log() + p.stdout + str(doc) + self.fake.output()
        for c in self.fake.state()["credentials"]["issued"]:
            self.assertNotIn(c["SecretAccessKey"], everything)
            self.assertNotIn(c["Token"], everything)

    def test_tags_in_metadata_disabled_is_not_an_error(self):
        self.fake._call("POST", "instance", {"tags_in_metadata": False})
        a = self.agent()
        a.wait_notify("READY=1")
        rc, doc = a.status()
        self.assertEqual(rc, 0)
        self.assertEqual(doc["identity"]["tags"], {})
        self.assertFalse(doc["identity"]["tags_in_metadata"])
        self.assertIn("not enabled", a.ctl("status").stdout)

    def test_watchdog_fed_at_half_interval(self):
        a = self.agent(watchdog_usec=600000)
        a.wait_notify("READY=1")
        a.wait_notify("WATCHDOG=1", count=6, timeout=10)
        # Pings keep coming while the loop runs; how far apart they are is a
        # measure of speed, and valgrind slows everything: bench/agentd-bench.py
        # prints the gaps.
        self.assertGreaterEqual(len(a.notifications("WATCHDOG=1")), 6)
        self.assertEqual(a.stop(), 0)

    def test_sigterm_stops_cleanly(self):
        a = self.agent()
        a.wait_notify("READY=1")
        self.assertTrue(os.path.exists(a.socket_path))
        self.assertEqual(a.stop(signal.SIGTERM), 0)
        a.wait_notify("STOPPING=1")
        self.assertFalse(os.path.exists(a.socket_path))
        self.assertIn("stopping", a.log())

    def test_environment_credentials(self):
        self.fake.add_static_credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        a = self.agent(env={"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
        a.wait_notify("READY=1")
        rc, doc = a.status()
        self.assertEqual(rc, 0)
        self.assertEqual(doc["credentials"]["source"], "environment")
        self.assertEqual(doc["credentials"]["access_key_id"], "AKIAIOSFODNN7EXAMPLE")
        self.assertIsNone(doc["credentials"]["expiration"])
        self.assertFalse(self.fake.requests(service="imds", operation="meta-data/iam/security-credentials/"
                                            + self.fake.state()["instance"]["role"]))
        self.assertNotIn("wJalrXUtnFEMI", a.log())

    def test_no_role_and_no_keys_fails_clearly(self):
        self.fake._call("POST", "instance", {"role": None})
        a = self.agent()
        # READY=1 still comes, so systemd keeps the agent (and its status) up.
        a.wait_notify("READY=1")
        rc, doc = a.status()
        self.assertEqual(rc, 2)
        self.assertEqual(doc["agent"]["state"], "failed")
        self.assertIn("credentials", doc["agent"]["last_error"])
        self.assertIn("no IAM role", doc["agent"]["last_error"])
        p = a.ctl("status")
        self.assertEqual(p.returncode, 2)
        self.assertIn("failed", p.stderr)
        self.assertIn("Failed at credentials", a.notifications("STATUS=")[-1][1])
        self.assertEqual(a.stop(), 0)

    def test_sighup_reloads_config(self):
        a = self.agent(log_level="info", config="[agent]\nlog_level = info\n")
        a.args = [x for x in a.args]    # started already
        a.wait_notify("READY=1")
        # A good change is applied (log_level is not pinned: --log-level is
        # given, so use a drop-in for something visible instead).
        a.write_config("[aws]\nmax_attempts = 2\n", name="agentd.conf.d/10-x.conf")
        a.send_signal(signal.SIGHUP)
        a.wait_notify("RELOADING=1")
        a.wait_notify("READY=1", count=2)
        wait_for(lambda: "configuration reloaded from 2 file(s)" in a.log(), what="reload log line")
        rc, doc = a.status()
        self.assertEqual(len(doc["agent"]["config_files"]), 2)
        # A bad change is refused and the agent keeps running on the old one.
        a.write_config("[aws]\nmax_attempts = lots\n", name="agentd.conf.d/20-bad.conf")
        a.send_signal(signal.SIGHUP)
        a.wait_notify("RELOADING=1", count=2)
        a.wait_notify("READY=1", count=3)
        wait_for(lambda: "configuration refused" in a.log(), what="refusal log line")
        self.assertIn("20-bad.conf:2", a.log())
        rc, doc = a.status()
        self.assertEqual(rc, 0)
        self.assertEqual(len(doc["agent"]["config_files"]), 2)
        self.assertIn("reload refused", self.subsystem_error(doc))
        self.assertIsNone(a.proc.poll())

    def subsystem_error(self, doc):
        return doc["agent"]["last_error"] or ""

    def test_check_config(self):
        d = os.path.join(self.tmp, "cc")
        os.makedirs(os.path.join(d, "agentd.conf.d"))
        p = subprocess.run([AGENTD, "--config", d, "--check-config"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)      # empty is valid
        with open(os.path.join(d, "agentd.conf.d", "50-userdata.conf"), "w") as f:
            f.write("[aws]\nregion = eu-central-1\n[secret.db]\nid = arn:aws:secretsmanager:x\n"
                    "[logs]\nlog_group = /aws/ec2/php-app\n[lifecycle]\nasg_name = a\n"
                    "launch_hook = l\nterminate_hook = t\n")
        p = subprocess.run([AGENTD, "--config", d, "--check-config"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("50-userdata.conf", p.stdout)
        with open(os.path.join(d, "agentd.conf"), "w") as f:
            f.write("[imds]\n\nboot_deadline = forever\n")
        p = subprocess.run([AGENTD, "--config", d, "--check-config"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn(os.path.join(d, "agentd.conf") + ":3", p.stderr)
        self.assertIn("boot_deadline", p.stderr)
        # And it refuses to start on it.
        p = subprocess.run([AGENTD, "--config", d], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("invalid configuration", p.stderr)


if __name__ == "__main__":
    main()
