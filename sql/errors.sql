-- errors: print and the elog family, raising with a SQLSTATE, error
-- objects, and what Lua can never catch (query cancel, statement_timeout).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY default

-- print goes to INFO (values separated by tabs, through tostring).
DO LANGUAGE plerl $$ print('hello', 1, 2.5, true, nil, {1} ~= nil) $$;

-- elog.debug/log/info/notice/warning(msg [, {detail=, hint=}]).
SET client_min_messages = debug2;
DO LANGUAGE plerl $$ elog.debug('a debug message') $$;
RESET client_min_messages;
DO LANGUAGE plerl $$
  elog.debug('not shown at the default level')
  elog.log('to the server log only')
  elog.info('an info', {detail = 'info detail'})
  elog.notice('a notice', {detail = 'notice detail', hint = 'notice hint'})
  elog.warning('a warning', {hint = 'warning hint'})
$$;
SET client_min_messages = warning;
DO LANGUAGE plerl $$ elog.notice('filtered out'); elog.warning('still shown') $$;
RESET client_min_messages;

-- elog.error raises (default SQLSTATE P0001); error{} raises with fields.
DO LANGUAGE plerl $$ elog.error('plain elog.error') $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ elog.error('with fields', {sqlstate = '22023', detail = 'the detail', hint = 'the hint'}) $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ error{sqlstate = '23514', message = 'check failed', detail = 'd', hint = 'h'} $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ error('a string error') $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ error{message = 'no sqlstate given'} $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ elog.error('x', {sqlstate = 'bad'}) $$;

-- A caught SQL error is an object: sqlstate, message, detail, hint.
DO LANGUAGE plerl $$
  local ok, e = pcall(spi.execute, 'SELECT 1/0')
  print(type(e), e.sqlstate, e.message, tostring(e))
  -- Re-raising it keeps the SQLSTATE.
  error(e)
$$;
\echo :LAST_ERROR_SQLSTATE

-- Query cancel and statement_timeout are never caught by Lua: not by
-- pcall, not in coroutines, not around SQL.
-- (terse: where exactly the timeout lands varies, and with it the CONTEXT)
\set VERBOSITY terse
SET statement_timeout = '100ms';
DO LANGUAGE plerl $$ while true do pcall(function() end) end $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ while true do pcall(function() while true do end end) end $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ while true do pcall(spi.execute, 'SELECT pg_sleep(0.01)') end $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$
  while true do
    local co = coroutine.create(function() while true do end end)
    local ok, e = coroutine.resume(co)
  end
$$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$
  local gen = coroutine.wrap(function() while true do pcall(spi.execute, 'SELECT 1') coroutine.yield() end end)
  while true do pcall(gen) end
$$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$
  while true do
    pcall(coroutine.resume, coroutine.create(function() spi.execute('SELECT pg_sleep(1)') end))
  end
$$;
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION err_sleepy() RETURNS int LANGUAGE plerl AS $$
  while true do pcall(spi.execute, 'SELECT pg_sleep(0.01)') end
$$;
SELECT err_sleepy();
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
\set VERBOSITY default
-- The session is fine afterwards.
DO LANGUAGE plerl $$ print(spi.execute('SELECT 42 AS x')[1].x) $$;

-- A Go panic inside a built-in is ERROR XX000 and the backend lives on
-- (plerl.internal_panic exists only in the untrusted language).
CREATE FUNCTION err_panic(msg text) RETURNS int LANGUAGE plerlu AS $$ plerl.internal_panic(msg) $$;
SELECT err_panic('on purpose');
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerlu $$ print(pcall(plerl.internal_panic, 'caught')) $$;
DO LANGUAGE plerl $$ print(plerl) $$;
SELECT 1 AS still_alive;
