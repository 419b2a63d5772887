-- cluster_names: sends and casts to names that live in the cluster,
-- erlang.global(name) (global:whereis_name/1 on the member) and
-- erlang.pg(group [, scope]) (pg:get_members/2: one member, or all),
-- checked against plerl.allow like a registered name (module = the name,
-- function = '!'); PE003 when the name resolves to nobody.
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
  ('names_tn', NULL, 'plerl_i13_empty', '!', 1, NULL);

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

DROP FUNCTION setup(text), try(text), replies(), send_to(text, text, text, text, text, boolean, boolean, boolean);
DELETE FROM plerl.allow WHERE server = 'names_tn';
DROP USER MAPPING FOR CURRENT_USER SERVER names_tn;
DROP SERVER names_tn;
SELECT erlang_disconnect(:'node');
