"""The signed AWS client against the emulator, which checks every signature
with botocore and every parameter against botocore's models."""

import json

from harness import AgentTestCase, main, run_probe

SECRET = "db"
DESCRIBE = ("secretsmanager.DescribeSecret", json.dumps({"SecretId": SECRET}))
METRIC_BODY = ("Action=PutMetricData&Version=2010-08-01&Namespace=agentd%2Ftest"
               "&MetricData.member.1.MetricName=probe&MetricData.member.1.Value=1"
               "&MetricData.member.1.Unit=Count")


class AwsClientTest(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.fake.create_secret(SECRET, string='{"username":"app","password":"pw"}')

    def probe(self, target=DESCRIBE[0], body=DESCRIBE[1], **kw):
        rc, results, log = run_probe(self.tmp, self.fake, target, body, **kw)
        self.log = log
        return rc, results

    def calls(self, operation):
        return [r for r in self.fake.requests() if r["operation"] == operation]

    def test_json_call_signed_with_role_credentials(self):
        rc, res = self.probe()
        self.assertEqual(rc, 0, self.log)
        self.assertTrue(res[0]["ok"], res)
        self.assertEqual(res[0]["attempts"], 1)
        calls = self.calls("DescribeSecret")
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls[0]["status"], 200)
        self.assertEqual(calls[0]["access_key_id"], self.fake.state()["credentials"]["current"])

    def test_query_call(self):
        rc, res = self.probe("PutMetricData", METRIC_BODY, service="monitoring", query=True)
        self.assertTrue(res[0]["ok"], (res, self.log))
        data = self.fake.state()["metric_data"]
        self.assertEqual(len(data), 1)
        self.assertEqual(data[0]["Namespace"], "agentd/test")

    def test_wrong_key_is_refused_and_not_retried(self):
        # The emulator really checks signatures: a wrong secret key fails.
        self.fake.add_static_credentials("AKIAIOSFODNN7EXAMPLE", "the-right-secret")
        rc, res = self.probe(env={"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                                  "AWS_SECRET_ACCESS_KEY": "a-wrong-secret"})
        self.assertFalse(res[0]["ok"])
        self.assertEqual(res[0]["code"], "InvalidSignatureException")
        self.assertEqual(res[0]["status"], 403)
        self.assertEqual(res[0]["attempts"], 1)
        self.assertEqual(len(self.calls("DescribeSecret")), 1)
        self.assertIn("InvalidSignatureException", res[0]["reason"])
        # ...and the right one passes.
        rc, res = self.probe(env={"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                                  "AWS_SECRET_ACCESS_KEY": "the-right-secret"})
        self.assertTrue(res[0]["ok"], res)
        self.assertNotIn("the-right-secret", self.log)

    def test_throttling_is_retried(self):
        self.fake.fault("throttle", service="secretsmanager", operation="DescribeSecret", count=2)
        rc, res = self.probe()
        self.assertTrue(res[0]["ok"], res)
        self.assertEqual(res[0]["attempts"], 3)
        self.assertEqual([c["status"] for c in self.calls("DescribeSecret")], [400, 400, 200])
        self.assertEqual([c["error"] for c in self.calls("DescribeSecret")][:2],
                         ["ThrottlingException"] * 2)

    def test_validation_error_is_not_retried(self):
        rc, res = self.probe(body=json.dumps({"SecretId": ""}))
        self.assertFalse(res[0]["ok"])
        self.assertEqual(res[0]["attempts"], 1)
        self.assertIn(res[0]["code"], ("ValidationException", "InvalidParameterException"))
        self.assertEqual(res[0]["class"], "fatal")
        self.assertEqual(len(self.calls("DescribeSecret")), 1)
        # Query protocol: a missing Namespace.
        rc, res = self.probe("PutMetricData", "Action=PutMetricData&Version=2010-08-01",
                             service="monitoring", query=True)
        self.assertFalse(res[0]["ok"])
        self.assertEqual(res[0]["code"], "ValidationError")
        self.assertEqual(res[0]["attempts"], 1)
        # Not found is not retried either, and says what was missing.
        rc, res = self.probe(body=json.dumps({"SecretId": "no-such-secret"}))
        self.assertEqual(res[0]["code"], "ResourceNotFoundException")
        self.assertEqual(res[0]["attempts"], 1)

    def test_5xx_and_dropped_connections_are_retried(self):
        self.fake.fault("error5xx", service="secretsmanager", count=1)
        self.fake.fault("drop", service="secretsmanager", count=1)
        self.fake.fault("truncated", service="secretsmanager", count=1)
        rc, res = self.probe()
        self.assertTrue(res[0]["ok"], (res, self.log))
        # libcurl itself re-sends once on a reused connection that died
        # before answering (a stale keep-alive), so 3 or 4 attempts.
        self.assertIn(res[0]["attempts"], (3, 4))
        statuses = [c["status"] for c in self.calls("DescribeSecret")]
        self.assertEqual(statuses[0], 500)
        self.assertEqual(statuses[-1], 200)
        self.assertEqual([c["fault"] for c in self.calls("DescribeSecret")][:3], ["error5xx", "drop", "truncated"])

    def test_attempts_are_bounded(self):
        self.fake.fault("throttle", service="secretsmanager", count=100)
        rc, res = self.probe(config="[aws]\nmax_attempts = 3\n")
        self.assertFalse(res[0]["ok"])
        self.assertEqual(res[0]["attempts"], 3)
        self.assertEqual(res[0]["class"], "throttled")
        self.assertEqual(len(self.calls("DescribeSecret")), 3)
        self.assertIn("ThrottlingException", res[0]["reason"])

    def test_expired_token_forces_one_refresh_and_one_retry(self):
        role = self.fake.state()["instance"]["role"]
        self.fake.fault("expired_token", service="secretsmanager", count=1)
        rc, res = self.probe()
        self.assertTrue(res[0]["ok"], (res, self.log))
        self.assertEqual(res[0]["attempts"], 2)
        log = self.fake.requests()
        calls = [r for r in log if r["operation"] == "DescribeSecret"]
        self.assertEqual(calls[0]["error"], "ExpiredTokenException")
        self.assertEqual(calls[1]["status"], 200)
        # Between the refused call and its retry, credentials were fetched anew.
        refetch = [r for r in log if r["operation"] == "meta-data/iam/security-credentials/" + role
                   and calls[0]["seq"] < r["seq"] < calls[1]["seq"]]
        self.assertEqual(len(refetch), 1, log)
        # Twice in a row: one refresh only, then the error is reported.
        self.fake.fault("expired_token", service="secretsmanager", count=2)
        rc, res = self.probe()
        self.assertFalse(res[0]["ok"])
        self.assertEqual(res[0]["code"], "ExpiredTokenException")

    def test_credentials_refreshed_before_expiry_while_calls_continue(self):
        self.fake.set_credentials_ttl(8)
        rc, res = self.probe(count=60, interval="250ms")
        self.assertEqual(rc, 0, self.log)
        self.assertEqual(len(res), 60)
        failed = [r for r in res if not r["ok"]]
        self.assertEqual(failed, [])
        keys = {c["access_key_id"] for c in self.calls("DescribeSecret")}
        self.assertGreaterEqual(len(keys), 3, keys)      # 15 s of calls, 8 s credentials
        self.assertFalse([c for c in self.fake.requests() if c["error"] and "Expired" in c["error"]])
        self.assertTrue(all(r["attempts"] == 1 for r in res))

    def test_huge_response_is_bounded(self):
        self.fake.fault("huge", service="secretsmanager", nbytes=4 * 1024 * 1024)
        rc, res = self.probe(config="[aws]\nmax_response_size = 64KiB\n")
        self.assertFalse(res[0]["ok"])
        self.assertIn("larger than 65536 bytes", res[0]["reason"])
        self.assertEqual(res[0]["attempts"], 1)

    def test_slow_response_times_out_then_retries(self):
        self.fake.fault("slow", service="secretsmanager", seconds=6, count=1)
        rc, res = self.probe(config="[aws]\nrequest_timeout = 1s\n")
        self.assertTrue(res[0]["ok"], (res, self.log))
        self.assertEqual(res[0]["attempts"], 2)
        self.assertIn("imed out", self.log)

    def test_clock_skew_is_reported(self):
        self.fake._call("POST", "clock", {"offset_seconds": 3600})
        rc, res = self.probe(config="[aws]\nmax_attempts = 1\n")
        self.assertFalse(res[0]["ok"])
        self.assertEqual(res[0]["class"], "clock-skew")
        self.assertIn("local clock is 3599s behind AWS time", res[0]["reason"])
        self.assertIn("time synchronisation", res[0]["reason"])


if __name__ == "__main__":
    main()
