-- cluster: servers that name a group of nodes (option nodes, balance):
-- validation, failover past members that do not exist, the all-down error
-- (08001, naming every member), call options, erlang_group_members().
-- Groups of real members under load: test/integration (cluster.go).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\getenv node PLERL_TEST_NODE
\getenv cookie PLERL_TEST_COOKIE
\set VERBOSITY default

-- Validation (fdw.c): a comma-separated list of name@host, 1..64 members,
-- no duplicates; node and nodes exclusive; balance only for a group.
CREATE SERVER g_bad1 FOREIGN DATA WRAPPER plerl OPTIONS (nodes 'a@h1, b');
CREATE SERVER g_bad2 FOREIGN DATA WRAPPER plerl OPTIONS (nodes 'a@h1,,b@h2');
CREATE SERVER g_bad3 FOREIGN DATA WRAPPER plerl OPTIONS (nodes 'a@h1, a@h1');
CREATE SERVER g_bad4 FOREIGN DATA WRAPPER plerl OPTIONS (nodes 'a@h1', node 'b@h2');
CREATE SERVER g_bad5 FOREIGN DATA WRAPPER plerl OPTIONS (nodes 'a@h1, b@h2', balance 'least_loaded');
CREATE SERVER g_bad6 FOREIGN DATA WRAPPER plerl OPTIONS (node 'a@h1', balance 'first');
CREATE SERVER g_bad7 FOREIGN DATA WRAPPER plerl OPTIONS (nodes 'a@b@h1');
CREATE SERVER g_bad8 FOREIGN DATA WRAPPER plerl OPTIONS (nodes '');
CREATE SERVER g_bad9 FOREIGN DATA WRAPPER plerl OPTIONS (balance 'first');
SELECT 'n1@h' || string_agg(',n' || i || '@h', '') AS members65 FROM generate_series(2, 65) i \gset
CREATE SERVER g_bad10 FOREIGN DATA WRAPPER plerl OPTIONS (nodes :'members65');
SELECT 'n1@h' || string_agg(',n' || i || '@h', '') AS members64 FROM generate_series(2, 64) i \gset
CREATE SERVER g_ok64 FOREIGN DATA WRAPPER plerl OPTIONS (nodes :'members64', balance 'affinity');
-- Blanks around members are trimmed; the order given is kept.
CREATE SERVER g_ok FOREIGN DATA WRAPPER plerl OPTIONS (nodes ' a@h1 ,b@h2,	c@h3 ', balance 'first');
-- ALTER is validated on the options as they end up.
ALTER SERVER g_ok OPTIONS (ADD node 'd@h4');
ALTER SERVER g_ok OPTIONS (SET balance 'sideways');
ALTER SERVER g_ok OPTIONS (DROP nodes);
DROP SERVER g_ok64, g_ok;

-- A group of two members epmd does not know.
\set members 'plerl_nosuch1@127.0.0.1, plerl_nosuch2@127.0.0.1'
SET log_statement = 'none';
CREATE SERVER grp FOREIGN DATA WRAPPER plerl OPTIONS (nodes :'members');
CREATE USER MAPPING FOR CURRENT_USER SERVER grp OPTIONS (cookie :'cookie');
RESET log_statement;
INSERT INTO plerl.allow (server, role, module, function, arity) VALUES
  ('grp', NULL, 'erlang', 'node', 0),
  ('grp', NULL, 'Elixir.String', 'upcase', 1);

CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN others THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[0-9.]+(ms|s)\M', 'N', 'g');
END $$;
-- Every member down: 08001, naming each member and why.
SELECT try($$SELECT erlang_call('grp', 'erlang', 'node', '[]')$$);
-- Within the backoff nothing is dialled: the same error at once.
SELECT try($$SELECT erlang_call('grp', 'erlang', 'node', '[]')$$);
SELECT server, node, state, down_until > now() AS in_backoff, failures, calls
  FROM erlang_group_members() ORDER BY node;
-- The allow-list is per server, as for one node; so are the privileges.
SELECT try($$SELECT erlang_call('grp', 'erlang', 'halt', '[]')$$);

