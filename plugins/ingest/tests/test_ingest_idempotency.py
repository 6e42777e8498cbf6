"""An Idempotency-Key retry storm: many clients send the same requests
again and again, concurrently. Each key yields one job, every answer for
a key names that job, and the records are stored once."""

import threading
import unittest

from ingest_fixture import IngestTestCase, VALGRIND, record

KEYS = 6 if VALGRIND else 12
THREADS = 6
ROUNDS = 3 if VALGRIND else 8


class IdempotencyTest(IngestTestCase):
    def test_retry_storm_yields_one_job_per_key(self):
        s = self.make_stack()
        s.start_api()
        answers = {k: [] for k in range(KEYS)}
        errors = []
        start = threading.Barrier(THREADS)

        def client(n):
            start.wait()
            for r in range(ROUNDS):
                for k in range(KEYS):
                    key = (k + n + r) % KEYS          # all threads on the same keys, in different orders
                    try:
                        st, h, b = s.post([record(key * 10 + i) for i in range(10)], idem="storm-%d" % key)
                    except Exception as e:           # noqa: BLE001 - report, do not hide
                        errors.append(repr(e))
                        continue
                    answers[key].append((st, b.get("job_id"), h.get("location")))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        self.assertEqual(errors, [])
        ids = []
        for k, got in answers.items():
            self.assertEqual(len(got), THREADS * ROUNDS)
            self.assertEqual({a[0] for a in got}, {202}, got)
            self.assertEqual(len({a[1] for a in got}), 1, "key %d answered with several jobs: %r" % (k, got))
            self.assertEqual({a[2] for a in got}, {"/api/ingest/jobs/%d" % got[0][1]})
            ids.append(got[0][1])
        rows = s.db.sql("SELECT idempotency_key, COUNT(*) FROM ingest_jobs GROUP BY idempotency_key", database="app")
        self.assertEqual(sorted(r[0] for r in rows), sorted("storm-%d" % k for k in range(KEYS)))
        self.assertEqual({r[1] for r in rows}, {"1"})
        m = s.request("GET", "/metrics")[2]
        self.assertIn("ingest_jobs_accepted_total %d\n" % KEYS, m)
        self.assertIn("ingest_jobs_replayed_total %d\n" % (KEYS * THREADS * ROUNDS - KEYS), m)
        s.start_worker()
        s.wait_jobs_done(ids)
        self.assertEqual(s.db.sql("SELECT COUNT(*) FROM events", database="app"), [[str(KEYS * 10)]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
