#!/usr/bin/python3
"""fakeaws: one-port emulator of the AWS pieces agentd talks to (tests only).

Design: a ThreadingHTTPServer (HTTP/1.1, keep-alive, daemon threads) routes by
path and method:
  /_fakeaws/...               control and inspection API (unsigned JSON)
  POST (or any Authorization)  AWS services, see awsapi.py (SigV4 + model checks)
  GET/PUT /<version>/...      IMDSv2 (token required, IMDSv1 disabled)
All mutable state lives in state.State behind one lock (state.py).  Faults
(throttle, 5xx, latency, drop, malformed, truncated, huge, slow, expired_token)
are queued through the control API and consumed by matching requests.  Every
request is logged as one stderr line "service operation status [code]" and in
the in-memory request log; bodies, tokens and keys are never printed.

Usage: fakeaws.py --listen 127.0.0.1:0 [--state FILE.json] [--user-data FILE] [--quiet]
                  [--idle-timeout SECONDS (default 6, 0 = never)]
Prints "READY http://HOST:PORT" on stdout once listening; SIGTERM/SIGINT exit 0.
"""

import argparse
import base64
import json
import os
import re
import secrets
import signal
import socket
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import awsapi  # noqa: E402
import s3  # noqa: E402
from awsapi import AWSError  # noqa: E402
from state import State, rfc3339  # noqa: E402

# PutLogEvents: 1 MiB of messages, JSON-escaped (a control character takes six bytes).
MAX_BODY = 8 * 1024 * 1024
IMDS_RE = re.compile(r"^/(latest|\d{4}-\d{2}-\d{2})(/.*)?$")
IMDS_VERSIONS = ["1.0", "2007-01-19", "2008-02-01", "2009-04-04", "2011-01-01", "2016-09-02",
                 "2018-09-24", "2021-03-23", "latest"]

STATE = None
QUIET = False
_stderr_lock = threading.Lock()


def log_line(service, operation, status, error=None):
    if QUIET:
        return
    line = "%s %s %s%s" % (service or "-", operation or "-", status, (" " + error) if error else "")
    line = "".join(c if c.isprintable() else "?" for c in line[:300]) + "\n"
    with _stderr_lock:
        sys.stderr.write(line)
        sys.stderr.flush()


