-- subxact: pcall and xpcall run their function in a subtransaction, so a
-- caught SQL error rolls back just that part and the transaction goes on.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY default

CREATE TABLE sx_t (id int PRIMARY KEY, note text);

-- A caught error undoes the work inside the pcall, keeps the work before.
DO LANGUAGE plerl $$
  spi.execute("INSERT INTO sx_t VALUES (1, 'before')")
  local ok, e = pcall(function()
    spi.execute("INSERT INTO sx_t VALUES (2, 'inside, rolled back')")
    spi.execute("INSERT INTO sx_t VALUES (1, 'duplicate')")
  end)
  print(ok, e.sqlstate, e.message)
  print('detail:', e.detail)
  print('tostring:', tostring(e))
  spi.execute("INSERT INTO sx_t VALUES (3, 'after')")
  local ok2, n = pcall(function()
    spi.execute("INSERT INTO sx_t VALUES (4, 'kept')")
    return 'done'
  end)
  print(ok2, n)
$$;
SELECT * FROM sx_t ORDER BY id;

-- The same in a function called from SQL, and in a loop: each iteration
-- is its own subtransaction.
CREATE FUNCTION sx_try_insert(i int) RETURNS text LANGUAGE plerl AS $$
  local ok, e = pcall(spi.execute, 'INSERT INTO sx_t VALUES ($1, $2)', i, 'try')
  if ok then return 'inserted ' .. i end
  return e.sqlstate .. ' ' .. e.message
$$;
SELECT sx_try_insert(5), sx_try_insert(5), sx_try_insert(6);
DO LANGUAGE plerl $$
  local ok_count, err_count = 0, 0
  for i = 1, 2000 do
    local ok = pcall(spi.execute, 'INSERT INTO sx_t VALUES ($1, $2)', i % 20, 'loop')
    if ok then ok_count = ok_count + 1 else err_count = err_count + 1 end
  end
  print('inserted', ok_count, 'failed', err_count)
$$;
SELECT count(*) FROM sx_t;

-- Nested pcalls: an inner failure caught inside leaves the outer one
-- intact; an outer failure undoes the inner work too.
DO LANGUAGE plerl $$
  pcall(function()
    spi.execute("INSERT INTO sx_t VALUES (100, 'outer')")
    local ok = pcall(function()
      spi.execute("INSERT INTO sx_t VALUES (101, 'inner')")
      error('inner fails')
    end)
    print('inner caught', ok)
    spi.execute("INSERT INTO sx_t VALUES (102, 'outer again')")
  end)
  pcall(function()
    pcall(function() spi.execute("INSERT INTO sx_t VALUES (200, 'inner ok')") end)
    spi.execute('SELECT 1/0')
  end)
$$;
SELECT * FROM sx_t WHERE id >= 100 ORDER BY id;

-- xpcall: the handler gets the error object.
DO LANGUAGE plerl $$
  local ok, msg = xpcall(function() spi.execute('SELECT no_such_column FROM sx_t') end,
                         function(e) return 'handled ' .. e.sqlstate end)
  print(ok, msg)
  print(xpcall(function(a, b) return a + b end, print, 1, 2))
$$;

-- Lua errors are caught the same way; error objects keep their fields.
DO LANGUAGE plerl $$
  local ok, e = pcall(error, {sqlstate = '22023', message = 'bad value', detail = 'd', hint = 'h'})
  print(ok, e.sqlstate, e.message, e.detail, e.hint)
  ok, e = pcall(error, 'plain string')
  print(ok, e)
  ok, e = pcall(function() local t = nil; return t.x end)
  print(ok, e)
$$;

-- A caught error inside a function called from SQL inside pcall.
CREATE FUNCTION sx_fails() RETURNS int LANGUAGE plerl AS $$
  spi.execute("INSERT INTO sx_t VALUES (300, 'from sx_fails')")
  error{sqlstate = 'P0001', message = 'sx_fails failed'}
