"""Boot the test image under QEMU (TCG) and talk to the guest's check script.

Design: one VM object per boot. QEMU runs with the disk in snapshot mode, no network but
QEMU's user network with restrict=on (the only ways out are the guestfwd to the AWS
emulator and the hostfwd of the guest's port 80, both on 127.0.0.1), and three
character devices:
  - the serial console          -> console.log (kernel and systemd messages);
  - virtio port "results"       -> results.log, the guest's report lines (a file, so
                                   nothing is lost whatever the host is doing);
  - virtio port "control"       <- a unix socket the host writes "GO token" lines to.
The host waits on results.log's content, with deadlines; it never sleeps to synchronise.
A boot has a hard limit (300 s by default): past it QEMU is killed and the boot fails.
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import time

GUEST_MAC = "02:aa:bb:cc:dd:ee"   # the emulator's instance metadata names this MAC
# cloud-init identifies AWS by a system UUID starting with "ec2" that equals the serial
# number (as on Xen and Nitro instances); only then does its Ec2 datasource use IMDSv2
# tokens, which the emulator (like an instance with IMDSv1 disabled) requires.
GUEST_UUID = "ec2a1b2c-3d4e-5f60-7182-93a4b5c6d7e8"


class VMError(Exception):
    pass


_LIBC = ctypes.CDLL(None, use_errno=True)   # loaded here: nothing to load after fork()


def _die_with_parent():
    """In QEMU's child before exec: SIGKILL when the test process dies, whatever kills it."""
    _LIBC.prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def qemu_binary():
    return shutil.which("qemu-system-x86_64")


class VM:
    def __init__(self, image, workdir, name, imds_port, scenario, limit=300.0):
        self.workdir = os.path.join(workdir, name)
        os.makedirs(self.workdir)
        self.name = name
        self.limit = limit
        self.http_port = free_port()
        self.results_path = os.path.join(self.workdir, "results.log")
        self.console_path = os.path.join(self.workdir, "console.log")
        self.control_path = os.path.join(self.workdir, "control.sock")
        self._offset = 0
        self._pending = b""
        self._control = None
        self.lines = []
        netdev = ("user,id=n0,restrict=on,net=169.254.0.0/16,"
                  "guestfwd=tcp:169.254.169.254:80-cmd:socat STDIO TCP:127.0.0.1:%d,"
                  "hostfwd=tcp:127.0.0.1:%d-:80" % (imds_port, self.http_port))
        self.cmd = [
            qemu_binary(), "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "1536",
            "-nodefaults", "-no-reboot", "-display", "none", "-vga", "none", "-monitor", "none",
            "-uuid", GUEST_UUID, "-smbios", "type=1,serial=%s,manufacturer=Amazon EC2" % GUEST_UUID,
            "-kernel", image["kernel"], "-initrd", image["initrd"],
            "-append", "root=/dev/vda rw console=ttyS0 panic=-1 agentd_vm.scenario=" + scenario,
            "-drive", "file=%s,format=raw,if=virtio,snapshot=on" % image["disk"],
            "-netdev", netdev, "-device", "virtio-net-pci,netdev=n0,mac=" + GUEST_MAC,
            "-device", "virtio-rng-pci",
            "-chardev", "file,id=console,path=" + self.console_path, "-serial", "chardev:console",
            "-device", "virtio-serial-pci",
            "-chardev", "file,id=results,path=" + self.results_path,
            "-device", "virtserialport,chardev=results,name=results",
            "-chardev", "socket,id=control,path=%s,server=on,wait=off" % self.control_path,
            "-device", "virtserialport,chardev=control,name=control",
        ]
        self._stderr = open(os.path.join(self.workdir, "qemu.log"), "wb")
        self.started = time.monotonic()
        self.deadline = self.started + limit
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=self._stderr,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def elapsed(self):
        return time.monotonic() - self.started

    # ---------------------------------------------------------------- results
    def _read_new(self):
        try:
            with open(self.results_path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        self._pending += data
        *complete, self._pending = self._pending.split(b"\n")
        new = [(self.elapsed(), l.decode("utf-8", "replace")) for l in complete]
        self.lines += new
        return new

    def wait_line(self, pred, timeout, what):
        """Waits until a new results line satisfies pred; returns the line. Fails on the
        boot's hard limit, on QEMU's exit, or after timeout seconds."""
        deadline = min(time.monotonic() + timeout, self.deadline)
        while True:
            for _, line in self._read_new():
                if pred(line):
                    return line
            if self.proc.poll() is not None:
                for _, line in self._read_new():
                    if pred(line):
                        return line
                raise VMError("%s: QEMU exited (%s) while waiting for %s" % (self.name, self.proc.returncode, what))
            if time.monotonic() > deadline:
                raise VMError("%s: no %s after %.0f s (boot at %.0f s of %.0f)" % (
                    self.name, what, timeout, self.elapsed(), self.limit))
            time.sleep(0.1)   # polling the results file, not synchronisation

    def send(self, line):
        """Writes one line to the guest's control port (connects on first use)."""
        if self._control is None:
            deadline = time.monotonic() + 30
            while True:
                try:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(self.control_path)
                    self._control = s
                    break
                except OSError:
                    s.close()
                    if time.monotonic() > deadline or self.proc.poll() is not None:
                        raise VMError("%s: cannot connect to QEMU's control socket" % self.name)
                    time.sleep(0.1)
        self._control.sendall((line + "\n").encode())

    # ------------------------------------------------------------------- exit
    def wait_exit(self, timeout):
        """QEMU's exit status, or None if it was killed at the deadline."""
        remaining = max(0.0, min(timeout, self.deadline - time.monotonic()))
        try:
            rc = self.proc.wait(remaining)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        self._read_new()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._read_new()

    def close(self):
        self.kill()
        if self._control is not None:
            self._control.close()
        self._stderr.close()

    def console_tail(self, n=60):
        try:
            with open(self.console_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").replace("\r", "").splitlines()
        except FileNotFoundError:
            return "(no console output)"
        return "\n".join(lines[-n:])

    def qemu_log(self):
        with open(os.path.join(self.workdir, "qemu.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")
