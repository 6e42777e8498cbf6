#!/usr/bin/python3
"""Boot test (suite vm): a real Debian 12 guest boots from EC2-style user data, and agentd
brings it into service under systemd.

Usage: test_vm.py SOURCE_ROOT BUILD_ROOT   (meson passes both; exit 77 = skipped)

What happens:
  1. `./dev deb --no-lintian` builds build-deb/agentd_VERSION_amd64.deb. vmimage.py
     builds one image for the run: mmdebstrap bookworm from the host's apt mirror,
     without agentd, the AMI drop-in (tests/vm/guest/10-ami.conf), cloud-init's Ec2
     datasource, the guest check script.
  2. Each boot gets a fresh AWS emulator (tests/fakeaws) on host loopback, serving IMDS,
     the user data, the AWS APIs and S3 (the package); QEMU forwards
     169.254.169.254:80 to it (guestfwd, restrict=on) and the guest's port 80 to a host
     loopback port (hostfwd). The user data is userdata/user-data.sh.tftpl rendered by
     tests/deploy/render_tftpl.py, exactly as Terraform's templatefile() would: it
     fetches the package from the emulator's S3 (curl --aws-sigv4 with the role's IMDS
     credentials), checks its SHA-256 and installs it with apt-get, the production path.
  3. Boot "serve" (scenarios 1 boot, 2 rotation, 3 shutdown) and boot "broken" (scenario
     4, a secret id that does not exist; then 5, termination through the lifecycle hook: the
     target lifecycle state turns Terminated, the guest drains and completes the hook; it
     shuts down the same way). The guest reports on
     a virtio port; the host answers its WAITs (HTTP through the hostfwd, rotation through
     the emulator) on a second port.

A mirror that cannot be reached, a missing QEMU or mmdebstrap, or not running as root is a
skip (77) with the reason, never a failure. Every boot has a hard limit of 300 s.
AGENTD_VM_KEEP=1 keeps the temp dir (image, logs); AGENTD_VM_CACHE=DIR keeps the
mmdebstrap tarball between runs (development).
"""
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "fakeaws"))
sys.path.insert(0, os.path.join(HERE, "..", "deploy"))
import render_tftpl  # noqa: E402
import vmimage  # noqa: E402
import vmrun  # noqa: E402
from client import FakeAWS  # noqa: E402

SKIP = 77
BOOT_LIMIT = 300.0
INSTANCE = "i-0123456789abcdef0"
# /health (issue 4) is in main: an agentd without [health]/[check.*] fails the test. (False
# would skip the /health checks for such a build, as before it was merged.)
HEALTH_REQUIRED = True
TOOLS = {"qemu-system-x86_64": "qemu-system-x86", "mmdebstrap": "mmdebstrap", "mkfs.ext4": "e2fsprogs",
         "socat": "socat", "meson": "meson", "chroot": "coreutils"}

USERDATA_VARS = {
    "region": "eu-central-1",
    "secret_arn": None,          # the emulator's secret "db" (its ARN), or a missing one
    "log_group": "/aws/ec2/php-app",
    "asg_name": "php-app-asg",
    "launch_hook": "php-app-launch",
    "terminate_hook": "php-app-terminate",
    "agentd_deb_s3_uri": None,   # the package in the emulator's S3
    "agentd_deb_sha256": None,
    # The emulator answers S3 on the metadata address (guestfwd), path-style.
    "s3_endpoint": "http://169.254.169.254",
}
DEB_BUCKET = "php-app-artifacts-123456789012"
MISSING_ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-0missing-AbCdEf"


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


def secret_doc(password):
    return json.dumps({"username": "app", "password": password, "host": "db.php-app.internal",
                       "port": 3306, "dbname": "app", "engine": "mysql"})


class Report:
    def __init__(self):
        self.results = []      # (boot, ok|fail|skip, name, detail)

    def add(self, boot, status, name, detail=""):
        self.results.append((boot, status, name, detail))
        print("  %-4s %s%s" % (status, name, (": " + detail) if detail and status != "ok" else
                                ("  (" + detail + ")" if detail else "")), flush=True)

    def check(self, boot, ok, name, detail=""):
        self.add(boot, "ok" if ok else "fail", name, detail)
        return ok

    def failed(self):
        return [r for r in self.results if r[1] == "fail"]


