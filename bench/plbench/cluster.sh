# bench/plbench/cluster.sh: a throw-away PostgreSQL 15 cluster for benchmarks.
# shellcheck shell=bash
#
# Sourced by bench/plbench/run and bench/erlsql/run. bench_cluster_up either
#   - creates a private cluster in /tmp/plerl-bench-XXXXXX (initdb as the OS
#     user postgres when run as root, else as yourself), socket only
#     (listen_addresses = ''), port $BENCH_PGPORT (default 54440, the next free
#     one if taken), and exports PGHOST/PGPORT/PGUSER for it; or
#   - with BENCH_CLUSTER=env, uses the server PGHOST/PGPORT/PGUSER already name
#     (e.g. after `. scripts/env.sh`): nothing is created or stopped.
# bench_cluster_down stops and removes only what bench_cluster_up created
# (KEEP=1 keeps the directory and leaves the server running).

BENCH_CLUSTER=${BENCH_CLUSTER:-own}
BENCH_DIR=
BENCH_PG_OWNER=

bench_pgbin() {
	local c=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
	[ -x "$c" ] || c=$(command -v pg_config)
	"$c" --bindir
}
PG_BINDIR=${PG_BINDIR:-$(bench_pgbin)}
export PATH="$PG_BINDIR:$PATH"

bench_as_owner() {
	if [ -n "$BENCH_PG_OWNER" ]; then
		(cd / && runuser -u "$BENCH_PG_OWNER" -- "$@")
	else
		"$@"
	fi
}

bench_cluster_up() {
	if [ "$BENCH_CLUSTER" = env ]; then
		: "${PGHOST:?BENCH_CLUSTER=env needs PGHOST}" "${PGPORT:?BENCH_CLUSTER=env needs PGPORT}"
		export PGUSER=${PGUSER:-postgres}
		echo "# cluster: existing server PGHOST=$PGHOST PGPORT=$PGPORT"
		return 0
	fi
	[ "$(id -u)" = 0 ] && BENCH_PG_OWNER=postgres
	BENCH_DIR=$(mktemp -d /tmp/plerl-bench-XXXXXX)
	chmod 755 "$BENCH_DIR"
	[ -z "$BENCH_PG_OWNER" ] || chown "$BENCH_PG_OWNER:" "$BENCH_DIR"
	local port=${BENCH_PGPORT:-54440}
	while [ -e "/tmp/.s.PGSQL.$port" ] || ls /tmp/plerl-bench-*/.s.PGSQL."$port" >/dev/null 2>&1 ||
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
		port=$((port + 1))
	done
	bench_as_owner "$PG_BINDIR/initdb" -D "$BENCH_DIR/data" -U postgres --auth=trust -E UTF8 \
		--locale=C --no-instructions >"$BENCH_DIR/initdb.log" 2>&1 ||
		{ cat "$BENCH_DIR/initdb.log" >&2; return 1; }
	# jit off: a JIT compile of the plain-SQL baseline (not of the PL calls)
	# would make the comparison depend on LLVM; durability is not measured.
	cat <<CONF | bench_as_owner tee -a "$BENCH_DIR/data/postgresql.conf" >/dev/null
listen_addresses = ''
port = $port
unix_socket_directories = '$BENCH_DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
jit = off
max_connections = ${BENCH_MAX_CONNECTIONS:-20}
shared_buffers = 128MB
lc_messages = 'C'
log_min_messages = warning
CONF
	bench_as_owner "$PG_BINDIR/pg_ctl" -D "$BENCH_DIR/data" -l "$BENCH_DIR/postgres.log" -w start >/dev/null ||
		{ tail -20 "$BENCH_DIR/postgres.log" >&2; return 1; }
	export PGHOST=$BENCH_DIR PGPORT=$port PGUSER=postgres
	echo "# cluster: throw-away $BENCH_DIR/data, socket $BENCH_DIR, port $port"
}

bench_cluster_down() {
	[ -n "$BENCH_DIR" ] || return 0
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# KEEP=1: cluster left running: PGHOST=$BENCH_DIR PGPORT=$PGPORT (stop: pg_ctl -D $BENCH_DIR/data stop)"
		return 0
	fi
	bench_as_owner "$PG_BINDIR/pg_ctl" -D "$BENCH_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
	rm -rf "$BENCH_DIR"
	BENCH_DIR=
}

# Fingerprint of the installed plerl libraries (others may reinstall mid-run).
bench_plerl_build() {
	local d
	d=$("$PG_BINDIR/pg_config" --pkglibdir 2>/dev/null || echo /usr/lib/postgresql/15/lib)
	md5sum "$d/plerl.so" "$d/plerl_go.so" 2>/dev/null | cut -c1-12 | paste -sd/ -
}

# Load and the busiest processes, to judge a run on a shared box.
bench_load() {
	echo "load $(cut -d' ' -f1-3 /proc/loadavg); top: $(ps -eo pcpu,comm --sort=-pcpu --no-headers | head -3 | tr -s ' ' | paste -sd, -)"
}

# psql writes to a pipe in blocks: line-buffer it (if stdbuf exists) so progress shows.
# shellcheck disable=SC2034 # used by the scripts that source this file
if command -v stdbuf >/dev/null 2>&1; then LINEBUF="stdbuf -oL"; else LINEBUF=; fi
