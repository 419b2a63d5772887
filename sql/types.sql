-- types: scalar types both ways, exactly: int8 and numeric, floats, bytea,
-- json/jsonb, domains, enums, date/time, text I/O for everything else.
-- Quietly: the same output whether an earlier file made the extension.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
CREATE SCHEMA plerl_types;
RESET client_min_messages;
SET search_path = plerl_types, public;
\set VERBOSITY terse

-- int8: a plain number below 2^53, an int64 userdata from there on.
CREATE FUNCTION i8_echo(x int8) RETURNS int8 LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION i8_type(x int8) RETURNS text LANGUAGE plerl AS $$ return type(x) .. ' ' .. tostring(x) $$;
SELECT i8_echo(9223372036854775807) AS max, i8_echo(-9223372036854775808) AS min,
       i8_echo(9007199254740993) AS two53p1, i8_echo(NULL) AS null;
SELECT i8_type(9007199254740991), i8_type(9007199254740992), i8_type(-9223372036854775808);
-- Arithmetic beyond 2^53 is exact; results below it are plain numbers again.
CREATE FUNCTION i8_math(a int8, b int8) RETURNS text LANGUAGE plerl AS $$
  return table.concat({tostring(a + b), tostring(a - b), tostring(a * 3), tostring(-a),
                       tostring(a:div(b)), tostring(a:mod(b)), tostring(a % b),
                       type(a - a), tostring(a - a == 0), tostring(a == a + 0)}, ' ')
$$;
SELECT i8_math(9007199254740993, 2);
SELECT i8_math(-9223372036854775807 / 3, 10);
CREATE FUNCTION i8_add(a int8, b int8) RETURNS int8 LANGUAGE plerl AS $$ return a + b $$;
SELECT i8_add(9223372036854775000, 807), i8_add(9007199254740992, 1), i8_add(-4611686018427387904, -4611686018427387904);
-- Overflow is an error, never a wraparound.
SELECT i8_add(9223372036854775807, 1);
-- Small values are Lua numbers, so a * b is float arithmetic (as in Lua);
-- int64.add/sub/mul are exact for any integers.
CREATE FUNCTION i8_mul(a int8, b int8) RETURNS int8 LANGUAGE plerl AS $$ return int64.mul(a, b) $$;
CREATE FUNCTION i8_mul_float(a int8, b int8) RETURNS int8 LANGUAGE plerl AS $$ return a * b $$;
SELECT i8_mul(3037000499, 3037000499), i8_mul(-9223372036854775807, 1), i8_mul(4294967296, -2147483648);
SELECT i8_mul_float(3037000499, 3037000499);
SELECT i8_mul(3037000500, 3037000500);
SELECT i8_mul(-9223372036854775808, -1);
CREATE FUNCTION i8_div0(a int8) RETURNS int8 LANGUAGE plerl AS $$ return a:div(0) $$;
SELECT i8_div0(9223372036854775807);
-- Comparison: int64 with int64 (and numeric) by operators; with a number,
-- Lua 5.1 compares only userdata of the same kind, so use int64.compare.
CREATE FUNCTION i8_cmp(a int8, b int8) RETURNS text LANGUAGE plerl AS $$
  return table.concat({tostring(a < b), tostring(a <= b), tostring(a == b), tostring(a > b),
                       int64.compare(a, b), int64.compare(a, 1), int64.compare(1, a)}, ' ')
$$;
SELECT i8_cmp(9007199254740993, 9007199254740994), i8_cmp(-9223372036854775808, -9223372036854775808);
-- Constructor, concatenation, conversion, and the float rules.
CREATE FUNCTION i8_ctor() RETURNS text LANGUAGE plerl AS $$
  local big = int64("9223372036854775807")
  return table.concat({'x' .. big, big .. 'y', type(int64(42)), tostring(int64(" -17 ")),
                       tostring(int64.is(big)), tostring(int64.is(1)), tostring(big:tonumber()),
                       tostring(int64.max), tostring(int64.min), tostring(big / 2)}, ' ')
