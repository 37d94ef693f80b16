#!/usr/bin/env bash
# bench/soak.sh: a long run of `duohuo serve` under everything at once, to
# show that nothing leaks. Three backends (bench/backend) on loopback, one
# gateway with a replica, and for --duration (default 10m):
#   - open-loop load from `duohuo drill --target` (GETs, --rate per second),
#     plus POSTs with a 4 KiB body from curl in a loop,
#   - the config file rewritten every 10s (a weight changes; the file watch
#     reloads it),
#   - a fault rule switched on and off every 10s through the admin API (503
#     for 20% of one route's requests),
#   - a KV write through the admin API every 100ms (the replica writing).
# Every 10s it samples the gateway's goroutines (from /metrics), open file
# descriptors and RSS (from /proc), and at the end it prints each series'
# first and last value and its slope (least squares, per minute) over the
# second half of the run, after the warm-up, and exits 1 if a slope is
# above its bound (goroutines 2/min, FDs 2/min, RSS 2 MiB/min) — flat within
# noise. Samples and logs go to bench/results/soak-TIMESTAMP/.
#
#   bench/soak.sh                       10 minutes at 200 rps
#   bench/soak.sh --duration 2m --rate 100
set -euo pipefail
cd "$(dirname "$0")/.."
duration=10m
rate=200
while (($#)); do
	case $1 in
	--duration) duration=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	-h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "soak.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
	esac
done
for t in go curl; do command -v $t >/dev/null || { echo "soak.sh: $t is not on PATH" >&2; exit 1; }; done
case $duration in
[0-9]*m) secs=$(( ${duration%m} * 60 )) ;;
[0-9]*s) secs=${duration%s} ;;
[0-9]*h) secs=$(( ${duration%h} * 3600 )) ;;
*) echo "soak.sh: --duration takes a whole number with s, m or h: $duration" >&2; exit 2 ;;
esac
((secs >= 60)) || { echo "soak.sh: --duration must be at least 1m" >&2; exit 2; }

dir=bench/results/soak-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$dir/replica"
go build -o "$dir/duohuo" ./cmd/duohuo
go build -o "$dir/backend" ./bench/backend

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

