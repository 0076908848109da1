# shellcheck shell=bash
# Shared helpers for the test-service and test-tool scripts (kafka.sh, postgres.sh, services.sh, and
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
