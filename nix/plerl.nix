# nix/plerl.nix: the plerl package (plerl.so, plerl_go.so, control and SQL files) for one nixpkgs PostgreSQL.
#
# Call it through postgresql.pkgs.callPackage (as flake.nix does): that scope
# passes the PostgreSQL to build against and the stdenv it was built with.
# The stdenv matters: PGXS replays PostgreSQL's own compiler and flags (clang
# and -flto in recent nixpkgs), so plerl.so must be built by the same one.
#
# The Go half needs its modules without network: buildGoModule fetches them
# once into a fixed-output derivation checked by vendorHash, and builds with
# -mod=vendor. Its default build and install phases (go install of every
# main package) are replaced by the Makefile, which builds both libraries.
{
  lib,
  stdenv,
  buildGoModule,
  postgresql,
  src,
  version ? "1.0",
}:

(buildGoModule.override { inherit stdenv; }) {
  pname = "plerl";
  inherit version src;

  # Nix cannot be run where this was written, so the hash of the vendored
  # modules is not known. The first `nix build` fails with
  #   hash mismatch ... got: sha256-...
  # put that value here (and again whenever go.mod or go.sum change).
  vendorHash = lib.fakeHash;

  # pg_config on PATH: a separate derivation since nixpkgs 25.05, inside
  # the postgresql package before.
  nativeBuildInputs = lib.optional (postgresql ? pg_config) postgresql.pg_config;
  # Headers and PGXS (the dev output) for cgo and make.
  buildInputs = [ postgresql ];

  buildPhase = ''
    runHook preBuild
    make PG_CONFIG=pg_config
    runHook postBuild
  '';

  # The Go tests need no cluster but the Lua and network ones take minutes;
  # scripts/test runs them (and everything else) in the dev shell.
  doCheck = false;

  # The layout nixpkgs' PostgreSQL extensions use, which
  # postgresql.withPackages links into the server's own lib/ and
  # share/postgresql/extension/. Not `make install`: PGXS would aim at the
  # read-only PostgreSQL store path.
  installPhase = ''
    runHook preInstall
    install -Dm755 -t "$out/lib" plerl.so plerl_go.so
    install -Dm644 -t "$out/share/postgresql/extension" plerl.control plerl--*.sql plerlu.control plerlu--*.sql
    runHook postInstall
  '';

  meta = {
    description = "PostgreSQL procedural language in Lua whose backends talk to Erlang and Elixir nodes";
    platforms = lib.platforms.linux;
  };
}