$$;
DO LANGUAGE plerl $$
  local ok, e = pcall(spi.execute, 'SELECT sx_fails()')
  print(ok, e.sqlstate, e.message)
  print('row 300 present:', spi.execute('SELECT count(*) AS n FROM sx_t WHERE id = 300')[1].n)
$$;

-- Without pcall the error aborts the statement as usual; the session is fine.
DO LANGUAGE plerl $$ spi.execute("INSERT INTO sx_t VALUES (1, 'dup')") $$;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM sx_t;

-- PL/pgSQL catching a plerl error (and the other way round).
CREATE FUNCTION sx_plpgsql() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM sx_fails();
  RETURN 'not reached';
EXCEPTION WHEN raise_exception THEN
  RETURN 'plpgsql caught: ' || SQLERRM;
END $$;
SELECT sx_plpgsql();
CREATE FUNCTION sx_pg_raise() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = '22P02', MESSAGE = 'from plpgsql', DETAIL = 'some detail', HINT = 'some hint';
END $$;
DO LANGUAGE plerl $$
  local ok, e = pcall(spi.execute, 'SELECT sx_pg_raise()')
  print(ok, e.sqlstate, e.message, e.detail, e.hint)
$$;

-- lpcall catches Lua's errors only, without a subtransaction: an SQL error
-- (a failed statement, spi.error, a caught error raised again) goes on to
-- the caller, and a pcall around it rolls back as usual.
DO LANGUAGE plerl $$
  print(lpcall(function(a, b) return a + b end, 1, 2))
  print(lpcall(function() error('lua error') end))
  local ok, e = lpcall(function() error({code = 1}) end)
  print(ok, type(e), e.code)
  print(lpcall(function() local t = nil; return t.x end))
  ok, e = pcall(function()
    spi.execute("INSERT INTO sx_t VALUES (400, 'in lpcall')")
    print('lpcall returned', lpcall(spi.execute, "INSERT INTO sx_t VALUES (1, 'dup')"))
  end)
  print(ok, e.sqlstate, e.message)
  print('row 400 present:', spi.execute('SELECT count(*) AS n FROM sx_t WHERE id = 400')[1].n)
  ok, e = pcall(lpcall, spi.error, '22012', 'from spi.error')
  print(ok, e.sqlstate, e.message)
  local c = coroutine.wrap(function() print(lpcall(coroutine.yield, 1)) return 'done' end)
  print(pcall(c))
$$;
DO LANGUAGE plerl $$ print(lpcall(function() spi.error('not caught by lpcall') end)) $$;
\echo :LAST_ERROR_SQLSTATE

-- xpcall's handler: a Lua error in it is "error in error handling"; an SQL
-- error in it goes on to the caller of xpcall (here the outer pcall, which
-- rolls back), and nothing after the xpcall runs.
DO LANGUAGE plerl $$
  print(xpcall(function() error('foo') end, function(e) return 'handled: ' .. e end))
  print(xpcall(function() error('foo') end, function(e) error('bar') end))
  print(xpcall(function() error('foo') end, function(e) local t = nil; return t.x end))
  print('outer', pcall(function()
    spi.execute("INSERT INTO sx_t VALUES (401, 'before xpcall')")
    print('inner', xpcall(function() error('foo') end,
                          function(e) print('handler', e) spi.error('22012', 'in handler') end))
    print('not reached')
  end))
  print('row 401 present:', spi.execute('SELECT count(*) AS n FROM sx_t WHERE id = 401')[1].n)
  print(xpcall(function() error('foo') end, function(e)
    return select(2, xpcall(function() error('nested') end, function(e2) return 'inner handler: ' .. e2 end))
  end))
$$;

