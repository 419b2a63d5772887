-- plerl--1.0.sql: the language handlers and languages.
\echo Use "CREATE EXTENSION plerl" to load this file. \quit

CREATE FUNCTION plerl_call_handler() RETURNS language_handler
  AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION plerl_inline_handler(internal) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plerl_validator(oid) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE TRUSTED LANGUAGE plerl
  HANDLER plerl_call_handler INLINE plerl_inline_handler VALIDATOR plerl_validator;
COMMENT ON LANGUAGE plerl IS 'Lua (trusted) with Erlang and Elixir built-ins';

CREATE FUNCTION plerlu_call_handler() RETURNS language_handler
  AS 'MODULE_PATHNAME' LANGUAGE C;
CREATE FUNCTION plerlu_inline_handler(internal) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plerlu_validator(oid) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;

CREATE LANGUAGE plerlu
  HANDLER plerlu_call_handler INLINE plerlu_inline_handler VALIDATOR plerlu_validator;
COMMENT ON LANGUAGE plerlu IS 'Lua (untrusted) with Erlang and Elixir built-ins';

-- Whether the Go runtime has been loaded in this backend (for tests).
CREATE FUNCTION plerl_go_loaded() RETURNS boolean
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION plerl_go_loaded() FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Erlang from SQL. Default deny: nothing below is executable by PUBLIC.
-- ---------------------------------------------------------------------------

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'plerl_caller') THEN
    CREATE ROLE plerl_caller NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'plerl_admin') THEN
    CREATE ROLE plerl_admin NOLOGIN;
  END IF;
END $$;
GRANT plerl_caller TO plerl_admin;
COMMENT ON ROLE plerl_caller IS 'may call Erlang nodes through plerl foreign servers it has USAGE on';
COMMENT ON ROLE plerl_admin IS 'may also connect to raw Erlang node names with a cookie (erlang_connect)';

-- Nodes are foreign servers: CREATE SERVER app FOREIGN DATA WRAPPER plerl
-- OPTIONS (node 'app@host'); CREATE USER MAPPING ... OPTIONS (cookie '...').
CREATE FUNCTION plerl_fdw_validator(text[], oid) RETURNS void
  AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FOREIGN DATA WRAPPER plerl VALIDATOR plerl_fdw_validator;

-- The allow-list: what a role may call on a server (NULL role: every role;
-- NULL function or arity: any), and which atoms such a request may carry
-- (NULL: none but true, false and the null atom; '*': any). Checked before
-- anything is sent.
CREATE SCHEMA plerl;
REVOKE ALL ON SCHEMA plerl FROM PUBLIC;
GRANT USAGE ON SCHEMA plerl TO plerl_admin;
-- An atom is 1 to 255 characters; the list is one-dimensional with no NULLs.
CREATE FUNCTION plerl.atoms_valid(atoms text[]) RETURNS boolean
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN atoms IS NULL OR (array_ndims(atoms) = 1 AND array_position(atoms, NULL) IS NULL
    AND NOT EXISTS (SELECT FROM unnest(atoms) a WHERE a = '' OR char_length(a) > 255));
CREATE TABLE plerl.allow (
  server   name NOT NULL,
  role     name,
  module   text NOT NULL,
  function text,
  arity    int CHECK (arity IS NULL OR arity BETWEEN 0 AND 255),
  atoms    text[],
  CONSTRAINT allow_module_nonempty CHECK (module <> ''),
  CONSTRAINT allow_atoms_valid CHECK (plerl.atoms_valid(atoms))
);
REVOKE ALL ON plerl.allow FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON plerl.allow TO plerl_admin;
COMMENT ON TABLE plerl.allow IS 'which modules, functions and arities each role may call on each plerl server';
CREATE FUNCTION plerl.allow_changed() RETURNS trigger
  AS 'MODULE_PATHNAME', 'plerl_allow_changed' LANGUAGE C;
CREATE TRIGGER allow_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
  ON plerl.allow FOR EACH STATEMENT EXECUTE FUNCTION plerl.allow_changed();

