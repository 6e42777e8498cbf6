"""Auto Scaling lifecycle hooks and the drain, against the emulator: launch
completed once healthy (CONTINUE) or abandoned when bootstrap failed,
heartbeats while it waits, the drain on a Terminated target state (503 at
once, connections waited for, the terminate hook completed after the last
one closed), ValidationError retried while IMDS runs ahead of the hook, a
Spot notice, a second trigger ignored, SIGTERM draining before the exit."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time

from harness import AgentTestCase, main, wait_for

ASG = "php-app-asg"
LAUNCH = "agentd-launch"
TERMINATE = "agentd-terminate"


def lifecycle_config(extra="", web_port=None, **keys):
    # The test's clients connect over loopback, like agentd's own checks,
    # which a drain does not wait for by default.
    text = ("[lifecycle]\nlaunch_hook = %s\nterminate_hook = %s\npoll_interval = 200ms\ndrain_loopback = yes\n"
            % (LAUNCH, TERMINATE))
    if web_port:
        text += "web_port = %d\n" % web_port
    for k, v in keys.items():
        text += "%s = %s\n" % (k, v)
    return text + extra


class WebPort:
    """A listener standing in for nginx on the web port, so the test decides
    when the last connection closes."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.clients, self.accepted = [], []

    def connect(self):
        c = socket.create_connection(("127.0.0.1", self.port))
        self.clients.append(c)
        self.accepted.append(self.listener.accept()[0])

    def close_all(self):
        for s in self.clients + self.accepted:
            s.close()
        self.clients, self.accepted = [], []

    def close(self):
        self.close_all()
        self.listener.close()


