#!/usr/bin/env bash
# PostgreSQL (Debian's packages) for the tests, as a private cluster — no systemd,
# no Debian service, no pg_createcluster.
#
#   scripts/postgres.sh up      install the server if missing, initdb (first run), start, create role+db
#   scripts/postgres.sh down    stop the cluster (data is kept)
#   scripts/postgres.sh status  print whether it runs; exit 0 when it accepts connections, 3 when not
#   scripts/postgres.sh env     print the export lines for the tests
#   scripts/postgres.sh reset   stop and delete the cluster
#   scripts/postgres.sh psql ARGS...  psql as the superuser over the unix socket
#
# Listens on 127.0.0.1:15432 only; user yjshub / password yjshub (CREATEDB), database
# yjshub_test owned by it; password (scram-sha-256) auth over TCP, trust on the unix
# socket, which lives in the cluster folder (not /var/run/postgresql). TLS is on too (TLS 1.2
# or later), with a certificate for 127.0.0.1 and localhost signed by the test CA
# (scripts/_common.sh tls_cert; ${YJSHUB_CACHE:-$HOME/.cache/yjshub}/tls/ca.pem): clients
# choose with sslmode, and the tests' URL says sslmode=disable.
#
# Where the cluster lives: ${YJSHUB_CACHE:-$HOME/.cache/yjshub}/postgres when the
# server's OS user can reach that folder. As root, $HOME is usually /root (mode 700),
# which the `postgres` user cannot enter (initdb refuses to run as root, and the server
# must own its data dir), so the cluster goes to /var/tmp/yjshub-postgres instead and
# $YJSHUB_CACHE/postgres is made a symlink to it. Set YJSHUB_PG_DIR to choose the
# folder yourself. Inside it: data/ (PGDATA), run/ (socket), tls/ (the server's certificate
# and key, copied from the CA's folder so that the server's OS user owns them), postgres.log.
#
# The cluster runs with fsync=off and synchronous_commit=off: it is a throwaway test
# database, fast beats crash-safe (a stop, or a killed server, loses nothing; only a
# crash of the whole machine could).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/_common.sh
. "$HERE/_common.sh"

WHO=postgres
HOST=127.0.0.1
PORT=15432
DB_USER=yjshub
DB_PASS=yjshub
DB_NAME=yjshub_test

env_line() {
	echo "export YJSHUB_TEST_DATABASE_URL=postgres://$DB_USER:$DB_PASS@$HOST:$PORT/$DB_NAME?sslmode=disable"
	# The CA that signs the server's certificate, once an 'up' has made it.
	if [[ -s "$TLS_DIR/ca.pem" && -s "$TLS_DIR/postgres.pem" ]]; then
		echo "export YJSHUB_TEST_DATABASE_CA=$TLS_DIR/ca.pem"
	fi
}

# ---------------------------------------------------------------------------
# who runs the server, and where

if [[ "$(id -u)" == 0 ]]; then
	RUN_AS=postgres
else
	RUN_AS="$(id -un)"
fi

# as_pg CMD... : run CMD as the server's OS user, from a folder it can enter.
as_pg() {
	if [[ "$(id -u)" == 0 ]]; then
		(cd / && runuser -u "$RUN_AS" -- "$@")
	else
		(cd / && "$@")
	fi
}

ensure_os_user() {
	[[ "$(id -u)" == 0 ]] || return 0
	id "$RUN_AS" >/dev/null 2>&1 && return 0
	# Normally created by the postgresql-common package.
	useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$RUN_AS" ||
		die "$WHO" "could not create OS user $RUN_AS"
}

pick_dir() {
	if [[ -n "${YJSHUB_PG_DIR:-}" ]]; then
		PG_DIR="$YJSHUB_PG_DIR"
		return 0
	fi
	PG_DIR="$YJSHUB_CACHE/postgres"
	if [[ "$(id -u)" != 0 ]]; then
		return 0
	fi
	mkdir -p "$YJSHUB_CACHE"
	if runuser -u "$RUN_AS" -- test -x "$YJSHUB_CACHE" 2>/dev/null; then
		return 0 # the server user can reach the cache: keep the cluster there
	fi
	PG_DIR=/var/tmp/yjshub-postgres
	if [[ ! -e "$YJSHUB_CACHE/postgres" || -L "$YJSHUB_CACHE/postgres" ]]; then
		ln -sfn "$PG_DIR" "$YJSHUB_CACHE/postgres" # so that it is found from the cache too
	fi
}

