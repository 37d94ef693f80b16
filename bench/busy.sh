#!/usr/bin/env bash
# bench/busy.sh: runs a command while CPU hogs keep every core busy, to show
# that the test suite does not depend on a quiet machine (tests assert
# behaviour; speed belongs to benchmarks and `duohuo drill --strict`).
#
#   bench/busy.sh [-hogs N] [-runs R] [-- COMMAND ...]
#
# N hog processes (default: the number of CPUs) spin at normal priority for
# as long as the command runs; the command (default: go test -race ./...,
# the README's test command with -count=1) runs R times (default 3). Each
# run's exit code, duration and load average go to stdout and to
# bench/results/busy-TIMESTAMP.txt with the full output. Exits non-zero if
# any run failed.
set -euo pipefail
cd "$(dirname "$0")/.."
hogs=$(nproc)
runs=3
while (($#)); do
	case $1 in
	-hogs) hogs=$2; shift 2 ;;
	-runs) runs=$2; shift 2 ;;
	--) shift; break ;;
	-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "busy.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
	esac
done
cmd=("$@")
((${#cmd[@]})) || cmd=(go test -race -count=1 ./...)

mkdir -p bench/results
out=bench/results/busy-$(date -u +%Y%m%dT%H%M%SZ).txt
pids=()
stop() { ((${#pids[@]})) && kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null || true; }
trap stop EXIT
for ((i = 0; i < hogs; i++)); do
	# A shell busy loop: no binary to build, no I/O, one core each.
	bash -c 'while :; do :; done' &
	pids+=($!)
done
{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $hogs hogs, command: ${cmd[*]}"
} | tee "$out"
failed=0
for ((r = 1; r <= runs; r++)); do
	t0=$(date +%s)
	set +e
	"${cmd[@]}" >>"$out" 2>&1
	rc=$?
	set -e
	line="run $r/$runs: exit $rc after $(( $(date +%s) - t0 ))s, load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "$line" | tee -a "$out"
	if ((rc != 0)); then
		failed=$((failed + 1))
		grep -E '^(--- FAIL|FAIL|panic:)' "$out" | tail -20 || true
	fi
done
echo "$failed of $runs runs failed; full output: $out" | tee -a "$out"
((failed == 0))