def http_get(url, timeout=10):
    """(status, body) of a GET; status 0 with the error when there is no HTTP answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError) as e:
        return 0, str(e)


def poll_http(url, pred, timeout):
    """GETs url until pred(status, body) holds or timeout passes: the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = http_get(url)
        if pred(status, body) or time.monotonic() > deadline:
            return status, body
        time.sleep(0.5)   # polling an HTTP endpoint for a state, with a deadline


class Boot:
    """One boot of the image with its own emulator; answers the guest's WAITs."""

    def __init__(self, ctx, name, scenario, secret_arn=None):
        self.ctx, self.name, self.scenario = ctx, name, scenario
        self.report = ctx["report"]
        self.facts = {}
        self.journal = []
        self.stop_log = []
        self.password = "vm-pass-1-" + secrets.token_hex(8)
        self.password2 = "vm-pass-2-" + secrets.token_hex(8)
        self.aws = FakeAWS(os.path.join(ctx["tmp"], name + "-fakeaws"), quiet=True)
        arn = self.aws.create_secret("db", string=secret_doc(self.password))["arn"]
        # Terraform creates the log group (agentd creates streams only).
        self.aws.create_log_group(USERDATA_VARS["log_group"])
        deb = ctx["deb"]
        key = "agentd/" + os.path.basename(deb)
        put = self.aws.put_s3_object(DEB_BUCKET, key, path=deb)
        variables = dict(USERDATA_VARS, secret_arn=secret_arn or arn,
                         agentd_deb_s3_uri="s3://%s/%s" % (DEB_BUCKET, key), agentd_deb_sha256=put["sha256"])
        with open(os.path.join(ctx["src"], "userdata", "user-data.sh.tftpl")) as f:
            self.user_data = render_tftpl.render(f.read(), variables)
        self.aws.set_user_data(self.user_data)
        port = urllib.parse.urlparse(self.aws.url).port
        try:
            self.vm = vmrun.VM(ctx["image"], ctx["tmp"], name, port, scenario, limit=BOOT_LIMIT)
        except BaseException:
            self.aws.stop()
            raise
        self.base = "http://127.0.0.1:%d" % self.vm.http_port

    def on_line(self, line):
        kind, _, rest = line.partition(" ")
        if kind == "CHECK":
            status, _, rest = rest.partition(" ")
            name, _, detail = rest.partition(" | ")
            self.report.add(self.name, status, name.strip(), detail.strip())
        elif kind == "FACT":
            k, _, v = rest.partition(" ")
            self.facts[k] = v
        elif kind == "JOURNAL":
            self.journal.append(rest)
        elif kind == "LOG-STOP":
            self.stop_log.append(rest)
        elif kind == "PHASE":
            print("  ..   [%5.1f s] guest: %s" % (self.vm.elapsed(), rest), flush=True)

    def run(self):
        r = self.report
        print("boot %r (scenario %s): QEMU TCG, hostfwd 127.0.0.1:%d -> guest :80, emulator %s" % (
            self.name, self.scenario, self.vm.http_port, self.aws.url), flush=True)
        try:
            while True:
                line = self.vm.wait_line(lambda l: self.on_line(l) or l.startswith(("WAIT ", "DONE ")),
                                         timeout=BOOT_LIMIT, what="guest report (WAIT/DONE)")
                if line.startswith("DONE"):
                    break
                token = line.split()[1]
                getattr(self, "on_wait_" + token)()
                self.vm.send("GO " + token)
            self.vm.wait_line(lambda l: self.on_line(l) or l == "STOP-DONE", timeout=150,
                              what="agentd stop report (STOP-DONE)")
            rc = self.vm.wait_exit(150)
            self.check_stop(rc)
        except vmrun.VMError as e:
            r.check(self.name, False, "boot ran to completion", str(e))
        finally:
            self.vm.kill()
            self.total = self.vm.elapsed()
            self.vm.close()
            self.aws.stop()
        # The secret's values never reach the console (kernel, systemd, cloud-init output),
        # the guest's report lines (journal tail included) or the emulator's output.
        text = ""
        for path in (self.vm.console_path, self.vm.results_path):
            try:
                with open(path, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
            except FileNotFoundError:
                pass
        text += self.aws.output()
        leaked = [p for p in (self.password, self.password2) if p in text]
        r.check(self.name, not leaked, "no secret value in the console, the report lines or the emulator's output",
                "%d value(s) found" % len(leaked))

    # ------------------------------------------------------------- WAIT handlers
    def on_wait_serving(self):
        r, n = self.report, self.name
        s3 = [(q["operation"], q["status"]) for q in self.aws.requests(service="s3")]
        r.check(n, s3 == [("GetObject", 200)], "the package was fetched once from the emulator's S3, "
                "signature checked (%s)" % self.facts.get("agentd_package", "?"), str(s3))
        r.check(n, self.facts.get("pool_password_sha256") == sha256(self.password),
                "the pool's DB_PASSWORD is the emulator's secret value")
        status, body = http_get(self.base + "/index.php")
        r.check(n, status == 200 and ("instance=%s" % INSTANCE) in body
                and ("db_password_sha256=" + sha256(self.password)) in body,
                "PHP page through hostfwd -> nginx -> php-fpm pool sees INSTANCE_ID and DB_PASSWORD",
                "HTTP %s" % status)
        self.check_health(expect_ok=True)

    def on_wait_rotate(self):
        self.aws.rotate_secret("db", string=secret_doc(self.password2))
        self.rotated_at = time.monotonic()

    def on_wait_rotated(self):
        r, n = self.report, self.name
        host_s = time.monotonic() - self.rotated_at
        guest_s = float(self.facts.get("rotation_pool_seconds", "nan"))
        r.check(n, self.facts.get("pool_password_sha256_rotated") == sha256(self.password2),
                "rotation: pool file has the new value %.1f s after the rotation (refresh = 5s)" % guest_s)
        r.check(n, guest_s <= 5.5 + 15.0, "rotation: new value within refresh (5 s +10% jitter) plus "
                "15 s for fetch, render, php-fpm -t, reload under TCG", "%.1f s" % guest_s)
        status, body = poll_http(self.base + "/index.php",
                                 lambda s, b: ("db_password_sha256=" + sha256(self.password2)) in b, 30)
        r.check(n, ("db_password_sha256=" + sha256(self.password2)) in body,
                "rotation: php-fpm workers serve the new DB_PASSWORD (through hostfwd)", "HTTP %s" % status)
        reqs = self.aws.requests(service="secretsmanager")
        ops = [q["operation"] for q in reqs]
        r.check(n, ops.count("GetSecretValue") == 2 and "DescribeSecret" in ops,
                "rotation seen by DescribeSecret, value fetched again once",
                "GetSecretValue x%d, DescribeSecret x%d" % (ops.count("GetSecretValue"), ops.count("DescribeSecret")))
        self.rotation_host_s = host_s

    def on_wait_terminate(self):
        r, n = self.report, self.name
        hook = USERDATA_VARS["terminate_hook"]
        self.aws.set_lifecycle_state("Terminated", pending_hook={
            "asg": USERDATA_VARS["asg_name"], "hook": hook, "transition": "autoscaling:EC2_INSTANCE_TERMINATING"})
        t0 = time.monotonic()
        deadline = t0 + 60
        results = []
        while time.monotonic() < deadline:
            results = [x for x in self.aws.state()["lifecycle"]["results"] if x["hook"] == hook]
            if results:
                break
            time.sleep(0.2)         # polling the emulator from the host, with a deadline
        r.check(n, len(results) == 1 and results[0]["result"] == "CONTINUE",
                "termination: the guest drained and completed the terminate hook with CONTINUE (%.1f s after "
                "the state change)" % (time.monotonic() - t0), str(results)[:300])
        status, body = http_get(self.base + "/health")
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        r.check(n, status == 503 and doc == {"status": "draining", "reason": "draining"},
                "termination: /health through nginx answers 503 draining", "HTTP %s %s" % (status, body[:200]))

    def on_wait_broken(self):
        self.check_health(expect_ok=False)

    def check_health(self, expect_ok):
        r, n = self.report, self.name
        if not self.ctx["health"]:
            status, body = http_get(self.base + "/health")
            r.add(n, "skip", "/health checks (agentd under test has no [health]/[check.*]: issue 4 not merged)",
                  "GET /health answered HTTP %s" % status)
            return
        if expect_ok:
            status, body = poll_http(self.base + "/health", lambda s, b: s == 200, 60)
            try:
                doc = json.loads(body)
            except ValueError:
                doc = {}
            # The public copy: status and reason code, nothing internal.
            r.check(n, status == 200 and doc == {"status": "healthy", "reason": "ok"},
                    "/health through nginx (hostfwd): 200, healthy, no internals (status and reason code only)",
                    "HTTP %s %s" % (status, body[:400]))
        else:
            status, body = poll_http(self.base + "/health", lambda s, b: s == 503, 30)
            try:
                doc = json.loads(body)
            except ValueError:
                doc = {}
            r.check(n, status == 503 and doc == {"status": "unhealthy", "reason": "bootstrap_failed"},
                    "/health through the AMI's nginx site (hostfwd): 503, unhealthy, reason bootstrap_failed",
                    "HTTP %s %s" % (status, body[:400]))

    # ------------------------------------------------------------------ shutdown
    def check_stop(self, qemu_rc):
        r, n, f = self.report, self.name, self.facts
        log = "\n".join(self.stop_log)
        try:
            dur = (int(f["stop_InactiveEnterTimestampMonotonic"]) - int(f["stop_ActiveExitTimestampMonotonic"])) / 1e6
        except (KeyError, ValueError):
            dur = float("nan")
        limit = int(f.get("stop_TimeoutStopUSec", "0") or 0) / 1e6 if f.get("stop_TimeoutStopUSec", "").isdigit() else 90.0
        r.check(n, "received SIGTERM, stopping" in log and re.search(r"agentd\[\d+\]: stopped$", log, re.M),
                "shutdown: agentd logged SIGTERM and its stop")
        drain = [l for l in self.stop_log if "draining" in l]
        r.check(n, bool(drain), "shutdown: agentd logged its drain", drain[0].split("]: ", 1)[-1] if drain else "")
        r.check(n, re.search(r"agentd\.service: Got notification message from PID \d+ \(STOPPING=1", log) is not None,
                "shutdown: systemd received STOPPING=1 from agentd")
        r.check(n, f.get("stop_Result") == "success" and f.get("stop_ExecMainCode") == "1"
                and f.get("stop_ExecMainStatus") == "0",
                "shutdown: agentd exited 0 (Result=success)",
                "Result=%s ExecMainCode=%s ExecMainStatus=%s" % (
                    f.get("stop_Result"), f.get("stop_ExecMainCode"), f.get("stop_ExecMainStatus")))
        r.check(n, dur == dur and dur < limit, "shutdown: agentd stopped in %.2f s (TimeoutStopSec %.0f s)" % (dur, limit))
        self.check_plugin_stop()
        self.check_logs()
        r.check(n, qemu_rc == 0, "shutdown: poweroff, QEMU exited 0",
                "QEMU exit %s" % ("killed at the %d s limit" % BOOT_LIMIT if qemu_rc is None else qemu_rc))

    def check_logs(self):
        """The guest's real journal and nginx log reached the emulator, flushed by the drain
        before agentd exited (so read after the poweroff, no waiting)."""
        r, n, group = self.report, self.name, USERDATA_VARS["log_group"]

        def messages(source):
            stream = "%s/%s" % (INSTANCE, source)
            if not any(x["group"] == group and x["stream"] == stream for x in self.aws.log_streams()):
                return []
            return [e["message"] for e in self.aws.log_events(group, stream)]
        journal = messages("journal")
        want = "shipping logs of 6 source(s)" if self.scenario == "serve" else "bootstrap failed at step secrets"
        r.check(n, any(want in m for m in journal),
                "logs: the guest's journal (agentd's %r) reached CloudWatch Logs" % want,
                "%d journal events" % len(journal))
        if self.scenario == "serve":
            access = messages("nginx-access")
            r.check(n, any('"GET /index.php' in m for m in access),
                    "logs: nginx's access log (the test's requests through hostfwd) reached CloudWatch Logs",
                    "%d access events, first: %s" % (len(access), access[:1]))
        # A stream's first PutLogEvents may find it missing (agentd then creates it);
        # anything else refused is a request AWS would refuse.
        puts = self.aws.requests("logs", "PutLogEvents")
        bad = [q.get("error") for q in puts if q["status"] != 200 and q.get("error") != "ResourceNotFoundException"]
        r.check(n, bool(puts) and not bad,
                "logs: every PutLogEvents accepted by the emulator (signature and parameters checked)",
                "%d requests, refused: %s" % (len(puts), bad[:3]))

    def check_plugin_stop(self):
        """The sample plugin: stopped by agentd's drain, after /health turned 503 and before
        agentd finished (serve); never started (broken)."""
        r, n, f = self.report, self.name, self.facts
        log = "\n".join(self.stop_log)
        if self.scenario != "serve":
            r.check(n, f.get("stop_plugin_ExecMainStartTimestampMonotonic") in ("", "0")
                    and "drain: stopping" not in log, "shutdown: no plugin to stop (never started)")
            return
        try:
            a_exit, a_inactive = int(f["stop_ActiveExitTimestampMonotonic"]), int(f["stop_InactiveEnterTimestampMonotonic"])
            p_stop, p_term, p_done = (int(f["stop_plugin_stopping_usec"]), int(f["stop_plugin_sigterm_usec"]),
                                      int(f["stop_plugin_stopped_usec"]))
        except (KeyError, ValueError):
            a_exit = a_inactive = p_stop = p_term = p_done = 0
        # From the journal (the stopped unit is unloaded): systemd's "Stopping"/"Stopped"
        # lines of the plugin's unit and the plugin's own "SIGTERM: stopped".
        # (systemd's "Stopping" line and the plugin's SIGTERM line are written
        # by two processes: within a few ms either may come first.)
        r.check(n, f.get("stop_plugin_ActiveState") == "inactive" and a_exit > 0
                and a_exit <= min(p_stop, p_term) and max(p_stop, p_term) <= p_done <= a_inactive,
                "shutdown: the plugin's stop began after agentd's and ended before agentd's "
                "(agentd %.2f-%.2f s, plugin %.2f-%.2f s, its SIGTERM at %.2f s)" % (
                    a_exit / 1e6, a_inactive / 1e6, p_stop / 1e6, p_done / 1e6, p_term / 1e6),
                "plugin ActiveState=%s" % f.get("stop_plugin_ActiveState"))
        marks = ["/health now answers 503", "drain: stopping 1 plugin", "drain: plugins stopped", "drained in"]
        pos = [log.find(m) for m in marks]
        r.check(n, all(p >= 0 for p in pos) and pos == sorted(pos),
                "shutdown: agentd's log: 503, then StopUnit of the plugin, plugin stopped, then exit", str(pos))

    def summary(self):
        f = self.facts
        return ("boot %r: cloud-init done at %s s, agentd started at %s s and READY at %s s guest uptime "
                "(start to READY %s ms%s), whole boot-test-poweroff %.0f s" % (
                    self.name, f.get("cloud_init_done_uptime", "?"), f.get("agentd_started_uptime", "?"),
                    f.get("agentd_active_uptime", "?"), f.get("agentd_start_to_ready_ms", "?"),
                    ", healthy %s s after READY" % f["agentd_healthy_after_ready_s"]
                    if "agentd_healthy_after_ready_s" in f else "", self.total))


def preflight():
    if os.geteuid() != 0:
        return "needs root (mmdebstrap --mode=root, chroot, root-owned files for mkfs.ext4 -d); CI and `./dev test` run as root"
    missing = [pkg for tool, pkg in TOOLS.items() if not shutil.which(tool)]
    if missing:
        return "missing host tools: apt-get install --no-install-recommends %s (.ci/packages/vm.txt)" % " ".join(
            sorted(set(missing)))
    return None


def host_exposure(src):
    p = subprocess.run(["bash", os.path.join(src, "bench", "security-exposure.sh"),
                        os.path.join(src, "units", "agentd.service")],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    m = re.search(r"exposure: ([0-9.]+)", p.stdout.decode())
    return m.group(1) if m else "?"


def on_sigterm(signo, frame):
    # meson's timeout (or Ctrl-C) ends the test through the finally blocks: QEMU killed,
    # emulator stopped, temp dir removed.
    raise KeyboardInterrupt("signal %d" % signo)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    signal.signal(signal.SIGTERM, on_sigterm)
    src, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    why = preflight()
    if why:
        print("SKIP: boot test: " + why)
        return SKIP
    tmp = tempfile.mkdtemp(prefix="agentd-vm-")
    report = Report()
    boots = []
    try:
        health, health_out = vmimage.health_supported(build, tmp)
        if not health:
            print("note: /health checks disabled: this agentd refuses [check.*] (%s)" % health_out.splitlines()[-1:])
            if HEALTH_REQUIRED:
                report.check("image", False, "agentd under test supports [health]/[check.*]", health_out)
        t0 = time.monotonic()
        p = subprocess.run([os.path.join(src, "dev"), "deb", "--no-lintian"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, cwd=src, timeout=900)
        if p.returncode != 0:
            print("./dev deb failed:\n%s" % p.stderr.decode("utf-8", "replace")[-3000:])
            return 1
        # A copy: another ./dev deb (the deploy suite) may replace build-deb/ meanwhile.
        deb = shutil.copy(p.stdout.decode().strip().splitlines()[-1], tmp)
        print("package %s built in %.0f s" % (deb, time.monotonic() - t0), flush=True)
        t0 = time.monotonic()
        print("building the guest image (mmdebstrap bookworm, no agentd: the user data installs it)...", flush=True)
        try:
            image = vmimage.build(build, tmp, os.path.join(tmp, "image-build.log"), health)
        except vmimage.MirrorError as e:
            print("SKIP: boot test: Debian mirror download failed, not a test failure:\n%s" % e)
            return SKIP
        except vmimage.BuildError as e:
            print("image build failed: %s" % e)
            return 1
        print("image built in %.0f s (mmdebstrap %.0f s%s from %s, customise + mkfs %.0f s)" % (
            time.monotonic() - t0, image["mmdebstrap_s"], ", cached" if image["cached"] else "",
            image["mirror"], image["customise_s"]), flush=True)
        exposure_host = host_exposure(src)
        ctx = {"tmp": tmp, "src": src, "image": image, "report": report, "health": health, "deb": deb}

        serve = Boot(ctx, "serve", "serve")
        boots.append(serve)
        serve.run()
        pe = serve.facts.get("plugin_exposure", "?")
        report.check("serve", pe != "?" and float(pe) < float(serve.facts.get("guest_exposure", "10")),
                     "systemd-analyze security %s in the guest: %s (below agentd's)" % ("agentd-sample-plugin.service", pe))
        g = serve.facts.get("guest_exposure", "?")
        report.check("serve", g == exposure_host and g != "?",
                     "systemd-analyze security agentd.service in the guest: %s, host check: %s" % (g, exposure_host))

        broken = Boot(ctx, "broken", "broken", secret_arn=MISSING_ARN)
        boots.append(broken)
        broken.run()
    except (Exception, KeyboardInterrupt):
        report.check("driver", False, "test driver", traceback.format_exc())
    finally:
        print()
        for b in boots:
            if hasattr(b, "total"):
                print(b.summary())
                if "health_socket_unit" in b.facts:
                    print("  agentd-health.socket in the guest (enabled/active): %s" % b.facts["health_socket_unit"])
        failed = report.failed()
        print("%d checks passed, %d failed, %d skipped" % (
            sum(1 for x in report.results if x[1] == "ok"), len(failed),
            sum(1 for x in report.results if x[1] == "skip")))
        if failed:
            print("\nFAILED:")
            for boot, _, name, detail in failed:
                print("  [%s] %s: %s" % (boot, name, detail))
            for b in boots:
                if b.journal:
                    print("\n--- guest journal tail, boot %r ---\n%s" % (b.name, "\n".join(b.journal)))
                elif b.stop_log:
                    print("\n--- agentd's stop, boot %r ---\n%s" % (b.name, "\n".join(b.stop_log)))
                print("\n--- serial console tail, boot %r ---\n%s" % (b.name, b.vm.console_tail(40)))
        if os.environ.get("AGENTD_VM_KEEP"):
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if report.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
