"""The ingestion plugin in `./dev up` (tests/integration/devstack.py calls
start()): ingest-api and two ingest-workers against the dev stack's
MariaDB, the sample dataset (plugins/ingest/conf/events.conf), a generated
API key, and a small nginx that proxies /api/ingest/ to the API's socket
with the location docs/ingest.md gives (until the rendered site has it).
Returns the lines to print: a curl command that ingests a sample file."""

import json
import os
import secrets
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(HERE, "..", "conf")


def _site(port, sock):
    return """upstream agentd_ingest { server unix:%s; keepalive 8; }
server {
    listen 127.0.0.1:%d;
    location /api/ingest/ {
        proxy_pass http://agentd_ingest;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        client_max_body_size 8m;
    }
}
""" % (sock, port)


def start(state, db, build, stop, Nginx):
    d = os.path.join(state, "ingest")
    os.makedirs(os.path.join(d, "datasets.d"), exist_ok=True)
    with open(os.path.join(CONF, "events.conf")) as f, open(os.path.join(d, "datasets.d", "events.conf"), "w") as o:
        o.write(f.read())
    db.create_user("ingest", "dev-Ingest-1", "ingestdb")
    key = secrets.token_hex(16)
    creds = os.path.join(d, "credentials")
    fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("[database]\nuser = ingest\npassword = dev-Ingest-1\n[api_keys]\ndev = %s\n" % key)
    sock = os.path.join(d, "api.sock")
    conf = os.path.join(d, "ingest.conf")
    with open(conf, "w") as f:
        f.write("[ingest]\nlisten = %s\ndatasets = %s\ncredentials = %s\n[database]\nsocket = %s\n"
                "database = ingestdb\n" % (sock, os.path.join(d, "datasets.d"), creds, db.socket))
    log = open(os.path.join(d, "ingest.log"), "a")
    bins = os.path.join(build, "plugins", "ingest")
    procs = [subprocess.Popen([os.path.join(bins, "ingest-api"), "--config", conf], stdout=log, stderr=log)]
    procs += [subprocess.Popen([os.path.join(bins, "ingest-worker"), "--config", conf, "--instance", str(i)],
                               stdout=log, stderr=log) for i in (1, 2)]
    stop.append(lambda: [p.terminate() for p in procs] and [p.wait() for p in procs])
    nginx = Nginx(os.path.join(d, "nginx"), site_text=lambda port: _site(port, sock))
    nginx.start()
    stop.append(nginx.stop)
    sample = os.path.join(d, "sample.ndjson")
    with open(sample, "w") as f:
        for i in range(5):
            f.write(json.dumps({"id": "dev-%d" % i, "ts": "2026-01-02T03:04:05Z", "kind": "click",
                                "value": i * 1.5, "count": i, "ok": True}) + "\n")
    url = nginx.url("/api/ingest/events")
    return [
        "ingest a sample file (nginx → ingest-api):",
        "  curl -sS -H 'Authorization: Bearer %s' -H 'Content-Type: application/x-ndjson' --data-binary @%s %s"
        % (key, sample, url),
        "  then: curl -sS -H 'Authorization: Bearer %s' %s   (jobs/ID from the answer's location)"
        % (key, nginx.url("/api/ingest/jobs/1")),
        "  logs: %s; metrics: curl -sS --unix-socket %s http://localhost/metrics" % (log.name, sock),
    ]
