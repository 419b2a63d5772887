-- scripts/walkthrough.sql: a short tour of plerl, run by scripts/demo.
--
-- Needs the dev cluster and the Elixir test node (scripts/testnode.exs):
-- the node name and cookie come from the environment (scripts/env.sh sets
-- PLERL_TEST_NODE and PLERL_TEST_COOKIE), so the cookie is on no command
-- line and in no log. Safe to run again: it drops what it creates and
-- resets the OrderDesk GenServer first.
--
--   psql --no-psqlrc --set=ON_ERROR_STOP=1 --file=scripts/walkthrough.sql
\set ON_ERROR_STOP on
\set QUIET on
\pset pager off
SET client_min_messages = warning;

\echo
\echo '== 1. The extension: two languages, plerl (trusted) and plerlu'
CREATE EXTENSION IF NOT EXISTS plerl;
SELECT lanname, lanpltrusted FROM pg_language WHERE lanname LIKE 'plerl%' ORDER BY 1;

\echo
\echo '== 2. A function in Lua'
CREATE OR REPLACE FUNCTION shout(msg text, times int DEFAULT 2) RETURNS text
LANGUAGE plerl AS $$
  return msg:upper() .. string.rep('!', times)
$$;
SELECT shout('hello'), shout('plerl', 3);

\echo
\echo '== 3. The Elixir node as a foreign server, the cookie in a user mapping'
\getenv node PLERL_TEST_NODE
\getenv cookie PLERL_TEST_COOKIE
\if :{?node}
\else
  DO $$ BEGIN RAISE 'PLERL_TEST_NODE is not set'
    USING HINT = 'Run scripts/demo, or source scripts/env.sh after scripts/setup-elixir.'; END $$;
\endif
\if :{?cookie}
\else
  DO $$ BEGIN RAISE 'PLERL_TEST_COOKIE is not set'
    USING HINT = 'Run scripts/demo, or source scripts/env.sh after scripts/setup-elixir.'; END $$;
\endif
DROP SERVER IF EXISTS testnode CASCADE;
CREATE SERVER testnode FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
-- Keep the cookie out of the server log.
SET log_statement = 'none';
CREATE USER MAPPING FOR CURRENT_USER SERVER testnode OPTIONS (cookie :'cookie');
RESET log_statement;
\unset cookie
-- Every call must match a row of the allow-list (casts: function '!', arity 1).
DELETE FROM plerl.allow WHERE server = 'testnode';
-- A cast carries the atom order_committed: atoms a request may carry are
-- listed too (a node never frees an atom).
INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES
  ('testnode', NULL, 'Elixir.Pricing',   'quote',     2, NULL),
  ('testnode', NULL, 'Elixir.OrderDesk', 'new_order', 1, NULL),
  ('testnode', NULL, 'Elixir.OrderDesk', 'orders',    0, NULL),
  ('testnode', NULL, 'Elixir.OrderDesk', 'committed', 0, NULL),
  ('testnode', NULL, 'Elixir.OrderDesk', 'reset',     0, NULL),
  ('testnode', NULL, 'Elixir.OrderDesk', '!',         1, '{order_committed}');
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname = 'testnode';

\echo
\echo '== 4. Elixir from plain SQL: Pricing.quote("widget", 3)'
SELECT erlang_call('testnode', 'Elixir.Pricing', 'quote', '["widget", 3]') AS quote;

\echo
\echo '== 5. A trigger that books every new order with the OrderDesk GenServer'
-- Start from an empty desk: order ids start again at 1.
SELECT erlang_call('testnode', 'Elixir.OrderDesk', 'reset', '[]') AS reset;
DROP TABLE IF EXISTS orders;
CREATE TABLE orders (
  id          serial PRIMARY KEY,
  sku         text NOT NULL,
  qty         int NOT NULL,
  order_id    int,   -- from OrderDesk
  eta_minutes int    -- from OrderDesk
);
CREATE OR REPLACE FUNCTION book_order() RETURNS trigger LANGUAGE plerl AS $$
  local new = trigger.new
  -- GenServer.call: the reply comes back as a Lua table.
  local reply = erlang.call('testnode', 'Elixir.OrderDesk', 'new_order',
                            {sku = new.sku, qty = new.qty})
  if reply.status ~= 'accepted' then
    error('OrderDesk rejected the order: ' .. tostring(reply.reason))
  end
  new.order_id = reply.order_id
  new.eta_minutes = reply.eta_minutes
  -- GenServer.cast, sent only if this transaction commits.
  erlang.cast('testnode', 'Elixir.OrderDesk',
              erlang.tuple(erlang.atom('order_committed'),
                           {order_id = reply.order_id, sku = new.sku}),
              {on_commit = true})
$$;
CREATE TRIGGER book_order BEFORE INSERT ON orders
  FOR EACH ROW EXECUTE FUNCTION book_order();

\echo
\echo '-- two orders, committed'
INSERT INTO orders (sku, qty) VALUES ('widget', 3), ('gadget', 1)
  RETURNING sku, qty, order_id, eta_minutes;
\echo '-- a third one, rolled back'
BEGIN;
INSERT INTO orders (sku, qty) VALUES ('gizmo', 5)
  RETURNING sku, qty, order_id, eta_minutes;
ROLLBACK;

\echo
\echo '== 6. The table: OrderDesk filled in order_id and eta_minutes'
SELECT * FROM orders ORDER BY id;

\echo
\echo '== 7. What OrderDesk saw: three new_order calls, but only the committed rows were cast'
SELECT o->>'sku' AS sku, o->'qty' AS qty
  FROM jsonb_array_elements(erlang_call('testnode', 'Elixir.OrderDesk', 'orders', '[]')) o;
SELECT c->'order_id' AS order_id, c->>'sku' AS sku
  FROM jsonb_array_elements(erlang_call('testnode', 'Elixir.OrderDesk', 'committed', '[]')) c;

\echo
\echo 'Done. Try: SELECT erlang_call(''testnode'', ''Elixir.Pricing'', ''quote'', ''["gizmo", 2]'');'