# ---------------------------------------------------------------------------
# binaries

PG_BIN=""

find_bin() {
	local d
	PG_BIN=""
	# Highest installed major version that has the server binaries.
	for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5n); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
			PG_BIN="$d"
		fi
	done
	if [[ -z "$PG_BIN" ]] && command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		PG_BIN="$(dirname "$(command -v pg_ctl)")"
	fi
	[[ -n "$PG_BIN" ]]
}

ensure_server_installed() {
	find_bin && return 0
	say "$WHO" "PostgreSQL server not installed: apt-get install postgresql (first run only)"
	apt_install postgresql postgresql-client || die "$WHO" "could not install the postgresql package"
	find_bin || die "$WHO" "postgresql installed, but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
}

# ---------------------------------------------------------------------------
# cluster

set_paths() {
	DATA="$PG_DIR/data"
	SOCK="$PG_DIR/run"
	LOG="$PG_DIR/postgres.log"
	PG_TLS="$PG_DIR/tls"
}

# ensure_tls : the server's certificate and key from the test CA, where the server's OS user
# owns them (the server refuses a key that others can read).
ensure_tls() {
	tls_cert postgres
	mkdir -p "$PG_TLS"
	install -m 644 "$TLS_DIR/postgres.pem" "$PG_TLS/server.crt.tmp"
	install -m 600 "$TLS_DIR/postgres-key.pem" "$PG_TLS/server.key.tmp"
	if [[ "$(id -u)" == 0 ]]; then
		chown "$RUN_AS:" "$PG_TLS" "$PG_TLS/server.crt.tmp" "$PG_TLS/server.key.tmp"
	fi
	mv -f "$PG_TLS/server.crt.tmp" "$PG_TLS/server.crt"
	mv -f "$PG_TLS/server.key.tmp" "$PG_TLS/server.key"
}

ensure_cluster() {
	mkdir -p "$PG_DIR" "$SOCK"
	if [[ "$(id -u)" == 0 ]]; then
		chown "$RUN_AS:" "$PG_DIR" "$SOCK"
		# Anything from an earlier run must stay the server user's.
		[[ -d "$DATA" ]] && chown -R "$RUN_AS:" "$DATA"
		[[ -f "$LOG" ]] && chown "$RUN_AS:" "$LOG"
	fi
	chmod 700 "$SOCK"
	ensure_tls
	if [[ ! -f "$DATA/PG_VERSION" ]]; then
		say "$WHO" "initdb in $DATA (first run only)"
		rm -rf "$DATA"
		# Auth is set by write_conf's pg_hba.conf before the first start.
		if ! as_pg "$PG_BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C \
			--auth-local=trust --auth-host=trust >"$PG_DIR/initdb.log" 2>&1; then
			cat "$PG_DIR/initdb.log" >&2
			die "$WHO" "initdb failed"
		fi
	fi
	write_conf
}

write_conf() {
	local conf="$DATA/yjshub.conf"
	as_pg tee "$conf.tmp" >/dev/null <<EOF
# Generated by scripts/postgres.sh on every 'up'; edits are overwritten.
listen_addresses = '$HOST'
port = $PORT
unix_socket_directories = '$SOCK'
password_encryption = 'scram-sha-256'
max_connections = 200
shared_buffers = '128MB'
fsync = off
synchronous_commit = off
full_page_writes = off
log_destination = 'stderr'
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
timezone = 'UTC'
ssl = on
ssl_cert_file = '$PG_TLS/server.crt'
ssl_key_file = '$PG_TLS/server.key'
ssl_min_protocol_version = 'TLSv1.2'
EOF
	as_pg mv -f "$conf.tmp" "$conf"
	if ! grep -q "^include_if_exists = 'yjshub.conf'" "$DATA/postgresql.conf"; then
		printf "\n# Settings of scripts/postgres.sh\ninclude_if_exists = 'yjshub.conf'\n" |
			as_pg tee -a "$DATA/postgresql.conf" >/dev/null
	fi
	as_pg tee "$DATA/pg_hba.conf" >/dev/null <<EOF
# Generated by scripts/postgres.sh on every 'up'; edits are overwritten.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
EOF
}

