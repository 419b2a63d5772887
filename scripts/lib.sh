# scripts/lib.sh: helpers shared by the commands in scripts/ (sources env.sh).
# shellcheck shell=bash
#
# Not meant for interactive shells: plerl_die exits. Everything that runs in
# the background is tracked by a PID file in $PLERL_DEV and stopped only
# through it, after checking the PID still belongs to the process we started.

# shellcheck source=scripts/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

plerl_say() { printf '%s: %s\n' "${0##*/}" "$*"; }
plerl_die() {
	printf '%s: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

# Creates $PLERL_DEV, mode 755 so the server's user can traverse it, and
# refuses one that is a symlink or owned by someone else (the /tmp fallback
# has a guessable name).
plerl_dev_dir() {
	if [ ! -e "$PLERL_DEV" ]; then
		mkdir -p "$PLERL_DEV"
		chmod 755 "$PLERL_DEV"
		if [ -n "${PLERL_DEV_REPO:-}" ] && [ "$PLERL_DEV" != "$REPO/.dev" ]; then
			plerl_say "dev files go to $PLERL_DEV: user $PLERL_PG_OSUSER cannot reach $REPO/.dev (see scripts/env.sh)"
		fi
	fi
	if [ -L "$PLERL_DEV" ] || [ ! -d "$PLERL_DEV" ] || [ ! -O "$PLERL_DEV" ]; then
		plerl_die "$PLERL_DEV is not a directory owned by $(id -un); remove it or set PLERL_DEV"
	fi
}

# Runs a command as the OS user that owns the cluster: plerl when we are
# root (initdb and pg_ctl refuse root), else ourselves. From / so that a
# working directory the plerl user cannot read does not bother initdb.
plerl_as_pg_owner() {
	if [ -n "$PLERL_PG_OSUSER" ]; then
		(cd / && runuser -u "$PLERL_PG_OSUSER" -- "$@")
	else
		"$@"
	fi
}

plerl_pg_ctl() { plerl_as_pg_owner "$PG_BINDIR/pg_ctl" --pgdata="$PGDATA" "$@"; }
plerl_pg_running() { [ -f "$PGDATA/PG_VERSION" ] && plerl_pg_ctl status >/dev/null 2>&1; }

plerl_ensure_pg_osuser() {
	[ -n "$PLERL_PG_OSUSER" ] || return 0
	id -u "$PLERL_PG_OSUSER" >/dev/null 2>&1 && return 0
	command -v useradd >/dev/null 2>&1 || plerl_die "useradd not found: cannot create the system user $PLERL_PG_OSUSER"
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin "$PLERL_PG_OSUSER"
	plerl_say "created system user $PLERL_PG_OSUSER (runs the dev cluster when invoked as root)"
}

# Runs a command as root: directly, or through sudo (never prompting without a terminal).
plerl_as_root() {
	if [ "$(id -u)" = 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		if [ -t 0 ]; then sudo "$@"; else sudo -n "$@"; fi
	else
		plerl_die "needs root (no sudo): $*"
	fi
}

# make install into the server's directories: as root only if we cannot write
# there. PG_CONFIG on the command line: sudo drops the environment, and its
# PATH may find another version's pg_config. Skipped for a PostgreSQL in the
# Nix store that already has plerl (flake.nix's dev shell): the store is
# read-only, and that plerl is the flake's package, rebuilt on entering the
# shell.
plerl_make_install() {
	local dir
	dir=$("$PG_CONFIG" --pkglibdir)
	case $dir in
	/nix/store/*)
		if [ -e "$dir/plerl_go.so" ] && [ -e "$("$PG_CONFIG" --sharedir)/extension/plerl.control" ]; then
			plerl_say "plerl is part of this PostgreSQL ($dir): not installing (re-enter nix develop to rebuild it)"
			return 0
		fi
		plerl_die "$dir is in the read-only Nix store and has no plerl: use the dev shell of flake.nix (nix develop)"
		;;
	esac
	if [ -w "$dir" ]; then
		make install PG_CONFIG="$PG_CONFIG"
	else
		plerl_as_root make install PG_CONFIG="$PG_CONFIG"
	fi
}

# True if PID $1 is a live process (not a zombie).
plerl_alive() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0 # no procfs: trust kill -0
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# Prints the PID in pidfile $1 if that process is alive and its command line
# contains $2, so a recycled PID is never signalled.
plerl_pid_of() {
	local pid
	[ -r "$1" ] || return 1
	pid=$(cat "$1")
	case $pid in '' | *[!0-9]*) return 1 ;; esac
	plerl_alive "$pid" || return 1
	if [ -r "/proc/$pid/cmdline" ]; then
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2" || return 1
	fi
	echo "$pid"
}

# SIGTERM, then SIGKILL after $2 seconds (default 10).
plerl_stop_pid() {
	local pid=$1 tries=$((${2:-10} * 5))
	kill -TERM "$pid" 2>/dev/null || return 0
	while [ "$tries" -gt 0 ]; do
		plerl_alive "$pid" || return 0
		sleep 0.2
		tries=$((tries - 1))
	done
	plerl_say "PID $pid ignored SIGTERM; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
}

# Starts a command detached (own session, stdin from /dev/null, output
# appended to log $2) and writes its PID to $1. Without job control the
# child is not a process-group leader, so setsid execs in place and $! is the
# command's own PID.
plerl_spawn() {
	local pidfile=$1 log=$2
	shift 2
	set +m
	setsid "$@" </dev/null >>"$log" 2>&1 &
	echo $! >"$pidfile"
}
