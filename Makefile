# rolecd — GitOps for PostgreSQL access roles.
# `make demo` and `make test` do all the set-up a fresh machine needs.

GO      ?= go
BIN     := bin/rolecd
# What `rolecd version` reports (Go's own VCS stamping may be off: GOFLAGS=-buildvcs=false).
VERSION ?= $(shell git describe --tags 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -modified)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Integration tests start real PostgreSQL clusters; keep the run bounded.
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: help build test lint demo deps bench fuzz

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/rolecd
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/rolecd

# axe-core (npm) checks the hub's pages for accessibility in the browser tests.
AXE_VERSION := 4.14.1
AXE_DIR     := .cache/axe

deps: ## install what the tests and the demo need when missing: PostgreSQL (initdb), git, npm, Chromium (Debian packages), axe-core (npm)
	@pkgs=""; \
	if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -n "$$ROLECD_TEST_PGBIN" ]; then \
		echo "deps: found initdb"; else pkgs="$$pkgs postgresql"; fi; \
	command -v git >/dev/null 2>&1 || pkgs="$$pkgs git"; \
	command -v file >/dev/null 2>&1 || pkgs="$$pkgs file"; \
	command -v npm >/dev/null 2>&1 || pkgs="$$pkgs npm"; \
	command -v chromium >/dev/null 2>&1 || [ -n "$$ROLECD_CHROMIUM" ] || pkgs="$$pkgs chromium fonts-dejavu-core"; \
	if [ -n "$$pkgs" ]; then \
		echo "deps: installing Debian's$$pkgs"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $$pkgs; \
	fi
	@if [ ! -f $(AXE_DIR)/node_modules/axe-core/package.json ] || \
		! grep -q '"version": "$(AXE_VERSION)"' $(AXE_DIR)/node_modules/axe-core/package.json; then \
		echo "deps: installing axe-core $(AXE_VERSION) from npm into $(AXE_DIR)"; \
		npm install --silent --no-audit --no-fund --prefix $(AXE_DIR) axe-core@$(AXE_VERSION); \
	fi

lint: ## go vet, a gofmt check, and no compiled binary or archive tracked by git
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
		command -v file >/dev/null 2>&1 || { echo "lint: the file command is missing (make deps installs it)"; exit 1; }; \
		out=$$(git ls-files -z | xargs -0 -r file -N | grep -E ': .*(ELF|archive|compressed data)' || true); \
		if [ -n "$$out" ]; then echo "lint: git tracks compiled binaries or archives (never commit build outputs):"; echo "$$out"; exit 1; fi; \
	fi

test: deps lint ## install what is missing, then vet and every test (integration included)
	$(GO) test $(TESTFLAGS) ./...

demo: deps build ## the whole story on two throwaway clusters: validate, plan, apply, creds, drift, then the daemon on a local Git repository
	$(GO) run ./test/pgtest/pgrun -port 54329 -port 54330 -- demo/run.sh

bench: deps ## run the benchmarks (planner, catalog inspection, hub pages)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./planner/... ./hub

# PGMATRIXFLAGS passes flags to scripts/pgmatrix, e.g. PGMATRIXFLAGS='-versions 16,17 -run TestApply'.
.PHONY: test-matrix
test-matrix: ## run the PostgreSQL tests on PostgreSQL 14, 15, 16, 17 and 18 (npm builds, cached)
	@command -v npm >/dev/null 2>&1 || { \
		echo "test-matrix: no npm found, installing Debian's npm"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends npm; }
	$(GO) run ./scripts/pgmatrix $(PGMATRIXFLAGS)

fuzz: ## fuzz the parsers, the SQL renderer and the webhook intake for a short while each
	$(GO) test -run '^$$' -fuzz FuzzParseYAML -fuzztime 30s ./planner/spec
	$(GO) test -run '^$$' -fuzz FuzzParseCSV -fuzztime 30s ./planner/spec
	$(GO) test -run '^$$' -fuzz FuzzRender -fuzztime 30s ./planner
	$(GO) test -run '^$$' -fuzz FuzzWebhooks -fuzztime 30s ./reporter/github
	$(GO) test -run '^$$' -fuzz FuzzWebhook -fuzztime 30s ./reconciler

# BENCHAPPLYFLAGS passes flags to test/benchapply, e.g. BENCHAPPLYFLAGS='-roles 200 -tables 1000'.
.PHONY: bench-apply
bench-apply: deps ## plan and first apply at scale on a throwaway cluster, against the physical floor
	$(GO) run ./test/benchapply $(BENCHAPPLYFLAGS)
