#!/usr/bin/python3
"""Tests of fakeaws's S3 GetObject/HeadObject (s3.py) with botocore and curl.

Design: one emulator for the module, reset before every test, as in test_fakeaws.py.
Requests come from botocore's S3 client (path-style, its own S3 signer) and from the
curl CLI with --aws-sigv4 exactly as the EC2 user data fetches the agentd package
(x-amz-content-sha256 of the empty body, the session token as a header). Each test
asserts what a client sees: the status, S3's error code, the bytes.
Run: /usr/bin/python3 tests/fakeaws/test_s3.py
"""

import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import botocore.session  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

from client import FakeAWS  # noqa: E402

REGION = "eu-central-1"
ROLE = "agentd-instance-role"
BUCKET = "php-app-artifacts-123456789012"
KEY = "agentd/agentd_0.1.0_amd64.deb"
BODY = b"!<arch>\ndebian-binary   " + bytes(range(256)) * 300
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
AWS = None
TMP = None


def setUpModule():
    global AWS, TMP
    warnings.simplefilter("ignore", ResourceWarning)
    TMP = tempfile.mkdtemp(prefix="fakeaws-s3-test-")
    AWS = FakeAWS(TMP)


def tearDownModule():
    rc = AWS.stop()
    shutil.rmtree(TMP, ignore_errors=True)
    assert rc == 0, "fakeaws exited with %r" % rc


def hreq(method, path, headers=None):
    u = urlsplit(AWS.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def role_creds():
    status, token = hreq("PUT", "/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": "60"})
    assert status == 200, status
    status, body = hreq("GET", "/latest/meta-data/iam/security-credentials/" + ROLE,
                        {"X-aws-ec2-metadata-token": token.decode()})
    assert status == 200, status
    return json.loads(body)


def s3_client(creds=None):
    creds = creds or role_creds()
    return botocore.session.get_session().create_client(
        "s3", region_name=REGION, endpoint_url=AWS.url,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds.get("Token"),
        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                      connect_timeout=5, read_timeout=20))


