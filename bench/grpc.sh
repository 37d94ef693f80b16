#!/usr/bin/env bash
# bench/grpc.sh: the gRPC and h2c benchmark. Builds duohuo, bench/grpcbackend
# and the runner, then runs duohuo and nginx side by side on loopback under
# h2load (interleaved rounds, medians), with the backend alone as a baseline,
# and writes the table into docs/benchmarks.md. Two cells:
#
#   grpc  unary gRPC calls over h2c; the proxy speaks HTTP/2 in clear text to
#         a grpc-go server (nginx grpc_pass grpc://, duohuo upstream h2c)
#   h2c   GETs over h2c; the proxy speaks HTTP/1.1 to the backend (nginx's
#         proxy_pass has no HTTP/2 to upstreams; duohuo set to http1 to match)
#
# Every run is bounded: a warm-up of -warmup seconds, then a fixed count of
# requests (the warm-up rate × -duration, at most 5 million), killed 30s past
# its time. Traffic goes to 127.0.0.1 only. Raw results go to bench/results/
# (ignored by git). Not run by CI.
#
#   bench/grpc.sh            full run: 3 rounds × {grpc, h2c} × {64 B, 4 KiB} × {50×1, 10×20} × 3, about 15 min
#   bench/grpc.sh --quick    smoke run, about 2 min, docs untouched
#   bench/grpc.sh -rounds 5 -duration 10s -only nginx,duohuo -shapes 10x20   (any runner flag)
#   bench/grpc.sh --duohuo PATH   measure a prebuilt duohuo instead of building this checkout
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v nginx >/dev/null 2>&1 || need+=(nginx-light)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
if ((${#need[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "bench: installing ${need[*]} (apt-get)" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >/dev/null
	else
		echo "bench: missing ${need[*]}; install them (Debian/Ubuntu: sudo apt-get install -y ${need[*]}) and run again" >&2
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
	*) args+=("$1"); shift ;;
	esac
done

bin=bench/results/bin
mkdir -p "$bin"
if [[ -n $prebuilt ]]; then
	echo "bench: duohuo from $prebuilt; building grpcbackend, runner" >&2
	cp "$prebuilt" "$bin/duohuo"
else
	# duohuo's gRPC cell needs the upstream protocol key (upstream: {protocol: h2c}).
	if ! grep -q 'yaml:"protocol"' internal/config/config.go; then
		echo "bench: this duohuo has no upstream protocol setting; its grpc cell will be reported as not measured" >&2
	fi
	echo "bench: building duohuo, grpcbackend, runner" >&2
	# As the release build (Makefile): static, trimmed, version stamped.
	pkg=github.com/duohuo/duohuo/internal/buildinfo
	CGO_ENABLED=0 go build -trimpath -o "$bin/duohuo" -ldflags "-s -w \
		-X $pkg.Version=$(git describe --tags --always --dirty 2>/dev/null || echo devel) \
		-X $pkg.Commit=$(git rev-parse HEAD 2>/dev/null || echo unknown) \
		-X $pkg.Date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/duohuo
fi
go build -o "$bin/grpcbackend" ./bench/grpcbackend
go build -o "$bin/runner" ./bench/runner
exec "$bin/runner" -h2 -bin "$bin" -out bench/results -doc docs/benchmarks.md "${args[@]}"
