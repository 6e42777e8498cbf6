#!/usr/bin/python3
"""Tests of agentd's Debian package and its documentation.

Usage: test_package.py SOURCE_ROOT AGENTD AGENTCTL {manpages|dropins|maintainer}

manpages:   the manual pages cannot drift from the source. Every key of the config
  parser's tables (the ITEM tables in agent/src, wherever the file lives) has a
  ".TP / .B key" entry under its ".SS [section]" of agentd.conf(5), and no entry names
  a key the parser does not know; every long option of agentd and agentctl (their
  `struct option` tables) is in their page; every agentctl command of `agentctl
  --help` is in the SYNOPSIS and COMMANDS of agentctl(8); debian/changelog's version
  is meson's project version.
dropins:    the default drop-ins the package installs (units/conf.d/) pass
  `agentd --check-config`, alone and together with the example configuration's
  sections.
maintainer: what dpkg's maintainer scripts do, in a Debian 12 chroot made by
  mmdebstrap with the package built by `./dev deb`. systemd is not running in a
  chroot, so `systemctl` is diverted to a stand-in that records its calls and
  /run/systemd/system exists (the scripts' "is systemd running" test): install
  enables agentd.service and agentd-health.socket and starts nothing; an upgrade
  try-restarts them; remove stops them and removes the unit files (the
  enablement symlinks stay until purge, Debian's convention, so a reinstall keeps
  it); purge removes every enablement symlink, /var/lib/agentd and the conffiles. A mirror that cannot be
  reached is a skip (exit 77), as in the boot test.
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

SRC = AGENTD = AGENTCTL = None
failures = 0


def check(cond, what):
    global failures
    if cond:
        print(f"ok: {what}")
    else:
        failures += 1
        print(f"FAIL: {what}", file=sys.stderr)


def read(*parts):
    with open(os.path.join(SRC, *parts), encoding="utf-8") as f:
        return f.read()


def find_source(name):
    """A file of agent/src by base name, wherever the layer folders put it."""
    hits = sorted(glob.glob(os.path.join(SRC, "agent", "src", "**", name), recursive=True))
    if len(hits) != 1:
        sys.exit(f"FAIL: expected one agent/src/**/{name}, found {hits}")
    with open(hits[0], encoding="utf-8") as f:
        return hits[0], f.read()


# ------------------------------------------------------------------ man pages
def parser_keys():
    """{section: set(keys)} from the parser's tables: every `X_items[]` key
    table, every `ConfSection` naming one (in the layer that owns it), and
    the list of sections agentd reads (`config_sections[]` in the daemon).
    A named kind ([secret.NAME]) is keyed "secret.NAME"; free-form sections
    ([vars]) have no table and are left out."""
    tables, sections, used, where = {}, {}, None, None
    for path in sorted(glob.glob(os.path.join(SRC, "agent", "src", "**", "*.c"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for m in re.finditer(r"(\w+)_items\[\]\s*=\s*\{(.*?)\n\};", text, re.S):
            keys = set(re.findall(r'\b[A-Z_]*ITEM\(\s*"([a-z0-9_]+)"', m.group(2)))
            if keys:
                tables[m.group(1)] = keys
        for m in re.finditer(r"ConfSection\s+(\w+)\s*=\s*\{(.*?)\}\s*;", text, re.S):
            name = re.search(r'\.name\s*=\s*"([a-z]+)"', m.group(2))
            items = re.search(r"\.items\s*=\s*(\w+)_items\b", m.group(2))
            if name and items:
                named = re.search(r"\.named\s*=\s*true", m.group(2)) is not None
                sections[m.group(1)] = (name.group(1) + (".NAME" if named else ""), items.group(1))
        block = re.search(r"config_sections\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
        if block:
            used = re.findall(r"\{\s*&(\w+)\s*,", block.group(1))
            where = path
    if not used:
        sys.exit("FAIL: no config_sections[] table found under agent/src")
    return {sections[v][0]: tables.get(sections[v][1], set()) for v in used if v in sections}, where


def man_entries(page):
    """{section: set(keys)} of agentd.conf(5): '.B key' lines that follow .TP/.TQ
    under each '.SS [section]'."""
    entries, section, prev = {}, None, ""
    for line in page.splitlines():
        m = re.match(r"^\.SS \[([a-z.A-Z]+)\]\s*$", line)
        if m:
            section = m.group(1)
            entries.setdefault(section, set())
        elif line.startswith(".SH"):
            section = None
        elif section and prev in (".TP", ".TQ"):
            k = re.match(r"^\.B ([a-z0-9_]+)\s*$", line)
            if k:
                entries[section].add(k.group(1))
        prev = line.strip()
    return entries


def long_options(text):
    return set(re.findall(r'\{\s*"([a-z-]+)",\s*(?:no|required|optional)_argument', text))


def unescape(troff):
    return re.sub(r"\\f[BIRP]", "", troff).replace("\\-", "-")


def manpages():
    keys, conf_path = parser_keys()
    page = read("agent", "man", "agentd.conf.5")
    documented = man_entries(page)
    print(f"parser tables: {os.path.relpath(conf_path, SRC)}, {sum(map(len, keys.values()))} keys "
          f"in {len(keys)} sections")
    for section, want in sorted(keys.items()):
        have = documented.get(section)
        check(have is not None, f"agentd.conf(5) has a section [{section}]")
        if have is None:
            continue
        check(not (want - have), f"agentd.conf(5) [{section}] documents every key "
              f"(missing: {sorted(want - have)})")
        check(not (have - want), f"agentd.conf(5) [{section}] documents no unknown key "
              f"(unknown: {sorted(have - want)})")
    extra = set(documented) - set(keys) - {"vars"}
    check(not extra, f"agentd.conf(5) has no section the parser lacks (got {sorted(extra)})")
    check("vars" in documented, "agentd.conf(5) documents [vars]")

    for binary, page_name in (("agentd.c", "agentd.8"), ("agentctl.c", "agentctl.8")):
        path, text = find_source(binary)
        opts = long_options(text)
        man = unescape(read("agent", "man", page_name))
        check(len(opts) >= 3, f"{binary}: found its long options ({sorted(opts)})")
        missing = sorted(o for o in opts if f"--{o}" not in man)
        check(not missing, f"{page_name} documents every long option of {binary} (missing: {missing})")

    # agentctl's commands, as its --help prints them, against the page.
    p = subprocess.run([AGENTCTL, "--help"], capture_output=True, text=True, timeout=10)
    check(p.returncode == 0, "agentctl --help exits 0")
    commands = re.findall(r"^\s*agentctl \[--socket PATH\] ([a-z]+)", p.stdout, re.M)
    check(len(commands) >= 5, f"agentctl --help lists its commands ({commands})")
    man = read("agent", "man", "agentctl.8")
    synopsis = man.split(".SH SYNOPSIS", 1)[-1].split(".SH", 1)[0]
    in_synopsis = re.findall(r"^\.B ([a-z]+)\s*$", synopsis, re.M)
    commands_sec = man.split(".SH COMMANDS", 1)[-1].split(".SH", 1)[0]
    described = re.findall(r"^\.TP\n\.BI? ([a-z]+)", commands_sec, re.M)
    check(sorted(set(in_synopsis) - {"agentctl"}) == sorted(commands),
          f"agentctl(8) SYNOPSIS lists exactly the commands of --help ({sorted(set(in_synopsis) - {'agentctl'})} "
          f"vs {sorted(commands)})")
    check(sorted(described) == sorted(commands),
          f"agentctl(8) COMMANDS describes exactly the commands of --help ({sorted(described)})")
    # The options --help shows appear in the page too.
    for opt in set(re.findall(r"--([a-z-]+)", p.stdout)):
        check(f"--{opt}" in unescape(man), f"agentctl(8) documents --{opt} (shown by --help)")
    p = subprocess.run([AGENTD, "--help"], capture_output=True, text=True, timeout=10)
    man = unescape(read("agent", "man", "agentd.8"))
    for opt in set(re.findall(r"--([a-z-]+)", p.stdout)):
        check(f"--{opt}" in man, f"agentd(8) documents --{opt} (shown by --help)")

    # The drift check must be able to fail: a key removed from the page is noticed.
    victim_section = sorted(keys)[0]
    victim = sorted(keys[victim_section])[0]
    broken = re.sub(rf"^\.B {victim}\s*$", ".B renamed_key", page, count=1, flags=re.M)
    got = man_entries(broken).get(victim_section, set())
    check(victim not in got and "renamed_key" in got,
          f"self-check: a page without [{victim_section}] {victim} is caught")

    meson_version = re.search(r"version\s*:\s*'([^']+)'", read("meson.build")).group(1)
    changelog = re.match(r"agentd \(([^)]+)\)", read("debian", "changelog")).group(1)
    check(changelog == meson_version,
          f"debian/changelog's version {changelog} is meson's project version {meson_version}")
    for page_name in ("agentd.8", "agentctl.8", "agentd.conf.5"):
        check(f'"agentd {meson_version}"' in read("agent", "man", page_name),
              f"{page_name} names version {meson_version}")


# --------------------------------------------------------------------- drop-ins
def dropins():
    conf_d = os.path.join(SRC, "units", "conf.d")
    files = sorted(glob.glob(os.path.join(conf_d, "*.conf")))
    check(len(files) >= 2, f"default drop-ins found ({[os.path.basename(f) for f in files]})")
    for f in files:
        p = subprocess.run([AGENTD, "--check-config", "--config", f], capture_output=True, text=True, timeout=10)
        check(p.returncode == 0, f"{os.path.basename(f)} passes agentd --check-config ({(p.stdout + p.stderr).strip()})")
    # As installed: /etc/agentd/agentd.conf.d/ with both, plus what the user data writes.
    tmp = tempfile.mkdtemp(prefix="agentd-dropins-")
    try:
        d = os.path.join(tmp, "agentd.conf.d")
        os.makedirs(d)
        for f in files:
            shutil.copy(f, d)
        with open(os.path.join(d, "50-userdata.conf"), "w") as f:
            f.write("[aws]\nregion = eu-central-1\n\n[secret.db]\nid = app-db\n\n[logs]\n"
                    "log_group = /aws/ec2/php-app\n\n[lifecycle]\nasg_name = php-app-asg\n")
        p = subprocess.run([AGENTD, "--check-config", "--config", tmp], capture_output=True, text=True, timeout=10)
        out = (p.stdout + p.stderr).strip()
        check(p.returncode == 0 and f"{len(files) + 1} file(s)" in out,
              f"drop-ins and the user data's file together pass --check-config ({out})")
        # And the check can fail: a key today's parser does not know is refused.
        with open(os.path.join(d, "20-bad.conf"), "w") as f:
            f.write("[logs]\nsources = journal\n")
        p = subprocess.run([AGENTD, "--check-config", "--config", tmp], capture_output=True, text=True, timeout=10)
        check(p.returncode != 0 and "20-bad.conf" in p.stdout + p.stderr,
              "self-check: an unknown [logs] key in a drop-in is refused, naming the file")
    finally:
        shutil.rmtree(tmp)


# ------------------------------------------------------------ maintainer scripts
SYSTEMCTL_STANDIN = r"""#!/bin/sh
# Records every call (the maintainer scripts' view of systemd). Offline verbs (unit
# file enablement) go to the real systemctl; the ones that need a running systemd
# (start, stop, restart, daemon-reload...) are only recorded.
echo "systemctl $*" >>/var/log/systemctl-calls
for a in "$@"; do
        case $a in
        preset|enable|disable|mask|unmask|is-enabled|reenable|list-unit-files)
                exec /usr/bin/systemctl.distrib "$@" ;;
        is-active) exit 3 ;;
        esac
