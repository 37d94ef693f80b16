#!/usr/bin/env bash
# bench/routes.sh: requests per second through `duohuo serve` with many
# routes (the request takes the last one) against one route, in one run.
# Builds duohuo (as the release build does) and bench/backend, starts the
# backend and two gateways on 127.0.0.1 (GOMAXPROCS=1 each, the same
# defaults as bench/run.sh's, one static instance), one with a single
# route and one with ROUTES routes: /r/0 ... /r/<ROUTES-2> and then /64,
# the path wrk asks for. Then, ROUNDS times, in alternating order, each
# gateway is warmed up for 2 s and measured with
# `wrk -t1 -cCONNS -dDURATION`, and its user + system CPU time per request
# read from /proc. Prints every run, the medians and the medians of
# per-round ratios; raw output goes to bench/results/routes/
# (ignored by git). Loopback only; about ROUNDS × 2 × (DURATION + 2 s).
# Not run by CI.
#
# With BEFORE=REV, a third gateway built at that revision (say, one that
# scanned the routes one by one) runs the ROUTES routes too, in the same
# rounds.
#
#   bench/routes.sh                          # 10,000 routes, 5 rounds of 8s, 50 connections
#   ROUTES=100000 ROUNDS=3 DURATION=5s bench/routes.sh
#   BEFORE=cd00add bench/routes.sh           # and the scan of cd00add beside them
set -euo pipefail
cd "$(dirname "$0")/.."
routes=${ROUTES:-10000}
rounds=${ROUNDS:-5}
duration=${DURATION:-8s}
conns=${CONNS:-50}
base=${PORT_BASE:-18300} # backend base, gateways base+1 and base+2, admins base+11 and base+12
out=bench/results/routes
mkdir -p "$out"

command -v wrk >/dev/null 2>&1 || {
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		apt-get install -y wrk >/dev/null
	else
		echo "routes: wrk is missing (Debian/Ubuntu: sudo apt-get install -y wrk)" >&2
		exit 1
	fi
}
((routes >= 1 && rounds >= 1)) || { echo "routes: ROUTES and ROUNDS must be at least 1" >&2; exit 2; }

echo "routes: building duohuo and backend" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/duohuo" ./cmd/duohuo
go build -o "$out/backend" ./bench/backend
if [[ -n ${BEFORE:-} ]]; then
	echo "routes: building duohuo at $BEFORE" >&2
	rm -rf "$out/before-src" && mkdir -p "$out/before-src"
	git archive "$BEFORE" | tar -x -C "$out/before-src"
	(cd "$out/before-src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o ../duohuo-before ./cmd/duohuo)
fi

# config NAME ROUTES GATEWAY_PORT ADMIN_PORT: a configuration whose last
# route takes /64.
config() {
	local f=$out/$1.yaml n=$2
	{
		echo "# written by bench/routes.sh: $n routes, the last takes /64"
		echo "log: {level: warn}"
		echo "admin: {listen: \"127.0.0.1:$4\"}"
		echo "listeners: [{name: public, listen: \"127.0.0.1:$3\"}]"
		echo "services:"
		echo "  - name: backend"
		echo "    discovery: [{static: {instances: [{addr: \"127.0.0.1:$base\"}]}}]"
		echo "    upstream: {max_idle_conns_per_instance: 1024}"
		echo "routes:"
		for ((i = 0; i < n - 1; i++)); do
			echo "  - {name: r$i, service: backend, match: {path_prefix: /r/$i}}"
		done
		echo "  - {name: last, service: backend, match: {path_prefix: /64}}"
	} > "$f"
	echo "$f"
}
one=$(config one 1 $((base + 1)) $((base + 11)))
many=$(config many "$routes" $((base + 2)) $((base + 12)))
before=$(config before "$routes" $((base + 3)) $((base + 13)))

for port in $base $((base + 1)) $((base + 2)) $((base + 3)) $((base + 11)) $((base + 12)) $((base + 13)); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "routes: 127.0.0.1:$port is in use; set PORT_BASE to a free range" >&2
		exit 1
	fi
done

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

"$out/backend" -addr "127.0.0.1:$base" > "$out/backend.log" 2>&1 &
pids+=($!)
GOMAXPROCS=1 "$out/duohuo" serve --no-watch -c "$one" > "$out/one.log" 2>&1 &
pids+=($!)
GOMAXPROCS=1 "$out/duohuo" serve --no-watch -c "$many" > "$out/many.log" 2>&1 &
pids+=($!)
who=(one many)
ports=($((base + 1)) $((base + 2)))
if [[ -n ${BEFORE:-} ]]; then
	GOMAXPROCS=1 "$out/duohuo-before" serve --no-watch -c "$before" > "$out/before.log" 2>&1 &
	pids+=($!)
	who+=(before)
	ports+=($((base + 3)))
fi

# Ready: each gateway answers /64 with 200 (at most 30 s).
for port in "${ports[@]}"; do
	for ((i = 0; ; i++)); do
		if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/64") == 200 ]]; then
			break
		fi
		if ((i >= 300)); then
			echo "routes: the gateway on port $port is not ready after 30 s; see $out/*.log" >&2
			exit 1
		fi
		sleep 0.1
	done
done

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo +changes)"
	echo "nproc: $(nproc)"
	lscpu | head -20
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "command: ROUTES=$routes ROUNDS=$rounds DURATION=$duration CONNS=$conns${BEFORE:+ BEFORE=$BEFORE} bench/routes.sh"
} > "$out/machine.txt"

