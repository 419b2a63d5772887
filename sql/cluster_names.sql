-- cluster_names: sends and casts to names that live in the cluster,
-- erlang.global(name) (global:whereis_name/1 on the member) and
-- erlang.pg(group [, scope]) (pg:get_members/2: one member, or all),
-- checked against plerl.allow like a registered name (module = the name,
-- function = '!'); PE003 when the name resolves to nobody. From SQL, the
-- options {"cluster": "global"} and {"cluster": "pg", ...} of erlang_send
-- and erlang_cast; from Lua, erlang.call(server, erlang.global(name), msg)
-- is GenServer.call to a :global name (OrderDesk registered as
-- plerl_i13_desk), checked as that send is, with a call's privilege.
-- The test registers plerl_echo (scripts/testnode.exs) on the shared test
-- node as the :global name plerl_i13_echo and twice in the :pg group
-- plerl_i13_echoes (scope pg, started if it is not), through a raw node
-- name (admin, no allow-list): fixed names, so repeated runs add no atoms.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\getenv node PLERL_TEST_NODE
\getenv cookie PLERL_TEST_COOKIE
\set VERBOSITY default

SET log_statement = 'none';
SELECT erlang_connect(:'node', :'cookie');
CREATE SERVER names_tn FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE USER MAPPING FOR CURRENT_USER SERVER names_tn OPTIONS (cookie :'cookie');
RESET log_statement;
INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES
  ('names_tn', NULL, 'plerl_i13_echo', '!', 1, NULL),
  ('names_tn', NULL, 'plerl_i13_echoes', '!', 1, NULL),
  ('names_tn', NULL, 'plerl_i13_nobody', '!', 1, NULL),
  ('names_tn', NULL, 'plerl_i13_empty', '!', 1, NULL),
  ('names_tn', NULL, 'plerl_i13_desk', '!', 1, '{orders,order_committed}'),
  ('names_tn', NULL, 'plerl_i13_desks', '!', 1, '{order_committed}');

CREATE FUNCTION setup(node text) RETURNS text LANGUAGE plerl AS $$
  local A = erlang.atom
  local echo = erlang.call(node, 'erlang', 'whereis', A('plerl_echo'))
  local r1 = erlang.call(node, 'global', 're_register_name', A('plerl_i13_echo'), echo)
  erlang.call(node, 'global', 'unregister_name', A('plerl_i13_nobody'))
  erlang.call(node, 'pg', 'start', A('pg'))  -- {ok, _} or {error, {already_started, _}}
  local function members(g) return #erlang.call(node, 'pg', 'get_members', A('pg'), A(g)) end
  while members('plerl_i13_echoes') < 2 do
    erlang.call(node, 'pg', 'join', A('pg'), A('plerl_i13_echoes'), echo)
  end
  while members('plerl_i13_echoes') > 2 do
    erlang.call(node, 'pg', 'leave', A('pg'), A('plerl_i13_echoes'), echo)
  end
  local desk = erlang.call(node, 'erlang', 'whereis', A('Elixir.OrderDesk'))
  erlang.call(node, 'global', 're_register_name', A('plerl_i13_desk'), desk)
  while members('plerl_i13_desks') < 2 do
    erlang.call(node, 'pg', 'join', A('pg'), A('plerl_i13_desks'), desk)
  end
  while members('plerl_i13_desks') > 2 do
    erlang.call(node, 'pg', 'leave', A('pg'), A('plerl_i13_desks'), desk)
  end
  while members('plerl_i13_empty') > 0 do
    erlang.call(node, 'pg', 'leave', A('pg'), A('plerl_i13_empty'), echo)
  end
  return tostring(r1) .. ' ' .. members('plerl_i13_echoes') .. ' ' .. members('plerl_i13_empty')
$$;
SELECT setup(:'node');

