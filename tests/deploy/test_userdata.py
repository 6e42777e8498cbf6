#!/usr/bin/python3
"""Tests of userdata/user-data.sh.tftpl.

Usage: test_userdata.py SOURCE_ROOT {shellcheck|fakeroot}

shellcheck: the template rendered with sample variables (by render_tftpl.py, the same
  substitution Terraform's templatefile() does) is shellcheck clean.
fakeroot:   the rendered script runs under bash with AGENTD_USERDATA_ROOT pointing at a
  temp dir and PATH stand-ins for systemctl and apt-get (each records its arguments);
  a stand-in /usr/bin/agentd in the fake root answers --check-config. The package is
  fetched for real: the AWS emulator (tests/fakeaws) plays IMDSv2 and S3 on loopback,
  the script's real curl signs GetObject, and the emulator checks the signature with
  botocore (a curl wrapper records each call's arguments, so a test sees that no
  credential is ever on a command line). Real coreutils do the rest (base64, install,
  mktemp, sha256sum). Each case asserts the exact config file, its mode, the calls
  made, and for the failing cases a non-zero exit with a message that names the
  failed step.
"""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import render_tftpl  # noqa: E402

SRC = None
SAMPLE = {
    "region": "eu-central-1",
    "secret_arn": "arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-0a1b2c3d-AbCdEf",
    "log_group": "/aws/ec2/php-app",
    "asg_name": "php-app-asg",
    "launch_hook": "php-app-launch",
    "terminate_hook": "php-app-terminate",
    "agentd_deb_s3_uri": "",
    "agentd_deb_sha256": "",
    "s3_endpoint": "",
}
EXPECTED_CONF = """\
# Written by the EC2 user data (terraform/modules/compute). Do not edit:
# a new launch template version replaces it on the next instance.

[aws]
region = eu-central-1

[secret.db]
id = arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-0a1b2c3d-AbCdEf

[logs]
log_group = /aws/ec2/php-app

[lifecycle]
asg_name = php-app-asg
launch_hook = php-app-launch
terminate_hook = php-app-terminate
"""
CONF = "etc/agentd/agentd.conf.d/50-userdata.conf"

# Each stand-in appends "NAME ARGS..." to $CALLS. systemctl's exit codes come from
# FAKE_SYSTEMCTL_FAIL (a verb that fails) and FAKE_ACTIVE (is-active answers 0 if set).
STANDINS = {
    "systemctl": r"""#!/bin/bash
echo "systemctl $*" >>"$CALLS"
[ "${FAKE_SYSTEMCTL_FAIL:-}" = "$1" ] && { echo "Failed to $1 unit" >&2; exit 1; }
if [ "$1" = is-active ]; then [ -n "${FAKE_ACTIVE:-}" ]; exit; fi
exit 0
""",
    "apt-get": r"""#!/bin/bash
echo "apt-get $*" >>"$CALLS"
if [ "$1" = update ]; then rm -f "$FAKE_APT_FAIL"; exit 0; fi
[ "$1" = install ] || exit 2
deb=${!#}
# A first install that fails as with missing dependencies (FAKE_APT_FAIL exists).
[ -e "${FAKE_APT_FAIL:-/nonexistent}" ] && { echo "E: Unmet dependencies" >&2; exit 100; }
# "Installs" the package: it must be the file that was fetched, then the agentd stand-in.
cmp -s "$deb" "$FAKE_DEB_EXPECTED" || { echo "apt-get: not the expected package" >&2; exit 1; }
install -D -m 0755 "$FAKE_AGENTD" "$AGENTD_USERDATA_ROOT/usr/bin/agentd"
""",
    "curl": r"""#!/bin/bash
echo "curl $*" >>"$CALLS"
exec /usr/bin/curl "$@"
""",
}
AGENTD = r"""#!/bin/bash
echo "agentd $*" >>"$CALLS"
[ -z "${FAKE_BAD_CONFIG:-}" ] || { echo "agentd: bad config" >&2; exit 1; }
"""

