"""A fake systemd on a private D-Bus system bus, for testing agentd's reloads
(agent/src/reload.c) on a machine without systemd as PID 1.

    bus = DBusDaemon(os.path.join(tmp, "dbus")).start()
    sd = FakeSystemd(bus, os.path.join(tmp, "systemd"),
                     units={"nginx.service": "kill -HUP $(cat nginx.pid)"}).start()
    agent env: {"DBUS_SYSTEM_BUS_ADDRESS": bus.address}
    ... sd.calls("ReloadOrRestartUnit") → [{"method":..., "args": [...], ...}]

DBusDaemon runs `dbus-daemon --config-file=GENERATED --print-address --nofork`
on a unix socket in its temp dir, with a policy that allows everything to
the user running the tests. Ready when the address is printed.

FakeSystemd runs this file as a separate process (/usr/bin/python3) that
owns org.freedesktop.systemd1 and exports /org/freedesktop/systemd1 with
org.freedesktop.systemd1.Manager:
  Subscribe(), Unsubscribe();
  ReloadOrRestartUnit(s name, s mode) -> o job, job paths
    /org/freedesktop/systemd1/job/N: runs the unit's shell command (cwd: the
    fake's dir), then emits JobRemoved(u id, o job, s unit, s result),
    result "done" when the command exits 0, else "failed". Like systemd, the
    signal is sent only while some client is subscribed. An unknown unit
    answers org.freedesktop.systemd1.NoSuchUnit.
  A reload of a unit whose job has not ended yet is merged into that job,
  as systemd does: same job path in the reply, the command runs once more,
  one JobRemoved.
  GetUnit(s name) -> o unit, /org/freedesktop/systemd1/unit/N exporting
    org.freedesktop.systemd1.Unit with ActiveState (read through
    org.freedesktop.DBus.Properties.Get): the unit's state from
    set_state(), "active" by default; an unknown unit answers NoSuchUnit.
  With job_removed_before_reply, the command runs and JobRemoved is sent
  before the method reply (the race systemd allows, and agentd handles).
Ready when it has printed "READY" on stdout, which it does after the object
is exported and the name is owned (RequestName answered "primary owner").

The configuration (units, job_removed_before_reply) is a JSON file the fake
re-reads on every call, so set_unit() takes effect at once. Every method
call and every signal is appended, in order, to events.json (rewritten
atomically), which calls()/signals() read.

Why Gio (python3-gi) rather than python3-dbus or busctl/gdbus scripts:
python3-gi and gir1.2-glib-2.0 are small, in Debian 12, and Gio's GDBus
gives what the fake needs directly: a method handler that may answer later
(the invocation object), signals and replies serialised in call order on
one connection (so "JobRemoved before the reply" is exact, not a timing
guess), and child processes watched from the main loop (Gio.Subprocess).
python3-dbus (upstream: "not recommended for new code") needs the GLib
loop from python3-gi anyway and async_callbacks for a delayed reply;
busctl/gdbus cannot own a name and serve methods.

Waits are deadline-based, scaled by AGENTD_TEST_SLOWDOWN; nothing outside
the temp dirs is touched.
"""

import json
import os
import select
import signal
import subprocess
import sys
import time

SLOW = float(os.environ.get("AGENTD_TEST_SLOWDOWN", "1"))
PYTHON = "/usr/bin/python3"     # Debian's, with python3-gi
DBUS_DAEMON = os.environ.get("DBUS_DAEMON", "/usr/bin/dbus-daemon")

BUS_NAME = "org.freedesktop.systemd1"
OBJECT_PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"

