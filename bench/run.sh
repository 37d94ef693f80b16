#!/usr/bin/env bash
# bench/run.sh: the gateway benchmark. Builds duohuo, the backend and the
# plain Go ReverseProxy baseline, then runs them side by side with nginx and
# HAProxy on loopback under wrk (interleaved rounds, medians) and writes the
# table into docs/benchmarks.md. Raw results go to bench/results/ (ignored by
# git). Not run by CI.
#
#   bench/run.sh            full run: 3 rounds × {64 B, 4 KiB} × {c50, c200} × 5, about 13 min
#   bench/run.sh --quick    smoke run, about 1.5 min, docs untouched
#   bench/run.sh --profile  also save CPU profiles of duohuo (64 B runs) in the results
#   bench/run.sh -rounds 5 -duration 10s -only nginx,goproxy,duohuo   (any runner flag)
#   bench/run.sh --duohuo AFTER -before BEFORE -only nginx,goproxy,duohuo,duohuo-before
#                           two prebuilt duohuo binaries side by side (the doc is not touched)
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in nginx haproxy wrk; do
	command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if ((${#need[@]})); then
	pkgs=()
	for t in "${need[@]}"; do
		case $t in nginx) pkgs+=(nginx-light) ;; *) pkgs+=("$t") ;; esac
	done
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing ${pkgs[*]} (apt-get)" >&2
		apt-get install -y "${pkgs[@]}" >/dev/null
	else
		echo "bench: missing ${need[*]}; install them (Debian/Ubuntu: sudo apt-get install -y ${pkgs[*]}) and run again" >&2
		exit 1
	fi
fi
command -v go >/dev/null 2>&1 || { echo "bench: go is not on PATH (Go 1.26 needed to build duohuo)" >&2; exit 1; }

# --duohuo PATH: measure a prebuilt duohuo (e.g. one built in a worktree of
# another commit) instead of building this checkout's.
prebuilt=
args=()
while (($#)); do
	case $1 in
	--duohuo)
		[[ $# -ge 2 && -x $2 ]] || { echo "bench: --duohuo wants an executable duohuo binary" >&2; exit 1; }
		prebuilt=$2
		shift 2
		;;
	--quick) args+=(-quick); shift ;;
	--profile) args+=(-profile); shift ;;
	*) args+=("$1"); shift ;;
	esac
done

bin=bench/results/bin
mkdir -p "$bin"
if [[ -n $prebuilt ]]; then
	echo "bench: duohuo from $prebuilt; building backend, goproxy, runner" >&2
	cp "$prebuilt" "$bin/duohuo"
else
	echo "bench: building duohuo, backend, goproxy, runner" >&2
	# As the release build (Makefile): static, trimmed, version stamped.
	pkg=github.com/duohuo/duohuo/internal/buildinfo
	CGO_ENABLED=0 go build -trimpath -o "$bin/duohuo" -ldflags "-s -w \
		-X $pkg.Version=$(git describe --tags --always --dirty 2>/dev/null || echo devel) \
		-X $pkg.Commit=$(git rev-parse HEAD 2>/dev/null || echo unknown) \
		-X $pkg.Date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/duohuo
fi
go build -o "$bin/backend" ./bench/backend
go build -o "$bin/goproxy" ./bench/goproxy
go build -o "$bin/runner" ./bench/runner
exec "$bin/runner" -bin "$bin" -out bench/results -doc docs/benchmarks.md "${args[@]}"
