#!/usr/bin/python3
"""Benchmark of the ingestion plugin against its PHP peer, side by side in
one run, behind the same nginx and the same MariaDB:

  ours:  nginx -> /api/ingest/bench -> ingest-api (unix socket) -> job in
         MariaDB -> ingest-worker x W -> rows in bench_events
  php:   nginx -> /php/ingest -> php-fpm (bench/peers/ingest.php, PDO) ->
         rows in php_events

wrk POSTs NDJSON bodies of --records new records each, with --connections
connections for --seconds, on empty tables, --rounds times for each side in
ABBA order (ours-php, php-ours, ...). Prints a line per side and round,
then for each side the median over the rounds:

  <side>_records_per_s   records stored per second, end to end: from the
                         first POST until the last record is a row (for ours
                         that includes the queue: the clock stops when every
                         job is done)
  <side>_post_p50_ms / <side>_post_p99_ms   POST latency (wrk)
  <side>_post_errors     non-2xx answers and socket errors

  <side>_cpu_us_per_record  CPU of the server side (nginx, MariaDB, and the
                         plugin or php-fpm) per stored record: the figure
                         that does not move with the machine's load

the median of the rounds' ratios ours/php of records/s (target >= 5),
whether ours' p99 is lower in every round, and records accepted (2xx) but
not stored (must be 0). The machine is shared: single runs swing by 1.5x.

Usage: bench/ingest-bench.py --build BUILD_DIR [--seconds 10] [--rounds 3] [--connections 16]
       [--records 100] [--workers 4] [--batch-size 1000] [--db-threads 4] [--fpm-children 8]
       [--db-stats]

--db-stats also prints, per side and round, the server's Com_*, Handler_*
and Innodb_rows_* counters per 1,000 stored records (statements and row
operations a record costs). BENCH_DB_OPTS in the environment adds mariadbd
options, for diagnosis (e.g. --innodb-flush-log-at-trx-commit=2 shows
what the log flushes cost); figures for docs/scale.md use none.
"""

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from services import MariaDB, PhpFpm, Nginx, fpm_pool  # noqa: E402

KEY = "bench-key-0123456789abcdef"


class BenchMariaDB(MariaDB):
    """The test fixture's MariaDB with a buffer pool and redo log sized for
    a benchmark (the tests' 32M would make the first side's growing table
    spill to disk and slow whoever runs first). Same server for both sides."""

    def _server_options(self):
        return [o for o in super()._server_options() if not o.startswith(("--innodb-buffer-pool-size",
                                                                           "--innodb-log-file-size"))] + [
            "--innodb-buffer-pool-size=1G", "--innodb-log-file-size=512M"] + os.environ.get("BENCH_DB_OPTS", "").split()


def nginx_site(port, api_sock, fpm_sock, script):
    # The /api/ingest/ location is the one docs/ingest.md gives for the
    # rendered site.
    return """upstream agentd_ingest {
    server unix:%s;
    keepalive 32;
}
server {
    listen 127.0.0.1:%d;
    location /api/ingest/ {
        proxy_pass http://agentd_ingest;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        client_max_body_size 8m;
        proxy_request_buffering on;
        proxy_read_timeout 60s;
    }
    location = /php/ingest {
        include /etc/nginx/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME %s;
        fastcgi_param HTTP_AUTHORIZATION $http_authorization;
        fastcgi_pass unix:%s;
        client_max_body_size 8m;
    }
}
""" % (api_sock, port, script, fpm_sock)


def db_stats(db):
    rows = db.sql("SHOW GLOBAL STATUS WHERE Variable_name LIKE 'Handler\\_%' OR Variable_name LIKE 'Com\\_%'"
                  " OR Variable_name LIKE 'Innodb\\_rows\\_%' OR Variable_name = 'Innodb_history_list_length'")
    return {k: int(v) for k, v in rows if v.isdigit()}


def wrk(url, seconds, connections, records, prefix):
    env = dict(os.environ, RECORDS=str(records), KEY=KEY, PREFIX=prefix)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency", "-s",
                        os.path.join(HERE, "peers", "post.lua"), url], env=env, capture_output=True, text=True,
                       timeout=seconds + 120)
    figures = dict((k, int(v)) for k, v in re.findall(r"^(p50_us|p99_us|requests|errors) (\d+)$", p.stdout, re.M))
    if "requests" not in figures:
        raise SystemExit("ingest-bench: wrk failed:\n" + p.stdout + p.stderr)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures["cpu_s"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return figures


def api_healthy(sock):
    """GET /health on the API's socket answers 200 (schema in place)."""
    import socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(sock)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


def smoke(url):
    """One POST before the run: a side that does not answer 2xx is a setup
    error, reported with its answer, not a figure."""
    import urllib.error
    import urllib.request
    body = b'{"id":"smoke","ts":"2026-01-02T03:04:05Z","kind":"click"}\n'
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/x-ndjson",
                                                          "Authorization": "Bearer " + KEY})
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        raise SystemExit("ingest-bench: %s answered %d: %s" % (url, e.code, e.read()[:500]))