-- A coroutine does not catch SQL errors (it has no subtransaction to roll
-- back): they go on to resume's caller, as in pllua; Lua's errors are
-- resume's false, message.
DO LANGUAGE plerl $$
  local co = coroutine.create(function() coroutine.yield(1) error('lua error') end)
  print(coroutine.resume(co))
  print(coroutine.resume(co))
  co = coroutine.create(function()
    spi.execute("INSERT INTO sx_t VALUES (402, 'in coroutine')")
    coroutine.yield()
    spi.execute("INSERT INTO sx_t VALUES (1, 'dup')")
    print('not reached')
  end)
  print(pcall(function()
    print('first resume', coroutine.resume(co))
    print('second resume', coroutine.resume(co))
    print('not reached either')
  end))
  print(coroutine.status(co), 'row 402 present:', spi.execute('SELECT count(*) AS n FROM sx_t WHERE id = 402')[1].n)
  local ok, e = pcall(coroutine.resume, coroutine.create(function() spi.error('22012', 'spi.error in coroutine') end))
  print(ok, e.sqlstate, e.message)
  ok, e = coroutine.resume(coroutine.create(function() error({sqlstate = '22012', message = 'plain table'}) end))
  print(ok, e.message)
$$;
DO LANGUAGE plerl $$ print(coroutine.resume(coroutine.create(function() spi.error('not caught by resume') end))) $$;

-- pllua's error module and fields: severity, errcode and category (the
-- condition names of the SQLSTATE and of its class).
DO LANGUAGE plerl $$
  local err = require 'plerl.error'
  local ok, e = pcall(function() spi.error('22003', 'out', 'the detail', 'the hint') end)
  print(err.type(e), err.category(e), err.errcode(e))
  print(e.severity, e.category, e.errcode, e.sqlstate, e.message, e.detail, e.hint)
  ok, e = pcall(spi.execute, 'SELECT 1/0')
  print(e.errcode, e.category, e.sqlstate)
  ok, e = pcall(error, 'lua')
  print(err.type(e), err.category(e), err.errcode(e), e)
  print(err.type({sqlstate = '22003'}), err.errcode({sqlstate = '22003'}))
  ok, e = pcall(error, {sqlstate = 'ZZ999', message = 'own code'})
  print(e.sqlstate, e.errcode)
  ok, e = pcall(elog.error, 'x', {sqlstate = 'ZZ999'})
  print(e.sqlstate, e.errcode, e.category, err.type(e))
  local n = 0
  for k in pairs(select(2, pcall(spi.error, 'x'))) do n = n + 1 end
  print('raw fields', n)
  print(err.pcall == pcall, err.lpcall == lpcall)
$$;

DROP TABLE sx_t;
-- pcall, lpcall and an xpcall handler reached with the Lua call stack
-- full: "stack overflow", caught by the pcall out, never an internal error
-- (a recursion of handlers used to run on, deaf to cancel).
DO LANGUAGE plerl $$
  local n = 0
  local function h() n = n + 1 return pcall(h) end
  local ok, e = pcall(h)
  print(ok, n > 50)
  n = 0
  local function l() n = n + 1 return lpcall(l) end
  print(pcall(l), n > 50)
  n = 0
  local function x(e) n = n + 1 if n > 300 then return 'stop' end return xpcall(function() error(e, 0) end, x) end
  print(xpcall(function() error('a', 0) end, x))
$$;

-- A caught error leaves the caller's locals shared with its closures
-- (gopher-lua closed every open upvalue of the thread, so inc() changed a
-- copy of n and this said 0 false).
DO LANGUAGE plerl $$
  local n = 0
  local function inc() n = n + 1 end
  pcall(error, 'x')
  inc()
  local ok = pcall(function() spi.execute('SELECT 1/0') end)
  inc()
  print(n, ok)
$$;

-- A nested plerl call that fails, its error caught by SQL, leaves the
-- calling function's locals shared with its closures (the nested call
-- runs on the same Lua thread; its error closed them all, and this said 1).
CREATE FUNCTION subxact_nested_fails() RETURNS int LANGUAGE plerl AS $$ error('nested fails') $$;
DO LANGUAGE plerl $$
  local n = 0
  local function inc() n = n + 1 end
  inc()
  spi.execute([[DO $d$ BEGIN PERFORM subxact_nested_fails(); EXCEPTION WHEN others THEN RAISE NOTICE 'caught: %', SQLERRM; END $d$]])
  inc()
  print(n)
$$;
DROP FUNCTION subxact_nested_fails();