-- try(src): what the chunk returned, or SQLSTATE: message of its error.
CREATE FUNCTION try(src text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE r text;
BEGIN
  EXECUTE format('SELECT (%s)::text', src) INTO r;
  RETURN r;
EXCEPTION WHEN others THEN
  RETURN SQLSTATE || ': ' || regexp_replace(SQLERRM, '[a-z0-9_]+@[0-9.]+', '<node>', 'g');
END $$;
-- replies(): the messages plerl_echo sent back to this backend's mailbox,
-- in order, until none comes for 300 ms.
CREATE FUNCTION replies() RETURNS text LANGUAGE plerl AS $$
  local got = {}
  while true do
    local m = erlang.receive('names_tn', 300)
    if m == nil then break end
    got[#got + 1] = tostring(m)
  end
  return #got .. ': ' .. table.concat(got, ',')
$$;
-- send_to(kind, name, body, ...): erlang.send (or cast) to erlang.global(name)
-- (kind global), erlang.pg(name [, scope]) (kind pg) or the plain name,
-- of {self(), body}, with the options given.
CREATE FUNCTION send_to(kind text, name text, body text, scope text DEFAULT NULL,
  fn text DEFAULT 'send', "all" boolean DEFAULT NULL, on_commit boolean DEFAULT NULL,
  durable boolean DEFAULT NULL)
RETURNS text LANGUAGE plerl AS $$
  local d = name
  if kind == 'global' then d = erlang.global(name)
  elseif kind == 'pg' then d = erlang.pg(name, scope) end
  local o
  if all ~= nil or on_commit ~= nil or durable ~= nil then
    o = {all = all, on_commit = on_commit, durable = durable}
  end
  local me = erlang.self('names_tn')
  return tostring(erlang[fn]('names_tn', d, erlang.tuple(me, body), o))
$$;

-- A :global name: plerl_echo answers {Pid, Msg} with Msg to Pid.
SELECT send_to('global', 'plerl_i13_echo', 'via global');
SELECT replies();
-- A :pg group of two members: one of them, or (all = true) each.
SELECT send_to('pg', 'plerl_i13_echoes', 'one member');
SELECT replies();
SELECT send_to('pg', 'plerl_i13_echoes', 'every member', scope => 'pg', "all" => true);
SELECT replies();
-- Casts take the same path (wrapped as GenServer.cast does: plerl_echo
-- ignores what is not {Pid, Msg}, so nothing comes back).
SELECT send_to('global', 'plerl_i13_echo', 'cast', fn => 'cast');
SELECT send_to('pg', 'plerl_i13_echoes', 'cast', fn => 'cast', "all" => true);
SELECT replies();
-- At COMMIT: resolved when the message goes out.
BEGIN;
SELECT send_to('pg', 'plerl_i13_echoes', 'at commit', "all" => true, on_commit => true);
SELECT replies();
COMMIT;
SELECT replies();
-- ... and dropped with a rollback.
BEGIN;
SELECT send_to('global', 'plerl_i13_echo', 'rolled back', on_commit => true);
ROLLBACK;
SELECT replies();

-- Nobody there: PE003 (plerl_no_such_name), naming the name.
SELECT try($$send_to('global', 'plerl_i13_nobody', 'x')$$);
SELECT try($$send_to('pg', 'plerl_i13_empty', 'x')$$);
SELECT try($$send_to('pg', 'plerl_i13_empty', 'x', fn => 'cast', "all" => true)$$);
DO $$ BEGIN
  PERFORM send_to('global', 'plerl_i13_nobody', 'x');
EXCEPTION WHEN SQLSTATE 'PE003' THEN RAISE NOTICE 'caught %', SQLSTATE;
END $$;

-- The allow-list: the name needs its row (module = the name, function '!'),
-- checked before anything is sent; a scope other than pg is an atom the
-- row must list.
SELECT try($$send_to('global', 'plerl_i13_other', 'x')$$);
SELECT try($$send_to('pg', 'plerl_i13_other', 'x')$$);
SELECT try($$send_to('pg', 'plerl_i13_echoes', 'x', scope => 'plerl_i13_scope')$$);
SELECT replies();

-- Bad arguments: 22023.
SELECT try($$send_to('global', 'plerl_i13_echo', 'x', "all" => true)$$);
SELECT try($$send_to('name', 'plerl_i13_echo', 'x', "all" => true)$$);
SELECT try($$send_to('global', 'plerl_i13_echo', 'x', durable => true)$$);
SELECT try($$send_to('global', '', 'x')$$);
DO LANGUAGE plerl $$
  print(pcall(erlang.global, {}))
  print(pcall(erlang.pg, 'g', 42))
  -- An atom names it as well as a string.
  print(erlang.send('names_tn', erlang.global(erlang.atom('plerl_i13_echo')), 'ignored'))
  print(tostring(erlang.global('a')), tostring(erlang.pg('g')), tostring(erlang.pg('g', 's')))
$$;

-- From SQL: erlang_send and erlang_cast with the options of a name in the
-- cluster. OrderDesk records each {order_committed, Map} it gets, sent or
-- cast; committed() reads them.
SELECT erlang_call(:'node', 'Elixir.OrderDesk', 'reset', '[]');
SELECT erlang_send('names_tn', 'plerl_i13_desk',
  '{"$tuple": [{"$atom": "order_committed"}, {"id": 1}]}', '{"cluster": "global"}');
SELECT erlang_cast('names_tn', 'plerl_i13_desk',
  '{"$tuple": [{"$atom": "order_committed"}, {"id": 2}]}', '{"cluster": "global"}');
-- A :pg group whose one process joined twice: one member, then (all) each.
SELECT erlang_send('names_tn', 'plerl_i13_desks',
  '{"$tuple": [{"$atom": "order_committed"}, {"id": 3}]}', '{"cluster": "pg"}');
SELECT erlang_cast('names_tn', 'plerl_i13_desks',
  '{"$tuple": [{"$atom": "order_committed"}, {"id": 4}]}', '{"cluster": "pg", "scope": "pg", "all": true}');
-- Without cluster (or NULL options): a registered name, as before.
SELECT erlang_send('names_tn', 'plerl_i13_echo', '"plain name"', '{}');
SELECT erlang_send('names_tn', 'plerl_i13_echo', '"plain name"', NULL);
SELECT erlang_call(:'node', 'Elixir.OrderDesk', 'committed', '[]');
-- Nobody there: PE003; the allow-list and atoms as for Lua; bad options: 22023.
SELECT try($$erlang_send('names_tn', 'plerl_i13_nobody', '1', '{"cluster": "global"}')$$);
SELECT try($$erlang_cast('names_tn', 'plerl_i13_empty', '1', '{"cluster": "pg", "all": true}')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_other', '1', '{"cluster": "global"}')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_desks', '1', '{"cluster": "pg", "scope": "plerl_i13_scope"}')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_desk', '{"$atom": "plerl_i13_unlisted"}', '{"cluster": "global"}')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_desk', '1', '{"cluster": "local"}')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_desk', '1', '{"cluster": "global", "all": true}')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_desk', '1', '{"all": true}')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_desk', '1', '{"scope": 1, "cluster": "pg"}')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_desk', '1', '{"globl": true}')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_desk', '1', '[]')$$);
SELECT try($$erlang_send('names_tn', 'plerl_i13_desk', NULL, '{"cluster": "global"}')$$);
SELECT erlang_call(:'node', 'Elixir.OrderDesk', 'committed', '[]');

