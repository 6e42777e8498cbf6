#!/usr/bin/python3
"""Bootstrap benchmarks with the real parts (emulator, MariaDB, php-fpm,
nginx on loopback). Prints one figure per line:

  boot_to_ready_ms   agentd spawn → READY=1 with 3 targets rendered,
                     validated (nginx -t, php-fpm -t) and installed;
                     median/min/max over --runs, and the part spent in
                     validation (validate_ms, per target, median)
  rotation_failed_requests
                     wrk against the PHP page (nginx → php-fpm → MariaDB)
                     while the DB secret is rotated --rotations times
                     (alternating users); target 0

Usage: bench/bootstrap-bench.py [--build BUILD] [--runs 10] [--rotations 10]
"""

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(REPO, "tests", "fakeaws"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
from client import FakeAWS  # noqa: E402
from services import MariaDB, Nginx, PhpFpm, free_port, write_php_app  # noqa: E402
from stack import make_dirs, stack_config  # noqa: E402


def secret_doc(user, password, port):
    return json.dumps({"username": user, "password": password, "host": "127.0.0.1", "port": port,
                       "dbname": "appdb", "engine": "mysql"})


def write_config(tmp, port, docroot):
    conf = os.path.join(tmp, "conf")
    os.makedirs(conf, exist_ok=True)
    with open(os.path.join(conf, "agentd.conf"), "w") as f:
        f.write("[agent]\ncontrol_socket = %s/ctl.sock\nlog_level = warning\nstate_dir = %s/state\n" % (tmp, tmp))
        f.write(stack_config(tmp, port, docroot))
    return conf


def start_agent(agentd, conf, fake, tmp):
    nsock = os.path.join(tmp, "notify.sock")
    if os.path.exists(nsock):
        os.unlink(nsock)
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(nsock)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(fake.env())
    env["NOTIFY_SOCKET"] = nsock
    t0 = time.monotonic()
    p = subprocess.Popen([agentd, "--config", conf], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "agentd.log"), "a"))
    ns.settimeout(60)
    while "READY=1" not in ns.recv(4096).decode():
        pass
    ns.close()
    return p, (time.monotonic() - t0) * 1000


def agentctl_json(agentctl, tmp):
    out = subprocess.run([agentctl, "--socket", os.path.join(tmp, "ctl.sock"), "status", "--json"],
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rotations", type=int, default=10)
    args = ap.parse_args()
    agentd = os.path.join(args.build, "agent", "src", "agentd")
    agentctl = os.path.join(args.build, "agent", "src", "agentctl")

    with tempfile.TemporaryDirectory(prefix="agentd-bench-boot-", dir=os.environ.get("BENCH_TMP")) as tmp, \
            FakeAWS(os.path.join(tmp, "fake"), quiet=True) as fake, \
            MariaDB(os.path.join(tmp, "db")) as db:
        db.create_user("app_a", "pass-A-0", "appdb")
        db.create_user("app_b", "pass-B-0", "appdb")
        fake.create_secret("db", string=secret_doc("app_a", "pass-A-0", db.port))
        port = free_port()
        docroot = os.path.join(tmp, "www")
        write_php_app(docroot)
        make_dirs(tmp)
        conf = write_config(tmp, port, docroot)

        times, validate = [], {"fpm": [], "nginx": []}
        for i in range(args.runs):
            for f in ("fpm/pool.d/app.conf", "nginx/site.conf", "app/app.env"):
                path = os.path.join(tmp, f)
                if os.path.exists(path):
                    os.unlink(path)
            p, ms = start_agent(agentd, conf, fake, tmp)
            doc = agentctl_json(agentctl, tmp)
            assert doc["agent"]["state"] == "running", doc["agent"]
            for s in doc["subsystems"]:
                if s["name"] in ("render.fpm", "render.nginx"):
                    validate[s["name"][7:]].append(s["last_validate_ms"])
            times.append(ms)
            if i < args.runs - 1:
                p.terminate()
                p.wait()
        print("boot_to_ready_ms median=%.1f min=%.1f max=%.1f runs=%d (3 targets rendered, validated, installed)"
              % (statistics.median(times), min(times), max(times), len(times)))
        print("boot_validate_ms php-fpm_-t=%.1f nginx_-t=%.1f (median, run in parallel)"
              % (statistics.median(validate["fpm"]), statistics.median(validate["nginx"])))

        fpm = PhpFpm(os.path.join(tmp, "fpm"), pool_config_path=os.path.join(tmp, "fpm/pool.d/app.conf"))
        fpm.start()
        nginx = Nginx(os.path.join(tmp, "nginx"), site_path=os.path.join(tmp, "nginx/site.conf"), port=port)
        nginx.start()
        # php-fpm logs its start line a moment after it answers pings; count
        # reloads only from there, or a late start line passes for a reload.
        deadline = time.monotonic() + 30
        while fpm.ready_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        try:
            duration = max(10, args.rotations * 3)
            wrk = subprocess.Popen(["wrk", "-t", "1", "-c", "4", "-d", "%ds" % duration,
                                    "http://127.0.0.1:%d/" % port], stdout=subprocess.PIPE, text=True)
            master = fpm.master_pid
            pool = os.path.join(tmp, "fpm/pool.d/app.conf")
            for i in range(args.rotations):
                user = ["app_b", "app_a"][i % 2]
                pw = "pass-%s-%d" % (user[-1].upper(), i + 1)
                db.set_password(user, pw)
                before = fpm.ready_count()
                fake.rotate_secret("db", string=secret_doc(user, pw, db.port))
                deadline = time.monotonic() + 30
                while ('"%s"' % pw) not in open(pool).read() or fpm.ready_count() <= before:
                    if time.monotonic() > deadline:
                        raise SystemExit("rotation %d not applied in 30 s" % i)
                    time.sleep(0.05)
            out, _ = wrk.communicate()
            reqs = re.search(r"(\d+) requests in", out)
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            sockerr = re.search(r"Socket errors: (.*)", out)
            print("rotation_failed_requests non2xx=%s socket_errors=%s requests=%s rotations=%d "
                  "php-fpm_master_unchanged=%s (target 0)"
                  % (non2xx.group(1) if non2xx else "0", sockerr.group(1) if sockerr else "none",
                     reqs.group(1) if reqs else "?", args.rotations, fpm.master_pid == master))
        finally:
            nginx.stop()
            fpm.stop()
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