-- The test node joins, between the two: every call reaches it, the others
-- are skipped (in their backoff, or failing at epmd) without the caller
-- noticing. ALTER SERVER makes a new group.
\set members 'plerl_nosuch1@127.0.0.1, ' :node ', plerl_nosuch2@127.0.0.1'
ALTER SERVER grp OPTIONS (SET nodes :'members');
SELECT count(*) FILTER (WHERE erlang_call('grp', 'erlang', 'node', '[]') = jsonb_build_object('$atom', :'node')) AS reached_test_node
  FROM generate_series(1, 30);
SELECT node, state, calls > 0 AS took_calls, share = 1 AS all_calls
  FROM erlang_group_members() WHERE node = :'node';
ALTER SERVER grp OPTIONS (ADD balance 'first');
SELECT erlang_call('grp', 'Elixir.String', 'upcase', '["first"]');
ALTER SERVER grp OPTIONS (SET balance 'affinity');
SELECT erlang_call('grp', 'Elixir.String', 'upcase', '["keyed"]', NULL, '{"key": "customer-42"}');
SELECT erlang_call('grp', 'Elixir.String', 'upcase', '["retry"]', NULL, '{"retry": true}');

-- Call options are checked.
SELECT erlang_call('grp', 'Elixir.String', 'upcase', '["x"]', NULL, '[1]');
SELECT erlang_call('grp', 'Elixir.String', 'upcase', '["x"]', NULL, '{"retry": "yes"}');
SELECT erlang_call('grp', 'Elixir.String', 'upcase', '["x"]', NULL, '{"key": 1}');
SELECT erlang_call('grp', 'Elixir.String', 'upcase', '["x"]', NULL, '{"tries": 3}');

-- Lua: erlang.call_with takes key and retry.
DO LANGUAGE plerl $$
  print(erlang.call_with({key = 'customer-42', retry = true}, 'grp', 'Elixir.String', 'upcase', 'lua'))
  local ok, e = pcall(erlang.call_with, {retry = 'yes'}, 'grp', 'Elixir.String', 'upcase', 'lua')
  print(ok, e.sqlstate)
$$;

-- Sends and batches go through the group too; disconnect closes every member.
SELECT * FROM erlang_call_many('grp', 'Elixir.String', 'upcase',
  $$SELECT jsonb_build_array(x) FROM unnest(array['a', 'b']) x$$);
-- A batch's column key is each item's affinity key (it may not come
-- first); Lua's call_many takes key or keys, async_with key.
SELECT item, result FROM erlang_call_many('grp', 'Elixir.String', 'upcase',
  $$SELECT jsonb_build_array(x) AS args, 'customer-' || x AS key FROM unnest(array['c', 'd']) x$$);
SELECT item, result FROM erlang_call_many('grp', 'Elixir.String', 'upcase',
  $$SELECT '["e"]'::jsonb, NULL::int AS key$$);
SELECT try($$SELECT * FROM erlang_call_many('grp', 'Elixir.String', 'upcase', 'SELECT ''["x"]''::jsonb AS key')$$);
DO LANGUAGE plerl $$
  local r = erlang.call_many('grp', 'Elixir.String', 'upcase', {{'f'}, {'g'}}, {keys = {'k1', 'k2'}})
  print(r[1].value, r[2].value)
  r = erlang.call_many('grp', 'Elixir.String', 'upcase', {{'h'}}, {key = 'k1'})
  print(r[1].value, erlang.await(erlang.async_with({key = 'k1'}, 'grp', 'Elixir.String', 'upcase', 'i')))
  for _, o in ipairs({{keys = {'k1'}}, {key = 'a', keys = {'a', 'b'}}, {keys = {1, 2}}, {key = 1}}) do
    local ok, e = pcall(erlang.call_many, 'grp', 'Elixir.String', 'upcase', {{'x'}, {'y'}}, o)
    print(ok, e.sqlstate, e.message)
  end
  print(pcall(erlang.async_with, {keys = {'a'}}, 'grp', 'Elixir.String', 'upcase', 'x'))
$$;
SELECT erlang_disconnect('grp');
SELECT count(*) AS sessions FROM erlang_connections() WHERE state = 'connected';

DROP FUNCTION try(text);
DELETE FROM plerl.allow WHERE server = 'grp';
DROP USER MAPPING FOR CURRENT_USER SERVER grp;
DROP SERVER grp;