CREATE FUNCTION erlang_connect(node text, cookie text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_connect' LANGUAGE C STRICT;
COMMENT ON FUNCTION erlang_connect(text, text) IS
  'connect to a raw node name with a cookie (admins; the cookie is in the query text: prefer foreign servers)';
CREATE FUNCTION erlang_call(node text, module text, function text, args jsonb) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'plerl_erlang_call' LANGUAGE C;
CREATE FUNCTION erlang_call(node text, module text, function text, args jsonb, timeout_ms int) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'plerl_erlang_call' LANGUAGE C;
CREATE FUNCTION erlang_disconnect(node text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_disconnect' LANGUAGE C STRICT;
CREATE FUNCTION erlang_send(node text, name text, message jsonb) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_send' LANGUAGE C STRICT;
CREATE FUNCTION erlang_cast(node text, name text, message jsonb) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_cast' LANGUAGE C STRICT;
CREATE FUNCTION erlang_ping(node text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_ping' LANGUAGE C STRICT;
CREATE FUNCTION erlang_connections(OUT node text, OUT state text, OUT since timestamptz,
    OUT calls bigint, OUT errors bigint, OUT last_rtt_ms float8, OUT last_error text)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'plerl_erlang_connections' LANGUAGE C STRICT;

-- Many calls of one module:function on one server, pipelined on one
-- connection: args_query yields one jsonb array of arguments per row (its
-- first column); a row per item comes back in input order.
CREATE FUNCTION erlang_call_many(node text, module text, function text, args_query text,
    max_in_flight int DEFAULT NULL, timeout_ms int DEFAULT NULL,
    fail_fast boolean DEFAULT false, kill boolean DEFAULT false)
  RETURNS TABLE(item bigint, result jsonb, sqlstate text, message text)
  AS 'MODULE_PATHNAME', 'plerl_erlang_call_many' LANGUAGE C;

REVOKE ALL ON FUNCTION erlang_connect(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_call_many(text, text, text, text, int, int, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erlang_call_many(text, text, text, text, int, int, boolean, boolean) TO plerl_caller;
REVOKE ALL ON FUNCTION erlang_call(text, text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_call(text, text, text, jsonb, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_disconnect(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_send(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_cast(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_ping(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_connections() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erlang_connect(text, text) TO plerl_admin;
GRANT EXECUTE ON FUNCTION erlang_call(text, text, text, jsonb) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_call(text, text, text, jsonb, int) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_disconnect(text) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_send(text, text, jsonb) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_cast(text, text, jsonb) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_ping(text) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_connections() TO plerl_caller;

-- ---------------------------------------------------------------------------
-- Statistics (docs/monitoring.md): counted in shared memory when plerl is in
-- shared_preload_libraries (src/stats.c). Readable by plerl_admin and
-- pg_read_all_stats; reset by superusers and plerl_admin. Names only: no
-- argument values, no cookies.
-- ---------------------------------------------------------------------------

-- Never an error: whether statistics are on, the limit, entries, evictions.
CREATE FUNCTION plerl.stat_info(OUT shared_memory boolean, OUT tracking boolean,
    OUT stat_max int, OUT entries bigint, OUT dealloc bigint, OUT stats_reset timestamptz)
  AS 'MODULE_PATHNAME', 'plerl_stat_info' LANGUAGE C;
CREATE VIEW plerl.stat_info AS SELECT * FROM plerl.stat_info();

-- Raises 55000 without shared_preload_libraries (statistics need it).
CREATE FUNCTION plerl.stat_calls(OUT dbid oid, OUT userid oid, OUT server text,
    OUT node text, OUT kind text, OUT module text, OUT function text, OUT arity int,
    OUT calls bigint, OUT errors bigint, OUT timeouts bigint, OUT node_down bigint,
    OUT remote_errors bigint, OUT refused bigint, OUT cancelled bigint,
    OUT other_errors bigint, OUT total_time float8, OUT min_time float8,
    OUT max_time float8, OUT mean_time float8, OUT stddev_time float8)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'plerl_stat_calls' LANGUAGE C;
CREATE VIEW plerl.stat_calls AS
  SELECT d.datname, r.rolname, s.*
    FROM plerl.stat_calls() s
    LEFT JOIN pg_database d ON d.oid = s.dbid
    LEFT JOIN pg_roles r ON r.oid = s.userid;

CREATE FUNCTION plerl.stat_reset() RETURNS void
  AS 'MODULE_PATHNAME', 'plerl_stat_reset' LANGUAGE C;

GRANT USAGE ON SCHEMA plerl TO pg_read_all_stats;
REVOKE ALL ON FUNCTION plerl.stat_info() FROM PUBLIC;
REVOKE ALL ON FUNCTION plerl.stat_calls() FROM PUBLIC;
REVOKE ALL ON FUNCTION plerl.stat_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION plerl.stat_info() TO plerl_admin, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION plerl.stat_calls() TO plerl_admin, pg_read_all_stats;
GRANT SELECT ON plerl.stat_info, plerl.stat_calls TO plerl_admin, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION plerl.stat_reset() TO plerl_admin;