failures = 0


def check(cond, what):
    global failures
    if cond:
        print(f"ok: {what}")
    else:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)


def render(variables):
    with open(os.path.join(SRC, "userdata", "user-data.sh.tftpl")) as f:
        return render_tftpl.render(f.read(), variables)


def need(tool, package):
    if not shutil.which(tool):
        sys.exit(f"FAIL: {tool} not found: install Debian package {package} (see .ci/packages/deploy.txt)")


AWS = None          # the emulator (fakeroot mode), reset before each case
DEB_BUCKET = "php-app-artifacts"
DEB_KEY = "agentd/agentd_0.1.0+deb12_amd64.deb"
DEB_URI = f"s3://{DEB_BUCKET}/{DEB_KEY}"
DEB = b"!<arch>\nfake agentd package\n" + bytes(range(256)) * 64


def run_case(variables, agentd_in_ami=True, env_extra=None, s3_objects=None, faults=()):
    """Runs the rendered script against a fresh fake root; returns (rc, stderr, calls, root)."""
    tmp = tempfile.mkdtemp(prefix="userdata-")
    root = os.path.join(tmp, "root")
    bindir = os.path.join(tmp, "bin")
    AWS.reset()
    for f in faults:
        AWS.fault(**f)
    for key, data in (s3_objects or {}).items():
        bucket, _, k = key.partition("/")
        AWS.put_s3_object(bucket, k, body=data)
    expected = os.path.join(tmp, "expected.deb")
    with open(expected, "wb") as f:
        f.write(DEB)
    os.makedirs(root)
    os.makedirs(bindir)
    for name, body in STANDINS.items():
        path = os.path.join(bindir, name)
        with open(path, "w") as f:
            f.write(body)
        os.chmod(path, 0o755)
    fake_agentd = os.path.join(tmp, "agentd-standin")
    with open(fake_agentd, "w") as f:
        f.write(AGENTD)
    os.chmod(fake_agentd, 0o755)
    if agentd_in_ami:
        os.makedirs(os.path.join(root, "usr/bin"))
        shutil.copy(fake_agentd, os.path.join(root, "usr/bin/agentd"))
    script = os.path.join(tmp, "user-data.sh")
    with open(script, "w") as f:
        f.write(render(variables))
    calls = os.path.join(tmp, "calls")
    open(calls, "w").close()
    env = {
        "PATH": f"{bindir}:/usr/bin:/bin",
        "AGENTD_USERDATA_ROOT": root,
        "CALLS": calls,
        "FAKE_AGENTD": fake_agentd,
        "FAKE_DEB_EXPECTED": expected,
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": AWS.url,
        "TMPDIR": tmp,
        "LC_ALL": "C",
    }
    env.update(env_extra or {})
    p = subprocess.run(["bash", script], env=env, capture_output=True, text=True, timeout=60)
    with open(calls) as f:
        call_list = f.read().splitlines()
    return p.returncode, p.stderr, [c.replace(root, "ROOT") for c in call_list], root, tmp


def read_conf(root):
    path = os.path.join(root, CONF)
    if not os.path.exists(path):
        return None, None
    with open(path) as f:
        return f.read(), stat.S_IMODE(os.stat(path).st_mode)


def case_ami():
    rc, err, calls, root, tmp = run_case(SAMPLE)
    conf, mode = read_conf(root)
    check(rc == 0, f"AMI install: exit 0 (got {rc}; stderr: {err.strip()})")
    check(conf == EXPECTED_CONF, "AMI install: 50-userdata.conf is exactly the expected text")
    if conf != EXPECTED_CONF:
        print(f"--- got ---\n{conf}--- want ---\n{EXPECTED_CONF}", file=sys.stderr)
    check(mode == 0o640, f"AMI install: 50-userdata.conf mode 0640 (got {mode and oct(mode)})")
    check(stat.S_IMODE(os.stat(os.path.join(root, "etc/agentd/agentd.conf.d")).st_mode) == 0o755,
          "AMI install: agentd.conf.d is 0755")
    check(os.listdir(os.path.join(root, "etc/agentd/agentd.conf.d")) == ["50-userdata.conf"],
          "AMI install: no temp file left behind")
    want = ["agentd --check-config --config ROOT/etc/agentd",
            "systemctl enable agentd.service",
            "systemctl is-active --quiet agentd.service",
            "systemctl start --no-block agentd.service"]
    check(calls == want, f"AMI install: calls are check-config, enable, start --no-block (got {calls})")
    shutil.rmtree(tmp)


