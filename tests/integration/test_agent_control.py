"""The control socket and agentctl: permissions, protocol errors, limits,
exit codes for healthy / degraded / failed / unreachable."""

import json
import os
import signal
import socket
import stat
import time

from harness import AGENTCTL, AgentTestCase, main, wait_for
import subprocess


def raw_request(path, payload, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    s.sendall(payload)
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    return data


class ControlTest(AgentTestCase):
    def test_socket_mode_and_protocol_errors(self):
        a = self.agent()
        a.wait_notify("READY=1")
        st = os.stat(a.socket_path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

        ok = json.loads(raw_request(a.socket_path, b'{"command":"status"}\n'))
        self.assertTrue(ok["ok"])
        self.assertIn("agent", ok["status"])
        for payload, expect in [(b"this is not json\n", "not a JSON object"),
                                (b"[1,2,3]\n", "not a JSON object"),
                                (b'{"cmd":"status"}\n', "no \\\"command\\\""),
                                (b'{"command":"reboot"}\n', "unknown command: reboot"),
                                (b'{"command":"' + b"x" * 200 + b'"}\n', "unknown command"),
                                (b'{"command":"status"}', None)]:     # EOF ends a request too
            resp = json.loads(raw_request(a.socket_path, payload))
            if expect is None:
                self.assertTrue(resp["ok"])
            else:
                self.assertFalse(resp["ok"], payload)
                self.assertIn(expect.replace('\\"', '"'), resp["error"])
        big = json.loads(raw_request(a.socket_path, b"{" + b" " * (70 * 1024)))
        self.assertFalse(big["ok"])
        self.assertIn("too large", big["error"])
        # Still alive and serving.
        rc, _ = a.status()
        self.assertEqual(rc, 0)

    def test_every_command_answered_at_once_is_delivered(self):
        """Answers given from inside the command's own call (nothing to
        refresh, a rollback with no reload=, errors) once freed the client
        before control.c was done with it: a heap-use-after-free under
        ASan. Every answer now leaves through a deferred event."""
        tpl = os.path.join(self.tmp, "app.tpl")
        target = os.path.join(self.tmp, "app.out")
        with open(tpl, "w") as f:
            f.write("value={{ vars.value }}\n")
        a = self.agent(config="[render.app]\ntemplate = %s\ntarget = %s\nformat = raw\n"
                              "[vars]\nvalue = first\n" % (tpl, target))
        a.wait_notify("READY=1")
        self.assertEqual(open(target).read(), "value=first\n")
        # No [secret.*]: the targets are rendered again.
        p = a.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        self.assertIn("configuration up to date", p.stdout + p.stderr)
        # No [secret.*] and nothing to render: answered at once.
        b = self.agent()
        b.wait_notify("READY=1")
        p = b.ctl("refresh")
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        self.assertIn("nothing to refresh", p.stdout + p.stderr)
        self.assertEqual(b.stop(), 0)
        # Nothing to roll back to yet, then a second version and back.
        p = a.ctl("rollback", "app")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no previous version", p.stdout + p.stderr)
        a.write_config("[render.app]\ntemplate = %s\ntarget = %s\nformat = raw\n"
                       "[vars]\nvalue = second\n" % (tpl, target))
        a.send_signal(signal.SIGHUP)
        wait_for(lambda: open(target).read() == "value=second\n", what="re-render after SIGHUP")
        p = a.ctl("rollback", "app")      # no reload=: done within the call
        self.assertEqual(p.returncode, 0, p.stderr + p.stdout)
        self.assertEqual(open(target).read(), "value=first\n")
        for args, expect in [(("drain",), None), (("resume",), None), (("check", "nosuch"), "no such check"),
                             (("rollback", "nosuch"), "no such name"), (("refresh", "nosuch"), None)]:
            p = a.ctl(*args)
            if expect:
                self.assertIn(expect, p.stdout + p.stderr, args)
        for payload in [b'{"command":"refresh"}\n', b'{"command":"rollback"}\n', b'{"command":"drain"}\n']:
            self.assertIn(b'"ok"', raw_request(a.socket_path, payload))
        rc, _ = a.status()
        self.assertEqual(rc, 0)
        self.assertEqual(a.stop(), 0)

    def test_silent_clients_do_not_block_and_are_dropped(self):
        a = self.agent()
        a.wait_notify("READY=1")
        silent = []
        for _ in range(5):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(a.socket_path)
            s.sendall(b'{"command":')   # and then nothing
            silent.append(s)
        rc, doc = a.status()            # served while those hang
        self.assertEqual(rc, 0)
        # The agent closes them after its 5 s deadline.
        for s in silent:
            s.settimeout(30)
            self.assertEqual(s.recv(100), b"")
            s.close()
        self.assertIsNone(a.proc.poll())

    def test_other_users_are_refused_by_peer_credentials(self):
        a = self.agent()
        a.wait_notify("READY=1")
        # Open the path up, so only the SO_PEERCRED check stands in the way.
        for d in (self.tmp, a.tmpdir, os.path.dirname(a.socket_path)):
            os.chmod(d, 0o755)
        os.chmod(a.socket_path, 0o666)
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            AGENTCTL, "--socket", a.socket_path, "status"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("not reachable", p.stderr)
        wait_for(lambda: "peer is neither root nor uid" in a.log(), what="refusal in the log")
        self.assertEqual(a.status()[0], 0)      # root still gets in

    def test_unreachable_exit_code(self):
        p = subprocess.run([AGENTCTL, "--socket", os.path.join(self.tmp, "nope.sock"), "status"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 3)
        self.assertIn("not reachable", p.stderr)
        self.assertIn("nope.sock", p.stderr)
        # The environment variable names the socket too.
        env = dict(os.environ, AGENTD_CONTROL_SOCKET=os.path.join(self.tmp, "env.sock"))
        p = subprocess.run([AGENTCTL, "status", "--json"], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 3)
        self.assertIn("env.sock", p.stderr)
        p = subprocess.run([AGENTCTL, "frobnicate"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 4)

    def test_env_socket_reaches_agent(self):
        a = self.agent()
        a.wait_notify("READY=1")
        env = dict(os.environ, AGENTD_CONTROL_SOCKET=a.socket_path)
        p = subprocess.run([AGENTCTL, "status", "--json"], capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["identity"]["instance_id"],
                         self.fake.state()["instance"]["instance_id"])

    def test_degraded_when_refresh_fails_but_credentials_still_valid(self):
        self.fake.set_credentials_ttl(8)
        a = self.agent()
        a.wait_notify("READY=1")
        role = self.fake.state()["instance"]["role"]
        # Every refresh from now on fails with 500; the old key is still valid.
        self.fake.fault("error5xx", service="imds", operation="meta-data/iam/security-credentials/" + role,
                        count=1000)
        def degraded():
            rc, doc = a.status()
            return (rc, doc) if rc == 1 else None
        rc, doc = wait_for(degraded, timeout=15, interval=0.2, what="degraded status")
        creds = a.subsystem(doc, "credentials")
        self.assertEqual(creds["state"], "degraded")
        self.assertIn("keeping the current ones", creds["detail"])
        p = a.ctl("status")
        self.assertEqual(p.returncode, 1)
        self.assertIn("degraded", p.stderr)
        # Once they expire for real, the agent reports failure (exit 2).
        def failed():
            rc, doc = a.status()
            return (rc, doc) if rc == 2 else None
        rc, doc = wait_for(failed, timeout=20, interval=0.2, what="failed status")
        self.assertEqual(a.subsystem(doc, "credentials")["state"], "failed")
        self.assertIsNone(doc["credentials"])
        # And it recovers by itself when IMDS answers again.
        self.fake.clear_faults()
        wait_for(lambda: a.status()[0] == 0, timeout=90, interval=0.5, what="recovery")


if __name__ == "__main__":
    main()