def cpu_seconds(pid):
    """utime + stime of pid and its reaped children, in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def count(db, table):
    return int(db.sql("SELECT COUNT(*) FROM %s" % table, database="app")[0][0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--records", type=int, default=100)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--db-threads", type=int, default=4)
    ap.add_argument("--fpm-children", type=int, default=8)
    ap.add_argument("--db-stats", action="store_true",
                    help="also print the server's Handler_*, Com_* and InnoDB row counters per side and round")
    a = ap.parse_args()
    api_bin = os.path.join(a.build, "plugins", "ingest", "ingest-api")
    worker_bin = os.path.join(a.build, "plugins", "ingest", "ingest-worker")
    procs = []
    with tempfile.TemporaryDirectory(prefix="ingest-bench-") as tmp:
        db = BenchMariaDB(os.path.join(tmp, "db"))
        db.start()
        fpm = nginx = None
        try:
            db.sql("CREATE DATABASE app; CREATE USER 'ingest'@'localhost' IDENTIFIED BY 'pw';"
                   "GRANT ALL ON app.* TO 'ingest'@'localhost';")
            db.sql("CREATE TABLE php_events (id VARCHAR(64) NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL,"
                   " kind VARCHAR(32) NOT NULL, value DOUBLE NULL, count BIGINT NULL, ok TINYINT(1) NULL,"
                   " _ingested_at DATETIME(6) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                   database="app")
            dsdir = os.path.join(tmp, "datasets.d")
            os.makedirs(dsdir)
            with open(os.path.join(HERE, "peers", "bench.conf")) as f, open(os.path.join(dsdir, "bench.conf"), "w") as o:
                o.write(f.read())
            creds = os.path.join(tmp, "creds")
            fd = os.open(creds, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("[database]\nuser = ingest\npassword = pw\n[api_keys]\nbench = %s\n" % KEY)
            sock = os.path.join(tmp, "api.sock")
            conf = os.path.join(tmp, "ingest.conf")
            with open(conf, "w") as f:
                f.write("[ingest]\nlisten = %s\ndatasets = %s\ncredentials = %s\ndb_threads = %d\nmax_queue_depth = 1000000\n"
                        "[database]\nsocket = %s\ndatabase = app\n[worker]\nbatch_size = %d\npoll_interval = 20ms\n"
                        % (sock, dsdir, creds, a.db_threads, db.socket, a.batch_size))
            log = open(os.path.join(tmp, "plugin.log"), "w")
            procs.append(subprocess.Popen([api_bin, "--config", conf], stdout=log, stderr=log))
            for i in range(a.workers):
                procs.append(subprocess.Popen([worker_bin, "--config", conf, "--instance", str(i + 1)], stdout=log, stderr=log))
            docroot = os.path.join(tmp, "www")
            os.makedirs(docroot)
            script = os.path.join(docroot, "ingest.php")
            with open(os.path.join(HERE, "peers", "ingest.php")) as f, open(script, "w") as o:
                o.write(f.read())
            fpm_dir = os.path.join(tmp, "fpm")
            fpm_sock = os.path.join(fpm_dir, "php-fpm.sock")
            pool = fpm_pool(fpm_sock, env={"DB_DSN": "mysql:unix_socket=%s;dbname=app;charset=utf8mb4" % db.socket,
                                            "DB_USER": "ingest", "DB_PASSWORD": "pw", "INGEST_KEY": KEY})
            pool = pool.replace("pm.max_children = 2", "pm.max_children = %d" % a.fpm_children)
            fpm = PhpFpm(fpm_dir, pool_text=pool).start()
            nginx = Nginx(os.path.join(tmp, "nginx"), site_text=lambda port: nginx_site(port, sock, fpm_sock, script)).start()
            deadline = time.monotonic() + 30
            while not api_healthy(sock):
                if time.monotonic() > deadline:
                    raise SystemExit("ingest-bench: the plugin never created its tables; see " + log.name)
                time.sleep(0.1)

            smoke(nginx.url("/api/ingest/bench"))
            smoke(nginx.url("/php/ingest"))
            fpm_children = [int(p) for p in subprocess.run(["pgrep", "-P", str(fpm.pid)], capture_output=True,
                                                           text=True).stdout.split()]

            def cpu(side):
                c = {"mariadb": cpu_seconds(db.pid), "nginx": sum(cpu_seconds(p) for p in nginx.workers())}
                if side == "ours":
                    c.update(api=cpu_seconds(procs[0].pid), workers=sum(cpu_seconds(p.pid) for p in procs[1:]))
                else:
                    c["php-fpm"] = sum(cpu_seconds(p) for p in fpm_children)
                return c

            def run(side, rnd):
                """One side's run on empty tables: records/s end to end, wrk's figures, CPU seconds."""
                table = "bench_events" if side == "ours" else "php_events"
                db.sql("TRUNCATE TABLE %s; TRUNCATE TABLE ingest_jobs; TRUNCATE TABLE ingest_payloads" % table,
                       database="app")
                before = cpu(side)
                stats0 = db_stats(db) if a.db_stats else {}
                t0 = time.monotonic()
                w = wrk(nginx.url("/api/ingest/bench" if side == "ours" else "/php/ingest"), a.seconds, a.connections,
                        a.records, "%s%d" % (side[0], rnd))
                deadline = time.monotonic() + 600
                while side == "ours" and db.sql("SELECT COUNT(*) FROM ingest_jobs WHERE status <> 'done'",
                                                database="app") != [["0"]]:
                    if time.monotonic() > deadline:
                        raise SystemExit("ingest-bench: jobs not done after 600 s")
                    time.sleep(0.05)
                t1 = time.monotonic()
                after = cpu(side)
                if a.db_stats:
                    stats1 = db_stats(db)
                    print("db_stats %s round %d per 1000 records:" % (side, rnd + 1), " ".join(
                        "%s=%.1f" % (k, (stats1[k] - stats0.get(k, 0)) * 1000 / max(count(db, table), 1))
                        for k in sorted(stats1) if stats1[k] != stats0.get(k, 0)))
                stored = count(db, table)
                return {"rps": stored / (t1 - t0), "w": w, "wall": t1 - t0, "stored": stored,
                        "posted": w["requests"] * a.records, "cpu": {k: after[k] - before[k] for k in after}}

            print("ingest_bench_setup connections=%d records_per_post=%d seconds=%d rounds=%d workers=%d db_threads=%d"
                  " fpm_children=%d" % (a.connections, a.records, a.seconds, a.rounds, a.workers, a.db_threads,
                                        a.fpm_children))
            rounds = []
            for rnd in range(a.rounds):
                # ABBA order: whoever runs second in one round runs first in
                # the next, so a slow drift of the shared machine favours no side.
                order = ("ours", "php") if rnd % 2 == 0 else ("php", "ours")
                res = {side: run(side, rnd) for side in order}
                rounds.append(res)
                for side in ("ours", "php"):
                    r = res[side]
                    print("round %d %s records_per_s %.0f post_p50_ms %.2f post_p99_ms %.2f errors %d posted %d stored %d"
                          " wall_s %.1f cpu_s %s wrk=%.1f" % (
                              rnd + 1, side, r["rps"], r["w"]["p50_us"] / 1000, r["w"]["p99_us"] / 1000,
                              r["w"]["errors"], r["posted"], r["stored"], r["wall"],
                              " ".join("%s=%.1f" % kv for kv in sorted(r["cpu"].items())), r["w"]["cpu_s"]))
                print("round %d ratio %.2f" % (rnd + 1, res["ours"]["rps"] / max(res["php"]["rps"], 1)))

            def median(xs):
                xs = sorted(xs)
                return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

            for side in ("ours", "php"):
                print("%s_records_per_s %.0f" % (side, median([r[side]["rps"] for r in rounds])))
                print("%s_post_p50_ms %.2f" % (side, median([r[side]["w"]["p50_us"] for r in rounds]) / 1000))
                print("%s_post_p99_ms %.2f" % (side, median([r[side]["w"]["p99_us"] for r in rounds]) / 1000))
                print("%s_post_errors %d" % (side, sum(r[side]["w"]["errors"] for r in rounds)))
                cpu_per_record = median([sum(r[side]["cpu"].values()) / max(r[side]["stored"], 1) for r in rounds])
                print("%s_cpu_us_per_record %.1f (server side, without wrk)" % (side, cpu_per_record * 1e6))
            lost = sum(max(r["ours"]["posted"] - r["ours"]["stored"], 0) for r in rounds)
            print("ours_lost_records %d (accepted but not stored)" % lost)
            ratios = [r["ours"]["rps"] / max(r["php"]["rps"], 1) for r in rounds]
            print("records_per_s_ratio %.2f median of %s (target >= 5)" % (median(ratios),
                                                                          " ".join("%.2f" % x for x in ratios)))
            p99_lower = all(r["ours"]["w"]["p99_us"] < r["php"]["w"]["p99_us"] for r in rounds)
            print("p99_lower %s (every round)" % ("yes" if p99_lower else "no"))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            for d in (nginx, fpm):
                if d:
                    d.stop()
            db.stop()


if __name__ == "__main__":
    main()
