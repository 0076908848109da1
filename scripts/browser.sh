#!/usr/bin/env bash
# The real browser of the console test (tests/browser/console.spec.mjs, run by
# cmd/yjshub/console_e2e_test.go): Debian's chromium, driven by playwright-core from npm.
#
#   scripts/browser.sh up     install both unless already there (idempotent, quiet when present)
#   scripts/browser.sh path   print the node_modules directory holding playwright-core, for
#                             NODE_PATH (exit 3 when absent)
#
# chromium (and a font with Chinese glyphs, for readable screenshots) come from Debian's
# packages with apt-get; playwright-core is installed with `npm ci` from the checked-in
# tests/browser/package.json and package-lock.json into ${YJSHUB_CACHE:-$HOME/.cache/yjshub}/browser.
# No browser is ever downloaded by playwright (never `npx playwright install`): the test launches
# /usr/bin/chromium. A finished install leaves a stamp naming the lock file's hash; anything else
# (an interrupted install, another version) is removed and installed again.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_common.sh
. "$HERE/_common.sh"

WHO=browser
SPEC_DIR="$HERE/../tests/browser"
DIR="$YJSHUB_CACHE/browser"
STAMP="$DIR/.installed"
CHROMIUM=/usr/bin/chromium
# The Chinese font: without one every label of the screenshots is a row of boxes.
FONT_PACKAGE=fonts-wqy-microhei
FONT_FILE=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc

want() {
	sha256sum "$SPEC_DIR/package-lock.json" | cut -d' ' -f1
}

installed() {
	[[ -f "$STAMP" && "$(cat "$STAMP")" == "$(want)" && -f "$DIR/node_modules/playwright-core/package.json" ]]
}

ensure_debian_packages() {
	local missing=()
	[[ -x "$CHROMIUM" ]] || missing+=(chromium)
	[[ -f "$FONT_FILE" ]] || missing+=("$FONT_PACKAGE")
	((${#missing[@]} == 0)) && return 0
	say "$WHO" "installing ${missing[*]} from Debian's packages"
	apt_install "${missing[@]}" || die "$WHO" "apt-get could not install ${missing[*]}"
	[[ -x "$CHROMIUM" ]] || die "$WHO" "$CHROMIUM is missing after installing chromium"
}

ensure_playwright() {
	installed && return 0
	command -v npm >/dev/null 2>&1 || apt_install nodejs npm || die "$WHO" "npm is required and could not be installed"
	local t0=$SECONDS
	say "$WHO" "installing playwright-core (tests/browser/package-lock.json) into $DIR"
	rm -rf "$DIR"
	mkdir -p "$DIR"
	cp "$SPEC_DIR/package.json" "$SPEC_DIR/package-lock.json" "$DIR/"
	# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: playwright-core downloads nothing itself, and this says
	# so to any install script that might.
	(cd "$DIR" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >&2) ||
		die "$WHO" "npm ci could not install playwright-core"
	want >"$STAMP"
	say "$WHO" "playwright-core installed in $((SECONDS - t0))s"
}

cmd_up() {
	mkdir -p "$YJSHUB_CACHE"
	# One install at a time: several make targets may start together.
	exec 9>"$YJSHUB_CACHE/browser.lock"
	flock 9
	ensure_debian_packages
	ensure_playwright
}

cmd_path() {
	if installed && [[ -x "$CHROMIUM" ]]; then
		echo "$DIR/node_modules"
		return 0
	fi
	echo "chromium or playwright-core is not installed: run scripts/browser.sh up (make browser)" >&2
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