done
exit 0
"""

RUNTIME_PACKAGES = ["systemd", "init-system-helpers", "libcurl4", "libcjson1", "libinih1",
                    "libmicrohttpd12", "libmariadb3", "libsystemd0", "libmnl0", "zlib1g"]


def chroot(root, *cmd, check_rc=True):
    p = subprocess.run(["chroot", root] + list(cmd), capture_output=True, text=True, timeout=300,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
                            "LC_ALL": "C"})
    if check_rc and p.returncode != 0:
        print(p.stdout + p.stderr, file=sys.stderr)
    return p


def calls(root):
    path = os.path.join(root, "var/log/systemctl-calls")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = f.read().splitlines()
    os.unlink(path)
    return lines


def links(root, unit):
    return sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "etc/systemd/system/**", unit),
                                                            recursive=True))


def build_deb():
    p = subprocess.run([os.path.join(SRC, "dev"), "deb", "--no-lintian"], capture_output=True, text=True,
                       timeout=900, cwd=SRC)
    if p.returncode != 0:
        sys.exit(f"FAIL: ./dev deb failed:\n{p.stderr[-3000:]}")
    return p.stdout.strip().splitlines()[-1]


def maintainer():
    if os.geteuid() != 0:
        print("SKIP: needs root (chroot)")
        sys.exit(77)
    for tool, pkg in (("mmdebstrap", "mmdebstrap"), ("dpkg-buildpackage", "dpkg-dev")):
        if not shutil.which(tool):
            sys.exit(f"FAIL: {tool} not found: install Debian package {pkg} (.ci/packages/deb.txt)")
    sys.path.insert(0, os.path.join(SRC, "tests", "vm"))
    import vmimage  # the boot test's mirror detection: the host's bookworm sources
    deb = build_deb()
    print(f"package: {deb}")
    tmp = tempfile.mkdtemp(prefix="agentd-maint-")
    root = os.path.join(tmp, "root")
    mounted = []
    try:
        mirrors = vmimage.host_mirrors()
        cmd = ["mmdebstrap", "--variant=minbase", "--mode=root", "--include=" + ",".join(RUNTIME_PACKAGES),
               "--aptopt=Acquire::Retries \"3\"", "--dpkgopt=path-exclude=/usr/share/man/*",
               "--dpkgopt=path-exclude=/usr/share/doc/*", "--dpkgopt=path-exclude=/usr/share/locale/*",
               "bookworm", root] + mirrors
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            out = p.stdout + p.stderr
            if vmimage.MIRROR_ERRORS.search(out):
                print(f"SKIP: the Debian mirror cannot be reached ({mirrors[0]})\n{out[-1500:]}")
                sys.exit(77)
            sys.exit(f"FAIL: mmdebstrap failed:\n{out[-3000:]}")
        # "systemd is running" for the scripts, through a recording systemctl;
        # systemd-tmpfiles wants /proc.
        subprocess.run(["mount", "-t", "proc", "proc", os.path.join(root, "proc")], check=True)
        mounted.append(os.path.join(root, "proc"))
        os.makedirs(os.path.join(root, "run/systemd/system"), exist_ok=True)
        p = chroot(root, "dpkg-divert", "--local", "--rename", "--add", "/usr/bin/systemctl")
        check(p.returncode == 0, "systemctl diverted to the recording stand-in")
        with open(os.path.join(root, "usr/bin/systemctl"), "w") as f:
            f.write(SYSTEMCTL_STANDIN)
        os.chmod(os.path.join(root, "usr/bin/systemctl"), 0o755)
        shutil.copy(deb, os.path.join(root, "tmp", "agentd.deb"))

        # 1. Install on a machine with no instance configuration.
        p = chroot(root, "dpkg", "-i", "/tmp/agentd.deb")
        check(p.returncode == 0, f"install: dpkg -i exits 0 ({p.stderr.strip()[-300:]})")
        c = calls(root)
        check(links(root, "agentd.service") == ["etc/systemd/system/multi-user.target.wants/agentd.service"],
              f"install: agentd.service enabled (multi-user.target.wants) ({links(root, 'agentd.service')})")
        check(links(root, "agentd-health.socket") == ["etc/systemd/system/sockets.target.wants/agentd-health.socket"],
              "install: agentd-health.socket enabled (sockets.target.wants)")
        started = [x for x in c if re.search(r"\b(start|restart|try-restart|reload-or-restart)\b", x)]
        check(not started, f"install: nothing started (systemctl calls: {c})")
        check(os.path.isdir(os.path.join(root, "var/lib/agentd")) and
              oct(os.stat(os.path.join(root, "var/lib/agentd")).st_mode & 0o7777) == "0o750",
              "install: tmpfiles created /var/lib/agentd 0750")
        check(os.path.isfile(os.path.join(root, "etc/agentd/agentd.conf.d/10-checks.conf")),
              "install: default drop-ins in /etc/agentd/agentd.conf.d")
        p = chroot(root, "agentd", "--check-config")
        check(p.returncode == 0, f"install: the installed agentd accepts its installed configuration "
              f"({(p.stdout + p.stderr).strip()})")
        p = chroot(root, "dpkg-query", "-W", "-f=${Conffiles}", "agentd")
        check("/etc/agentd/agentd.conf.d/10-checks.conf" in p.stdout, "install: the drop-ins are conffiles")

        # 1b. The plugin package: its units neither enabled nor started (agentd
        # starts them, [plugin.NAME]); its user created by sysusers.
        ingest = os.path.join(os.path.dirname(deb), os.path.basename(deb).replace("agentd_", "agentd-ingest_"))
        check(os.path.exists(ingest), f"the plugin package was built too ({os.path.basename(ingest)})")
        shutil.copy(ingest, os.path.join(root, "tmp", "agentd-ingest.deb"))
        p = chroot(root, "dpkg", "-i", "/tmp/agentd-ingest.deb")
        check(p.returncode == 0, f"agentd-ingest: dpkg -i exits 0 ({p.stderr.strip()[-300:]})")
        c = calls(root)
        check(links(root, "agentd-ingest.service") == [], "agentd-ingest: its unit is not enabled")
        check(not [x for x in c if "agentd-ingest" in x and re.search(r"\b(start|restart)\b", x)],
              f"agentd-ingest: nothing started ({c})")
        check(os.access(os.path.join(root, "usr/libexec/agentd/ingest-api"), os.X_OK) and
              os.path.exists(os.path.join(root, "usr/share/agentd/templates/ingest-credentials.in")),
              "agentd-ingest: the programs and the credentials template are installed")
        p = chroot(root, "getent", "passwd", "agentd-ingest", check_rc=False)
        check(p.returncode == 0, "agentd-ingest: its user exists (sysusers)")
        p = chroot(root, "dpkg", "--purge", "agentd-ingest")
        check(p.returncode == 0, "agentd-ingest: dpkg --purge exits 0")

        # 2. Upgrade (the same package again: configure is called with the old version).
        with open(os.path.join(root, "var/lib/agentd/checkpoint"), "w") as f:
            f.write("state\n")
        p = chroot(root, "dpkg", "-i", "/tmp/agentd.deb")
        c = calls(root)
        check(p.returncode == 0, "upgrade: dpkg -i exits 0")
        check(any(re.search(r"\btry-restart\b.*agentd\.service", x) for x in c),
              f"upgrade: agentd.service restarted if running (try-restart) ({c})")
        check(not any(re.search(r"\b(start|restart)\b", x) and "try-restart" not in x for x in c),
              "upgrade: a stopped agentd is not started")
        check(os.path.exists(os.path.join(root, "var/lib/agentd/checkpoint")), "upgrade: /var/lib/agentd kept")

        # 3. Remove.
        p = chroot(root, "dpkg", "--remove", "agentd")
        c = calls(root)
        check(p.returncode == 0, "remove: dpkg --remove exits 0")
        check(any(re.search(r"\bstop\b.*agentd\.service", x) for x in c), f"remove: agentd.service stopped ({c})")
        check(any(re.search(r"\bstop\b.*agentd-health\.socket", x) for x in c), "remove: agentd-health.socket stopped")
        check(not os.path.exists(os.path.join(root, "lib/systemd/system/agentd.service")),
              "remove: the unit file is gone, so nothing can start agentd")
        # Debian's convention (deb-systemd-helper): the enablement survives a remove so
        # that a reinstall restores it, and goes with purge.
        check(links(root, "agentd.service") == ["etc/systemd/system/multi-user.target.wants/agentd.service"],
              "remove: enablement kept until purge (Debian's convention)")
        check(not os.path.exists(os.path.join(root, "usr/bin/agentd")), "remove: /usr/bin/agentd gone")
        check(os.path.exists(os.path.join(root, "var/lib/agentd/checkpoint")), "remove: state kept until purge")

        # 4. Purge.
        p = chroot(root, "dpkg", "--purge", "agentd")
        check(p.returncode == 0, "purge: dpkg --purge exits 0")
        check(not os.path.exists(os.path.join(root, "var/lib/agentd")), "purge: /var/lib/agentd removed")
        check(links(root, "agentd.service") == [] and links(root, "agentd-health.socket") == [],
              f"purge: no enablement or mask symlink left ({links(root, 'agentd.service')})")
        check(not os.path.exists(os.path.join(root, "etc/agentd/agentd.conf.d/10-checks.conf")),
              "purge: conffiles removed")
    finally:
        for m in mounted:
            subprocess.run(["umount", "-l", m])
        if not mounted or not os.path.ismount(mounted[0]):
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    global SRC, AGENTD, AGENTCTL
    if len(sys.argv) != 5 or sys.argv[4] not in ("manpages", "dropins", "maintainer"):
        sys.exit(__doc__)
    SRC, AGENTD, AGENTCTL = sys.argv[1:4]
    {"manpages": manpages, "dropins": dropins, "maintainer": maintainer}[sys.argv[4]]()
    print(f"{'FAILED' if failures else 'PASSED'}: {failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