# Does the server accept connections on our port and socket?
server_ready() {
	[[ -n "$PG_BIN" && -x "$PG_BIN/pg_isready" ]] || return 1
	"$PG_BIN/pg_isready" -q -h "$SOCK" -p "$PORT" -U postgres -d postgres -t 2 2>/dev/null &&
		"$PG_BIN/pg_isready" -q -h "$HOST" -p "$PORT" -U postgres -d postgres -t 2 2>/dev/null
}

# The pid in postmaster.pid, when it is alive and a postgres process.
server_pid() {
	local pid
	[[ -f "$DATA/postmaster.pid" ]] || return 0
	pid="$(head -n 1 "$DATA/postmaster.pid" | tr -dc '0-9')"
	if [[ -n "$pid" ]] && pid_alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == postgres* ]]; then
		echo "$pid"
	fi
	return 0
}

superuser_psql() {
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d postgres
}

# ensure_ssl_on : a running server started by an older postgres.sh serves without TLS: give it
# the certificate and the settings, and reload it (ssl takes effect on reload, no restart).
ensure_ssl_on() {
	local on
	on="$("$PG_BIN/psql" -X -tA -h "$SOCK" -p "$PORT" -U postgres -d postgres -c 'SHOW ssl' 2>/dev/null || true)"
	[[ "$on" == on ]] && return 0
	say "$WHO" "the running server has TLS off: turning it on (reload)"
	ensure_tls
	write_conf
	as_pg "$PG_BIN/pg_ctl" -D "$DATA" -s reload || die "$WHO" "pg_ctl reload failed (log: $LOG)"
	local i
	for ((i = 0; i < 40; i++)); do
		on="$("$PG_BIN/psql" -X -tA -h "$SOCK" -p "$PORT" -U postgres -d postgres -c 'SHOW ssl' 2>/dev/null || true)"
		[[ "$on" == on ]] && return 0
		sleep 0.25
	done
	tail -n 20 "$LOG" >&2 || true
	die "$WHO" "the server did not turn TLS on after a reload (log above, full log: $LOG)"
}

ensure_role_and_db() {
	superuser_psql >/dev/null <<EOF || die "$WHO" "could not create role $DB_USER / database $DB_NAME"
SELECT format('CREATE ROLE %I LOGIN CREATEDB PASSWORD %L', '$DB_USER', '$DB_PASS')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') \gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', '$DB_USER', '$DB_PASS')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER' AND rolcanlogin AND rolcreatedb) \gexec
SELECT format('CREATE DATABASE %I OWNER %I', '$DB_NAME', '$DB_USER')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$DB_NAME') \gexec
EOF
}

