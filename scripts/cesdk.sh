#!/usr/bin/env bash
# The official CloudEvents Python SDK (cloudevents, from PyPI) with a Kafka client of its own
# (confluent-kafka, whose wheels carry librdkafka), in a virtualenv of their own, pinned with
# every dependency (scripts/cesdk-constraints.txt). tests/cesdk/cesdk.py drives them; the Go
# test cmd/yjshub/cesdk_e2e_test.go runs it against a hub: neither library was written here, so
# they check the hub's Kafka records and its reading of results against the CloudEvents Kafka
# protocol binding as departments' own software reads and writes it.
#
#   scripts/cesdk.sh up     install them unless these versions are already there (idempotent)
#   scripts/cesdk.sh path   print the path of the virtualenv's python (exit 3 when absent)
#
# The virtualenv is ${YJSHUB_CACHE:-$HOME/.cache/yjshub}/cesdk, made with `python3 -m venv`
# (Debian's python3-venv is installed with apt where the module is missing). A finished install
# leaves a stamp naming its versions and constraints; anything else is removed and installed again.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_common.sh
. "$HERE/_common.sh"

WHO=cesdk
CLOUDEVENTS=2.2.0
CONFLUENT_KAFKA=2.16.1
CONSTRAINTS="$HERE/cesdk-constraints.txt"
VENV="$YJSHUB_CACHE/cesdk"
EXE="$VENV/bin/python"
STAMP="$VENV/.installed"

want() {
	printf 'cloudevents %s confluent-kafka %s %s\n' "$CLOUDEVENTS" "$CONFLUENT_KAFKA" "$(sha256sum "$CONSTRAINTS" | cut -d' ' -f1)"
}

installed() {
	[[ -x "$EXE" && -f "$STAMP" && "$(cat "$STAMP")" == "$(want)" ]]
}

cmd_up() {
	mkdir -p "$YJSHUB_CACHE"
	exec 9>"$YJSHUB_CACHE/cesdk.lock"
	flock 9
	if installed; then
		return 0
	fi
	local t0=$SECONDS
	say "$WHO" "installing cloudevents $CLOUDEVENTS and confluent-kafka $CONFLUENT_KAFKA into $VENV"
	make_venv "$WHO" "$VENV"
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
		-c "$CONSTRAINTS" "cloudevents==$CLOUDEVENTS" "confluent-kafka==$CONFLUENT_KAFKA" >&2 ||
		die "$WHO" "pip could not install cloudevents $CLOUDEVENTS and confluent-kafka $CONFLUENT_KAFKA"
	"$EXE" -c 'import cloudevents.v1.kafka, confluent_kafka' || die "$WHO" "the installed packages do not import"
	want >"$STAMP"
	say "$WHO" "installed in $((SECONDS - t0))s"
}

cmd_path() {
	if installed; then
		echo "$EXE"
		return 0
	fi
	echo "cloudevents $CLOUDEVENTS and confluent-kafka $CONFLUENT_KAFKA are not installed: run scripts/cesdk.sh up (make cesdk)" >&2
	return 3
}

case "${1:-}" in
up) cmd_up ;;
path) cmd_path ;;
*)
	echo "usage: $0 up|path" >&2
	exit 2
	;;
esac
