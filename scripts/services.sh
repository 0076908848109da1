#!/usr/bin/env bash
# All services the integration tests need: PostgreSQL (scripts/postgres.sh) and
# Kafka (scripts/kafka.sh).
#
#   scripts/services.sh up      start both (concurrently), then write
#                               ${YJSHUB_CACHE:-$HOME/.cache/yjshub}/services.env
#   scripts/services.sh down    stop both (PostgreSQL keeps its data; Kafka starts empty next time)
#   scripts/services.sh status  status of both; exit 0 only when both answer
#   scripts/services.sh env     print the export lines
#
# Typical use:
#   bash scripts/services.sh up && . "${YJSHUB_CACHE:-$HOME/.cache/yjshub}/services.env" && go test ./...
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_common.sh
. "$HERE/_common.sh"

WHO=services
ENV_FILE="$YJSHUB_CACHE/services.env"

env_lines() {
	bash "$HERE/postgres.sh" env
	bash "$HERE/kafka.sh" env
}

cmd_up() {
	local t0=$SECONDS pg_pid kafka_pid pg_rc=0 kafka_rc=0
	mkdir -p "$YJSHUB_CACHE"
	# Independent of each other (own ports, own folders, own locks): start both at once.
	bash "$HERE/postgres.sh" up &
	pg_pid=$!
	bash "$HERE/kafka.sh" up &
	kafka_pid=$!
	wait "$pg_pid" || pg_rc=$?
	wait "$kafka_pid" || kafka_rc=$?
	if ((pg_rc != 0 || kafka_rc != 0)); then
		((pg_rc != 0)) && say "$WHO" "postgres failed to come up (exit $pg_rc)"
		((kafka_rc != 0)) && say "$WHO" "kafka failed to come up (exit $kafka_rc)"
		die "$WHO" "not all services are up"
	fi
	env_lines >"$ENV_FILE.tmp.$$"
	mv -f "$ENV_FILE.tmp.$$" "$ENV_FILE"
	say "$WHO" "all up in $((SECONDS - t0))s; wrote $ENV_FILE (source it: . \"$ENV_FILE\")"
}

cmd_down() {
	local rc=0
	bash "$HERE/kafka.sh" down || rc=1
	bash "$HERE/postgres.sh" down || rc=1
	return "$rc"
}

cmd_status() {
	local rc=0
	bash "$HERE/postgres.sh" status || rc=3
	bash "$HERE/kafka.sh" status || rc=3
	return "$rc"
}

case "${1:-}" in
up) cmd_up ;;
down | stop) cmd_down ;;
status) cmd_status ;;
env) env_lines ;;
*)
	echo "usage: $0 up|down|status|env" >&2
	exit 2
	;;
esac
