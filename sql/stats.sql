-- stats: plerl.stat_calls counts a known workload exactly (docs/monitoring.md).
-- Two expected outputs: stats.out with plerl in shared_preload_libraries,
-- stats_1.out without (the views then say statistics need it).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
DROP ROLE IF EXISTS stats_worker;  -- left by an interrupted run (roles outlive the database)
RESET client_min_messages;
\getenv node PLERL_TEST_NODE
\getenv cookie PLERL_TEST_COOKIE

SELECT stat_max > 0 AS has_limit FROM plerl.stat_info;
SELECT NOT shared_memory AS no_preload FROM plerl.stat_info \gset
\if :no_preload
-- Without shared_preload_libraries: a clear error, and everything else works.
SELECT * FROM plerl.stat_calls;
SELECT plerl.stat_reset();
SELECT * FROM plerl.stat_waits;
SELECT * FROM plerl.stat_nodes;
SELECT shared_memory, tracking, entries, dealloc FROM plerl.stat_info;
\quit
\endif

SET log_statement = 'none';
CREATE SERVER statsnode FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE SERVER statsdead FOREIGN DATA WRAPPER plerl OPTIONS (node 'nobody_here@127.0.0.1');
CREATE ROLE stats_worker;
GRANT plerl_caller TO stats_worker;
GRANT USAGE ON FOREIGN SERVER statsnode, statsdead TO stats_worker;
CREATE USER MAPPING FOR stats_worker SERVER statsnode OPTIONS (cookie :'cookie');
CREATE USER MAPPING FOR stats_worker SERVER statsdead OPTIONS (cookie 'not-the-cookie');
RESET log_statement;
INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES
  ('statsnode', 'stats_worker', 'erlang', 'node', 0, NULL),
  ('statsnode', 'stats_worker', 'erlang', 'abs', 1, NULL),
  ('statsnode', 'stats_worker', 'Elixir.Plerl.Test', 'raise_error', 0, NULL),
  ('statsnode', 'stats_worker', 'Elixir.Plerl.Test', 'sleep', 1, NULL),
  ('statsnode', 'stats_worker', 'Elixir.Plerl.Test', 'echo', 1, NULL),
  ('statsnode', 'stats_worker', 'OrderDesk', '!', 1, NULL),
  ('statsnode', 'stats_worker', 'Elixir.OrderDesk', '!', 1, NULL),
  ('statsdead', 'stats_worker', 'erlang', 'node', 0, NULL);
CREATE FUNCTION stats_lua_abs(n int) RETURNS int LANGUAGE plerl AS $$
  return erlang.call('statsnode', 'erlang', 'abs', n)
$$;
GRANT EXECUTE ON FUNCTION stats_lua_abs(int) TO stats_worker;

SELECT plerl.stat_reset();
SELECT entries, dealloc FROM plerl.stat_info;
SET track_functions = 'pl';

-- The workload, as stats_worker: every error caught and its SQLSTATE counted.
SET ROLE stats_worker;
CREATE TEMP TABLE outcome(sqlstate text);
DO $$
DECLARE i int;
BEGIN
  FOR i IN 1..5 LOOP PERFORM erlang_call('statsnode', 'erlang', 'node', '[]'); END LOOP;
  FOR i IN 1..2 LOOP
    BEGIN PERFORM erlang_call('statsnode', 'Elixir.Plerl.Test', 'raise_error', '[]');
    EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES (SQLSTATE); END;
  END LOOP;
  FOR i IN 1..3 LOOP
    BEGIN PERFORM erlang_call('statsnode', 'Elixir.Plerl.Test', 'sleep', '[2000]', 50);
    EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES (SQLSTATE); END;
  END LOOP;
  -- an atom plerl.allow does not list: refused before anything is sent
  BEGIN PERFORM erlang_call('statsnode', 'Elixir.Plerl.Test', 'echo', '[{"$atom": "not_listed"}]');
  EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES (SQLSTATE); END;
  FOR i IN 1..2 LOOP
    BEGIN PERFORM erlang_call('statsdead', 'erlang', 'node', '[]');
    EXCEPTION WHEN OTHERS THEN INSERT INTO outcome VALUES (SQLSTATE); END;
  END LOOP;
  FOR i IN 1..4 LOOP PERFORM erlang_send('statsnode', 'OrderDesk', '{"id": 1}'); END LOOP;
  FOR i IN 1..3 LOOP PERFORM erlang_cast('statsnode', 'Elixir.OrderDesk', '{"id": 2}'); END LOOP;
  FOR i IN 1..7 LOOP PERFORM stats_lua_abs(-i); END LOOP;
