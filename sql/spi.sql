-- spi: SQL from Lua: rows and counts, parameters bound by type, prepared
-- plans kept across calls, cursors and row iterators, read-only snapshots.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY default

CREATE TABLE spi_t (id int PRIMARY KEY, name text, score float8, born date);

-- Rows are tables by column name (NULL columns are nil); rows.n counts
-- the rows a statement returned or changed.
DO LANGUAGE plerl $$
  local r = spi.execute("INSERT INTO spi_t VALUES (1, 'one', 1.5, '2020-01-31'), (2, 'two', NULL, NULL)")
  print('insert', r.n, #r)
  r = spi.execute('SELECT * FROM spi_t ORDER BY id')
  print('select', r.n, #r)
  for _, row in ipairs(r) do print(row.id, row.name, row.score, row.born) end
  r = spi.execute('UPDATE spi_t SET score = score * 2 WHERE id = $1 RETURNING id, score', 1)
  print('update returning', r.n, r[1].id, r[1].score)
  r = spi.execute('UPDATE spi_t SET name = upper(name)')
  print('update', r.n, #r)
  r = spi.execute('CREATE TEMP TABLE spi_tmp (a int); INSERT INTO spi_tmp VALUES (1), (2), (3)')
  print('two statements', r.n)
  r = spi.execute_count('SELECT a FROM spi_tmp ORDER BY a', 2)
  print('execute_count', r.n, #r, r[1].a, r[2].a)
  r = spi.execute('SELECT 1 AS a, NULL::text AS b, pg_sleep(0) AS v')
  print('null and void', r[1].a, r[1].b, r[1].v)
$$;

-- Parameters are bound, never spliced into the text; their types come from
-- the query (as for an extended-protocol Parse without types).
DO LANGUAGE plerl $$
  local evil = "'); DROP TABLE spi_t; --"
  print(spi.execute('SELECT $1::text AS t', evil)[1].t)
  print(spi.execute('SELECT count(*) AS n FROM spi_t WHERE name = $1', evil)[1].n)
  local r = spi.execute('SELECT $1 + 1 AS x, $2 AS y, $3 || $4 AS z', 41, 'y', 'a', 7)
  print(r[1].x, type(r[1].x), r[1].y, type(r[1].y), r[1].z)
  r = spi.execute('SELECT $1::int IS NULL AS isnull, $2 AS d', nil, '2024-02-29')
  print(r[1].isnull, r[1].d)
  r = spi.execute('SELECT id FROM spi_t WHERE born = $1', '2020-01-31')
  print('date param', r[1].id)
  r = spi.execute('SELECT name FROM spi_t WHERE id = ANY($1::int[]) ORDER BY id', '{1,2}')
  print('array param as text', r.n)
$$;

-- Parameters and columns of any type: arrays, rows, json, exact numbers.
CREATE TYPE spi_pair AS (x int, y text);
DO LANGUAGE plerl $$
  local r = spi.execute('SELECT $1::int[] AS a, $2::spi_pair AS p, $3::jsonb AS j, $4::numeric AS n, $5::bigint AS b',
                        {1, 2, null, 4}, {x = 5, y = 'five'}, {k = {1, 'two'}}, numeric('0.1'), int64('-9223372036854775808'))
  local row = r[1]
  print(#row.a, row.a[3] == null, row.p.x, row.p.y, row.j.k[2], row.n + numeric('0.2'), row.b)
  r = spi.execute("SELECT ARRAY[[1,2],[3,4]] AS m, ROW(1, 'anon') AS anon, '{\"a\": null}'::json AS js")
  print(r[1].m[2][1], r[1].anon.f2, r[1].js.a == null)
$$;
DROP TYPE spi_pair;

-- Binding errors name the parameter; a parameter with no type anywhere is
-- an error with a hint.
DO LANGUAGE plerl $$ spi.execute('SELECT $1 + 1', 'abc') $$;
DO LANGUAGE plerl $$ spi.execute('SELECT $1::int', 1, 2) $$;
DO LANGUAGE plerl $$ spi.execute('SELECT pg_typeof($1)', 1) $$;
DO LANGUAGE plerl $$ spi.execute('SELECT $1 + $2', 1) $$;
DO LANGUAGE plerl $$ spi.execute('COMMIT') $$;
DO LANGUAGE plerl $$ spi.execute(42) $$;

-- spi.prepare: explicit types for the first parameters, the rest inferred.
DO LANGUAGE plerl $$
  local p = spi.prepare('SELECT pg_typeof($1)::text AS t1, $2 + 1 AS t2', {'numeric'})
  print(p:numargs(), p:argtype(1), p:argtype(2))
  local r = p:execute('1.50', 2)
  print(r[1].t1, r[1].t2)
  print(p:execute_count(1, 3, 4).n)
  p:free()
  print(pcall(p.execute, p, 1, 2))
  p = spi.prepare('SELECT $1::varchar(3) AS v', {'text'})
  print(p:execute('abcdef')[1].v)
$$;
-- A parameter the query never mentions ($2 here) has no type: argtype is
-- nil, and any value given for it is bound as NULL, unread; with a type
-- given, the value must be of that type.
DO LANGUAGE plerl $$
  local p = spi.prepare('SELECT g FROM generate_series($1::integer, $3) g')
  print(p:numargs(), p:argtype(1), p:argtype(2), p:argtype(3))
  local r = p:execute(1, {'not', 'used'}, 3)
  print(#r, r[3].g)
  local n = 0
  for row in p:rows(2, nil, 4) do n = n + row.g end
  print(n, #p:cursor(1, true, 2):fetch(10))
  print(spi.execute('SELECT $1::int + $3::int AS s', 1, 'anything', 2)[1].s)
  p = spi.prepare('SELECT $2::int AS x', {'integer'})
  print(p:argtype(1), pcall(p.execute, p, 'z', 3))
$$;
DO LANGUAGE plerl $$ spi.prepare('SELECT 1', {'no_such_type'}) $$;
DO LANGUAGE plerl $$ spi.prepare('SELEC 1') $$;

-- A plan kept in the function's own environment survives across calls:
-- the first call prepares it, later calls reuse it.
CREATE FUNCTION spi_name(i int) RETURNS text LANGUAGE plerl AS $$
  if not plan then
    print('preparing')
    plan = spi.prepare('SELECT name FROM spi_t WHERE id = $1')
  end
  local r = plan:execute(i)
  return r[1] and r[1].name
$$;
SELECT spi_name(1), spi_name(2), spi_name(3);
SELECT spi_name(2);
-- CREATE OR REPLACE starts afresh.
CREATE OR REPLACE FUNCTION spi_name(i int) RETURNS text LANGUAGE plerl AS $$
  plan = plan or spi.prepare('SELECT lower(name) AS name FROM spi_t WHERE id = $1')
  return plan:execute(i)[1].name
$$;
SELECT spi_name(1);

-- Row iterators read through a cursor in batches: 100k rows never sit in
-- memory at once.
CREATE FUNCTION spi_sum(n int) RETURNS bigint LANGUAGE plerl AS $$
  local sum, count = 0, 0
  for r in spi.rows('SELECT g FROM generate_series(1, $1) g', n) do
    sum = sum + r.g
    count = count + 1
  end
  assert(count == n)
  return sum
$$;
SELECT spi_sum(100000);
DO LANGUAGE plerl $$
  -- A plan's rows() fetches fetch_count rows at a time.
  local p = spi.prepare('SELECT g FROM generate_series(1, $1) g', {'int'}, {fetch_count = 7})
  local n = 0
  for r in p:rows(20) do n = n + 1 end
  print('plan rows', n)
  -- Leaving a loop early is fine: the cursor goes at the end of the transaction.
  for r in spi.rows('SELECT g FROM generate_series(1, 1000000) g') do
    if r.g == 3 then break end
  end
  -- Cursors by hand.
  local c = spi.cursor('SELECT g FROM generate_series(1, 5) g')
  local b = c:fetch(2)
  print('fetch', #b, b[1].g, b[2].g)
  b = c:fetch(10)
  print('fetch', #b, b[1].g, b[3].g)
  print('fetch at end', #c:fetch(10))
  c:close()
  print(pcall(c.fetch, c, 1))
  c = p:cursor(3)
  print('plan cursor', #c:fetch(5))
  c:close()
$$;
-- An iterator kept into a later transaction finds its cursor closed.
CREATE FUNCTION spi_keep_iter() RETURNS int LANGUAGE plerl AS $$
  if not it then
    local p = spi.prepare('SELECT g FROM generate_series(1, 3) g', nil, {fetch_count = 1})
    it = p:rows()
  end
  return it().g
$$;
SELECT spi_keep_iter();
SELECT spi_keep_iter();

-- STABLE and IMMUTABLE functions run their SQL read-only, in the caller's
-- snapshot: no writes.
CREATE FUNCTION spi_stable_insert() RETURNS int STABLE LANGUAGE plerl AS $$
  spi.execute('INSERT INTO spi_t VALUES (3, $1)', 'three')
  return 1
$$;
CREATE FUNCTION spi_immutable_insert() RETURNS int IMMUTABLE LANGUAGE plerl AS $$
  spi.execute('INSERT INTO spi_t VALUES (3, $1)', 'three')
  return 1
$$;
CREATE FUNCTION spi_stable_count() RETURNS bigint STABLE LANGUAGE plerl AS $$
  return spi.execute('SELECT count(*) AS n FROM spi_t')[1].n
$$;
CREATE FUNCTION spi_volatile_insert(i int) RETURNS int LANGUAGE plerl AS $$
  spi.execute('INSERT INTO spi_t (id, name) VALUES ($1, $2)', i, 'v' .. i)
  return i
$$;
SELECT spi_stable_insert();
SELECT spi_immutable_insert();
SELECT spi_stable_count();
SELECT spi_volatile_insert(10);
SELECT spi_stable_count();
-- A STABLE function sees the statement's snapshot: rows the same statement
-- inserted through a volatile function are not visible to it.
SELECT spi_volatile_insert(11), spi_stable_count();

-- Lua -> SQL -> Lua nests, each level with its own SPI connection.
CREATE FUNCTION spi_inner(i int) RETURNS int LANGUAGE plerl AS $$
  return spi.execute('SELECT count(*) AS n FROM spi_t WHERE id <= $1', i)[1].n
$$;
CREATE FUNCTION spi_outer() RETURNS text LANGUAGE plerl AS $$
  local out = {}
  for r in spi.rows('SELECT id, spi_inner(id) AS n FROM spi_t ORDER BY id') do
    out[#out + 1] = r.id .. ':' .. r.n
  end
  return table.concat(out, ' ')
$$;
SELECT spi_outer();

-- Many queries in one call leave no memory behind.
DO LANGUAGE plerl $$
  local function mem()
    return spi.execute('SELECT sum(total_bytes)::bigint AS b FROM pg_backend_memory_contexts')[1].b
  end
  local p = spi.prepare('SELECT $1::int AS x, $2::text AS t')
  local sizes = {}
  for round = 1, 3 do
    for i = 1, 5000 do
      spi.execute('SELECT $1::int AS x', i)
      p:execute(i, 'abc')
      for r in spi.rows('SELECT g FROM generate_series(1, 3) g') do end
      pcall(spi.execute, 'SELECT 1/0')
    end
    sizes[round] = mem()
  end
  print('memory flat:', sizes[3] - sizes[1] < 500000)
$$;

-- Errors from SQL are error objects Lua can catch (see subxact).
DO LANGUAGE plerl $$
  local ok, e = pcall(spi.execute, 'SELECT 1/0')
  print(ok, e.sqlstate, e.message)
$$;
-- Text PostgreSQL parses is refused whole when it holds a NUL byte, never
-- cut short (C would run "SELECT 1 AS a" and return its row).
DO LANGUAGE plerl $$
  local function try(f, ...)
    local ok, e = pcall(f, ...)
    print(ok, e.sqlstate, e.message)
  end
  try(spi.execute, 'SELECT 1 AS a\0 WHERE false')
  try(spi.execute, 'SELECT $1::int AS a\0 WHERE false', 1)
  try(spi.prepare, 'SELECT $1 AS a', {'int4\0junk'})
  try(spi.findcursor, 'c\0x')
  try(datetime.date, '2024-01-01\0junk')
$$;
DROP TABLE spi_t;

-- spi.execute(text, args...) keeps a saved plan per query text (at most 64,
-- least recently used evicted), like PL/pgSQL's statements: PostgreSQL's
-- plan cache shows one CachedPlanSource for a text run 20 times.
CREATE TABLE spi_pc (id int PRIMARY KEY, v text);
INSERT INTO spi_pc SELECT i, 'v' || i FROM generate_series(1, 100) i;
CREATE FUNCTION spi_pc_plans(pattern text) RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM pg_backend_memory_contexts
  WHERE name = 'CachedPlanSource' AND ident LIKE pattern $$;
DO LANGUAGE plerl $$
  for i = 1, 20 do
    assert(spi.execute('SELECT v FROM spi_pc WHERE id = $1', i)[1].v == 'v' .. i)
  end
$$;
SELECT spi_pc_plans('SELECT v FROM spi_pc WHERE id = $1');
-- Revalidated as PostgreSQL revalidates saved plans: a changed column type,
-- a dropped table (42P01, caught), the table made again with another type.
ALTER TABLE spi_pc ALTER COLUMN v TYPE varchar(10);
DO LANGUAGE plerl $$ print(spi.execute('SELECT v FROM spi_pc WHERE id = $1', 7)[1].v) $$;
DROP TABLE spi_pc;
DO LANGUAGE plerl $$
  local ok, e = pcall(spi.execute, 'SELECT v FROM spi_pc WHERE id = $1', 7)
  print(ok, e.sqlstate)
$$;
CREATE TABLE spi_pc (id int PRIMARY KEY, v int);
INSERT INTO spi_pc VALUES (7, 77);
DO LANGUAGE plerl $$
  local v = spi.execute('SELECT v FROM spi_pc WHERE id = $1', 7)[1].v
  print(v, type(v))
$$;
-- The same text under another search_path finds the other table.
CREATE SCHEMA spi_pc_s;
CREATE TABLE spi_pc_s.spi_pc (id int, v int);
INSERT INTO spi_pc_s.spi_pc VALUES (7, -7);
SET search_path = spi_pc_s, public;
DO LANGUAGE plerl $$ print(spi.execute('SELECT v FROM spi_pc WHERE id = $1', 7)[1].v) $$;
RESET search_path;
DO LANGUAGE plerl $$ print(spi.execute('SELECT v FROM spi_pc WHERE id = $1', 7)[1].v) $$;
DROP SCHEMA spi_pc_s CASCADE;
-- Bounded: 100 distinct texts leave 64 plans, the oldest gone.
DO LANGUAGE plerl $$
  for i = 1, 100 do spi.execute('SELECT $1::int + ' .. i .. ' AS spi_pc_n', i) end
$$;
SELECT spi_pc_plans('SELECT $1::int + % AS spi_pc_n') AS kept,
       spi_pc_plans('SELECT $1::int + 1 AS spi_pc_n') AS oldest,
       spi_pc_plans('SELECT $1::int + 100 AS spi_pc_n') AS newest;
-- A plan evicted while it runs (its query calls a function that runs 70
-- other texts) is freed only when its execution ends.
CREATE FUNCTION spi_pc_churn(n int) RETURNS int LANGUAGE plerl AS $$
  local s = 0
  for i = 1, 70 do s = s + spi.execute('SELECT $1::int + ' .. i .. ' AS x', n)[1].x end
  return s
$$;
DO LANGUAGE plerl $$
  for round = 1, 2 do
    local r = spi.execute('SELECT g, spi_pc_churn(g) AS c FROM generate_series(1, $1::int) g', 3)
    print(round, r[1].c, r[2].c, r[3].c)
  end
$$;
-- The read-only rule holds for a cached plan, every time.
CREATE FUNCTION spi_pc_stable(x int) RETURNS int STABLE LANGUAGE plerl AS $$
  return spi.execute('INSERT INTO spi_pc VALUES ($1, 0) RETURNING id', x)[1].id
$$;
SELECT spi_pc_stable(1);
SELECT spi_pc_stable(1);
-- CALL is never cached (a procedure may commit: the plan's reference must
-- not outlive the transaction); texts over 4096 bytes neither.
CREATE PROCEDURE spi_pc_proc(x int) LANGUAGE plerl AS $$
  spi.execute('INSERT INTO spi_pc VALUES ($1, 0)', x)
  spi.commit()
$$;
DO LANGUAGE plerl $$
  for i = 1, 3 do spi.execute('CALL spi_pc_proc($1)', 1000 + i) end
  spi.execute('SELECT $1::int AS x -- ' .. string.rep('y', 5000), 1)
$$;
SELECT count(*) FROM spi_pc WHERE id > 1000;
SELECT spi_pc_plans('CALL spi_pc_proc%') AS call_plans, spi_pc_plans('SELECT $1::int AS x -- y%') AS long_plans;
DROP PROCEDURE spi_pc_proc;
DROP FUNCTION spi_pc_stable, spi_pc_churn, spi_pc_plans;
DROP TABLE spi_pc;

-- A function that replaces itself through SPI and calls the new version:
-- the running call keeps its own compiled form, result type and name
-- (freed at the end of the transaction), the nested call runs the new one.
CREATE TYPE redef_t AS (a int, b text);
CREATE FUNCTION redef(n int) RETURNS redef_t LANGUAGE plerl AS $$
  if n > 0 then
    spi.execute([[CREATE OR REPLACE FUNCTION redef(n int) RETURNS redef_t LANGUAGE plerl AS $b$
      local t = {}
      for i = 1, 10 do t[i] = tostring(i) end
      if n < 0 then error('second version, ' .. table.concat(t, '')) end
      return {a = n * 100, b = 'second ' .. #t}
    $b$]])
    local inner = spi.execute('SELECT (redef(2)).*')[1]
    if n == 5 then error('first version, after the inner call') end
    return {a = n, b = 'first, inner ' .. inner.a .. ' ' .. inner.b}
  end
  return {a = n, b = 'first'}
$$;
SELECT count(*) AS fns FROM pg_backend_memory_contexts WHERE name = 'plerl function' \gset
BEGIN;
SELECT * FROM redef(1);
-- the first version is still there (retired) until the transaction ends
SELECT count(*) - :fns AS more_in_xact FROM pg_backend_memory_contexts WHERE name = 'plerl function';
COMMIT;
SELECT count(*) - :fns AS more_after FROM pg_backend_memory_contexts WHERE name = 'plerl function';
SELECT * FROM redef(3);
SELECT * FROM redef(-1);
CREATE OR REPLACE FUNCTION redef(n int) RETURNS redef_t LANGUAGE plerl AS $$
  if n > 0 then
    spi.execute([[CREATE OR REPLACE FUNCTION redef(n int) RETURNS redef_t LANGUAGE plerl AS $b$ return {a = n, b = 'third'} $b$]])
    local inner = spi.execute('SELECT (redef(2)).*')[1]
    error('first version, after the inner call gave ' .. inner.b)
  end
$$;
SELECT * FROM redef(5);
SELECT * FROM redef(6);
DROP FUNCTION redef(int);
DROP TYPE redef_t;
