-- srf: set-returning functions. The body runs as a coroutine: one row per
-- coroutine.yield; returning a table of rows also works. Rows are produced
-- on demand, so LIMIT stops the coroutine early and leaks nothing.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY default

-- SETOF a scalar type: yield one value per row (nil is a NULL row).
CREATE FUNCTION srf_count(n int) RETURNS SETOF int LANGUAGE plerl AS $$
  for i = 1, n do coroutine.yield(i) end
$$;
SELECT srf_count(3);
SELECT * FROM srf_count(3) AS g;
SELECT srf_count(0);
CREATE FUNCTION srf_words(s text) RETURNS SETOF text LANGUAGE plerl AS $$
  for w in string.gmatch(s, '%S+') do
    if w == '-' then coroutine.yield(nil) else coroutine.yield(w) end
  end
$$;
SELECT w, w IS NULL AS is_null FROM srf_words('a - b') AS w;

-- RETURNS TABLE: yield several values (by position) or one table (by
-- column name); a returned table of rows is emitted after the yields.
CREATE FUNCTION srf_pairs() RETURNS TABLE (k text, v int) LANGUAGE plerl AS $$
  coroutine.yield('one', 1)
  coroutine.yield({k = 'two', v = 2})
  coroutine.yield{v = 3}
  coroutine.yield('four')
  return {{k = 'five', v = 5}, {k = 'six'}}
$$;
SELECT * FROM srf_pairs();
-- Only a returned table.
CREATE FUNCTION srf_list() RETURNS SETOF text LANGUAGE plerl AS $$
  return {'x', 'y', 'z'}
$$;
SELECT srf_list();

-- SETOF a table's row type (dropped columns are skipped).
CREATE TABLE srf_row (id int, junk text, name text);
ALTER TABLE srf_row DROP COLUMN junk;
CREATE FUNCTION srf_rows() RETURNS SETOF srf_row LANGUAGE plerl AS $$
  coroutine.yield{id = 1, name = 'a'}
  coroutine.yield(2, 'b')
$$;
SELECT * FROM srf_rows();
SELECT (srf_rows()).name;

-- SETOF record takes its columns from the query.
CREATE FUNCTION srf_any() RETURNS SETOF record LANGUAGE plerl AS $$
  coroutine.yield(1, 'one')
  coroutine.yield{a = 2, b = 'two'}
$$;
SELECT * FROM srf_any() AS t(a int, b text);
SELECT * FROM srf_any();

-- Columns of any type: arrays (nested tables, null for NULL elements),
-- rows (tables by field name, or a string in row syntax), json, exact
-- numeric and bigint.
CREATE TYPE srf_pair AS (x int, y text);
CREATE FUNCTION srf_types() RETURNS TABLE (a int[], p srf_pair, j jsonb, n numeric, b bigint)
LANGUAGE plerl AS $$
  coroutine.yield({1, 2, 3}, {x = 1, y = 'one'}, {k = {1, 2}}, numeric('1.10'), int64('9223372036854775807'))
  coroutine.yield{a = {{1, null}, {3, 4}}, p = {x = 2}, j = {}, n = '3.14159265358979323846264338327950288', b = -1}
  coroutine.yield{p = '(3,three)'}
$$;
SELECT * FROM srf_types();
CREATE FUNCTION srf_arrays() RETURNS SETOF int[] LANGUAGE plerl AS $$
  coroutine.yield({1, 2})
  coroutine.yield({})
  coroutine.yield(nil)
$$;
SELECT srf_arrays();
CREATE FUNCTION srf_poly(x anyelement, n int) RETURNS SETOF anyelement LANGUAGE plerl AS $$
  for i = 1, n do coroutine.yield(x) end
$$;
SELECT srf_poly('abc'::text, 2), srf_poly(1.5, 2);

