#!/usr/bin/python3
"""How fast the job queue turns over: SKIP LOCKED claims per second with
1, 8 and 64 worker processes against one MariaDB (docs/scale.md uses the
figures). The queue is pre-filled with --jobs one-record jobs straight in
SQL; the clock runs from the workers' start until every job is done.

  claims_per_s workers=W claim_batch=1   jobs/s with one job per claim:
                                         every job is its own transaction
                                         (claimed and completed in it)
  jobs_per_s   workers=W claim_batch=64  jobs/s with small jobs claimed 64
                                         at a time (the default)

Usage: bench/ingest-claims-bench.py --build BUILD_DIR [--jobs 20000] [--workers 1,8,64] [--claim-batches 1,64]
"""

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from services import MariaDB  # noqa: E402

DATASET = """[dataset]
table = claims
key = id
[field.id]
type = string
max_length = 32
"""


class ClaimsMariaDB(MariaDB):
    """The test fixture's MariaDB with room for 64 workers: connections, and
    a 256M buffer pool (InnoDB keeps row-lock structures in buffer pool
    pages, and 64 workers each holding a 64-job transaction, ~190 KB of
    locks apiece, fill the tests' 32M pool past the 95% at which InnoDB
    aborts)."""

    def _server_options(self):
        return [o for o in super()._server_options() if not o.startswith("--innodb-buffer-pool-size")] + [
            "--innodb-buffer-pool-size=256M"]

    def _command(self):
        # 64 workers, and the previous run's 64 while the server notices them gone.
        return [o if o != "--max-connections=100" else "--max-connections=300" for o in super()._command()]


def all_done(db):
    # With 64 busy workers the server's listener can fall behind: this
    # poll's own connection is then refused or reset; ask again.
    try:
        return db.sql("SELECT COUNT(*) FROM ingest_jobs WHERE due_at IS NOT NULL", database="app") == [["0"]]
    except Exception as e:      # noqa: BLE001 - ServiceError, from a closure
        if "Lost connection" not in str(e) and "Can't connect" not in str(e):
            raise
        return False


def run(db, tmp, worker_bin, jobs, workers, claim_batch, same_key=False):
    db.sql("DROP DATABASE IF EXISTS app; CREATE DATABASE app;")
    conf = os.path.join(tmp, "ingest.conf")
    with open(conf, "w") as f:
        f.write("[ingest]\nlisten = %s/api.sock\ndatasets = %s/datasets.d\ncredentials = %s/creds\n"
                "[database]\nsocket = %s\ndatabase = app\n[worker]\nclaim_batch = %d\npoll_interval = 20ms\n"
                % (tmp, tmp, tmp, db.socket, claim_batch))
    # One worker creates the schema, then the queue is filled.
    log = open(os.path.join(tmp, "workers.log"), "a")
    p = subprocess.Popen([worker_bin, "--config", conf, "--instance", "0"], stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while db.sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA='app' AND TABLE_NAME='claims'") != [["1"]]:
        if time.monotonic() > deadline:
            raise SystemExit("claims-bench: no schema; see " + log.name)
        time.sleep(0.05)
    p.terminate()
    p.wait()
    # A key of its own per job: jobs that all upsert one row measure that
    # row's lock, not the queue.
    db.sql("INSERT INTO ingest_jobs (dataset, status, records, due_at, accepted_by, created_at)"
           " SELECT 'claims', 'queued', 1, NOW(6), 'bench', NOW(6) FROM seq_1_to_%d;" % jobs, database="app")
    for first in range(1, jobs + 1, 1000):
        db.sql("INSERT INTO ingest_payloads (job_id, body) VALUES " + ",".join(
            "(%d, X'%s')" % (j, gzip.compress(b'["x"]\n' if same_key else b'["j%d"]\n' % j).hex()) for j in range(first, min(first + 1000, jobs + 1))),
            database="app")
    t0 = time.monotonic()
    procs = [subprocess.Popen([worker_bin, "--config", conf, "--instance", str(i + 1)], stdout=log, stderr=log)
             for i in range(workers)]
    try:
        while not all_done(db):
            if time.monotonic() - t0 > 900:
                raise SystemExit("claims-bench: not done after 900 s")
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    done = int(db.sql("SELECT SUM(jobs_done) FROM ingest_counters", database="app")[0][0])
    if done != jobs:
        raise SystemExit("claims-bench: %d jobs counted done, %d queued" % (done, jobs))
    return jobs / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--workers", default="1,8,64")
    ap.add_argument("--claim-batches", default="1,64")
    ap.add_argument("--same-key", action="store_true", help="every job upserts the same row (a hot row)")
    a = ap.parse_args()
    worker_bin = os.path.join(a.build, "plugins", "ingest", "ingest-worker")
    with tempfile.TemporaryDirectory(prefix="claims-bench-") as tmp:
        os.makedirs(os.path.join(tmp, "datasets.d"))
        with open(os.path.join(tmp, "datasets.d", "claims.conf"), "w") as f:
            f.write(DATASET)
        fd = os.open(os.path.join(tmp, "creds"), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("[database]\nuser = root\npassword = x\n")
        db = ClaimsMariaDB(os.path.join(tmp, "db"))
        db.start()
        try:
            # The workers log in as root over the socket: give root a password.
            db.sql("ALTER USER root@localhost IDENTIFIED BY 'x';")
            db.sql = _with_password(db)
            for w in (int(x) for x in a.workers.split(",")):
                for cb in (int(x) for x in a.claim_batches.split(",")):
                    print("%s workers=%d claim_batch=%d %.0f" % ("claims_per_s" if cb == 1 else "jobs_per_s", w, cb,
                                                                 run(db, tmp, worker_bin, a.jobs, w, cb, a.same_key)), flush=True)
        finally:
            db.stop()


def _with_password(db):
    from services import ServiceError, _unescape_batch

    def sql(statement, database=None):
        args = ["--protocol=socket", "--socket=" + db.socket, "--user=root", "--password=x",
                "--batch", "--skip-column-names"]
        if database:
            args.append("--database=" + database)
        p = db.client(args, input_text=statement)
        if p.returncode != 0:
            raise ServiceError("SQL failed: " + p.stderr)
        return [[_unescape_batch(f) for f in line.split("\t")] for line in p.stdout.split("\n") if line]
    return sql


if __name__ == "__main__":
    main()