def case_already_running():
    rc, err, calls, root, tmp = run_case(SAMPLE, env_extra={"FAKE_ACTIVE": "1"})
    check(rc == 0, f"already running: exit 0 (got {rc}; {err.strip()})")
    check(calls[-1] == "systemctl restart --no-block agentd.service",
          f"already running: restarted with --no-block to read the config (got {calls[-1:]})")
    check(not any(c.startswith("systemctl start") for c in calls), "already running: no plain start")
    shutil.rmtree(tmp)


def deb_vars(**kw):
    return dict(SAMPLE, agentd_deb_s3_uri=DEB_URI, agentd_deb_sha256=hashlib.sha256(DEB).hexdigest(),
                s3_endpoint=AWS.url, **kw)


def s3_log():
    return [(r["operation"], r["status"], r["error"]) for r in AWS.requests(service="s3")]


def case_deb(good):
    variables = deb_vars()
    if not good:
        variables["agentd_deb_sha256"] = hashlib.sha256(b"something else").hexdigest()
    rc, err, calls, root, tmp = run_case(variables, agentd_in_ami=False,
                                         s3_objects={f"{DEB_BUCKET}/{DEB_KEY}": DEB})
    conf, _ = read_conf(root)
    label = "deb, good sha" if good else "deb, bad sha"
    check(s3_log() == [("GetObject", 200, None)],
          f"{label}: fetched from the emulator's S3 once, signature accepted (got {s3_log()})")
    imds = [r["operation"] for r in AWS.requests(service="imds")]
    check(imds[:1] == ["api/token"] and "meta-data/iam/security-credentials/agentd-instance-role" in imds,
          f"{label}: IMDSv2 token first, then the role credentials (got {imds})")
    issued = {c["AccessKeyId"] for c in AWS.state()["credentials"]["issued"]}
    akids = {r["access_key_id"] for r in AWS.requests(service="s3")}
    check(akids and akids <= issued, f"{label}: signed with the role credentials from IMDS")
    creds = AWS.state()["credentials"]["issued"]
    leaked = [c for c in creds if c["SecretAccessKey"] in err + " ".join(calls) or c["Token"] in err + " ".join(calls)]
    check(not leaked, f"{label}: no secret key or token in any command line or in the output")
    if good:
        check(rc == 0, f"{label}: exit 0 (got {rc}; stderr: {err.strip()})")
        apt = [c for c in calls if c.startswith("apt-get")]
        check(len(apt) == 1 and apt[0].startswith("apt-get install -y -q --no-install-recommends /") and
              apt[0].endswith("/agentd.deb"), f"{label}: apt-get install ./agentd.deb once (got {apt})")
        check(calls[-1] == "systemctl start --no-block agentd.service", f"{label}: started --no-block")
        check(conf == EXPECTED_CONF, f"{label}: config written before the install, exactly")
        check(calls.index(apt[0]) < calls.index("systemctl enable agentd.service"), f"{label}: installed before enable")
    else:
        check(rc != 0, f"{label}: exit non-zero")
        check("SHA-256" in err and "failed" in err, f"{label}: message names the checksum step (got {err.strip()})")
        check(not any(c.startswith(("apt-get", "systemctl")) for c in calls), f"{label}: nothing installed or started")
    shutil.rmtree(tmp)


