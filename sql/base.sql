-- base: the foundation: functions, DO blocks, validator, first types, errors.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY default

CREATE FUNCTION add1(x int) RETURNS int LANGUAGE plerl AS $$ return x + 1 $$;
SELECT add1(41);
CREATE FUNCTION add1s(x int) RETURNS int STRICT LANGUAGE plerl AS $$ return x + 1 $$;
SELECT add1s(NULL) IS NULL AS strict_null;
CREATE FUNCTION is_nil(x int) RETURNS boolean LANGUAGE plerl AS $$ return x == nil $$;
SELECT is_nil(NULL), is_nil(1);

DO LANGUAGE plerl $$ print('hello') $$;
DO LANGUAGE plerl $$ print('a', 1, 2.5, true, nil) $$;

-- The validator compiles at CREATE time: a syntax error names the Lua line.
CREATE FUNCTION bad_syntax() RETURNS int LANGUAGE plerl AS $$
  local x = 1
  return x +
$$;
CREATE FUNCTION bad_syntax2() RETURNS int LANGUAGE plerl AS $$
  local x = = 1
$$;
SELECT count(*) FROM pg_proc WHERE proname LIKE 'bad_syntax%';
-- check_function_bodies = off skips the compile (pg_dump restores that way).
SET check_function_bodies = off;
CREATE FUNCTION unchecked() RETURNS int LANGUAGE plerl AS $$ return ( $$;
RESET check_function_bodies;
SELECT unchecked();

-- Types of the foundation, both ways.
CREATE FUNCTION echo_bool(b boolean) RETURNS boolean LANGUAGE plerl AS $$ return b $$;
CREATE FUNCTION echo_i2(x int2) RETURNS int2 LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION echo_i4(x int4) RETURNS int4 LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION echo_f4(x float4) RETURNS float4 LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION echo_f8(x float8) RETURNS float8 LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION echo_text(x text) RETURNS text LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION echo_vc(x varchar) RETURNS varchar LANGUAGE plerl AS $$ return x $$;
SELECT echo_bool(true), echo_bool(false), echo_bool(NULL);
SELECT echo_i2((-32768)::int2), echo_i2(32767::int2), echo_i4(-2147483648), echo_i4(2147483647);
SELECT echo_f4(1.5::float4), echo_f8(1e308), echo_f8('-Infinity'), echo_f8('NaN');
SELECT echo_text('héllo wörld'), echo_text(''), echo_vc('abc');
SELECT echo_text(repeat('x', 100000)) = repeat('x', 100000) AS long_text;

CREATE FUNCTION ret_void() RETURNS void LANGUAGE plerl AS $$ return 42 $$;
SELECT ret_void();
-- Results are checked, never silently rounded or wrapped.
CREATE FUNCTION ret_int(x float8) RETURNS int LANGUAGE plerl AS $$ return x $$;
SELECT ret_int(7);
SELECT ret_int(7.5);
SELECT ret_int(3e9);
CREATE FUNCTION ret_i2(x int) RETURNS int2 LANGUAGE plerl AS $$ return x $$;
SELECT ret_i2(40000);
CREATE FUNCTION ret_str_int() RETURNS int LANGUAGE plerl AS $$ return ' 12 ' $$;
SELECT ret_str_int();
CREATE FUNCTION ret_table_text() RETURNS text LANGUAGE plerl AS $$ return {} $$;
SELECT ret_table_text();
CREATE FUNCTION ret_num_text() RETURNS text LANGUAGE plerl AS $$ return 1e15 + 0.5 $$;
SELECT ret_num_text();
CREATE FUNCTION ret_nul_text() RETURNS text LANGUAGE plerl AS $$ return 'a\0b' $$;
SELECT ret_nul_text();
CREATE FUNCTION ret_bad_utf8() RETURNS text LANGUAGE plerl AS $$ return '\255\254' $$;
SELECT ret_bad_utf8();

-- Named arguments and ...
CREATE FUNCTION named(a int, b text) RETURNS text LANGUAGE plerl AS $$ return b .. a $$;
SELECT named(1, 'x'), named(b => 'y', a => 2);
CREATE FUNCTION unnamed(int, int) RETURNS int LANGUAGE plerl AS $$ local a, b = ...; return a * b $$;
SELECT unnamed(6, 7);
CREATE FUNCTION mixed(a int, int, c int) RETURNS text LANGUAGE plerl AS $$
  return table.concat({a, select(2, ...), c, select('#', ...)}, ',')
$$;
SELECT mixed(1, 2, 3);

-- CREATE OR REPLACE takes effect at once in this session.
CREATE FUNCTION version_fn() RETURNS int LANGUAGE plerl AS $$ return 1 $$;
SELECT version_fn();
CREATE OR REPLACE FUNCTION version_fn() RETURNS int LANGUAGE plerl AS $$ return 2 $$;
SELECT version_fn();

-- Errors: message, SQLSTATE and a Lua traceback in CONTEXT.
CREATE FUNCTION boom() RETURNS int LANGUAGE plerl AS $$
  local function inner() error('boom') end
  inner()
$$;
SELECT boom();
CREATE FUNCTION boom_obj() RETURNS int LANGUAGE plerl AS $$
  error{sqlstate = '22012', message = 'custom division', detail = 'the detail', hint = 'the hint'}
$$;
SELECT boom_obj();
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION boom_nil() RETURNS int LANGUAGE plerl AS $$ error() $$;
SELECT boom_nil();
CREATE FUNCTION boom_badstate() RETURNS int LANGUAGE plerl AS $$ error{sqlstate='nope', message='x'} $$;
SELECT boom_badstate();
CREATE FUNCTION runtime_err() RETURNS int LANGUAGE plerl AS $$ local t = nil; return t.x $$;
SELECT runtime_err();
-- The session is fine after errors.
SELECT add1(1);

-- pcall catches Lua errors; error objects keep their fields.
CREATE FUNCTION catch() RETURNS text LANGUAGE plerl AS $$
  local ok, e = pcall(error, {sqlstate = 'P0001', message = 'caught'})
  local ok2, e2 = pcall(function() error('plain') end)
  return tostring(ok) .. ' ' .. e.message .. ' ' .. tostring(ok2) .. ' ' .. e2
$$;
SELECT catch();

-- elog family.
DO LANGUAGE plerl $$
  elog.notice('a notice', {detail = 'some detail', hint = 'a hint'})
  elog.warning('a warning')
  elog.info('info')
  elog.debug('not shown at the default level')
$$;
DO LANGUAGE plerl $$ elog.error('failed', {sqlstate = '22023', detail = 'why'}) $$;
