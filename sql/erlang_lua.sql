-- erlang_lua: the Lua erlang module against the Elixir test node
-- (scripts/setup-elixir): calls, values both ways, Elixir, errors, self,
-- send and receive, sends deferred to COMMIT, term constructors.
CREATE EXTENSION IF NOT EXISTS plerl;
\getenv node PLERL_TEST_NODE
\getenv cookie PLERL_TEST_COOKIE
\set VERBOSITY default

SET log_statement = 'none';
CREATE SERVER lua_tn FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE USER MAPPING FOR CURRENT_USER SERVER lua_tn OPTIONS (cookie :'cookie');
RESET log_statement;
-- '*': these mapping tests round-trip any atom (docs/security.md).
INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES
  ('lua_tn', NULL, 'Elixir.Plerl.Test', NULL, NULL, '{*}'),
  ('lua_tn', NULL, 'Elixir.String', 'upcase', 1, NULL),
  ('lua_tn', NULL, 'Elixir.Enum', 'sum', 1, NULL),
  ('lua_tn', NULL, 'Elixir.Map', 'get', NULL, '{*}'),
  ('lua_tn', NULL, 'Elixir.OrderDesk', NULL, NULL, '{*}'),
  ('lua_tn', NULL, 'Elixir.OrderDesk', '!', 1, '{*}'),
  ('lua_tn', NULL, 'plerl_echo', '!', 1, '{*}'),
  ('lua_tn', NULL, 'erlang', 'is_float', 1, NULL),
  ('lua_tn', NULL, 'erlang', 'is_integer', 1, NULL),
  ('lua_tn', NULL, 'erlang', 'node', 0, NULL);

-- lua(src) runs a Lua chunk and describes what it returned, or the error
-- object it raised (the test node's name replaced by <node>):
-- [..] list, #{k => v} map (keys sorted), {..}t tuple, :name atom,
-- int64/bignum/float userdata by type, "..." strings as %q.
CREATE FUNCTION lua(src text) RETURNS text LANGUAGE plerl AS $$
  local node = tostring(erlang.call('lua_tn', 'erlang', 'node'))
  local function plain(s)
    local i, j = string.find(s, node, 1, true)
    while i do
      s = s:sub(1, i - 1) .. '<node>' .. s:sub(j + 1)
      i, j = string.find(s, node, i + 6, true)
    end
    return s
  end
  local show
  function show(v)
    if v == nil then return 'nil' end
    if v == erlang.null then return 'null' end
    local tt = erlang.term_type(v)
    if tt == 'atom' then return ':' .. tostring(v) end
    if tt == 'tuple' then
      local p = {}
      for i = 1, #v do p[i] = show(v[i]) end
      return '{' .. table.concat(p, ', ') .. '}t'
    end
    if tt == 'pid' then return 'pid' end
    if tt then return tt .. ' ' .. tostring(v) end
    if type(v) == 'string' then
      -- Lua's %q leaves bytes as they are: a binary string (with a NUL or
      -- 0xff, never in UTF-8 text) is shown with decimal escapes.
      local q = string.format('%q', v)
      if v:find('[%z\255]') then
        q = q:gsub('[\128-\255]', function(c) return '\\' .. c:byte() end)
      end
      return plain(q)
    end
    if type(v) == 'userdata' then return getmetatable(v) .. ' ' .. tostring(v) end
    if type(v) ~= 'table' then return tostring(v) end
    local n, keys = 0, {}
    for k in pairs(v) do n = n + 1; keys[n] = k end
    if n == #v then
      local p = {}
      for i = 1, n do p[i] = show(v[i]) end
      return '[' .. table.concat(p, ', ') .. ']'
    end
    local p = {}
    for i, k in ipairs(keys) do p[i] = show(k) .. ' => ' .. show(v[k]) end
    table.sort(p)
    return '#{' .. table.concat(p, ', ') .. '}'
  end
  local f = assert(loadstring(src, '=src'))
  local ok, r = pcall(f)
  if ok then return show(r) end
  if type(r) ~= 'table' then return 'error: ' .. plain(tostring(r)) end
  local s = 'error ' .. tostring(r.sqlstate)
  if r.class then
    s = s .. ' class=' .. r.class .. ' reason=' .. show(r.reason) .. ' stack=' .. type(r.stack)
  end
  return s .. ': ' .. plain(tostring(r.message))
