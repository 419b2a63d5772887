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
-- options: {"retry": true} (a call in flight when its group member died may
-- run again on another member), {"key": "..."} (balance 'affinity').
CREATE FUNCTION erlang_call(node text, module text, function text, args jsonb, timeout_ms int,
    options jsonb) RETURNS jsonb
  AS 'MODULE_PATHNAME', 'plerl_erlang_call' LANGUAGE C;
CREATE FUNCTION erlang_disconnect(node text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_disconnect' LANGUAGE C STRICT;
CREATE FUNCTION erlang_send(node text, name text, message jsonb) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_send' LANGUAGE C STRICT;
CREATE FUNCTION erlang_cast(node text, name text, message jsonb) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_cast' LANGUAGE C STRICT;
-- options: {"cluster": "global"} (name is a :global name) or
-- {"cluster": "pg", "scope": "...", "all": true} (name is a :pg group):
-- names that live in the cluster, resolved on the member the server picks.
CREATE FUNCTION erlang_send(node text, name text, message jsonb, options jsonb) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_send' LANGUAGE C;
CREATE FUNCTION erlang_cast(node text, name text, message jsonb, options jsonb) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_cast' LANGUAGE C;
CREATE FUNCTION erlang_ping(node text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_erlang_ping' LANGUAGE C STRICT;
CREATE FUNCTION erlang_connections(OUT node text, OUT state text, OUT since timestamptz,
    OUT calls bigint, OUT errors bigint, OUT last_rtt_ms float8, OUT last_error text)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'plerl_erlang_connections' LANGUAGE C STRICT;
-- The members of the groups (servers with the option nodes) this backend
-- has used: each one's state and its share of the calls.
CREATE FUNCTION erlang_group_members(OUT server text, OUT node text, OUT state text,
    OUT down_until timestamptz, OUT failures bigint, OUT last_error text,
    OUT calls bigint, OUT share float8)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'plerl_erlang_group_members' LANGUAGE C STRICT;

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
REVOKE ALL ON FUNCTION erlang_call(text, text, text, jsonb, int, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_group_members() FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_disconnect(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_send(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_cast(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_send(text, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_cast(text, text, jsonb, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_ping(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION erlang_connections() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION erlang_connect(text, text) TO plerl_admin;
GRANT EXECUTE ON FUNCTION erlang_call(text, text, text, jsonb) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_call(text, text, text, jsonb, int) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_call(text, text, text, jsonb, int, jsonb) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_group_members() TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_disconnect(text) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_send(text, text, jsonb) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_cast(text, text, jsonb) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_send(text, text, jsonb, jsonb) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_cast(text, text, jsonb, jsonb) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_ping(text) TO plerl_caller;
GRANT EXECUTE ON FUNCTION erlang_connections() TO plerl_caller;

-- ---------------------------------------------------------------------------
-- The durable outbox (docs/outbox.md): messages as rows, written in the
-- enqueuing transaction, delivered by a background worker (src/plerl.c,
-- handler/outbox.c) and deleted only after the receiver acknowledged them.
-- Nobody but its owner reads the queue (messages carry other roles' data):
-- enqueue checks as the calling role and inserts as the table's owner.
-- ---------------------------------------------------------------------------
CREATE TABLE plerl.outbox (
  id           bigserial PRIMARY KEY,       -- the message's id: receivers drop repeats by it
  server       name NOT NULL,               -- the plerl foreign server
  dest         text NOT NULL,               -- the registered name the message goes to
  op           int NOT NULL,                -- 3 send, 7 cast: the EXECUTE privilege re-checked at delivery
  role         oid NOT NULL,                -- the enqueuing role: checks and user mapping at delivery
  payload      bytea NOT NULL,              -- the message in Erlang external term format
  enqueued_at  timestamptz NOT NULL DEFAULT now(),
  attempts     int NOT NULL DEFAULT 0,
  next_attempt timestamptz,                 -- set after a failure: the destination waits until then
  last_error   text,
  dead         boolean NOT NULL DEFAULT false
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000,
        autovacuum_vacuum_cost_delay = 0);
REVOKE ALL ON plerl.outbox FROM PUBLIC;
REVOKE ALL ON SEQUENCE plerl.outbox_id_seq FROM PUBLIC;
-- What the worker reads: the live rows in id order, and the destinations waiting for a retry.
CREATE INDEX outbox_live ON plerl.outbox (id) WHERE NOT dead;
CREATE INDEX outbox_retry ON plerl.outbox (server, dest, id) WHERE NOT dead AND next_attempt IS NOT NULL;
COMMENT ON TABLE plerl.outbox IS 'messages waiting for delivery by the plerl outbox worker (and dead letters)';

-- Wakes this database's worker at COMMIT (pure C in plerl.so: no Go).
CREATE FUNCTION plerl.outbox_wake() RETURNS trigger
  AS 'MODULE_PATHNAME', 'plerl_outbox_wake' LANGUAGE C;
CREATE TRIGGER outbox_wake AFTER INSERT OR UPDATE ON plerl.outbox
  FOR EACH STATEMENT EXECUTE FUNCTION plerl.outbox_wake();

-- enqueue(server, name, message): a durable cast to the registered name,
-- checked now as the calling role (EXECUTE on erlang_cast, USAGE on the
-- server, a user mapping, plerl.allow with its atoms). Returns the id.
CREATE FUNCTION plerl.enqueue(server text, name text, message jsonb) RETURNS bigint
  AS 'MODULE_PATHNAME', 'plerl_outbox_enqueue' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION plerl.enqueue(text, text, jsonb) FROM PUBLIC;
GRANT USAGE ON SCHEMA plerl TO plerl_caller;
GRANT EXECUTE ON FUNCTION plerl.enqueue(text, text, jsonb) TO plerl_caller;

-- Per destination: what waits, what is dead, and how late it is.
CREATE VIEW plerl.outbox_status AS
  SELECT server, dest,
         count(*) FILTER (WHERE NOT dead) AS pending,
         count(*) FILTER (WHERE dead) AS dead,
         max(attempts) FILTER (WHERE NOT dead) AS attempts,
         min(next_attempt) FILTER (WHERE NOT dead) AS next_attempt,
         (array_agg(last_error ORDER BY id DESC) FILTER (WHERE last_error IS NOT NULL))[1] AS last_error,
         now() - min(enqueued_at) FILTER (WHERE NOT dead) AS lag
    FROM plerl.outbox GROUP BY server, dest;
REVOKE ALL ON plerl.outbox_status FROM PUBLIC;
GRANT SELECT ON plerl.outbox_status TO plerl_admin;

-- Dead letters, for an administrator: look, retry, discard.
CREATE VIEW plerl.outbox_dead AS
  SELECT id, server, dest, role::regrole AS role, enqueued_at, attempts, last_error
    FROM plerl.outbox WHERE dead;
REVOKE ALL ON plerl.outbox_dead FROM PUBLIC;
GRANT SELECT ON plerl.outbox_dead TO plerl_admin;
-- A retried message goes back in its place (its id): order among what is still pending is kept.
CREATE FUNCTION plerl.outbox_retry(id bigint) RETURNS boolean LANGUAGE sql
  BEGIN ATOMIC
    WITH r AS (UPDATE plerl.outbox o SET dead = false, attempts = 0, next_attempt = NULL
                WHERE o.id = outbox_retry.id AND o.dead RETURNING 1)
    SELECT count(*) > 0 FROM r;
  END;
CREATE FUNCTION plerl.outbox_discard(id bigint) RETURNS boolean LANGUAGE sql
  BEGIN ATOMIC
    WITH d AS (DELETE FROM plerl.outbox o WHERE o.id = outbox_discard.id AND o.dead RETURNING 1)
    SELECT count(*) > 0 FROM d;
  END;
REVOKE ALL ON FUNCTION plerl.outbox_retry(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION plerl.outbox_discard(bigint) FROM PUBLIC;
GRANT SELECT, UPDATE, DELETE ON plerl.outbox TO plerl_admin;
GRANT EXECUTE ON FUNCTION plerl.outbox_retry(bigint) TO plerl_admin;
GRANT EXECUTE ON FUNCTION plerl.outbox_discard(bigint) TO plerl_admin;
-- Start this database's outbox worker from a backend (without
-- plerl.outbox_databases); see docs/outbox.md for what it lacks then.
CREATE FUNCTION plerl.outbox_start() RETURNS boolean
  AS 'MODULE_PATHNAME', 'plerl_outbox_start' LANGUAGE C STRICT;
REVOKE ALL ON FUNCTION plerl.outbox_start() FROM PUBLIC;
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
    OUT max_time float8, OUT mean_time float8, OUT stddev_time float8,
    OUT bytes_sent bigint, OUT bytes_received bigint, OUT messages bigint,
    OUT redeliveries bigint, OUT dead_letters bigint)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'plerl_stat_calls' LANGUAGE C;
CREATE VIEW plerl.stat_calls AS
  SELECT d.datname, r.rolname, s.*
    FROM plerl.stat_calls() s
    LEFT JOIN pg_database d ON d.oid = s.dbid
    LEFT JOIN pg_roles r ON r.oid = s.userid;

-- What each backend's Erlang wait (pg_stat_activity's wait_event
-- 'Extension') waits for: join with pg_stat_activity by pid. Raises 55000
-- without shared_preload_libraries, like stat_calls.
CREATE FUNCTION plerl.stat_waits(OUT pid int, OUT wait text, OUT server text,
    OUT node text, OUT since timestamptz)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'plerl_stat_waits' LANGUAGE C;
CREATE VIEW plerl.stat_waits AS SELECT * FROM plerl.stat_waits();

-- Each backend's Erlang sessions, one row per (backend, node), with the
-- outbox's queue for the node's server. Raises 55000 without preloading.
CREATE FUNCTION plerl.stat_nodes(OUT pid int, OUT server text, OUT node text,
    OUT state text, OUT connects bigint, OUT reconnects bigint, OUT failures bigint,
    OUT since timestamptz, OUT last_error text, OUT last_error_at timestamptz,
    OUT last_rtt float8, OUT member_state text, OUT tick_rtt_ms float8,
    OUT tick_at timestamptz)
  RETURNS SETOF record
  AS 'MODULE_PATHNAME', 'plerl_stat_nodes' LANGUAGE C;
CREATE VIEW plerl.stat_nodes AS
  SELECT n.*, o.pending AS outbox_pending, o.lag AS outbox_lag
    FROM plerl.stat_nodes() n
    LEFT JOIN (SELECT server::text AS server, sum(pending)::bigint AS pending, max(lag) AS lag
                 FROM plerl.outbox_status GROUP BY server) o ON o.server = n.server;

CREATE FUNCTION plerl.stat_reset() RETURNS void
  AS 'MODULE_PATHNAME', 'plerl_stat_reset' LANGUAGE C;

GRANT USAGE ON SCHEMA plerl TO pg_read_all_stats;
REVOKE ALL ON FUNCTION plerl.stat_info() FROM PUBLIC;
REVOKE ALL ON FUNCTION plerl.stat_calls() FROM PUBLIC;
REVOKE ALL ON FUNCTION plerl.stat_reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION plerl.stat_waits() FROM PUBLIC;
REVOKE ALL ON FUNCTION plerl.stat_nodes() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION plerl.stat_waits(), plerl.stat_nodes() TO plerl_admin, pg_read_all_stats;
GRANT SELECT ON plerl.stat_waits, plerl.stat_nodes TO plerl_admin, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION plerl.stat_info() TO plerl_admin, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION plerl.stat_calls() TO plerl_admin, pg_read_all_stats;
GRANT SELECT ON plerl.stat_info, plerl.stat_calls TO plerl_admin, pg_read_all_stats;
GRANT EXECUTE ON FUNCTION plerl.stat_reset() TO plerl_admin;