def curl_get(key=KEY, creds=None, content_sha=EMPTY_SHA256, secret=None, token=True, bucket=BUCKET):
    """The user data's request: returns (http status, body bytes)."""
    creds = creds or role_creds()
    out = os.path.join(TMP, "curl.out")
    config = 'user = "%s:%s"\n' % (creds["AccessKeyId"], secret or creds["SecretAccessKey"])
    if token:
        config += 'header = "x-amz-security-token: %s"\n' % creds["Token"]
    if content_sha is not None:
        config += 'header = "x-amz-content-sha256: %s"\n' % content_sha
    p = subprocess.run(["curl", "-sS", "-K", "-", "--aws-sigv4", "aws:amz:%s:s3" % REGION, "-o", out,
                        "-w", "%{http_code}", "%s/%s/%s" % (AWS.url, bucket, key)],
                       input=config, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    with open(out, "rb") as f:
        return int(p.stdout), f.read()


def error_of(fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError("call succeeded unexpectedly")


class S3(unittest.TestCase):
    def setUp(self):
        AWS.reset()
        self.put = AWS.put_s3_object(BUCKET, KEY, body=BODY)

    def test_get_object_botocore(self):
        r = s3_client().get_object(Bucket=BUCKET, Key=KEY)
        self.assertEqual(r["Body"].read(), BODY)
        self.assertEqual(r["ContentLength"], len(BODY))
        self.assertEqual(r["ETag"], '"%s"' % hashlib.md5(BODY).hexdigest())
        self.assertEqual(self.put["sha256"], hashlib.sha256(BODY).hexdigest())
        log = AWS.requests(service="s3")
        self.assertEqual([(x["operation"], x["status"]) for x in log], [("GetObject", 200)])

    def test_head_object(self):
        r = s3_client().head_object(Bucket=BUCKET, Key=KEY)
        self.assertEqual(r["ContentLength"], len(BODY))
        self.assertEqual(error_of(s3_client().head_object, Bucket=BUCKET, Key="nope"), ("404", 404))

    def test_get_object_curl_as_user_data(self):
        status, body = curl_get()
        self.assertEqual((status, hashlib.sha256(body).hexdigest()), (200, hashlib.sha256(BODY).hexdigest()))

    def test_key_needing_escapes(self):
        key = "agentd/release 1/agentd+x=1.deb"
        AWS.put_s3_object(BUCKET, key, body=b"other")
        self.assertEqual(s3_client().get_object(Bucket=BUCKET, Key=key)["Body"].read(), b"other")
        status, body = curl_get(key="agentd/release%201/agentd%2Bx%3D1.deb")
        self.assertEqual((status, body), (200, b"other"))

    def test_from_file(self):
        path = os.path.join(TMP, "pkg.deb")
        with open(path, "wb") as f:
            f.write(b"from a file")
        AWS.put_s3_object(BUCKET, "agentd/file.deb", path=path)
        self.assertEqual(curl_get(key="agentd/file.deb"), (200, b"from a file"))

    def test_missing_content_sha256_refused(self):
        status, body = curl_get(content_sha=None)
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>InvalidRequest</Code>", body)
        self.assertIn(b"x-amz-content-sha256", body)

    def test_content_sha256_mismatch(self):
        status, body = curl_get(content_sha=hashlib.sha256(b"x").hexdigest())
        self.assertEqual(status, 400)
        self.assertIn(b"<Code>XAmzContentSHA256Mismatch</Code>", body)

    def test_bad_signature_and_keys(self):
        status, body = curl_get(secret="wrong-secret-key")
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", body)
        creds = dict(role_creds(), AccessKeyId="ASIAUNKNOWNKEY000000")
        status, body = curl_get(creds=creds)
        self.assertEqual(status, 403)
        self.assertIn(b"<Code>InvalidAccessKeyId</Code>", body)
        status, body = curl_get(token=False)
        self.assertEqual(status, 403)

    def test_expired_credentials(self):
        creds = role_creds()
        AWS.expire_credentials()
        status, body = curl_get(creds=creds)
        self.assertIn(b"<Code>ExpiredToken</Code>", body)
        self.assertNotEqual(status, 200)

    def test_not_found(self):
        status, body = curl_get(key="agentd/agentd_9.9.9_amd64.deb")
        self.assertEqual(status, 404)
        self.assertIn(b"<Code>NoSuchKey</Code>", body)
        self.assertIn(b"<Key>agentd/agentd_9.9.9_amd64.deb</Key>", body)
        self.assertEqual(error_of(s3_client().get_object, Bucket="other-bucket", Key=KEY), ("NoSuchBucket", 404))

    def test_unsigned_get_is_not_s3(self):
        # Without Authorization the request is IMDS traffic: no such metadata path.
        status, body = hreq("GET", "/%s/%s" % (BUCKET, KEY))
        self.assertEqual(status, 404)
        self.assertNotIn(BODY[:20], body)
        self.assertEqual(AWS.requests(service="s3"), [])

    def test_faults(self):
        AWS.fault("throttle", service="s3", operation="GetObject")
        status, body = curl_get()
        self.assertEqual(status, 503)
        self.assertIn(b"SlowDown", body)
        self.assertEqual(curl_get(), (200, BODY))
        AWS.fault("error5xx", service="s3")
        self.assertEqual(curl_get()[0], 500)

    def test_bad_control_input(self):
        for data in ({"bucket": "Bad_Bucket", "key": "k", "body_base64": ""},
                     {"bucket": BUCKET, "key": "", "body_base64": ""},
                     {"bucket": BUCKET, "key": "k", "path": "/nonexistent/agentd.deb"}):
            with self.assertRaises(Exception) as cm:
                AWS._call("POST", "s3/object", data)
            self.assertIn("400", str(cm.exception))

    def test_object_never_logged(self):
        secret_body = b"TOP-SECRET-PACKAGE-BYTES-4711"
        AWS.put_s3_object(BUCKET, "agentd/secret.deb", body=secret_body)
        self.assertEqual(curl_get(key="agentd/secret.deb"), (200, secret_body))
        self.assertNotIn(secret_body.decode(), AWS.output())
        self.assertIn("s3 GetObject 200", AWS.output())


if __name__ == "__main__":
    unittest.main(verbosity=2)
