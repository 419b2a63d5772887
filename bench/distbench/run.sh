#!/usr/bin/env bash
# Build distbench and run it inside the shared Erlang baseline harness
# (shared/bench/erlang/run.sh), once with the default GOMAXPROCS (label
# "go") and once with GOMAXPROCS=1 (label "go1"). The harness prints
# "go X / cnode X" ratios; modes.py prints the same mode-matched ratios for
# go1 (and go) from the round files.
#
#   bench/distbench/run.sh [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
harness=${HARNESS:-$here/../../../shared/bench/erlang}
work=${BENCH_WORK:-/tmp/plerl-erlbench}
mkdir -p "$work"
(cd "$here/../.." && go build -o "$work/distbench" ./bench/distbench)
cat >"$work/distbench-both.sh" <<EOS
#!/bin/sh
"$work/distbench" -p bench@127.0.0.1 -c benchcookie
GOMAXPROCS=1 "$work/distbench" -impl go1 -p bench@127.0.0.1 -c benchcookie
EOS
chmod +x "$work/distbench-both.sh"
cd "$harness"
BENCH_WORK=$work EXTRA_BENCH="$work/distbench-both.sh" ./run.sh "${1:-3}" | tee "$work/last-run.txt"
log=$(sed -n 's/^logs in //p' "$work/last-run.txt")
python3 "$here/modes.py" "$log"/round*.txt