-- GenServer.call to a :global name from Lua: the reply, wherever the
-- process runs (asked of the member; OrderDesk's orders() answers a list).
DO LANGUAGE plerl $$
  local A = erlang.atom
  local r = erlang.call('names_tn', erlang.global('plerl_i13_desk'), A('orders'))
  print('call', type(r), #r)
  r = erlang.call_with({timeout = 2000, kill = true}, 'names_tn', erlang.global(A('plerl_i13_desk')), A('orders'))
  print('call_with kill', type(r), #r)
  local h = erlang.async('names_tn', erlang.global('plerl_i13_desk'), A('orders'))
  print('async', tostring(h), type(erlang.await(h)))
  h = erlang.async_with({timeout = 2000}, 'names_tn', erlang.global('plerl_i13_desk'), A('orders'))
  print('async_with', type(erlang.await(h)))
$$;
-- Errors (SQLSTATE: message): nobody registered is PE003; plerl_echo
-- ignores a call: the call timeout (PE001). Checked before anything is
-- sent: the name's row, the message's atoms; a :pg group, or other than
-- one message: 22023.
CREATE FUNCTION named_call_errors() RETURNS void LANGUAGE plerl AS $$
  local A, G = erlang.atom, erlang.global
  local function err(what, f, ...)
    local ok, e = pcall(f, ...)
    if ok then print(what, 'no error') return end
    local m = string.gsub(tostring(e.message or e), '[a-z0-9_]+@[0-9.]+', '<node>')
    print(what, e.sqlstate, m)
  end
  err('nobody', erlang.call, 'names_tn', G('plerl_i13_nobody'), 1)
  local ok, e = pcall(erlang.call_with, {timeout = 200}, 'names_tn', G('plerl_i13_echo'), 'hello')
  print('timeout', e.sqlstate)
  ok, e = pcall(erlang.await, erlang.async_with({timeout = 200}, 'names_tn', G('plerl_i13_echo'), 'hello'))
  print('async timeout', e.sqlstate)
  err('no row', erlang.call, 'names_tn', G('plerl_i13_other'), 1)
  err('atom', erlang.call, 'names_tn', G('plerl_i13_desk'), A('plerl_i13_unlisted'))
  err('pg', erlang.call, 'names_tn', erlang.pg('plerl_i13_desks'), 1)
  err('two', erlang.call, 'names_tn', G('plerl_i13_desk'), 1, 2)
  err('none', erlang.call, 'names_tn', G('plerl_i13_desk'))
  err('async no row', erlang.async, 'names_tn', G('plerl_i13_other'), 1)
$$;
SELECT named_call_errors();
-- A call to a name needs EXECUTE on erlang_call as any call does (a role
-- with USAGE on the server, not in plerl_caller).
CREATE FUNCTION desk_orders() RETURNS text LANGUAGE plerl AS $$
  return type(erlang.call('names_tn', erlang.global('plerl_i13_desk'), erlang.atom('orders')))
$$;
SELECT desk_orders();
CREATE ROLE plerl_i13_nocall;
GRANT USAGE ON FOREIGN SERVER names_tn TO plerl_i13_nocall;
SET ROLE plerl_i13_nocall;
SELECT try($$desk_orders()$$);
RESET ROLE;
REVOKE USAGE ON FOREIGN SERVER names_tn FROM plerl_i13_nocall;
DROP ROLE plerl_i13_nocall;
SELECT replies();

DROP FUNCTION named_call_errors(), desk_orders();
DROP FUNCTION setup(text), try(text), replies(), send_to(text, text, text, text, text, boolean, boolean, boolean);
DELETE FROM plerl.allow WHERE server = 'names_tn';
DROP USER MAPPING FOR CURRENT_USER SERVER names_tn;
DROP SERVER names_tn;
SELECT erlang_disconnect(:'node');
