#!/bin/bash
# Tests of units/: run as `test-units.sh CHECK SOURCE_ROOT`, CHECK one of
#   verify     systemd-analyze verify on every unit, in a throw-away root
#   tmpfiles   systemd-tmpfiles --create in a throw-away root: paths, modes, owners
#   directives the settings the issue asks for are there, the forbidden ones are not
#   exposure   bench/security-exposure.sh prints the figure, and it is <= 2.5 (the
#              sample plugin's unit: lower than agentd's)
#
# Why a throw-away root for verify: `systemd-analyze verify` refuses a unit whose
# ExecStart binary does not exist, and /usr/bin/agentd is not installed on a build
# machine. With --root=DIR it resolves every path (units, targets, binaries) inside
# DIR, so DIR gets a copy of the host's systemd unit directory (for the targets the
# unit names), a stand-in /usr/bin/agentd, and the unit under /etc/systemd/system.
# Warnings (unknown keys, bad values) do not change verify's exit code, so any output
# at all is a failure too.
set -euo pipefail

check=${1:?usage: test-units.sh CHECK SOURCE_ROOT}
src=${2:?usage: test-units.sh CHECK SOURCE_ROOT}
units=$src/units

fail() { echo "FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$1 not found: install Debian package $2 (see .ci/packages/deploy.txt)"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

unit_files() {
        local f
        for f in "$units"/*.service "$units"/*.socket; do
                [ -e "$f" ] && printf '%s\n' "$f"
        done
}

check_verify() {
        need systemd-analyze systemd
        local root=$tmp/root n=0 f name out
        mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
        ln -s usr/bin "$root/bin"
        ln -s usr/lib "$root/lib"
        cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
        mkdir -p "$root/usr/libexec/agentd"
        printf '#!/bin/sh\nexit 0\n' >"$root/usr/bin/agentd"
        cp "$root/usr/bin/agentd" "$root/usr/libexec/agentd/agentd-sample-plugin"
        chmod 0755 "$root/usr/bin/agentd" "$root/usr/libexec/agentd/agentd-sample-plugin"
        cp "$(type -P kill)" "$root/usr/bin/kill"
        while read -r f; do
                name=$(basename "$f")
                cp "$f" "$root/etc/systemd/system/$name"
                if ! out=$(systemd-analyze verify --root="$root" "/etc/systemd/system/$name" 2>&1); then
                        fail "systemd-analyze verify $name: $out"
                fi
                [ -z "$out" ] || fail "systemd-analyze verify $name warned: $out"
                echo "ok: systemd-analyze verify $name"
                n=$((n + 1))
        done < <(unit_files)
        [ "$n" -gt 0 ] || fail "no unit files in $units"

        # The check itself must be able to fail: a unit with a typo is refused.
        sed 's/^WatchdogSec=/WatchdogSecc=/' "$units/agentd.service" >"$root/etc/systemd/system/broken.service"
        out=$(systemd-analyze verify --root="$root" /etc/systemd/system/broken.service 2>&1) || true
        [[ "$out" == *"Unknown key"* ]] || fail "verify did not flag an unknown key: $out"
        echo "ok: verify flags a broken unit"
}

check_tmpfiles() {
        need systemd-tmpfiles systemd
        local root=$tmp/root want got
        mkdir -p "$root/etc" "$root/usr/lib/tmpfiles.d"
        cp /etc/passwd /etc/group "$root/etc/"
        cp "$units/agentd-tmpfiles.conf" "$root/usr/lib/tmpfiles.d/agentd.conf"
        systemd-tmpfiles --root="$root" --create agentd.conf ||
                fail "systemd-tmpfiles --create agentd.conf failed"
        for want in "run/agentd 755 root:root" "run/agentd/plugins 755 root:root" "var/lib/agentd 750 root:root" \
                    "etc/php-app 750 root:www-data"; do
                read -r -a parts <<<"$want"
                set -- "${parts[@]}"
                [ -d "$root/$1" ] || fail "/$1 not created"
                got=$(stat -c '%a %U:%G' "$root/$1")
                [ "$got" = "$2 $3" ] || fail "/$1 is $got, want $2 $3"
                echo "ok: /$1 $got"
        done
}

# value KEY: the last value of KEY= in agentd.service (systemd's override order).
value() { sed -n "s/^$1=//p" "$units/agentd.service" | tail -n 1; }
has() { grep -qx -- "$1" "$units/agentd.service" || fail "agentd.service lacks '$1'"; echo "ok: $1"; }
seconds() { # 90s, 90, 1min 30s -> seconds
        local v=$1 total=0 n u
        while [[ $v =~ ^[[:space:]]*([0-9]+)[[:space:]]*(min|s|)(.*)$ ]]; do
                n=${BASH_REMATCH[1]}; u=${BASH_REMATCH[2]}; v=${BASH_REMATCH[3]}
                [ "$u" = min ] && n=$((n * 60))
                total=$((total + n))
        done
        [ -z "${v// /}" ] || fail "cannot read time span '$1'"
        echo "$total"
}

check_directives() {
        local f=$units/agentd.service line
        for line in Type=notify NotifyAccess=main Restart=on-failure \
                    Wants=network-online.target After=network-online.target \
                    WantedBy=multi-user.target ProtectSystem=strict ProtectHome=yes \
                    PrivateTmp=yes NoNewPrivileges=yes LimitCORE=0 \
                    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK" \
                    SystemCallFilter=@system-service \
                    "ReadWritePaths=/run/agentd /var/lib/agentd"; do
                has "$line"
        done
        [ -n "$(value WatchdogSec)" ] || fail "no WatchdogSec="
        [ -n "$(value MemoryMax)" ] || fail "no MemoryMax="
        if [ -z "$(value StartLimitBurst)" ] || [ -z "$(value StartLimitIntervalSec)" ]; then
                fail "restart is not rate limited (StartLimitBurst/StartLimitIntervalSec)"
        fi
        echo "ok: WatchdogSec, MemoryMax, start rate limit"

        check_plugin_unit
        # The capability set is the minimal one, and never contains CAP_SYS_ADMIN & co.
        # Starting and stopping plugin units over D-Bus needs none more (agentd is uid 0).
        [ "$(value CapabilityBoundingSet)" = "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_NET_BIND_SERVICE" ] ||
                fail "CapabilityBoundingSet is '$(value CapabilityBoundingSet)'"
        echo "ok: CapabilityBoundingSet minimal"

        # Drain (agentd's [lifecycle] drain_timeout default, 60 s) must fit in the stop
        # timeout; IMDS wait at boot (240 s) in the start timeout.
        local stop start
        stop=$(seconds "$(value TimeoutStopSec)")
        start=$(seconds "$(value TimeoutStartSec)")
        [ "$stop" -gt 60 ] || fail "TimeoutStopSec=$stop s is not longer than the 60 s drain"
        [ "$start" -ge 240 ] || fail "TimeoutStartSec=$start s is shorter than the 240 s IMDS wait"
        echo "ok: TimeoutStopSec=${stop}s > drain 60s, TimeoutStartSec=${start}s >= 240s"

        # The cloud-init deadlock: never ordered after cloud-final or multi-user.
        if grep -Eq '^(After|Requires|BindsTo)=.*(cloud-final|cloud-init|multi-user)' "$f"; then
                fail "agentd.service is ordered after cloud-init/multi-user: boot deadlock with user data"
        fi
        echo "ok: not ordered after cloud-final.service or multi-user.target"
}

# exposure UNIT: the figure in tenths (bash has no floats), checked <= 2.5.
exposure() {
        local out figure
        out=$("$src/bench/security-exposure.sh" "$units/$1" 2>"$tmp/table") ||
                { cat "$tmp/table" >&2; fail "bench/security-exposure.sh $1 failed"; }
        echo "$out" >&2
        figure=${out##*: }
        [[ $figure =~ ^[0-9]+\.[0-9]$ ]] || fail "unexpected figure '$figure'"
        [ "${figure/./}" -le 25 ] || { cat "$tmp/table" >&2; fail "$1: exposure $figure > 2.5"; }
        echo "ok: $1 exposure $figure <= 2.5" >&2
        echo "${figure/./}"
}

check_exposure() {
        need systemd-analyze systemd
        local agent plugin
        agent=$(exposure agentd.service)
        plugin=$(exposure agentd-sample-plugin.service)
        # Plugins aim lower than agentd: no capability, no network, no writable path.
        [ "$plugin" -lt "$agent" ] || fail "the sample plugin's exposure is not below agentd's"
        echo "ok: plugin exposure below agentd's"
}

# The sample plugin's unit: started by agentd only, notify, reload by SIGHUP, its own
# user, nothing of root's power.
check_plugin_unit() {
        local f=$units/agentd-sample-plugin.service line
        for line in Type=notify "ExecReload=/bin/kill -HUP \$MAINPID" Restart=on-failure User=agentd-sample \
                    CapabilityBoundingSet= NoNewPrivileges=yes ProtectSystem=strict PrivateNetwork=yes \
                    RestrictAddressFamilies=AF_UNIX RuntimeDirectory=agentd-sample \
                    DefaultDependencies=no; do
                grep -qx -- "$line" "$f" || fail "agentd-sample-plugin.service lacks '$line'"
                echo "ok: plugin unit: $line"
        done
        ! grep -q '^\[Install\]' "$f" || fail "agentd-sample-plugin.service has [Install]: only agentd starts it"
        ! grep -Eq '^(DynamicUser|User)=root' "$f" || fail "the plugin runs as root"
        echo "ok: plugin unit not enabled at boot, not root"
        # Its drain fits agentd's: TimeoutStopSec within the 80 s drain_timeout maximum.
        local stop
        stop=$(seconds "$(sed -n 's/^TimeoutStopSec=//p' "$f" | tail -n 1)")
        [ "$stop" -le 80 ] || fail "plugin TimeoutStopSec=$stop s exceeds drain_timeout's maximum (80 s)"
        grep -q "^u agentd-sample " "$units/agentd-sysusers.conf" || fail "no sysusers.d entry for agentd-sample"
        echo "ok: plugin TimeoutStopSec=${stop}s <= 80s, user agentd-sample in sysusers.d"
}

case $check in
verify | tmpfiles | directives | exposure) "check_$check" ;;
*) fail "unknown check $check" ;;
esac
