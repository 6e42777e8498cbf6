"""Group commit in the API: submissions that are ready while a COMMIT is
under way are stored together in the next transaction. Another session
holds the end of ingest_jobs locked, so the first job's INSERT waits and
the others pile up behind it; once it lets go, they take far fewer
COMMITs than there are jobs, every 202 names a committed job, and
Idempotency-Keys that clash inside one group still yield one job a key."""

import threading
import unittest

from ingest_fixture import IngestTestCase, VALGRIND, record, wait_for

JOBS = 24 if VALGRIND else 40


class GroupCommitTest(IngestTestCase):
    def commits(self, s):
        return int(s.db.sql("SHOW GLOBAL STATUS LIKE 'Com_commit'")[0][1])

    def post_all(self, s, keys):
        """POSTs one job a key (None: no Idempotency-Key), all at once, while
        the table is held; returns the answers in order."""
        answers = [None] * len(keys)

        def client(n):
            try:
                answers[n] = s.post([record(n * 100 + i) for i in range(5)], idem=keys[n])
            except Exception as e:      # noqa: BLE001 - reported below
                answers[n] = ("exception", repr(e), None)

        blocker = self.hold_table("ingest_jobs")
        threads = [threading.Thread(target=client, args=(n,)) for n in range(len(keys))]
        for t in threads:
            t.start()
        # Every request is with the database threads, and one INSERT waits.
        wait_for(lambda: "ingest_db_requests_in_flight %d\n" % len(keys) in s.request("GET", "/metrics")[2],
                 what="every request with the database threads")
        self.wait_lock_wait("the first job's INSERT waiting")
        before = self.commits(s)
        self.release(blocker)
        for t in threads:
            t.join(120)
        return answers, self.commits(s) - before

    def test_jobs_ready_together_share_a_transaction(self):
        # [database] timeout: the held INSERT must not time out meanwhile.
        s = self.make_stack(worker_extra="[database]\ntimeout = 60s\n")
        s.start_api()
        answers, commits = self.post_all(s, [None] * JOBS)
        self.assertEqual({a[0] for a in answers}, {202}, answers)
        ids = [a[2]["job_id"] for a in answers]
        self.assertEqual(len(set(ids)), JOBS)
        # One COMMIT for the held job, then groups of up to 32.
        self.assertLessEqual(commits, 1 + (JOBS + 31) // 32 + 1, "jobs were not committed together")
        rows = s.db.sql("SELECT j.id, j.records, LENGTH(p.body) > 0 FROM ingest_jobs j"
                        " JOIN ingest_payloads p ON p.job_id = j.id", database="app")
        self.assertEqual(sorted(int(r[0]) for r in rows), sorted(ids), "a 202 without its job and payload")
        self.assertEqual({(r[1], r[2]) for r in rows}, {("5", "1")})
        s.start_worker()
        s.wait_jobs_done(ids)
        self.assertEqual(s.db.sql("SELECT COUNT(*) FROM events", database="app"), [[str(JOBS * 5)]])

    def test_keys_that_clash_inside_a_group_yield_one_job(self):
        s = self.make_stack(worker_extra="[database]\ntimeout = 60s\n")
        s.start_api()
        keys = ["same" if n % 2 == 0 else "key-%d" % n for n in range(JOBS)]
        answers, _ = self.post_all(s, keys)
        self.assertEqual({a[0] for a in answers}, {202}, answers)
        same = {a[2]["job_id"] for a, k in zip(answers, keys) if k == "same"}
        self.assertEqual(len(same), 1, "one key, several jobs")
        others = [a[2]["job_id"] for a, k in zip(answers, keys) if k != "same"]
        self.assertEqual(len(set(others) | same), JOBS // 2 + 1)
        self.assertEqual(s.db.sql("SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM ingest_jobs", database="app"),
                         [[str(JOBS // 2 + 1)] * 2])
        m = s.request("GET", "/metrics")[2]
        self.assertIn("ingest_jobs_accepted_total %d\n" % (JOBS // 2 + 1), m)
        self.assertIn("ingest_jobs_replayed_total %d\n" % (JOBS // 2 - 1), m)


if __name__ == "__main__":
    unittest.main(verbosity=2)
