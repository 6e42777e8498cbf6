#!/usr/bin/python3
"""Tests of the AWS emulator (fakeaws) with real botocore clients and curl.

Design: one emulator process for the whole module (started through client.py),
reset before every test.  AWS calls go through botocore clients built with
parameter_validation=False (so that the emulator's own model checks are what is
tested) and without retries; raw requests are signed with botocore's SigV4Auth
or with the curl CLI (libcurl's signer, the one agentd uses).  Nothing waits
with a bare sleep: time-based behaviour is polled with deadlines.
Run: /usr/bin/python3 tests/fakeaws/test_fakeaws.py
"""

import base64
import datetime
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import warnings
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore.session  # noqa: E402
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from client import FakeAWS  # noqa: E402

REGION = "eu-central-1"
ROLE = "agentd-instance-role"
SECRET_TEXT = '{"username": "app", "password": "S3cr3t-Pa55w0rd-zz9"}'
TOK1 = "11111111-2222-3333-4444-555555555555"
TOK2 = "66666666-7777-8888-9999-000000000000"
AWS = None
TMP = None


def setUpModule():
    global AWS, TMP
    warnings.simplefilter("ignore", ResourceWarning)  # botocore clients are not closed explicitly
    TMP = tempfile.mkdtemp(prefix="fakeaws-test-")
    AWS = FakeAWS(TMP)


def tearDownModule():
    rc = AWS.stop()
    shutil.rmtree(TMP, ignore_errors=True)
    assert rc == 0, "fakeaws exited with %r" % rc


def wait_for(cond, timeout=10.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def hreq(method, path, headers=None, body=None, timeout=10):
    u = urlsplit(AWS.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read(), r
    finally:
        conn.close()


def imds_token(ttl=21600):
    status, body, _ = hreq("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)})
    assert status == 200, status
    return body.decode()


def imds_get(path, token):
    status, body, _ = hreq("GET", path, {"X-aws-ec2-metadata-token": token})
    return status, body.decode("utf-8", "replace")


def role_creds():
    status, body = imds_get("/latest/meta-data/iam/security-credentials/" + ROLE, imds_token())
    assert status == 200, status
    return json.loads(body)


def client(service, creds=None, region=REGION):
    creds = creds or role_creds()
    return botocore.session.get_session().create_client(
        service, region_name=region, endpoint_url=AWS.url,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("Token"),
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1},
                      connect_timeout=5, read_timeout=20))


def error_of(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", ""), \
            e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("call succeeded unexpectedly")


def signed_raw(service, body, headers, creds=None, method="POST", path="/"):
    """Sign with botocore's SigV4Auth and send with http.client."""
    creds = creds or role_creds()
    req = AWSRequest(method=method, url=AWS.url + path, data=body, headers=headers)
    SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds.get("Token")),
              service, REGION).add_auth(req)
    return hreq(method, path, dict(req.headers.items()), body)