INTROSPECTION = """
<node>
  <interface name="org.freedesktop.systemd1.Manager">
    <method name="Subscribe"/>
    <method name="Unsubscribe"/>
    <method name="ReloadOrRestartUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="s" name="mode" direction="in"/>
      <arg type="o" name="job" direction="out"/>
    </method>
    <method name="GetUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="o" name="unit" direction="out"/>
    </method>
    <signal name="JobRemoved">
      <arg type="u" name="id"/>
      <arg type="o" name="job"/>
      <arg type="s" name="unit"/>
      <arg type="s" name="result"/>
    </signal>
  </interface>
  <interface name="org.freedesktop.systemd1.Unit">
    <property type="s" name="ActiveState" access="read"/>
  </interface>
</node>
"""

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="{uid}"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


class FakeSystemdError(RuntimeError):
    pass


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _write_json(path, doc):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


def _read_line(proc, deadline, what, log_path):
    """The first line proc prints on stdout, before the deadline."""
    buf = b""
    fd = proc.stdout.fileno()
    while b"\n" not in buf:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FakeSystemdError("timed out waiting for %s\n%s" % (what, _read(log_path)[-3000:]))
        r, _, _ = select.select([fd], [], [], min(left, 0.2))
        if r:
            chunk = os.read(fd, 4096)
            if not chunk:
                proc.wait()
                raise FakeSystemdError("%s exited (status %s) before %s\n%s"
                                       % (proc.args[0], proc.returncode, what, _read(log_path)[-3000:]))
            buf += chunk
    return buf.split(b"\n", 1)[0].decode()


def _stop(proc, timeout):
    if proc is None:
        return None
    try:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout * SLOW)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise FakeSystemdError("%s did not stop within %ss of SIGTERM, killed" % (proc.args[0], timeout))
    finally:
        if proc.stdout:
            proc.stdout.close()
    return proc.returncode


