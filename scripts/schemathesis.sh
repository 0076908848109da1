#!/usr/bin/env bash
# Schemathesis (from PyPI) for the contract test (cmd/yjshub/contract_test.go), in a virtualenv
# of its own, pinned with every dependency (scripts/schemathesis-constraints.txt).
#
#   scripts/schemathesis.sh up     install it unless this version is already there (idempotent)
#   scripts/schemathesis.sh path   print the path of the schemathesis executable (exit 3 when absent)
#
# The virtualenv is ${YJSHUB_CACHE:-$HOME/.cache/yjshub}/schemathesis. It is made with
# `python3 -m venv`; where that fails for want of Debian's venv module (python3-venv), the
# module is installed with apt first, as scripts/postgres.sh installs PostgreSQL. A finished
# install leaves a stamp naming its version and constraints; anything else (an interrupted
# install, another version) is removed and installed again.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_common.sh
. "$HERE/_common.sh"

WHO=schemathesis
VERSION=4.32.5
CONSTRAINTS="$HERE/schemathesis-constraints.txt"
VENV="$YJSHUB_CACHE/schemathesis"
EXE="$VENV/bin/schemathesis"
STAMP="$VENV/.installed"

# want : what the stamp of a finished install of this version says.
want() {
	printf '%s %s\n' "$VERSION" "$(sha256sum "$CONSTRAINTS" | cut -d' ' -f1)"
}

installed() {
	[[ -x "$EXE" && -f "$STAMP" && "$(cat "$STAMP")" == "$(want)" ]]
}

cmd_up() {
	mkdir -p "$YJSHUB_CACHE"
	# One install at a time: `make test` and `make contract` may start together.
	exec 9>"$YJSHUB_CACHE/schemathesis.lock"
	flock 9
	if installed; then
		return 0
	fi
	local t0=$SECONDS
	say "$WHO" "installing schemathesis $VERSION into $VENV"
	make_venv "$WHO" "$VENV"
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
		-c "$CONSTRAINTS" "schemathesis==$VERSION" >&2 ||
		die "$WHO" "pip could not install schemathesis $VERSION"
	"$EXE" --version >/dev/null || die "$WHO" "the installed schemathesis does not run"
	want >"$STAMP"
	say "$WHO" "schemathesis $VERSION installed in $((SECONDS - t0))s"
}

cmd_path() {
	if installed; then
		echo "$EXE"
		return 0
	fi
	echo "schemathesis $VERSION is not installed: run scripts/schemathesis.sh up" >&2
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