class LifecycleTest(AgentTestCase):
    def results(self):
        return self.fake.state()["lifecycle"]["results"]

    def wait_result(self, what, timeout=15):
        return wait_for(lambda: self.results() or None, timeout=timeout, what=what)

    def test_launch_continue_only_after_the_checks_pass(self):
        self.fake.set_lifecycle_state("InService", pending_hook={"hook": LAUNCH, "asg": ASG})
        gate = os.path.join(self.tmp, "gate")
        a = self.agent(config=lifecycle_config(
            "[check.gate]\ntype = exec\ncommand = test -e %s || exit 2\ninterval = 200ms\ntimeout = 150ms\n"
            "rise = 2\nfall = 3\n" % gate))
        a.wait_notify("READY=1")
        # Failing samples come and go: nothing is completed meanwhile.
        wait_for(lambda: a.status()[1]["health"]["checks"][0]["consecutive_failures"] >= 3, what="failures")
        self.assertEqual(self.results(), [])
        self.assertEqual(a.health()[0], 503)
        open(gate, "w").close()
        res = self.wait_result("CompleteLifecycleAction")
        self.assertEqual(len(res), 1)
        self.assertEqual((res[0]["hook"], res[0]["result"], res[0]["by"]), (LAUNCH, "CONTINUE", "instance_id"))
        # It went out after the check had passed `rise` times.
        check = a.status()[1]["health"]["checks"][0]
        self.assertEqual(check["status"], "passing")
        rc, doc = a.status()
        lc = a.subsystem(doc, "lifecycle")
        self.assertTrue(lc["launch_completed"])
        self.assertEqual(lc["group"], ASG)
        self.assertIn("completed", a.log())

    def test_failed_bootstrap_abandons(self):
        self.fake.set_lifecycle_state("InService", pending_hook={"hook": LAUNCH, "asg": ASG})
        a = self.agent(config=lifecycle_config("[secret.db]\nid = no-such-secret\n"))
        a.wait_notify("READY=1")
        res = self.wait_result("ABANDON")
        self.assertEqual((res[0]["hook"], res[0]["result"]), (LAUNCH, "ABANDON"))
        self.assertEqual(a.status()[0], 2)

    def test_heartbeats_while_the_launch_waits(self):
        self.fake.set_lifecycle_state("InService", pending_hook={"hook": LAUNCH, "asg": ASG})
        # A slow secret keeps bootstrap busy; the hook is kept alive.
        self.fake.create_secret("db", string="value-of-the-secret")
        self.fake.fault("latency", service="secretsmanager", seconds=4)
        a = self.agent(config=lifecycle_config("[secret.db]\nid = db\n", heartbeat_interval="1s"))
        res = self.wait_result("CONTINUE after the slow bootstrap", timeout=30)
        self.assertEqual(res[0]["result"], "CONTINUE")
        self.assertGreaterEqual(res[0]["heartbeats"], 2)
        beats = self.fake.requests("autoscaling", "RecordLifecycleActionHeartbeat")
        done = self.fake.requests("autoscaling", "CompleteLifecycleAction")
        self.assertTrue(all(b["seq"] < done[-1]["seq"] for b in beats if b["status"] == 200))

    def test_terminated_drains_then_completes_after_the_last_connection(self):
        web = WebPort()
        self.addCleanup(web.close)
        a = self.agent(config=lifecycle_config(web_port=web.port))
        a.wait_notify("READY=1")
        web.connect()
        web.connect()
        self.fake.set_lifecycle_state("Terminated", pending_hook={
            "hook": TERMINATE, "asg": ASG, "transition": "autoscaling:EC2_INSTANCE_TERMINATING"})
        # Out of service at once; the hook waits while connections are open.
        wait_for(lambda: a.health()[0] == 503, what="503 after Terminated")
        status, doc = a.health_doc()
        self.assertEqual(doc["reason_code"], "draining")
        wait_for(lambda: "2 connection(s) open" in a.log(), what="the drain counting connections")
        self.assertEqual(self.results(), [])
        rc, st = a.status()
        self.assertEqual(st["drain"]["trigger"], "target lifecycle state Terminated")
        web.close_all()
        res = self.wait_result("terminate hook completed")
        self.assertEqual((res[0]["hook"], res[0]["result"]), (TERMINATE, "CONTINUE"))
        wait_for(lambda: a.status()[1]["drain"]["ready_after_ms"] is not None, what="drain done")
        # Still up (the shutdown's SIGTERM ends it), still out of service.
        self.assertEqual(a.health()[0], 503)
        self.assertEqual(a.stop(), 0)

    def test_termination_under_wrk_through_real_nginx_fails_no_request(self):
        """wrk drives requests through a real nginx while the instance is
        told to terminate: the drain waits for wrk's connections, nothing
        fails, and the hook is completed only after the last one closed."""
        from services import Nginx
        if not shutil.which("wrk"):
            self.fail("wrk is not installed (Debian package wrk, .ci/packages/services.txt)")
        ng = Nginx(os.path.join(self.tmp, "ng"))
        ng.start()
        self.addCleanup(ng.stop)
        a = self.agent(config=lifecycle_config(web_port=ng.port))
        a.wait_notify("READY=1")
        wrk = subprocess.Popen(["wrk", "-t1", "-c4", "-d3s", "--timeout", "5s",
                                "http://127.0.0.1:%d/__health" % ng.port],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(lambda: wrk.poll() is None and wrk.kill())
        # Requests flowing, then the termination.
        wait_for(lambda: os.path.exists(ng.access_log) and os.path.getsize(ng.access_log) > 0,
                 what="wrk's first requests")
        self.fake.set_lifecycle_state("Terminated", pending_hook={
            "hook": TERMINATE, "asg": ASG, "transition": "autoscaling:EC2_INSTANCE_TERMINATING"})
        wait_for(lambda: re.search(r"drain: [1-4] connection\(s\) open", a.log()),
                 what="the drain counting wrk's connections")
        self.assertIsNone(wrk.poll(), "wrk ended before the drain saw its connections")
        self.assertEqual(self.results(), [])
        out, _ = wrk.communicate(timeout=30)
        ended = time.time()
        self.assertNotIn("Non-2xx", out)
        self.assertNotIn("Socket errors", out)
        self.assertRegex(out, r"\d+ requests in")
        res = self.wait_result("terminate hook completed after wrk")
        self.assertEqual(res[0]["result"], "CONTINUE")
        self.assertGreaterEqual(res[0]["time"], ended - 1.0)

    def test_every_line_written_before_the_trigger_ships_before_the_hook(self):
        """The drain flushes the logs before it completes the terminate hook:
        in the emulator's own record, the PutLogEvents carrying the last line
        written before the trigger comes before CompleteLifecycleAction."""
        path = os.path.join(self.tmp, "app.log")
        with open(path, "w") as f:
            f.write("".join("line %d\n" % i for i in range(500)))
        self.fake.create_log_group("/test/app")
        # A long flush_interval: only the drain's flush ships the tail.
        a = self.agent(config=lifecycle_config(
            "[logs]\nflush_interval = 1h\nstate_dir = %s/logstate\n[logs.app]\nfile = %s\ngroup = /test/app\n"
            "stream = app\n" % (self.tmp, path)))
        a.wait_notify("READY=1")
        with open(path, "a") as f:
            f.write("the last line before the trigger\n")
        self.fake.set_lifecycle_state("Terminated", pending_hook={
            "hook": TERMINATE, "asg": ASG, "transition": "autoscaling:EC2_INSTANCE_TERMINATING"})
        res = self.wait_result("terminate hook completed")
        self.assertEqual(res[0]["result"], "CONTINUE")
        messages = [e["message"] for e in self.fake.log_events("/test/app", "app")]
        self.assertEqual(messages[-1], "the last line before the trigger")
        self.assertEqual(len(messages), 501)
        puts = [r for r in self.fake.requests("logs", "PutLogEvents") if r["status"] == 200]
        done = [r for r in self.fake.requests("autoscaling", "CompleteLifecycleAction") if r["status"] == 200]
        self.assertTrue(puts and done)
        self.assertLess(puts[-1]["seq"], done[0]["seq"])
        self.assertIn("drain: logs flushed", a.log())

    def test_validation_error_retried_until_the_hook_is_active(self):
        a = self.agent(config=lifecycle_config())
        a.wait_notify("READY=1")
        # IMDS says Terminated before the hook is active.
        self.fake.set_lifecycle_state("Terminated", pending_hook=None)
        wait_for(lambda: any(r["error"] == "ValidationError"
                             for r in self.fake.requests("autoscaling", "CompleteLifecycleAction")),
                 what="a completion refused")
        self.assertEqual(self.results(), [])
        self.fake.set_lifecycle_state("Terminated", pending_hook={
            "hook": TERMINATE, "asg": ASG, "transition": "autoscaling:EC2_INSTANCE_TERMINATING"})
        res = self.wait_result("completion accepted after the retries", timeout=30)
        self.assertEqual(res[0]["result"], "CONTINUE")
        self.assertIn("trying again", a.log())

    def test_spot_notice_drains_and_a_second_trigger_is_ignored(self):
        a = self.agent(config=lifecycle_config())
        a.wait_notify("READY=1")
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 120))
        self.fake.spot_notice("terminate", when)
        wait_for(lambda: a.health()[0] == 503, what="503 after the Spot notice")
        rc, st = a.status()
        self.assertEqual(st["drain"]["trigger"], "Spot interruption notice (terminate)")
        self.fake.set_lifecycle_state("Terminated")
        wait_for(lambda: "already draining" in a.log() or "already leaving" in a.log(), what="second trigger")
        self.assertEqual(a.status()[1]["drain"]["trigger"], "Spot interruption notice (terminate)")
        self.assertEqual(a.log().count("draining: Spot"), 1)
        self.assertNotIn("draining: target lifecycle state", a.log())

    def test_sigterm_waits_for_connections_then_exits(self):
        web = WebPort()
        self.addCleanup(web.close)
        a = self.agent(config=lifecycle_config(web_port=web.port))
        a.wait_notify("READY=1")
        web.connect()
        a.send_signal(signal.SIGTERM)
        a.wait_notify("STOPPING=1")
        wait_for(lambda: "1 connection(s) open" in a.log(), what="the drain waiting")
        self.assertIsNone(a.proc.poll())
        self.assertEqual(a.health()[0], 503)
        web.close_all()
        self.assertEqual(a.stop(), 0)
        self.assertIn("drained in", a.log())

    def test_agentctl_drain_and_resume(self):
        a = self.agent(config=lifecycle_config())
        a.wait_notify("READY=1")
        p = a.ctl("drain")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(a.health()[0], 503)
        wait_for(lambda: "drained in" in a.log(), what="drained")
        p = a.ctl("status")
        self.assertIn("Drain:", p.stdout)
        p = a.ctl("drain", "--undo")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(a.health()[0], 200)


if __name__ == "__main__":
    main()
