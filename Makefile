# rolecd — GitOps for PostgreSQL access roles.
# `make demo` and `make test` do all the set-up a fresh machine needs.

GO      ?= go
BIN     := bin/rolecd
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Integration tests start real PostgreSQL clusters; keep the run bounded.
TESTFLAGS ?= -count=1 -timeout 20m

.PHONY: help build test lint demo postgres bench fuzz

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/rolecd
	$(GO) build -o $(BIN) ./cmd/rolecd

postgres: ## install Debian's PostgreSQL when no initdb is found
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || [ -n "$$ROLECD_TEST_PGBIN" ]; then \
		echo "postgres: found initdb"; \
	else \
		echo "postgres: no initdb found, installing Debian's postgresql"; \
		$(SUDO) apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends postgresql; \
	fi

lint: ## go vet and a gofmt check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

test: postgres lint ## install what is missing, then vet and every test (integration included)
	$(GO) test $(TESTFLAGS) ./...

demo: postgres build ## run validate, health and plan on roles.example against throwaway clusters
	$(GO) run ./test/pgtest/pgrun -port 54329 -port 54330 -- demo/run.sh

bench: postgres ## run the benchmarks (planner, catalog inspection)
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./planner/...

fuzz: ## fuzz the parsers and the SQL renderer for a short while each
	$(GO) test -run '^$$' -fuzz FuzzParseYAML -fuzztime 30s ./planner/spec
	$(GO) test -run '^$$' -fuzz FuzzParseCSV -fuzztime 30s ./planner/spec
	$(GO) test -run '^$$' -fuzz FuzzRender -fuzztime 30s ./planner
