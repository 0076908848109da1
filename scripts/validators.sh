#!/usr/bin/env bash
# The independent JSON Schema validators of the form test (tests/validators/validators_test.go):
# ajv with ajv-formats from npm, and Python jsonschema from PyPI, each pinned.
#
#   scripts/validators.sh up     install both unless already there (idempotent, quiet when present)
#   scripts/validators.sh path   print two lines: the node_modules directory holding ajv (for
#                                NODE_PATH) and the python of the jsonschema virtualenv (exit 3
#                                when either is absent)
#
# ajv is installed with `npm ci` from the checked-in tests/validators/package.json and
# package-lock.json into ${YJSHUB_CACHE:-$HOME/.cache/yjshub}/validators/npm; jsonschema into a
# virtualenv at .../validators/venv, pinned with every dependency
# (scripts/validators-constraints.txt). A finished install leaves a stamp naming what it
# installed; anything else (an interrupted install, another version) is removed and installed again.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_common.sh
. "$HERE/_common.sh"

WHO=validators
SPEC_DIR="$HERE/../tests/validators"
DIR="$YJSHUB_CACHE/validators"
NPM_DIR="$DIR/npm"
VENV="$DIR/venv"
JSONSCHEMA_VERSION=4.26.0
# rfc3986-validator is what jsonschema checks the uri format with (the materials' uri); without
# it that format is unknown to Python and a strict setup refuses the application schema.
RFC3986_VERSION=0.1.1
CONSTRAINTS="$HERE/validators-constraints.txt"

npm_want() { sha256sum "$SPEC_DIR/package-lock.json" | cut -d' ' -f1; }
py_want() { printf '%s %s %s\n' "$JSONSCHEMA_VERSION" "$RFC3986_VERSION" "$(sha256sum "$CONSTRAINTS" | cut -d' ' -f1)"; }

npm_installed() {
	[[ -f "$NPM_DIR/.installed" && "$(cat "$NPM_DIR/.installed")" == "$(npm_want)" && -f "$NPM_DIR/node_modules/ajv/package.json" ]]
}

py_installed() {
	[[ -x "$VENV/bin/python" && -f "$VENV/.installed" && "$(cat "$VENV/.installed")" == "$(py_want)" ]]
}

ensure_ajv() {
	npm_installed && return 0
	command -v npm >/dev/null 2>&1 || apt_install nodejs npm || die "$WHO" "npm is required and could not be installed"
	local t0=$SECONDS
	say "$WHO" "installing ajv (tests/validators/package-lock.json) into $NPM_DIR"
	rm -rf "$NPM_DIR"
	mkdir -p "$NPM_DIR"
	cp "$SPEC_DIR/package.json" "$SPEC_DIR/package-lock.json" "$NPM_DIR/"
	(cd "$NPM_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "$WHO" "npm ci could not install ajv"
	npm_want >"$NPM_DIR/.installed"
	say "$WHO" "ajv installed in $((SECONDS - t0))s"
}

ensure_jsonschema() {
	py_installed && return 0
	local t0=$SECONDS
	say "$WHO" "installing jsonschema $JSONSCHEMA_VERSION into $VENV"
	make_venv "$WHO" "$VENV"
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
		-c "$CONSTRAINTS" "jsonschema==$JSONSCHEMA_VERSION" "rfc3986-validator==$RFC3986_VERSION" >&2 ||
		die "$WHO" "pip could not install jsonschema $JSONSCHEMA_VERSION"
	"$VENV/bin/python" -c 'import jsonschema, rfc3986_validator' || die "$WHO" "the installed jsonschema does not import"
	py_want >"$VENV/.installed"
	say "$WHO" "jsonschema $JSONSCHEMA_VERSION installed in $((SECONDS - t0))s"
}

cmd_up() {
	mkdir -p "$DIR"
	# One install at a time: several make targets may start together.
	exec 9>"$YJSHUB_CACHE/validators.lock"
	flock 9
	ensure_ajv
	ensure_jsonschema
}

cmd_path() {
	if npm_installed && py_installed; then
		echo "$NPM_DIR/node_modules"
		echo "$VENV/bin/python"
		return 0
	fi
	echo "ajv or jsonschema is not installed: run scripts/validators.sh up (make validators)" >&2
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
