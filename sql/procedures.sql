-- procedures: spi.commit() and spi.rollback() in a non-atomic context (a
-- procedure called by CALL, a DO block, outside an explicit transaction
-- block); an error anywhere else.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY default

CREATE TABLE proc_t (i int);

CREATE PROCEDURE proc_commit(n int) LANGUAGE plerl AS $$
  for i = 1, n do
    spi.execute('INSERT INTO proc_t VALUES ($1)', i)
    if i % 2 == 0 then spi.commit() else spi.rollback() end
  end
$$;
CALL proc_commit(6);
SELECT * FROM proc_t ORDER BY i;

-- DO blocks outside a transaction block may commit too.
DO LANGUAGE plerl $$
  spi.execute('INSERT INTO proc_t VALUES (100)')
  spi.commit()
  spi.execute('INSERT INTO proc_t VALUES (101)')
  spi.rollback()
$$;
SELECT * FROM proc_t WHERE i >= 100;

-- What was committed stays when a later error aborts the rest.
CREATE PROCEDURE proc_fail() LANGUAGE plerl AS $$
  spi.execute('INSERT INTO proc_t VALUES (200)')
  spi.commit()
  spi.execute('INSERT INTO proc_t VALUES (201)')
  error('failed after a commit')
$$;
CALL proc_fail();
SELECT * FROM proc_t WHERE i >= 200;

-- spi.is_atomic() tells which context this is.
CREATE PROCEDURE proc_atomic() LANGUAGE plerl AS $$ print('atomic:', spi.is_atomic()) $$;
CALL proc_atomic();
BEGIN;
CALL proc_atomic();
DO LANGUAGE plerl $$ print('DO in a block, atomic:', spi.is_atomic()) $$;
COMMIT;
DO LANGUAGE plerl $$ print('DO, atomic:', spi.is_atomic()) $$;
CREATE FUNCTION proc_fn_atomic() RETURNS boolean LANGUAGE plerl AS $$ return spi.is_atomic() $$;
SELECT proc_fn_atomic();

-- Atomic contexts refuse: inside BEGIN, from a function, with SET clauses.
BEGIN;
CALL proc_commit(2);
ROLLBACK;
CREATE FUNCTION proc_from_function() RETURNS void LANGUAGE plerl AS $$
  spi.execute('CALL proc_commit(2)')
$$;
SELECT proc_from_function();
CREATE FUNCTION proc_fn_commit() RETURNS void LANGUAGE plerl AS $$ spi.commit() $$;
SELECT proc_fn_commit();
\echo :LAST_ERROR_SQLSTATE
CREATE PROCEDURE proc_with_set() LANGUAGE plerl SET work_mem = '4MB' AS $$ spi.commit() $$;
CALL proc_with_set();

-- Not inside a pcall either: its subtransaction is open. The error is
-- raised before anything happens, so pcall catches it.
DO LANGUAGE plerl $$
  local ok, e = pcall(spi.commit)
  print(ok, e.sqlstate, e.message)
  spi.commit()
  print('committed outside the pcall')
$$;

-- A CALL through SPI from a procedure stays non-atomic: the inner
-- procedure may commit.
CREATE PROCEDURE proc_outer() LANGUAGE plerl AS $$
  spi.execute('CALL proc_commit(2)')
  spi.execute('INSERT INTO proc_t VALUES (300)')
  spi.rollback()
  spi.execute('-- comment first\n CALL proc_commit($1)', 4)
$$;
TRUNCATE proc_t;
CALL proc_outer();
SELECT * FROM proc_t ORDER BY i;

-- ... AND CHAIN variants.
DO LANGUAGE plerl $$
  spi.execute('INSERT INTO proc_t VALUES (400)')
  spi.commit_and_chain()
  spi.execute('INSERT INTO proc_t VALUES (401)')
  spi.rollback_and_chain()
$$;
SELECT * FROM proc_t WHERE i >= 400;

-- A cursor does not survive a commit; plans do.
DO LANGUAGE plerl $$
  local plan = spi.prepare('SELECT count(*) AS n FROM proc_t')
  local c = spi.cursor('SELECT i FROM proc_t ORDER BY i')
  print('first', c:fetch(1)[1].i)
  spi.commit()
  print(pcall(c.fetch, c, 1))
  print('plan after commit', plan:execute()[1].n)
