#!/usr/bin/env bash
# make bench: the Go benchmarks of the hot paths, then `yjshub bench` on the embedded default and
# on PostgreSQL + Apache Kafka (started by scripts/services.sh), delivered-only and full flow;
# writes BENCHMARKS.md with the figures, the machine and how to reproduce them.
#
# BENCH_DURATION (default 20s), BENCH_RATE_DELIVERED (300) and BENCH_RATE_FULL (100), the target
# rates, change the runs; BENCH_RATE_PG_DELIVERED (150) and BENCH_RATE_PG_FULL (60) are the rates
# of two more runs on PostgreSQL + Kafka, at about what this machine sustains there; OUT (default
# BENCHMARKS.md) where the report goes.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_common.sh

GO="${GO:-go}"
OUT="${OUT:-BENCHMARKS.md}"
DURATION="${BENCH_DURATION:-20s}"
RATE_DELIVERED="${BENCH_RATE_DELIVERED:-300}"
RATE_FULL="${BENCH_RATE_FULL:-100}"
RATE_PG_DELIVERED="${BENCH_RATE_PG_DELIVERED:-150}"
RATE_PG_FULL="${BENCH_RATE_PG_FULL:-60}"
WHO=bench

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say "$WHO" "building the hub"
"$GO" build -o "$work/yjshub" ./cmd/yjshub

say "$WHO" "Go benchmarks: mapping, one-form validation, intake"
"$GO" test -run '^$' -bench 'MapCase|OneFormValidate|IntakeToDispatch' -benchmem -count 3 ./mapping ./hub/cases | tee "$work/go-bench.txt"

# run NAME FLOW RATE: one yjshub bench on the backend the environment names.
run() {
	local name="$1" until="$2" rate="$3"
	say "$WHO" "yjshub bench: $name, until $until, $rate cases/s for $DURATION"
	"$work/yjshub" bench --quiet --until "$until" --rate "$rate" --duration "$DURATION" --drain 60s --json >"$work/$name.txt" 2>"$work/$name.err" || {
		cat "$work/$name.err" >&2
		die "$WHO" "yjshub bench $name failed"
	}
	cat "$work/$name.txt"
}

(
	unset YJSHUB_DATABASE_URL YJSHUB_KAFKA_BROKERS YJSHUB_KAFKA_NAMESPACE
	run embedded-delivered delivered "$RATE_DELIVERED"
	run embedded-full completed "$RATE_FULL"
)

say "$WHO" "starting PostgreSQL and Kafka"
bash scripts/services.sh up >/dev/null
# shellcheck disable=SC1091
source "$YJSHUB_CACHE/services.env"
schema="bench_$(date +%s)_$$"
export PGOPTIONS='-c client_min_messages=warning' # no NOTICE for each table a DROP … CASCADE takes
psql -q "$YJSHUB_TEST_DATABASE_URL" -c "CREATE SCHEMA $schema" >/dev/null
cleanup_schema() { psql -q "$YJSHUB_TEST_DATABASE_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true; }
trap 'cleanup_schema; rm -rf "$work"' EXIT
# pg NAME UNTIL RATE: one run on PostgreSQL + Kafka, on a schema and a topic namespace of its own.
pg() {
	(
		psql -q "$YJSHUB_TEST_DATABASE_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE; CREATE SCHEMA $schema" >/dev/null
		export YJSHUB_DATABASE_URL="${YJSHUB_TEST_DATABASE_URL}&search_path=$schema"
		export YJSHUB_KAFKA_BROKERS="$YJSHUB_TEST_KAFKA" YJSHUB_KAFKA_NAMESPACE="$schema.$1."
		run "$1" "$2" "$3"
	)
}
pg postgres-delivered delivered "$RATE_DELIVERED"
pg postgres-full completed "$RATE_FULL"
pg postgres-delivered-sustained delivered "$RATE_PG_DELIVERED"
pg postgres-full-sustained completed "$RATE_PG_FULL"

say "$WHO" "writing $OUT"
{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD)."
	echo "Reproduce with \`make bench\`; \`BENCH_DURATION\`, \`BENCH_RATE_DELIVERED\` and \`BENCH_RATE_FULL\` change the runs."
	echo
	echo "## The machine"
	echo
	echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
	echo "- memory: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
	echo "- $("$GO" version)"
	echo "- hub, Kafka, PostgreSQL, the simulated departments and the load generator all on this machine"
	echo
	echo "## Targets and what was measured"
	echo
	echo "Each column is one run at the offered load its first rows give; the last column is PostgreSQL + Kafka"
	echo "at about the load this machine sustains there."
	echo
	echo "| | target | embedded (SQLite + in-process broker) | PostgreSQL + Kafka | PostgreSQL + Kafka, lower load |"
	echo "|---|---|---|---|---|"
	python3 - "$work" <<'EOF'
import json, sys, os
w = sys.argv[1]
def last(name):
    with open(os.path.join(w, name + ".txt")) as f:
        return json.loads(f.read().strip().splitlines()[-1])
names = ["embedded-delivered", "embedded-full", "postgres-delivered", "postgres-full", "postgres-delivered-sustained", "postgres-full-sustained"]
r = {n: last(n) for n in names}
def row(label, target, key, flow, fmt="{:.1f}"):
    cells = []
    for run in [f"embedded-{flow}", f"postgres-{flow}", f"postgres-{flow}-sustained"]:
        v = r[run].get(key)
        cells.append("n/a" if v is None else fmt.format(v))
    print(f"| {label} | {target} | " + " | ".join(cells) + " |")
def offered(flow):
    cells = [f"{r[run]['rate']:.0f} cases/s" for run in [f"embedded-{flow}", f"postgres-{flow}", f"postgres-{flow}-sustained"]]
    print(f"| offered load, {'delivered-only' if flow == 'delivered' else 'full flow'} | | " + " | ".join(cells) + " |")
offered("delivered")
row("cases/s delivered to every department (within the run)", "≥ 300", "cases_per_second", "delivered")
row("cases/s delivered, every case over the time to the last", "", "settled_per_second", "delivered")
row("p50 submission → every department delivered (ms)", "", "p50_completed_ms", "delivered")
row("p99 submission → every department delivered (ms)", "< 100 at 100/s", "p99_completed_ms", "delivered")
row("p99 submission answer (ms), delivered-only", "< 50", "p99_submit_ms", "delivered")
row("SQL statements per case, delivered-only", "≤ 60", "sql_statements_per_case", "delivered")
offered("full")
row("cases/s completed, full flow (within the run)", "≥ 100", "cases_per_second", "full")
row("cases/s completed, every case over the time to the last", "", "settled_per_second", "full")
row("p99 submission → completed (ms), full flow", "", "p99_completed_ms", "full")
row("SQL statements per case, full flow", "≤ 60", "sql_statements_per_case", "full")
row("errors, delivered-only (not settled within the drain, refused)", "0", "errors", "delivered", "{}")
row("errors, full flow", "0", "errors", "full", "{}")
row("largest RSS (MB; in process: the load generator's share included)", "< 300", "max_rss_mb", "full")
EOF
	echo
	echo "## Go benchmarks"
	echo
	echo '```'
	grep -E '^(Benchmark|goos|cpu|pkg)' "$work/go-bench.txt"
	echo '```'
	for n in embedded-delivered embedded-full postgres-delivered postgres-full postgres-delivered-sustained postgres-full-sustained; do
		echo
		echo "## yjshub bench: $n"
		echo
		echo '```'
		sed '$d' "$work/$n.txt"
		echo '```'
	done
} >"$OUT"
say "$WHO" "wrote $OUT"
