# shellcheck shell=bash
# Shared helpers for the test-service and test-tool scripts (kafka.sh, s3proxy.sh, postgres.sh, services.sh, and
# the installers of the independent tools: schemathesis.sh, cesdk.sh, openapi-clients.sh, validators.sh).
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

# our_pid PIDFILE PATTERN IS_OURS : the pid of our running server, or nothing. The pid file is
# believed only when IS_OURS (a function given a pid) agrees; else the process table is searched
# for PATTERN (pgrep -f) and the pid found is written back to PIDFILE.
our_pid() {
	local pidfile="$1" pattern="$2" is_ours="$3" pid=""
	if [[ -f "$pidfile" ]]; then
		pid="$(tr -dc '0-9' <"$pidfile" || true)"
		if [[ -n "$pid" ]] && "$is_ours" "$pid"; then
			echo "$pid"
			return 0
		fi
	fi
	for pid in $(pgrep -f -- "$pattern" 2>/dev/null || true); do
		if "$is_ours" "$pid"; then
			echo "$pid" >"$pidfile"
			echo "$pid"
			return 0
		fi
	done
	return 0
}

# lock_dir COMPONENT DIR SECONDS : hold DIR/.lock (on fd 9) until the script ends, waiting up to
# SECONDS for another run that holds it.
lock_dir() {
	mkdir -p "$2"
	exec 9>"$2/.lock"
	flock -w "$3" 9 || die "$1" "another run holds $2/.lock"
}

# wait_started COMPONENT WHAT PID PIDFILE LOG SECONDS FIND READY [CHECKLOG] : wait until READY (a
# command) succeeds for the server started as PID. When PID exits, FIND (a
# command printing our server's pid) looks for the process setsid may have forked; when there
# is none, or after SECONDS, it dies showing the end of LOG (and of CHECKLOG, the last
# readiness check's output, when there is one).
wait_started() {
	local who="$1" what="$2" pid="$3" pidfile="$4" log="$5" secs="$6" find="$7" ready="$8" checklog="${9:-}"
	local t0=$SECONDS deadline=$((SECONDS + secs)) other
	while ((SECONDS < deadline)); do
		if ! pid_alive "$pid"; then
			other="$("$find")"
			if [[ -z "$other" ]]; then
				rm -f "$pidfile"
				tail -n 60 "$log" >&2 || true
				die "$who" "$what exited during startup (log above, full log: $log)"
			fi
			pid="$other"
			echo "$pid" >"$pidfile"
		fi
		if "$ready"; then
			say "$who" "$what ready after $((SECONDS - t0))s (pid $pid)"
			return 0
		fi
		sleep 0.5
	done
	tail -n 60 "$log" >&2 || true
	[[ -n "$checklog" && -s "$checklog" ]] && { echo "--- last readiness check:" >&2; tail -n 20 "$checklog" >&2; }
	die "$who" "$what not ready after ${secs}s (log above, full log: $log; it is left running, pid $pid)"
}

# stop_process COMPONENT WHAT PID PIDFILE SECONDS : stop PID (nothing when it is empty) with
# SIGTERM, and SIGKILL when it is still there after SECONDS; the pid file goes either way.
stop_process() {
	local who="$1" what="$2" pid="$3" pidfile="$4" secs="$5" i
	if [[ -z "$pid" ]]; then
		rm -f "$pidfile"
		say "$who" "not running"
		return 0
	fi
	say "$who" "stopping $what (pid $pid)"
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 4; i++)); do
		pid_alive "$pid" || break
		sleep 0.25
	done
	if pid_alive "$pid"; then
		say "$who" "$what did not stop within ${secs}s: killing it"
		kill -KILL "$pid" 2>/dev/null || true
		sleep 0.5
	fi
	rm -f "$pidfile"
	say "$who" "stopped"
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

# ---------------------------------------------------------------------------
# The test services' certificate authority: one CA under $YJSHUB_CACHE/tls that signs the
# certificates of Kafka's SASL_SSL listener and of PostgreSQL's TLS, so that tests trust
# both through one file (ca.pem). Made once; a certificate is made again only when missing,
# within a day of expiry, or not signed by the current CA. Concurrent callers (services.sh
# starts both services at once) take turns on a lock.