-- Rows are made on demand in the SELECT list: LIMIT stops the coroutine.
-- (In FROM, PostgreSQL itself reads a function's whole result first.)
CREATE FUNCTION srf_lazy() RETURNS SETOF int LANGUAGE plerl AS $$
  for i = 1, 5 do
    print('making row ' .. i)
    coroutine.yield(i)
  end
$$;
SELECT srf_lazy() LIMIT 2;
SELECT * FROM srf_lazy() LIMIT 2;

-- A million-row function stopped after 3 rows, 10,000 times: no coroutine
-- is left behind and the backend's memory stays flat.
CREATE FUNCTION srf_million() RETURNS SETOF int LANGUAGE plerl AS $$
  for i = 1, 1000000 do coroutine.yield(i) end
$$;
CREATE FUNCTION srf_rss_kb() RETURNS bigint LANGUAGE plerlu AS $$
  for line in io.lines('/proc/self/status') do
    local kb = line:match('^VmRSS:%s+(%d+)')
    if kb then return tonumber(kb) end
  end
$$;
CREATE FUNCTION srf_live() RETURNS int LANGUAGE plerlu AS $$
  return plerl.internal_stats().srfs
$$;
SELECT srf_million() LIMIT 3;
DO $$ BEGIN FOR i IN 1..1000 LOOP PERFORM s FROM (SELECT srf_million() s LIMIT 3) x; END LOOP; END $$;
CREATE TEMP TABLE srf_mem AS SELECT srf_rss_kb() AS before;
DO $$ BEGIN FOR i IN 1..10000 LOOP PERFORM s FROM (SELECT srf_million() s LIMIT 3) x; END LOOP; END $$;
SELECT srf_live() AS live, srf_rss_kb() - before < 20000 AS flat FROM srf_mem;

-- Called again per outer row (a rescan starts a new coroutine).
SELECT x, srf_count(x) FROM generate_series(1, 3) x;
SELECT x, y FROM generate_series(1, 3) x, LATERAL srf_count(x) y;

-- A cursor reads a few rows per FETCH; the coroutine waits in between.
BEGIN;
DECLARE srf_c CURSOR FOR SELECT srf_lazy();
FETCH 2 FROM srf_c;
FETCH 1 FROM srf_c;
CLOSE srf_c;
COMMIT;
SELECT srf_live() AS live;
-- A savepoint rolled back takes the coroutines of its queries along.
BEGIN;
SAVEPOINT s;
DECLARE srf_c2 CURSOR FOR SELECT srf_million();
FETCH 1 FROM srf_c2;
SELECT srf_live() AS live_in_savepoint;
ROLLBACK TO s;
SELECT srf_live() AS live_after_rollback_to;
COMMIT;
-- So does a failed query caught by pcall.
DO LANGUAGE plerl $$
  local ok, e = pcall(spi.execute, 'SELECT srf_million() / (srf_million() - 5) FROM generate_series(1, 2)')
  print(ok, e.sqlstate)
$$;
SELECT srf_live() AS live;

-- SQL inside: a cursor stays open across rows; nested set-returning
-- functions each run their own coroutine; user coroutines work inside.
CREATE FUNCTION srf_from_query(n int) RETURNS TABLE (g int, doubled int) LANGUAGE plerl AS $$
  for r in spi.rows('SELECT g FROM generate_series(1, $1) g', n) do
    coroutine.yield(r.g, spi.execute('SELECT sum(x) AS s FROM srf_count($1) x', r.g)[1].s)
  end
$$;
SELECT * FROM srf_from_query(4);
CREATE FUNCTION srf_gen() RETURNS SETOF text LANGUAGE plerl AS $$
  local gen = coroutine.wrap(function()
    coroutine.yield('a')
    coroutine.yield('b')
  end)
  coroutine.yield(gen())
  coroutine.yield(gen())
  local ok, v = pcall(function() return 'inside pcall' end)
  coroutine.yield(v)
$$;
SELECT srf_gen();

-- Errors: a failure mid-way, a yield inside pcall (its subtransaction
-- would stay open), a wrong result; nothing is left running after them.
CREATE FUNCTION srf_fail() RETURNS SETOF int LANGUAGE plerl AS $$
  coroutine.yield(1)
  error('failed after one row')
$$;
SELECT srf_fail();
CREATE FUNCTION srf_yield_in_pcall() RETURNS SETOF int LANGUAGE plerl AS $$
  local ok, err = pcall(function() coroutine.yield(1) end)
  coroutine.yield(ok and 0 or -1)
  error(err, 0)
$$;
SELECT srf_yield_in_pcall();
-- A plain value returned (no table, not nil) is one last row, as in pllua.
CREATE FUNCTION srf_plain_return() RETURNS SETOF int LANGUAGE plerl AS $$ coroutine.yield(41) return 42 $$;
SELECT srf_plain_return();
CREATE FUNCTION srf_plain_pair() RETURNS TABLE (k text, v int) LANGUAGE plerl AS $$ return 'only', 1 $$;
SELECT * FROM srf_plain_pair();
CREATE FUNCTION srf_bad_return() RETURNS SETOF int LANGUAGE plerl AS $$ return 'x' $$;
SELECT srf_bad_return();
CREATE FUNCTION srf_bad_type() RETURNS SETOF int LANGUAGE plerl AS $$ coroutine.yield('x') $$;
SELECT srf_bad_type();
SELECT * FROM srf_pairs() WHERE false;
CREATE FUNCTION srf_too_many() RETURNS TABLE (a int, b int) LANGUAGE plerl AS $$ coroutine.yield(1, 2, 3) $$;
SELECT * FROM srf_too_many();
SELECT srf_live() AS live;

DROP TABLE srf_row CASCADE;
DROP FUNCTION srf_types();
DROP TYPE srf_pair;