$$;
SELECT i8_ctor();
DO LANGUAGE plerl $$ local x = int64("9223372036854775808") $$;
DO LANGUAGE plerl $$ local x = int64("12abc") $$;
DO LANGUAGE plerl $$ local x = int64(2^53) $$;
DO LANGUAGE plerl $$ local x = int64(1.5) $$;
-- A Lua number returned for int8: exact below 2^53, refused at or beyond it
-- (it may have been rounded), fractions are refused.
CREATE FUNCTION i8_from_float(x float8) RETURNS int8 LANGUAGE plerl AS $$ return x $$;
SELECT i8_from_float(9007199254740991), i8_from_float(-9007199254740991);
SELECT i8_from_float(9007199254740992);
SELECT i8_from_float(1e19);
SELECT i8_from_float(2.5);
CREATE FUNCTION i8_plus_one_float(x int8) RETURNS int8 LANGUAGE plerl AS $$ return x + 1.0 $$;
SELECT i8_plus_one_float(9007199254740990);
SELECT i8_plus_one_float(9007199254740993);
-- Strings and numerics are exact too.
CREATE FUNCTION i8_from_text(x text) RETURNS int8 LANGUAGE plerl AS $$ return x $$;
SELECT i8_from_text('-9223372036854775808');
SELECT i8_from_text('9223372036854775808');
CREATE FUNCTION i8_from_numeric(x numeric) RETURNS int8 LANGUAGE plerl AS $$ return x $$;
SELECT i8_from_numeric(9223372036854775807), i8_from_numeric(-12.000);
SELECT i8_from_numeric(1.5);
SELECT i8_from_numeric(9223372036854775808);
-- Other integer sizes are checked too.
CREATE FUNCTION i4_from_i8(x int8) RETURNS int4 LANGUAGE plerl AS $$ return x $$;
SELECT i4_from_i8(2147483647);
SELECT i4_from_i8(9007199254740993);

-- numeric: always a numeric userdata with every digit; NaN and infinities.
CREATE FUNCTION num_echo(x numeric) RETURNS numeric LANGUAGE plerl AS $$ return x $$;
SELECT num_echo(1234567890.123456789012345678901234567890) AS forty_digits,
       num_echo(-0.000000000000000000000000000000000000000001) AS tiny,
       num_echo(1.500) AS scale_kept, num_echo('NaN'), num_echo('Infinity'), num_echo('-Infinity'),
       num_echo(NULL) AS null;
SELECT num_echo(x) = x AS exact FROM (VALUES (123456789012345678901234567890.123456789::numeric), ('1e-100'::numeric), (0.0)) v(x);
CREATE FUNCTION num_math(a numeric, b numeric) RETURNS text LANGUAGE plerl AS $$
  return table.concat({tostring(a + b), tostring(a - b), tostring(a * b), tostring(a / b),
                       tostring(a:div(b)), tostring(a:mod(b)), tostring(-a), type(a + b)}, ' | ')
$$;
SELECT num_math(12345678901234567890.12345678901234567890, 3);
SELECT num_math(1, 3), num_math(10, 4), num_math(-7.5, 2);
-- The same results as SQL's own operators (division scale included).
CREATE FUNCTION num_ops(a numeric, b numeric) RETURNS numeric[] LANGUAGE plerl AS $$
  return {a + b, a - b, a * b, a / b, a:div(b), a:mod(b)}
$$;
SELECT a, b, num_ops(a, b) = ARRAY[a + b, a - b, a * b, a / b, div(a, b), mod(a, b)] AS same_as_sql
FROM (VALUES (1::numeric, 3::numeric), (2, 7), (1000000, 0.0003), (-5.25, 0.5),
             (123456789012345678901234567890, 987654321.123456789),
             (1e-20, 3), (99999, 1), ('Infinity', 2), ('NaN', 1), (1, 'Infinity')) v(a, b);
CREATE FUNCTION num_div(a numeric, b numeric) RETURNS numeric LANGUAGE plerl AS $$ return a / b $$;
SELECT num_div(1, 0);
SELECT num_div('Infinity', 'Infinity'), num_div(0, '-Infinity');
-- Comparisons follow SQL: NaN equals NaN and sorts last.
CREATE FUNCTION num_cmp(a numeric, b numeric) RETURNS text LANGUAGE plerl AS $$
  return table.concat({tostring(a < b), tostring(a == b), tostring(a <= b),
                       numeric.compare(a, b), numeric.compare(a, 0)}, ' ')
