"""IMDS misbehaving: down at boot, down for good, expired tokens, malformed,
truncated, huge and slow answers. The agent retries what is worth retrying,
fails clearly otherwise, and keeps feeding the watchdog throughout."""

from harness import SLOW, AgentTestCase, main, wait_for

WATCHDOG_USEC = 1000000


class ImdsFaultTest(AgentTestCase):
    def assert_watchdog_kept_fed(self, a):
        """The pings kept coming while IMDS misbehaved (the loop never
        blocked on it). How far apart is a matter of speed, which valgrind
        and a loaded machine change: the bound grows with the slowdown;
        bench/agentd-bench.py measures the gaps."""
        times = [t for t, _ in a.notifications("WATCHDOG=1")]
        self.assertGreaterEqual(len(times), 2)
        gaps = [b - x for x, b in zip(times, times[1:])]
        self.assertTrue(all(g < WATCHDOG_USEC / 1e6 * SLOW for g in gaps), gaps)

    def test_down_at_boot_then_up(self):
        # Down for longer than agentd takes to start, even under valgrind.
        self.fake.imds_down(3 * SLOW)
        a = self.agent(watchdog_usec=WATCHDOG_USEC)
        a.wait_notify("READY=1", timeout=30)
        rc, doc = a.status()
        self.assertEqual(rc, 0)
        self.assertEqual(doc["identity"]["instance_id"], self.fake.state()["instance"]["instance_id"])
        self.assertIn("retrying", a.log())
        # systemd was told to wait longer while we retried.
        self.assertTrue(a.notifications("EXTEND_TIMEOUT_USEC="))
        self.assert_watchdog_kept_fed(a)

    def test_down_past_deadline_fails_clearly(self):
        self.fake.imds_down(600)
        a = self.agent(watchdog_usec=WATCHDOG_USEC, config="[imds]\nboot_deadline = 3s\ntimeout = 500ms\n")
        a.wait_notify("READY=1", timeout=30)
        rc, doc = a.status()
        self.assertEqual(rc, 2)
        self.assertEqual(doc["agent"]["state"], "failed")
        self.assertIn("boot_deadline", doc["agent"]["last_error"])
        self.assertIn("identity", doc["agent"]["last_error"])
        imds = a.subsystem(doc, "imds")
        self.assertEqual(imds["state"], "failed")
        p = a.ctl("status")
        self.assertEqual(p.returncode, 2)
        self.assertIn("boot_deadline", p.stderr)
        # Still running, still alive for systemd.
        self.assertIsNone(a.proc.poll())
        a.wait_notify("WATCHDOG=1", count=3)
        self.assert_watchdog_kept_fed(a)

    def test_expired_token_recovers_after_401(self):
        self.fake.set_credentials_ttl(6)
        a = self.agent()
        a.wait_notify("READY=1")
        first = a.status()[1]["credentials"]["access_key_id"]
        seq = max([r["seq"] for r in self.fake.requests()] + [0])
        self.fake.expire_tokens()
        # The next credential refresh meets a 401, renews the token, succeeds.
        wait_for(lambda: a.status()[1]["credentials"] and
                 a.status()[1]["credentials"]["access_key_id"] != first,
                 timeout=20, interval=0.2, what="refreshed credentials")
        after = self.fake.requests(service="imds", since=seq)
        statuses = [(r["operation"], r["status"]) for r in after]
        self.assertIn(401, [s for _, s in statuses], statuses)
        i401 = [s for _, s in statuses].index(401)
        self.assertIn(("api/token", 200), statuses[i401:], statuses)
        self.assertEqual(a.status()[0], 0)

    def test_garbled_answers_at_boot_are_retried(self):
        # One malformed instance id, one truncated region, one huge AMI id.
        self.fake.fault("malformed", service="imds", operation="meta-data/instance-id")
        self.fake.fault("truncated", service="imds", operation="meta-data/placement/region")
        self.fake.fault("huge", service="imds", operation="meta-data/ami-id", nbytes=2 * 1024 * 1024)
        a = self.agent(watchdog_usec=WATCHDOG_USEC)
        a.wait_notify("READY=1", timeout=30)
        rc, doc = a.status()
        self.assertEqual(rc, 0)
        inst = self.fake.state()["instance"]
        self.assertEqual(doc["identity"]["instance_id"], inst["instance_id"])
        self.assertEqual(doc["identity"]["region"], inst["region"])
        self.assertEqual(doc["identity"]["ami_id"], inst["ami_id"])
        log = a.log()
        self.assertIn("retrying", log)
        # Each problem was named, with the path it came from.
        self.assertTrue("instance-id: malformed value" in log or "meta-data/instance-id" in log, log)

    def test_malformed_credentials_document(self):
        role = self.fake.state()["instance"]["role"]
        self.fake.fault("malformed", service="imds", operation="meta-data/iam/security-credentials/" + role,
                        count=1000)
        a = self.agent(config="[agent]\nbootstrap_timeout = 4s\n")
        a.wait_notify("READY=1", timeout=30)
        rc, doc = a.status()
        self.assertEqual(rc, 2)
        err = a.subsystem(doc, "credentials")["last_error"]
        self.assertIn("not a JSON object", err)

    def test_slow_imds_times_out_and_retries(self):
        self.fake.fault("slow", service="imds", operation="meta-data/instance-type", seconds=5)
        a = self.agent(watchdog_usec=WATCHDOG_USEC, config="[imds]\ntimeout = 1s\n")
        a.wait_notify("READY=1", timeout=30)
        self.assertEqual(a.status()[0], 0)
        self.assertIn("instance-type", a.log())
        self.assertIn("imed out", a.log())       # curl: "Operation timed out"
        self.assert_watchdog_kept_fed(a)


if __name__ == "__main__":
    main()