END $$;
SELECT count(*) AS batch_rows FROM erlang_call_many('statsnode', 'erlang', 'abs',
  $$SELECT jsonb_build_array(-g) FROM generate_series(1, 6) g$$);
SELECT sqlstate, count(*) FROM outcome GROUP BY 1 ORDER BY 1;
RESET ROLE;

-- Exactly what ran: per server, node, module, function, arity and kind.
SELECT rolname, server, kind, module, function, arity, calls, errors, timeouts,
       node_down, remote_errors, refused, cancelled, other_errors,
       min_time <= mean_time AND mean_time <= max_time AND total_time > 0 AS times_ok,
       CASE WHEN node = :'node' THEN 'the test node' ELSE node END AS node
  FROM plerl.stat_calls WHERE server LIKE 'stats%'
 ORDER BY server, kind, module, function;
SELECT datname = current_database() AS this_db FROM plerl.stat_calls WHERE server = 'statsnode' LIMIT 1;
SELECT entries FROM plerl.stat_info;

-- This backend's sessions: the test node connected once with a round trip,
-- the dead node's two failed connects and why.
SELECT server, state, connects, reconnects, failures,
       last_error IS NOT NULL AS has_error, (last_error_at IS NOT NULL) = (failures > 0) AS error_at_ok,
       last_rtt >= 0 AS has_rtt, since <= now() AS since_ok, member_state, outbox_pending
  FROM plerl.stat_nodes WHERE pid = pg_backend_pid() AND server LIKE 'stats%' ORDER BY server;
-- Nothing is waited for while this backend reads the view.
SELECT count(*) FROM plerl.stat_waits WHERE pid = pg_backend_pid();
-- erlang_disconnect, then a call: one reconnect.
SET ROLE stats_worker;
SELECT erlang_disconnect('statsnode');
RESET ROLE;
SELECT state, connects, reconnects FROM plerl.stat_nodes WHERE pid = pg_backend_pid() AND server = 'statsnode';
SET ROLE stats_worker;
SELECT erlang_call('statsnode', 'erlang', 'node', '[]') IS NOT NULL AS called;
RESET ROLE;
SELECT state, connects, reconnects FROM plerl.stat_nodes WHERE pid = pg_backend_pid() AND server = 'statsnode';

-- Lua functions show in pg_stat_user_functions (track_functions = 'pl').
SELECT pg_stat_force_next_flush();
SELECT funcname, calls FROM pg_stat_user_functions WHERE funcname = 'stats_lua_abs';

-- Not PUBLIC's: the schema, the views and the reset.
SET ROLE stats_worker;
SELECT count(*) FROM plerl.stat_calls;
SELECT count(*) FROM plerl.stat_nodes;
SELECT count(*) FROM plerl.stat_waits;
SELECT plerl.stat_reset();
RESET ROLE;
GRANT pg_read_all_stats TO stats_worker;
SET ROLE stats_worker;
SELECT count(*) > 0 AS readable FROM plerl.stat_calls;
SELECT count(*) > 0 AS readable FROM plerl.stat_nodes;
SELECT count(*) >= 0 AS readable FROM plerl.stat_waits;
SELECT plerl.stat_reset();
RESET ROLE;

-- Off: nothing counted.
SET plerl.stat_track = off;
SELECT plerl.stat_reset();
SET ROLE stats_worker;
SELECT erlang_call('statsnode', 'erlang', 'node', '[]') IS NOT NULL AS called;
SELECT count(*) FROM plerl.stat_calls WHERE server LIKE 'stats%';
RESET ROLE;
RESET plerl.stat_track;
SET ROLE stats_worker;
SELECT erlang_call('statsnode', 'erlang', 'node', '[]') IS NOT NULL AS called;
RESET ROLE;
SELECT calls FROM plerl.stat_calls WHERE server LIKE 'stats%';

-- Reset empties it.
SELECT plerl.stat_reset();
SELECT count(*) FROM plerl.stat_calls;
SELECT entries, dealloc FROM plerl.stat_info;

-- Bytes: what each request and its reply cost on the wire (frames with
-- their 4-byte length headers), counted exactly. Expected sizes from the
-- external term format: a pid is NEW_PID_EXT, 1 + (2 + length(node)) + 12
-- bytes (P); our references NEWER_REFERENCE_EXT with 3 words, P + 6; atoms
-- SMALL_ATOM_UTF8_EXT, 2 + length; a binary 5 + its size; tuples 2 + ...
-- A rex call of M:F(Bin) is <<Len:32, 112, 131, {6, Pid, '', rex},
-- 131, {'$gen_call', {Pid, Ref}, {call, M, F, [Bin], user}}>>, its reply
-- <<Len:32, 112, 131, {2, '', Pid}, 131, {Ref, Bin}>>.
INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES
  ('statsnode', 'stats_worker', 'erlang', 'node', 1, NULL),
  ('statsnode', 'stats_worker', 'Elixir.StatsSink', '!', 1, NULL);