start_server() {
	if port_open "$HOST" "$PORT"; then
		die "$WHO" "port $PORT on $HOST is already taken by something that is not this cluster ($DATA); stop it first"
	fi
	if [[ -f "$DATA/postmaster.pid" && -z "$(server_pid)" ]]; then
		say "$WHO" "removing stale postmaster.pid"
		rm -f "$DATA/postmaster.pid"
	fi
	# A killed server also leaves the socket's lock file behind; the server itself
	# refuses to start while the pid in it still exists (e.g. as an unreaped zombie).
	local lock="$SOCK/.s.PGSQL.$PORT.lock" lpid
	if [[ -f "$lock" ]]; then
		lpid="$(head -n 1 "$lock" | tr -dc '0-9')"
		if [[ -z "$lpid" ]] || ! pid_alive "$lpid" || [[ "$(cat "/proc/$lpid/comm" 2>/dev/null)" != postgres* ]]; then
			rm -f "$lock" "$SOCK/.s.PGSQL.$PORT"
		fi
	fi
	[[ -f "$LOG" ]] && mv -f "$LOG" "$LOG.1"
	say "$WHO" "starting server on $HOST:$PORT (data: $DATA, log: $LOG)"
	# pg_ctl detaches the server (setsid) so it outlives this script; -w waits until it accepts connections.
	if ! (close_inherited_fds && as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s start </dev/null); then
		tail -n 40 "$LOG" >&2 || true
		die "$WHO" "the server did not start (log above, full log: $LOG)"
	fi
	local i
	for ((i = 0; i < 40; i++)); do
		server_ready && return 0
		sleep 0.25
	done
	tail -n 40 "$LOG" >&2 || true
	die "$WHO" "the server started but does not accept connections on $HOST:$PORT"
}

stop_server() {
	if [[ -z "$(server_pid)" ]]; then
		say "$WHO" "not running"
		return 0
	fi
	say "$WHO" "stopping server"
	as_pg "$PG_BIN/pg_ctl" -D "$DATA" -w -t 60 -s -m fast stop ||
		die "$WHO" "pg_ctl stop failed (log: $LOG)"
	say "$WHO" "stopped"
}

# ---------------------------------------------------------------------------
# commands

setup() {
	pick_dir
	set_paths
	mkdir -p "$YJSHUB_CACHE"
	exec 9>"$YJSHUB_CACHE/.postgres.lock"
	flock -w 300 9 || die "$WHO" "another postgres.sh holds $YJSHUB_CACHE/.postgres.lock"
}

cmd_up() {
	setup
	find_bin || true
	if [[ -n "$PG_BIN" && -n "$(server_pid)" ]] && server_ready; then
		ensure_role_and_db
		ensure_ssl_on
		say "$WHO" "already running on $HOST:$PORT (pid $(server_pid))"
		return 0
	fi
	ensure_server_installed
	ensure_os_user
	ensure_cluster
	if [[ -n "$(server_pid)" ]]; then
		# A server runs on our data dir but does not answer (yet): let pg_ctl settle it.
		say "$WHO" "server process exists but does not answer: restarting it"
		as_pg "$PG_BIN/pg_ctl" -D "$DATA" -w -t 60 -s -m fast stop || true
	fi
	start_server
	ensure_role_and_db
	say "$WHO" "ready on $HOST:$PORT (pid $(server_pid))"
}

cmd_down() {
	setup
	find_bin || {
		say "$WHO" "not installed, nothing to stop"
		return 0
	}
	stop_server
}

cmd_status() {
	pick_dir
	set_paths
	find_bin || {
		echo "postgres: server not installed"
		return 3
	}
	local pid
	pid="$(server_pid)"
	if [[ -n "$pid" ]] && server_ready; then
		echo "postgres: running on $HOST:$PORT (pid $pid, $("$PG_BIN/postgres" --version), data $DATA)"
		return 0
	elif [[ -n "$pid" ]]; then
		echo "postgres: process $pid exists but does not accept connections on $HOST:$PORT"
		return 3
	fi
	echo "postgres: not running (data $DATA)"
	return 3
}

cmd_reset() {
	cmd_down
	say "$WHO" "deleting $PG_DIR"
	rm -rf "${PG_DIR:?}/data" "$PG_DIR/run" "$PG_DIR/postgres.log" "$PG_DIR/postgres.log.1" "$PG_DIR/initdb.log"
}

case "${1:-}" in
up) cmd_up ;;
down | stop) cmd_down ;;
status) cmd_status ;;
env) env_line ;;
reset) cmd_reset ;;
psql)
	shift
	pick_dir
	set_paths
	find_bin || die "$WHO" "server not installed: run '$0 up' first"
	"$PG_BIN/psql" -X -h "$SOCK" -p "$PORT" -U postgres -d postgres "$@"
	;;
*)
	echo "usage: $0 up|down|status|env|reset|psql [args]" >&2
	exit 2
	;;
esac
