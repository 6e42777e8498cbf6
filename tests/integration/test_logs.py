"""Log shipping to CloudWatch Logs (telemetry/logs*.c) against the emulator:
real files rotated by Debian's logrotate (create and copytruncate), real
journal files written by systemd-journal-remote, every PutLogEvents limit at
its edge, outages, checkpoints across restarts and SIGKILLs, and flush.

What is asserted is what a user sees in CloudWatch (the emulator's stored
events, read back through its inspection API) and in `agentctl status`.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import SLOW, VALGRIND, AgentTestCase, main, wait_for  # noqa: E402

GROUP = "/aws/ec2/php-app"
JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"


def numbered(prefix, start, n, width=80):
    return "".join("%s %08d %s\n" % (prefix, i, "x" * width) for i in range(start, start + n))


class LogsTestCase(AgentTestCase):
    def setUp(self):
        super().setUp()
        self.fake.create_log_group(GROUP)
        self.instance = self.fake.state()["instance"]["instance_id"]
        self.logdir = os.path.join(self.tmp, "log")
        os.makedirs(self.logdir)

    def stream(self, name):
        return "%s/%s" % (self.instance, name)

    def events(self, name, group=GROUP):
        if not any(s["stream"] == self.stream(name) and s["group"] == group for s in self.fake.log_streams()):
            return []
        return self.fake.log_events(group, self.stream(name))

    def wait_events(self, name, n, timeout=30.0, group=GROUP):
        return wait_for(lambda: (lambda e: e if len(e) >= n else None)(self.events(name, group)),
                        timeout=timeout, what="%d events in %s" % (n, name))

    def start(self, sources, extra="", **kw):
        # One checkpoint directory for every agent of the test: restarts resume.
        a = self.agent(config="[logs]\nflush_interval = 200ms\npartial_line_timeout = 500ms\nstate_dir = %s\n%s\n%s"
                       % (os.path.join(self.tmp, "logstate"), extra, sources), **kw)
        a.wait_notify("READY=1")
        return a

    def source(self, a, name):
        code, doc = a.status()
        return a.subsystem(doc, "logs." + name)

    def assert_in_order(self, messages, prefix):
        nums = [int(m.split()[1]) for m in messages if m.startswith(prefix + " ")]
        self.assertEqual(nums, sorted(nums), "events out of order")
        return nums


class TestFiles(LogsTestCase):
    def test_lines_checkpoint_restart_and_status(self):
        path = os.path.join(self.logdir, "app.log")
        with open(path, "w") as f:
            f.write(numbered("a", 0, 500))
        a = self.start("[logs.app]\nfile = %s\n" % path)
        ev = self.wait_events("app", 500)
        self.assertEqual([e["message"] for e in ev], numbered("a", 0, 500).splitlines())
        self.assertEqual([e["timestamp"] for e in ev], sorted(e["timestamp"] for e in ev))
        wait_for(lambda: self.source(a, "app")["bytes_behind"] == 0, what="nothing behind")
        st = self.source(a, "app")
        self.assertEqual(st["state"], "ok")
        self.assertEqual(st["events_delivered"], 500)
        self.assertEqual(st["files"][0]["path"], path)
        self.assertIsNotNone(st["last_delivery"])
        a.stop()
        # Written while agentd was stopped: sent after the restart, nothing twice.
        with open(path, "a") as f:
            f.write(numbered("a", 500, 100))
        self.start("[logs.app]\nfile = %s\n" % path)
        ev = self.wait_events("app", 600)
        self.assertEqual(self.assert_in_order([e["message"] for e in ev], "a"), list(range(600)))

    def test_partial_line_late_file_and_glob(self):
        a = self.start("[logs.web]\nfile = %s/*.log\n" % self.logdir)
        late = os.path.join(self.logdir, "late.log")
        with open(late, "w") as f:
            f.write("complete line\nno newline yet")
            f.flush()
        ev = self.wait_events("web", 2)
        self.assertEqual([e["message"] for e in ev], ["complete line", "no newline yet"])
        with open(os.path.join(self.logdir, "other.txt"), "w") as f:
            f.write("not matched\n")
        with open(late, "a") as f:
            f.write("\nnext\n")
        ev = self.wait_events("web", 3)
        # The rest of the line (empty: CloudWatch takes no empty event) and
        # the next one: nothing lost or merged.
        self.assertEqual([e["message"] for e in ev], ["complete line", "no newline yet", "next"])
        self.assertNotIn("not matched", [e["message"] for e in ev])

    def test_deleted_file_is_read_to_its_end(self):
        path = os.path.join(self.logdir, "gone.log")
        f = open(path, "w")
        a = self.start("[logs.gone]\nfile = %s\n" % path)
        f.write(numbered("g", 0, 10))
        f.flush()
        self.wait_events("gone", 10)
        os.unlink(path)
        f.write(numbered("g", 10, 10))      # still written through the open descriptor
        f.close()
        ev = self.wait_events("gone", 20)
        self.assertEqual(self.assert_in_order([e["message"] for e in ev], "g"), list(range(20)))
        wait_for(lambda: self.source(a, "gone")["files"] == [], what="the deleted file closed")


class TestLogrotate(LogsTestCase):
    def rotate(self, path, mode):
        conf = os.path.join(self.tmp, "logrotate-%s.conf" % mode)
        with open(conf, "w") as f:
            f.write("%s {\n  rotate 5\n  %s\n  missingok\n  nocompress\n}\n" % (path, mode))
        subprocess.run(["logrotate", "--force", "--state", os.path.join(self.tmp, "lr.state"), conf],
                       check=True, capture_output=True)

    def run_rotations(self, mode):
        path = os.path.join(self.logdir, "access.log")
        open(path, "w").close()
        self.start("[logs.nginx]\nfile = %s\n" % path)
        n = 0
        for r in range(4):
            # The writer reopens after each rotation, as nginx does on USR1.
            with open(path, "a") as f:
                for i in range(5):
                    f.write(numbered("n", n, 200))
                    f.flush()
                    n += 200
                    if i == 0:
                        # Rotations are hours apart in life: agentd has looked
                        # at the file's new content before it is rotated. The
                        # 800 lines written now and rotated at once are what
                        # it had not read yet: they must come from the copy.
                        self.wait_events("nginx", n - 199, timeout=60)
            self.rotate(path, "create" if mode == "create" else "copytruncate")
        with open(path, "a") as f:
            f.write(numbered("n", n, 100))
        n += 100
        ev = self.wait_events("nginx", n, timeout=60)
        nums = self.assert_in_order([e["message"] for e in ev], "n")
        self.assertEqual(nums, list(range(n)), "lines lost or sent twice")
        self.assertTrue(os.path.exists(path + ".1"))

    def test_rename_and_create(self):
        self.run_rotations("create")

    def test_copytruncate(self):
        self.run_rotations("copytruncate")

    def test_copytruncate_during_an_outage_behind_a_rotated_file(self):
        # CloudWatch fails: reading pauses behind a backlog. The file is renamed
        # (its rest still unread), its successor written and copytruncated.
        # agentd still looks at the successor, finds its copy, and sends the
        # rotated file, then the copy, then what followed: all, in order.
        path = os.path.join(self.logdir, "app.log")
        open(path, "w").close()
        a = self.start("[logs.app]\nfile = %s\n" % path)
        self.fake.fault("error5xx", service="logs", operation="PutLogEvents", count=1000000)

        def seen(size):
            return any(lf["path"] == path and not lf["rotated"] and lf["size"] >= size
                       for lf in self.source(a, "app").get("files", []))
        with open(path, "a") as f:
            f.write(numbered("o", 0, 30000, width=90))
        wait_for(lambda: self.source(a, "app")["files"][0]["read"] < os.path.getsize(path) and
                 self.fake.requests("logs", "PutLogEvents"), what="reading paused by the outage")
        os.rename(path, path + ".1")
        with open(path, "w") as f:
            f.write(numbered("o", 30000, 5000, width=90))
        wait_for(lambda: seen(os.path.getsize(path)), what="agentd to see the new file while paused")
        shutil.copyfile(path, path + ".2")
        with open(path, "r+") as f:
            f.truncate(0)
        with open(path, "a") as f:
            f.write(numbered("o", 35000, 100, width=90))
        self.fake.clear_faults()
        ev = wait_for(lambda: (lambda e: e if len({m["message"] for m in e}) >= 35100 else None)(self.events("app")),
                      timeout=120, what="all 35100 lines")
        first, dedup = [], set()
        for x in (int(e["message"].split()[1]) for e in ev):
            if x not in dedup:
                dedup.add(x)
                first.append(x)
        self.assertEqual(first, list(range(35100)), "lines lost or out of order")


class TestLimits(LogsTestCase):
    def test_batches_at_the_limits(self):
        path = os.path.join(self.logdir, "big.log")
        with open(path, "w") as f:
            # 10,001 tiny events: 10,000 fill one batch, one goes in the next.
            for i in range(10001):
                f.write("e%d\n" % i)
            # 1 MiB events: exactly 1,048,550 bytes (+26 = the batch limit).
            f.write("A" * 1048550 + "\n")
            f.write("B" * 1048550 + "\n")
            # A 2 MB line: split with the marker.
            f.write("C" * 2000000 + "\n")
        with open(path, "ab") as f:
            # Invalid UTF-8: replaced, never sent.
            f.write(b"bad \xff\xfe byte\n")
            f.write(b"raw \xc3\x28 \xed\xa0\x80 end\n")
        a = self.start("[logs.big]\nfile = %s\n" % path)
        ev = wait_for(lambda: (lambda e: e if e and e[-1]["message"].endswith("end") else None)(self.events("big")),
                      timeout=60, what="every event")
        msgs = [e["message"] for e in ev]
        self.assertEqual(msgs[:10001], ["e%d" % i for i in range(10001)])
        self.assertEqual(msgs[10001], "A" * 1048550)
        self.assertEqual(msgs[10002], "B" * 1048550)
        marker = " [agentd: line split]"
        pieces = msgs[10003:-2]
        self.assertEqual(len(pieces), 2)
        self.assertTrue(pieces[0].endswith(marker))
        self.assertEqual(len(pieces[0].encode()) + 26, 1048576)
        self.assertEqual("".join(p[:-len(marker)] if p.endswith(marker) else p for p in pieces), "C" * 2000000)
        self.assertEqual(msgs[-2], "bad \ufffd\ufffd byte")
        self.assertEqual(msgs[-1], "raw \ufffd( \ufffd\ufffd\ufffd end")
        # Every request the emulator took was within AWS's limits (it refuses others).
        puts = self.fake.requests("logs", "PutLogEvents")
        self.assertTrue(puts and all(r["status"] == 200 or r["error"] == "ResourceNotFoundException" for r in puts),
                        [r for r in puts if r["status"] != 200])
        self.assertEqual(self.source(a, "big")["batches_dropped"], 0)

    def test_time_limits_multiline(self):
        path = os.path.join(self.logdir, "php.log")
        now = time.time()

        def stamp(t):
            return time.strftime("[%d-%b-%Y %H:%M:%S +0000]", time.gmtime(t))
        with open(path, "w") as f:
            f.write("%s old event\n" % stamp(now - 15 * 86400))         # too old: dropped, counted
            f.write("%s future event\n" % stamp(now + 3 * 3600))        # too new: dropped, counted
            f.write("%s first of span\n" % stamp(now - 25 * 3600))      # 25 h span: two batches
            f.write("%s PHP Fatal error: boom\n" % stamp(now - 3600))
            f.write("Stack trace:\n#0 /app/index.php(3): f()\n#1 {main}\n")
            f.write("%s last\n" % stamp(now))
        a = self.start("[logs.php]\nfile = %s\nmultiline_start = ^\\[\ntimestamp_format = [%%d-%%b-%%Y %%H:%%M:%%S %%z]\n"
                       % path)
        ev = self.wait_events("php", 3)
        msgs = [e["message"] for e in ev]
        self.assertEqual(len(msgs), 3, msgs)
        self.assertTrue(msgs[0].endswith("first of span"))
        self.assertEqual(msgs[1].split("] ", 1)[1],
                         "PHP Fatal error: boom\nStack trace:\n#0 /app/index.php(3): f()\n#1 {main}")
        self.assertEqual(ev[0]["timestamp"] // 1000, int(now - 25 * 3600))
        self.assertEqual(ev[2]["timestamp"] // 1000, int(now))
        puts = [r for r in self.fake.requests("logs", "PutLogEvents") if r["status"] == 200]
        self.assertGreaterEqual(len(puts), 2, "a 25 h span must take two batches")
        st = wait_for(lambda: (lambda s: s if s["events_too_old"] == 1 else None)(self.source(a, "php")),
                      what="the old event counted")
        self.assertEqual(st["events_too_new"], 1)
        self.assertIn("older than 14 days", a.log())


class TestJournal(LogsTestCase):
    def write_journal(self, directory, entries):
        # Real journald entries: realtime and monotonic clocks both advance
        # (sd-journal orders entries of one boot by the monotonic one).
        now, mono = int(time.time() * 1e6), int(time.monotonic() * 1e6)
        out = b""
        for i, (unit, prio, msg) in enumerate(entries):
            out += (b"__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n"
                    b"SYSLOG_IDENTIFIER=%s\n_PID=%d\n_SYSTEMD_UNIT=%s.service\nPRIORITY=%d\n" %
                    (now + i, mono + i, unit.encode(), 100 + i, unit.encode(), prio))
            out += b"MESSAGE=" + msg + b"\n\n"
        target = os.path.join(directory, "remote-%d.journal" % random.randrange(1 << 30))
        subprocess.run([JOURNAL_REMOTE, "--output=" + target, "-"], input=out, check=True, capture_output=True)

    @unittest.skipUnless(os.path.exists(JOURNAL_REMOTE), "systemd-journal-remote not installed")
    def test_journal_matches_priority_cursor(self):
        jdir = os.path.join(self.tmp, "journal")
        os.makedirs(jdir)
        self.write_journal(jdir, [("nginx", 6, b"n0"), ("php-fpm", 3, b"p0"), ("cron", 3, b"c0"),
                                  ("nginx", 7, b"debug dropped"), ("nginx", 3, b"bad \xff utf8")])
        src = ("[logs.journal]\njournal = _SYSTEMD_UNIT=nginx.service _SYSTEMD_UNIT=php-fpm.service\n"
               "priority = info\njournal_directory = %s\n" % jdir)
        a = self.start(src)
        ev = self.wait_events("journal", 3)
        self.assertEqual([e["message"] for e in ev], ["nginx[100]: n0", "php-fpm[101]: p0", "nginx[104]: bad \ufffd utf8"])
        a.stop()
        # Restart: resumes after the stored cursor; a new file is noticed.
        a = self.start(src)
        self.write_journal(jdir, [("nginx", 5, b"n1")])
        ev = self.wait_events("journal", 4)
        self.assertEqual([e["message"] for e in ev][3:], ["nginx[100]: n1"])
        p = a.ctl("flush")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.events("journal")), 4)


class TestDelivery(LogsTestCase):
    def test_outage_throttle_5xx_drops_nothing_lost(self):
        path = os.path.join(self.logdir, "app.log")
        open(path, "w").close()
        a = self.start("[logs.app]\nfile = %s\n" % path, extra="[aws]\nmax_attempts = 2\n")
        self.fake.fault("error5xx", service="logs", operation="PutLogEvents", count=3)
        self.fake.fault("throttle", service="logs", operation="PutLogEvents", count=3)
        self.fake.fault("drop", service="logs", operation="PutLogEvents", count=2)
        with open(path, "a") as f:
            for i in range(5):
                f.write(numbered("o", i * 1000, 1000))
                f.flush()
        ev = self.wait_events("app", 5000, timeout=90)
        self.assertEqual(self.assert_in_order([e["message"] for e in ev], "o"), list(range(5000)))
        wait_for(lambda: self.source(a, "app")["state"] == "ok", timeout=30, what="back to ok")

    def test_missing_group(self):
        path = os.path.join(self.logdir, "app.log")
        with open(path, "w") as f:
            f.write("one\n")
        # SIGTERM flushes for at most drain_timeout: CloudWatch cannot take these.
        a = self.start("[logs.app]\nfile = %s\ngroup = /not/created\n[lifecycle]\ndrain_timeout = 2s\n" % path)
        st = wait_for(lambda: (lambda s: s if "does not exist" in (s["last_error"] or "") else None)(
            self.source(a, "app")), what="the missing group reported")
        self.assertEqual(st["state"], "degraded")
        self.assertIn("create_group", st["last_error"])
        self.assertEqual(self.fake.requests("logs", "CreateLogGroup"), [])
        # It retries the creation, not the put: "missing" is said once.
        wait_for(lambda: len(self.fake.requests("logs", "CreateLogStream")) >= 3, what="creation retried")
        self.assertEqual(a.log().count("missing; creating it"), 1, a.log())
        # The group made by someone else meanwhile: delivered without a restart.
        self.fake.create_log_group("/not/created")
        ev = self.wait_events("app", 1, group="/not/created")
        self.assertEqual(ev[0]["message"], "one")
        a.stop()
        with open(path, "a") as f:
            f.write("two\n")
        self.start("[logs.app]\nfile = %s\ngroup = /now/created\n" % path, extra="create_group = yes\n")
        ev = self.wait_events("app", 1, group="/now/created")
        self.assertEqual(ev[0]["message"], "two")

    def test_flush_ships_partial_line_at_once(self):
        path = os.path.join(self.logdir, "app.log")
        with open(path, "w") as f:
            f.write("done\nlast without newline")
        a = self.start("[logs.app]\nfile = %s\n" % path, extra="flush_interval = 1h\npartial_line_timeout = 1h\n")
        p = a.ctl("flush")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("delivered", p.stdout)
        self.assertEqual([e["message"] for e in self.events("app")], ["done", "last without newline"])


class TestSoak(LogsTestCase):
    """The issue's soak, at a size the suite can afford (bench/logs-bench.py
    runs the full million): numbered lines through rename and copytruncate
    rotations, agentd killed with SIGKILL at random moments, the emulator
    throttling, answering 5xx and dropping connections (before and after
    storing). Every line must arrive, in order; duplicates only from
    batches in flight at a kill."""

    # The emulator keeps every delivery, duplicates included.
    fake_args = ("--max-stored-events", str(3 * (int(os.environ.get("SOAK_LINES", 0)) or 100000)))

    @unittest.skipIf(VALGRIND, "memory checking of these paths is done by the other tests; the soak runs in the "
                               "normal and ASan runs (and at a million lines in bench/logs-soak)")
    def test_soak(self):
        # Bounded by the sanitizers' slowdown (SLOW); bench/logs-soak runs it
        # at a million lines (SOAK_LINES).
        total = int(os.environ.get("SOAK_LINES", 0)) or int(100000 / max(1.0, SLOW / 2))
        kills = 3
        path = os.path.join(self.logdir, "soak.log")
        open(path, "w").close()
        src = "[logs.soak]\nfile = %s\n" % path
        a = self.start(src)
        rnd = random.Random(int(os.environ.get("SOAK_SEED", "10")))
        kill_at = sorted(rnd.sample(range(1, 20), kills))
        n, step, chunk = 0, 0, total // 20
        rot = 0
        while n < total:
            for kind, count in (("throttle", 2), ("error5xx", 2), ("drop", 1), ("drop_after", 1)):
                if rnd.random() < 0.3:
                    self.fake.fault(kind, service="logs", operation="PutLogEvents", count=count)
            with open(path, "a") as f:
                f.write(numbered("s", n, min(chunk, total - n), width=90))
            n = min(n + chunk, total)
            step += 1
            if step % 4 == 0:
                # As with logrotate, agentd has looked at the file since it was
                # written: a file created, written and rotated between two of
                # its looks cannot be found again (docs/configuration.md).
                size = os.path.getsize(path)
                wait_for(lambda: any(lf["path"] == path and not lf["rotated"] and lf["size"] >= size
                                     for lf in self.source(a, "soak").get("files", [])),
                         timeout=30, what="agentd to see soak.log at %d bytes" % size)
                rot += 1
                if rot % 2:
                    os.rename(path, "%s.%d" % (path, rot))
                    open(path, "w").close()
                else:
                    shutil.copyfile(path, "%s.%d" % (path, rot))
                    with open(path, "r+") as f:
                        f.truncate(0)
            if step in kill_at:
                # Killed while it ships: once the emulator has some of it.
                seen = sum(s["received"] for s in self.fake.log_streams())
                wait_for(lambda: sum(s["received"] for s in self.fake.log_streams()) > seen, timeout=60,
                         what="progress before a kill")
                a.proc.send_signal(signal.SIGKILL)
                a.proc.wait(10)
                a = self.start(src)
        # Cheap first (counts), then the whole stream: at a million lines it
        # is a large answer.
        wait_for(lambda: sum(s["received"] for s in self.fake.log_streams()
                             if s["stream"] == self.stream("soak")) >= total,
                 timeout=120 * max(1, total // 100000), interval=0.5, what="%d events received" % total)
        try:
            ev = wait_for(lambda: (lambda e: e if len({m["message"] for m in e}) >= total else None)(
                self.events("soak")), timeout=120 * max(1, total // 100000), interval=max(0.5, total / 100000), what="all %d lines" % total)
        except AssertionError:
            got = {int(e["message"].split()[1]) for e in self.events("soak")}
            missing = sorted(set(range(total)) - got)
            print("soak: %d of %d lines delivered, missing %d (first %s, last %s); status %s" %
                  (len(got), total, len(missing), missing[:3], missing[-3:], self.source(a, "soak")),
                  file=sys.stderr)
            raise
        nums = [int(e["message"].split()[1]) for e in ev]
        self.assertEqual(set(nums), set(range(total)), "lines lost")
        # In order within the stream; a resend after a kill or a lost answer
        # replays a suffix, so each repeat starts a run that is itself in order.
        dups = len(nums) - total
        inversions = sum(1 for x, y in zip(nums, nums[1:]) if y < x)
        self.assertLessEqual(inversions, kills + 8, "out of order beyond resends")
        first_seen = []
        seen = set()
        for x in nums:
            if x not in seen:
                seen.add(x)
                first_seen.append(x)
        self.assertEqual(first_seen, list(range(total)), "first deliveries out of order")
        print("soak: %d lines, %d kills, %d duplicates, %d resend points" % (total, kills, dups, inversions),
              file=sys.stderr)


if __name__ == "__main__":
    main()
