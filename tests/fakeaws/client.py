"""Test helper: start fakeaws as a subprocess and drive its control API.

Design: `FakeAWS(tmpdir, state=None)` writes the optional initial state to
tmpdir/fakeaws-state.json, starts `/usr/bin/python3 fakeaws.py --listen
127.0.0.1:0`, and blocks until the READY line arrives on stdout (a reader thread
with a deadline, no sleeps).  stdout and stderr are copied to files in tmpdir;
`output()` (or `read_output(tmpdir)`) returns everything the emulator printed,
so tests can assert that no secret leaked.  Control calls use urllib only.

    with FakeAWS(tmp) as aws:
        env = dict(os.environ, **aws.env())
        aws.create_secret("db", string='{"password": "x"}')
"""

import base64
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FAKEAWS = os.path.join(HERE, "fakeaws.py")
PYTHON = "/usr/bin/python3"


_KEEP = object()


class FakeAWSError(Exception):
    pass


def read_output(tmpdir):
    """Everything a FakeAWS started with this tmpdir printed (stdout + stderr)."""
    out = []
    for name in ("fakeaws.stdout", "fakeaws.stderr"):
        try:
            with open(os.path.join(tmpdir, name), encoding="utf-8", errors="replace") as f:
                out.append(f.read())
        except FileNotFoundError:
            pass
    return "".join(out)


