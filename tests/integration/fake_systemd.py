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
    Service units (a dict {"exec": CMD, "reload": "HUP", "restart": "on-failure",
  "restart_sec": 0.2, "start_limit_burst": 5, "timeout_stop": 10} instead of a
  command, set with set_service()): StartUnit, StopUnit, LoadUnit,
  ReloadOrRestartUnit and ReloadOrTryRestartUnit run, signal and restart the
  command as systemd would (see service_job() below); the unit object adds
  SubState and org.freedesktop.systemd1.Service's MainPID, NRestarts,
  ExecMainCode and ExecMainStatus, each change sent as PropertiesChanged to
  subscribers and recorded as an event of kind "unit" (unit_events()). The
  command's output goes to unit-NAME.log in the fake's dir.
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
    <method name="ReloadOrTryRestartUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="s" name="mode" direction="in"/>
      <arg type="o" name="job" direction="out"/>
    </method>
    <method name="StartUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="s" name="mode" direction="in"/>
      <arg type="o" name="job" direction="out"/>
    </method>
    <method name="StopUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="s" name="mode" direction="in"/>
      <arg type="o" name="job" direction="out"/>
    </method>
    <method name="LoadUnit">
      <arg type="s" name="name" direction="in"/>
      <arg type="o" name="unit" direction="out"/>
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
    <property type="s" name="SubState" access="read"/>
  </interface>
  <interface name="org.freedesktop.systemd1.Service">
    <property type="u" name="MainPID" access="read"/>
    <property type="u" name="NRestarts" access="read"/>
    <property type="i" name="ExecMainCode" access="read"/>
    <property type="i" name="ExecMainStatus" access="read"/>
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

    def set_service(self, name, command, **opts):
        """A service unit running command (see the module doc for opts)."""
        self.config["units"][name] = dict(opts, exec=command)
        _write_json(self.config_path, self.config)

    def unit_events(self, name=None):
        """The state changes of service units, in order: dicts with unit,
        active, sub, pid, nrestarts, code, status, time (monotonic)."""
        return [e for e in self.events() if e["kind"] == "unit" and name in (None, e["unit"])]

    def unit_log(self, name):
        return _read(os.path.join(self.tmpdir, "unit-%s.log" % name))

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
        if method == "LoadUnit":
            if args[0] not in load_config()["units"]:
                return invocation.return_dbus_error("org.freedesktop.systemd1.NoSuchUnit",
                                                    "Unit %s not found." % args[0])
            return invocation.return_value(GLib.Variant("(o)", (unit_object(args[0]),)))
        if method not in ("ReloadOrRestartUnit", "ReloadOrTryRestartUnit", "StartUnit", "StopUnit"):
            return invocation.return_dbus_error("org.freedesktop.DBus.Error.UnknownMethod", method)
        unit, mode = args
        config = load_config()
        command = config["units"].get(unit)
        if command is None:
            return invocation.return_dbus_error("org.freedesktop.systemd1.NoSuchUnit",
                                                "Unit %s not found." % unit)
        if mode != "replace":
            return invocation.return_dbus_error("org.freedesktop.DBus.Error.InvalidArgs",
                                                "Job mode %s invalid." % mode)
        if isinstance(command, dict):
            return service_job(method, unit, command, invocation)
        if method in ("StartUnit", "StopUnit"):
            return invocation.return_dbus_error("org.freedesktop.DBus.Error.NotSupported",
                                                "Unit %s has no ExecStart in the fake." % unit)
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

    unit_paths = {}     # unit -> its object path, registered on first GetUnit/LoadUnit

    def load_config():
        with open(config_path) as f:
            return json.load(f)

    def unit_property(connection, sender, path, iface, prop):
        config = load_config()
        unit = [u for u, p in unit_paths.items() if p == path][0]
        if isinstance(config["units"].get(unit), dict):
            return service_property(unit, prop)
        if prop == "ActiveState":
            return GLib.Variant("s", config.get("states", {}).get(unit, "active"))
        if prop == "SubState":
            return GLib.Variant("s", "running")
        return GLib.Variant("i" if prop.startswith("ExecMain") else "u", 0)

    def unit_object(unit):
        if unit not in unit_paths:
            unit_paths[unit] = "%s/unit/%d" % (OBJECT_PATH, len(unit_paths) + 1)
            conn.register_object(unit_paths[unit], node.interfaces[1], None, unit_property, None)
            conn.register_object(unit_paths[unit], node.interfaces[2], None, unit_property, None)
        return unit_paths[unit]

    # ---- service units: {"exec": CMD, ...} in config["units"] ----
    # Like systemd for Type=exec with Restart=on-failure: StartUnit runs CMD (as
    # `sh -c "exec CMD"`, so MainPID is the program), "active" once spawned; an exit
    # that is not clean restarts it after restart_sec (NRestarts + 1) unless
    # start_limit_burst starts happened within 10 s (then "failed"); a clean exit is
    # "inactive". StopUnit sends SIGTERM, SIGKILL after timeout_stop. Reload*: SIGHUP
    # to the main process when "reload" is "HUP"; ReloadOrRestartUnit starts a unit
    # that is not running, ReloadOrTryRestartUnit leaves it alone. Each change is
    # sent as PropertiesChanged (to subscribers) and recorded as kind "unit".
    services = {}

    def svc(unit):
        return services.setdefault(unit, {"active": "inactive", "sub": "dead", "proc": None, "pid": 0,
                                          "nrestarts": 0, "code": 0, "status": 0, "starts": [],
                                          "stop_job": None, "kill_timer": None, "restart_timer": None})

    def service_property(unit, prop):
        st = svc(unit)
        return {"ActiveState": GLib.Variant("s", st["active"]), "SubState": GLib.Variant("s", st["sub"]),
                "MainPID": GLib.Variant("u", st["pid"]), "NRestarts": GLib.Variant("u", st["nrestarts"]),
                "ExecMainCode": GLib.Variant("i", st["code"]),
                "ExecMainStatus": GLib.Variant("i", st["status"])}[prop]

    def set_service(unit, active, sub):
        st = svc(unit)
        st["active"], st["sub"] = active, sub
        record(kind="unit", unit=unit, active=active, sub=sub, pid=st["pid"], nrestarts=st["nrestarts"],
               code=st["code"], status=st["status"])
        log("%s: %s (%s) pid %d" % (unit, active, sub, st["pid"]))
        if not subscribers:
            return
        path = unit_object(unit)
        conn.emit_signal(None, path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                         GLib.Variant("(sa{sv}as)", ("org.freedesktop.systemd1.Service", {
                             "MainPID": service_property(unit, "MainPID"),
                             "NRestarts": service_property(unit, "NRestarts"),
                             "ExecMainCode": service_property(unit, "ExecMainCode"),
                             "ExecMainStatus": service_property(unit, "ExecMainStatus")}, [])))
        conn.emit_signal(None, path, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                         GLib.Variant("(sa{sv}as)", ("org.freedesktop.systemd1.Unit", {
                             "ActiveState": service_property(unit, "ActiveState"),
                             "SubState": service_property(unit, "SubState")}, [])))

    def spawn(unit, spec):
        st = svc(unit)
        now = time.monotonic()
        st["starts"] = [t for t in st["starts"] if now - t < 10] + [now]
        if len(st["starts"]) > spec.get("start_limit_burst", 5):
            st["pid"] = 0
            set_service(unit, "failed", "failed")
            return False
        out = os.open(os.path.join(os.path.dirname(config_path), "unit-%s.log" % unit),
                      os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        launcher = Gio.SubprocessLauncher.new(Gio.SubprocessFlags.STDERR_MERGE)
        launcher.take_stdout_fd(out)
        try:
            # setsid: a process group of its own, signalled as a whole as systemd
            # does with KillMode=control-group (setsid execs without forking: the
            # child is no group leader, so MainPID is the program).
            proc = launcher.spawnv(["setsid", "/bin/sh", "-c", "exec " + spec["exec"]])
        except GLib.Error as e:
            log("%s: cannot start: %s" % (unit, e.message))
            st["pid"], st["code"], st["status"] = 0, 1, 203
            set_service(unit, "failed", "failed")
            return False
        st["proc"], st["pid"] = proc, int(proc.get_identifier())
        set_service(unit, "active", "running")
        proc.wait_async(None, lambda p, res: exited(unit, spec, p, res))
        return True

    def exited(unit, spec, proc, res):
        st = svc(unit)
        try:
            proc.wait_finish(res)
        except GLib.Error:
            pass
        if st["proc"] is not proc:
            return
        if st["pid"]:
            killpg(st["pid"], signal.SIGKILL)       # what is left of its group, as systemd does
        st["proc"], st["pid"] = None, 0
        if proc.get_if_exited():
            st["code"], st["status"] = 1, proc.get_exit_status()       # CLD_EXITED
        else:
            st["code"], st["status"] = 2, proc.get_term_sig()          # CLD_KILLED
        if st["kill_timer"]:
            GLib.source_remove(st["kill_timer"])
            st["kill_timer"] = None
        if st["stop_job"]:
            job, st["stop_job"] = st["stop_job"], None
            set_service(unit, "inactive", "dead")
            del pending[unit]
            job_removed(job["id"], job["path"], unit, "done")
            return
        clean = st["code"] == 1 and st["status"] == 0
        if clean or spec.get("restart", "on-failure") == "no":
            set_service(unit, "inactive" if clean else "failed", "dead" if clean else "failed")
            return
        set_service(unit, "activating", "auto-restart")

        def restart():
            st["restart_timer"] = None
            if st["active"] == "activating" and st["sub"] == "auto-restart":
                st["nrestarts"] += 1
                spawn(unit, spec)
            return False
        st["restart_timer"] = GLib.timeout_add(int(spec.get("restart_sec", 0.2) * 1000), restart)

    def service_job(method, unit, spec, invocation):
        st = svc(unit)
        jobs[0] += 1
        job = {"id": jobs[0], "path": "%s/job/%d" % (OBJECT_PATH, jobs[0]), "unit": unit, "rerun": False}
        invocation.return_value(GLib.Variant("(o)", (job["path"],)))
        running = st["proc"] is not None
        if method == "StopUnit":
            if st["restart_timer"]:
                GLib.source_remove(st["restart_timer"])
                st["restart_timer"] = None
            if not running:
                if st["active"] != "failed":
                    set_service(unit, "inactive", "dead")
                return job_removed(job["id"], job["path"], unit, "done")
            pending[unit] = job
            st["stop_job"] = job
            set_service(unit, "deactivating", "stop-sigterm")
            killpg(st["pid"], signal.SIGTERM)

            def kill():
                st["kill_timer"] = None
                if st["proc"]:
                    killpg(st["pid"], signal.SIGKILL)
                return False
            st["kill_timer"] = GLib.timeout_add(int(spec.get("timeout_stop", 10) * 1000), kill)
            return
        if running and method != "StartUnit":
            if spec.get("reload") == "HUP":
                st["proc"].send_signal(signal.SIGHUP)
            return job_removed(job["id"], job["path"], unit, "done")
        if running or method == "ReloadOrTryRestartUnit":
            return job_removed(job["id"], job["path"], unit, "done")
        st["starts"] = []
        ok = spawn(unit, spec)
        job_removed(job["id"], job["path"], unit, "done" if ok else "failed")

    def killpg(pid, sig):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass

    def stop_all_services():
        for st in services.values():
            if st["proc"] is not None:
                killpg(st["pid"], signal.SIGKILL)

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
    stop_all_services()
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
