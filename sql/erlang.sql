-- erlang: the SQL functions against the Elixir test node (scripts/setup-elixir).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\getenv node PLERL_TEST_NODE
\getenv cookie PLERL_TEST_COOKIE
\set VERBOSITY default

-- A node is a foreign server; the cookie lives in the user mapping.
SET log_statement = 'none';
CREATE SERVER testnode FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE USER MAPPING FOR CURRENT_USER SERVER testnode OPTIONS (cookie :'cookie');
RESET log_statement;
-- Atoms: echo round-trips any term ('*': any atom, for this mapping test
-- only); the casts to OrderDesk carry one atom (docs/security.md).
INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES
  ('testnode', NULL, 'Elixir.Plerl.Test', NULL, NULL, '{*}'),
  ('testnode', NULL, 'Elixir.String', 'upcase', 1, NULL),
  ('testnode', NULL, 'Elixir.Enum', 'sum', 1, NULL),
  ('testnode', NULL, 'Elixir.Pricing', NULL, NULL, NULL),
  ('testnode', NULL, 'Elixir.OrderDesk', NULL, NULL, NULL),
  ('testnode', NULL, 'OrderDesk', '!', 1, NULL),
  ('testnode', NULL, 'Elixir.OrderDesk', '!', 1, '{order_committed}'),
  ('testnode', NULL, 'erlang', 'node', 0, NULL),
  ('testnode', NULL, 'lists', 'seq', 2, NULL);

-- Elixir works naturally: binaries, nil, maps with string keys.
SELECT erlang_call('testnode', 'Elixir.String', 'upcase', '["hello, wörld"]');
SELECT erlang_call('testnode', 'Elixir.Enum', 'sum', '[[1, 2, 3, 4]]');
SELECT erlang_call('testnode', 'Elixir.Pricing', 'quote', '["a", 2]');
SELECT erlang_call('testnode', 'lists', 'seq', '[1, 10]');
SELECT erlang_call('testnode', 'erlang', 'node', '[]') = jsonb_build_object('$atom', :'node') AS node_is_atom;

-- The mapping round-trips exactly (docs/mapping.md).
SELECT a AS sent, erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', jsonb_build_array(a)) AS back,
       erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', jsonb_build_array(a)) = a AS same
FROM (VALUES
  ('1'::jsonb), ('-1'), ('0'), ('9007199254740993'), ('-9223372036854775808'),
  ('123456789012345678901234567890123456789012345678901234567890'),
  ('1.5'), ('1.0'), ('-0.0'), ('1e300'),
  ('true'), ('false'), ('null'), ('""'), ('"ünïcødé"'),
  ('[]'), ('{}'), ('[1, [2, [3, []]]]'), ('{"a": {"b": [1, {"c": null}]}}'),
  ('{"$atom": "ok"}'), ('{"$tuple": [1, "two", {"$atom": "three"}]}'), ('{"$tuple": []}'),
  ('{"$binary_base64": "/wA="}'),
  ('{"$improper": [[1, 2], 3]}'), ('{"$map": [[1, "one"], [{"$atom": "k"}, "v"]]}')
) AS v(a);
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'big', '[]');

-- Errors map to SQLSTATEs (docs/sql-api.md).
\set VERBOSITY terse
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'raise_error', '[]');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'do_exit', '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'do_throw', '[]');
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'no_such_function', '[]');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'sleep', '[2000]', 100);
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', '{"not": "an array"}');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', '[{"$nosuchtag": 1}]');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', '[{"$atom": 5}]');
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT erlang_call('nosuchserver', 'erlang', 'node', '[]');
\echo :LAST_ERROR_SQLSTATE

-- Waiting never blocks cancel: statement_timeout ends the call with 57014,
-- and the session goes on.
SET statement_timeout = '200ms';
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'sleep', '[60000]', 0);
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', '["still here"]');

-- Sends and casts to registered names.
SELECT erlang_call('testnode', 'Elixir.OrderDesk', 'reset', '[]');
SELECT erlang_cast('testnode', 'Elixir.OrderDesk', '{"$tuple": [{"$atom": "order_committed"}, {"id": 1}]}');
SELECT erlang_send('testnode', 'Elixir.OrderDesk', '{"$tuple": [{"$atom": "order_committed"}, {"id": 2}]}');
SELECT pg_sleep(0.1);
SELECT erlang_call('testnode', 'Elixir.OrderDesk', 'committed', '[]');

SELECT erlang_ping('testnode');
SELECT node = :'node' AS node_ok, state, calls > 0 AS used,
       since BETWEEN now() - interval '1 hour' AND clock_timestamp() AS since_ok FROM erlang_connections();
SELECT erlang_disconnect('testnode') AS had_one, erlang_disconnect('testnode') AS had_another;
-- The next call reconnects by itself.
SELECT erlang_call('testnode', 'Elixir.String', 'upcase', '["again"]');

-- null maps to nil by default (Elixir); plerl.null_atom switches it.
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', '[null]');
SET plerl.null_atom = 'undefined';
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', '[null]');
SELECT erlang_call('testnode', 'Elixir.Plerl.Test', 'echo', '[{"$atom": "nil"}]');
RESET plerl.null_atom;

DROP USER MAPPING FOR CURRENT_USER SERVER testnode;
DROP SERVER testnode;
DELETE FROM plerl.allow WHERE server = 'testnode';
