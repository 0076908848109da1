#!/usr/bin/env bash
# All services the integration tests need: PostgreSQL (scripts/postgres.sh), Kafka
# (scripts/kafka.sh) and an S3 API server, S3Proxy (scripts/s3proxy.sh).
#
#   scripts/services.sh up      start all three (concurrently), then write
#                               ${YJSHUB_CACHE:-$HOME/.cache/yjshub}/services.env
#   scripts/services.sh down    stop all three (PostgreSQL and S3Proxy keep their data; Kafka starts empty next time)
#   scripts/services.sh status  status of each; exit 0 only when all answer
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
	bash "$HERE/s3proxy.sh" env
}

cmd_up() {
	local t0=$SECONDS pg_pid kafka_pid s3_pid pg_rc=0 kafka_rc=0 s3_rc=0
	mkdir -p "$YJSHUB_CACHE"
	# Independent of each other (own ports, own folders, own locks): start them all at once.
	bash "$HERE/postgres.sh" up &
	pg_pid=$!
	bash "$HERE/kafka.sh" up &
	kafka_pid=$!
	bash "$HERE/s3proxy.sh" up &
	s3_pid=$!
	wait "$pg_pid" || pg_rc=$?
	wait "$kafka_pid" || kafka_rc=$?
	wait "$s3_pid" || s3_rc=$?
	if ((pg_rc != 0 || kafka_rc != 0 || s3_rc != 0)); then
		((pg_rc != 0)) && say "$WHO" "postgres failed to come up (exit $pg_rc)"
		((kafka_rc != 0)) && say "$WHO" "kafka failed to come up (exit $kafka_rc)"
		((s3_rc != 0)) && say "$WHO" "s3proxy failed to come up (exit $s3_rc)"
		die "$WHO" "not all services are up"
	fi
	env_lines >"$ENV_FILE.tmp.$$"
	mv -f "$ENV_FILE.tmp.$$" "$ENV_FILE"
	say "$WHO" "all up in $((SECONDS - t0))s; wrote $ENV_FILE (source it: . \"$ENV_FILE\")"
}

cmd_down() {
	local rc=0
	bash "$HERE/s3proxy.sh" down || rc=1
	bash "$HERE/kafka.sh" down || rc=1
	bash "$HERE/postgres.sh" down || rc=1
	return "$rc"
}

cmd_status() {
	local rc=0
	bash "$HERE/postgres.sh" status || rc=3
	bash "$HERE/kafka.sh" status || rc=3
	bash "$HERE/s3proxy.sh" status || rc=3
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