$$;
SELECT num_cmp(1.0, 1.00), num_cmp(2, 10), num_cmp('NaN', 'NaN'), num_cmp('Infinity', 'NaN');
-- Constructor, methods, explicit float conversion.
CREATE FUNCTION num_misc() RETURNS text LANGUAGE plerl AS $$
  local n = numeric("1.23")
  return table.concat({tostring(n), tostring(numeric(0.1)), tostring(numeric(int64("9223372036854775807")) + 1),
                       tostring(n:round(1)), tostring(numeric("-2.5"):round()), tostring(numeric("1234.5678"):round(-2)),
                       tostring(numeric("1.29"):trunc(1)), tostring(numeric("-1.5"):floor()), tostring(numeric("-1.5"):ceil()),
                       tostring(numeric("-3"):abs()), tostring(numeric("1e3")), tostring(numeric(" inf ")),
                       tostring(n:tonumber() + 1), tostring(n:scale()), tostring(numeric("nan"):isnan()),
                       'x' .. n, n .. 'y', tostring(numeric.is(n)), tostring(n + int64("9007199254740993"))}, ' ')
$$;
SELECT num_misc();
DO LANGUAGE plerl $$ local x = numeric("1.2.3") $$;
DO LANGUAGE plerl $$ local x = numeric("1e200000") $$;
-- ^ with an integral exponent, sqrt and sign: the same results as SQL's
-- (scale 16 or the base's, half away from zero; exact, or with guard
-- digits for very long results).
CREATE FUNCTION num_pow(b numeric, e numeric) RETURNS text LANGUAGE plerl AS $$ return tostring(b ^ e) $$;
SELECT b, e, num_pow(b, e) = (b ^ e)::text AS same_as_sql
FROM (VALUES (2.5::numeric, 2::numeric), (-5439.123456, 3), (2, -2), (2, 100), (0.5, 17), (-0.5, 17), (10, -20),
             (9.99, -3), (123.456, -7), (1.00000000000000000001, 2), (0, 0), (-3, 0), (0, 5), (2.50, 2.0),
             (1.000001, 1000000), (0.99, 100000), (-1.1, 2001), (12345.6789, 25)) v(b, e);
CREATE FUNCTION num_sqrt(x numeric) RETURNS text LANGUAGE plerl AS $$ return tostring(numeric.sqrt(x)) .. ' ' .. tostring(x:sign()) $$;
SELECT x, num_sqrt(x) = sqrt(x)::text || ' ' || sign(x)::text AS same_as_sql
FROM (VALUES (2::numeric), (1e-30), (123456789012345678901234567890), (5439.123456), (0), (0.0001), (4), (1e100),
             (3.999999999999999999999), ('Infinity')) v(x);
DO LANGUAGE plerl $$
  print(numeric(2) ^ 3, numeric('1.5') ^ int64('3'), numeric('-2'):sign(), numeric('nan'):sign(), numeric('2'):sqrt())
  for _, bad in ipairs({{'2', '0.5'}, {'0', '-1'}, {'2', 'nan'}, {'inf', '2'}, {'10', '200000'}, {'2', '3000000000'}}) do
    local ok, e = pcall(function() return numeric(bad[1]) ^ numeric(bad[2]) end)
    print(bad[1], bad[2], ok, e.sqlstate, e.message)
  end
  print(pcall(numeric.sqrt, numeric('-1')))