# Free loopback ports, chosen by the kernel.
ports=($(python3 -c 'import socket
ss=[socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))'))
b1=${ports[0]} b2=${ports[1]} b3=${ports[2]} gw=${ports[3]} admin=${ports[4]} gossip=${ports[5]}
for p in $b1 $b2 $b3; do
	"$dir/backend" -addr 127.0.0.1:$p >"$dir/backend-$p.log" 2>&1 &
	pids+=($!)
done

writeconfig() { # $1: weight of the first backend
	cat >"$dir/duohuo.yaml.tmp" <<YAML
site: {cloud: local, region: r1, zone: r1a}
listeners: [{name: public, listen: "127.0.0.1:$gw"}]
admin: {listen: "127.0.0.1:$admin"}
log: {level: info}
services:
  - name: soak
    discovery:
      - static:
          instances:
            - {addr: "127.0.0.1:$b1", cloud: local, region: r1, zone: r1a, weight: $1}
            - {addr: "127.0.0.1:$b2", cloud: local, region: r1, zone: r1a}
            - {addr: "127.0.0.1:$b3", cloud: local, region: r1, zone: r1a}
    health:
      active: {type: http, path: /healthz, interval: 1s, timeout: 500ms}
routes:
  - {name: get, match: {path_prefix: /64, methods: [GET]}, service: soak}
  - {name: post, match: {path_prefix: /4096}, service: soak}
replication:
  dir: $PWD/$dir/replica
  bind: "127.0.0.1:$gossip"
YAML
	mv "$dir/duohuo.yaml.tmp" "$dir/duohuo.yaml"
}
writeconfig 100
"$dir/duohuo" serve -c "$dir/duohuo.yaml" >"$dir/serve.log" 2>&1 &
gwpid=$!
pids+=($gwpid)
for i in $(seq 100); do
	curl -fs "http://127.0.0.1:$admin/readyz" >/dev/null 2>&1 && break
	kill -0 $gwpid 2>/dev/null || { echo "soak.sh: duohuo serve exited; see $dir/serve.log" >&2; tail "$dir/serve.log" >&2; exit 1; }
	sleep 0.1
done
adm=(-H 'X-Duohuo-Admin: 1')

# The load.
"$dir/duohuo" drill --target "http://127.0.0.1:$gw/64" --rate "$rate" --duration "${secs}s" --report "$dir/drill" >"$dir/drill.log" 2>&1 &
pids+=($!)
head -c 4096 /dev/zero | tr '\0' x >"$dir/body"
(
	end=$(( $(date +%s) + secs ))
	while (( $(date +%s) < end )); do
		curl -s -o /dev/null -X POST --data-binary @"$dir/body" "http://127.0.0.1:$gw/4096" || true
	done
) &
pids+=($!)
# Reloads and faults every 10s; KV writes every 100ms.
(
	end=$(( $(date +%s) + secs )) n=0
	while (( $(date +%s) < end )); do
		n=$((n + 1))
		writeconfig $(( n % 2 ? 50 : 100 ))
		if (( n % 2 )); then
			curl -s -o /dev/null -w 'fault on %{http_code}\n' "${adm[@]}" -X PUT "http://127.0.0.1:$admin/v1/faults/soak" \
				-H 'Content-Type: application/json' -d '{"path_prefix": "/64", "spec": "abort=503@20%"}' >>"$dir/admin.log" || true
		else
			curl -s -o /dev/null -w 'fault off %{http_code}\n' "${adm[@]}" -X DELETE "http://127.0.0.1:$admin/v1/faults/soak" >>"$dir/admin.log" || true
		fi
		sleep 10
	done
) &
pids+=($!)
(
	end=$(( $(date +%s) + secs )) n=0
	while (( $(date +%s) < end )); do
		n=$((n + 1))
		curl -s -o /dev/null -w 'kv put %{http_code}\n' "${adm[@]}" -X PUT --data "v$n" "http://127.0.0.1:$admin/v1/kv/soak?key=k$((n % 1000))" >>"$dir/admin.log" || true
		sleep 0.1
	done
) &
pids+=($!)

# Samples.
echo "t_s goroutines fds rss_kib" >"$dir/samples.txt"
start=$(date +%s)
while (( $(date +%s) - start < secs )); do
	kill -0 $gwpid 2>/dev/null || { echo "soak.sh: duohuo serve died; see $dir/serve.log" >&2; exit 1; }
	g=$(curl -s "http://127.0.0.1:$admin/metrics" | awk '$1 == "go_goroutines" {print $2}')
	f=$(ls /proc/$gwpid/fd | wc -l)
	r=$(awk '/^VmRSS:/ {print $2}' /proc/$gwpid/status)
	echo "$(( $(date +%s) - start )) ${g:-NaN} $f $r" | tee -a "$dir/samples.txt"
	sleep 10
done
wait "${pids[4]}" 2>/dev/null || true # the drill

set +e
awk -v secs="$secs" '
NR == 1 { next }
{ t[NR] = $1; v[1, NR] = $2; v[2, NR] = $3; v[3, NR] = $4; n = NR }
END {
	split("goroutines fds rss_kib", name, " ")
	split("2 2 2048", bound, " ")   # per minute
	bad = 0
	printf "| series | first | last | slope over the second half (per minute) | bound |\n|---|---|---|---|---|\n"
	for (s = 1; s <= 3; s++) {
		sx = sy = sxx = sxy = m = 0
		for (i = 2; i <= n; i++) if (t[i] >= secs / 2) { x = t[i] / 60; y = v[s, i]; sx += x; sy += y; sxx += x * x; sxy += x * y; m++ }
		slope = (m > 1 && m * sxx - sx * sx != 0) ? (m * sxy - sx * sy) / (m * sxx - sx * sx) : 0
		printf "| %s | %s | %s | %.2f | %s |\n", name[s], v[s, 2], v[s, n], slope, bound[s]
		if (slope > bound[s]) bad = 1
	}
	exit bad
}' "$dir/samples.txt" >"$dir/slopes.md"
rc=$?
set -e
cat "$dir/slopes.md"
echo
echo "admin calls (operation, status, count):"
sort "$dir/admin.log" | uniq -c | awk '{printf "  %s %s %s: %d\n", $2, $3, $4, $1}'
echo "config reloads: $(grep -c 'config reloaded' "$dir/serve.log" || true) applied, $(grep -c 'reload refused' "$dir/serve.log" || true) refused; errors logged: $(grep -c 'level=ERROR' "$dir/serve.log" || true)"
echo "load (duohuo drill --target):"
grep -E '^\| - \| target' "$dir/drill/report.md" 2>/dev/null || echo "  see $dir/drill.log"
echo "samples and logs: $dir"
exit "$rc"
