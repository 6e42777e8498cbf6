"""Two workers against one MariaDB, one killed with SIGKILL at random
points again and again: every job ends done exactly once and every record
is in the table exactly once, with its own values (checked row by row).
Then a drain: SIGTERM mid-job, the worker finishes or hands the job back.
Sizes are bounded so the suite stays fast; bench/ has the big runs."""

import random
import signal
import time
import unittest

from ingest_fixture import IngestTestCase, SLOW, VALGRIND, record, wait_for

JOBS = 16 if VALGRIND else 50
# batch_size is 10: a big job is twenty batches (transactions); small ones
# are claimed several at a time and completed in shared transactions.
SIZES = (200, 5)
KILLS = 3 if VALGRIND else 6


class WorkersTest(IngestTestCase):
    def test_sigkill_at_random_points_loses_and_doubles_nothing(self):
        s = self.make_stack(worker_extra="batch_size = 10\n")
        s.start_api()
        rng = random.Random(int(time.time()))
        expected = {}
        job_of = {}
        ids = []
        for j in range(JOBS):
            size = SIZES[j % 2]
            recs = [record(j * 1000 + i, value=rng.random(), count=rng.randrange(10 ** 6)) for i in range(size)]
            st, _, b = s.post(recs, idem="job-%d" % j)
            self.assertEqual(st, 202, b)
            ids.append(b["job_id"])
            for r in recs:
                expected[r["id"]] = r
                job_of[r["id"]] = b["job_id"]
        sizes = {i: SIZES[n % 2] for n, i in enumerate(ids)}
        victim = s.start_worker(2)
        steady = None
        kills = 0
        while kills < KILLS:
            # Once the victim holds a job, a random point: right after the
            # claim, between batches or inside one.
            owner = "test-i1/2/%d" % victim.proc.pid

            def holds_or_all_done():
                rows = s.db.sql("SELECT SUM(lease_owner = '%s' AND status = 'running'), SUM(status <> 'done')"
                                " FROM ingest_jobs" % owner, database="app")
                return rows[0][0] not in ("0", None) or rows[0][1] == "0"
            wait_for(holds_or_all_done, timeout=60, interval=0.005, what="the victim to hold a job")
            if s.db.sql("SELECT COUNT(*) FROM ingest_jobs WHERE status <> 'done'", database="app") == [["0"]]:
                break
            time.sleep(rng.uniform(0, 0.05))
            victim.kill()
            if steady is None:      # started after the first claim, so the victim always gets one
                steady = s.start_worker(1)
            kills += 1
            victim = s.start_worker(2)
        # Expired leases (3 s) are reclaimed; everything completes.
        s.wait_jobs_done(ids, timeout=120)
        self.assertGreater(kills, 0)

        rows = s.db.sql("SELECT id, value, count, _job_id FROM events ORDER BY id", database="app")
        self.assertEqual(len(rows), len(expected), "rows lost or doubled")
        for rid, value, count, job in rows:
            e = expected.pop(rid)
            self.assertAlmostEqual(float(value), e["value"], places=12)
            self.assertEqual(int(count), e["count"])
            self.assertEqual(int(job), job_of[rid])
        self.assertEqual(expected, {})

        jobs = s.db.sql("SELECT id, status, records, processed, finished_at IS NOT NULL FROM ingest_jobs", database="app")
        self.assertEqual(len(jobs), JOBS)
        for jid, status, records, processed, finished in jobs:
            n = str(sizes[int(jid)])
            self.assertEqual((status, records, processed, finished), ("done", n, n, "1"))
        # "done" was counted once a job: the counter moves only in the
        # transaction that completes the job, and that commits once.
        done = s.db.sql("SELECT SUM(jobs_done), SUM(records_done) FROM ingest_counters", database="app")
        self.assertEqual(done, [[str(JOBS), str(sum(sizes.values()))]])
        self.assertEqual(s.db.sql("SELECT COUNT(*) FROM ingest_payloads", database="app"), [["0"]])
        self.assertEqual(victim.stop(), 0)
        if steady:
            self.assertEqual(steady.stop(), 0)

    def test_sigkill_inside_a_claim_transaction_leaves_the_jobs_queued_at_once(self):
        # Small jobs are finished in their claim transaction, held by its row
        # locks instead of a lease. A worker killed inside it: the server
        # rolls back, so at once no job is running, leased or counted as an
        # attempt, and the next worker does them exactly once. The lease is
        # long: had the kill left a lease behind, nothing would be done here.
        s = self.make_stack(worker_extra="batch_size = 1000\nlease = 600s\n")
        s.start_api()
        jobs, size = 20, 50
        expected = {}
        ids = []
        for j in range(jobs):
            recs = [record(j * 1000 + i, count=j * 1000 + i) for i in range(size)]
            st, _, b = s.post(recs)
            self.assertEqual(st, 202, b)
            ids.append(b["job_id"])
            expected.update((r["id"], r["count"]) for r in recs)

        # Another session locks the (empty) table's end, so the worker's
        # upsert waits inside its claim transaction (a second at a time:
        # then it rolls back and claims again) until killed.
        blocker = self.hold_table("events")

        w = s.start_worker(1)
        self.wait_lock_wait("the worker waiting inside its claim transaction", timeout=60)
        w.kill()
        self.release(blocker)
        wait_for(lambda: s.db.sql("SELECT COUNT(*) FROM information_schema.INNODB_TRX") == [["0"]], interval=0.2,
                 what="the killed worker's transaction rolled back")     # (INNODB_TRX: see wait_lock_wait)
        self.assertEqual(s.db.sql("SELECT DISTINCT status, attempts, lease_owner FROM ingest_jobs", database="app"),
                         [["queued", "0", None]])
        self.assertEqual(s.db.sql("SELECT COUNT(*) FROM events", database="app"), [["0"]])

        s.start_worker(1)
        s.wait_jobs_done(ids, timeout=120)
        rows = s.db.sql("SELECT id, count FROM events", database="app")
        self.assertEqual(len(rows), len(expected), "rows lost or doubled")
        self.assertEqual({r[0]: int(r[1]) for r in rows}, expected)
        self.assertEqual(s.db.sql("SELECT DISTINCT status, attempts, processed FROM ingest_jobs", database="app"),
                         [["done", "1", str(size)]])
        self.assertEqual(s.db.sql("SELECT SUM(jobs_done), SUM(records_done) FROM ingest_counters", database="app"),
                         [[str(jobs), str(jobs * size)]])
        self.assertEqual(s.db.sql("SELECT COUNT(*) FROM ingest_payloads", database="app"), [["0"]])

    def test_a_row_lock_held_elsewhere_delays_jobs_without_failing_them(self):
        # The worker's session waits for a row lock half its [database]
        # timeout (1 s here), then the server gives up, the worker rolls
        # back (the jobs stay queued, no attempt counted) and tries again:
        # no transaction outlives its client, and no job goes dead for
        # waiting, however many times (max_attempts is 5).
        s = self.make_stack(worker_extra="batch_size = 1000\n")
        s.start_api()
        ids = [s.post([record(j * 100 + i) for i in range(10)])[2]["job_id"] for j in range(3)]
        blocker = self.hold_table("events")

        def rollbacks():
            return int(s.db.sql("SHOW GLOBAL STATUS LIKE 'Com_rollback'")[0][1])
        before = rollbacks()
        s.start_worker(1)
        wait_for(lambda: rollbacks() - before >= 6, timeout=60, what="the worker giving up on the lock six times")
        self.assertEqual(s.db.sql("SELECT DISTINCT status, attempts FROM ingest_jobs", database="app"), [["queued", "0"]])
        self.release(blocker)
        s.wait_jobs_done(ids)
        self.assertEqual(s.db.sql("SELECT DISTINCT status, attempts FROM ingest_jobs", database="app"), [["done", "1"]])
        self.assertEqual(s.db.sql("SELECT COUNT(*) FROM events", database="app"), [["30"]])

    def test_sigterm_mid_job_finishes_or_hands_back_within_the_drain_timeout(self):
        s = self.make_stack(worker_extra="batch_size = 1\n")
        s.start_api()
        ids = []
        for j in range(4):
            st, _, b = s.post([record(j * 400 + i) for i in range(400)])
            ids.append(b["job_id"])
        w = s.start_worker(1)
        wait_for(lambda: s.db.sql("SELECT COUNT(*) FROM ingest_jobs WHERE status = 'running' AND processed > 0",
                                  database="app") == [["1"]], what="a job in progress")
        t0 = time.monotonic()
        self.assertEqual(w.stop(signal.SIGTERM, timeout=30), 0)
        self.assertLess(time.monotonic() - t0, 10 * SLOW + 5)     # drain_timeout = 10 s
        self.assertIn("draining", w.log())
        rows = s.db.sql("SELECT status, lease_owner IS NULL OR status <> 'running' FROM ingest_jobs", database="app")
        self.assertNotIn("running", [r[0] for r in rows], "a job still leased by a stopped worker")
        # Another worker picks up whatever was handed back; nothing lost.
        s.start_worker(2)
        s.wait_jobs_done(ids, timeout=120)
        self.assertEqual(s.db.sql("SELECT COUNT(*) FROM events", database="app"), [["1600"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