$$;
DO LANGUAGE plerl $$ local x = numeric(1) < 2 $$;
-- Lua numbers returned for numeric: their shortest exact form; refused at
-- or beyond 2^53 (may have been rounded); NaN and infinities pass.
CREATE FUNCTION num_from_float(x float8) RETURNS numeric LANGUAGE plerl AS $$ return x $$;
SELECT num_from_float(0.1), num_from_float(-2.5e-10), num_from_float(123456789), num_from_float('NaN'), num_from_float('-Infinity');
SELECT num_from_float(1e16);
CREATE FUNCTION num_from_text(x text) RETURNS numeric LANGUAGE plerl AS $$ return x $$;
SELECT num_from_text('3.14159265358979323846264338327950288419716939937510');
CREATE TABLE num_typmod (v numeric(5,2));
CREATE FUNCTION num_third(x numeric) RETURNS numeric LANGUAGE plerl AS $$ return x / 3 $$;
INSERT INTO num_typmod VALUES (num_third(10));
SELECT v FROM num_typmod;

-- float4 and float8 at their edges.
CREATE FUNCTION f8_echo(x float8) RETURNS float8 LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION f4_echo(x float4) RETURNS float4 LANGUAGE plerl AS $$ return x $$;
SELECT f8_echo(1.7976931348623157e308) AS max, f8_echo(2.2250738585072014e-308) AS min_normal,
       f8_echo(4.9e-324) AS min_sub, f8_echo('-0') AS neg_zero, f8_echo(0.1) AS point_one,
       f8_echo('Infinity'), f8_echo('-Infinity'), f8_echo('NaN');
SELECT f4_echo(3.4028235e38) AS max, f4_echo(1.4e-45) AS min_sub, f4_echo('-0') AS neg_zero,
       f4_echo(0.1) AS point_one, f4_echo('Infinity'), f4_echo('NaN');
CREATE FUNCTION f4_from(x float8) RETURNS float4 LANGUAGE plerl AS $$ return x $$;
SELECT f4_from(1e39);
SELECT f4_from(1e-50);
CREATE FUNCTION f8_from_int8(x int8) RETURNS float8 LANGUAGE plerl AS $$ return x $$;
SELECT f8_from_int8(9223372036854775807), f8_from_int8(3);
CREATE FUNCTION f8_from_num(x numeric) RETURNS float8 LANGUAGE plerl AS $$ return x $$;
SELECT f8_from_num(0.1), f8_from_num('NaN'), f8_from_num(1e400);

-- bytea: a Lua byte string, any bytes, NUL included.
CREATE FUNCTION bytes_echo(b bytea) RETURNS bytea LANGUAGE plerl AS $$ return b $$;
CREATE FUNCTION bytes_info(b bytea) RETURNS text LANGUAGE plerl AS $$
  local codes = {}
  for i = 1, #b do codes[i] = string.byte(b, i) end
  return #b .. ':' .. table.concat(codes, ',')
$$;
SELECT bytes_echo('\x00ff00fe0a'::bytea), bytes_info('\x00ff00fe0a'::bytea), bytes_echo(''::bytea), bytes_echo(NULL);
CREATE FUNCTION bytes_make() RETURNS bytea LANGUAGE plerl AS $$ return 'a\0b\255' .. string.char(0) $$;
SELECT bytes_make();
SELECT bytes_echo(decode(repeat('00ff', 50000), 'hex')) = decode(repeat('00ff', 50000), 'hex') AS big_roundtrip;

-- json and jsonb: Lua tables. Objects are plain tables, arrays are marked
-- (json.isarray), null is the null sentinel; numbers keep their digits.
CREATE FUNCTION jb_echo(j jsonb) RETURNS jsonb LANGUAGE plerl AS $$ return j $$;
CREATE FUNCTION js_echo(j json) RETURNS json LANGUAGE plerl AS $$ return j $$;
SELECT jb_echo('{"a": 1, "b": [1, 2.5, "x", null, true, false], "c": {}, "d": [], "e": {"f": [[]]}}');
SELECT js_echo('{"b": [1, {}, []], "a": null}');
SELECT jb_echo('[]'), jb_echo('{}'), jb_echo('12'), jb_echo('true'), jb_echo(NULL);
-- A string result is JSON text, and null is SQL NULL: a top-level JSON
-- string or null needs json.encode to come back as one.
SELECT jb_echo('null') IS NULL AS sql_null;
SELECT jb_echo('"s"');
CREATE FUNCTION jb_echo_enc(j jsonb) RETURNS jsonb LANGUAGE plerl AS $$ return json.encode(j) $$;
SELECT jb_echo_enc('"s"'), jb_echo_enc('null'), jb_echo_enc('{"a": [1, null]}');
-- Big and precise numbers survive both ways.
SELECT jb_echo('[9223372036854775807, -9223372036854775808, 9007199254740993, 123456789012345678901234567890, 0.1, 3.141592653589793238462643383279, 1e-30, 1.5e300]');
CREATE FUNCTION jb_kinds(j jsonb) RETURNS text LANGUAGE plerl AS $$
  local out = {}
  for i, v in ipairs(j) do
    local t = type(v)
    if int64.is(v) then t = 'int64' elseif numeric.is(v) then t = 'numeric' elseif v == null then t = 'null' end
    out[i] = t
  end
  return table.concat(out, ' ')
