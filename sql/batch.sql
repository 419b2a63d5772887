-- batch: erlang_call_many, erlang.async/await, call_many, multicall against
-- the Elixir test node (timing, cancel and memory: test/integration).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\getenv node PLERL_TEST_NODE
\getenv cookie PLERL_TEST_COOKIE
SET log_statement = 'none';
CREATE SERVER batchnode FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE SERVER batchnode2 FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE USER MAPPING FOR CURRENT_USER SERVER batchnode OPTIONS (cookie :'cookie');
CREATE USER MAPPING FOR CURRENT_USER SERVER batchnode2 OPTIONS (cookie :'cookie');
RESET log_statement;
INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES
  ('batchnode', NULL, 'erlang', 'abs', 1, NULL),
  ('batchnode2', NULL, 'erlang', 'abs', 1, NULL),
  ('batchnode', NULL, 'lists', 'seq', 2, NULL),
  ('batchnode', NULL, 'Elixir.Plerl.Test', 'sleep', 1, NULL);

-- A row per item, in input order; a failed item has its SQLSTATE and
-- message, and the batch goes on.
SELECT item, result, sqlstate, split_part(message, E'\n', 1) AS message
FROM erlang_call_many('batchnode', 'erlang', 'abs',
  $$SELECT a FROM (VALUES ('[-1]'::jsonb), ('["x"]'), ('[2.5]'), ('[-4]')) v(a)$$, max_in_flight => 2);
-- Many more items than in flight, in order.
SELECT count(*), bool_and(result = to_jsonb(item)) AS in_order
FROM erlang_call_many('batchnode', 'erlang', 'abs',
  $$SELECT jsonb_build_array(-g) FROM generate_series(1, 5000) g$$, max_in_flight => 7);
-- No items, no rows.
SELECT * FROM erlang_call_many('batchnode', 'erlang', 'abs', $$SELECT '[1]'::jsonb WHERE false$$);
-- fail_fast: the first failed item fails the statement.
SELECT * FROM erlang_call_many('batchnode', 'erlang', 'abs',
  $$SELECT a FROM (VALUES ('[-1]'::jsonb), ('["x"]')) v(a)$$, fail_fast => true);
-- The same allow-list as erlang_call: the arity of the items is checked.
SELECT * FROM erlang_call_many('batchnode', 'lists', 'seq', $$SELECT '[1]'::jsonb$$);
SELECT * FROM erlang_call_many('batchnode', 'erlang', 'abs',
  $$SELECT a FROM (VALUES ('[-1]'::jsonb), ('[1, 2]')) v(a)$$);
SELECT * FROM erlang_call_many('batchnode', 'erlang', 'abs', $$SELECT 1$$);
SELECT * FROM erlang_call_many('batchnode', 'erlang', 'abs', $$SELECT '{"a":1}'::jsonb$$);
SELECT * FROM erlang_call_many('batchnode', 'erlang', 'abs', $$SELECT '[1]'::jsonb$$, max_in_flight => 0);
-- A per-item timeout is the item's error (PE001), not the statement's.
SELECT item, result IS NOT NULL AS ok, sqlstate FROM erlang_call_many('batchnode', 'Elixir.Plerl.Test', 'sleep',
  $$SELECT jsonb_build_array(ms) FROM unnest('{1, 2000, 1}'::int[]) ms$$, timeout_ms => 300);
-- Not without EXECUTE (plerl_caller) and USAGE.
CREATE ROLE batch_nobody;
SET ROLE batch_nobody;
SELECT * FROM erlang_call_many('batchnode', 'erlang', 'abs', $$SELECT '[1]'::jsonb$$);
RESET ROLE;
GRANT plerl_caller TO batch_nobody;
SET ROLE batch_nobody;
SELECT * FROM erlang_call_many('batchnode', 'erlang', 'abs', $$SELECT '[1]'::jsonb$$);
RESET ROLE;
DROP ROLE batch_nobody;

-- Lua: async handles, awaited together or one by one; the same error
-- objects as erlang.call.
DO $$
local h = {}
for i = 1, 5 do h[i] = erlang.async('batchnode', 'erlang', 'abs', -i) end
print(table.concat(erlang.await_all(h), ','))
local bad = erlang.async('batchnode', 'erlang', 'abs', 'x')
local ok, e = pcall(erlang.await, bad)
print(ok, e.sqlstate, e.class, tostring(e.reason))
local ok2, e2 = pcall(erlang.await, bad)
print(ok2, e2.sqlstate)
local hw = erlang.async_with({timeout = 1000, kill = true}, 'batchnode', 'erlang', 'abs', -9)
print(erlang.await(hw))
print(pcall(erlang.async_with, {tmeout = 1}, 'batchnode', 'erlang', 'abs', 1))
print(pcall(erlang.await, 42))
$$ LANGUAGE plerl;
-- call_many: an outcome per item, in order; multicall: one per server.
DO $$
local m = erlang.call_many('batchnode', 'erlang', 'abs', {{-1}, {'y'}, {-3}}, {max_in_flight = 2})
for i, o in ipairs(m) do print(i, o.ok, o.value, o.error and o.error.sqlstate) end
print(#erlang.call_many('batchnode', 'erlang', 'abs', {}))
print(pcall(erlang.call_many, 'batchnode', 'erlang', 'abs', {{1}, {1, 2}}))
local mc = erlang.multicall({'batchnode', 'batchnode2'}, 'erlang', 'abs', -7)
for i, o in ipairs(mc) do print(i, o.server, o.ok, o.value) end
local ok, r = pcall(erlang.multicall, {'batchnode', 'nosuch'}, 'erlang', 'abs', -7)
print(ok, r[1].ok, r[2].ok, r[2].error.sqlstate)
$$ LANGUAGE plerl;
-- A handle not awaited is cancelled when its call ends; awaiting it later fails.
CREATE FUNCTION batch_leak() RETURNS int LANGUAGE plerl AS $$
  _G.leaked = erlang.async('batchnode', 'erlang', 'abs', -1)
  return 1
$$;
SELECT batch_leak();
DO $$ print(pcall(erlang.await, _G.leaked)) $$ LANGUAGE plerl;
-- At most plerl.max_in_flight handles open.
SET plerl.max_in_flight = 3;
DO $$
for i = 1, 4 do erlang.async('batchnode', 'erlang', 'abs', i) end
$$ LANGUAGE plerl;
RESET plerl.max_in_flight;
DROP FUNCTION batch_leak();
DELETE FROM plerl.allow WHERE server IN ('batchnode', 'batchnode2');
DROP USER MAPPING FOR CURRENT_USER SERVER batchnode;
DROP USER MAPPING FOR CURRENT_USER SERVER batchnode2;
DROP SERVER batchnode;
DROP SERVER batchnode2;
