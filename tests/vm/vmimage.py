"""Build the boot test's guest image: a Debian 12 root file system made by mmdebstrap,
the "AMI" configuration and the test's guest side baked in, packed with `mkfs.ext4 -d`
into a raw disk (no loop devices, no mounts). The kernel and initrd are copied out for
QEMU's -kernel/-initrd boot. agentd is NOT in the image: the user data installs the
package `./dev deb` built, fetched from the emulator's S3, as on a stock AMI. The
image has agentd's runtime libraries already (the guest has no route to a mirror), so
`apt-get install ./agentd.deb` resolves its dependencies offline.

Design: one image per test run, in the run's temp dir; QEMU boots it with snapshot=on as
often as the scenarios need, so every boot starts from the same first-boot state, as an
instance launched from an AMI. The slow part, mmdebstrap (about 70 s), depends only on
the package list and the mirror: with AGENTD_VM_CACHE=DIR (development only) its tarball
is kept there, keyed by both, and the next run skips it.

A mirror that cannot be reached is not a test failure: build() raises MirrorError, and
the driver reports it as a skip (exit 77).
"""

import glob
import hashlib
import os
import re
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST = os.path.join(HERE, "guest")
SUITE = "bookworm"

PACKAGES = [
    # what the guest needs to boot as an EC2 instance
    "systemd-sysv", "udev", "dbus", "linux-image-amd64", "cloud-init", "iproute2", "curl",
    "netbase", "ca-certificates", "procps",
    # the services agentd renders configuration for
    "nginx", "php8.2-fpm",
    # agentd's runtime libraries
    "libsystemd0", "libcurl4", "libcjson1", "libinih1", "libmicrohttpd12", "libmariadb3", "libmnl0",
]

# apt/mmdebstrap messages that mean the mirror could not be reached or served a file.
MIRROR_ERRORS = re.compile(
    r"Failed to fetch|Could not resolve|Temporary failure resolving|Could not connect|"
    r"Unable to connect|Connection failed|Connection timed out|Unable to fetch|"
    r"Some index files failed to download|Hash Sum mismatch|File has unexpected size|"
    r"Network is unreachable|No route to host|401  Unauthorized|403  Forbidden|"
    r"404  Not Found|Release file .* is not valid yet|apt-get update failed|apt-get download failed")


class MirrorError(Exception):
    """mmdebstrap could not download from the mirror: reported as a skip."""


class BuildError(Exception):
    pass


