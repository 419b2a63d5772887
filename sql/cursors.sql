-- cursors: pllua's cursor interface (docs/lua-api.md, "Cursors"): named and
-- scrollable cursors, fetch and move in every direction, refcursor
-- arguments and results.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY default


-- A named, scrollable cursor through every direction.
DO LANGUAGE plerl $$
  local function ids(rows)
    local out = {}
    for i = 1, #rows do out[i] = tostring(rows[i].g) end
    return '[' .. table.concat(out, ',') .. ']'
  end
  local p = spi.prepare('SELECT g FROM generate_series(1, 10) g', nil, {scroll = true})
  local c = spi.newcursor('lua_scroll')
  print('before open', c:isopen(), c:name())
  assert(c:open(p) == c)
  print('after open', c:isopen(), c:name())
  print('default', ids(c:fetch()))
  print('forward 3', ids(c:fetch(3)))
  print('next', ids(c:fetch(1, 'next')))
  print('prior', ids(c:fetch(1, 'prior')))
  print('backward 2', ids(c:fetch(2, 'backward')))
  print('first', ids(c:fetch(1, 'first')))
  print('last', ids(c:fetch(1, 'last')))
  print('absolute 4', ids(c:fetch(4, 'absolute')))
  print('relative -2', ids(c:fetch(-2, 'relative')))
  print('relative 0', ids(c:fetch(0, 'relative')))
  print('absolute 99', ids(c:fetch(99, 'absolute')))
  print('move absolute 0', c:move(0, 'absolute'))
  print('move forward 3', c:move(3))
  print('then next', ids(c:fetch(1, 'next')))
  print('move backward 9', c:move(9, 'backward'))
  -- 'next' and 'prior' take n rows, as 'forward' and 'backward' (pllua's meaning).
  print('next 3', ids(c:fetch(3, 'next')))
  print('prior 2', ids(c:fetch(2, 'prior')))
  print('move next 2', c:move(2, 'next'), 'move prior 1', c:move(1, 'prior'))
  -- The same portal found by name.
  local f = spi.findcursor('lua_scroll')
  print('found', f:name(), f:isopen(), ids(f:fetch(2)))
  print('not found', spi.findcursor('no_such_cursor'))
  local n = spi.newcursor('lua_scroll')
  print('newcursor of an open portal', n:isopen(), ids(n:fetch(1)))
  -- Found or new, the cursor of an open portal is the object Lua holds.
  print('same object', rawequal(c, f), rawequal(c, n))
  c:close()
  print('closed', c:isopen(), f:isopen())
  -- Reopened with SQL text and arguments.
  c:open('SELECT g FROM generate_series(1, $1) g', 3)
  print('reopened', c:name(), ids(c:fetch(5)))
  c:close()
  -- An unnamed cursor gets a name from PostgreSQL when it opens.
  local u = spi.newcursor()
  print('unnamed', u:name(), u:isopen())
  u:open('SELECT 1 AS g')
  print('named now', type(u:name()), ids(u:fetch(1)))
$$;

-- Errors: directions are checked, a closed or unopened cursor says so
-- (34000), a second cursor of the same name is refused (42P03).
DO LANGUAGE plerl $$ spi.cursor('SELECT 1'):fetch(1, 'sideways') $$;
DO LANGUAGE plerl $$ spi.cursor('SELECT 1'):fetch(-1, 'forward') $$;
DO LANGUAGE plerl $$ spi.newcursor('x'):fetch() $$;
DO LANGUAGE plerl $$
  local c = spi.cursor('SELECT 1') c:close() c:move(1)
$$;
DO LANGUAGE plerl $$
  local c = spi.newcursor('dup'):open('SELECT 1')
  c:open('SELECT 2')
$$;
DO LANGUAGE plerl $$
  spi.newcursor('dup2'):open('SELECT 1')
  spi.newcursor():open('SELECT 2') -- fine: another name
  local d = spi.newcursor('dup2') -- the open one
  print(d:isopen())
  spi.cursor('SELECT 3') -- fine
  local e = spi.newcursor('dup3')
  spi.execute('DECLARE dup3 CURSOR FOR SELECT 1')
  e:open('SELECT 4')
$$;

-- refcursor arguments are cursor objects; a cursor (or its name) returned
-- as a refcursor is the portal's name.
CREATE FUNCTION cur_open(n int) RETURNS refcursor LANGUAGE plerl AS $$
  return spi.newcursor('cur_from_lua'):open('SELECT g FROM generate_series(1, $1) g', n)
$$;
CREATE FUNCTION cur_open_name() RETURNS refcursor LANGUAGE plerl AS $$
  local c = spi.cursor('SELECT g FROM generate_series(1, 2) g')
  return c:name()
$$;
CREATE FUNCTION cur_take(c refcursor, n int) RETURNS text LANGUAGE plerl AS $$
  local rows = c:fetch(n)
  local out = {}
  for i = 1, #rows do out[i] = tostring(rows[i].g) end
  local back = c:fetch(1, 'prior')
  return c:name() .. ' ' .. tostring(c:isopen()) .. ' [' .. table.concat(out, ',') .. '] prior ' .. tostring(back[1] and back[1].g)
$$;
CREATE FUNCTION cur_isopen(c refcursor) RETURNS boolean LANGUAGE plerl AS $$
  return c ~= nil and c:isopen()
$$;
BEGIN;
SELECT cur_open(4);
FETCH 2 FROM cur_from_lua;
SELECT cur_take('cur_from_lua', 5);
DECLARE sqlcur SCROLL CURSOR FOR SELECT g FROM generate_series(10, 15) g;
SELECT cur_take('sqlcur', 3);
FETCH NEXT FROM sqlcur;
SELECT cur_isopen('sqlcur'), cur_isopen('nope'), cur_isopen(NULL) AS null_arg;
SELECT cur_take('nope', 1);
ROLLBACK;
BEGIN;
SELECT cur_open_name() IS NOT NULL AS named;
ROLLBACK;
-- A refcursor column of a query is a cursor object too.
DO LANGUAGE plerl $$
  local c = spi.newcursor('by_column'):open('SELECT 1 AS g')
  local r = spi.execute('SELECT $1::refcursor AS c', c)
  print(r[1].c:name(), r[1].c:isopen(), r[1].c:fetch(1)[1].g)
$$;
DROP FUNCTION cur_open(int);
DROP FUNCTION cur_open_name();
DROP FUNCTION cur_take(refcursor, int);
DROP FUNCTION cur_isopen(refcursor);

-- no_scroll: the plan's cursors never go backward (PostgreSQL refuses,
-- 55000); with scroll it is 22023.
DO LANGUAGE plerl $$
  local p = spi.prepare('SELECT g FROM generate_series(1, 5) g', nil, {no_scroll = true})
  local c = p:cursor()
  print(#c:fetch(2, 'next'), (spi.execute("SELECT is_scrollable FROM pg_cursors WHERE name = $1", c:name())[1].is_scrollable))
  c:fetch(1, 'prior')
$$;
-- scroll = false is no_scroll (as in pllua); neither lets PostgreSQL choose
-- (a query it can scan backward is scrollable).
DO LANGUAGE plerl $$
  for _, o in ipairs({{scroll = false}, {}, {scroll = true}}) do
    local c = spi.prepare('SELECT g FROM generate_series(1, 5) g', nil, o):cursor()
    print(o.scroll, (spi.execute("SELECT is_scrollable FROM pg_cursors WHERE name = $1", c:name())[1].is_scrollable))
  end
$$;
DO LANGUAGE plerl $$ spi.prepare('SELECT 1', nil, {scroll = true, no_scroll = true}) $$;
DO LANGUAGE plerl $$ spi.prepare('SELECT 1', nil, {no_scroll = 1}) $$;

-- pllua's spellings: stmt(...) is stmt:execute(...), stmt:getcursor(...)
-- is stmt:cursor(...).
DO LANGUAGE plerl $$
  local p = spi.prepare('SELECT g FROM generate_series(1, $1) g', {'integer'})
  local c = p:getcursor(4)
  print(#p(3), p(2)[2].g, #c:fetch(10), c:isopen())
$$;
-- c:rows() iterates what is left in a cursor one row at a time, so the
-- cursor is on the loop's row (WHERE CURRENT OF), and leaves it open.
CREATE TABLE cur_rows_t (id int PRIMARY KEY, v text);
INSERT INTO cur_rows_t SELECT g, 'v' || g FROM generate_series(1, 5) g;
DO LANGUAGE plerl $$
  local c = spi.newcursor('cur_rows'):open('SELECT id, v FROM cur_rows_t ORDER BY id FOR UPDATE')
  c:fetch(1)
  local seen = {}
  for r in c:rows() do
    seen[#seen + 1] = r.id
    if r.id == 3 then spi.execute("UPDATE cur_rows_t SET v = 'current' WHERE CURRENT OF cur_rows") end
  end
  print(table.concat(seen, ','), c:isopen(), #c:fetch(1))
  c:close()
  print(pcall(c.rows, c))
$$;
SELECT * FROM cur_rows_t ORDER BY id;
DROP TABLE cur_rows_t;
-- c:disown(): the portal is no longer closed when Lua drops the cursor, so
-- a function can return it; c:own() takes it back. Both return the cursor.
CREATE FUNCTION cur_disowned(q text, n text) RETURNS refcursor LANGUAGE plerl AS $$
  local s = spi.prepare(q)
  return spi.newcursor(n):open(s):disown()
$$;
BEGIN;
SELECT cur_disowned('SELECT g FROM generate_series(1, 3) g', 'cur_kept');
FETCH ALL FROM cur_kept;
ROLLBACK;
DO LANGUAGE plerl $$
  local c = spi.newcursor():disown()
  print(c:own() == c, c:isopen(), c:open('SELECT 1 AS one'):disown():fetch(1)[1].one)
  c:close()
  print(pcall(c.own, c, true))
$$;
DROP FUNCTION cur_disowned(text, text);
-- A portal declared in SQL gets an object when first found, the same one
-- after; a closed portal is not found (closed by Lua or by SQL's CLOSE).
BEGIN;
DECLARE cur_sql CURSOR FOR SELECT 1 AS one;
DO LANGUAGE plerl $$
  local a, b = spi.findcursor('cur_sql'), spi.findcursor('cur_sql')
  print('declared in SQL', rawequal(a, b), a:fetch(1)[1].one)
  local p = spi.prepare('SELECT 2 AS two'):cursor()
  local name = p:name()
  print('opened', rawequal(p, spi.findcursor(name)))
  p:close()
  print('closed', spi.findcursor(name))
  spi.execute('CLOSE cur_sql')
  print('closed in SQL', spi.findcursor('cur_sql'), a:isopen())
$$;
COMMIT;

-- A rollback drops the portals its (sub)transaction opened, holdable ones
-- too: a cursor of such a portal is closed, and it neither reads nor
-- closes a later portal of its name (it read and closed it).
DO LANGUAGE plerl $$
  local old
  print(pcall(function() old = spi.newcursor('rb_sub'):open('SELECT 1 AS a') error('boom', 0) end))
  local new = spi.newcursor('rb_sub'):open('SELECT 2 AS a UNION ALL SELECT 3')
  print(pcall(old.fetch, old, 1))
  print(old:isopen(), old:close())
  print(new:fetch(1)[1].a, new:isopen())
  new:close()
  -- committed subtransaction, later sibling rolled back: still open
  local kept
  pcall(function() kept = spi.newcursor('rb_kept'):open('SELECT 4 AS a') end)
  pcall(function() spi.newcursor('rb_other'):open('SELECT 5') error('x') end)
  print(kept:fetch(1)[1].a)
  kept:close()
$$;
DO LANGUAGE plerl $$
  local p = spi.prepare('SELECT 1 AS a', {}, {hold = true})
  local c = spi.newcursor('rb_held'):open(p)
  spi.rollback()
  local d = spi.newcursor('rb_held'):open('SELECT 2 AS a'):disown()
  print(pcall(c.fetch, c, 1))
  c:close()
  print(d:fetch(1)[1].a)
  d:close()
  -- committed, then a later transaction rolls back: it lives on
  local h = spi.newcursor('rb_held2'):open(p)
  spi.commit()
  spi.rollback()
  print(h:fetch(1)[1].a)
  h:close()
$$;
