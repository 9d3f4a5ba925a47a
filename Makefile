# corscheck: two commands on a fresh Debian/Ubuntu machine:
#   make run    run the conformance suite against the built-in demo target
#   make test   run corscheck's own tests (real Chromium, loopback only)
# CI also runs `make test-heavy`: every stack's real server, the other
# engines' fixture tables, five-run determinism, the compatibility site.
GO      ?= go
BIN     := bin/corscheck
FUZZTIME ?= 10s
# The version stamped into release binaries: the tag, or tag-N-gREV(-dirty).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DIST    ?= dist
RELEASE_PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
# Arguments for `make suite` (the Ginkgo route), e.g. ARGS="--policy my.yaml --target http://127.0.0.1:8080/api"
ARGS    ?=
GINKGO_FLAGS ?= -p
# The compatibility site (make site): where, and in which engines.
SITE_DIR ?= corscheck-site
SITE_BROWSERS ?= all
# The tests in cmd/corscheck's heavy-tagged files.
HEAVY_TESTS = $(shell grep -h -o '^func Test[A-Za-z0-9_]*' $$(grep -l '^//go:build heavy' cmd/corscheck/*_test.go) | sed 's/^func //' | paste -sd'|' -)

.PHONY: all build chrome deps run test test-heavy unit bench lint clean suite release site

all: build

# -buildvcs=auto stamps the commit into the binary (corscheck version),
# whatever GOFLAGS says.
build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/corscheck

chrome:
	@./.ci/ensure-chrome

# Chrome, plus nginx, Node.js and npm for the real-implementation fixtures.
deps:
	@./.ci/ensure-deps

run: chrome build
	./$(BIN) run

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

test: deps lint
	@mkdir -p bin && rm -f bin/real-implementations.txt
	CORSCHECK_SUMMARY=$(CURDIR)/bin/real-implementations.txt $(GO) test -count=1 -timeout 20m ./...
	@echo "Real CORS implementations under fixtures/policies/sample.yaml, and the browser-truth corpus:" && cat bin/real-implementations.txt
	$(GO) test -run '^$$' -fuzz FuzzParsePolicy -fuzztime $(FUZZTIME) ./scenarios
	$(GO) test -run '^$$' -fuzz FuzzRunFlags -fuzztime $(FUZZTIME) ./cmd/corscheck

# The heavy tests (build tag heavy; Ginkgo label heavy): every stack's
# real server with every fix applied, the fixture tables in Firefox and
# WebKit, five runs per engine with identical verdicts, the memory bound
# at the list limits, adaptive against exhaustive, the site built twice.
test-heavy: deps
	$(GO) test -count=1 -tags heavy -timeout 60m -run '^($(HEAVY_TESTS))$$' ./cmd/corscheck
	$(GO) test -count=1 -tags heavy -timeout 60m ./fixtures -args -ginkgo.label-filter=heavy

# The compatibility site: every stack fixture in every engine (SITE_BROWSERS).
site: deps build
	./$(BIN) compat --site $(SITE_DIR) --browser $(SITE_BROWSERS)

# Tests that need no browser.
unit:
	$(GO) test -count=1 ./scenarios ./reports

# The Ginkgo route, from the repository root: relative paths in ARGS are
# resolved from here (CORSCHECK_BASE_DIR), not from suite/.
suite: chrome
	CORSCHECK_BASE_DIR=$(CURDIR) $(GO) run github.com/onsi/ginkgo/v2/ginkgo $(GINKGO_FLAGS) ./suite -- $(ARGS)

# Static binaries for every platform, with SHA-256 checksums.
release:
	@rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; name=corscheck-$(VERSION)-$$os-$$arch; \
		echo "build $$name"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -buildvcs=auto \
			-ldflags "-s -w -X main.version=$(VERSION)" -o $(DIST)/$$name/corscheck ./cmd/corscheck; \
		cp README.md $(DIST)/$$name/; \
		tar -C $(DIST) -czf $(DIST)/$$name.tar.gz $$name; rm -rf $(DIST)/$$name; \
	done
	@cd $(DIST) && sha256sum *.tar.gz > SHA256SUMS && cat SHA256SUMS

# The demo runs 5 times (5 iterations each): the medians are what the README quotes.
bench: chrome
	$(GO) test -run '^$$' -bench . -benchtime 3x ./runner
	@mkdir -p bin
	$(GO) test -run '^$$' -bench DemoRun -benchtime 5x -count 5 ./suite | tee bin/demo-bench.txt
	@awk -f .ci/median.awk bin/demo-bench.txt
	$(GO) test -run '^$$' -bench 'Adaptive1000Routes|ListLimits' -benchtime 1x -timeout 30m ./cmd/corscheck
	@echo "Each engine against its floor (the same fetches in the same browser, observing nothing), paired:"
	$(GO) test -run '^$$' -bench Floor -benchtime 3x -timeout 30m ./suite | tee bin/floor-bench.txt
	@awk '/^BenchmarkFloor/ { for (i = 3; i < NF; i += 2) if ($$(i+1) == "ratio-x") printf "  %-28s %s x its floor\n", $$1, $$i }' bin/floor-bench.txt

clean:
	rm -rf bin corscheck-report corscheck-site $(DIST)
