"""MariaDB stopped and started again under load: while it is down the API
answers 503 (with Retry-After) and /health says so; afterwards it accepts
again, and every request that got a 202 ends as stored rows, because
clients retry with their Idempotency-Key until they get one."""

import threading
import time
import unittest

from ingest_fixture import IngestTestCase, record, wait_for


class DbRestartTest(IngestTestCase):
    def test_restart_mid_load(self):
        s = self.make_stack()
        s.start_api()
        s.start_worker(1)
        s.start_worker(2)
        stop = threading.Event()
        accepted = {}           # idempotency key -> job id
        statuses = []
        errors = []

        def client(n):
            i = 0
            while not stop.is_set():
                key = "c%d-%d" % (n, i)
                recs = [record(n * 100000 + i * 10 + k) for k in range(10)]
                while True:         # retry the same request until it is accepted
                    try:
                        st, h, b = s.post(recs, idem=key, timeout=20)
                    except OSError as e:
                        errors.append(repr(e))
                        st, h, b = None, {}, {}
                    statuses.append(st)
                    if st == 202:
                        accepted[key] = b["job_id"]
                        break
                    if st not in (503, None):
                        errors.append((st, b))
                        break
                    if st == 503:
                        assert h.get("retry-after") == "5"
                    if stop.is_set() and st is None:
                        break
                    time.sleep(0.05)    # client pacing between retries, not synchronisation
                i += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        wait_for(lambda: len(accepted) >= 10, what="load before the restart")
        s.db.stop()
        wait_for(lambda: statuses.count(503) >= 3, what="503s while the database is down")
        self.assertEqual(s.request("GET", "/health")[0], 503)
        m = s.request("GET", "/metrics")[2]
        self.assertIn("ingest_db_up 0", m)
        before = len(accepted)
        s.db.start()
        wait_for(lambda: len(accepted) >= before + 10, timeout=60, what="accepted again after the restart")
        stop.set()
        for t in threads:
            t.join(60)
        self.assertEqual([e for e in errors if not (isinstance(e, str))], [])
        s.wait_jobs_done(sorted(accepted.values()), timeout=120)
        stored = {r[0] for r in s.db.sql("SELECT id FROM events", database="app")}
        for key, job in accepted.items():
            n, i = (int(x) for x in key[1:].split("-"))
            for k in range(10):
                self.assertIn("r%06d" % (n * 100000 + i * 10 + k), stored, "record of %s (job %d) lost" % (key, job))
        jobs = s.db.sql("SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM ingest_jobs", database="app")
        self.assertEqual(jobs[0][0], jobs[0][1], "a retried request made a second job")
        self.assertEqual(int(jobs[0][0]), len(accepted))
        self.assertIn(503, statuses)


if __name__ == "__main__":
    unittest.main(verbosity=2)
