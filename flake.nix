# flake.nix: a Nix dev shell for plerl that runs the same scripts/ as Debian does.
#
# `nix develop` (from the checkout) gives PostgreSQL 15, Erlang, Elixir, Go, a C
# toolchain and pkg-config; its shellHook sources scripts/env.sh, so PGDATA,
# PGHOST, PGPORT, PGUSER, PGDATABASE, PLERL_DEV, PLERL_TEST_NODE,
# PLERL_TEST_COOKIE, ERL_EPMD_ADDRESS are exactly as in scripts/. The commands
# start-postgres, stop-postgres, reset-postgres, create-testdb, setup-elixir,
# stop-elixir and stop-all run scripts/<name> of that checkout: one
# implementation for both paths, and edits to scripts/ apply at once.
#
# Limits, honestly:
# - `make install` cannot work here. pg_config is nixpkgs' postgresql_15, whose
#   pkglibdir and sharedir are in the read-only Nix store, and PostgreSQL 15
#   looks for plerl.control only in its own sharedir (extension_control_path
#   arrived in PostgreSQL 18), so a project-local install dir is not an option.
#   The way out is a plerl derivation served through
#   postgresql_15.withPackages; this flake does not have one yet. So under Nix:
#   make, go vet/test, the cluster and the Elixir node work; scripts/test and
#   scripts/demo (which run `make install`) are for Debian, as in .ci/run.
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
        postgresql = pkgs.postgresql_15;

        # REPO is exported by scripts/env.sh, which the shellHook sources.
        command = name: pkgs.writeShellScriptBin name ''
          exec "''${REPO:?enter the shell with nix develop from the plerl checkout}/scripts/${name}" "$@"
        '';
      in
      {
        devShells.default = pkgs.mkShell {
          packages = [
            postgresql
            pkgs.erlang
            pkgs.elixir
            pkgs.go
            pkgs.gcc
            pkgs.gnumake
            pkgs.pkg-config
          ]
          # Since nixpkgs 25.05 pg_config is its own derivation; before, it
          # came with the postgresql package.
          ++ pkgs.lib.optional (postgresql ? pg_config) postgresql.pg_config
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
