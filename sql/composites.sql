-- composites: rows as tables by field name (both ways), NULL fields,
-- nested rows, arrays of rows, OUT parameters, RECORD results, domains.
-- Quietly: the same output whether an earlier file made the extension.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
CREATE SCHEMA plerl_composites;
RESET client_min_messages;
SET search_path = plerl_composites, public;
\set VERBOSITY terse

CREATE TYPE point3 AS (x int, y int, z int);
CREATE TYPE item AS (name text, qty int8, price numeric, tags text[], pos point3);

-- A row arrives as a table by field name; NULL fields are absent (nil).
CREATE FUNCTION row_show(p point3) RETURNS text LANGUAGE plerl AS $$
  if p == nil then return 'nil' end
  return string.format('x=%s y=%s z=%s', tostring(p.x), tostring(p.y), tostring(p.z))
$$;
SELECT row_show(ROW(1, 2, 3)), row_show(ROW(1, NULL, 3)), row_show(NULL);
CREATE FUNCTION row_keys(p point3) RETURNS text LANGUAGE plerl AS $$
  local keys = {}
  for k in pairs(p) do keys[#keys + 1] = k end
  table.sort(keys)
  return table.concat(keys, ',')
$$;
SELECT row_keys(ROW(1, NULL, 3));
-- A row result is a table by field name: missing fields and null are NULL.
CREATE FUNCTION row_make(k text) RETURNS point3 LANGUAGE plerl AS $$
  if k == 'full' then return {x = 1, y = 2, z = 3}
  elseif k == 'partial' then return {x = 1, z = null}
  elseif k == 'empty' then return {}
  elseif k == 'text' then return '(7,8,9)'
  elseif k == 'nil' then return nil
  elseif k == 'typo' then return {x = 1, w = 2}
  elseif k == 'positional' then return {1, 2, 3}
  elseif k == 'bad' then return {x = 'one'}
  elseif k == 'scalar' then return 5
  end
$$;
SELECT row_make('full'), row_make('partial'), row_make('empty'), row_make('text'), row_make('nil') IS NULL AS is_null;
SELECT (row_make('full')).*;
SELECT row_make('typo');
SELECT row_make('positional');
SELECT row_make('bad');
SELECT row_make('scalar');
-- Modify and return.
CREATE FUNCTION row_move(p point3, dx int) RETURNS point3 LANGUAGE plerl AS $$
  p.x = p.x + dx
  return p
$$;
SELECT row_move(ROW(1, 2, NULL), 10);

-- Nested rows, arrays inside rows, exact numbers inside rows.
CREATE FUNCTION item_echo(i item) RETURNS item LANGUAGE plerl AS $$ return i $$;
CREATE FUNCTION item_info(i item) RETURNS text LANGUAGE plerl AS $$
  return i.name .. ' ' .. tostring(i.qty) .. ' ' .. tostring(i.price * 2) .. ' ' ..
         #i.tags .. ' ' .. i.tags[2] .. ' ' .. i.pos.y .. ' ' .. type(i.qty)
$$;
SELECT item_echo(ROW('widget', 9223372036854775807, 12.50, '{a,b}', ROW(1, 2, 3))::item);
SELECT item_info(ROW('widget', 9223372036854775807, 12.50, '{a,b}', ROW(1, 2, 3))::item);
CREATE FUNCTION item_make() RETURNS item LANGUAGE plerl AS $$
  return {name = 'gadget', qty = int64("9007199254740993"), price = numeric("0.10"),
          tags = {'x', null, 'z'}, pos = {x = 4, y = 5}}
$$;
SELECT item_make();
SELECT (item_make()).pos.y, (item_make()).tags[2] IS NULL AS tag2_null;
CREATE FUNCTION item_bad() RETURNS item LANGUAGE plerl AS $$ return {name = 'n', pos = {x = 'no'}} $$;
SELECT item_bad();

-- Arrays of rows: a list of tables (1-D), or nested lists (2-D).
CREATE FUNCTION pts_sum(ps point3[]) RETURNS point3 LANGUAGE plerl AS $$
  local s = {x = 0, y = 0, z = 0}
  for _, p in ipairs(ps) do
    if p ~= null then
      for _, k in ipairs({'x', 'y', 'z'}) do s[k] = s[k] + (p[k] or 0) end
    end
  end
  return s
$$;
SELECT pts_sum(ARRAY[ROW(1, 2, 3), ROW(10, NULL, 30), NULL]::point3[]);
CREATE FUNCTION pts_make(n int) RETURNS point3[] LANGUAGE plerl AS $$
  local out = {}
  for i = 1, n do out[i] = {x = i, y = i * i} end
  out[n + 1] = null
  return out
$$;
SELECT pts_make(3);
CREATE FUNCTION pts_grid() RETURNS point3[] LANGUAGE plerl AS $$
  return {{{x = 1}, {x = 2}}, {{x = 3}, {y = 4}}}
$$;
SELECT pts_grid(), array_dims(pts_grid());
CREATE FUNCTION pts_echo(ps point3[]) RETURNS point3[] LANGUAGE plerl AS $$ return ps $$;
SELECT pts_echo('{"(1,2,3)","(,,)",NULL}');

-- Table rows: a row of a table, dropped columns skipped; ALTER TYPE is
-- seen by the next call.
CREATE TABLE people (id int, dropped text, name text, born date);
ALTER TABLE people DROP COLUMN dropped;
INSERT INTO people VALUES (1, 'Ada', '1815-12-10'), (2, 'Alan', NULL);
CREATE FUNCTION person_tag(p people) RETURNS text LANGUAGE plerl AS $$
  local keys = {}
  for k in pairs(p) do keys[#keys + 1] = k end
  table.sort(keys)
  return p.id .. ':' .. p.name .. ' [' .. table.concat(keys, ',') .. ']'
$$;
SELECT person_tag(p) FROM people p ORDER BY id;
CREATE FUNCTION person_make(id int, name text) RETURNS people LANGUAGE plerl AS $$
  return {id = id, name = name, born = '1912-06-23'}
$$;
SELECT * FROM person_make(3, 'Turing');
CREATE FUNCTION pt_fields(p point3) RETURNS text LANGUAGE plerl AS $$
  local keys = {}
  for k, v in pairs(p) do keys[#keys + 1] = k .. '=' .. tostring(v) end
  table.sort(keys)
  return table.concat(keys, ',')
$$;
CREATE FUNCTION pt_make() RETURNS point3 LANGUAGE plerl AS $$ return {x = 1, w = 9} $$;
SELECT pt_fields(ROW(1, 2, 3));
SELECT pt_make();
ALTER TYPE point3 ADD ATTRIBUTE w int;
SELECT pt_fields(ROW(1, 2, 3, 4)), pt_make();
ALTER TYPE point3 DROP ATTRIBUTE w;

-- Anonymous records: each value carries its own row type.
CREATE FUNCTION rec_show(r record) RETURNS text LANGUAGE plerl AS $$
  local keys = {}
  for k, v in pairs(r) do keys[#keys + 1] = k .. '=' .. tostring(v) end
  table.sort(keys)
  return table.concat(keys, ',')
$$;
SELECT rec_show(ROW(1, 'a')), rec_show(ROW(2.5, true, NULL)), rec_show(p) FROM people p WHERE id = 1;
SELECT rec_show(t) FROM (SELECT 1 AS one, 'two' AS two) t;

-- OUT parameters: the result is a row; return several values in order,
-- or one table by name.
CREATE FUNCTION out_pos(a int, OUT doubled int, OUT label text) LANGUAGE plerl AS $$
  return a * 2, 'n' .. a
$$;
CREATE FUNCTION out_named(a int, OUT doubled int, OUT label text) LANGUAGE plerl AS $$
  return {label = 'n' .. a, doubled = a * 2}
$$;
CREATE FUNCTION out_short(OUT a int, OUT b int, OUT c int) LANGUAGE plerl AS $$ return 1, 2 $$;
CREATE FUNCTION out_long(OUT a int, OUT b int) LANGUAGE plerl AS $$ return 1, 2, 3 $$;
SELECT * FROM out_pos(21);
SELECT * FROM out_named(21);
SELECT out_pos(1), (out_named(2)).label;
SELECT * FROM out_short();
SELECT * FROM out_long();
CREATE FUNCTION out_inout(INOUT n int8, INOUT s text, OUT big numeric) LANGUAGE plerl AS $$
  return n + 1, s:rep(2), numeric("12345678901234567890.5") * n
$$;
SELECT * FROM out_inout(9007199254740992, 'ab');
-- One OUT parameter: the result is that type itself.
CREATE FUNCTION out_one(a int, OUT r text) LANGUAGE plerl AS $$ return 'got ' .. a $$;
SELECT out_one(5), pg_typeof(out_one(5));
-- Polymorphic OUT parameters are resolved per call.
CREATE FUNCTION out_poly(x anyelement, OUT same anyelement, OUT arr anyarray) LANGUAGE plerl AS $$
  return x, {x, x}
$$;
SELECT * FROM out_poly(5), out_poly('t'::text) AS t2;
-- A procedure's INOUT parameters come back the same way.
CREATE PROCEDURE proc_inout(INOUT a int, INOUT b text) LANGUAGE plerl AS $$ return a + 1, b .. '!' $$;
CALL proc_inout(41, 'hi');

-- RETURNS record: the column definition list gives the row type per call.
CREATE FUNCTION rec_make(n int) RETURNS record LANGUAGE plerl AS $$
  return {a = n, b = 'x' .. n}
$$;
SELECT * FROM rec_make(1) AS t(a int, b text);
SELECT * FROM rec_make(2) AS t(b text, a numeric);
SELECT rec_make(3);
-- A polymorphic row result.
CREATE FUNCTION row_same(r anyelement) RETURNS anyelement LANGUAGE plerl AS $$ return r $$;
SELECT row_same(ROW(1, 2, 3)::point3), row_same(p) FROM people p WHERE id = 2;

-- Domains over rows are checked.
CREATE DOMAIN pos_point AS point3 CHECK ((VALUE).x > 0);
CREATE FUNCTION dom_pt(x int) RETURNS pos_point LANGUAGE plerl AS $$ return {x = x, y = 0, z = 0} $$;
SELECT dom_pt(1);
SELECT dom_pt(-1);
CREATE FUNCTION dom_pt_in(p pos_point) RETURNS int LANGUAGE plerl AS $$ return p.x + p.y $$;
SELECT dom_pt_in(ROW(5, 6, 7)::pos_point);

SET client_min_messages = warning;
DROP SCHEMA plerl_composites CASCADE;