# cputicks PID: the user + system CPU time of a process, in clock ticks.
cputicks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# measure WHO PORT ROUND PID: a warm-up, then the measured run; prints
# RPS and the gateway's own CPU µs per request (the steadier figure on a
# shared machine, as in bench/run.sh).
measure() {
	local url=http://127.0.0.1:$2/64 t0 t1
	wrk -t1 -c"$conns" -d2s "$url" > /dev/null
	t0=$(cputicks "$4")
	wrk -t1 -c"$conns" -d"$duration" --latency "$url" > "$out/$1-$3.txt"
	t1=$(cputicks "$4")
	if grep -q 'Non-2xx' "$out/$1-$3.txt"; then
		echo "routes: $1 answered non-2xx in round $3; see $out/$1-$3.txt" >&2
		exit 1
	fi
	awk -v t="$((t1 - t0))" -v hz="$hz" '
		/requests in/ {n = $1} /Requests\/sec/ {rps = $2}
		END {printf "%s %.1f\n", rps, t / hz * 1e6 / n}' "$out/$1-$3.txt"
}

: > "$out/rounds.txt"
k=${#who[@]}
for ((r = 1; r <= rounds; r++)); do
	# Each round starts with the next contestant: A B C, B C A, C A B.
	declare -A rps=() cpu=()
	for ((j = 0; j < k; j++)); do
		c=$(((r - 1 + j) % k))
		res=$(measure "${who[c]}" "${ports[c]}" "$r" "${pids[c + 1]}")
		read -r rps[${who[c]}] cpu[${who[c]}] <<< "$res"
	done
	line="round $r: 1 route ${rps[one]} req/s ${cpu[one]} us/req, $routes routes ${rps[many]} req/s ${cpu[many]} us/req"
	if [[ -n ${rps[before]:-} ]]; then
		line+=", before $routes routes ${rps[before]} req/s ${cpu[before]} us/req"
	fi
	echo "$line" | tee -a "$out/rounds.txt"
	unset rps cpu
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"

# Medians over rounds of each figure, and of the per-round ratios to the
# one-route gateway (RPS ×, CPU per request ×).
awk -v n="$routes" '
	{
		one[NR] = $5; onec[NR] = $7; many[NR] = $11; manyc[NR] = $13
		ratio[NR] = $11 / $5; cratio[NR] = $13 / $7
		if (NF >= 20) {bef[NR] = $18; befc[NR] = $20; bratio[NR] = $18 / $5; bcratio[NR] = $20 / $7}
	}
	function median(a, k,   i, j, t) {
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) {t = a[i]; a[i] = a[j]; a[j] = t}
		return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
	}
	END {
		printf "median of %d rounds: 1 route %.0f req/s %.1f us/req; %d routes %.0f req/s %.1f us/req, RPS x%.3f, CPU/req x%.3f", NR, median(one, NR), median(onec, NR), n, median(many, NR), median(manyc, NR), median(ratio, NR), median(cratio, NR)
		if (length(bef)) printf "; before: %d routes %.0f req/s %.1f us/req, RPS x%.3f, CPU/req x%.3f", n, median(bef, NR), median(befc, NR), median(bratio, NR), median(bcratio, NR)
		printf "\n"
	}
' "$out/rounds.txt" | tee -a "$out/rounds.txt"
