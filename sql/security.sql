-- security: default deny. A plain role runs Lua but reaches no node; every
-- step that lets a role reach one is a DBA-owned catalog object (role
-- membership, USAGE on a server, a user mapping, a plerl.allow row), and
-- each missing step is its own error. Limits end in clear errors.
-- Needs the Elixir test node (scripts/setup-elixir), like erlang.sql.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\getenv node PLERL_TEST_NODE
\getenv cookie PLERL_TEST_COOKIE
\set VERBOSITY terse

-- Roles of this test (left over only if an earlier run died half-way).
SET client_min_messages = warning;
DROP ROLE IF EXISTS plerl_sec_alice, plerl_sec_bob, plerl_sec_team, plerl_sec_admin, plerl_sec_plain;
RESET client_min_messages;
CREATE ROLE plerl_sec_plain;    -- nothing granted: stays so throughout
CREATE ROLE plerl_sec_alice;    -- is granted one step at a time
CREATE ROLE plerl_sec_bob IN ROLE plerl_caller;
CREATE ROLE plerl_sec_team;     -- a group: allow rows for it cover its members
GRANT plerl_sec_team TO plerl_sec_bob;
CREATE ROLE plerl_sec_admin IN ROLE plerl_admin;

CREATE SCHEMA sec;
GRANT USAGE, CREATE ON SCHEMA sec TO PUBLIC;
SET log_statement = 'none';     -- the cookie is in the next statements' text
CREATE SERVER sec_node FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE USER MAPPING FOR plerl_sec_bob SERVER sec_node OPTIONS (cookie :'cookie');
RESET log_statement;
GRANT USAGE ON FOREIGN SERVER sec_node TO plerl_sec_bob;

-- Lua helpers owned by the superuser, run with the caller's rights.
CREATE FUNCTION sec.lua_echo(server text, x text) RETURNS text LANGUAGE plerl AS $$
  return erlang.call(server, 'Elixir.Plerl.Test', 'echo', x)
$$;
CREATE FUNCTION sec.lua_op(op text, server text) RETURNS text LANGUAGE plerl AS $$
  if op == 'send' then return tostring(erlang.send(server, 'Elixir.OrderDesk', 'sec-noise'))
  elseif op == 'cast' then return tostring(erlang.cast(server, 'Elixir.OrderDesk', 'sec-noise'))
  elseif op == 'ping' then return tostring(erlang.ping(server))
  elseif op == 'self' then return erlang.term_type(erlang.self(server))
  elseif op == 'disconnect' then return tostring(erlang.disconnect(server))
  elseif op == 'connect' then return tostring(erlang.connect(server, 'not-the-cookie'))
  end
$$;