def host_mirrors(paths=None):
    """The Debian archive lines of the host's apt sources (one-line and deb822 formats),
    only for the bookworm suites: ["deb URI SUITE COMPONENTS", ...]. Third-party
    repositories configured on the host (other suites) are left out."""
    if paths is None:
        paths = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")) + \
            sorted(glob.glob("/etc/apt/sources.list.d/*.sources"))
    lines = []
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.split()
                if "deb" not in fields.get("types", []) or fields.get("enabled", ["yes"])[0] == "no":
                    continue
                for uri in fields.get("uris", []):
                    for suite in fields.get("suites", []):
                        if suite.startswith(SUITE):
                            lines.append("deb %s %s %s" % (uri, suite, " ".join(fields.get("components", ["main"]))))
        else:
            for line in text.splitlines():
                parts = line.split("#", 1)[0].split()
                if len(parts) < 3 or parts[0] != "deb":
                    continue
                parts = [p for p in parts if not p.startswith("[")]   # [signed-by=...] options
                if len(parts) >= 3 and parts[2].startswith(SUITE):
                    lines.append(" ".join(parts))
    seen, out = set(), []
    for line in lines:
        if line not in seen:
            seen.add(line)
            out.append(line)
    if not any(l.split()[2] == SUITE for l in out):
        out.insert(0, "deb http://deb.debian.org/debian %s main" % SUITE)
    return out


def _run(cmd, log, **kw):
    """Runs cmd with output appended to log; returns (rc, output)."""
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)
    out = p.stdout.decode("utf-8", "replace")
    with open(log, "a", encoding="utf-8") as f:
        f.write("$ %s\n%s\n" % (" ".join(cmd), out))
    return p.returncode, out


def base_tarball(workdir, log, timeout=900):
    """The mmdebstrap root file system as a tarball (cached with AGENTD_VM_CACHE)."""
    mirrors = host_mirrors()
    key = hashlib.sha256(("\n".join(PACKAGES + mirrors)).encode()).hexdigest()[:16]
    cache = os.environ.get("AGENTD_VM_CACHE")
    if cache:
        cached = os.path.join(cache, "bookworm-%s.tar" % key)
        if os.path.exists(cached):
            return cached, mirrors, True
    tar = os.path.join(workdir, "base.tar")
    cmd = ["mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar",
           "--include=" + ",".join(PACKAGES),
           "--aptopt=Acquire::Retries \"3\"",
           "--dpkgopt=path-exclude=/usr/share/man/*",
           "--dpkgopt=path-exclude=/usr/share/locale/*",
           "--dpkgopt=path-include=/usr/share/locale/locale.alias",
           "--dpkgopt=path-exclude=/usr/share/doc/*",
           "--dpkgopt=path-include=/usr/share/doc/*/copyright",
           SUITE, tar] + mirrors
    try:
        rc, out = _run(cmd, log, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise MirrorError("mmdebstrap did not finish in %d s (slow or unreachable mirror: %s)" % (timeout, mirrors[0]))
    if rc != 0:
        m = MIRROR_ERRORS.search(out)
        tail = "\n".join(out.splitlines()[-15:])
        if m:
            raise MirrorError("mmdebstrap could not download from %s (%s):\n%s" % (mirrors[0], m.group(0), tail))
        raise BuildError("mmdebstrap failed (exit %d):\n%s" % (rc, tail))
    if cache:
        os.makedirs(cache, exist_ok=True)
        tmp = cached + ".tmp"
        shutil.copyfile(tar, tmp)
        os.replace(tmp, cached)
    return tar, mirrors, False


def _install(src, root, dest, mode=0o644):
    path = os.path.join(root, dest.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    shutil.copyfile(src, path)
    os.chmod(path, mode)
    return path


def _write(root, dest, text, mode=0o644):
    path = os.path.join(root, dest.lstrip("/"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def health_supported(build_dir, workdir):
    """Whether the agentd under test accepts the [check.*] health configuration (issue 4)."""
    agentd = os.path.join(build_dir, "agent", "src", "agentd")
    conf = os.path.join(workdir, "health-probe.conf")
    shutil.copyfile(os.path.join(GUEST, "20-ami-health.conf"), conf)
    p = subprocess.run([agentd, "--check-config", "--config", conf], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    return p.returncode == 0, p.stdout.decode("utf-8", "replace").strip()


def build(build_dir, workdir, log, with_health):
    """Builds the image in workdir. Returns a dict: disk, kernel, initrd, timings."""
    t0 = time.monotonic()
    tar, mirrors, cached = base_tarball(workdir, log)
    t1 = time.monotonic()
    root = os.path.join(workdir, "root")
    os.makedirs(root)
    rc, out = _run(["tar", "-C", root, "--numeric-owner", "-xpf", tar], log)
    if rc != 0:
        raise BuildError("extracting the root file system failed:\n" + out[-2000:])

    g = lambda name: os.path.join(GUEST, name)   # noqa: E731
    # The AMI's agentd configuration (not enabled: the user data enables and starts it).
    _install(g("10-ami.conf"), root, "/etc/agentd/agentd.conf.d/10-ami.conf", 0o640)
    if with_health:
        _install(g("20-ami-health.conf"), root, "/etc/agentd/agentd.conf.d/20-ami-health.conf", 0o640)
    # The sample plugin (its binary, unit and user come with the package).
    _install(g("30-ami-plugin.conf"), root, "/etc/agentd/agentd.conf.d/30-ami-plugin.conf", 0o640)
    # cloud-init: Ec2 datasource against the metadata server behind guestfwd.
    _install(g("99-agentd-vm-ec2.cfg"), root, "/etc/cloud/cloud.cfg.d/99-agentd-vm-ec2.cfg")
    # Network: systemd-networkd with DHCP (QEMU's user network).
    _install(g("20-vm.network"), root, "/etc/systemd/network/20-vm.network")
    # nginx: the AMI's pre-bootstrap site instead of Debian's default site; the app.
    default_site = os.path.join(root, "etc/nginx/sites-enabled/default")
    if os.path.lexists(default_site):
        os.unlink(default_site)
    site = _install(g("app-preboot.conf"), root, "/etc/nginx/sites-enabled/app.conf")
    with open(site, "rb") as f:
        _write(root, "/usr/local/lib/agentd-vm/app-preboot.sha256", hashlib.sha256(f.read()).hexdigest() + "\n")
    _install(g("index.php"), root, "/var/www/app/public/index.php")
    # The test's guest side.
    _install(g("vm-check"), root, "/usr/local/lib/agentd-vm/vm-check", 0o755)
    _install(g("vm-check.service"), root, "/etc/systemd/system/vm-check.service")
    _install(g("vm-stop-report.service"), root, "/etc/systemd/system/vm-stop-report.service")
    # First boot of an "AMI": no machine id yet, a hostname from cloud-init.
    _write(root, "/etc/machine-id", "")
    for p in ("var/lib/dbus/machine-id",):
        if os.path.lexists(os.path.join(root, p)):
            os.unlink(os.path.join(root, p))
    _write(root, "/etc/fstab", "/dev/vda / ext4 rw,relatime 0 1\n")
    rc, out = _run(["chroot", root, "systemctl", "enable", "systemd-networkd.service",
                    "vm-check.service", "vm-stop-report.service"], log)
    if rc != 0:
        raise BuildError("systemctl enable in the image failed:\n" + out[-2000:])
    if os.path.exists(os.path.join(root, "usr/bin/agentd")):
        raise BuildError("agentd is in the image: the user data must install it")

    kernels = sorted(glob.glob(os.path.join(root, "boot", "vmlinuz-*")))
    initrds = sorted(glob.glob(os.path.join(root, "boot", "initrd.img-*")))
    if not kernels or not initrds:
        raise BuildError("no kernel or initrd in the image's /boot")
    kernel = shutil.copyfile(kernels[-1], os.path.join(workdir, "vmlinuz"))
    initrd = shutil.copyfile(initrds[-1], os.path.join(workdir, "initrd.img"))

    disk = os.path.join(workdir, "disk.raw")
    rc, out = _run(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", root, disk, "3G"], log)
    if rc != 0:
        raise BuildError("mkfs.ext4 -d failed:\n" + out[-2000:])
    shutil.rmtree(root)
    if not cached and not os.environ.get("AGENTD_VM_CACHE"):
        os.unlink(tar)
    t2 = time.monotonic()
    return {"disk": disk, "kernel": kernel, "initrd": initrd, "mirror": mirrors[0],
            "mmdebstrap_s": t1 - t0, "cached": cached, "customise_s": t2 - t1}
