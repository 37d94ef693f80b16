#!/usr/bin/env bash
# bench/drill.sh: the drill table's latency and recovery-time targets
# (docs/drills.md), checked by `duohuo drill --strict` on this machine. The
# test suite asserts what the gateway does in each scenario; whether it does
# it fast enough is measured here, on a quiet machine, because a busy one
# measures itself. Builds duohuo, runs the scenarios, and exits 1 when one
# misses its target. The report goes to bench/results/drill-TIMESTAMP/.
#
#   bench/drill.sh                         every scenario, 30s each at 200 rps (about 5 minutes)
#   bench/drill.sh --scenario blackhole,g  any duohuo drill flag
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null 2>&1 || { echo "drill.sh: go is not on PATH (Go 1.26 needed to build duohuo)" >&2; exit 1; }
mkdir -p bench/results
bin=bench/results/duohuo-drill
go build -o "$bin" ./cmd/duohuo
dir=bench/results/drill-$(date -u +%Y%m%dT%H%M%SZ)
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg), $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" >&2
set +e
"$bin" drill --scenario all --duration 30s --rate 200 --report "$dir" --strict "$@"
rc=$?
set -e
echo "report: $dir/report.md (exit $rc)" >&2
exit "$rc"
