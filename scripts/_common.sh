# shellcheck shell=bash
# Shared helpers for the test-service scripts (kafka.sh, postgres.sh, services.sh, schemathesis.sh).
# Sourced, not executed.

YJSHUB_CACHE="${YJSHUB_CACHE:-$HOME/.cache/yjshub}"

# say COMPONENT MESSAGE... : progress message on stderr.
say() {
	local who="$1"
	shift
	printf '==> %s: %s\n' "$who" "$*" >&2
}

# die COMPONENT MESSAGE... : error on stderr, exit 1.
die() {
	local who="$1"
	shift
	printf '==> %s: ERROR: %s\n' "$who" "$*" >&2
	exit 1
}

# port_open HOST PORT : true when something accepts TCP connections there.
port_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

# pid_alive PID : true when the process exists (and is not a zombie).
pid_alive() {
	local pid="$1" state
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	[[ -r "/proc/$pid/stat" ]] || return 1
	state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)"
	[[ -n "$state" && "$state" != "Z" ]]
}

# pid_cmdline PID : the command line of PID with NULs turned into spaces.
pid_cmdline() {
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true
}

# apt_install PACKAGE... : install Debian packages (root only), running
# `apt-get update` first only when the package lists are missing or the
# install fails for want of them.
apt_install() {
	if [[ "$(id -u)" != 0 ]]; then
		echo "need root to apt-get install $*" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
		apt-get update -qq >&2
	fi
	if ! apt-get install -y -qq --no-install-recommends "$@" >&2; then
		apt-get update -qq >&2
		apt-get install -y -qq --no-install-recommends "$@" >&2
	fi
}

# close_inherited_fds : in a subshell that is about to start a daemon, close every
# file descriptor above 2 (except bash's own 255), so that the daemon holds no pipe
# of whoever called us (a CI runner or `make ... | tee` would otherwise wait for it).
close_inherited_fds() {
	local f fd
	for f in "/proc/$BASHPID/fd/"*; do
		fd="${f##*/}"
		if [[ "$fd" =~ ^[0-9]+$ ]] && ((fd > 2 && fd != 255)); then
			eval "exec $fd>&-" 2>/dev/null || true
		fi
	done
}