CREATE FUNCTION stats_self_node() RETURNS text LANGUAGE plerl AS $$
  return tostring(erlang.call('statsnode', 'erlang', 'node', erlang.self('statsnode')))
$$;
CREATE FUNCTION stats_lua_async(n int) RETURNS int LANGUAGE plerl AS $$
  local h = erlang.async('statsnode', 'Elixir.Plerl.Test', 'echo', string.rep('a', n))
  return #erlang.await(h)
$$;
GRANT EXECUTE ON FUNCTION stats_self_node(), stats_lua_async(int) TO stats_worker;
SET ROLE stats_worker;
SELECT 15 + length(stats_self_node()) AS pid_size \gset
RESET ROLE;
SELECT plerl.stat_reset();
SET ROLE stats_worker;
-- echo/1: 3 calls of 1000 bytes, a batch of 2 of 5000, one async of 300
SELECT count(erlang_call('statsnode', 'Elixir.Plerl.Test', 'echo', jsonb_build_array(repeat('x', 1000)))) FROM generate_series(1, 3);
SELECT count(*) FROM erlang_call_many('statsnode', 'Elixir.Plerl.Test', 'echo',
  $$SELECT jsonb_build_array(repeat('y', 5000)) FROM generate_series(1, 2)$$);
SELECT stats_lua_async(300);
-- sends and casts of a 700-byte binary, to names nothing is registered
-- as on the node (dropped there: OrderDesk would crash on the cast)
SELECT erlang_send('statsnode', 'OrderDesk', to_jsonb(repeat('s', 700)));
SELECT erlang_send('statsnode', 'OrderDesk', to_jsonb(repeat('s', 700)));
SELECT erlang_cast('statsnode', 'Elixir.StatsSink', to_jsonb(repeat('c', 700)));
DO LANGUAGE plerl $$ erlang.send('statsnode', 'OrderDesk', string.rep('o', 700), {on_commit = true}) $$;
RESET ROLE;
WITH k AS (SELECT :pid_size AS p, :pid_size + 6 AS r),
     want AS (
  SELECT 'call' AS kind, 'Elixir.Plerl.Test' AS module,
         -- per call: 4 + 1 + ctrl + payload, L = the binary
         sum(4 + 1 + (1 + 2 + 2 + k.p + 2 + 5)
             + (1 + 2 + 11 + 2 + k.p + k.r + 2 + 6 + (2 + 17) + (2 + 4) + (5 + (5 + l) + 1) + 6)) AS sent,
         sum(4 + 1 + (1 + 2 + 2 + 2 + k.p) + (1 + 2 + k.r + (5 + l))) AS received,
         NULL::bigint AS messages
    FROM k, (VALUES (1000), (1000), (1000), (5000), (5000), (300)) v(l) GROUP BY 1, 2
  UNION ALL
  SELECT 'send', 'OrderDesk', 2 * (4 + 1 + (1 + 2 + 2 + k.p + 2 + (2 + 9)) + (1 + (5 + 700))), 0, 2 FROM k
  UNION ALL
  SELECT 'cast', 'Elixir.StatsSink', 4 + 1 + (1 + 2 + 2 + k.p + 2 + (2 + 16)) + (1 + 2 + 11 + (5 + 700)), 0, 1 FROM k
  UNION ALL
  SELECT 'on_commit', 'OrderDesk', 4 + 1 + (1 + 2 + 2 + k.p + 2 + (2 + 9)) + (1 + (5 + 700)), 0, 1 FROM k)
SELECT s.kind, s.module, s.calls, s.errors, s.messages,
       s.bytes_sent - w.sent AS sent_off_by, s.bytes_received - w.received AS received_off_by,
       s.messages IS NOT DISTINCT FROM w.messages AS messages_ok
  FROM plerl.stat_calls s JOIN want w USING (kind, module)
 WHERE s.server = 'statsnode' ORDER BY 1, 2;

DROP FUNCTION stats_self_node(), stats_lua_async(int);
DROP FUNCTION stats_lua_abs(int);
DELETE FROM plerl.allow WHERE server LIKE 'stats%';
DROP USER MAPPING FOR stats_worker SERVER statsnode;
DROP USER MAPPING FOR stats_worker SERVER statsdead;
DROP SERVER statsnode, statsdead;
REVOKE pg_read_all_stats FROM stats_worker;
DROP ROLE stats_worker;
