#!/usr/bin/python3
"""Log shipping: agentd and Fluent Bit side by side, one after the other in
one run, on the same file of numbered ~114-byte lines, to the project's AWS
emulator behind one local TLS proxy (socat with a self-signed certificate;
agentd trusts it through AWS_CA_BUNDLE, Fluent Bit with tls.verify Off).

Printed for each: CPU seconds (user+sys of the agent process alone, from
/proc/PID/stat: the emulator's signature checks are not counted), wall
seconds until the emulator holds every line, peak RSS (VmHWM), lines
delivered, duplicates and order inversions; then agentd's CPU and RSS as a
ratio of Fluent Bit's. Targets (issue 10): CPU <= 0.5 x Fluent Bit's, peak
RSS < 16 MiB, 0 lost, 0 inversions.

  bench/logs-bench.py [--build DIR] [--lines N] [--fluent-bit PATH]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "fakeaws"))
from client import FakeAWS  # noqa: E402

GROUP = "/aws/ec2/php-app"
AKID, SECRET = "AKIABENCHLOGS0000001", "benchsecretkeybenchsecretkeybenchsecret0"
CLK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def write_lines(path, n):
    # ~114 bytes a line, like the file: an nginx-like access line.
    with open(path, "w") as f:
        for i in range(n):
            f.write('%08d 203.0.113.7 - - [01/Dec/2026:10:00:00 +0000] "GET /api/items?page=7 HTTP/1.1" 200 5123 "-" x\n'
                    % i)


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def proc_hwm(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def received(fake, stream):
    for s in fake.log_streams():
        if s["stream"] == stream:
            return s["received"]
    return 0


def analyse(fake, stream, n):
    ev = fake.log_events(GROUP, stream)
    nums = [int(e["message"][:8]) for e in ev]
    distinct = len(set(nums))
    inversions = sum(1 for a, b in zip(nums, nums[1:]) if b < a)
    return {"delivered": distinct, "lost": n - distinct, "duplicates": len(nums) - distinct, "inversions": inversions}


def run(name, cmd, env, fake, stream, n, timeout):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(env["BENCH_DIR"],
                         name + ".log"), "w"))
    cpu = hwm = 0.0
    try:
        while time.monotonic() - t0 < timeout:
            if p.poll() is not None:
                raise SystemExit("%s exited early (%s); see %s.log" % (name, p.returncode, name))
            cpu, hwm = proc_cpu(p.pid), max(hwm, proc_hwm(p.pid))
            if received(fake, stream) >= n:
                break
            time.sleep(0.1)
        wall = time.monotonic() - t0
        cpu, hwm = proc_cpu(p.pid), max(hwm, proc_hwm(p.pid))
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    r = analyse(fake, stream, n)
    errors = {}
    for q in fake.requests("logs", "PutLogEvents"):
        if q["status"] != 200 and (q["access_key_id"] == AKID) == (name == "fluent-bit"):
            errors[q["error"]] = errors.get(q["error"], 0) + 1
    r["refused"] = errors
    r.update({"cpu_s": cpu, "wall_s": wall, "peak_rss_mib": hwm / 1048576})
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--lines", type=int, default=1000000)
    ap.add_argument("--fluent-bit", default=os.path.join(ROOT, "..", "shared", "peers", "fluent-bit"))
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    agentd = os.path.join(args.build, "agent", "src", "agentd")
    d = tempfile.mkdtemp(prefix="logs-bench-")
    try:
        log = os.path.join(d, "access.log")
        write_lines(log, args.lines)
        cert = os.path.join(d, "proxy.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", cert, "-out", cert],
                       check=True, capture_output=True)
        with FakeAWS(os.path.join(d, "fake"), quiet=True,
                     extra_args=("--max-stored-events", str(args.lines * 3))) as fake:
            fake.create_log_group(GROUP)
            fake.add_static_credentials(AKID, SECRET)
            fport = urllib.parse.urlsplit(fake.url).port
            port = free_port()
            proxy = subprocess.Popen(["socat", "OPENSSL-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork,cert=%s,verify=0" %
                                      (port, cert), "TCP:127.0.0.1:%d" % fport], stderr=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + 10
                while True:
                    try:
                        socket.create_connection(("127.0.0.1", port), 1).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
                base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
                base.update({"AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": "eu-central-1",
                             "BENCH_DIR": d})
                results = {}

                conf = os.path.join(d, "agentd")
                os.makedirs(os.path.join(conf, "agentd.conf.d"))
                with open(os.path.join(conf, "agentd.conf"), "w") as f:
                    f.write("[agent]\ncontrol_socket = %s/ctl.sock\nstate_dir = %s/state\n"
                            "[health]\nlisten = unix:%s/health.sock\ndefault_check = no\n"
                            "[logs]\nflush_interval = 1s\n[logs.bench]\nfile = %s\nstream = agentd\n" % (d, d, d, log))
                # IMDS (plain HTTP, as on EC2) from the emulator; CloudWatch through the TLS proxy.
                env = {k: v for k, v in base.items() if not k.startswith("AWS_") or k == "AWS_REGION"}
                env.update(AWS_EC2_METADATA_SERVICE_ENDPOINT=fake.url, BENCH_DIR=d,
                           AWS_ENDPOINT_URL="https://127.0.0.1:%d" % port, AWS_CA_BUNDLE=cert)
                results["agentd"] = run("agentd", [agentd, "--config", conf, "--log-level", "info"], env, fake,
                                        "agentd", args.lines, args.timeout)

                fb = os.path.abspath(args.fluent_bit)
                if os.access(fb, os.X_OK):
                    fbconf = os.path.join(d, "fluent-bit.conf")
                    with open(fbconf, "w") as f:
                        f.write("[SERVICE]\n    Flush 1\n    Log_Level warn\n"
                                "[INPUT]\n    Name tail\n    Path %s\n    Read_from_Head true\n    Tag bench\n"
                                "[OUTPUT]\n    Name cloudwatch_logs\n    Match *\n    region eu-central-1\n"
                                "    log_group_name %s\n    log_stream_name fluent-bit\n    log_key log\n"
                                "    endpoint 127.0.0.1\n    port %d\n    tls.verify Off\n"
                                % (log, GROUP, port))
                    results["fluent-bit"] = run("fluent-bit", [fb, "-c", fbconf], base, fake, "fluent-bit",
                                                args.lines, args.timeout)
            finally:
                proxy.terminate()
                proxy.wait()
        for name, r in results.items():
            print("logs %-10s CPU %.2f s, wall %.1f s, peak RSS %.1f MiB, delivered %d/%d, lost %d, "
                  "duplicates %d, order inversions %d, PutLogEvents refused %s" % (
                      name, r["cpu_s"], r["wall_s"], r["peak_rss_mib"], r["delivered"], args.lines, r["lost"],
                      r["duplicates"], r["inversions"], r["refused"] or "none"))
        if "fluent-bit" in results:
            a, b = results["agentd"], results["fluent-bit"]
            print("logs agentd/fluent-bit: CPU %.2fx (target <= 0.5), peak RSS %.3fx; agentd peak RSS %.1f MiB "
                  "(target < 16)" % (a["cpu_s"] / max(b["cpu_s"], 1e-9), a["peak_rss_mib"] / max(b["peak_rss_mib"], 1e-9),
                                     a["peak_rss_mib"]))
        else:
            print("logs fluent-bit: not found at %s, no comparison" % args.fluent_bit)
        print(json.dumps(results), file=sys.stderr)
    finally:
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(d, ignore_errors=True)
        else:
            print("kept " + d, file=sys.stderr)


if __name__ == "__main__":
    main()