class DropConnection(Exception):
    """Close the connection without answering."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle
    # and delayed ACKs add ~40 ms to every answer on a reused connection.
    disable_nagle_algorithm = True
    timeout = 6.0  # idle keep-alive connections are closed like CloudWatch Logs does (--idle-timeout)

    def version_string(self):
        return "fakeaws"

    def handle_expect_100(self):
        try:
            too_big = int(self.headers.get("Content-Length") or 0) > MAX_BODY
        except ValueError:
            too_big = False
        if too_big:
            self.close_connection = True
            self._send(413, {"Content-Type": "text/plain"}, b"request body too large\n")
            log_line("-", "-", 413, "RequestEntityTooLarge")
            return False
        return super().handle_expect_100()

    # --------------------------------------------------------------- plumbing
    def log_message(self, fmt, *args):  # silence the default access log
        pass

    def date_time_string(self, timestamp=None):
        return formatdate(STATE.now() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self):
        self._dispatch()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_GET

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                try:
                    n = int(line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    raise ValueError("bad chunk")
                if n == 0:
                    while self.rfile.readline(1024).strip():
                        pass
                    return b"".join(chunks)
                total += n
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(n))
                self.rfile.readline(8)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise ValueError("bad Content-Length")
        if n < 0:
            raise ValueError("bad Content-Length")
        if n > MAX_BODY:
            return None
        body = self.rfile.read(n)
        if len(body) != n:
            raise DropConnection()
        return body

    def _send(self, status, headers, body, fault=None):
        """Send a full response; `fault` may alter how (truncated/slow)."""
        if isinstance(body, str):
            body = body.encode()
        kind = fault["kind"] if fault else None
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if kind == "truncated":
            self.send_header("Content-Length", str(len(body) + 1000))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[: max(1, len(body) // 2)])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if kind == "slow" and body:
            pieces = min(len(body), 20)
            step = -(-len(body) // pieces)
            for i in range(0, len(body), step):
                self.wfile.write(body[i:i + step])
                self.wfile.flush()
                time.sleep(fault["seconds"] / pieces)
            return
        self.wfile.write(body)

    def _send_huge(self, content_type, n):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        chunk = b"x" * 65536
        while n > 0:
            self.wfile.write(chunk[:n])
            n -= min(n, len(chunk))

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ---------------------------------------------------------------- routing
    def _dispatch(self):
        service = "-"
        try:
            try:
                body = self._read_body()
            except ValueError:
                self.close_connection = True
                self._send(400, {"Content-Type": "text/plain"}, b"bad request body\n")
                log_line("-", "-", 400, "BadRequest")
                return
            if body is None:
                self.close_connection = True
                self._send(413, {"Content-Type": "text/plain"}, b"request body too large\n")
                log_line("-", "-", 413, "RequestEntityTooLarge")
                STATE.log_request("-", None, 413, "RequestEntityTooLarge")
                return
            path = urlsplit(self.path).path
            if path.startswith("/_fakeaws/") or path == "/_fakeaws":
                service = "control"
                self._control(path, body)
            elif self.command == "POST" or self.headers.get("Authorization"):
                service = "aws"
                self._aws(body)
            else:
                service = "imds"
                self._imds(path)
        except DropConnection:
            self._drop()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            self.close_connection = True
        except Exception as e:  # never crash on garbage
            self.close_connection = True
            log_line(service, "-", 500, "InternalFailure(%s)" % type(e).__name__)
            try:
                self._send(500, {"Content-Type": "text/plain"}, b"internal error\n")
            except OSError:
                pass

    # ------------------------------------------------------------------- AWS
    def _aws(self, body):
        req = awsapi.Request(self.command, self.path, list(self.headers.items()), body)
        auth = awsapi.parse_authorization(req.header("Authorization") or "")
        if auth and auth["service"] == "s3":
            self._s3(req)
            return
        service = auth["service"] if auth else awsapi.infer_service(req)
        request_id = awsapi.new_request_id()
        operation = None
        if service not in awsapi.SERVICES:
            err = AWSError("UnrecognizedClientException" if service else "MissingAuthenticationTokenException",
                           "fakeaws does not emulate this service" if service else "Missing Authentication Token",
                           400 if service else 403)
            self._send(err.status, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id},
                       json.dumps({"__type": err.code, "message": err.message}))
            log_line(service, None, err.status, err.code)
            STATE.log_request(service, None, err.status, err.code)
            return
        try:
            operation = awsapi.operation_of(service, req)
        except AWSError:
            operation = None
        fault = STATE.take_fault(service, operation)
        akid = auth["akid"] if auth else None
        if fault:
            if self._aws_fault(fault, service, operation, request_id, akid):
                return
        try:
            akid, result = awsapi.handle(STATE, service, operation, req)
            headers, out = awsapi.render_success(service, operation, result, request_id)
            status, code = 200, None
        except AWSError as e:
            status, headers, out = awsapi.render_error(service, operation, e, request_id)
            code = e.code
        # Logged before the answer goes out: a client that exits on the
        # answer must find its request in the log when a test looks.
        log_line(service, operation, status, code)
        STATE.log_request(service, operation, status, code, akid, fault and fault["kind"])
        if fault and fault["kind"] == "drop_after":
            # Done, but the answer is lost: the client must send it again.
            raise DropConnection()
        self._send(status, headers, out, fault)

    def _s3(self, req):
        """S3 GetObject/HeadObject (s3.py); faults: latency, drop, throttle (503
        SlowDown), error5xx (500 InternalError), truncated, slow."""
        operation = s3.operation_of(self.command)
        fault = STATE.take_fault("s3", operation)
        kind = fault and fault["kind"]
        if kind == "latency":
            time.sleep(fault["seconds"])
        elif kind == "drop":
            log_line("s3", operation, 0, "dropped")
            STATE.log_request("s3", operation, 0, "dropped", fault=kind)
            raise DropConnection()
        if kind in ("throttle", "error5xx"):
            status, code = (503, "SlowDown") if kind == "throttle" else (500, "InternalError")
            body = ("<Error><Code>%s</Code><Message>fault injected</Message></Error>" % code).encode()
            log_line("s3", operation, status, code)
            STATE.log_request("s3", operation, status, code, fault=kind)
            self._send(status, {"Content-Type": "application/xml"}, b"" if self.command == "HEAD" else body)
            return
        status, headers, body, operation, code, akid = s3.handle(STATE, req)
        log_line("s3", operation, status, code)
        STATE.log_request("s3", operation, status, code, akid, kind)
        if self.command == "HEAD":
            # HEAD: the object's length, no body (_send leaves the body out for HEAD).
            self._send(status, headers, body)
        else:
            self._send(status, headers, body, fault if kind in ("truncated", "slow") else None)

    def _aws_fault(self, fault, service, operation, request_id, akid):
        """Answer the request according to `fault`.  False: continue normally."""
        kind = fault["kind"]
        protocol = awsapi.SERVICES[service][1]
        names = awsapi.error_names(protocol)
        err = None
        if kind == "latency":
            time.sleep(fault["seconds"])
            return False
        if kind == "slow":
            return False
        if kind in ("truncated", "drop_after"):
            return False
        if kind == "throttle":
            err = AWSError(names["throttle"], "Rate exceeded", 400)
        elif kind == "expired_token":
            err = AWSError(names["expired"], "The security token included in the request is expired",
                           400 if protocol == "json" else 403)
        elif kind == "error5xx":
            if fault["status"] == 503:
                err = AWSError("ServiceUnavailable", "Service is unavailable", 503, sender=False)
            else:
                err = AWSError("InternalFailure", "The request processing has failed because of an "
                               "unknown error, exception or failure.", 500, sender=False)
        if err is not None:
            status, headers, out = awsapi.render_error(service, operation, err, request_id)
            self._send(status, headers, out)
            log_line(service, operation, status, err.code)
            STATE.log_request(service, operation, status, err.code, akid, kind)
            return True
        ctype = "application/x-amz-json-1.1" if protocol == "json" else "text/xml"
        if kind == "drop":
            log_line(service, operation, 0, "dropped")
            STATE.log_request(service, operation, 0, "dropped", akid, kind)
            raise DropConnection()
        if kind == "malformed":
            self._send(200, {"Content-Type": ctype, "x-amzn-RequestId": request_id},
                       b'{"this is": not json <<<' if protocol == "json" else b"<NotClosed><Oops>")
        elif kind == "huge":
            self._send_huge(ctype, fault["bytes"])
        log_line(service, operation, 200, kind)
        STATE.log_request(service, operation, 200, kind, akid, kind)
        return True

    # ------------------------------------------------------------------ IMDS
    def _imds(self, path):
        m = IMDS_RE.match(path)
        sub = (m.group(2) or "/").lstrip("/") if m else None
        op = (sub or path)[:100]
        with STATE.lock:
            down = STATE.imds_down_until > time.monotonic()
        if down:
            STATE.log_request("imds", op, 0, "down")
            log_line("imds", op, 0, "down")
            raise DropConnection()
        fault = STATE.take_fault("imds", op, sub or path)
        if fault:
            kind = fault["kind"]
            if kind == "latency":
                time.sleep(fault["seconds"])
            elif kind == "drop":
                STATE.log_request("imds", op, 0, "dropped", fault="drop")
                log_line("imds", op, 0, "dropped")
                raise DropConnection()
            elif kind in ("throttle", "error5xx", "expired_token", "malformed", "huge"):
                if kind == "huge":
                    self._send_huge("text/plain", fault["bytes"])
                    status = 200
                else:
                    status = {"throttle": 429, "expired_token": 401, "malformed": 200}.get(
                        kind, fault["status"] if fault["status"] in (500, 503) else 500)
                    body = {429: "Too Many Requests\n", 401: "Unauthorized\n",
                            200: "\x00\xff{garbage"}.get(status, "Internal Server Error\n")
                    self._send(status, {"Content-Type": "text/plain"}, body)
                STATE.log_request("imds", op, status, kind, fault=kind)
                log_line("imds", op, status, kind)
                return
        status, body, ctype = self._imds_answer(path, sub)
        STATE.log_request("imds", op, status, None if status == 200 else str(status),
                          fault=fault and fault["kind"])
        log_line("imds", op, status)
        self._send(status, {"Content-Type": ctype}, body, fault)

    def _imds_answer(self, path, sub):
        text = "text/plain"
        if path == "/":
            return (200, "\n".join(IMDS_VERSIONS), text) if self.command == "GET" else (405, "", text)
        if sub is None:
            return 404, "Not Found\n", "text/html"
        if sub == "api/token":
            if self.command != "PUT":
                return 405, "", text
            if self.headers.get("X-Forwarded-For") is not None:
                return 403, "Forbidden\n", text
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            try:
                ttl = int(ttl)
            except (TypeError, ValueError):
                return 400, "Bad Request\n", text
            if not 1 <= ttl <= 21600:
                return 400, "Bad Request\n", text
            token = secrets.token_urlsafe(42)
            with STATE.lock:
                mono = time.monotonic()
                if len(STATE.imds_tokens) >= 10000:
                    STATE.imds_tokens = {t: e for t, e in STATE.imds_tokens.items() if e > mono}
                STATE.imds_tokens[token] = mono + ttl
            self._extra_headers = {"X-aws-ec2-metadata-token-ttl-seconds": str(ttl)}
            return 200, token, text
        if self.command not in ("GET", "HEAD"):
            return 405, "", text
        token = self.headers.get("X-aws-ec2-metadata-token")
        with STATE.lock:
            exp = STATE.imds_tokens.get(token) if token else None
            if exp is None or exp <= time.monotonic():
                return 401, "Unauthorized\n", text
            return self._imds_item(sub)

    def _imds_item(self, sub):
        text = "text/plain"
        inst = STATE.instance
        if sub in ("", "/"):
            return 200, "dynamic\nmeta-data\nuser-data" if STATE.user_data is not None else "dynamic\nmeta-data", text
        if sub == "user-data":
            if STATE.user_data is None:
                return 404, "Not Found\n", "text/html"
            return 200, STATE.user_data, "application/octet-stream"
        if sub.rstrip("/") == "dynamic":
            return 200, "instance-identity/", text
        if sub.rstrip("/") == "dynamic/instance-identity":
            return 200, "document\nsignature\npkcs7", text
        if sub == "dynamic/instance-identity/document":
            doc = {"accountId": inst["account_id"], "architecture": "x86_64",
                   "availabilityZone": inst["availability_zone"], "billingProducts": None,
                   "devpayProductCodes": None, "marketplaceProductCodes": None,
                   "imageId": inst["ami_id"], "instanceId": inst["instance_id"],
                   "instanceType": inst["instance_type"], "kernelId": None, "pendingTime":
                       "2026-11-25T08:00:00Z", "privateIp": inst["local_ipv4"], "ramdiskId": None,
                   "region": inst["region"], "version": "2017-09-30"}
            return 200, json.dumps(doc, indent=2), text
        if sub in ("dynamic/instance-identity/signature", "dynamic/instance-identity/pkcs7"):
            return 200, "RkFLRUFXUw==", text
        if not (sub == "meta-data" or sub.startswith("meta-data/")):
            return 404, "Not Found\n", "text/html"
        node = self._metadata_tree()
        parts = [p for p in sub[len("meta-data"):].split("/") if p]
        for p in parts:
            if not isinstance(node, dict) or p not in node:
                return 404, "Not Found\n", "text/html"
            node = node[p]
        if isinstance(node, dict):
            return 200, "\n".join(k + "/" if isinstance(v, dict) else k for k, v in node.items()), text
        return 200, node, text

    def _metadata_tree(self):
        inst = STATE.instance
        mac = inst["mac"]
        tree = {
            "ami-id": inst["ami_id"],
            "ami-launch-index": "0",
            "block-device-mapping": {"ami": "xvda", "root": "/dev/xvda"},
            "hostname": inst["hostname"],
            "instance-action": "none",
            "instance-id": inst["instance_id"],
            "instance-life-cycle": inst["instance_life_cycle"],
            "instance-type": inst["instance_type"],
            "local-hostname": inst["local_hostname"],
            "local-ipv4": inst["local_ipv4"],
            "mac": mac,
            "network": {"interfaces": {"macs": {mac: {
                "device-number": "0", "interface-id": "eni-0123456789abcdef0",
                "local-hostname": inst["local_hostname"], "local-ipv4s": inst["local_ipv4"],
                "mac": mac, "owner-id": inst["account_id"], "security-group-ids": "sg-0123456789abcdef0",
                "security-groups": inst["security_groups"], "subnet-id": inst["subnet_id"],
                "subnet-ipv4-cidr-block": "10.0.11.0/24", "vpc-id": inst["vpc_id"],
                "vpc-ipv4-cidr-block": "10.0.0.0/16", "vpc-ipv4-cidr-blocks": "10.0.0.0/16"}}}},
            "placement": {"availability-zone": inst["availability_zone"], "region": inst["region"]},
            "profile": "default-hvm",
            "reservation-id": "r-0123456789abcdef0",
            "security-groups": inst["security_groups"],
            "services": {"domain": "amazonaws.com", "partition": "aws"},
        }
        if inst["role"]:
            cred = STATE.role_credentials()
            tree["iam"] = {
                "info": json.dumps({"Code": "Success", "LastUpdated": rfc3339(cred["issued"]),
                                    "InstanceProfileArn": "arn:aws:iam::%s:instance-profile/%s" % (
                                        inst["account_id"], inst["role"]),
                                    "InstanceProfileId": "AIPAFAKEAWSINSTANCEPROF"}, indent=2),
                "security-credentials": {inst["role"]: json.dumps({
                    "Code": "Success", "LastUpdated": rfc3339(cred["issued"]), "Type": "AWS-HMAC",
                    "AccessKeyId": cred["AccessKeyId"], "SecretAccessKey": cred["SecretAccessKey"],
                    "Token": cred["Token"], "Expiration": rfc3339(cred["expiration"])}, indent=2)},
            }
        if inst["tags_in_metadata"]:
            tree["tags"] = {"instance": dict(inst["tags"])}
        if STATE.target_lifecycle_state is not None:
            tree["autoscaling"] = {"target-lifecycle-state": STATE.target_lifecycle_state}
        if STATE.spot_action is not None:
            tree["spot"] = {"instance-action": json.dumps(STATE.spot_action),
                            "termination-time": STATE.spot_action.get("time", "")}
        events = {}
        if STATE.rebalance is not None:
            events["recommendations"] = {"rebalance": json.dumps({"noticeTime": STATE.rebalance})}
        if events:
            tree["events"] = events
        return tree

    def send_response(self, code, message=None):
        super().send_response(code, message)
        extra = getattr(self, "_extra_headers", None)
        if extra:
            for k, v in extra.items():
                self.send_header(k, v)
            self._extra_headers = None

    # --------------------------------------------------------------- control
    def _control(self, path, body):
        op = path[len("/_fakeaws/"):].strip("/")
        try:
            data = json.loads(body.decode("utf-8")) if body.strip() and op != "user-data" else {}
            if not isinstance(data, dict):
                raise ValueError("JSON object expected")
            status, result = 200, self._control_op(op, data, body)
        except (ValueError, TypeError, KeyError, OSError) as e:
            status, result = 400, {"error": "%s: %s" % (type(e).__name__, e)}
        if result is None:
            status, result = 404, {"error": "unknown control endpoint %s %s" % (self.command, op[:80])}
        self._send(status, {"Content-Type": "application/json"}, json.dumps(result))
        log_line("control", op[:80], status)

    def _control_op(self, op, data, body):
        s = STATE
        get = self.command == "GET"
        if op == "state" and get:
            return s.snapshot()
        if op == "logs/streams" and get:
            with s.lock:
                return {"streams": [{"group": gn, "stream": sn, "events": len(st["events"]),
                                     "received": st.get("received", len(st["events"]))}
                                    for gn, g in sorted(s.log_groups.items())
                                    for sn, st in sorted(g["streams"].items())]}
        if op == "logs/events" and get:
            q = dict(parse_qsl(urlsplit(self.path).query))
            start, limit = int(q.get("start", 0)), min(int(q.get("limit", 10000)), 100000)
            with s.lock:
                g = s.log_groups.get(q.get("group"))
                st = g and g["streams"].get(q.get("stream"))
                if not st:
                    raise KeyError("no stream %r in group %r" % (q.get("stream"), q.get("group")))
                ev = st["events"][start:start + limit]
                return {"events": [{"timestamp": e["timestamp"], "message": e["message"]} for e in ev],
                        "total": len(st["events"]), "next": start + len(ev)}
        if op == "requests" and get:
            since = int(dict(parse_qsl(urlsplit(self.path).query)).get("since", 0))
            with s.lock:
                return {"requests": [r for r in s.request_log if r["seq"] > since]}
        if self.command != "POST":
            return None
        if op == "fault":
            return {"fault": s.add_fault(data)}
        if op == "logs/group":
            name = data["name"]
            if not isinstance(name, str) or not name:
                raise ValueError("name must be a non-empty string")
            with s.lock:
                if name not in s.log_groups:
                    s.log_groups[name] = s._new_group(name, data.get("retention"))
            return {}
        if op == "faults/clear":
            with s.lock:
                s.faults = []
            return {}
        if op == "imds/down":
            with s.lock:
                s.imds_down_until = time.monotonic() + float(data.get("seconds", 0))
            return {}
        if op == "imds/expire-tokens":
            with s.lock:
                s.imds_tokens.clear()
            return {}
        if op == "credentials":
            s.set_credentials_ttl(float(data["ttl_seconds"]))
            return {}
        if op == "credentials/expire":
            s.expire_credentials()
            return {}
        if op == "credentials/static":
            akid, secret = data["access_key_id"], data["secret_access_key"]
            if not isinstance(akid, str) or not isinstance(secret, str) or not akid:
                raise ValueError("access_key_id and secret_access_key must be strings")
            with s.lock:
                s.static_creds[akid] = secret
            return {}
        if op == "secrets":
            sec = s.put_secret(data)
            with s.lock:
                return {"arn": sec["arn"], "version_id": next(iter(sec["versions"]))}
        if op == "secrets/rotate":
            return {"version_id": s.rotate_secret(data)}
        if op == "s3/object":
            if "path" in data:
                with open(data["path"], "rb") as f:
                    content = f.read()
            else:
                content = base64.b64decode(data.get("body_base64", ""), validate=True)
            return s3.put_object(s, data.get("bucket"), data.get("key"), content,
                                 data.get("content_type") or "application/octet-stream")
        if op == "lifecycle":
            s.set_lifecycle(data)
            with s.lock:
                return {"pending_hooks": list(s.pending_hooks)}
        if op == "spot":
            with s.lock:
                if data.get("action") is None:
                    s.spot_action = None
                else:
                    if data["action"] not in ("terminate", "stop", "hibernate"):
                        raise ValueError("action must be terminate, stop or hibernate")
                    s.spot_action = {"action": data["action"],
                                     "time": data.get("time") or rfc3339(s.now() + 120)}
            return {}
        if op == "rebalance":
            with s.lock:
                s.rebalance = data.get("time") or (rfc3339(s.now()) if data.get("notice", True) else None)
            return {}
        if op == "clock":
            with s.lock:
                s.clock_offset = float(data["offset_seconds"])
            return {}
        if op == "instance":
            s.update_instance(data)
            return {}
        if op == "user-data":
            with s.lock:
                s.user_data = body
            return {}
        if op == "user-data/clear":
            with s.lock:
                s.user_data = None
            return {}
        if op == "reset":
            s.reset()
            return {}
        return None


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):  # keep stderr to one line a request
        pass


def main(argv=None):
    global STATE, QUIET
    ap = argparse.ArgumentParser(description="AWS emulator for agentd tests")
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--state", help="JSON file with the initial state")
    ap.add_argument("--user-data", help="file served as user-data")
    ap.add_argument("--quiet", action="store_true", help="no per-request lines on stderr")
    ap.add_argument("--max-stored-events", type=int, default=200000,
                    help="log events kept per stream for inspection (older ones are forgotten)")
    ap.add_argument("--idle-timeout", type=float, default=6.0,
                    help="close connections idle this long (CloudWatch Logs closes after ~6 s)")
    args = ap.parse_args(argv)
    QUIET = args.quiet
    awsapi.MAX_STORED_EVENTS = args.max_stored_events
    Handler.timeout = args.idle_timeout if args.idle_timeout > 0 else None
    initial = {}
    if args.state:
        with open(args.state, encoding="utf-8") as f:
            initial = json.load(f)
    user_data = None
    if args.user_data:
        with open(args.user_data, "rb") as f:
            user_data = f.read()
    STATE = State(initial, user_data)
    host, _, port = args.listen.rpartition(":")
    server = Server((host or "127.0.0.1", int(port)), Handler)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    addr = server.server_address
    sys.stdout.write("READY http://%s:%d\n" % (addr[0], addr[1]))
    sys.stdout.flush()
    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