-- 1. A plain role can write and run Lua ...
SET ROLE plerl_sec_plain;
CREATE FUNCTION sec.plain_add(a int, b int) RETURNS int LANGUAGE plerl AS $$ return a + b $$;
SELECT sec.plain_add(40, 2);
DO LANGUAGE plerl $$ print(type(erlang.call), type(erlang.atom('ok'))) $$;
-- ... but not the untrusted language,
CREATE FUNCTION sec.plain_u() RETURNS int LANGUAGE plerlu AS $$ return 1 $$;
\echo :LAST_ERROR_SQLSTATE
-- and none of the erlang_* functions is executable (42501 each).
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["x"]');
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["x"]', 100);
SELECT erlang_send('sec_node', 'Elixir.OrderDesk', '"x"');
SELECT erlang_cast('sec_node', 'Elixir.OrderDesk', '"x"');
SELECT erlang_ping('sec_node');
SELECT erlang_disconnect('sec_node');
SELECT * FROM erlang_connections();
SELECT erlang_connect(:'node', 'guess');
\echo :LAST_ERROR_SQLSTATE
-- Lua's erlang module asks for the same privileges.
SELECT sec.lua_echo('sec_node', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT sec.lua_op('send', 'sec_node');
SELECT sec.lua_op('cast', 'sec_node');
SELECT sec.lua_op('ping', 'sec_node');
SELECT sec.lua_op('self', 'sec_node');
SELECT sec.lua_op('disconnect', 'sec_node');
SELECT sec.lua_op('connect', :'node');
\echo :LAST_ERROR_SQLSTATE
-- The allow-list and the user mappings' options are out of reach.
SELECT * FROM plerl.allow;
INSERT INTO plerl.allow VALUES ('sec_node', 'plerl_sec_plain', 'os', 'cmd', 1);
SELECT * FROM pg_user_mapping;
SELECT usename, umoptions FROM pg_user_mappings WHERE srvname = 'sec_node';
-- The server's options are public (no secret lives there); changing them is not.
ALTER SERVER sec_node OPTIONS (SET node 'evil@127.0.0.1');
CREATE USER MAPPING FOR plerl_sec_plain SERVER sec_node OPTIONS (cookie 'mine');
RESET ROLE;

-- 2. plerl_caller without USAGE on the server: 42501.
GRANT plerl_caller TO plerl_sec_alice;
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
SELECT sec.lua_echo('sec_node', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_ping('sec_node');
\echo :LAST_ERROR_SQLSTATE
-- A name that is no plerl server at all, and one of another wrapper.
SELECT erlang_call('no_such_server', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
CREATE FOREIGN DATA WRAPPER sec_other_fdw;
CREATE SERVER sec_other FOREIGN DATA WRAPPER sec_other_fdw;
GRANT USAGE ON FOREIGN SERVER sec_other TO plerl_sec_alice;
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_other', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- 3. USAGE but no user mapping: 42704, and nothing is sent.
GRANT USAGE ON FOREIGN SERVER sec_node TO plerl_sec_alice;
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
SELECT sec.lua_echo('sec_node', 'x');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- 4. A user mapping but no plerl.allow row: 42501 naming module:function/arity.
SET log_statement = 'none';
CREATE USER MAPPING FOR plerl_sec_alice SERVER sec_node OPTIONS (cookie :'cookie');
RESET log_statement;
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
SELECT sec.lua_echo('sec_node', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_send('sec_node', 'Elixir.OrderDesk', '"x"');
\echo :LAST_ERROR_SQLSTATE
SELECT sec.lua_op('cast', 'sec_node');
\echo :LAST_ERROR_SQLSTATE
-- ping, self and disconnect carry no module: USAGE and a mapping suffice.
SELECT erlang_ping('sec_node'), sec.lua_op('ping', 'sec_node'), sec.lua_op('self', 'sec_node');
-- alice may read her own mapping (she is the mapped user and has USAGE), bob not hers.
SELECT usename, umoptions IS NOT NULL AS sees_options FROM pg_user_mappings
  WHERE srvname = 'sec_node' ORDER BY usename;
SET ROLE plerl_sec_bob;
SELECT usename, umoptions IS NOT NULL AS sees_options FROM pg_user_mappings
  WHERE srvname = 'sec_node' ORDER BY usename;
RESET ROLE;

-- 5. Allow rows: for one role, for a group, for every role (NULL).
INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES
  ('sec_node', 'plerl_sec_alice', 'Elixir.Plerl.Test', 'echo', 1, NULL),
  ('sec_node', 'plerl_sec_team', 'Elixir.Pricing', 'quote', 2, NULL),
  ('sec_node', NULL, 'Elixir.String', 'upcase', 1, NULL),
  ('sec_node', 'plerl_sec_alice', 'Elixir.OrderDesk', 'committed', 0, NULL),
  ('sec_node', 'plerl_sec_alice', 'Elixir.OrderDesk', '!', 1, '{order_committed}');
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["alice"]');
SELECT sec.lua_echo('sec_node', 'alice from Lua');
SELECT erlang_call('sec_node', 'Elixir.String', 'upcase', '["every role"]');
-- Exactly that function and arity: not another arity, not another function.
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["x", "y"]');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'big', '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('sec_node', 'erlang', 'halt', '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('sec_node', 'os', 'cmd', '["id"]');
\echo :LAST_ERROR_SQLSTATE
-- The team row is not alice's.
SELECT erlang_call('sec_node', 'Elixir.Pricing', 'quote', '["a", 2]');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE plerl_sec_bob;
-- alice's row is not bob's; the team's and everyone's are.
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["bob"]');
\echo :LAST_ERROR_SQLSTATE
SELECT sec.lua_echo('sec_node', 'bob');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('sec_node', 'Elixir.Pricing', 'quote', '["a", 2]') ->> 'total_cents' AS team_row;
SELECT erlang_call('sec_node', 'Elixir.String', 'upcase', '["bob"]');
-- A role that may call still cannot edit the allow-list.
DELETE FROM plerl.allow;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- Changes to plerl.allow apply at once, also to a session that has cached it.
DELETE FROM plerl.allow WHERE module = 'Elixir.String';
SET ROLE plerl_sec_bob;
SELECT erlang_call('sec_node', 'Elixir.String', 'upcase', '["bob"]');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- A PUBLIC mapping serves every role with USAGE on the server, and only the
-- server's owner and superusers can read its cookie. (A per-role mapping is
-- readable by its own role, as above: with plerl that role could use the
-- cookie outside PostgreSQL and skip plerl.allow. docs/security.md.)
SET log_statement = 'none';
CREATE SERVER sec_pub FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE USER MAPPING FOR PUBLIC SERVER sec_pub OPTIONS (cookie :'cookie');
RESET log_statement;
GRANT USAGE ON FOREIGN SERVER sec_pub TO plerl_sec_team;
INSERT INTO plerl.allow VALUES ('sec_pub', 'plerl_sec_team', 'Elixir.Plerl.Test', 'echo', 1);
SET ROLE plerl_sec_bob;
SELECT erlang_call('sec_pub', 'Elixir.Plerl.Test', 'echo', '["via a PUBLIC mapping"]');
SELECT usename, umoptions IS NOT NULL AS sees_options FROM pg_user_mappings WHERE srvname = 'sec_pub';
RESET ROLE;

-- 6. Raw node names are for plerl_admin only (SQL and Lua).
SET ROLE plerl_sec_alice;
SELECT erlang_call(:'node', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
SELECT sec.lua_echo(:'node', 'x');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_ping(:'node');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_connect(:'node', 'guess');
\echo :LAST_ERROR_SQLSTATE
SELECT sec.lua_op('connect', :'node');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE plerl_sec_admin;
-- A raw name must be name@host (22023), then connected in this session (08003).
SELECT erlang_call('nohost@', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call(:'node', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
-- A wrong cookie: 28000, and the session stays unknown.
SELECT erlang_connect(:'node', 'plerl-sec-wrong-cookie');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call(:'node', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET log_statement = 'none';     -- the compatibility path puts the cookie in the query text
SET ROLE plerl_sec_admin;
SELECT erlang_connect(:'node', :'cookie');
RESET ROLE;
RESET log_statement;
SET ROLE plerl_sec_admin;
-- No allow-list applies to raw names: an admin holds the node's keys.
SELECT erlang_call(:'node', 'Elixir.Plerl.Test', 'echo', '["admin"]');
SELECT sec.lua_echo(:'node', 'admin from Lua');
SELECT erlang_disconnect(:'node');
SELECT erlang_call(:'node', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
-- A server name still needs its USAGE, mapping and allow row, even for an admin.
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- 7. SECURITY DEFINER: a function owned by alice lets a plain role make
-- exactly alice's allowed call, with alice's mapping, and nothing more.
SET ROLE plerl_sec_alice;
CREATE FUNCTION sec.alice_echo(x text) RETURNS text SECURITY DEFINER LANGUAGE plerl AS $$
  return erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', x)
$$;
CREATE FUNCTION sec.alice_any(fn text, x text) RETURNS text SECURITY DEFINER LANGUAGE plerl AS $$
  return tostring(erlang.call('sec_node', 'Elixir.Plerl.Test', fn, x))
$$;
CREATE FUNCTION sec.alice_sql(x text) RETURNS jsonb SECURITY DEFINER LANGUAGE sql
  AS $$ SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', jsonb_build_array(x)) $$;
RESET ROLE;
SET ROLE plerl_sec_plain;
SELECT sec.alice_echo('via definer'), sec.alice_sql('via SQL definer');
SELECT sec.alice_any('echo', 'same call');
SELECT sec.alice_any('whereis_tag', 'plerl_t_x');
\echo :LAST_ERROR_SQLSTATE
-- Outside the definer function the plain role is itself again.
SELECT sec.lua_echo('sec_node', 'x');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- 8. Deferred sends ({on_commit = true}) are checked again at COMMIT.
CREATE FUNCTION sec.cast_later(id text) RETURNS boolean LANGUAGE plerl AS $$
  return erlang.cast('sec_node', 'Elixir.OrderDesk',
    erlang.tuple(erlang.atom('order_committed'), {id = id}), {on_commit = true})
$$;
CREATE FUNCTION sec.committed(id text) RETURNS boolean LANGUAGE sql AS $$
  SELECT erlang_call('sec_node', 'Elixir.OrderDesk', 'committed', '[]') @> jsonb_build_array(jsonb_build_object('id', id))
$$;
-- Message ids are unique per run (the test node outlives runs).
SELECT md5(clock_timestamp()::text || random()::text) AS run \gset
-- Allowed and committed: delivered (the control).
BEGIN;
SET LOCAL ROLE plerl_sec_alice;
SELECT sec.cast_later('sec-delivered-' || :'run');
SELECT sec.committed('sec-delivered-' || :'run') AS before_commit;
COMMIT;
SET ROLE plerl_sec_alice;
SELECT sec.committed('sec-delivered-' || :'run') AS after_commit;
RESET ROLE;
-- Rolled back: dropped.
BEGIN;
SET LOCAL ROLE plerl_sec_alice;
SELECT sec.cast_later('sec-rolled-back-' || :'run');
ROLLBACK;
SET ROLE plerl_sec_alice;
SELECT sec.committed('sec-rolled-back-' || :'run') AS rolled_back_sent;
RESET ROLE;
-- Queued, then the allow row is deleted in the same transaction: COMMIT
-- fails with 42501 and nothing is sent.
BEGIN;
SET LOCAL ROLE plerl_sec_alice;
SELECT sec.cast_later('sec-revoked-' || :'run');
RESET ROLE;
DELETE FROM plerl.allow WHERE role = 'plerl_sec_alice' AND function = '!';
COMMIT;
\echo :LAST_ERROR_SQLSTATE
SET ROLE plerl_sec_alice;
SELECT sec.committed('sec-revoked-' || :'run') AS revoked_sent;
RESET ROLE;
-- Queued by a SECURITY DEFINER function: checked at COMMIT as the role that
-- queued it (alice, allowed again below), not as the caller (who may not).
INSERT INTO plerl.allow VALUES ('sec_node', 'plerl_sec_alice', 'Elixir.OrderDesk', '!', 1, '{order_committed}');
ALTER FUNCTION sec.cast_later(text) OWNER TO plerl_sec_alice;
ALTER FUNCTION sec.cast_later(text) SECURITY DEFINER;
BEGIN;
SET LOCAL ROLE plerl_sec_plain;
SELECT sec.cast_later('sec-definer-' || :'run');
COMMIT;
SET ROLE plerl_sec_alice;
SELECT sec.committed('sec-definer-' || :'run') AS definer_sent;
RESET ROLE;

-- Any catalog change before COMMIT makes the allow-list reload there, with
-- no active snapshot (this once crashed the backend).
BEGIN;
SET LOCAL ROLE plerl_sec_alice;
SELECT sec.cast_later('sec-after-ddl-' || :'run');
CREATE TABLE sec.made_in_xact (x int);
COMMIT;
SET ROLE plerl_sec_alice;
SELECT sec.committed('sec-after-ddl-' || :'run') AS after_ddl_sent;
RESET ROLE;

-- 9. Server options that name files are for superusers.
GRANT USAGE ON FOREIGN DATA WRAPPER plerl TO plerl_sec_admin;
SET ROLE plerl_sec_admin;
CREATE SERVER sec_mine FOREIGN DATA WRAPPER plerl OPTIONS (node 'a@127.0.0.1', tls 'on', tls_server_name 'a');
CREATE SERVER sec_ca FOREIGN DATA WRAPPER plerl OPTIONS (node 'a@127.0.0.1', tls_ca '/etc/passwd');
\echo :LAST_ERROR_SQLSTATE
ALTER SERVER sec_mine OPTIONS (ADD tls_cert '/etc/ssl/private/x.pem');
\echo :LAST_ERROR_SQLSTATE
ALTER SERVER sec_mine OPTIONS (ADD tls_key '/etc/ssl/private/x.key');
\echo :LAST_ERROR_SQLSTATE
ALTER SERVER sec_mine OPTIONS (ADD tls_ca '/etc/ssl/certs/ca.pem');
\echo :LAST_ERROR_SQLSTATE
-- Bad option values are refused at CREATE.
CREATE SERVER sec_bad1 FOREIGN DATA WRAPPER plerl OPTIONS (node 'nohost');
CREATE SERVER sec_bad2 FOREIGN DATA WRAPPER plerl OPTIONS (node 'a@');
CREATE SERVER sec_bad3 FOREIGN DATA WRAPPER plerl OPTIONS (node '@b');
CREATE SERVER sec_bad4 FOREIGN DATA WRAPPER plerl OPTIONS (node 'a@b', tls 'maybe');
CREATE SERVER sec_bad5 FOREIGN DATA WRAPPER plerl OPTIONS (node 'a@b', cookie 'in the server');
CREATE SERVER sec_bad6 FOREIGN DATA WRAPPER plerl OPTIONS (tls 'on');
CREATE USER MAPPING FOR plerl_sec_admin SERVER sec_mine OPTIONS (password 'x');
CREATE USER MAPPING FOR plerl_sec_admin SERVER sec_mine OPTIONS (cookie '');
DROP SERVER sec_mine;
RESET ROLE;
REVOKE USAGE ON FOREIGN DATA WRAPPER plerl FROM plerl_sec_admin;

-- 10. Limits. Non-superusers cannot raise the superuser-only ones.
SET ROLE plerl_sec_alice;
SET plerl.max_message_size = '1GB';
SET plerl.max_atoms = 100000;
SET plerl.max_connections = 1000;
SET plerl.lua_memory_limit = '100GB';
SET plerl.lua_time_limit = 0;
SET plerl.call_timeout = '1s';  -- a user setting
RESET plerl.call_timeout;
RESET ROLE;
SELECT name, setting, unit, context FROM pg_settings WHERE name LIKE 'plerl.%' AND name <> 'plerl.outbox_databases' ORDER BY name;

-- The call timeout (PE001), per call or plerl.call_timeout.
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'sleep', '[2000]', 100);
\echo :LAST_ERROR_SQLSTATE
SET plerl.call_timeout = '100ms';
INSERT INTO plerl.allow VALUES ('sec_node', NULL, 'Elixir.Plerl.Test', 'sleep', 1);
SET ROLE plerl_sec_bob;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'sleep', '[2000]');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
RESET plerl.call_timeout;

-- Atoms through a server: only those the rows that permit the request
-- list (a node never frees an atom), none by default: 42501 before
-- anything is sent, however plerl.max_atoms is set. From SQL, from Lua,
-- in sends, casts and deferred casts (refused when queued).
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[{"$atom": "sec_unlisted"}]');
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', erlang.atom('sec_unlisted')) $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ erlang.cast('sec_node', 'Elixir.OrderDesk', erlang.tuple(erlang.atom('sec_unlisted'), 1)) $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ erlang.cast('sec_node', 'Elixir.OrderDesk', erlang.atom('sec_unlisted'), {on_commit = true}) $$;
\echo :LAST_ERROR_SQLSTATE
-- true, false and the null atom are always there; so is a pid of ours.
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[[true, false, null]]');
DO LANGUAGE plerl $$
  local me = erlang.self('sec_node')
  assert(erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', me) == me)
$$;
RESET ROLE;
-- A row lists the atoms its requests may carry; '*' is any atom.
INSERT INTO plerl.allow VALUES ('sec_node', 'plerl_sec_alice', 'Elixir.Plerl.Test', 'echo', 1,
  '{sec_a1,sec_a2,sec_a3,ok}');
INSERT INTO plerl.allow VALUES ('sec_node', NULL, 'Elixir.Plerl.Test', 'echo', 1, '{""}');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO plerl.allow VALUES ('sec_node', NULL, 'Elixir.Plerl.Test', 'echo', 1, '{NULL}');
\echo :LAST_ERROR_SQLSTATE
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[{"$atom": "sec_a1"}]');
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[{"$atom": "sec_a4"}]');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- A row with a NULL function lets a caller try any function name, and a
-- name is an atom: a name the node has no atom for fails with 42883
-- without reaching it (erlang:binary_to_existing_atom/2 creates none).
INSERT INTO plerl.allow VALUES ('sec_node', 'plerl_sec_alice', 'Elixir.OrderDesk', NULL, NULL);
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_node', 'Elixir.OrderDesk', 'sec_no_such_function_xyzzy', '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT jsonb_typeof(erlang_call('sec_node', 'Elixir.OrderDesk', 'committed', '[]'));
RESET ROLE;

-- Names reach C whole: a NUL byte (which would end C's copy early) and
-- invalid UTF-8 are refused in every name-taking function (22023).
SET ROLE plerl_sec_alice;
DO LANGUAGE plerl $$
  local cases = {
    function() erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo\0x', 1) end,
    function() erlang.call('sec_node', 'Elixir.Plerl.Test\0x', 'echo', 1) end,
    function() erlang.call('sec_node\0x', 'Elixir.Plerl.Test', 'echo', 1) end,
    function() erlang.call_with({}, 'sec_node', 'Elixir.Plerl.Test', 'echo\0x', 1) end,
    function() erlang.cast('sec_node', 'Elixir.OrderDesk\0x', 1) end,
    function() erlang.send('sec_node', 'Elixir.OrderDesk\0x', 1, {on_commit = true}) end,
    function() erlang.ping('sec_node\0x') end,
    function() erlang.receive('sec_node\0x', 0) end,
    function() erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo\255', 1) end,
  }
  for i, f in ipairs(cases) do
    local ok, err = pcall(f)
    print(i, ok, err.sqlstate, err.message)
  end
$$;
RESET ROLE;

-- Atoms per request (plerl.max_atoms): 54000 before anything is sent.
SET plerl.max_atoms = 2;
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[[{"$atom": "sec_a1"}, {"$atom": "sec_a2"}]]');
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[[{"$atom": "sec_a1"}, {"$atom": "sec_a2"}, {"$atom": "sec_a3"}]]');
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$
  erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo',
    {erlang.atom('sec_a1'), erlang.atom('sec_a2'), erlang.atom('sec_a3')})
$$;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET plerl.max_atoms = 0;
SET ROLE plerl_sec_alice;
-- 0: no atoms at all, except true, false and the null atom.
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[[true, false, null]]');
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[{"$atom": "ok"}]');
\echo :LAST_ERROR_SQLSTATE
-- Anyone may set plerl.null_atom, so only the usual three go out: any
-- other would be a fresh atom on the peer per SET, beyond plerl.max_atoms.
SET plerl.null_atom = 'plerl_sec_made_up';
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[null]');
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', erlang.null) $$;
\echo :LAST_ERROR_SQLSTATE
SET plerl.null_atom = 'undefined';
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '[null]');
RESET plerl.null_atom;
RESET ROLE;
RESET plerl.max_atoms;

-- Message size (plerl.max_message_size) in and out: 54000, the backend
-- lives and its session reconnects. Set at the start of a fresh session.
\c -
SET plerl.max_message_size = '1MB';
SELECT pg_backend_pid() AS pid \gset
INSERT INTO plerl.allow VALUES ('sec_node', 'plerl_sec_alice', 'binary', 'copy', 2);
SET ROLE plerl_sec_alice;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', jsonb_build_array(repeat('x', 2000000)));
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', string.rep('x', 2000000)) $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ erlang.send('sec_node', 'Elixir.OrderDesk', string.rep('x', 2000000)) $$;
\echo :LAST_ERROR_SQLSTATE
-- A reply above the limit (the peer's packet is refused).
DO LANGUAGE plerl $$ erlang.call('sec_node', 'binary', 'copy', 'x', 2000000) $$;
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('sec_node', 'binary', 'copy', '["x", 2000000]');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('sec_node', 'binary', 'copy', '["x", 1000]') = to_jsonb(repeat('x', 1000)) AS under_limit;
SELECT pg_backend_pid() = :pid AS same_backend;
RESET ROLE;
-- A superuser's SET applies to sessions already open too.
SET plerl.max_message_size = '64kB';
SET ROLE plerl_sec_alice;
DO LANGUAGE plerl $$ erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', string.rep('x', 100000)) $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ erlang.call('sec_node', 'binary', 'copy', 'x', 100000) $$;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
RESET plerl.max_message_size;

-- Connections per backend (plerl.max_connections).
\c -
SET plerl.max_connections = 1;
SET log_statement = 'none';
CREATE SERVER sec_second FOREIGN DATA WRAPPER plerl OPTIONS (node 'plerl_sec_nobody@127.0.0.1');
CREATE USER MAPPING FOR plerl_sec_bob SERVER sec_second OPTIONS (cookie 'unused');
RESET log_statement;
GRANT USAGE ON FOREIGN SERVER sec_second TO plerl_sec_bob;
INSERT INTO plerl.allow VALUES ('sec_second', NULL, 'erlang', 'node', 0);
SET ROLE plerl_sec_bob;
SELECT erlang_call('sec_node', 'Elixir.Pricing', 'quote', '["a", 1]') ->> 'sku' AS first;
SELECT erlang_call('sec_second', 'erlang', 'node', '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS connections FROM erlang_connections();
RESET ROLE;

-- The Lua time budget (plerl.lua_time_limit), apart from statement_timeout.
\c -
SELECT pg_backend_pid() AS pid \gset
SET plerl.lua_time_limit = '200ms';
SET ROLE plerl_sec_plain;
DO LANGUAGE plerl $$ while true do end $$;
\echo :LAST_ERROR_SQLSTATE
-- pcall cannot catch it.
DO LANGUAGE plerl $$ while true do pcall(function() while true do end end) end $$;
\echo :LAST_ERROR_SQLSTATE
SELECT sec.plain_add(1, 1);
RESET ROLE;
RESET plerl.lua_time_limit;

-- The Lua memory budget (plerl.lua_memory_limit): 53200, not an OOM kill;
-- and the next call runs normally.
SET plerl.lua_memory_limit = '64MB';
SET ROLE plerl_sec_plain;
DO LANGUAGE plerl $$ local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 100) .. i end $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ local t = {} for i = 1, 1e9 do t[i] = string.rep('x', 100) .. i end $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ local t = {} for i = 1, 1e9 do pcall(function() t[#t + 1] = {i, i, i} end) end $$;
\echo :LAST_ERROR_SQLSTATE
SELECT sec.plain_add(2, 2);
DO LANGUAGE plerl $$ local t = {} for i = 1, 10000 do t[i] = tostring(i) end print(#t) $$;
SELECT pg_backend_pid() = :pid AS same_backend;
RESET ROLE;
RESET plerl.lua_memory_limit;

-- erlang_connections() shows no cookie (it has no column for one).
SELECT proargnames FROM pg_proc WHERE proname = 'erlang_connections';

-- Clean up.
RESET ROLE;
DROP SCHEMA sec CASCADE;
DELETE FROM plerl.allow WHERE server LIKE 'sec\_%';
DROP SERVER sec_node CASCADE;
DROP SERVER sec_pub CASCADE;
DROP SERVER sec_second CASCADE;
DROP SERVER sec_other;
DROP FOREIGN DATA WRAPPER sec_other_fdw;
DROP ROLE plerl_sec_alice, plerl_sec_bob, plerl_sec_team, plerl_sec_admin, plerl_sec_plain;
