# corscheck: two commands on a fresh Debian/Ubuntu machine:
#   make run    run the conformance suite against the built-in demo target
#   make test   run corscheck's own tests (real Chromium, loopback only)
GO      ?= go
BIN     := bin/corscheck
FUZZTIME ?= 10s

.PHONY: all build chrome deps run test unit bench lint clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/corscheck

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
	CORSCHECK_SUMMARY=$(CURDIR)/bin/real-implementations.txt $(GO) test -count=1 ./...
	@echo "Real CORS implementations under fixtures/policies/sample.yaml, and the browser-truth corpus:" && cat bin/real-implementations.txt
	$(GO) test -run '^$$' -fuzz FuzzParsePolicy -fuzztime $(FUZZTIME) ./scenarios

# Tests that need no browser.
unit:
	$(GO) test -count=1 ./scenarios ./reports

bench: chrome
	$(GO) test -run '^$$' -bench . -benchtime 3x ./runner ./suite

clean:
	rm -rf bin corscheck-report
