#!/usr/bin/python3
"""./dev up: the whole instance stack on this machine, on loopback.

The AWS emulator plays IMDS and Secrets Manager; MariaDB holds the app's
database; agentd reads its identity and the DB secret, renders the php-fpm
pool, the nginx site and the app env file, validates and installs them;
then php-fpm and nginx serve the PHP page, which logs into MariaDB with the
rendered credentials. Everything lives in .dev/ of the checkout. Ctrl-C
stops it all.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "fakeaws"))
sys.path.insert(0, HERE)
from client import FakeAWS  # noqa: E402
from services import MariaDB, Nginx, PhpFpm, free_port, write_php_app  # noqa: E402
from stack import make_dirs, stack_config  # noqa: E402


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build")
    state = os.path.join(REPO, ".dev")
    subprocess.run(["rm", "-rf", state], check=True)
    for d in ("conf", "fpm/pool.d", "nginx", "app", "run"):
        os.makedirs(os.path.join(state, d), exist_ok=True)
    stop = []
    try:
        fake = FakeAWS(os.path.join(state, "fake"))
        stop.append(fake.stop)
        db = MariaDB(os.path.join(state, "db"))
        db.start()
        stop.append(db.stop)
        db.create_user("app", "dev-Pass-1", "appdb")
        fake.create_secret("db", string=json.dumps({"username": "app", "password": "dev-Pass-1",
                                                    "host": "127.0.0.1", "port": db.port, "dbname": "appdb",
                                                    "engine": "mysql"}))
        port = free_port()
        docroot = os.path.join(state, "www")
        write_php_app(docroot)
        make_dirs(state)
        with open(os.path.join(state, "conf", "agentd.conf"), "w") as f:
            f.write("# Written by ./dev up: an instance's configuration, pointed at .dev/\n"
                    "[agent]\ncontrol_socket = {s}/run/control.sock\nstate_dir = {s}/state\n"
                    "[imds]\nboot_deadline = 30s\n".format(s=state))
            # /health on the socket the rendered nginx site proxies to, and
            # the php-fpm ping through this stack's nginx port.
            f.write(stack_config(state, port, docroot, refresh="10s",
                                 extra="[health]\nlisten = unix:{s}/health.sock\n"
                                       "[check.fpm]\ntype = http\nurl = http://127.0.0.1:{p}/fpm-ping\n"
                                       "expect_body = pong\n".format(s=state, p=port)))
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        npath = os.path.join(state, "run", "notify.sock")
        notify.bind(npath)
        env = dict(os.environ, NOTIFY_SOCKET=npath, **fake.env())
        agent = subprocess.Popen([os.path.join(build, "agent", "src", "agentd"), "--config",
                                  os.path.join(state, "conf")], env=env)
        stop.append(lambda: (agent.terminate(), agent.wait()))
        notify.settimeout(60)
        while "READY=1" not in notify.recv(4096).decode():
            pass
        fpm = PhpFpm(os.path.join(state, "fpm"), pool_config_path=os.path.join(state, "fpm/pool.d/app.conf"))
        fpm.start()
        stop.append(fpm.stop)
        nginx = Nginx(os.path.join(state, "nginx"), site_path=os.path.join(state, "nginx/site.conf"), port=port)
        nginx.start()
        stop.append(nginx.stop)
        # The ingestion plugin (plugins/ingest/): its API behind its own nginx for now.
        sys.path.insert(0, os.path.join(REPO, "plugins", "ingest", "tests"))
        import devstack_ingest
        ingest_lines = devstack_ingest.start(state, db, build, stop, Nginx)
        ctl = "%s/agent/src/agentctl --socket %s/run/control.sock" % (build, state)
        sys.stderr.write("""
  The instance stack is up (files in .dev/):
    PHP app via nginx → php-fpm → MariaDB:  curl http://127.0.0.1:{port}/
    agent status:                          {ctl} status
    rotate the DB password:                {py} {here}/devstack.py rotate   (in another terminal)
    AWS emulator:                          curl {url}/_fakeaws/state
    break IMDS for 20 s:                   curl -X POST -d '{{"seconds":20}}' {url}/_fakeaws/imds/down

  Ctrl-C stops everything.
""".format(port=port, ctl=ctl, url=fake.url, py=sys.executable, here=HERE))
        sys.stderr.write("".join("    %s\n" % line for line in ingest_lines) + "\n")
        with open(os.path.join(state, "run", "stack.json"), "w") as f:
            json.dump({"fake": fake.url, "db_socket": db.socket, "db_port": db.port}, f)
        signal.sigwait([signal.SIGINT, signal.SIGTERM])
    finally:
        for fn in reversed(stop):
            try:
                fn()
            except Exception as e:      # keep stopping the rest
                sys.stderr.write("stopping: %s\n" % e)


def rotate():
    """Rotates the dev DB password the zero-downtime way is not possible with
    one user; this shows agentd following a rotation: new password in
    MariaDB, then in Secrets Manager."""
    state = os.path.join(REPO, ".dev")
    with open(os.path.join(state, "run", "stack.json")) as f:
        info = json.load(f)
    pw = "dev-Pass-%d" % int(time.time())
    subprocess.run(["mariadb", "-S", info["db_socket"], "-uroot", "-e",
                    "ALTER USER 'app'@'127.0.0.1' IDENTIFIED BY '%s'; ALTER USER 'app'@'localhost' IDENTIFIED BY '%s'"
                    % (pw, pw)], check=True)
    import urllib.request
    req = urllib.request.Request(info["fake"] + "/_fakeaws/secrets/rotate", method="POST",
                                 data=json.dumps({"name": "db", "string": json.dumps(
                                     {"username": "app", "password": pw, "host": "127.0.0.1",
                                      "port": info["db_port"], "dbname": "appdb", "engine": "mysql"})}).encode())
    urllib.request.urlopen(req).read()
    print("rotated; agentd picks it up within its refresh interval (10 s here)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "rotate":
        rotate()
    else:
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT, signal.SIGTERM])
        main()