$$;

-- A plan prepared with {hold = true} makes cursors WITH HOLD: a loop over
-- its rows goes on across commits, and across rollbacks once a commit has
-- kept the cursor (a rollback of the transaction that opened it ends it).
CREATE PROCEDURE proc_hold() LANGUAGE plerl AS $$
  local plan = spi.prepare('SELECT g FROM generate_series(1, 4) g', nil, {hold = true, fetch_count = 1})
  local ins = spi.prepare('INSERT INTO proc_t VALUES ($1)', {'integer'})
  for r in plan:rows() do
    ins:execute(500 + r.g)
    print(r.g, (spi.execute('SELECT count(*) AS n FROM pg_cursors WHERE is_holdable')[1].n))
    if r.g % 2 == 1 then spi.commit() else spi.rollback() end
  end
  print('open cursors after the loop', (spi.execute('SELECT count(*) AS n FROM pg_cursors')[1].n))
$$;
CALL proc_hold();
SELECT * FROM proc_t WHERE i >= 500 ORDER BY i;
-- Without it the cursor ends with the transaction.
DO LANGUAGE plerl $$
  local plan = spi.prepare('SELECT g FROM generate_series(1, 4) g', nil, {fetch_count = 1})
  for r in plan:rows() do print(r.g) spi.commit() end
$$;
-- A loop sees the cursor closed at its next row, whatever rows it had
-- fetched ahead (fetch_count, 100 by default): 34000, for a commit and for
-- a rollback, for spi.rows, plan:rows and c:rows.
DO LANGUAGE plerl $$
  for r in spi.prepare('SELECT g FROM generate_series(1, 10) g'):rows() do print(r.g) spi.commit() end
$$;
\set VERBOSITY sqlstate
DO LANGUAGE plerl $$
  for r in spi.rows('SELECT g FROM generate_series(1, 10) g') do print(r.g) spi.rollback() end
$$;
\set VERBOSITY default
DO LANGUAGE plerl $$
  local c = spi.cursor('SELECT g FROM generate_series(1, 10) g')
  for r in c:rows() do print(r.g) spi.commit() end
$$;
-- Statements, subtransactions and other cursors in the body leave the
-- loop's cursor open: every row comes.
DO LANGUAGE plerl $$
  local n, sum = 0, 0
  for r in spi.rows('SELECT g FROM generate_series(1, 250) g') do
    n = n + 1
    sum = sum + spi.execute('SELECT $1::int AS x', r.g)[1].x
    if r.g % 50 == 0 then pcall(spi.execute, 'SELECT 1/0') end
    for s in spi.rows('SELECT 1 AS one') do sum = sum + s.one end
  end
  print(n, sum)
$$;
DROP PROCEDURE proc_hold();

DROP TABLE proc_t;

-- A cursor Lua opened is gone with its transaction (unless holdable): it
-- says so (34000) instead of reaching a later portal of the same name,
-- and closing or dropping it leaves that portal alone.
CREATE PROCEDURE cur_gen() LANGUAGE plerl AS $$
  local c = spi.newcursor('gencur'):open(spi.prepare('select 1 as x'))
  local h = spi.newcursor('holdcur'):open(spi.prepare('select 3 as x', nil, {hold = true}))
  print('open', c:isopen(), h:isopen())
  spi.commit()
  print('after commit', c:isopen(), h:isopen(), h:fetch(1)[1].x)
  spi.execute('DECLARE gencur CURSOR WITH HOLD FOR SELECT 2 AS x')
  print(pcall(c.fetch, c, 1))
  print(pcall(c.move, c, 1))
  c:close()
  print('the new gencur', spi.execute('FETCH 1 FROM gencur')[1].x)
  spi.execute('CLOSE gencur')
  h:close()
  print('holdcur closed', h:isopen(), #spi.execute([[SELECT 1 FROM pg_cursors WHERE name = 'holdcur']]))
$$;
CALL cur_gen();
DROP PROCEDURE cur_gen();