$$;
SELECT jb_kinds('[1, 9007199254740993, 123456789012345678901234567890, 0.5, 0.1000000000000000000001, null, "s", true, [], {}]');
CREATE FUNCTION jb_shape(j jsonb) RETURNS text LANGUAGE plerl AS $$
  return tostring(json.isarray(j.arr)) .. ' ' .. tostring(json.isarray(j.obj)) .. ' ' .. #j.arr .. ' ' ..
         tostring(j.arr[2] == null) .. ' ' .. tostring(j.obj.k == null) .. ' ' .. tostring(j.missing)
$$;
SELECT jb_shape('{"arr": [1, null, 3], "obj": {"k": null}}');
-- Returning tables: arrays when marked or keyed 1..n, objects otherwise
-- (keys sorted); a string is parsed as JSON text; nil is SQL NULL.
CREATE FUNCTION jb_make() RETURNS jsonb LANGUAGE plerl AS $$
  return {list = {1, 2, 3}, empty_obj = {}, empty_arr = json.array(), forced = json.object({1, 2}),
          holes = json.array({1, nil, 3}), n = null, big = int64("9223372036854775807"),
          exact = numeric("0.10000000000000000001"), f = 0.5, nested = {{a = 1}, {b = {true, false}}},
          [10] = 'numeric key'}
$$;
SELECT jb_make();
CREATE FUNCTION js_make() RETURNS json LANGUAGE plerl AS $$ return {b = 1, a = {2, 'x"y\n'}} $$;
SELECT js_make();
CREATE FUNCTION jb_text(t text) RETURNS jsonb LANGUAGE plerl AS $$ return t $$;
SELECT jb_text('{"from": "text"}'), jb_text('null'), jb_text(NULL);
SELECT jb_text('{bad json');
CREATE FUNCTION jb_scalar(k text) RETURNS jsonb LANGUAGE plerl AS $$
  if k == 'num' then return 42.5 elseif k == 'bool' then return true
  elseif k == 'null' then return null else return int64("-9223372036854775808") end
$$;
SELECT jb_scalar('num'), jb_scalar('bool'), jb_scalar('null') IS NULL AS sql_null, jb_scalar('big');
CREATE FUNCTION jb_bad(k text) RETURNS jsonb LANGUAGE plerl AS $$
  if k == 'nan' then return {x = 0/0} elseif k == 'fn' then return {f = print}
  elseif k == 'key' then return {[true] = 1} else local t = {}; t.self = t; return t end
$$;
SELECT jb_bad('nan');
SELECT jb_bad('fn');
SELECT jb_bad('key');
SELECT jb_bad('cycle');
-- json.encode / json.decode are there for Lua code too.
DO LANGUAGE plerl $$
  local v = json.decode('{"a": [1, 2, {"b": null}], "big": 18446744073709551616}')
  print(json.encode(v), numeric.is(v.big), json.encode(json.decode('[]')), json.encode({}))
$$;
DO LANGUAGE plerl $$ json.decode('[1, 2') $$;

