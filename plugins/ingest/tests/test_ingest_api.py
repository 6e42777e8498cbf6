"""The ingestion API as a client sees it: every status code with its JSON
body, the three body formats and gzip, what lands in the table, key
rotation on SIGHUP, drain, and a job that ends dead. Real MariaDB."""

import gzip
import json
import os
import signal
import socket
import threading
import unittest

from ingest_fixture import IngestTestCase, KEY, OTHER_KEY, TableLock, record, wait_for, waiting_on_lock


class ApiTest(IngestTestCase):
    def setUp(self):
        super().setUp()
        self.make_stack(ingest_extra="max_body = 64K\nmax_decoded = 256K\n")
        self.stack.start_api()

    def assertError(self, answer, status, kind, contains=None):
        st, h, body = answer
        self.assertEqual(st, status, body)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body["error"], kind, body)
        if contains:
            self.assertIn(contains, json.dumps(body))
        return body

    def test_accepts_three_formats_and_gzip_and_stores_preprocessed_rows(self):
        s = self.stack
        st, h, b = s.post([record(1, id=" r1 ", ts="2026-01-02T03:04:05+02:00", count="7", ok="yes")])
        self.assertEqual(st, 202, b)
        self.assertEqual(h["location"], "/api/ingest/jobs/%d" % b["job_id"])
        self.assertEqual(b["location"], h["location"])
        self.assertEqual(b["records"], 1)
        st, _, b2 = s.post([record(2), record(3)], fmt="json")
        self.assertEqual((st, b2["records"]), (202, 2), b2)
        csv = 'id,ts,kind,value,count,ok\r\nr4,2026-06-01 12:00:00Z,"a,b",1.25,4,false\nr5,2026-06-01T12:00:00.123456Z,"say ""hi""",,,\n'
        st, _, b3 = s.post(csv, fmt="csv", gz=True)
        self.assertEqual((st, b3["records"]), (202, 2), b3)
        st, _, b4 = s.post([record(6)], gz=True)
        self.assertEqual(st, 202, b4)
        # Queued until a worker runs.
        self.assertEqual(s.job(b["job_id"])["status"], "queued")
        s.start_worker()
        ids = [b["job_id"], b2["job_id"], b3["job_id"], b4["job_id"]]
        s.wait_jobs_done(ids)
        job = s.job(b3["job_id"])
        self.assertEqual((job["status"], job["records"], job["processed"], job["attempts"]), ("done", 2, 2, 1))
        self.assertTrue(job["started_at"] and job["finished_at"] and job["created_at"].endswith("Z"))
        rows = {r[0]: r for r in s.db.sql("SELECT id, ts, kind, value, count, ok FROM events", database="app")}
        self.assertEqual(sorted(rows), ["r000002", "r000003", "r000006", "r1", "r4", "r5"])
        # trimmed key, timestamp normalised to UTC, "7" coerced, "yes" a boolean
        self.assertEqual(rows["r1"], ["r1", "2026-01-02 01:04:05.000000", "click", "0.5", "7", "1"])
        self.assertEqual(rows["r4"], ["r4", "2026-06-01 12:00:00.000000", "a,b", "1.25", "4", "0"])
        self.assertEqual(rows["r5"], ["r5", "2026-06-01 12:00:00.123456", 'say "hi"', None, None, None])

    def test_400_malformed_names_the_line(self):
        s = self.stack
        body = (json.dumps(record(1)) + "\n\n{not json}\n").encode()
        b = self.assertError(s.request("POST", "/api/ingest/events", body=body,
                                       headers={"Content-Type": "application/x-ndjson"}), 400, "malformed")
        self.assertEqual(b["line"], 3)
        self.assertIn("line 3", b["message"])
        b = self.assertError(s.post("id,ts,kind\nr1,2026-01-01T00:00:00Z\n", fmt="csv"), 400, "malformed")
        self.assertEqual(b["line"], 2)
        self.assertError(s.request("POST", "/api/ingest/events", body=b"not gzip",
                                   headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}),
                         400, "malformed", "gzip")
        self.assertError(s.post([record(1)], idem="bad key with spaces"), 400, "malformed", "Idempotency-Key")
        self.assertError(s.post({"a": 1}, fmt="json"), 400, "malformed", "array")
        self.assertError(s.post([]), 400, "malformed", "no records")

    def test_401_without_or_with_a_wrong_key_and_rotation_on_sighup(self):
        s = self.stack
        self.assertError(s.post([record(1)], key=None), 401, "unauthorized", "Bearer")
        self.assertError(s.post([record(1)], key=KEY[:-1] + "X"), 401, "unauthorized", "not valid")
        self.assertError(s.post([record(1)], key=KEY + "X"), 401, "unauthorized")
        self.assertError(s.request("GET", "/api/ingest/jobs/1", key="nope-nope-nope-nope"), 401, "unauthorized")
        s.write_credentials([("rotated", OTHER_KEY)])
        s.api.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "credentials re-read" in s.api.log(), what="SIGHUP handled")
        self.assertEqual(s.post([record(1)], key=OTHER_KEY)[0], 202)
        self.assertError(s.post([record(1)], key=KEY), 401, "unauthorized")
        # A credentials file others can read is refused; the old keys stay.
        os.chmod(s.creds, 0o644)
        s.api.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "keeping the previous credentials" in s.api.log(), what="bad file refused")
        self.assertIn("must not be readable", s.api.log())
        self.assertEqual(s.post([record(2)], key=OTHER_KEY)[0], 202)
        self.assertNotIn(OTHER_KEY, s.api.log())
        self.assertNotIn(KEY, s.api.log())

    def test_404_405_unknown_dataset_job_and_method(self):
        s = self.stack
        self.assertError(s.post([record(1)], dataset="nosuch"), 404, "unknown_dataset", "nosuch")
        self.assertError(s.request("GET", "/api/ingest/jobs/999999"), 404, "not_found", "999999")
        self.assertError(s.request("GET", "/api/ingest/jobs/abc"), 404, "not_found")
        self.assertError(s.request("GET", "/nope"), 404, "not_found")
        st, h, b = s.request("GET", "/api/ingest/events")
        self.assertEqual((st, h.get("allow")), (405, "POST"), b)

    def test_413_by_length_by_gzip_bomb_and_by_record_count(self):
        s = self.stack
        big = b"x" * (65 * 1024)
        self.assertError(s.request("POST", "/api/ingest/events", body=big,
                                   headers={"Content-Type": "application/x-ndjson"}), 413, "too_large", "65536")
        bomb = gzip.compress(b" " * (1024 * 1024))         # 1 MiB of spaces: ~1 KiB on the wire
        self.assertLess(len(bomb), 64 * 1024)
        self.assertError(s.request("POST", "/api/ingest/events", body=bomb,
                                   headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}),
                         413, "too_large", "decoded")
        self.assertError(s.post([record(i) for i in range(1001)], fmt="json", gz=True), 413, "too_large", "1000 records")

    def test_415_type_and_encoding(self):
        s = self.stack
        self.assertError(s.request("POST", "/api/ingest/events", body=b"{}", headers={"Content-Type": "text/plain"}),
                         415, "unsupported_media_type", "text/plain")
        self.assertError(s.request("POST", "/api/ingest/events", body=b"{}"), 415, "unsupported_media_type", "(none)")
        self.assertError(s.request("POST", "/api/ingest/events", body=b"{}",
                                   headers={"Content-Type": "application/json", "Content-Encoding": "br"}),
                         415, "unsupported_media_type", "br")

    def test_422_lists_the_first_bad_records_and_stores_nothing(self):
        s = self.stack
        recs = [record(0), record(1, ts="yesterday"), record(2, kind="x" * 9), record(3, count=-1),
                record(4, extra=1), record(5, kind=None)]
        b = self.assertError(s.post(recs), 422, "schema")
        self.assertEqual(len(b["bad_records"]), 3)          # max_errors = 3
        self.assertIn("5 of 6 records", b["message"])
        first = b["bad_records"][0]
        self.assertEqual((first["record"], first["line"], first["field"]), (1, 2, "ts"))
        self.assertIn("RFC 3339", first["reason"])
        self.assertEqual(b["bad_records"][1]["field"], "kind")
        self.assertIn("max_length", b["bad_records"][1]["reason"])
        self.assertEqual(s.db.sql("SELECT COUNT(*) FROM ingest_jobs", database="app"), [["0"]])
        self.assertError(s.post("id,ts,kind,colour\n", fmt="csv"), 422, "schema", "colour")
        bad_utf8 = b'{"id":"\xff","ts":"2026-01-01T00:00:00Z","kind":"a"}\n'
        self.assertError(s.request("POST", "/api/ingest/events", body=bad_utf8,
                                   headers={"Content-Type": "application/x-ndjson"}), 422, "schema", "UTF-8")

    def test_429_when_the_queue_is_deeper_than_the_limit(self):
        s = self.stack
        s.api.stop()
        with open(s.conf) as f:
            text = f.read()
        with open(s.conf, "w") as f:
            f.write(text.replace("[ingest]\n", "[ingest]\nmax_queue_depth = 3\n"))
        s.start_api()
        for i in range(3):
            self.assertEqual(s.post([record(i)])[0], 202)
        # The depth is read every stats_interval (200 ms): poll for the 429.
        answers = []
        wait_for(lambda: answers.append(s.post([record(9)])) or answers[-1][0] == 429, what="a 429")
        st, h, b = answers[-1]
        self.assertEqual(b["error"], "queue_full")
        self.assertIn("max_queue_depth=3", b["message"])
        self.assertEqual(h["retry-after"], "2")
        accepted = sum(1 for a in answers if a[0] == 202)
        # Workers drain the queue: accepted again.
        s.start_worker()
        wait_for(lambda: s.post([record(10)])[0] == 202, what="a 202 once the queue drained")
        m = s.request("GET", "/metrics")[2]
        self.assertIn('ingest_http_responses_total{code="429"}', m)
        self.assertIn("ingest_jobs_accepted_total %d" % (4 + accepted), m)

    def test_503_while_draining_and_inflight_request_completes(self):
        s = self.stack
        lock = TableLock(s.db)         # one request stays in flight
        result = []
        try:
            t = threading.Thread(target=lambda: result.append(s.post([record(1)], idem="inflight")))
            t.start()
            wait_for(lambda: waiting_on_lock(s.db), what="the insert to wait on the lock")
            s.api.proc.send_signal(signal.SIGTERM)
            wait_for(lambda: "draining" in s.api.log(), what="drain to start")
            st, h, b = s.post([record(2)])
            self.assertEqual((st, b["error"]), (503, "unavailable"), b)
            self.assertIn("draining", b["message"])
            self.assertEqual(h["retry-after"], "5")
            self.assertEqual(s.request("GET", "/health")[0], 503)
            self.assertTrue(s.api.running())
        finally:
            lock.release()
        t.join(30)
        self.assertEqual(result[0][0], 202, result)      # accepted before the drain: completed
        self.assertEqual(s.api.stop(), 0)
        self.assertEqual(s.db.sql("SELECT idempotency_key FROM ingest_jobs", database="app"), [["inflight"]])

    def test_503_when_too_much_body_data_is_held_at_once(self):
        s = self.stack
        s.api.stop()
        with open(s.conf) as f:
            text = f.read()
        with open(s.conf, "w") as f:
            f.write(text.replace("[ingest]\n", "[ingest]\nmax_buffered = 64K\n"))
        s.start_api()
        big = [record(i, kind="k%d" % (i % 9)) for i in range(400)]     # ~60 KB of NDJSON
        lock = TableLock(s.db)
        result = []
        try:
            t = threading.Thread(target=lambda: result.append(s.post(big[:300])))
            t.start()
            wait_for(lambda: waiting_on_lock(s.db), what="the first request to wait on the lock")
            st, h, b = s.post(big)
            self.assertEqual((st, b["error"]), (503, "unavailable"), b)
            self.assertIn("too much request data", b["message"])
        finally:
            lock.release()
        t.join(30)
        self.assertEqual(result[0][0], 202, result)
        self.assertEqual(s.post(big)[0], 202)       # held data released: accepted again

    def test_sd_notify_ready_status_and_watchdog(self):
        s = self.stack
        path = os.path.join(self.tmp, "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        got = []

        def messages(prefix):
            try:
                while True:
                    got.extend(sock.recv(4096).decode().split("\n"))
            except socket.timeout:
                pass
            return [m for m in got if m.startswith(prefix)]
        try:
            s.start_worker(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"})
            wait_for(lambda: messages("READY=1"), what="READY=1 from the worker")
            wait_for(lambda: messages("STATUS=processing jobs"), what="its STATUS")
            wait_for(lambda: len(messages("WATCHDOG=1")) >= 2, what="watchdog pings while idle")
            s.workers[-1].stop()
            wait_for(lambda: messages("STOPPING=1"), what="STOPPING=1 on SIGTERM")
        finally:
            sock.close()

    def test_job_that_keeps_failing_ends_dead_with_its_errors(self):
        s = self.stack
        st, _, b = s.post([record(1)])
        self.assertEqual(st, 202)
        # A column changed by hand to a type the records do not fit
        # (migration only adds columns): every attempt fails in SQL.
        s.db.sql("ALTER TABLE events MODIFY kind INT NULL", database="app")
        s.start_worker()
        wait_for(lambda: s.job(b["job_id"])["status"] == "dead", timeout=30, what="the job to die")
        job = s.job(b["job_id"])
        self.assertEqual(job["attempts"], 5)
        self.assertEqual([e["attempt"] for e in job["errors"]], [1, 2, 3, 4, 5])
        self.assertIn("kind", job["errors"][0]["error"])
        m = s.request("GET", "/metrics")[2]
        wait_for(lambda: "ingest_jobs_dead_total 1" in s.request("GET", "/metrics")[2], what="dead counted")
        self.assertIn("ingest_jobs_failed_total 4", s.request("GET", "/metrics")[2])
        del m


if __name__ == "__main__":
    unittest.main(verbosity=2)