class FakeAWS:
    def __init__(self, tmpdir, state=None, user_data=None, quiet=False, startup_timeout=30.0, extra_args=()):
        self.tmpdir = tmpdir
        os.makedirs(tmpdir, exist_ok=True)
        args = [PYTHON, FAKEAWS, "--listen", "127.0.0.1:0"]
        if state is not None:
            path = os.path.join(tmpdir, "fakeaws-state.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(state, f)
            args += ["--state", path]
        if user_data is not None:
            path = os.path.join(tmpdir, "fakeaws-user-data")
            with open(path, "wb") as f:
                f.write(user_data.encode() if isinstance(user_data, str) else user_data)
            args += ["--user-data", path]
        if quiet:
            args.append("--quiet")
        args += list(extra_args)
        self._stderr = open(os.path.join(tmpdir, "fakeaws.stderr"), "wb")
        self._stdout_file = open(os.path.join(tmpdir, "fakeaws.stdout"), "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL)
        self.url = None
        ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self._stdout_file.write(line)
                self._stdout_file.flush()
                if self.url is None and line.startswith(b"READY "):
                    self.url = line.split()[1].decode()
                    ready.set()
            ready.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not ready.wait(startup_timeout) or self.url is None:
            self.stop()
            raise FakeAWSError("fakeaws did not become ready:\n" + read_output(tmpdir))

    # ------------------------------------------------------------ lifecycle
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._pump.join(5)
        for f in (self._stderr, self._stdout_file):
            if not f.closed:
                f.close()
        return self.proc.returncode

    def output(self):
        return read_output(self.tmpdir)

    def env(self):
        """Variables pointing an agent (or an AWS SDK) at the emulator."""
        return {"AWS_EC2_METADATA_SERVICE_ENDPOINT": self.url,
                "AWS_ENDPOINT_URL": self.url}

    # -------------------------------------------------------------- control
    def _call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + "/_fakeaws/" + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise FakeAWSError("%s %s: %d %s" % (method, path, e.code, e.read()[:500].decode("utf-8", "replace")))

    def state(self):
        return self._call("GET", "state")

    def metric_data(self, name=None):
        """What PutMetricData stored, one dict per data item (Namespace,
        MetricName, Dimensions dict, Timestamp, Unit, and Value, Values and
        Counts or StatisticValues), optionally of one metric name."""
        return [d for d in self.state()["metric_data"] if name is None or d["MetricName"] == name]

    def requests(self, service=None, operation=None, since=0):
        """The request log (dicts: seq, time, service, operation, status, error,
        access_key_id, fault), optionally only entries with seq > since."""
        reqs = self._call("GET", "requests?since=%d" % since)["requests"]
        return [r for r in reqs if (service is None or r["service"] == service)
                and (operation is None or r["operation"] == operation)]

    def wait_requests(self, count, service=None, operation=None, timeout=10.0):
        """Poll the request log until `count` matching requests were seen."""
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests(service, operation)
            if len(reqs) >= count or time.monotonic() > deadline:
                return reqs
            time.sleep(0.05)

    def fault(self, kind, service="*", operation=None, count=1, seconds=None, nbytes=None, status=None):
        spec = {"kind": kind, "service": service, "count": count}
        if operation is not None:
            spec["operation"] = operation
        if seconds is not None:
            spec["seconds"] = seconds
        if nbytes is not None:
            spec["bytes"] = nbytes
        if status is not None:
            spec["status"] = status
        return self._call("POST", "fault", spec)

    def clear_faults(self):
        return self._call("POST", "faults/clear", {})

    def imds_down(self, seconds):
        return self._call("POST", "imds/down", {"seconds": seconds})

    def expire_tokens(self):
        return self._call("POST", "imds/expire-tokens", {})

    def set_credentials_ttl(self, seconds):
        return self._call("POST", "credentials", {"ttl_seconds": seconds})

    def expire_credentials(self):
        return self._call("POST", "credentials/expire", {})

    def add_static_credentials(self, access_key_id, secret_access_key):
        return self._call("POST", "credentials/static",
                          {"access_key_id": access_key_id, "secret_access_key": secret_access_key})

    def create_secret(self, name, string=None, binary_b64=None, kms_fail=False, deny=False):
        spec = {"name": name, "kms_fail": kms_fail, "deny": deny}
        if binary_b64 is not None:
            spec["binary_b64"] = binary_b64
        else:
            spec["string"] = string
        return self._call("POST", "secrets", spec)

    def rotate_secret(self, name, string=None, pending=False, finish=False):
        spec = {"name": name, "pending": pending, "finish": finish}
        if string is not None:
            spec["string"] = string
        return self._call("POST", "secrets/rotate", spec)

    def set_lifecycle_state(self, target_state=None, pending_hook=_KEEP):
        """target_state: str, or None for 404 in IMDS.  pending_hook: dict
        (asg, hook, token, transition; all optional) to make one lifecycle
        action pending, None to clear it; left out: unchanged."""
        spec = {"target_state": target_state}
        if pending_hook is not _KEEP:
            spec["pending_hook"] = pending_hook
        return self._call("POST", "lifecycle", spec)

    def spot_notice(self, action="terminate", time=None):
        return self._call("POST", "spot", {"action": action, "time": time})

    def rebalance_notice(self, time=None):
        return self._call("POST", "rebalance", {"time": time})

    def set_clock_offset(self, seconds):
        return self._call("POST", "clock", {"offset_seconds": seconds})

    def set_instance(self, **fields):
        return self._call("POST", "instance", fields)

    def set_user_data(self, data):
        return self._call("POST", "user-data", raw=data.encode() if isinstance(data, str) else data)

    def put_s3_object(self, bucket, key, path=None, body=None, content_type=None):
        """Stores an object for S3 GetObject: from a file (path) or bytes (body)."""
        data = {"bucket": bucket, "key": key}
        if path is not None:
            data["path"] = os.path.abspath(path)
        else:
            data["body_base64"] = base64.b64encode(body).decode()
        if content_type:
            data["content_type"] = content_type
        return self._call("POST", "s3/object", data)

    def log_streams(self):
        """[{"group", "stream", "events" (kept), "received" (ever accepted)}]"""
        return self._call("GET", "logs/streams")["streams"]

    def log_events(self, group, stream):
        """Every event kept for group/stream, oldest first: [{"timestamp", "message"}]."""
        from urllib.parse import urlencode
        out, start = [], 0
        while True:
            page = self._call("GET", "logs/events?" + urlencode({"group": group, "stream": stream,
                                                                 "start": start, "limit": 50000}))
            out += page["events"]
            start = page["next"]
            if start >= page["total"] or not page["events"]:
                return out

    def create_log_group(self, name):
        """Creates a log group directly (as Terraform would), unsigned."""
        return self._call("POST", "logs/group", {"name": name})

    def reset(self):
        return self._call("POST", "reset", {})
