# scripts/env.sh: the dev environment's paths, ports and names, in one place.
# shellcheck shell=bash
#
# Sourced by every script in scripts/ (through lib.sh) and by flake.nix's
# shellHook; you can also `source scripts/env.sh` in your own shell. It sets no
# shell options, starts nothing and is safe to source twice.
#
#   REPO               the checkout this file belongs to
#   PLERL_DEV          <repo>/.dev: pgdata/, run/, postgres.log, *.pid, cookie
#   PGDATA             $PLERL_DEV/pgdata
#   PGHOST             $PLERL_DEV/run (the socket directory)
#   PGPORT             54329 unless already set
#   PGUSER=postgres    PGDATABASE=plerl_test
#   PG_CONFIG          pg_config of PostgreSQL 15 (Debian's unless in a Nix shell)
#   PG_BINDIR          $PG_CONFIG --bindir, else /usr/lib/postgresql/15/bin
#   PLERL_PG_OSUSER    OS user the server runs as: "plerl" when invoked as root, else empty (yourself)
#   PLERL_TEST_NODE    testnode@127.0.0.1 unless already set
#   PLERL_TEST_COOKIE  content of $PLERL_DEV/cookie (written by scripts/setup-elixir)
#   ERL_EPMD_ADDRESS   127.0.0.1
#
# Run as root, the server runs as the system user plerl, which must be able to
# reach $PLERL_DEV. If some directory from / down to the checkout is not
# traversable by others (a clone under /root, or a umask 077 clone), PLERL_DEV
# falls back to /tmp/plerl-dev-<8 hex digits of a checksum of the repo path>.
# The same fallback is used when the socket path would be too long for
# PostgreSQL (107 bytes). Set PLERL_DEV yourself to put it anywhere else.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
export REPO

# Some CI runners start without HOME; go needs it for its caches.
if [ -z "${HOME:-}" ]; then
	HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
	export HOME="${HOME:-/root}"
fi

# Go comes from the tarball install on Debian machines.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

# PostgreSQL 15. Debian's /usr/bin/pg_config picks the newest server-dev
# installed, so prefer the versioned one; in a Nix shell, the one on PATH.
if [ -z "${PG_CONFIG:-}" ]; then
	if [ -z "${IN_NIX_SHELL:-}" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
		PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
	else
		PG_CONFIG=$(command -v pg_config 2>/dev/null || echo /usr/lib/postgresql/15/bin/pg_config)
	fi
fi
PG_BINDIR=$("$PG_CONFIG" --bindir 2>/dev/null) || PG_BINDIR=
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
export PG_CONFIG PG_BINDIR
case ":$PATH:" in
*":$PG_BINDIR:"*) ;;
*) [ -d "$PG_BINDIR" ] && export PATH="$PG_BINDIR:$PATH" ;;
esac

if [ "$(id -u)" = 0 ]; then
	PLERL_PG_OSUSER=plerl
else
	PLERL_PG_OSUSER=
fi
export PLERL_PG_OSUSER

export PGPORT="${PGPORT:-54329}"

# True if every directory from / down to $1 has the execute bit for others:
# the plerl user is neither owner nor group of a root-made checkout. Mode bits
# only (an ACL that grants more is ignored, which can only cause a needless
# fallback); works before the plerl user exists.
plerl_traversable_by_others() {
	local dir=$1 mode
	while :; do
		mode=$(stat -L -c %A "$dir" 2>/dev/null) || return 1
		case "${mode:9:1}" in x | t) ;; *) return 1 ;; esac
		[ "$dir" = / ] && return 0
		dir=$(dirname "$dir")
	done
}

# PLERL_DEV: honour a value the user set; recompute one this file computed for
# another checkout (PLERL_DEV_REPO records which), so a shell that sourced
# env.sh in one clone does not steer a second clone into the first one's .dev.
if [ -z "${PLERL_DEV:-}" ] || { [ -n "${PLERL_DEV_REPO:-}" ] && [ "$PLERL_DEV_REPO" != "$REPO" ]; }; then
	PLERL_DEV=$REPO/.dev
	# $PGHOST/.s.PGSQL.<port> must fit in 107 bytes (sizeof(sun_path) - 1
	# on Linux); "/run/.s.PGSQL." is 14 of them.
	if { [ -n "$PLERL_PG_OSUSER" ] && ! plerl_traversable_by_others "$REPO"; } ||
		[ $((${#PLERL_DEV} + 14 + ${#PGPORT})) -gt 107 ]; then
		PLERL_DEV=/tmp/plerl-dev-$(printf '%08x' "$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)")
	fi
	export PLERL_DEV_REPO=$REPO
fi
export PLERL_DEV

export PGDATA="$PLERL_DEV/pgdata"
export PGHOST="$PLERL_DEV/run"
export PGUSER=postgres
export PGDATABASE=plerl_test

export PLERL_TEST_NODE="${PLERL_TEST_NODE:-testnode@127.0.0.1}"
export ERL_EPMD_ADDRESS=127.0.0.1

# Re-read by scripts after setup-elixir has written the cookie. Never echo it.
plerl_load_cookie() {
	if [ -r "$PLERL_DEV/cookie" ]; then
		PLERL_TEST_COOKIE=$(cat "$PLERL_DEV/cookie")
		export PLERL_TEST_COOKIE
	fi
}
plerl_load_cookie