def case_deb_more():
    objects = {f"{DEB_BUCKET}/{DEB_KEY}": DEB}
    # The region comes from IMDS when the user data has none: the signature's scope
    # must be the emulator's region, or S3 refuses it.
    rc, err, calls, root, tmp = run_case(deb_vars(region=""), agentd_in_ami=False, s3_objects=objects)
    check(rc == 0 and s3_log() == [("GetObject", 200, None)],
          f"deb, no region: region read from IMDS, signature accepted (rc {rc}, {s3_log()}, {err.strip()[-300:]})")
    shutil.rmtree(tmp)
    # S3 throttles once: curl retries.
    rc, err, calls, root, tmp = run_case(deb_vars(), agentd_in_ami=False, s3_objects=objects,
                                         faults=[{"kind": "throttle", "service": "s3", "operation": "GetObject"}])
    check(rc == 0 and s3_log() == [("GetObject", 503, "SlowDown"), ("GetObject", 200, None)],
          f"deb, S3 throttles once: retried, installed (rc {rc}, {s3_log()})")
    shutil.rmtree(tmp)
    # The object is not there (the bucket is).
    rc, err, calls, root, tmp = run_case(deb_vars(), agentd_in_ami=False,
                                         s3_objects={f"{DEB_BUCKET}/agentd/other.deb": b"x"})
    check(rc != 0 and f'step "fetch {DEB_URI}" failed' in err,
          f"deb missing in S3: fails naming the fetch step (got {err.strip()[-300:]})")
    check(s3_log() == [("GetObject", 404, "NoSuchKey")], f"deb missing in S3: S3 said NoSuchKey ({s3_log()})")
    check(not any(c.startswith(("apt-get", "systemctl")) for c in calls), "deb missing in S3: nothing installed")
    shutil.rmtree(tmp)
    # The AMI's package lists cannot satisfy the dependencies: update, then again.
    flag = tempfile.NamedTemporaryFile(delete=False)
    flag.close()
    rc, err, calls, root, tmp = run_case(deb_vars(), agentd_in_ami=False, s3_objects=objects,
                                         env_extra={"FAKE_APT_FAIL": flag.name})
    apt = [c.split(" /")[0] for c in calls if c.startswith("apt-get")]
    check(rc == 0 and apt == ["apt-get install -y -q --no-install-recommends", "apt-get update -q",
                              "apt-get install -y -q --no-install-recommends"],
          f"deb, stale package lists: apt-get update and install again (rc {rc}, {apt})")
    shutil.rmtree(tmp)


def case_partial():
    variables = dict(SAMPLE, region="", launch_hook="", terminate_hook="")
    rc, err, calls, root, tmp = run_case(variables)
    conf, _ = read_conf(root)
    want = """\
# Written by the EC2 user data (terraform/modules/compute). Do not edit:
# a new launch template version replaces it on the next instance.

[secret.db]
id = arn:aws:secretsmanager:eu-central-1:123456789012:secret:rds!cluster-0a1b2c3d-AbCdEf

[logs]
log_group = /aws/ec2/php-app

[lifecycle]
asg_name = php-app-asg
"""
    check(rc == 0, f"partial: exit 0 (got {rc}; {err.strip()})")
    check(conf == want, "partial: only the keys with a value, no empty section")
    shutil.rmtree(tmp)


def case_refused(name, value, fragment):
    rc, err, calls, root, tmp = run_case(dict(SAMPLE, **{name: value}))
    conf, _ = read_conf(root)
    check(rc != 0, f"{name}={value!r}: exit non-zero")
    check(fragment in err and name in err, f"{name}={value!r}: message says why (got {err.strip()})")
    check(conf is None and calls == [], f"{name}={value!r}: nothing written, nothing called")
    shutil.rmtree(tmp)


def case_failing_step(label, env_extra, agentd_in_ami, step_text, want_calls_prefix):
    rc, err, calls, root, tmp = run_case(SAMPLE, env_extra=env_extra, agentd_in_ami=agentd_in_ami)
    check(rc != 0, f"{label}: exit non-zero (got {rc})")
    check(step_text in err, f"{label}: message names the step (got {err.strip()})")
    check(calls == want_calls_prefix, f"{label}: stops right there (calls {calls})")
    shutil.rmtree(tmp)