def curl_signed(service, creds, body, headers):
    cmd = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--aws-sigv4", "aws:amz:%s:%s" % (REGION, service),
           "--user", "%s:%s" % (creds["AccessKeyId"], creds["SecretAccessKey"]),
           "-H", "x-amz-security-token: " + creds["Token"]]
    for h in headers:
        cmd += ["-H", h]
    cmd += ["--data-binary", body, AWS.url + "/"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout
    text, _, code = out.rpartition("\n")
    return int(code), text


class Base(unittest.TestCase):
    def setUp(self):
        AWS.reset()


# ------------------------------------------------------------------------ IMDS
class IMDSTest(Base):
    def test_token_required_and_ttl_bounds(self):
        self.assertEqual(hreq("GET", "/latest/meta-data/instance-id")[0], 401)
        self.assertEqual(hreq("PUT", "/latest/api/token")[0], 400)
        for bad in ("0", "21601", "abc", "-5"):
            self.assertEqual(hreq("PUT", "/latest/api/token",
                                  {"X-aws-ec2-metadata-token-ttl-seconds": bad})[0], 400, bad)
        status, body, r = hreq("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "21600"})
        self.assertEqual(status, 200)
        self.assertEqual(r.getheader("X-aws-ec2-metadata-token-ttl-seconds"), "21600")
        self.assertEqual(hreq("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60",
                                                           "X-Forwarded-For": "1.2.3.4"})[0], 403)
        self.assertEqual(imds_get("/latest/meta-data/instance-id", "not-a-token")[0], 401)
        self.assertEqual(imds_get("/latest/meta-data/instance-id", body.decode()),
                         (200, "i-0123456789abcdef0"))

    def test_paths(self):
        t = imds_token()
        expect = {
            "/latest/meta-data/placement/region": "eu-central-1",
            "/latest/meta-data/placement/availability-zone": "eu-central-1a",
            "/latest/meta-data/instance-type": "t3.medium",
            "/latest/meta-data/ami-id": "ami-0abcdef1234567890",
            "/latest/meta-data/local-ipv4": "10.0.11.23",
            "/latest/meta-data/instance-life-cycle": "on-demand",
            "/latest/meta-data/iam/security-credentials/": ROLE,
            "/2021-03-23/meta-data/instance-id": "i-0123456789abcdef0",
            "/latest/meta-data/tags/instance/Name": "php-app",
            "/latest/meta-data/tags/instance/aws:autoscaling:groupName": "php-app-asg",
        }
        for path, value in expect.items():
            self.assertEqual(imds_get(path, t), (200, value), path)
        self.assertEqual(set(imds_get("/latest/meta-data/tags/instance", t)[1].split("\n")),
                         {"Name", "aws:autoscaling:groupName"})
        for path in ("/latest/meta-data/tags/instance/Missing", "/latest/meta-data/nope",
                     "/latest/meta-data/autoscaling/target-lifecycle-state",
                     "/latest/meta-data/spot/instance-action", "/latest/user-data",
                     "/latest/meta-data/events/recommendations/rebalance",
                     "/latest/meta-data/public-keys/", "/nonsense/path"):
            self.assertEqual(imds_get(path, t)[0], 404, path)
        doc = json.loads(imds_get("/latest/dynamic/instance-identity/document", t)[1])
        self.assertEqual((doc["accountId"], doc["region"], doc["instanceId"], doc["privateIp"]),
                         ("123456789012", REGION, "i-0123456789abcdef0", "10.0.11.23"))
        listing = imds_get("/latest/meta-data/", t)[1].split("\n")
        self.assertIn("instance-id", listing)
        self.assertIn("placement/", listing)
        mac = imds_get("/latest/meta-data/mac", t)[1]
        self.assertEqual(imds_get("/latest/meta-data/network/interfaces/macs/%s/local-ipv4s" % mac, t),
                         (200, "10.0.11.23"))
        info = json.loads(imds_get("/latest/meta-data/iam/info", t)[1])
        self.assertEqual(info["Code"], "Success")

    def test_crawl_whole_tree(self):
        # what cloud-init's metadata crawler does: every listed entry resolves
        t = imds_token()
        todo, seen = ["/latest/meta-data/"], 0
        while todo:
            path = todo.pop()
            status, body = imds_get(path, t)
            self.assertEqual(status, 200, path)
            seen += 1
            if path.endswith("/"):
                todo += [path + line for line in body.split("\n") if line]
        self.assertGreater(seen, 30)

    def test_control_changes(self):
        t = imds_token()
        AWS.set_instance(tags_in_metadata=False)
        self.assertEqual(imds_get("/latest/meta-data/tags/instance/Name", t)[0], 404)
        AWS.set_instance(tags_in_metadata=True, tags={"Env": "prod"}, region="us-east-1", instance_life_cycle="spot")
        self.assertEqual(imds_get("/latest/meta-data/tags/instance/Env", t), (200, "prod"))
        self.assertEqual(imds_get("/latest/meta-data/placement/region", t), (200, "us-east-1"))
        self.assertEqual(imds_get("/latest/meta-data/instance-life-cycle", t), (200, "spot"))
        AWS.set_lifecycle_state("Terminated")
        self.assertEqual(imds_get("/latest/meta-data/autoscaling/target-lifecycle-state", t), (200, "Terminated"))
        AWS.spot_notice("terminate", "2026-11-25T23:02:00Z")
        self.assertEqual(json.loads(imds_get("/latest/meta-data/spot/instance-action", t)[1]),
                         {"action": "terminate", "time": "2026-11-25T23:02:00Z"})
        AWS.set_user_data("#cloud-config\n")
        self.assertEqual(imds_get("/latest/user-data", t), (200, "#cloud-config\n"))
        AWS.rebalance_notice("2026-11-25T23:00:00Z")
        self.assertEqual(imds_get("/latest/meta-data/events/recommendations/rebalance", t)[0], 200)

    def test_token_expiry_and_expire_control(self):
        short = imds_token(ttl=1)
        long_ = imds_token()
        self.assertEqual(imds_get("/latest/meta-data/instance-id", short)[0], 200)
        self.assertTrue(wait_for(lambda: imds_get("/latest/meta-data/instance-id", short)[0] == 401, 5))
        self.assertEqual(imds_get("/latest/meta-data/instance-id", long_)[0], 200)
        AWS.expire_tokens()
        self.assertEqual(imds_get("/latest/meta-data/instance-id", long_)[0], 401)

    def test_imds_down(self):
        AWS.imds_down(0.5)
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            hreq("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})

        def up():
            try:
                return hreq("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})[0] == 200
            except (http.client.HTTPException, ConnectionError):
                return False
        self.assertTrue(wait_for(up, 5))

    def test_credentials_rotation(self):
        a, b = role_creds(), role_creds()
        self.assertEqual(a["AccessKeyId"], b["AccessKeyId"])
        self.assertTrue(a["AccessKeyId"].startswith("ASIA"))
        self.assertEqual((a["Code"], a["Type"]), ("Success", "AWS-HMAC"))
        exp = datetime.datetime.strptime(a["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertAlmostEqual((exp - datetime.datetime.utcnow()).total_seconds(), 6 * 3600, delta=60)
        AWS.set_credentials_ttl(2)
        c = role_creds()
        self.assertNotEqual(c["AccessKeyId"], a["AccessKeyId"])
        # after lifetime/2 IMDS hands out a new set; the previous one stays valid
        d = wait_for(lambda: (lambda x: x if x["AccessKeyId"] != c["AccessKeyId"] else None)(role_creds()), 5)
        self.assertTrue(d)
        client("secretsmanager", c).list_secret_version_ids  # noqa: B018 (client builds)
        self.assertEqual(error_of(client("secretsmanager", c).get_secret_value, SecretId="x")[0],
                         "ResourceNotFoundException")
        AWS.expire_credentials()
        code, msg, status = error_of(client("secretsmanager", d).get_secret_value, SecretId="x")
        self.assertEqual((code, status), ("ExpiredTokenException", 400))
        code, _, status = error_of(client("cloudwatch", d).put_metric_data, Namespace="N",
                                   MetricData=[{"MetricName": "m", "Value": 1.0}])
        self.assertEqual((code, status), ("ExpiredToken", 403))
        e = role_creds()
        self.assertNotIn(e["AccessKeyId"], (c["AccessKeyId"], d["AccessKeyId"]))
        self.assertEqual(error_of(client("secretsmanager", e).get_secret_value, SecretId="x")[0],
                         "ResourceNotFoundException")


# --------------------------------------------------------------------- signing
class SigningTest(Base):
    def test_signed_call_succeeds(self):
        AWS.create_secret("db", string=SECRET_TEXT)
        r = client("secretsmanager").get_secret_value(SecretId="db")
        self.assertEqual(r["SecretString"], SECRET_TEXT)
        self.assertEqual(r["VersionStages"], ["AWSCURRENT"])
        reqs = AWS.requests("secretsmanager", "GetSecretValue")
        self.assertEqual(reqs[-1]["status"], 200)
        self.assertTrue(reqs[-1]["access_key_id"].startswith("ASIA"))

    def test_wrong_secret_key(self):
        c = dict(role_creds(), SecretAccessKey="wrong" * 8)
        self.assertEqual(error_of(client("secretsmanager", c).get_secret_value, SecretId="db")[::2],
                         ("InvalidSignatureException", 403))
        self.assertEqual(error_of(client("cloudwatch", c).put_metric_data, Namespace="N",
                                  MetricData=[{"MetricName": "m", "Value": 1.0}])[::2],
                         ("SignatureDoesNotMatch", 403))

    def test_unknown_key_and_bad_token(self):
        c = {"AccessKeyId": "ASIAUNKNOWNUNKNOWN00", "SecretAccessKey": "x" * 40, "Token": "t"}
        self.assertEqual(error_of(client("logs", c).describe_log_groups)[::2],
                         ("UnrecognizedClientException", 403))
        self.assertEqual(error_of(client("autoscaling", c).describe_auto_scaling_instances)[::2],
                         ("InvalidClientTokenId", 403))
        good = role_creds()
        for token in ("wrong-token", None):
            c = dict(good, Token=token)
            self.assertEqual(error_of(client("logs", c).describe_log_groups)[0], "UnrecognizedClientException")

    def test_static_credentials(self):
        AWS.add_static_credentials("AKIAFAKEAWSSTATIC001", "static-secret-key-0000000000000000000000")
        c = {"AccessKeyId": "AKIAFAKEAWSSTATIC001", "SecretAccessKey": "static-secret-key-0000000000000000000000"}
        self.assertEqual(client("logs", c).describe_log_groups()["logGroups"], [])

    def test_clock_skew_and_date_header(self):
        AWS.set_clock_offset(3600)
        code, msg, status = error_of(client("secretsmanager").get_secret_value, SecretId="db")
        self.assertEqual((code, status), ("InvalidSignatureException", 403))
        self.assertIn("Signature expired", msg)
        code, msg, _ = error_of(client("cloudwatch").put_metric_data, Namespace="N",
                                MetricData=[{"MetricName": "m", "Value": 1.0}])
        self.assertEqual(code, "SignatureDoesNotMatch")
        self.assertIn("Signature expired", msg)
        _, _, r = hreq("GET", "/latest/meta-data/")
        skew = (parsedate_to_datetime(r.getheader("Date")) -
                datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        self.assertAlmostEqual(skew, 3600, delta=30)
        AWS.set_clock_offset(-3600)
        code, msg, _ = error_of(client("logs").describe_log_groups)
        self.assertEqual(code, "InvalidSignatureException")
        self.assertIn("Signature not yet current", msg)

    def test_wrong_region(self):
        code, msg, _ = error_of(client("logs", region="us-west-2").describe_log_groups)
        self.assertEqual(code, "InvalidSignatureException")
        self.assertIn("region", msg)

    def test_curl_json_and_query(self):
        AWS.create_secret("db", string=SECRET_TEXT)
        c = role_creds()
        status, body = curl_signed("secretsmanager", c, '{"SecretId": "db"}',
                                   ["X-Amz-Target: secretsmanager.GetSecretValue",
                                    "Content-Type: application/x-amz-json-1.1"])
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["SecretString"], SECRET_TEXT)
        status, body = curl_signed(
            "monitoring", c,
            "Action=PutMetricData&Version=2010-08-01&Namespace=CWAgent"
            "&MetricData.member.1.MetricName=mem_used_percent&MetricData.member.1.Value=42.5"
            "&MetricData.member.1.Unit=Percent"
            "&MetricData.member.1.Dimensions.member.1.Name=InstanceId"
            "&MetricData.member.1.Dimensions.member.1.Value=i-0123456789abcdef0",
            ["Content-Type: application/x-www-form-urlencoded; charset=utf-8"])
        self.assertEqual(status, 200, body)
        self.assertIn("<PutMetricDataResponse", body)
        md = AWS.state()["metric_data"]
        self.assertEqual((md[0]["MetricName"], md[0]["Value"], md[0]["Dimensions"]),
                         ("mem_used_percent", 42.5, {"InstanceId": "i-0123456789abcdef0"}))
        # a tampered body is refused
        bad = dict(c, SecretAccessKey=c["SecretAccessKey"][:-1] + "A")
        status, body = curl_signed("secretsmanager", bad, '{"SecretId": "db"}',
                                   ["X-Amz-Target: secretsmanager.GetSecretValue",
                                    "Content-Type: application/x-amz-json-1.1"])
        self.assertEqual(status, 403)
        self.assertIn("InvalidSignatureException", body)

    def test_curl_large_body_expect_continue(self):
        # curl 7.88 sends "Expect: 100-continue" for bodies over 1 KiB, as agentd's libcurl does
        logs = client("logs")
        logs.create_log_group(logGroupName="g")
        logs.create_log_stream(logGroupName="g", logStreamName="s")
        now = int(time.time() * 1000)
        events = [{"timestamp": now, "message": "line %d %s" % (i, "x" * 100)} for i in range(500)]
        status, body = curl_signed("logs", role_creds(), json.dumps(
            {"logGroupName": "g", "logStreamName": "s", "logEvents": events}),
            ["X-Amz-Target: Logs_20140328.PutLogEvents", "Content-Type: application/x-amz-json-1.1"])
        self.assertEqual(status, 200, body)
        self.assertEqual(len(AWS.state()["log_groups"]["g"]["streams"]["s"]["events"]), 500)

    def test_botocore_imds_provider(self):
        # an unmodified AWS SDK finds the emulator through AWS_EC2_METADATA_SERVICE_ENDPOINT
        from botocore.utils import InstanceMetadataFetcher, InstanceMetadataRegionFetcher
        env = AWS.env()
        fetcher = InstanceMetadataFetcher(timeout=5, num_attempts=1,
                                          config={"ec2_metadata_service_endpoint":
                                                  env["AWS_EC2_METADATA_SERVICE_ENDPOINT"]})
        creds = fetcher.retrieve_iam_role_credentials()
        self.assertEqual(creds["role_name"], ROLE)
        self.assertTrue(creds["access_key"].startswith("ASIA"))
        region = InstanceMetadataRegionFetcher(timeout=5, num_attempts=1, config={
            "ec2_metadata_service_endpoint": env["AWS_EC2_METADATA_SERVICE_ENDPOINT"]}).retrieve_region()
        self.assertEqual(region, REGION)

    def test_missing_authorization(self):
        status, body, _ = hreq("POST", "/", {"X-Amz-Target": "secretsmanager.GetSecretValue",
                                             "Content-Type": "application/x-amz-json-1.1"}, b'{"SecretId":"x"}')
        self.assertEqual(status, 403)
        self.assertIn(b"MissingAuthenticationToken", body)


# ------------------------------------------------------------------ validation
class ValidationTest(Base):
    def test_model_violations(self):
        code, msg, status = error_of(client("logs").put_log_events, logGroupName="g", logStreamName="s")
        self.assertEqual((code, status), ("InvalidParameterException", 400))
        self.assertIn("logEvents", msg)
        code, msg, _ = error_of(client("secretsmanager").get_secret_value, SecretId="x" * 2049)
        self.assertEqual(code, "ValidationException")
        self.assertIn("SecretId", msg)
        for bad in (float("nan"), float("inf")):
            code, msg, status = error_of(client("cloudwatch").put_metric_data, Namespace="N",
                                         MetricData=[{"MetricName": "m", "Value": bad}])
            self.assertEqual((code, status), ("InvalidParameterValue", 400))
            self.assertIn("MetricData.member.1.Value", msg)
        code, msg, _ = error_of(client("cloudwatch").put_metric_data, MetricData=[{"MetricName": "m"}])
        self.assertEqual(code, "ValidationError")
        self.assertIn("Namespace", msg)
        code, msg, _ = error_of(client("cloudwatch").put_metric_data, Namespace="N",
                                MetricData=[{"MetricName": "m", "Value": 1.0, "Unit": "Parsecs"}])
        self.assertEqual(code, "ValidationError")
        code, msg, _ = error_of(client("cloudwatch").put_metric_data, Namespace="N",
                                MetricData=[{"MetricName": "m", "Value": 1.0}] * 1001)
        self.assertEqual(code, "InvalidParameterValue")
        code, msg, _ = error_of(client("autoscaling").complete_lifecycle_action,
                                AutoScalingGroupName="a", LifecycleActionResult="CONTINUE")
        self.assertEqual(code, "ValidationError")
        self.assertIn("LifecycleHookName", msg)

    def test_query_form_types(self):
        c = role_creds()
        body = ("Action=PutMetricData&Version=2010-08-01&Namespace=N&MetricData.member.1.MetricName=m"
                "&MetricData.member.1.Value=notanumber")
        status, out, _ = signed_raw("monitoring", body, {"Content-Type": "application/x-www-form-urlencoded"}, c)
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>ValidationError</Code>", out)
        self.assertIn(b'xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/"', out)
        self.assertIn(b"<Type>Sender</Type>", out)

    def test_unknown_operation_and_bad_json(self):
        c = role_creds()
        status, out, r = signed_raw("secretsmanager", b'{}', {"X-Amz-Target": "secretsmanager.FlyToMoon",
                                                              "Content-Type": "application/x-amz-json-1.1"}, c)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(out)["__type"], "UnknownOperationException")
        self.assertTrue(r.getheader("x-amzn-RequestId"))
        status, out, _ = signed_raw("autoscaling", "Action=FlyToMoon&Version=2011-01-01",
                                    {"Content-Type": "application/x-www-form-urlencoded"}, c)
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>InvalidAction</Code>", out)
        status, out, _ = signed_raw("logs", b'{"logGroupName": ', {"X-Amz-Target": "Logs_20140328.CreateLogGroup",
                                                                    "Content-Type": "application/x-amz-json-1.1"}, c)
        self.assertEqual(status, 400)
        self.assertIn("SerializationException", json.loads(out)["__type"])


# --------------------------------------------------------------------- secrets
class SecretsTest(Base):
    def test_get_by_name_arn_and_rotation(self):
        arn = AWS.create_secret("prod/db", string=SECRET_TEXT)["arn"]
        sm = client("secretsmanager")
        first = sm.get_secret_value(SecretId=arn)
        self.assertEqual((first["Name"], first["SecretString"]), ("prod/db", SECRET_TEXT))
        self.assertEqual(sm.get_secret_value(SecretId=arn[:-7])["VersionId"], first["VersionId"])
        AWS.rotate_secret("prod/db", string='{"password": "new"}')
        cur = sm.get_secret_value(SecretId="prod/db")
        self.assertEqual(cur["SecretString"], '{"password": "new"}')
        prev = sm.get_secret_value(SecretId="prod/db", VersionStage="AWSPREVIOUS")
        self.assertEqual((prev["VersionId"], prev["SecretString"]), (first["VersionId"], SECRET_TEXT))
        self.assertEqual(sm.get_secret_value(SecretId="prod/db", VersionId=first["VersionId"])["VersionStages"],
                         ["AWSPREVIOUS"])
        stages = sm.describe_secret(SecretId="prod/db")["VersionIdsToStages"]
        self.assertEqual(stages, {cur["VersionId"]: ["AWSCURRENT"], first["VersionId"]: ["AWSPREVIOUS"]})
        # two-step rotation: AWSPENDING first, then promoted
        AWS.rotate_secret("prod/db", string="third", pending=True)
        self.assertEqual(sm.get_secret_value(SecretId="prod/db")["VersionId"], cur["VersionId"])
        self.assertEqual(sm.get_secret_value(SecretId="prod/db", VersionStage="AWSPENDING")["SecretString"], "third")
        AWS.rotate_secret("prod/db", finish=True)
        self.assertEqual(sm.get_secret_value(SecretId="prod/db")["SecretString"], "third")
        self.assertEqual(sm.get_secret_value(SecretId="prod/db", VersionStage="AWSPREVIOUS")["VersionId"],
                         cur["VersionId"])
        versions = sm.list_secret_version_ids(SecretId="prod/db")["Versions"]
        self.assertEqual(len(versions), 2)

    def test_binary_and_errors(self):
        AWS.create_secret("bin", binary_b64=base64.b64encode(b"\x00\x01binary").decode())
        sm = client("secretsmanager")
        self.assertEqual(sm.get_secret_value(SecretId="bin")["SecretBinary"], b"\x00\x01binary")
        self.assertEqual(error_of(sm.get_secret_value, SecretId="missing")[0], "ResourceNotFoundException")
        self.assertEqual(error_of(sm.get_secret_value, SecretId="bin", VersionStage="AWSPREVIOUS")[0],
                         "ResourceNotFoundException")
        AWS.create_secret("kms", string="x", kms_fail=True)
        self.assertEqual(error_of(sm.get_secret_value, SecretId="kms")[0], "DecryptionFailure")
        AWS.create_secret("deny", string="x", deny=True)
        self.assertEqual(error_of(sm.get_secret_value, SecretId="deny")[0], "AccessDeniedException")


# ------------------------------------------------------------------------ logs
class LogsTest(Base):
    def setUp(self):
        super().setUp()
        self.logs = client("logs")
        self.logs.create_log_group(logGroupName="/agentd/app")
        self.logs.create_log_stream(logGroupName="/agentd/app", logStreamName="i-1")

    def put(self, events, stream="i-1"):
        return self.logs.put_log_events(logGroupName="/agentd/app", logStreamName=stream, logEvents=events)

    def test_create_and_describe(self):
        self.assertEqual(error_of(self.logs.create_log_group, logGroupName="/agentd/app")[0],
                         "ResourceAlreadyExistsException")
        self.assertEqual(error_of(self.logs.create_log_stream, logGroupName="/agentd/app", logStreamName="i-1")[0],
                         "ResourceAlreadyExistsException")
        self.assertEqual(error_of(self.logs.create_log_stream, logGroupName="/nope", logStreamName="x")[0],
                         "ResourceNotFoundException")
        self.assertEqual(error_of(self.put, [{"timestamp": 1, "message": "x"}], stream="nope")[0],
                         "ResourceNotFoundException")
        self.logs.put_retention_policy(logGroupName="/agentd/app", retentionInDays=7)
        self.assertEqual(error_of(self.logs.put_retention_policy, logGroupName="/agentd/app",
                                  retentionInDays=8)[0], "InvalidParameterException")
        groups = self.logs.describe_log_groups(logGroupNamePrefix="/agentd")["logGroups"]
        self.assertEqual([(g["logGroupName"], g["retentionInDays"]) for g in groups], [("/agentd/app", 7)])
        now = int(time.time() * 1000)
        self.put([{"timestamp": now, "message": "hello"}])
        streams = self.logs.describe_log_streams(logGroupName="/agentd/app")["logStreams"]
        self.assertEqual(streams[0]["lastEventTimestamp"], now)

    def test_store_and_limits(self):
        now = int(time.time() * 1000)
        r = self.put([{"timestamp": now - 10, "message": "one"}, {"timestamp": now, "message": "two é"}])
        self.assertNotIn("rejectedLogEventsInfo", r)
        events = AWS.state()["log_groups"]["/agentd/app"]["streams"]["i-1"]["events"]
        self.assertEqual([e["message"] for e in events], ["one", "two é"])
        code, msg, _ = error_of(self.put, [{"timestamp": now, "message": "x"}] * 10001)
        self.assertEqual(code, "InvalidParameterException")
        # 1,048,576 bytes exactly is fine, one more byte is not
        body = 1048576 - 26
        self.put([{"timestamp": now, "message": "a" * body}])
        self.assertEqual(error_of(self.put, [{"timestamp": now, "message": "é" + "a" * (body - 1)}])[0],
                         "InvalidParameterException")
        code, msg, _ = error_of(self.put, [{"timestamp": now, "message": "b"}, {"timestamp": now - 1, "message": "a"}])
        self.assertIn("chronological", msg)
        code, msg, _ = error_of(self.put, [{"timestamp": now - 25 * 3600 * 1000, "message": "a"},
                                           {"timestamp": now, "message": "b"}])
        self.assertIn("24 hours", msg)

    def test_inspection_api_and_drop_after(self):
        now = int(time.time() * 1000)
        self.put([{"timestamp": now, "message": "m%d" % i} for i in range(3)])
        self.assertEqual([e["message"] for e in AWS.log_events("/agentd/app", "i-1")], ["m0", "m1", "m2"])
        s = [x for x in AWS.log_streams() if x["group"] == "/agentd/app" and x["stream"] == "i-1"][0]
        self.assertEqual((s["events"], s["received"]), (3, 3))
        # Stored, but the answer is lost: a client must send it again.
        AWS.fault("drop_after", service="logs", operation="PutLogEvents")
        with self.assertRaises(Exception):
            client("logs").put_log_events(
                logGroupName="/agentd/app", logStreamName="i-1", logEvents=[{"timestamp": now, "message": "m3"}])
        self.assertEqual(AWS.log_events("/agentd/app", "i-1")[-1]["message"], "m3")
        AWS.create_log_group("/made/by/terraform")
        self.assertIn("/made/by/terraform", AWS.state()["log_groups"])

    def test_concurrent_puts(self):
        import threading
        now = int(time.time() * 1000)
        creds = role_creds()
        errors = []

        def worker(n):
            try:
                c = client("logs", creds)
                for i in range(10):
                    c.put_log_events(logGroupName="/agentd/app", logStreamName="i-1",
                                     logEvents=[{"timestamp": now, "message": "t%d-%d" % (n, i)}])
            except Exception as e:  # collected, asserted below
                errors.append(e)
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        events = AWS.state()["log_groups"]["/agentd/app"]["streams"]["i-1"]["events"]
        self.assertEqual(len(events), 80)

    def test_rejected_events(self):
        now = int(time.time() * 1000)
        day = 86400 * 1000
        r = self.put([{"timestamp": now - 14 * day - 60000, "message": "old"},
                      {"timestamp": now - 14 * day + 60000, "message": "ok1"}])
        self.assertEqual(r["rejectedLogEventsInfo"], {"tooOldLogEventEndIndex": 1})
        r = self.put([{"timestamp": now - 3600 * 1000, "message": "ok"},
                      {"timestamp": now + 3 * 3600 * 1000, "message": "future"}])
        self.assertEqual(r["rejectedLogEventsInfo"], {"tooNewLogEventStartIndex": 1})
        self.logs.put_retention_policy(logGroupName="/agentd/app", retentionInDays=1)
        r = self.put([{"timestamp": now - day - 3600 * 1000, "message": "expired"},
                      {"timestamp": now - 3 * 3600 * 1000, "message": "ok3"}])
        self.assertEqual(r["rejectedLogEventsInfo"], {"expiredLogEventEndIndex": 1})
        events = AWS.state()["log_groups"]["/agentd/app"]["streams"]["i-1"]["events"]
        self.assertEqual([e["message"] for e in events], ["ok1", "ok", "ok3"])


# --------------------------------------------------------------- metrics, ASG
class MetricsLifecycleTest(Base):
    def test_put_metric_data(self):
        cw = client("cloudwatch")
        cw.put_metric_data(Namespace="CWAgent", MetricData=[
            {"MetricName": "mem_used_percent", "Value": 61.5, "Unit": "Percent",
             "Dimensions": [{"Name": "InstanceId", "Value": "i-1"}, {"Name": "AutoScalingGroupName", "Value": "a"}]},
            {"MetricName": "disk_used_percent", "Values": [1.0, 2.0], "Counts": [3.0, 4.0], "StorageResolution": 1,
             "Timestamp": datetime.datetime(2026, 11, 25, 22, 0, tzinfo=datetime.timezone.utc)}])
        md = AWS.state()["metric_data"]
        self.assertEqual(md[0]["Dimensions"], {"InstanceId": "i-1", "AutoScalingGroupName": "a"})
        self.assertEqual((md[1]["Values"], md[1]["Counts"], md[1]["StorageResolution"]), ([1.0, 2.0], [3.0, 4.0], 1))
        self.assertEqual(md[1]["Timestamp"], datetime.datetime(2026, 11, 25, 22, 0,
                                                               tzinfo=datetime.timezone.utc).timestamp())

    def test_lifecycle_actions(self):
        asg = client("autoscaling")
        code, msg, status = error_of(asg.complete_lifecycle_action, AutoScalingGroupName="php-app-asg",
                                     LifecycleHookName="drain", LifecycleActionResult="CONTINUE",
                                     InstanceId="i-0123456789abcdef0")
        self.assertEqual((code, status), ("ValidationError", 400))
        self.assertIn("No active Lifecycle Action found with instance ID i-0123456789abcdef0", msg)
        AWS.set_lifecycle_state("Terminated", {"asg": "php-app-asg", "hook": "drain", "token": TOK1,
                                               "transition": "autoscaling:EC2_INSTANCE_TERMINATING"})
        asg.record_lifecycle_action_heartbeat(AutoScalingGroupName="php-app-asg", LifecycleHookName="drain",
                                              LifecycleActionToken=TOK1)
        inst = asg.describe_auto_scaling_instances(InstanceIds=["i-0123456789abcdef0"])["AutoScalingInstances"]
        self.assertEqual(inst[0]["LifecycleState"], "Terminating:Wait")
        asg.complete_lifecycle_action(AutoScalingGroupName="php-app-asg", LifecycleHookName="drain",
                                      LifecycleActionResult="CONTINUE", InstanceId="i-0123456789abcdef0")
        lc = AWS.state()["lifecycle"]
        self.assertEqual(lc["pending_hooks"], [])
        self.assertEqual((lc["results"][0]["result"], lc["results"][0]["heartbeats"]), ("CONTINUE", 1))
        self.assertEqual(error_of(asg.complete_lifecycle_action, AutoScalingGroupName="php-app-asg",
                                  LifecycleHookName="drain", LifecycleActionResult="CONTINUE",
                                  LifecycleActionToken=TOK1)[0], "ValidationError")
        AWS.set_lifecycle_state("InService", {"asg": "php-app-asg", "hook": "launch", "token": TOK2})
        asg.complete_lifecycle_action(AutoScalingGroupName="php-app-asg", LifecycleHookName="launch",
                                      LifecycleActionResult="ABANDON", LifecycleActionToken=TOK2)
        self.assertEqual(AWS.state()["lifecycle"]["results"][1]["result"], "ABANDON")


# ---------------------------------------------------------------------- faults
class FaultTest(Base):
    def setUp(self):
        super().setUp()
        AWS.create_secret("db", string=SECRET_TEXT)
        self.creds = role_creds()
        self.sm = client("secretsmanager", self.creds)

    def raw_get_secret(self, timeout=10):
        u = urlsplit(AWS.url)
        req = AWSRequest(method="POST", url=AWS.url + "/", data=b'{"SecretId": "db"}',
                         headers={"X-Amz-Target": "secretsmanager.GetSecretValue",
                                  "Content-Type": "application/x-amz-json-1.1"})
        SigV4Auth(Credentials(self.creds["AccessKeyId"], self.creds["SecretAccessKey"], self.creds["Token"]),
                  "secretsmanager", REGION).add_auth(req)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        conn.request("POST", "/", body=req.body, headers=dict(req.headers.items()))
        return conn

    def test_throttle_and_5xx(self):
        AWS.fault("throttle", "secretsmanager", "GetSecretValue", count=2)
        for _ in range(2):
            self.assertEqual(error_of(self.sm.get_secret_value, SecretId="db")[::2], ("ThrottlingException", 400))
        self.assertEqual(self.sm.get_secret_value(SecretId="db")["SecretString"], SECRET_TEXT)
        AWS.fault("throttle", "monitoring")
        self.assertEqual(error_of(client("cloudwatch", self.creds).put_metric_data, Namespace="N",
                                  MetricData=[{"MetricName": "m", "Value": 1.0}])[::2], ("Throttling", 400))
        AWS.fault("error5xx", "secretsmanager")
        self.assertEqual(error_of(self.sm.get_secret_value, SecretId="db")[::2], ("InternalFailure", 500))
        AWS.fault("error5xx", "*", status=503)
        self.assertEqual(error_of(self.sm.get_secret_value, SecretId="db")[::2], ("ServiceUnavailable", 503))
        AWS.fault("throttle", "imds")
        self.assertEqual(hreq("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "9"})[0], 429)
        reqs = AWS.requests("secretsmanager", "GetSecretValue")
        self.assertEqual([r["status"] for r in reqs], [400, 400, 200, 500, 503])

    def test_operation_filter_and_expired_token(self):
        logs = client("logs", self.creds)
        AWS.fault("throttle", "logs", "PutLogEvents")
        logs.create_log_group(logGroupName="g")
        AWS.fault("expired_token", "secretsmanager")
        self.assertEqual(error_of(self.sm.get_secret_value, SecretId="db")[0], "ExpiredTokenException")
        self.assertEqual(self.sm.get_secret_value(SecretId="db")["SecretString"], SECRET_TEXT)
        t = imds_token()
        for prefix in ("meta-data/iam", "/latest/meta-data/iam/"):
            AWS.fault("error5xx", "imds", prefix)
            self.assertEqual(imds_get("/latest/meta-data/instance-id", t)[0], 200)
            self.assertEqual(imds_get("/latest/meta-data/iam/security-credentials/", t)[0], 500)
        AWS.fault("throttle", "imds", "api/token")
        self.assertEqual(imds_get("/latest/meta-data/instance-id", t)[0], 200)
        self.assertEqual(hreq("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "9"})[0], 429)

    def test_latency_and_slow(self):
        AWS.fault("latency", "secretsmanager", seconds=0.4)
        t0 = time.monotonic()
        self.sm.get_secret_value(SecretId="db")
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        AWS.fault("slow", "secretsmanager", seconds=0.5)
        t0 = time.monotonic()
        self.assertEqual(self.sm.get_secret_value(SecretId="db")["SecretString"], SECRET_TEXT)
        self.assertGreaterEqual(time.monotonic() - t0, 0.45)

    def test_drop_malformed_truncated_huge(self):
        AWS.fault("drop", "secretsmanager")
        conn = self.raw_get_secret()
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            conn.getresponse().read()
        AWS.fault("malformed", "secretsmanager")
        r = self.raw_get_secret().getresponse()
        body = r.read()
        self.assertEqual(r.status, 200)
        with self.assertRaises(ValueError):
            json.loads(body)
        AWS.fault("truncated", "secretsmanager")
        r = self.raw_get_secret().getresponse()
        with self.assertRaises(http.client.IncompleteRead):
            r.read()
        AWS.fault("huge", "secretsmanager", nbytes=3 * 1024 * 1024)
        r = self.raw_get_secret().getresponse()
        self.assertEqual((r.status, len(r.read())), (200, 3 * 1024 * 1024))
        AWS.fault("drop", "imds")
        with self.assertRaises((http.client.HTTPException, ConnectionError)):
            imds_token()
        self.assertEqual(self.sm.get_secret_value(SecretId="db")["SecretString"], SECRET_TEXT)
        self.assertEqual([r["fault"] for r in AWS.requests("secretsmanager")],
                         ["drop", "malformed", "truncated", "huge", None])


# ------------------------------------------------------------------ robustness
class RobustnessTest(Base):
    def raw(self, data, read=True):
        u = urlsplit(AWS.url)
        with socket.create_connection((u.hostname, u.port), timeout=10) as s:
            s.sendall(data)
            if not read:
                return b""
            out = b""
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    out += chunk
                    if b"\r\n\r\n" in out and b"Connection: close" in out:
                        break
            except socket.timeout:
                pass
            return out

    def test_garbage(self):
        self.raw(os.urandom(4096) + b"\r\n\r\n")
        self.raw(b"GET\r\n\r\n")
        self.raw(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -4\r\nConnection: close\r\n\r\n")
        self.raw(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", read=False)
        out = self.raw(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\nConnection: close\r\n\r\n")
        self.assertIn(b" 413 ", out.split(b"\r\n")[0])
        for auth in ("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=a/b/c/logs/aws4_request, SignedHeaders=, "
                     "Signature=x", "Basic Zm9vOmJhcg==", "AWS4-HMAC-SHA256 Credential=x/2/3/4/5/6"):
            status, body, _ = hreq("POST", "/", {"Authorization": auth, "X-Amz-Date": "garbage",
                                                 "X-Amz-Target": "Logs_20140328.CreateLogGroup"}, b"\xff\xfe")
            self.assertIn(status, (400, 403), auth)
        c = role_creds()
        status, body, _ = signed_raw("logs", b"\xff\xfe\x00", {"X-Amz-Target": "Logs_20140328.CreateLogGroup",
                                                              "Content-Type": "application/x-amz-json-1.1"}, c)
        self.assertEqual(status, 400)
        status, body, _ = signed_raw("autoscaling", b"Action=CompleteLifecycleAction&A.B.C=%ff%fe&Version=2011-01-01"
                                     b"&LifecycleHookName.member.x=1", {"Content-Type":
                                                                       "application/x-www-form-urlencoded"}, c)
        self.assertEqual(status, 400)
        status, body, _ = signed_raw("logs", b"[1,2]", {"X-Amz-Target": "Logs_20140328.PutLogEvents",
                                                        "Content-Type": "application/x-amz-json-1.1"}, c)
        self.assertEqual(status, 400)
        status, body, _ = signed_raw("logs", b'{"logGroupName": "g", "logStreamName": "s", "logEvents": '
                                     b'[{"timestamp": "x", "message": 5}]}',
                                     {"X-Amz-Target": "Logs_20140328.PutLogEvents",
                                      "Content-Type": "application/x-amz-json-1.1"}, c)
        self.assertEqual(status, 400)
        for path, body in (("fault", b"{bad json"), ("fault", b'{"kind": "nope"}'), ("secrets", b"[]"),
                           ("clock", b"{}"), ("nothing", b"{}"), ("secrets/rotate", b'{"name": "x"}')):
            self.assertIn(hreq("POST", "/_fakeaws/" + path, {}, body)[0], (400, 404), path)
        self.assertEqual(imds_get("/latest/meta-data/instance-id", imds_token())[0], 200)

    def test_keepalive_and_expect_continue(self):
        u = urlsplit(AWS.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
        for _ in range(3):
            conn.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "5"})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
        conn.close()
        with socket.create_connection((u.hostname, u.port), timeout=10) as s:
            body = b'{"ttl_seconds": 21600}'
            s.sendall(b"POST /_fakeaws/credentials HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            self.assertTrue(s.recv(1024).startswith(b"HTTP/1.1 100"))
            s.sendall(body)
            self.assertIn(b" 200 ", s.recv(4096).split(b"\r\n")[0])
        with socket.create_connection((u.hostname, u.port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                      b"Content-Length: %d\r\n\r\n" % (9 * 1024 * 1024))
            self.assertIn(b" 413 ", s.recv(1024).split(b"\r\n")[0])

    def test_requests_since(self):
        imds_token()
        last = AWS.requests()[-1]["seq"]
        imds_token()
        imds_token()
        newer = AWS.requests(since=last)
        self.assertEqual([r["operation"] for r in newer], ["api/token", "api/token"])

    def test_no_secret_in_output(self):
        AWS.create_secret("leak-check", string=SECRET_TEXT)
        c = role_creds()
        client("secretsmanager", c).get_secret_value(SecretId="leak-check")
        error_of(client("secretsmanager", dict(c, SecretAccessKey="bad")).get_secret_value, SecretId="leak-check")
        t = imds_token()
        imds_get("/latest/meta-data/instance-id", t)
        AWS.wait_requests(1, "imds", "meta-data/instance-id")
        self.assertTrue(wait_for(lambda: "imds meta-data/instance-id 200" in AWS.output()))
        out = AWS.output()
        for s in ("S3cr3t-Pa55w0rd-zz9", c["SecretAccessKey"], c["Token"], t):
            self.assertNotIn(s, out)
        self.assertIn("secretsmanager GetSecretValue 200", out)
        self.assertIn("secretsmanager GetSecretValue 403 InvalidSignatureException", out)


class ProcessTest(unittest.TestCase):
    def test_idle_connections_closed(self):
        tmp = tempfile.mkdtemp(prefix="fakeaws-idle-")
        try:
            with FakeAWS(tmp, extra_args=["--idle-timeout", "0.5"]) as aws:
                u = urlsplit(aws.url)
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
                conn.request("PUT", "/latest/api/token", headers={"X-aws-ec2-metadata-token-ttl-seconds": "5"})
                r = conn.getresponse()
                r.read()
                t0 = time.monotonic()
                self.assertEqual(conn.sock.recv(1), b"")  # the server hangs up on the idle connection
                self.assertLess(time.monotonic() - t0, 5)
                conn.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_state_file_and_sigterm(self):
        tmp = tempfile.mkdtemp(prefix="fakeaws-proc-")
        try:
            state = {"instance": {"instance_id": "i-0fedcba9876543210", "tags": {"Name": "x"}},
                     "secrets": {"db": {"string": "pw"}},
                     "credentials": {"static": [{"access_key_id": "AKIASTATICSTATE00001",
                                                 "secret_access_key": "s" * 40}]},
                     "lifecycle": {"target_state": "InService"}}
            aws = FakeAWS(tmp, state=state, user_data="#!/bin/sh\necho hi\n", quiet=True)
            st = aws.state()
            self.assertEqual(st["instance"]["instance_id"], "i-0fedcba9876543210")
            self.assertEqual(st["instance"]["region"], REGION)
            self.assertIn("db", st["secrets"])
            self.assertEqual(st["lifecycle"]["target_state"], "InService")
            self.assertEqual(st["user_data"], "#!/bin/sh\necho hi\n")
            aws.proc.send_signal(signal.SIGTERM)
            self.assertEqual(aws.proc.wait(15), 0)
            aws.stop()
            self.assertEqual(aws.output().strip().splitlines()[0].split()[0], "READY")
            self.assertEqual(len(aws.output().strip().splitlines()), 1)  # --quiet
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