TLS_DIR="$YJSHUB_CACHE/tls"

# tls_cert NAME : ensure $TLS_DIR/ca.pem and a server certificate NAME.pem (key NAME-key.pem,
# PKCS#8, unencrypted) for 127.0.0.1 and localhost, signed by it.
tls_cert() {
	local name="$1" who="tls"
	command -v openssl >/dev/null 2>&1 || apt_install openssl || die "$who" "openssl is required to make the test certificates"
	mkdir -p "$TLS_DIR"
	chmod 755 "$TLS_DIR"
	(
		exec 8>"$TLS_DIR/.lock"
		flock -w 120 8 || die "$who" "another script holds $TLS_DIR/.lock"
		local ca="$TLS_DIR/ca.pem" cakey="$TLS_DIR/ca-key.pem" crt="$TLS_DIR/$name.pem" key="$TLS_DIR/$name-key.pem"
		if [[ ! -s "$ca" || ! -s "$cakey" ]] || ! openssl x509 -in "$ca" -noout -checkend 86400 >/dev/null 2>&1; then
			say "$who" "making the test CA in $TLS_DIR"
			openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout "$cakey.tmp" -out "$ca.tmp" -days 3650 -subj "/O=yjshub tests/CN=yjshub test CA" \
				-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
				>/dev/null 2>"$TLS_DIR/openssl.log" || { cat "$TLS_DIR/openssl.log" >&2; die "$who" "openssl could not make the CA"; }
			chmod 600 "$cakey.tmp"
			chmod 644 "$ca.tmp"
			mv -f "$cakey.tmp" "$cakey"
			mv -f "$ca.tmp" "$ca"
		fi
		if [[ -s "$crt" && -s "$key" ]] && openssl x509 -in "$crt" -noout -checkend 86400 >/dev/null 2>&1 &&
			openssl verify -CAfile "$ca" "$crt" >/dev/null 2>&1; then
			exit 0
		fi
		say "$who" "making the certificate of $name (127.0.0.1, localhost)"
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$key.tmp" -out "$TLS_DIR/$name.csr" -subj "/O=yjshub tests/CN=$name" \
			>/dev/null 2>"$TLS_DIR/openssl.log" || { cat "$TLS_DIR/openssl.log" >&2; die "$who" "openssl could not make the key of $name"; }
		printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
			"keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >"$TLS_DIR/$name.ext"
		openssl x509 -req -in "$TLS_DIR/$name.csr" -CA "$ca" -CAkey "$cakey" -set_serial "0x$(openssl rand -hex 16)" \
			-days 825 -extfile "$TLS_DIR/$name.ext" -out "$crt.tmp" \
			>/dev/null 2>"$TLS_DIR/openssl.log" || { cat "$TLS_DIR/openssl.log" >&2; die "$who" "openssl could not sign the certificate of $name"; }
		rm -f "$TLS_DIR/$name.csr" "$TLS_DIR/$name.ext"
		chmod 600 "$key.tmp"
		chmod 644 "$crt.tmp"
		mv -f "$key.tmp" "$key"
		mv -f "$crt.tmp" "$crt"
	)
}

# make_venv COMPONENT DIR : a fresh Python virtualenv at DIR, installing python3 and Debian's venv
# module (python3-venv) from Debian's packages when they are missing.
make_venv() {
	local who="$1" dir="$2"
	rm -rf "$dir"
	if ! command -v python3 >/dev/null 2>&1; then
		say "$who" "python3 is missing: installing it from Debian's packages"
		apt_install python3 python3-venv || die "$who" "could not install python3"
	fi
	if python3 -m venv "$dir" >/dev/null 2>&1; then
		return 0
	fi
	rm -rf "$dir"
	say "$who" "python3 -m venv does not work here: installing python3-venv from Debian's packages"
	apt_install python3-venv || die "$who" "could not install python3-venv"
	python3 -m venv "$dir" || die "$who" "python3 -m venv $dir failed even with python3-venv installed"
}
