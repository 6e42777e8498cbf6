"""Secret values in agentd's memory, as a core dump would see it (issue 16):
after a rotation the bootstrap value is gone from every mapping a core dump
holds (the stack included), and neither value is on the stack. The kept
copies live in MADV_DONTDUMP pages (tests/unit/test-secrets.c checks the
flag). Read through /proc/PID/mem as root, while agentd runs; under
valgrind the process is valgrind's, and ASan's allocator keeps freed
memory in a quarantine and moves every realloc: skipped under both.

libcurl keeps copies of the role's session token and secret key in its
heap while signing: that is why agentd.service also has LimitCORE=0
(checked by the deploy suite)."""

import json
import os
import re
import unittest

from harness import VALGRIND, AgentTestCase, main, wait_for

OLD = "Boot-pw-Q7r2-xK91z"
NEW = "Rot-pw-H3m8-pL40w"


def dumpable(pid):
    """[(mapping name, bytes)] of every readable mapping a core dump holds
    (not MADV_DONTDUMP, not a read-only file mapping)."""
    out, cur = [], None
    with open("/proc/%d/smaps" % pid) as f:
        smaps = f.read()
    with open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in smaps.splitlines():
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)", line)
            if m:
                cur = (int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(4))
                continue
            if not line.startswith("VmFlags:") or not cur:
                continue
            lo, hi, perms, name = cur
            if " dd" in line or "r" not in perms or (name.startswith("/") and "w" not in perms):
                continue
            try:
                mem.seek(lo)
                out.append((name or hex(lo), mem.read(hi - lo)))
            except OSError:
                pass            # [vvar] and the like
    return out


def sanitized(pid):
    """Is agentd built with ASan? Its allocator keeps freed memory in a
    quarantine (RSS does not come back) and moves every realloc."""
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


@unittest.skipIf(VALGRIND, "the process is valgrind's")
class SecretMemoryTest(AgentTestCase):
    def test_bootstrap_secret_gone_after_rotation(self):
        self.fake.create_secret("db", string=json.dumps({"username": "app", "password": OLD, "pin": 987654321987}))
        tpl = os.path.join(self.tmp, "app.env.in")
        out = os.path.join(self.tmp, "app.env")
        with open(tpl, "w") as f:
            f.write('DB_PASSWORD="{{secret.db.password}}"\nPIN="{{secret.db.pin}}"\n')
        a = self.agent(config="[secret.db]\nid = db\nrefresh = 1s\n"
                              "[render.env]\ntemplate = %s\ntarget = %s\nformat = env\n" % (tpl, out))
        a.wait_notify("READY=1")
        self.fake.rotate_secret("db", string=json.dumps({"username": "app", "password": NEW, "pin": 123098456765}))
        wait_for(lambda: NEW in open(out).read(), timeout=20, what="the rotated value rendered")
        pid = a.proc.pid
        if sanitized(pid):
            self.skipTest("ASan's allocator keeps freed chunks unwiped in its quarantine")
        found = []
        for name, data in dumpable(pid):
            for needle in (OLD, "987654321987"):
                if needle.encode() in data:
                    found.append((needle, name))
            if name == "[stack]":
                for needle in (NEW, "123098456765"):
                    if needle.encode() in data:
                        found.append((needle, name))
        self.assertEqual(found, [], "secret values in memory a core dump would hold")


if __name__ == "__main__":
    main()