-- Domains: arguments arrive as their base type; results are checked.
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN shorttext AS text CHECK (length(VALUE) < 5);
CREATE DOMAIN nn_num AS numeric NOT NULL;
CREATE FUNCTION dom_pos(x int) RETURNS posint LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION dom_short(x text) RETURNS shorttext LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION dom_nn(x numeric) RETURNS nn_num LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION dom_in(x posint) RETURNS text LANGUAGE plerl AS $$ return type(x) .. ' ' .. x $$;
SELECT dom_pos(5), dom_short('abc'), dom_nn(1.5), dom_in(7);
SELECT dom_pos(-1);
SELECT dom_short('too long');
SELECT dom_nn(NULL);
CREATE FUNCTION dom_pos_str() RETURNS posint LANGUAGE plerl AS $$ return '0' $$;
SELECT dom_pos_str();

-- Enums are strings.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE FUNCTION mood_next(m mood) RETURNS mood LANGUAGE plerl AS $$
  return ({sad = 'ok', ok = 'happy', happy = 'happy'})[m]
$$;
SELECT mood_next('sad'), mood_next('ok'), pg_typeof(mood_next('happy'));
CREATE FUNCTION mood_bad() RETURNS mood LANGUAGE plerl AS $$ return 'angry' $$;
SELECT mood_bad();

-- Date and time types are strings in ISO 8601 form whatever DateStyle says
-- (intervals in the postgres style); strings come back through the input
-- function. This session uses DateStyle 'Postgres, MDY' (pg_regress).
SET timezone = 'UTC';
SHOW DateStyle;
CREATE FUNCTION dt_text(d date, t timestamp, tz timestamptz, i interval, tm time) RETURNS text LANGUAGE plerl AS $$
  return table.concat({d, t, tz, i, tm}, ' | ')
$$;
SELECT dt_text('2024-02-29', '2024-02-29 13:45:00.123456', '2024-02-29 13:45:00+02', '1 day 02:03:04', '23:59:59');
CREATE FUNCTION dt_next_day(d date) RETURNS date LANGUAGE plerl AS $$
  local y, m, dd = d:match('(%d+)-(%d+)-(%d+)')
  return os.date('!%Y-%m-%d', os.time{year = y, month = m, day = dd + 1, hour = 12})
$$;
SELECT dt_next_day('2024-02-28'), dt_next_day('2023-12-31');
CREATE FUNCTION dt_range(r tstzrange, ds date[]) RETURNS text LANGUAGE plerl AS $$ return r .. ' ' .. table.concat(ds, ',') $$;
SELECT dt_range('[2024-01-01 00:00+00,2024-02-01 00:00+00)', '{2024-01-01,2024-12-31}');
CREATE FUNCTION ts_from(s text) RETURNS timestamptz LANGUAGE plerl AS $$ return s $$;
SELECT ts_from('2024-01-02 03:04:05+00'), ts_from('infinity');
RESET timezone;

-- Any other type goes through its text form both ways.
CREATE FUNCTION inet_echo(a inet) RETURNS inet LANGUAGE plerl AS $$ return a $$;
CREATE FUNCTION uuid_echo(u uuid) RETURNS uuid LANGUAGE plerl AS $$ return u:upper() $$;
CREATE FUNCTION point_x(p point) RETURNS text LANGUAGE plerl AS $$ return type(p) .. ' ' .. p $$;
SELECT inet_echo('192.168.0.1/24'), uuid_echo('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), point_x('(1,2)');
CREATE FUNCTION money_from() RETURNS money LANGUAGE plerl AS $$ return 12.5 $$;
SELECT money_from();
CREATE FUNCTION inet_bad() RETURNS inet LANGUAGE plerl AS $$ return 'not an address' $$;
SELECT inet_bad();
-- Booleans follow Lua truthiness; text results format numbers exactly.
CREATE FUNCTION bool_of(k int) RETURNS boolean LANGUAGE plerl AS $$
  return ({true, false, 0, 'f', nil})[k]
$$;
SELECT bool_of(1), bool_of(2), bool_of(3), bool_of(4), bool_of(5);
CREATE FUNCTION text_of(k int) RETURNS text LANGUAGE plerl AS $$
  return ({1e15, 2^53, 0.1, int64("9223372036854775807"), numeric("1.10"), true})[k]
$$;
SELECT text_of(1), text_of(2), text_of(3), text_of(4), text_of(5), text_of(6);

SET client_min_messages = warning;
DROP SCHEMA plerl_types CASCADE;
