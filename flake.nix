# flake.nix: plerl as a Nix package, and a dev shell whose PostgreSQL has it, running the same scripts/ as Debian does.
#
# packages.plerl (the default): nix/plerl.nix built against nixpkgs'
# postgresql_15 (plerl.so and plerl_go.so with PGXS, control and SQL files),
# laid out like nixpkgs' own PostgreSQL extensions. Use it on NixOS with
#   services.postgresql.package = pkgs.postgresql_15;
#   services.postgresql.extensions = [ plerl.packages.${system}.plerl ];
# packages.postgresql: postgresql_15.withPackages (_: [ plerl ]).
#
# `nix develop` (from the checkout) gives that PostgreSQL, Erlang, Elixir,
# Go, the compiler PostgreSQL was built with, make and pkg-config; its
# shellHook sources scripts/env.sh, so PGDATA, PGHOST, PGPORT, PGUSER,
# PGDATABASE, PLERL_DEV, PLERL_TEST_NODE, PLERL_TEST_COOKIE, ERL_EPMD_ADDRESS
# are exactly as in scripts/. The commands start-postgres, stop-postgres,
# reset-postgres, create-testdb, setup-elixir, stop-elixir and stop-all run
# scripts/<name> of that checkout: one implementation for both paths.
#
# In the shell the server's plerl is the package, built from the checkout as
# it was when you entered: `make install` is skipped (scripts/lib.sh sees
# plerl already in a read-only Nix store PostgreSQL), so scripts/test and
# scripts/demo run unchanged. After editing Go or C, leave and re-enter the
# shell to rebuild it; `make` alone builds a plerl_go.so the server ignores.
#
# Limits, honestly:
# - Nix has not been run on this file (see README.md, "Nix"): vendorHash in
#   nix/plerl.nix is lib.fakeHash until a first build prints the real one.
# - Linux only: the scripts use runuser, setsid and /proc.
# - go.mod asks for a recent Go and nixpkgs' go does not download toolchains
#   (GOTOOLCHAIN=local): pick a nixpkgs whose `go` is at least that version.
{
  description = "plerl: PostgreSQL functions in Lua that talk to Erlang and Elixir nodes";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachSystem [ "x86_64-linux" "aarch64-linux" ] (system:
      let
        pkgs = nixpkgs.legacyPackages.${system};
        lib = pkgs.lib;

        # postgresql.pkgs.callPackage supplies this PostgreSQL and the stdenv
        # it was built with, as for nixpkgs' own extensions.
        postgresql = pkgs.postgresql_15;
        plerl = postgresql.pkgs.callPackage ./nix/plerl.nix { src = self; };
        postgresqlWithPlerl = postgresql.withPackages (_: [ plerl ]);
        # The same stdenv, for `make` in the shell (PGXS calls its compiler).
        pgStdenv = postgresql.pkgs.callPackage ({ stdenv }: stdenv) { };

        # REPO is exported by scripts/env.sh, which the shellHook sources.
        command = name: pkgs.writeShellScriptBin name ''
          exec "''${REPO:?enter the shell with nix develop from the plerl checkout}/scripts/${name}" "$@"
        '';
      in
      {
        packages = {
          inherit plerl;
          postgresql = postgresqlWithPlerl;
          default = plerl;
        };

        devShells.default = (pkgs.mkShell.override { stdenv = pgStdenv; }) {
          packages = [
            postgresqlWithPlerl
            pkgs.erlang
            pkgs.elixir
            pkgs.go
            pkgs.gnumake
            pkgs.pkg-config
          ]
          # Since nixpkgs 25.05 pg_config is its own derivation (this one
          # reports the directories of the PostgreSQL with plerl); before,
          # it came with the postgresql package.
          ++ lib.optional (postgresqlWithPlerl ? pg_config) postgresqlWithPlerl.pg_config
          ++ map command [
            "start-postgres"
            "stop-postgres"
            "reset-postgres"
            "create-testdb"
            "setup-elixir"
            "stop-elixir"
            "stop-all"
          ];

          shellHook = ''
            plerl_top=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
            if [ -f "$plerl_top/scripts/env.sh" ]; then
              # IN_NIX_SHELL is set, so env.sh takes pg_config from PATH.
              source "$plerl_top/scripts/env.sh"
            else
              echo "plerl: no scripts/env.sh under $plerl_top; run nix develop from the plerl checkout" >&2
            fi
            unset plerl_top
          '';
        };
      });
}
