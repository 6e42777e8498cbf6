#!/bin/sh
# run-fuzz.sh TARGET CORPUS SECONDS WORKDIR
#
# Replays every input of CORPUS (the committed seeds and regressions: a
# crash found once must never come back), then fuzzes for SECONDS with a
# copy of the corpus in WORKDIR (the committed corpus is never modified).
# A crash leaves WORKDIR/crash-* (or leak-*, timeout-*); libFuzzer prints
# the input. Fix the bug, then commit the input to CORPUS as a regression.
set -eu
target=$1 corpus=$2 seconds=$3 work=$4

ulimit -c 0
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
# Sanitizers stop on the first error; libFuzzer's exit code tells.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
opts="-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$work/artifacts/"

echo "== replay $(ls "$corpus" | wc -l) inputs of $corpus"
# shellcheck disable=SC2086
"$target" $opts -runs=0 "$corpus"

echo "== fuzz ${seconds}s"
cp -r "$corpus"/. "$work/corpus/"
# shellcheck disable=SC2086
"$target" $opts -max_total_time="$seconds" "$work/corpus"
