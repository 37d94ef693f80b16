#!/usr/bin/env bash
# bench/scale.sh: large inputs, before and after, side by side in one run.
# Builds duohuo at BEFORE (default: the commit before the scale work) and at
# this checkout, then measures, interleaved, ROUNDS times each:
#   - duohuo validate on bench/bigconfig files of 15,000 and 200,000 routes
#     (wall time, user+system CPU, peak RSS from /usr/bin/time -v);
#   - BenchmarkParse100kInstances (discovery/static): an instances file of
#     100,000 instances;
#   - BenchmarkReload10kRoutes (internal/gateway): a reload of 10,000 routes,
#     and the longest Ready and request while reloads run.
# The benchmark files are copied into the BEFORE tree, which lacks them.
# Results go to bench/results/scale/ (ignored by git). Not run by CI.
#
#   bench/scale.sh                 # BEFORE=175f7d6, 3 rounds
#   BEFORE=abc123 ROUNDS=5 bench/scale.sh
set -euo pipefail
cd "$(dirname "$0")/.."
before_rev=${BEFORE:-175f7d6}
rounds=${ROUNDS:-3}
out=bench/results/scale
rm -rf "$out" && mkdir -p "$out/before-src"
[[ -x /usr/bin/time ]] || { echo "scale: /usr/bin/time is missing (Debian: apt-get install -y time)" >&2; exit 1; }

echo "scale: building duohuo at $before_rev and at $(git rev-parse --short HEAD)$(git diff --quiet || echo +changes)" >&2
git archive "$before_rev" | tar -x -C "$out/before-src"
cp discovery/static/parse_bench_test.go "$out/before-src/discovery/static/"
cp internal/gateway/reload_bench_test.go "$out/before-src/internal/gateway/"
(cd "$out/before-src" && CGO_ENABLED=0 go build -trimpath -o ../duohuo-before ./cmd/duohuo)
CGO_ENABLED=0 go build -trimpath -o "$out/duohuo-after" ./cmd/duohuo
go run ./bench/bigconfig -routes 15000 -services 1000 > "$out/routes-15k.yaml"
go run ./bench/bigconfig -routes 200000 -services 1000 > "$out/routes-200k.yaml"

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "nproc: $(nproc)"
	lscpu | grep 'Model name' || true
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "before: $before_rev; after: $(git rev-parse --short HEAD)"
	ls -l "$out"/routes-*.yaml | awk '{print $5, $9}'
} | tee "$out/machine.txt" >&2

for r in $(seq "$rounds"); do
	for f in routes-15k routes-200k; do
		for who in before after; do
			/usr/bin/time -v "$out/duohuo-$who" validate "$out/$f.yaml" > "$out/$who-$f-$r.out" 2> "$out/$who-$f-$r.time" || true
			awk -v who="$who" -v f="$f" -v r="$r" -F': ' '
				/Elapsed \(wall clock\)/ {n = split($2, t, ":"); wall = (n == 3 ? t[1]*3600 + t[2]*60 + t[3] : t[1]*60 + t[2])}
				/User time/ {u = $2} /System time/ {s = $2} /Maximum resident/ {rss = $2}
				END {printf "validate %s %s round %s: wall %.2f s, cpu %.2f s, peak RSS %.0f MiB\n", f, who, r, wall, u + s, rss / 1024}' \
				"$out/$who-$f-$r.time" | tee -a "$out/validate.txt"
			echo "    $(head -c 160 "$out/$who-$f-$r.out" | head -1)" | tee -a "$out/validate.txt"
		done
	done
	for who in before after; do
		dir=.
		[[ $who == before ]] && dir=$out/before-src
		(cd "$dir" && go test -run '^$' -bench 'Parse100kInstances' -benchtime 3x -benchmem ./discovery/static) | grep '^Benchmark' | sed "s/^/$who round $r: /" | tee -a "$out/instances.txt"
		(cd "$dir" && go test -run '^$' -bench 'Reload10kRoutes' -benchtime 5x ./internal/gateway) | grep '^Benchmark' | sed "s/^/$who round $r: /" | tee -a "$out/reload.txt"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt" >&2