$$;

-- Lua values to Erlang and back through Plerl.Test.echo/1.
SELECT src, lua('return erlang.call("lua_tn", "Elixir.Plerl.Test", "echo", ' || src || ')') AS back
FROM (VALUES
  ('42'), ('-7'), ('1.5'), ('0.1'), ('2^53 - 1'),
  ('int64("9007199254740993")'), ('int64.min'), ('int64.max'),
  ('erlang.int("123456789012345678901234567890")'), ('erlang.int("-9223372036854775808")'),
  ('"héllo wörld"'), ('""'), ('"a\0b\255"'),
  ('true'), ('false'), ('nil'), ('erlang.null'),
  ('{}'), ('{1, 2, {3, {}}}'), ('{1, erlang.null, 3}'),
  ('{a = 1, b = {c = "d"}}'), ('{a = erlang.null}'),
  ('{[2] = "two", [5] = "five"}'), ('{[1.5] = "x"}'),
  ('{[erlang.atom("k")] = 1}'),
  ('erlang.atom("ok")'), ('erlang.atom("Elixir.OrderDesk")'), ('erlang.atom("héllo wörld")'),
  ('erlang.tuple()'), ('erlang.tuple(1, "two", erlang.atom("three"))'), ('erlang.tuple(1, nil, 3)'),
  ('erlang.tuple(erlang.atom("ok"), {erlang.tuple("a", 1)})'),
  ('erlang.map{}'), ('erlang.map{1, 2}'), ('erlang.list{}'),
  ('erlang.charlist("héllo")'), ('erlang.float(1)'), ('2^60')
) AS v(src);

-- What the node sees: integral Lua numbers up to 2^53 are integers, other
-- numbers floats; erlang.float forces a float, int64 and erlang.int are integers.
SELECT src, lua('return erlang.call("lua_tn", "erlang", "is_float", ' || src || ')') AS is_float
FROM (VALUES ('1'), ('1.0'), ('2^53'), ('2^53 + 2'), ('1e300'), ('0.5'), ('erlang.float(1)'),
             ('int64("9007199254740993")'), ('erlang.int("1" .. string.rep("0", 30))')) AS v(src);

-- Atoms are interned: == works on results; tostring gives the name.
SELECT lua($$
  local a = erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', erlang.atom('ok'))
  return {a == erlang.atom('ok'), rawequal(a, erlang.atom('ok')), erlang.is_atom(a), erlang.is_atom(a, 'ok'),
          erlang.is_atom(a, 'error'), erlang.is_atom('ok'), tostring(a), 'x' .. a}
$$);
-- Tuples keep their type; nested nulls are erlang.null, a top-level one is nil.
SELECT lua($$
  local t = erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', erlang.tuple(1, nil, {nil_inside = erlang.null}))
  return {erlang.is_tuple(t), #t, t[2] == erlang.null, t[3].nil_inside == erlang.null,
          erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', erlang.null) == nil}
$$);
-- int64 and bignum results are exact and compare by value.
SELECT lua($$
  local big = erlang.call('lua_tn', 'Elixir.Plerl.Test', 'big')
  local i = erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', int64('9007199254740993'))
  return {big, big == erlang.int('1267650600228229401496703205376'), tostring(big),
          i == int64('9007199254740993'), i + 1}
$$);

-- Elixir: binaries are Strings, nil is nil, GenServers answer.
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.String', 'upcase', 'héllo wörld') $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Enum', 'sum', {1, 2, 3, 4.5}) $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Enum', 'sum', {}) $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Map', 'get', {a = 1}, 'b') $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Map', 'get', {a = 1}, 'b', 'default') $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Map', 'get', {a = 1}, 'a', nil) $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.OrderDesk', 'reset') $$);
SELECT lua($$
  local r = erlang.call('lua_tn', 'Elixir.OrderDesk', 'new_order', {sku = 'a', qty = 3, note = erlang.null})
  return {r.status, r.eta_minutes, erlang.term_type(r.order_id) == nil and r.order_id > 0}
$$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.OrderDesk', 'new_order', {sku = 'a', qty = 0}) $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.OrderDesk', 'orders')[1] $$);

