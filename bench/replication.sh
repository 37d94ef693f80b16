#!/usr/bin/env bash
# replication.sh: measures the replicated state (package replica) on this machine and
# prints a Markdown table for docs/benchmarks.md: CRDT merge and delta-apply
# cost, metadata per key, durable-write latency, replication lag for 3 sites
# at 1k writes/s, convergence after a partition with 10k pending writes, full
# resync of 100k keys, and bytes per write (deltas alone, and everything
# replication sends while writes stream into one 10k-key object). Everything
# runs in-process on loopback; it takes about 2–4 minutes.
#
#   bench/replication.sh            # the table on stdout, raw output in bench/results/
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/results/replication-$(date -u +%Y%m%dT%H%M%SZ).txt
mkdir -p bench/results
{
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(uname -m) $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3), load $(cut -d' ' -f1-3 /proc/loadavg)"
	go test -run '^$' -bench 'ORMapMetadata|Merge|Apply|Encode|Decode' -benchtime 200ms ./crdt
	go test -run '^$' -bench 'Update' -benchtime 200ms ./replica
	go test -run '^$' -bench 'ReplicationLag|HealAfterPartition|FullResync|SteadyWire|IdleAntiEntropy' -benchtime 1x ./replica
} | tee "$out" >&2
echo
echo "| benchmark | result |"
echo "|---|---|"
grep -E '^Benchmark' "$out" | awk '{name=$1; $1=""; sub(/^ +/, ""); printf "| %s | %s |\n", name, $0}'
echo
echo "Raw output: $out ($(head -1 "$out" | cut -c3-))"
