#!/usr/bin/env bash
# promtool, from Debian's prometheus package, for the tests of the alert rules under ops/
# (ops/ops_test.go runs `promtool check rules` and `promtool test rules`).
#
#   scripts/promtool.sh up     install the package unless promtool is already there (idempotent,
#                              quiet when it is)
#   scripts/promtool.sh path   print the path of promtool (exit 3 when absent)
#
# The package installs /usr/bin/promtool with the Prometheus server, whose service Debian's
# policy may start (not where /usr/sbin/policy-rc.d forbids it, as in containers); the hub needs
# only promtool. Installing needs root, as scripts/postgres.sh's PostgreSQL does.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_common.sh
. "$HERE/_common.sh"

WHO=promtool
EXE=/usr/bin/promtool

installed() {
	[[ -x "$EXE" ]] && "$EXE" --version >/dev/null 2>&1
}

cmd_up() {
	if installed; then
		return 0
	fi
	mkdir -p "$YJSHUB_CACHE"
	# One install at a time: dpkg takes its own lock, but a second caller would fail on it
	# rather than wait.
	exec 9>"$YJSHUB_CACHE/promtool.lock"
	flock 9
	if installed; then
		return 0
	fi
	local t0=$SECONDS
	say "$WHO" "installing Debian's prometheus package (for promtool)"
	apt_install prometheus ||
		die "$WHO" "apt-get could not install Debian's prometheus package (see apt-get's output above)"
	installed || die "$WHO" "the prometheus package is installed but $EXE does not run"
	say "$WHO" "$("$EXE" --version 2>&1 | head -n 1) installed in $((SECONDS - t0))s"
}

cmd_path() {
	if installed; then
		echo "$EXE"
		return 0
	fi
	echo "promtool is not installed: run scripts/promtool.sh up" >&2
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
