#!/usr/bin/env bash
# The client generators and the linter of the generated-clients test
# (cmd/yjshub/generated_clients_test.go), which holds the OpenAPI document to what tools that
# nobody here wrote take as is:
#
#   openapi-python-client   from PyPI, in a virtualenv of its own, pinned with every dependency
#                           (tests/openapi-clients/python-constraints.txt)
#   @redocly/cli            from npm, `npm ci` from tests/openapi-clients/package-lock.json
#   oapi-codegen            a Go tool pinned in tests/openapi-clients/go/go.mod; its modules and
#                           those of the generated client are downloaded into Go's module cache
#
#   scripts/openapi-clients.sh up     install all three unless already there (idempotent, quiet when present)
#   scripts/openapi-clients.sh path   print the install directory (exit 3 when absent); the test
#                                     finds venv/bin/openapi-python-client, venv/bin/python and
#                                     node_modules/.bin/redocly under it
#
# The directory is ${YJSHUB_CACHE:-$HOME/.cache/yjshub}/openapi-clients. A finished install leaves
# a stamp naming the versions and the hashes of the pinning files; anything else (an interrupted
# install, another version) is removed and installed again.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_common.sh
. "$HERE/_common.sh"

WHO=openapi-clients
PY_VERSION=0.29.1
SRC="$HERE/../tests/openapi-clients"
DIR="$YJSHUB_CACHE/openapi-clients"
VENV="$DIR/venv"
STAMP="$DIR/.installed"

# want : what the stamp of a finished install says.
want() {
	printf 'openapi-python-client %s %s\n' "$PY_VERSION" "$(cat "$SRC/python-constraints.txt" "$SRC/package-lock.json" "$SRC/go/go.mod" "$SRC/go/go.sum" | sha256sum | cut -d' ' -f1)"
}

installed() {
	[[ -f "$STAMP" && "$(cat "$STAMP")" == "$(want)" && -x "$VENV/bin/openapi-python-client" && -x "$DIR/node_modules/.bin/redocly" ]]
}

cmd_up() {
	mkdir -p "$YJSHUB_CACHE"
	# One install at a time: several make targets may start together.
	exec 9>"$YJSHUB_CACHE/openapi-clients.lock"
	flock 9
	if installed; then
		return 0
	fi
	local t0=$SECONDS
	say "$WHO" "installing openapi-python-client $PY_VERSION, @redocly/cli and oapi-codegen's modules into $DIR"
	rm -rf "$DIR"
	mkdir -p "$DIR"
	make_venv "$WHO" "$VENV"
	"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
		-c "$SRC/python-constraints.txt" "openapi-python-client==$PY_VERSION" >&2 ||
		die "$WHO" "pip could not install openapi-python-client $PY_VERSION"
	"$VENV/bin/openapi-python-client" --version >/dev/null || die "$WHO" "the installed openapi-python-client does not run"

	command -v npm >/dev/null 2>&1 || apt_install nodejs npm || die "$WHO" "npm is required and could not be installed"
	cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
	(cd "$DIR" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "$WHO" "npm ci could not install @redocly/cli"
	"$DIR/node_modules/.bin/redocly" --version >/dev/null 2>&1 || die "$WHO" "the installed redocly does not run"

	# The Go side needs nothing but modules: oapi-codegen (the go.mod's tool) and the generated
	# client's runtime. Downloading them here keeps the test from fetching anything.
	command -v go >/dev/null 2>&1 || die "$WHO" "go is required"
	(cd "$SRC/go" && GOWORK=off GOFLAGS=-mod=mod go mod download) || die "$WHO" "go could not download the modules of tests/openapi-clients/go"
	(cd "$SRC/go" && GOWORK=off go build -o /dev/null github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen) ||
		die "$WHO" "oapi-codegen (tests/openapi-clients/go/go.mod) does not build"

	want >"$STAMP"
	say "$WHO" "installed in $((SECONDS - t0))s"
}

cmd_path() {
	if installed; then
		echo "$DIR"
		return 0
	fi
	echo "openapi-python-client, @redocly/cli or oapi-codegen is not installed: run scripts/openapi-clients.sh up (make openapi-clients)" >&2
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
