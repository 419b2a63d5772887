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

DROP TABLE sx_t;