def fakeroot():
    need("bash", "bash")
    need("base64", "coreutils")
    need("sha256sum", "coreutils")
    need("curl", "curl")
    global AWS
    sys.path.insert(0, os.path.join(SRC, "tests", "fakeaws"))
    from client import FakeAWS
    aws_tmp = tempfile.mkdtemp(prefix="userdata-fakeaws-")
    AWS = FakeAWS(aws_tmp, quiet=True)
    try:
        fakeroot_cases()
    finally:
        AWS.stop()
        shutil.rmtree(aws_tmp, ignore_errors=True)


def fakeroot_cases():
    case_ami()
    case_already_running()
    case_deb(good=True)
    case_deb(good=False)
    case_deb_more()
    case_partial()
    case_refused("log_group", "/aws/ec2/php-app\n[aws]\nregion = evil", "newline")
    case_refused("asg_name", "php-app-asg]", "refused")
    case_refused("secret_arn", "arn:aws:secretsmanager:x;y", "refused")
    case_refused("region", "eu central 1", "does not look like")
    case_refused("agentd_deb_sha256", "abc", "does not look like")
    case_refused("s3_endpoint", "ftp://example", "does not look like")
    rc, err, calls, root, tmp = run_case(dict(SAMPLE, agentd_deb_s3_uri="s3://bucket/agentd.deb"))
    check(rc != 0 and "unchecked" in err and calls == [], "deb without sha256: refused before anything runs")
    shutil.rmtree(tmp)
    case_failing_step("agentd missing from the AMI, no deb", {}, False,
                      "agentd is not installed", [])
    case_failing_step("config rejected by agentd --check-config", {"FAKE_BAD_CONFIG": "1"}, True,
                      'step "agentd --check-config" failed', ["agentd --check-config --config ROOT/etc/agentd"])
    case_failing_step("systemctl enable fails", {"FAKE_SYSTEMCTL_FAIL": "enable"}, True,
                      'step "enable and start agentd.service" failed',
                      ["agentd --check-config --config ROOT/etc/agentd", "systemctl enable agentd.service"])
    case_failing_step("systemctl start fails", {"FAKE_SYSTEMCTL_FAIL": "start"}, True,
                      'step "enable and start agentd.service" failed',
                      ["agentd --check-config --config ROOT/etc/agentd", "systemctl enable agentd.service",
                       "systemctl is-active --quiet agentd.service", "systemctl start --no-block agentd.service"])


def shellcheck():
    need("shellcheck", "shellcheck")
    for label, variables in (("no deb", SAMPLE),
                             ("deb", dict(SAMPLE, agentd_deb_s3_uri="s3://b/agentd.deb", agentd_deb_sha256="0" * 64,
                                         s3_endpoint="http://127.0.0.1:9"))):
        with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
            f.write(render(variables))
        p = subprocess.run(["shellcheck", "--shell=bash", "--severity=style", f.name], capture_output=True, text=True)
        os.unlink(f.name)
        check(p.returncode == 0, f"shellcheck clean, rendered ({label})\n{p.stdout}{p.stderr}".rstrip())
    # The template's own variable list is what the renderer checked; a referenced name
    # missing from the variables fails exactly as templatefile() would.
    try:
        render({k: v for k, v in SAMPLE.items() if k != "region"})
        check(False, "renderer refuses a missing variable")
    except render_tftpl.TemplateError as e:
        check("region" in str(e), "renderer refuses a missing variable")


def main():
    global SRC
    if len(sys.argv) != 3 or sys.argv[2] not in ("shellcheck", "fakeroot"):
        sys.exit(__doc__)
    SRC = sys.argv[1]
    {"shellcheck": shellcheck, "fakeroot": fakeroot}[sys.argv[2]]()
    print(f"{'FAILED' if failures else 'PASSED'}: {failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
