# duohuo build targets. Run `make help` for the list.
#
# Static builds: CGO_ENABLED=0 so the binary runs on any Linux of its
# architecture (Kylin, UOS, openEuler, …) without depending on its glibc.

GO        ?= go
PKG       := github.com/duohuo/duohuo
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
DATE      ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS   := -s -w \
	-X $(PKG)/internal/buildinfo.Version=$(VERSION) \
	-X $(PKG)/internal/buildinfo.Commit=$(COMMIT) \
	-X $(PKG)/internal/buildinfo.Date=$(DATE)
ARCHES    := amd64 arm64 loong64
DIST      := dist

# loong64 builds use -tags purego: emmansun/gmsm v0.44.1's loong64 assembly can
# execute LASX instructions on CPUs (and qemu 7.2) without LSX/LASX (SIGILL).
# See docs/platforms.md.
tags_loong64 := purego

.PHONY: help build dist packages test test-race cross-test lint clean

# Packages: the version is the top entry of packaging/changelog.yml
# (VERSION-RELEASE); nfpm is pinned by packaging/tools/go.mod.
# SOURCE_DATE_EPOCH (the last commit's time) makes the files' times
# reproducible. MAINTAINER goes into the packages' headers.
PKG_VERSION ?= $(shell sed -n 's/^- semver: *\([^-]*\).*/\1/p' packaging/changelog.yml | head -n 1)
MAINTAINER ?= duohuo maintainers <duohuo@localhost>
export MAINTAINER
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH
NFPM      := $(abspath $(DIST))/.tools/nfpm

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build ./duohuo for this machine
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o duohuo ./cmd/duohuo

dist: ## static binaries for linux/amd64, arm64, loong64 with SHA-256 and SM3 checksums
	@mkdir -p $(DIST)
	@set -e; for a in $(ARCHES); do \
		tags=""; [ "$$a" = loong64 ] && tags="-tags $(tags_loong64)"; \
		echo "build linux/$$a"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath $$tags -ldflags '$(LDFLAGS)' \
			-o $(DIST)/duohuo-linux-$$a ./cmd/duohuo; \
	done
	cd $(DIST) && sha256sum duohuo-linux-* > SHA256SUMS
	$(GO) run ./internal/tools/sm3sum $(addprefix $(DIST)/duohuo-linux-,$(ARCHES)) | sed 's|$(DIST)/||' > $(DIST)/SM3SUMS
	@cat $(DIST)/SHA256SUMS $(DIST)/SM3SUMS

packages: dist ## RPM and DEB packages for linux/amd64, arm64, loong64 (docs/install.md)
	$(GO) -C packaging/tools build -o $(NFPM) github.com/goreleaser/nfpm/v2/cmd/nfpm
	gzip -9n -c packaging/duohuo.1 > $(DIST)/duohuo.1.gz
	@set -e; for a in $(ARCHES); do for f in rpm deb; do \
		ARCH=$$a VERSION=$(PKG_VERSION) BINARY=$(DIST)/duohuo-linux-$$a MANPAGE=$(DIST)/duohuo.1.gz \
			$(NFPM) package --config packaging/nfpm.yaml --packager $$f --target $(DIST)/; \
	done; done
	cd $(DIST) && sha256sum *.rpm *.deb > PACKAGES.SHA256SUMS
	@ls -l $(DIST)/*.rpm $(DIST)/*.deb

test: ## unit tests
	$(GO) test ./...

test-race: ## unit tests with the race detector (what CI runs)
	$(GO) test -race ./...

cross-test: ## tests under qemu user-mode emulation: arm64 (twice) and loong64
	build/crosstest.sh arm64
	QEMU_CPU=cortex-a72 build/crosstest.sh arm64
	build/crosstest.sh loong64

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	staticcheck ./...

clean: ## remove build outputs
	rm -rf $(DIST) duohuo
