"""S3 side of fakeaws: GetObject and HeadObject on path-style URLs (tests only).

Design: S3 is a REST-XML service with its own SigV4 flavour, so it does not go
through awsapi.handle. What differs, and is checked here:
  - the URL is path-style, /BUCKET/KEY, and the canonical request uses the path as
    sent (S3 does not normalise or double-encode it: botocore's S3SigV4Auth);
  - every signed request carries x-amz-content-sha256, the payload hash the
    signature covers (S3 answers 400 without it; an empty GET body hashes to
    e3b0c442...); a value that is not the body's hash is refused;
  - errors are <Error><Code>...</Code></Error> documents, HEAD answers carry none.
The signature itself is verified by awsapi.authenticate (botocore's signer,
restricted to the headers the client signed), with S3's error codes. Parameters
(Bucket, Key) are checked against botocore's S3 model like every other call.
Objects come from the control API (POST /_fakeaws/s3/object); nothing of their
content is ever logged. An unsigned GET never reaches here: it is IMDS traffic.
"""

import datetime
import hashlib
import re
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import escape

import awsapi
from awsapi import AWSError

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED = "UNSIGNED-PAYLOAD"
MAX_OBJECT = 64 * 1024 * 1024
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

# What S3 answers for the authentication failures awsapi.authenticate detects.
ERROR_NAMES = {"unknown_key": "InvalidAccessKeyId", "bad_sig": "SignatureDoesNotMatch",
               "expired": "ExpiredToken", "missing": "AccessDenied",
               "incomplete": "AuthorizationHeaderMalformed", "throttle": "SlowDown",
               "validation": "InvalidArgument", "unknown_op": "NotImplemented"}


def operation_of(method):
    return {"GET": "GetObject", "HEAD": "HeadObject"}.get(method)


def split_path(raw_path):
    """'/bucket/some/key' -> ('bucket', 'some/key'); key None if there is none."""
    path = urlsplit(raw_path).path
    bucket, _, key = path.lstrip("/").partition("/")
    return unquote(bucket), (unquote(key) if key else None)


def _validate(operation, bucket, key):
    if not BUCKET_RE.match(bucket or ""):
        raise AWSError("InvalidBucketName", "The specified bucket is not valid.", 400)
    if not key:
        raise AWSError("NotImplemented", "fakeaws emulates only object requests (/BUCKET/KEY)", 501)
    if len(key.encode()) > 1024:
        raise AWSError("KeyTooLongError", "Your key is too long", 400)
    shape = awsapi._session.get_service_model("s3").operation_model(operation).input_shape
    report = awsapi._validator.validate({"Bucket": bucket, "Key": key}, shape)
    if report.has_errors():
        raise AWSError("InvalidArgument", report.generate_report()[:300], 400)


def handle(state, req):
    """(status, headers, body, operation, error code or None, akid)."""
    request_id = awsapi.new_request_id().replace("-", "")[:16].upper()
    operation = operation_of(req.method)
    bucket, key = split_path(req.path)
    akid = None
    try:
        if operation is None:
            raise AWSError("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
        content_sha = req.header("x-amz-content-sha256")
        if req.header("Authorization") and content_sha is None:
            raise AWSError("InvalidRequest", "Missing required header for this request: x-amz-content-sha256", 400)
        akid = awsapi.authenticate(state, "s3", req, ERROR_NAMES)
        if content_sha != UNSIGNED and content_sha != hashlib.sha256(req.body or b"").hexdigest():
            raise AWSError("XAmzContentSHA256Mismatch",
                           "The provided 'x-amz-content-sha256' header does not match what was computed.", 400)
        _validate(operation, bucket, key)
        with state.lock:
            if bucket not in state.s3_buckets:
                raise AWSError("NoSuchBucket", "The specified bucket does not exist", 404)
            obj = state.s3_buckets[bucket].get(key)
            if obj is None:
                raise AWSError("NoSuchKey", "The specified key does not exist.", 404)
        headers = {"Content-Type": obj["content_type"], "ETag": '"%s"' % obj["md5"],
                   "Last-Modified": obj["last_modified"], "Accept-Ranges": "bytes",
                   "x-amz-request-id": request_id}
        return 200, headers, obj["body"], operation, None, akid
    except AWSError as e:
        body = b"" if req.method == "HEAD" else (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '%s<RequestId>%s</RequestId></Error>' % (
                escape(e.code), escape(e.message),
                "<Key>%s</Key>" % escape(key) if e.code == "NoSuchKey" and key else "", request_id)).encode()
        return e.status, {"Content-Type": "application/xml", "x-amz-request-id": request_id}, body, \
            operation, e.code, akid


def put_object(state, bucket, key, body, content_type="application/octet-stream"):
    """Control API: store an object (creating the bucket)."""
    if not isinstance(bucket, str) or not BUCKET_RE.match(bucket):
        raise ValueError("bucket must be a valid S3 bucket name")
    if not isinstance(key, str) or not key or len(key.encode()) > 1024:
        raise ValueError("key must be a non-empty string of at most 1024 bytes")
    if len(body) > MAX_OBJECT:
        raise ValueError("object larger than %d bytes" % MAX_OBJECT)
    modified = datetime.datetime.fromtimestamp(int(state.now()), datetime.timezone.utc)
    with state.lock:
        state.s3_buckets.setdefault(bucket, {})[key] = {
            "body": body, "md5": hashlib.md5(body).hexdigest(), "content_type": content_type,
            "last_modified": modified.strftime("%a, %d %b %Y %H:%M:%S GMT")}
    return {"bucket": bucket, "key": key, "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
