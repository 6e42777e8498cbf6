#!/bin/bash
# Prints the `systemd-analyze security` exposure of agentd.service (0.0 best, 10.0
# worst; the target is 2.5 or lower), followed by the settings that still cost points.
#
# Offline mode reads the unit file itself, so this works without systemd as PID 1 (CI,
# containers) and before the unit is installed.
#
# Usage: bench/security-exposure.sh [UNIT_FILE]   (default: units/agentd.service)
# Output: the check table on stderr, then one line on stdout:
#   agentd.service exposure: 2.5
# Exit: 0 when the figure was measured, 1 when it could not be.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
unit=${1:-$here/../units/agentd.service}

command -v systemd-analyze >/dev/null ||
        { echo "security-exposure: systemd-analyze not found (Debian package systemd)" >&2; exit 1; }
[ -r "$unit" ] || { echo "security-exposure: cannot read $unit" >&2; exit 1; }

out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || {
        printf '%s\n' "$out" >&2
        echo "security-exposure: systemd-analyze security failed" >&2
        exit 1
}
# Only the settings that add exposure, so a regression stands out.
printf '%s\n' "$out" | grep '✗' >&2 || true
figure=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for .*: \([0-9][0-9.]*\).*/\1/p')
[ -n "$figure" ] || { printf '%s\n' "$out" >&2; echo "security-exposure: no overall figure in the output" >&2; exit 1; }
echo "$(basename "$unit") exposure: $figure"
