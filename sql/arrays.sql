-- arrays: SQL arrays of any dimension <-> nested Lua tables, NULL elements
-- as the null sentinel, lower bounds, element types, anyarray, VARIADIC.
-- Quietly: the same output whether an earlier file made the extension.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
CREATE SCHEMA plerl_arrays;
RESET client_min_messages;
SET search_path = plerl_arrays, public;
\set VERBOSITY terse

-- 1-D, 2-D and 3-D arrays arrive as nested tables (one level per dimension).
CREATE FUNCTION arr_echo(a int[]) RETURNS int[] LANGUAGE plerl AS $$ return a $$;
CREATE FUNCTION arr_shape(a int[]) RETURNS text LANGUAGE plerl AS $$
  local function show(t)
    if type(t) ~= 'table' then return tostring(t) end
    local parts = {}
    for i = 1, #t do parts[i] = show(t[i]) end
    return '(' .. table.concat(parts, ' ') .. ')'
  end
  return show(a)
$$;
SELECT arr_echo('{1,2,3}'), arr_echo('{{1,2},{3,4}}'), arr_echo('{{{1,2},{3,4}},{{5,6},{7,8}}}');
SELECT arr_shape('{1,2,3}'), arr_shape('{{1,2},{3,4}}'), arr_shape('{{{1,2},{3,4}},{{5,6},{7,8}}}');
-- NULL elements are null (so # and ipairs see every element); empty arrays
-- are empty tables; a NULL array is nil.
SELECT arr_echo('{1,NULL,3}'), arr_echo('{NULL,NULL}'), arr_echo('{{1,NULL},{NULL,4}}'), arr_echo('{}'), arr_echo(NULL);
SELECT arr_shape('{1,NULL,3}'), arr_shape('{}');
CREATE FUNCTION arr_nulls(a int[]) RETURNS text LANGUAGE plerl AS $$
  local n = 0
  for _, v in ipairs(a) do if v == null then n = n + 1 end end
  return #a .. ' elements, ' .. n .. ' null'
$$;
SELECT arr_nulls('{NULL,1,NULL,2,NULL}');
-- Lower bounds other than 1: Lua indexes start at 1, and the table
-- remembers the bounds, so returning it keeps them.
SELECT arr_echo('[0:2]={10,20,30}'), arr_echo('[-1:0][5:6]={{1,2},{3,4}}');
SELECT arr_shape('[0:2]={10,20,30}');
CREATE FUNCTION arr_first(a int[]) RETURNS int LANGUAGE plerl AS $$ return a[1] $$;
SELECT arr_first('[0:2]={10,20,30}');
-- A new table gets lower bounds 1.
CREATE FUNCTION arr_copy(a int[]) RETURNS int[] LANGUAGE plerl AS $$
  local t = {}
  for i, v in ipairs(a) do t[i] = v end
  return t
$$;
SELECT arr_copy('[0:2]={10,20,30}');

-- Results: tables nested per dimension; holes and null are NULL.
CREATE FUNCTION arr_make(k text) RETURNS int[] LANGUAGE plerl AS $$
  if k == '1d' then return {1, 2, 3}
  elseif k == '2d' then return {{1, 2, 3}, {4, 5, 6}}
  elseif k == '3d' then return {{{1}, {2}}, {{3}, {4}}}
  elseif k == 'nulls' then return {1, null, 3, nil, 5}
  elseif k == 'empty' then return {}
  elseif k == 'text' then return '{7,8,9}'
  elseif k == 'ragged' then return {{1, 2}, {3}}
  elseif k == 'mixed' then return {1, {2}}
  elseif k == 'keys' then return {1, 2, x = 3}
  elseif k == 'deep' then return {{{{{{{1}}}}}}}
  elseif k == 'float' then return {1, 2.5}
  end
$$;
SELECT arr_make('1d'), arr_make('2d'), arr_make('3d'), arr_make('nulls'), arr_make('empty'), arr_make('text');
SELECT arr_make('ragged');
SELECT arr_make('mixed');
SELECT arr_make('keys');
SELECT arr_make('deep');
SELECT arr_make('float');
-- Large arrays round-trip.
SELECT arr_echo(array_agg(i)) = array_agg(i) AS big_same FROM generate_series(1, 100000) i;

-- Element types: text, int8 beyond 2^53, numeric, bytea, bool, float,
-- json, dates, domains (checked per element).
CREATE FUNCTION arr_text(a text[]) RETURNS text[] LANGUAGE plerl AS $$
  local out = {}
  for i, v in ipairs(a) do out[i] = v == null and null or v:upper() end
  return out
$$;
SELECT arr_text('{a,"b c",NULL,"{}","",é}');
CREATE FUNCTION arr_i8(a int8[]) RETURNS int8[] LANGUAGE plerl AS $$
  local out = {}
  for i, v in ipairs(a) do out[i] = v + 1 end
  return out
$$;
SELECT arr_i8('{9223372036854775806,9007199254740992,-9223372036854775808,0}');
CREATE FUNCTION arr_num(a numeric[]) RETURNS numeric[] LANGUAGE plerl AS $$
  local out = {}
  for i, v in ipairs(a) do out[i] = v * 2 end
  return out
$$;
SELECT arr_num('{1.25,123456789012345678901234567890.000001,NaN,-Infinity}');
CREATE FUNCTION arr_misc(b bytea[], f float8[], t boolean[]) RETURNS text LANGUAGE plerl AS $$
  return #b[1] .. ' ' .. tostring(f[2]) .. ' ' .. tostring(t[1]) .. ' ' .. tostring(t[2] == null)
$$;
SELECT arr_misc(ARRAY['\x00ff'::bytea], '{1.5,-Infinity}', '{true,NULL}');
CREATE FUNCTION arr_json(a jsonb[]) RETURNS jsonb[] LANGUAGE plerl AS $$
  a[#a + 1] = {added = json.array({1, 2})}
  return a
$$;
SELECT arr_json(ARRAY['{"x": 1}', '[1, [2]]', NULL]::jsonb[]);
CREATE FUNCTION arr_dates(a date[]) RETURNS date[] LANGUAGE plerl AS $$
  return {a[2], a[1], '2000-01-01'}
$$;
SET DateStyle = ISO;
SELECT arr_dates('{2024-01-31,2023-06-15}');
RESET DateStyle;
CREATE DOMAIN small AS int CHECK (VALUE < 10);
CREATE FUNCTION arr_small(n int) RETURNS small[] LANGUAGE plerl AS $$ return {1, n} $$;
SELECT arr_small(5);
SELECT arr_small(50);
CREATE DOMAIN pair AS int[] CHECK (array_length(VALUE, 1) = 2);
CREATE FUNCTION arr_pair(n int) RETURNS pair LANGUAGE plerl AS $$
  local t = {}
  for i = 1, n do t[i] = i end
  return t
$$;
SELECT arr_pair(2);
SELECT arr_pair(3);

-- anyarray / anyelement: types are resolved per call.
CREATE FUNCTION arr_reverse(a anyarray) RETURNS anyarray LANGUAGE plerl AS $$
  local out = {}
  for i = #a, 1, -1 do out[#out + 1] = a[i] end
  return out
$$;
SELECT arr_reverse('{1,2,3}'::int[]), arr_reverse('{a,NULL,c}'::text[]),
       arr_reverse('{1.5,2.25}'::numeric[]), arr_reverse('{9223372036854775807,1}'::int8[]);
SELECT arr_reverse(x) FROM (VALUES ('{1,2}'::int[]), ('{3,4,5}')) v(x);
CREATE FUNCTION arr_last(a anyarray) RETURNS anyelement LANGUAGE plerl AS $$ return a[#a] $$;
SELECT arr_last('{1,2,3}'::int[]), arr_last('{x,y}'::text[]), arr_last('{"{\"k\": 1}"}'::jsonb[]);
CREATE FUNCTION arr_wrap(x anyelement) RETURNS anyarray LANGUAGE plerl AS $$ return {x, x} $$;
-- (nil in a table is a hole, not an element: {nil, nil} is empty.)
SELECT arr_wrap(1), arr_wrap('a'::text), arr_wrap(2.5::numeric), arr_wrap(NULL::int);
CREATE FUNCTION arr_compat(a anycompatible, b anycompatible) RETURNS anycompatiblearray LANGUAGE plerl AS $$
  return {a, b}
$$;
SELECT arr_compat(1, 2.5);

-- VARIADIC arguments arrive as one array (a table).
CREATE FUNCTION var_sum(VARIADIC xs int[]) RETURNS int LANGUAGE plerl AS $$
  local s = 0
  for _, x in ipairs(xs) do s = s + x end
  return s
$$;
SELECT var_sum(1, 2, 3), var_sum(10), var_sum(VARIADIC ARRAY[4, 5]);
CREATE FUNCTION var_join(sep text, VARIADIC parts text[]) RETURNS text LANGUAGE plerl AS $$
  return table.concat(parts, sep)
$$;
SELECT var_join('-', 'a', 'b', 'c');
CREATE FUNCTION var_any(VARIADIC xs anyarray) RETURNS text LANGUAGE plerl AS $$
  local out = {}
  for i, x in ipairs(xs) do out[i] = type(x) end
  return #xs .. ' ' .. table.concat(out, ',')
$$;
SELECT var_any(1, 2), var_any('a'::text, 'b'), var_any(1.5::numeric);
-- VARIADIC "any": each variadic argument is converted by its own type
-- and arrives in the `...` after the named arguments (as in pllua); an
-- untyped literal is its text; with VARIADIC, the one array.
CREATE FUNCTION var_anything(a int, VARIADIC "any") RETURNS text LANGUAGE plerl AS $$
  local out = {}
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    out[i] = type(v) .. ' ' .. tostring(v)
  end
  return a .. ': ' .. table.concat(out, ' | ')
$$;
SELECT var_anything(1, 'foo', 2, 2.5::numeric, 9007199254740993::bigint, NULL::int, true, date '2024-02-29', ARRAY[1, 2], row(1, 'x'));
SELECT var_anything(2, VARIADIC ARRAY['a', 'b']);
SELECT var_anything(3, 'x'), var_anything(4, 5.5::float8);   -- two call sites, two type sets
CREATE FUNCTION var_only(VARIADIC "any") RETURNS int LANGUAGE plerl AS $$ return select('#', ...) $$;
SELECT var_only(1), var_only('a', 'b', 'c');
-- a column of pseudo-type anyarray (pg_stats.histogram_bounds) is refused
CREATE TABLE var_hb AS SELECT g AS x FROM generate_series(1, 100) g;
ANALYZE var_hb;
SELECT var_only(histogram_bounds) FROM pg_stats WHERE tablename = 'var_hb' AND attname = 'x';
SELECT var_only(histogram_bounds::text) FROM pg_stats WHERE tablename = 'var_hb' AND attname = 'x';
DROP TABLE var_hb;
CREATE FUNCTION var_any_arg(x "any") RETURNS text LANGUAGE plerl AS $$ return type(x) $$;
SELECT var_any_arg(1), var_any_arg('t'::text), var_any_arg(1.5::numeric);
CREATE FUNCTION var_srf(VARIADIC "any") RETURNS SETOF text LANGUAGE plerl AS $$
  for i = 1, select('#', ...) do coroutine.yield(tostring((select(i, ...)))) end
$$;
SELECT * FROM var_srf('p', 7, 1.25::numeric);
-- Each distinct call's argument types are kept for the session, up to
-- 65536 arguments' worth: calls made up by dynamic SQL (here 700 shapes of
-- 100 arguments) get 54000 instead of growing the backend; a function
-- redefined gives its share back.
CREATE FUNCTION var_shapes() RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
  n int := 0;
BEGIN
  FOR i IN 1..700 LOOP
    n := i;
    EXECUTE format('SELECT var_only(%s)', (SELECT string_agg(CASE WHEN j IN (i % 100 + 1, i / 100 + 1) THEN '''t''::text' ELSE j::text END, ',') FROM generate_series(1, 100) j));
  END LOOP;
  RETURN 'all 700';
EXCEPTION WHEN program_limit_exceeded THEN
  RETURN 'stopped at shape ' || n || ': ' || SQLERRM;
END $f$;
SELECT var_shapes() LIKE 'stopped at shape %: too many distinct argument types in calls of polymorphic and VARIADIC "any" plerl functions in this session' AS limited;
SELECT var_only(1, 2, 3), var_only('x');   -- shapes already kept still work
CREATE OR REPLACE FUNCTION var_only(VARIADIC "any") RETURNS int LANGUAGE plerl AS $$ return select('#', ...) + 0 $$;
SELECT var_only(1, 2, 3, 4);               -- the old definition's share is given back
SELECT var_shapes() LIKE 'stopped at shape %' AS limited_again;
DROP FUNCTION var_shapes();

-- An array function may return several values (elements of the first
-- dimension, nil is NULL) or one value that is no table, string or nil
-- (an array of one element); a string stays the array's text.
CREATE FUNCTION arr_multi() RETURNS int[] LANGUAGE plerl AS $$ return 1, nil, 3 $$;
CREATE FUNCTION arr_rows() RETURNS int[] LANGUAGE plerl AS $$ return {1, 2}, {3, 4} $$;
CREATE FUNCTION arr_one() RETURNS numeric[] LANGUAGE plerl AS $$ return pgtype.numeric('1.50') $$;
CREATE FUNCTION arr_bool() RETURNS boolean[] LANGUAGE plerl AS $$ return false $$;
CREATE FUNCTION arr_text() RETURNS int[] LANGUAGE plerl AS $$ return '{5,6}' $$;
CREATE FUNCTION arr_nil2() RETURNS int[] LANGUAGE plerl AS $$ return nil, nil $$;
SELECT arr_multi(), arr_rows(), arr_one(), arr_bool(), arr_text(), arr_nil2();
-- Each value still follows the element type's rules.
CREATE FUNCTION arr_badone() RETURNS int[] LANGUAGE plerl AS $$ return 1.5 $$;
SELECT arr_badone();
CREATE FUNCTION arr_ragged() RETURNS int[] LANGUAGE plerl AS $$ return {1, 2}, {3} $$;
SELECT arr_ragged();

-- Clean up. This file runs first in the suite (alphabetical order) and
-- base expects to create the extension itself: leave none behind.
SET client_min_messages = warning;
DROP SCHEMA plerl_arrays CASCADE;
DROP EXTENSION plerl CASCADE;