-- Errors are objects: sqlstate, message, and for remote exceptions class,
-- reason (a Lua value) and stack. pcall catches them.
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Plerl.Test', 'raise_error') $$);
SELECT lua($$
  local ok, e = pcall(erlang.call, 'lua_tn', 'Elixir.Plerl.Test', 'raise_error')
  return {ok, e.sqlstate, e.class, e.reason.message, e.reason.__struct__, type(e.stack), #e.stack > 0,
          erlang.is_tuple(e.stack[1]), e.stack[1][1], e.stack[1][2]}
$$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Plerl.Test', 'do_exit') $$);
-- Through rex (erlang.call) a throw is the function's value, as with rpc:call;
-- erlang.call_with{kill = true} goes through erpc and tells it apart.
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Plerl.Test', 'do_throw') $$);
SELECT lua($$ return erlang.call_with({kill = true}, 'lua_tn', 'Elixir.Plerl.Test', 'do_throw') $$);
SELECT lua($$ return erlang.call_with({kill = true}, 'lua_tn', 'Elixir.Plerl.Test', 'do_exit') $$);
SELECT lua($$ return erlang.call_with({kill = true}, 'lua_tn', 'Elixir.Plerl.Test', 'echo', 'via erpc') $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Plerl.Test', 'no_such_function', 1) $$);
SELECT lua($$ return erlang.call_with({timeout = 100}, 'lua_tn', 'Elixir.Plerl.Test', 'sleep', 2000) $$);
SELECT lua($$ return erlang.call_with({timeout = 100, kill = true}, 'lua_tn', 'Elixir.Plerl.Test', 'sleep_tagged', 2000, 'plerl_t_lua_timeout') $$);
-- With kill = true the remote worker is killed when we give up (the exit
-- signal is asynchronous: look again for up to 2 s).
SELECT lua($$
  for i = 1, 100 do
    if not erlang.call('lua_tn', 'Elixir.Plerl.Test', 'whereis_tag', 'plerl_t_lua_timeout') then return 'worker gone' end
    erlang.receive('lua_tn', 20)
  end
  return 'worker still running'
$$);
SELECT lua($$ return erlang.call_with({timeout = -1}, 'lua_tn', 'Elixir.Plerl.Test', 'echo', 1) $$);
-- Options are checked: a typo must not quietly change what happens.
SELECT lua($$ return erlang.call_with({timout = 100}, 'lua_tn', 'Elixir.Plerl.Test', 'echo', 1) $$);
SELECT lua($$ return erlang.call_with({timeout = '100'}, 'lua_tn', 'Elixir.Plerl.Test', 'echo', 1) $$);
SELECT lua($$ return erlang.call_with({kill = 1}, 'lua_tn', 'Elixir.Plerl.Test', 'echo', 1) $$);
SELECT lua($$ return erlang.call_with({}, 'lua_tn', 'Elixir.Plerl.Test', 'echo', 'no options') $$);
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', 'x', {oncommit = true}) $$);
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', 'x', true) $$);
SELECT lua($$ return erlang.cast('lua_tn', 'Elixir.OrderDesk', 'x', {on_commit = 'yes'}) $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Pricing', 'quote', 'a', 2) $$);
SELECT lua($$ return erlang.call('no_such_server', 'erlang', 'node') $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', function() end) $$);
SELECT lua($$ local t = {}; t.self = t; return erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', t) $$);
-- Uncaught, a remote error ends the statement with its SQLSTATE.
DO LANGUAGE plerl $$ erlang.call('lua_tn', 'Elixir.Plerl.Test', 'do_exit') $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ erlang.call('lua_tn', 'Elixir.Plerl.Test', 'no_such_function') $$;
\echo :LAST_ERROR_SQLSTATE
-- A caught error leaves the transaction usable.
SELECT lua($$
  local ok1 = pcall(erlang.call, 'lua_tn', 'Elixir.Plerl.Test', 'raise_error')
  return {ok1, erlang.call('lua_tn', 'Elixir.String', 'upcase', 'after')}
$$);

-- erlang.self is this backend's pid on that node's connection; plerl_echo
-- sends {pid, msg}'s msg back; erlang.receive waits at most timeout_ms.
SELECT lua($$
  local me = erlang.self('lua_tn')
  return {erlang.term_type(me), me == erlang.self('lua_tn'),
          erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', me) == me}
$$);
SELECT lua($$ return erlang.receive('lua_tn', 100) $$);
SELECT lua($$ return erlang.receive('lua_tn', 0) $$);
SELECT lua($$
  local me = erlang.self('lua_tn')
  erlang.send('lua_tn', 'plerl_echo', erlang.tuple(me, {hello = 'world', n = erlang.int('123456789012345678901234567890')}))
  erlang.send('lua_tn', 'plerl_echo', erlang.tuple(me, 'ref', erlang.atom('second')))
  return {erlang.receive('lua_tn', 2000), erlang.receive('lua_tn', 2000), erlang.receive('lua_tn', 0)}
$$);
SELECT lua($$ return erlang.send('lua_tn', erlang.atom('plerl_echo'), 'dropped by plerl_echo') $$);
SELECT lua($$ return erlang.send('lua_tn', 42, 'x') $$);
SELECT lua($$ return erlang.receive('lua_tn', -1) $$);

-- Sends deferred to COMMIT: dropped on ROLLBACK, delivered after COMMIT.
BEGIN;
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', erlang.tuple(erlang.self('lua_tn'), 'rolled back'), {on_commit = true}) $$);
ROLLBACK;
SELECT lua($$ return erlang.receive('lua_tn', 300) $$);
BEGIN;
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', erlang.tuple(erlang.self('lua_tn'), 'committed'), {on_commit = true}) $$);
-- not before COMMIT
SELECT lua($$ return erlang.receive('lua_tn', 300) $$);
COMMIT;
SELECT lua($$ return {erlang.receive('lua_tn', 2000), erlang.receive('lua_tn', 100)} $$);
-- An immediate send is not transactional.
BEGIN;
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', erlang.tuple(erlang.self('lua_tn'), 'sent at once')) $$);
ROLLBACK;
SELECT lua($$ return erlang.receive('lua_tn', 2000) $$);
-- Subtransactions: a pcall that fails drops its own deferred sends, one
-- that succeeds keeps them; the outer transaction commits.
BEGIN;
SELECT lua($$
  local me = erlang.self('lua_tn')
  erlang.send('lua_tn', 'plerl_echo', erlang.tuple(me, 'outer'), {on_commit = true})
  local ok1 = pcall(function()
    erlang.send('lua_tn', 'plerl_echo', erlang.tuple(me, 'inner, failed pcall'), {on_commit = true})
    error('boom')
  end)
  local ok2 = pcall(function()
    erlang.send('lua_tn', 'plerl_echo', erlang.tuple(me, 'inner, good pcall'), {on_commit = true})
  end)
  return {ok1, ok2}
$$);
SAVEPOINT s1;
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', erlang.tuple(erlang.self('lua_tn'), 'savepoint rolled back'), {on_commit = true}) $$);
ROLLBACK TO SAVEPOINT s1;
SAVEPOINT s2;
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', erlang.tuple(erlang.self('lua_tn'), 'savepoint released'), {on_commit = true}) $$);
RELEASE SAVEPOINT s2;
COMMIT;
SELECT lua($$ return {erlang.receive('lua_tn', 2000), erlang.receive('lua_tn', 2000), erlang.receive('lua_tn', 2000), erlang.receive('lua_tn', 300)} $$);
-- A statement cancelled in a savepoint that is rolled back does not stop
-- the sends at COMMIT.
BEGIN;
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', erlang.tuple(erlang.self('lua_tn'), 'after a cancel'), {on_commit = true}) $$);
SAVEPOINT s3;
SET LOCAL statement_timeout = 100;
SELECT lua($$ return erlang.call_with({timeout = 0}, 'lua_tn', 'Elixir.Plerl.Test', 'sleep', 5000) $$);
ROLLBACK TO SAVEPOINT s3;
COMMIT;
SELECT lua($$ return erlang.receive('lua_tn', 2000) $$);
-- PREPARE TRANSACTION cannot carry sends waiting for COMMIT.
BEGIN;
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', erlang.tuple(erlang.self('lua_tn'), 'prepared'), {on_commit = true}) $$);
PREPARE TRANSACTION 'regress_lua_erl';
\echo :LAST_ERROR_SQLSTATE
SELECT lua($$ return erlang.receive('lua_tn', 300) $$);
-- Transaction control in a DO block: spi.commit sends, spi.rollback drops.
DO LANGUAGE plerl $$
  local me = erlang.self('lua_tn')
  erlang.send('lua_tn', 'plerl_echo', erlang.tuple(me, 'spi.commit'), {on_commit = true})
  spi.commit()
  assert(erlang.receive('lua_tn', 2000) == 'spi.commit')
  erlang.send('lua_tn', 'plerl_echo', erlang.tuple(me, 'spi.rollback'), {on_commit = true})
  spi.rollback()
  assert(erlang.receive('lua_tn', 300) == nil)
  erlang.send('lua_tn', 'plerl_echo', erlang.tuple(me, 'end of the DO block'), {on_commit = true})
$$;
SELECT lua($$ return {erlang.receive('lua_tn', 2000), erlang.receive('lua_tn', 0)} $$);
-- A GenServer cast at COMMIT: OrderDesk records {:order_committed, order}.
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.OrderDesk', 'reset') $$);
BEGIN;
SELECT lua($$ return erlang.cast('lua_tn', 'Elixir.OrderDesk', erlang.tuple(erlang.atom('order_committed'), {id = 'rolled back'}), {on_commit = true}) $$);
ROLLBACK;
BEGIN;
SELECT lua($$ return erlang.cast('lua_tn', 'Elixir.OrderDesk', erlang.tuple(erlang.atom('order_committed'), {id = 'committed'}), {on_commit = true}) $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.OrderDesk', 'committed') $$);
COMMIT;
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.OrderDesk', 'committed') $$);
-- From a trigger: Elixir hears only of rows that were committed.
CREATE TABLE lua_orders (id int);
CREATE FUNCTION lua_orders_notify() RETURNS trigger LANGUAGE plerl AS $$
  erlang.cast('lua_tn', 'Elixir.OrderDesk',
              erlang.tuple(erlang.atom('order_committed'), {id = trigger.new.id}),
              {on_commit = true})
$$;
CREATE TRIGGER lua_orders_notify AFTER INSERT ON lua_orders
  FOR EACH ROW EXECUTE FUNCTION lua_orders_notify();
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.OrderDesk', 'reset') $$);
BEGIN;
INSERT INTO lua_orders VALUES (1);
ROLLBACK;
INSERT INTO lua_orders VALUES (2);
BEGIN;
INSERT INTO lua_orders VALUES (3);
SAVEPOINT s4;
INSERT INTO lua_orders VALUES (4);
ROLLBACK TO SAVEPOINT s4;
INSERT INTO lua_orders VALUES (5), (6);
COMMIT;
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.OrderDesk', 'committed') $$);
DROP TABLE lua_orders;
DROP FUNCTION lua_orders_notify();
-- Checked when queued (a clear error at the call site) and again at COMMIT.
SELECT lua($$ return erlang.cast('lua_tn', 'Elixir.Pricing', 'x', {on_commit = true}) $$);
BEGIN;
SELECT lua($$ return erlang.send('lua_tn', 'plerl_echo', erlang.tuple(erlang.self('lua_tn'), 'revoked'), {on_commit = true}) $$);
DELETE FROM plerl.allow WHERE server = 'lua_tn' AND module = 'plerl_echo';
COMMIT;
\echo :LAST_ERROR_SQLSTATE
-- The failed COMMIT rolled back the DELETE too, and dropped the send.
SELECT count(*) FROM plerl.allow WHERE server = 'lua_tn' AND module = 'plerl_echo';
SELECT lua($$ return erlang.receive('lua_tn', 300) $$);

-- Term constructors.
SELECT src, lua('return ' || src) AS value
FROM (VALUES
  ('erlang.int(5)'), ('erlang.int("5")'), ('erlang.int(" -42 ")'),
  ('erlang.int("9007199254740993")'), ('erlang.int("-123456789012345678901234567890")'),
  ('erlang.int(int64.max)'), ('erlang.int(1.5)'), ('erlang.int(2^60)'), ('erlang.int("12x")'), ('erlang.int({})'),
  ('erlang.float(1)'), ('erlang.float(0.25)'), ('erlang.float("x")'),
  ('erlang.charlist("abc")'), ('erlang.charlist("")'),
  ('erlang.map{}'), ('erlang.map{a = 1}'), ('erlang.list{}'), ('erlang.list{1, 2}'), ('erlang.list{a = 1}'),
  ('erlang.tuple()'), ('erlang.tuple(1, nil)'),
  ('erlang.atom("ok")'), ('erlang.atom(string.rep("a", 256))'), ('erlang.atom("\255")'),
  ('erlang.binary("bytes")'),
  ('{erlang.is_tuple(erlang.tuple()), erlang.is_tuple({}), erlang.term_type(erlang.tuple()), erlang.term_type(1)}')
) AS v(src);
SELECT lua($$ return {erlang.term_type(erlang.int('123456789012345678901234567890')), erlang.term_type(erlang.float(1)),
                      erlang.term_type(erlang.charlist('a')), erlang.term_type(erlang.self('lua_tn')),
                      erlang.term_type(erlang.atom('a')), erlang.term_type(erlang.map{}), erlang.term_type('s')} $$);
-- plerl.max_atoms bounds the distinct atoms of one outgoing term.
SET plerl.max_atoms = 2;
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', {erlang.atom('a1'), erlang.atom('a2'), erlang.atom('a1'), true, nil}) $$);
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', {erlang.atom('a1'), erlang.atom('a2'), erlang.atom('a3')}) $$);
RESET plerl.max_atoms;
-- plerl.null_atom: what nil becomes there, and what becomes nil here.
SET plerl.null_atom = 'undefined';
SELECT lua($$ return {erlang.call('lua_tn', 'Elixir.Plerl.Test', 'echo', {erlang.null, erlang.atom('nil')})} $$);
RESET plerl.null_atom;

-- Ping, raw node names (admins, after erlang.connect), sessions.
SELECT lua($$ return erlang.ping('lua_tn') $$);
SELECT lua($$ return erlang.ping('no_such_server') $$);
SELECT lua('return erlang.call(' || quote_literal(:'node') || ', ''erlang'', ''node'')') AS before_connect;
CREATE FUNCTION lua_connect(node text, cookie text) RETURNS boolean LANGUAGE plerl AS $$
  return erlang.connect(node, cookie)
$$;
SELECT lua_connect(:'node', :'cookie');
SELECT lua('return {erlang.call(' || quote_literal(:'node') || ', ''Elixir.String'', ''upcase'', ''raw''), erlang.disconnect(' || quote_literal(:'node') || ')}') AS raw;
SELECT lua('return erlang.call(' || quote_literal(:'node') || ', ''erlang'', ''node'')') AS after_disconnect;
-- The server's session shared that connection; it reconnects by itself.
SELECT count(*) FROM erlang_connections();
SELECT lua($$ return erlang.call('lua_tn', 'Elixir.String', 'upcase', 'reconnected') $$);
SELECT node = :'node' AS node_ok, state, calls > 0 AS used FROM erlang_connections();

-- Without EXECUTE on erlang_call (plerl_caller), erlang.call is refused.
CREATE ROLE regress_lua_erl_nobody;
GRANT USAGE ON FOREIGN SERVER lua_tn TO regress_lua_erl_nobody;
SET ROLE regress_lua_erl_nobody;
DO LANGUAGE plerl $$ erlang.call('lua_tn', 'erlang', 'node') $$;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- The function is looked up in plerl's schema, not through search_path: a
-- look-alike erlang_call the role may execute does not count ...
CREATE SCHEMA regress_lua_erl_own AUTHORIZATION regress_lua_erl_nobody;
SET ROLE regress_lua_erl_nobody;
CREATE FUNCTION regress_lua_erl_own.erlang_call(text, text, text, jsonb) RETURNS jsonb
  LANGUAGE sql AS 'SELECT NULL::jsonb';
SET search_path = regress_lua_erl_own, public;
DO LANGUAGE plerl $$ erlang.call('lua_tn', 'erlang', 'node') $$;
\echo :LAST_ERROR_SQLSTATE
RESET search_path;
RESET ROLE;
DROP SCHEMA regress_lua_erl_own CASCADE;
-- ... and plerl's schema need not be in search_path.
SET search_path = pg_catalog;
DO LANGUAGE plerl $$ assert(erlang.call('lua_tn', 'Elixir.String', 'upcase', 'x') == 'X') $$;
RESET search_path;
REVOKE ALL ON FOREIGN SERVER lua_tn FROM regress_lua_erl_nobody;
DROP ROLE regress_lua_erl_nobody;

DROP FUNCTION lua(text);
DROP FUNCTION lua_connect(text, text);
DROP USER MAPPING FOR CURRENT_USER SERVER lua_tn;
DROP SERVER lua_tn;
DELETE FROM plerl.allow WHERE server = 'lua_tn';