class DBusDaemon:
    """A private bus: dbus-daemon on tmpdir/system_bus_socket."""

    def __init__(self, tmpdir):
        self.tmpdir = os.path.abspath(tmpdir)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.socket = os.path.join(self.tmpdir, "system_bus_socket")
        self.config_path = os.path.join(self.tmpdir, "bus.conf")
        self.log_path = os.path.join(self.tmpdir, "dbus-daemon.log")
        self.address = "unix:path=" + self.socket
        self.printed_address = None
        self.proc = None

    def start(self, timeout=10.0):
        if len(os.fsencode(self.socket)) > 107:
            raise FakeSystemdError("bus socket path too long: " + self.socket)
        with open(self.config_path, "w") as f:
            f.write(BUS_CONFIG.format(socket=self.socket, uid=os.getuid()))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([DBUS_DAEMON, "--config-file=" + self.config_path, "--print-address",
                                          "--nofork", "--nopidfile"], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        try:
            self.printed_address = _read_line(self.proc, time.monotonic() + timeout * SLOW,
                                              "dbus-daemon's address", self.log_path)
        except BaseException:
            self.stop()
            raise
        if not self.printed_address.startswith(self.address):
            self.stop()
            raise FakeSystemdError("dbus-daemon listens on %r, not %r" % (self.printed_address, self.address))
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        return _stop(self.proc, timeout)


class FakeSystemd:
    """The fake org.freedesktop.systemd1, in its own process on bus."""

    def __init__(self, bus, tmpdir, units=None, job_removed_before_reply=False):
        self.bus = bus
        self.tmpdir = os.path.abspath(tmpdir)
        os.makedirs(self.tmpdir, exist_ok=True)
        self.config_path = os.path.join(self.tmpdir, "config.json")
        self.events_path = os.path.join(self.tmpdir, "events.json")
        self.log_path = os.path.join(self.tmpdir, "fake-systemd.log")
        self.config = {"units": dict(units or {}), "job_removed_before_reply": job_removed_before_reply}
        _write_json(self.config_path, self.config)
        self.proc = None

    def set_state(self, name, state):
        """ActiveState of a unit (which must exist, see set_unit())."""
        self.config.setdefault("states", {})[name] = state
        _write_json(self.config_path, self.config)

    def set_unit(self, name, command):
        """Adds or changes a unit's command (None removes the unit)."""
        if command is None:
            self.config["units"].pop(name, None)
        else:
            self.config["units"][name] = command
        _write_json(self.config_path, self.config)

    def start(self, timeout=10.0):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([PYTHON, os.path.abspath(__file__), "--address", self.bus.address,
                                          "--config", self.config_path, "--events", self.events_path],
                                         cwd=self.tmpdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=log, start_new_session=True)
        try:
            line = _read_line(self.proc, time.monotonic() + timeout * SLOW, "the fake systemd to own its name",
                              self.log_path)
        except BaseException:
            self.stop()
            raise
        if line != "READY":
            self.stop()
            raise FakeSystemdError("fake systemd printed %r\n%s" % (line, self.log()))
        return self

    def events(self):
        text = _read(self.events_path)
        return json.loads(text) if text else []

    def calls(self, method=None):
        """Method calls received so far, in order: dicts with method, args, sender."""
        return [e for e in self.events() if e["kind"] == "call" and method in (None, e["method"])]

    def signals(self):
        """JobRemoved signals sent (or suppressed for want of subscribers)."""
        return [e for e in self.events() if e["kind"] == "signal"]

    def log(self):
        return _read(self.log_path)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        rc = _stop(self.proc, timeout)
        if rc not in (None, 0):
            raise FakeSystemdError("fake systemd exited with status %s\n%s" % (rc, self.log()[-3000:]))
        return rc


# ---------------------------------------------------------------- the service

def serve(address, config_path, events_path):
    import gi
    gi.require_version("Gio", "2.0")
    gi.require_version("GLib", "2.0")
    from gi.repository import Gio, GLib

    loop = GLib.MainLoop()
    events = []
    subscribers = set()
    jobs = [0]
    pending = {}        # unit -> its job that has not ended

    def record(**e):
        e["seq"] = len(events)
        e["time"] = time.monotonic()
        events.append(e)
        _write_json(events_path, events)

    def log(msg):
        sys.stderr.write("fake-systemd: %s\n" % msg)
        sys.stderr.flush()

    conn = Gio.DBusConnection.new_for_address_sync(
        address, Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION,
        None, None)
    conn.set_exit_on_close(False)
    conn.connect("closed", lambda *a: loop.quit())

    def job_removed(job_id, path, unit, result):
        # systemd sends job signals only while a client is subscribed.
        record(kind="signal", name="JobRemoved", args=[job_id, path, unit, result],
               delivered=bool(subscribers))
        if subscribers:
            conn.emit_signal(None, OBJECT_PATH, MANAGER, "JobRemoved",
                             GLib.Variant("(uoss)", (job_id, path, unit, result)))
        log("job %d %s: %s" % (job_id, unit, result))

    def run_job(job, command, then):
        proc = Gio.Subprocess.new(["/bin/sh", "-c", command], Gio.SubprocessFlags.NONE)

        def finished(p, res):
            try:
                p.wait_finish(res)
                ok = p.get_if_exited() and p.get_exit_status() == 0
            except GLib.Error as e:
                log("waiting for %r: %s" % (command, e.message))
                ok = False
            if job["rerun"]:
                # A request merged into the running job: run it once more.
                job["rerun"] = False
                return run_job(job, command, then)
            del pending[job["unit"]]
            job_removed(job["id"], job["path"], job["unit"], "done" if ok else "failed")
            if then:
                then()
        proc.wait_async(None, finished)

    def on_call(connection, sender, obj, iface, method, params, invocation):
        args = list(params.unpack())
        record(kind="call", method=method, args=args, sender=sender)
        if method == "Subscribe":
            subscribers.add(sender)
            return invocation.return_value(None)
        if method == "Unsubscribe":
            subscribers.discard(sender)
            return invocation.return_value(None)
        if method == "GetUnit":
            with open(config_path) as f:
                config = json.load(f)
            if args[0] not in config["units"]:
                return invocation.return_dbus_error("org.freedesktop.systemd1.NoSuchUnit",
                                                    "Unit %s not loaded." % args[0])
            return invocation.return_value(GLib.Variant("(o)", (unit_object(args[0]),)))
        if method != "ReloadOrRestartUnit":
            return invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod", method)
        unit, mode = args
        with open(config_path) as f:
            config = json.load(f)
        command = config["units"].get(unit)
        if command is None:
            return invocation.return_dbus_error("org.freedesktop.systemd1.NoSuchUnit",
                                                "Unit %s not found." % unit)
        if mode != "replace":
            return invocation.return_dbus_error("org.freedesktop.DBus.Error.InvalidArgs",
                                                "Job mode %s invalid." % mode)
        job = pending.get(unit)
        if job is not None:
            # Like systemd: a reload of a unit that has a reload job queued
            # or running is merged into that job (the running one re-runs),
            # the caller gets that job's path, and one JobRemoved ends both.
            job["rerun"] = True
            record(kind="merge", unit=unit, path=job["path"])
            return invocation.return_value(GLib.Variant("(o)", (job["path"],)))
        jobs[0] += 1
        job = pending[unit] = {"id": jobs[0], "path": "%s/job/%d" % (OBJECT_PATH, jobs[0]), "unit": unit,
                               "rerun": False}
        reply = GLib.Variant("(o)", (job["path"],))
        if config.get("job_removed_before_reply"):
            # The command, JobRemoved, then the reply: queued in this order
            # on the one connection, so the client reads them in this order.
            run_job(job, command, lambda: invocation.return_value(reply))
        else:
            invocation.return_value(reply)
            run_job(job, command, None)

    unit_paths = {}     # unit -> its object path, registered on first GetUnit

    def unit_property(connection, sender, path, iface, prop):
        with open(config_path) as f:
            config = json.load(f)
        unit = [u for u, p in unit_paths.items() if p == path][0]
        return GLib.Variant("s", config.get("states", {}).get(unit, "active"))

    def unit_object(unit):
        if unit not in unit_paths:
            unit_paths[unit] = "%s/unit/%d" % (OBJECT_PATH, len(unit_paths) + 1)
            conn.register_object(unit_paths[unit], node.interfaces[1], None, unit_property, None)
        return unit_paths[unit]

    def name_owner_changed(connection, sender, path, iface, signal_name, params):
        name, old, new = params.unpack()
        if not new and name in subscribers:     # systemd forgets subscribers that leave
            subscribers.discard(name)
    conn.signal_subscribe("org.freedesktop.DBus", "org.freedesktop.DBus", "NameOwnerChanged",
                          "/org/freedesktop/DBus", None, Gio.DBusSignalFlags.NONE, name_owner_changed)

    node = Gio.DBusNodeInfo.new_for_xml(INTROSPECTION)
    conn.register_object(OBJECT_PATH, node.interfaces[0], on_call, None, None)
    # DBUS_NAME_FLAG_DO_NOT_QUEUE; 1 = DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER
    res = conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "RequestName",
                         GLib.Variant("(su)", (BUS_NAME, 4)), GLib.VariantType("(u)"),
                         Gio.DBusCallFlags.NONE, -1, None)
    if res.unpack()[0] != 1:
        log("could not own %s (RequestName answered %d)" % (BUS_NAME, res.unpack()[0]))
        return 1
    _write_json(events_path, events)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, lambda: loop.quit() or False)
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    loop.run()
    if not conn.is_closed():
        conn.flush_sync(None)
        conn.close_sync(None)
    return 0


def main(argv):
    import argparse
    p = argparse.ArgumentParser(description="fake org.freedesktop.systemd1 for agentd's tests")
    p.add_argument("--address", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--events", required=True)
    a = p.parse_args(argv)
    return serve(a.address, a.config, a.events)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
