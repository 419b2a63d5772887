-- outbox: the SQL side of the durable outbox (docs/outbox.md): what
-- enqueue checks, as whom, and that a message is a row of the enqueuing
-- (sub)transaction. Delivery needs a worker and a node: test/outbox/run.
-- The server here names a node that does not exist, so nothing is ever
-- delivered and the rows stay to be counted (a worker, if one runs for this
-- database, only marks them unreachable). This session starts no worker
-- (plerl.outbox_autostart): one would race the checks of last_error below,
-- and hold the database against pg_regress's DROP DATABASE.
SET plerl.outbox_autostart = off;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
DROP ROLE IF EXISTS plerl_ob_alice, plerl_ob_plain;
RESET client_min_messages;
\set VERBOSITY terse
CREATE ROLE plerl_ob_alice IN ROLE plerl_caller;
CREATE ROLE plerl_ob_plain;
CREATE SERVER ob_nowhere FOREIGN DATA WRAPPER plerl OPTIONS (node 'nobody_outbox@127.0.0.1');
CREATE USER MAPPING FOR plerl_ob_alice SERVER ob_nowhere OPTIONS (cookie 'not-a-real-cookie');
GRANT USAGE ON FOREIGN SERVER ob_nowhere TO plerl_ob_alice;
INSERT INTO plerl.allow (server, role, module, atoms)
  VALUES ('ob_nowhere', 'plerl_ob_alice', 'Elixir.OrderEvents', '{shipped}');
CREATE FUNCTION ob_count() RETURNS bigint LANGUAGE sql
  RETURN (SELECT count(*) FROM plerl.outbox WHERE server = 'ob_nowhere');

-- Default deny: a plain role may not enqueue, nor read the queue.
SET ROLE plerl_ob_plain;
SELECT plerl.enqueue('ob_nowhere', 'Elixir.OrderEvents', '{"order_id": 1}');
SELECT count(*) FROM plerl.outbox;
RESET ROLE;

SET ROLE plerl_ob_alice;
-- A committed enqueue is a row; its id comes back.
SELECT plerl.enqueue('ob_nowhere', 'Elixir.OrderEvents', '{"order_id": 42}') > 0 AS enqueued;
-- The caller cannot read the queue (it holds other roles' messages).
SELECT count(*) FROM plerl.outbox;
-- Rolled back: no row.
BEGIN;
SELECT plerl.enqueue('ob_nowhere', 'Elixir.OrderEvents', '{"order_id": 43}') > 0 AS enqueued;
ROLLBACK;
-- A rolled-back subtransaction takes its message with it; the rest stays.
BEGIN;
SAVEPOINT s;
SELECT plerl.enqueue('ob_nowhere', 'Elixir.OrderEvents', '{"order_id": 44}') > 0 AS enqueued;
ROLLBACK TO s;
SELECT plerl.enqueue('ob_nowhere', 'Elixir.OrderEvents', '{"order_id": 45}') > 0 AS enqueued;
COMMIT;
-- From Lua, in a trigger-like body: durable cast, and one in a failed pcall.
DO LANGUAGE plerl $$
  local id = erlang.cast('ob_nowhere', 'Elixir.OrderEvents', {order_id = 46}, {durable = true})
  assert(type(id) == 'number' and id > 0)
  local ok = pcall(function()
    erlang.send('ob_nowhere', 'Elixir.OrderEvents', {order_id = 47}, {durable = true})
    error('rolled back')
  end)
  assert(not ok)
$$;
-- Checked as the caller, now: allow-list, atoms, names, options.
SELECT plerl.enqueue('ob_nowhere', 'Elixir.Other', '{}');
SELECT plerl.enqueue('ob_nowhere', 'Elixir.OrderEvents', '{"$atom": "shipped"}') > 0 AS allowed_atom;
SELECT plerl.enqueue('ob_nowhere', 'Elixir.OrderEvents', '{"$atom": "unlisted"}');
SELECT plerl.enqueue('nobody@127.0.0.1', 'Elixir.OrderEvents', '{}');
SELECT plerl.enqueue('no_such_server', 'Elixir.OrderEvents', '{}');
DO LANGUAGE plerl $$ erlang.cast('ob_nowhere', 'Elixir.OrderEvents', 1, {durable = true, on_commit = true}) $$;
DO LANGUAGE plerl $$ erlang.cast('ob_nowhere', 'Elixir.OrderEvents', 1, {durabel = true}) $$;
RESET ROLE;

-- What is in the queue: 42, 45, 46 and the allowed atom; as alice, cast.
SELECT ob_count();
SELECT dest, op, role::regrole, attempts, dead FROM plerl.outbox
  WHERE server = 'ob_nowhere' ORDER BY id;
SELECT server, dest, pending >= 4 AS pending, dead FROM plerl.outbox_status WHERE server = 'ob_nowhere';

-- Dead letters: retry puts one back in its place, discard removes it.
UPDATE plerl.outbox SET dead = true, last_error = 'test'
  WHERE id = (SELECT min(id) FROM plerl.outbox WHERE server = 'ob_nowhere');
SELECT dest, attempts, last_error FROM plerl.outbox_dead WHERE server = 'ob_nowhere';
SELECT plerl.outbox_retry((SELECT min(id) FROM plerl.outbox WHERE server = 'ob_nowhere'));
SELECT count(*) FROM plerl.outbox_dead WHERE server = 'ob_nowhere';
UPDATE plerl.outbox SET dead = true WHERE server = 'ob_nowhere';
SELECT bool_and(plerl.outbox_discard(id)) FROM plerl.outbox WHERE server = 'ob_nowhere';
SELECT ob_count();
-- Retry and discard touch only dead letters.
SELECT plerl.outbox_discard(-1), plerl.outbox_retry(-1);

DROP FUNCTION ob_count();
DELETE FROM plerl.allow WHERE server = 'ob_nowhere';
DROP USER MAPPING FOR plerl_ob_alice SERVER ob_nowhere;
DROP SERVER ob_nowhere;
DROP ROLE plerl_ob_alice, plerl_ob_plain;
