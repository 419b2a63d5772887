-- pgtype: pllua's namespace of typed values. Its date and time
-- constructors are datetime.*'s values built from pllua's table forms.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set VERBOSITY terse

-- Table forms: astronomical years (0 is 1 BC), msec/usec added, fields
-- normalised as time arithmetic does, every epoch form.
DO LANGUAGE plerl $$
  print(pgtype.timestamptz{ year=2024, month=2, day=29, hour=13, min=45, sec=6.5 })
  print(pgtype.timestamptz{ year=-99, month=3, day=1, hour=0, min=0, sec=0 })
  print(pgtype.timestamp{ year=0, month=12, day=31, hour=23, min=59, sec=59, msec=999, usec=999 })
  print(pgtype.timestamp{ year=2024, month=14, day=1, hour=-1, min=0, sec=0 })
  print(pgtype.timestamptz{ epoch=1709214306 }, pgtype.timestamptz{ epoch_msec=-1001 },
        pgtype.timestamptz{ epoch_usec=1 }, pgtype.timestamptz{ epoch=0, msec=-1, usec=2 })
  print(pgtype.timestamptz{ epoch=1/0 }, pgtype.date{ epoch=-1/0 })
  print(pgtype.date{ year=2024, month=2, day=29, hour=24 }, pgtype.date{ year=2024, month=2, day=29, hour=24, min=1 })
  print(pgtype.time{ hour=25, min=0 }, pgtype.time{ epoch=86401 })
  print(pgtype.interval{ year=1, month=2, day=3, hour=4, min=5, sec=6, usec=7 }, pgtype.interval{ epoch=90061.5 })
  print(pgtype.date('2024-02-29') == datetime.date('2024-02-29'), pgtype.interval('1 day'):type())
$$;

-- Time zones per value: seconds east, numeric text, tz database names,
-- isdst for the hour that happens twice.
DO LANGUAGE plerl $$
  print(pgtype.timestamptz{ year=2024, month=7, day=1, hour=12, min=0, timezone=7200 })
  print(pgtype.timestamptz{ year=2024, month=7, day=1, hour=12, min=0, timezone="-0530" })
  print(pgtype.timestamptz{ year=2024, month=7, day=1, hour=12, min=0, timezone="America/New_York" })
  print(pgtype.timestamptz{ year=2024, month=10, day=27, hour=1, min=30, timezone="Europe/London" })
  print(pgtype.timestamptz{ year=2024, month=10, day=27, hour=1, min=30, isdst=true, timezone="Europe/London" })
  print(pgtype.timestamptz{ year=2024, month=10, day=27, hour=1, min=30, isdst=false, timezone="Europe/London" })
  print(pgtype.timestamp{ epoch=1719835200, timezone="Asia/Kathmandu" }, pgtype.date{ epoch=1719792000, timezone="America/Los_Angeles" })
$$;

-- Bad fields: each names the problem.
DO LANGUAGE plerl $$ print(pgtype.interval{ hour="x" }) $$;
DO LANGUAGE plerl $$ print(pgtype.interval{ min=1.5 }) $$;
DO LANGUAGE plerl $$ print(pgtype.interval{ day=0/0 }) $$;
DO LANGUAGE plerl $$ print(pgtype.interval{ sec=1/0 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamp{ epoch=1, epoch_usec=1 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamp{ epoch=1, day=1 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamp{ epoch=1, min=1 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamp{ year=2024, day=1 }) $$;
DO LANGUAGE plerl $$ print(pgtype.date{ year=2024, month=1 }) $$;
DO LANGUAGE plerl $$ print(pgtype.time{ sec=1 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamp{ year=2024, month=1, day=1, hour=1, sec=1 }) $$;
DO LANGUAGE plerl $$ print(pgtype.time{ hour=1, min=0, timezone=0 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamp{ year=2024, month=1, day=1, timezone=0 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamptz{ epoch=0, timezone="Nowhere/Special" }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamptz{ epoch=0, timezone=0.5 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamptz{ epoch=0, timezone={} }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamptz{ epoch=-300000000000 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamptz{ year=-5000, month=1, day=1 }) $$;
DO LANGUAGE plerl $$ print(pgtype.date{ year=1e300, month=1, day=1 }) $$;

-- tostring (and print) of rows and arrays gives PostgreSQL's text of them
-- (record_out, array_out), whatever their origin: SPI, arguments, triggers.
SET datestyle = 'Postgres, MDY';
CREATE TYPE pgt_pair AS (n integer, tags text[]);
DO LANGUAGE plerl $$
  local r = spi.execute([[SELECT 1 AS a, 'x y' AS b, NULL::int AS c, ARRAY[1.5, NULL] AS d,
                                 date '2024-02-29' AS e, ROW(2, ARRAY['p','q r'])::pgt_pair AS f]])[1]
  print(r)
  print(r.d, r.f, r.f.tags)
  r.a = 42; r.c = 7
  print(tostring(r))
  for _, row in ipairs(spi.execute("SELECT g, g * 2 AS h FROM generate_series(1, 2) g")) do print(row) end
$$;
CREATE FUNCTION pgt_args(p pgt_pair, a integer[], b text[], c date[]) RETURNS text LANGUAGE plerl AS $$
  print(p, a, b, c)
  return tostring(p) .. ' ' .. tostring(a)
$$;
SELECT pgt_args(ROW(1, '{"a,b",NULL}'), '{{1,2},{3,4}}', '[0:1]={x,y}', ARRAY[date '2001-02-03']);
SELECT pgt_args(NULL, '{}', NULL, NULL);
-- A changed row prints as changed; a field that cannot be its column's
-- type is an error, as when the row is returned.
DO LANGUAGE plerl $$
  local r = spi.execute("SELECT 1 AS a")[1]
  r.a = 'not a number'
  print(r)
$$;
CREATE TABLE pgt_trig (id integer, name text, at timestamp);
CREATE FUNCTION pgt_trig() RETURNS trigger LANGUAGE plerl AS $$
  print(trigger.op, old, new)
$$;
CREATE TRIGGER pgt_trig BEFORE INSERT OR UPDATE OR DELETE ON pgt_trig FOR EACH ROW EXECUTE FUNCTION pgt_trig();
INSERT INTO pgt_trig VALUES (1, 'a "b"', '2024-02-29 12:00');
UPDATE pgt_trig SET name = NULL;
DELETE FROM pgt_trig;
-- Tables that are no row or array of SQL stay plain tables.
DO LANGUAGE plerl $$
  print(tostring({}):match('^table: ') ~= nil, tostring(json.decode('[1,2]')):match('^table: ') ~= nil)
$$;
RESET datestyle;

-- Types by name: pgtype.<name>, pgtype.array.<element>, pgtype(nil, 'name'),
-- and pgtype(v) for a value that remembers its type. Calling one makes a
-- value as a result of that type would be made (input functions, typmods,
-- domains checked).
CREATE TYPE pgt_c3 AS (a integer, b numeric);
CREATE DOMAIN pgt_small AS integer CHECK (VALUE < 10);
DO LANGUAGE plerl $$
  print(pgtype.pgt_c3(1, 2.5), pgtype.pgt_c3{ b = '7' }, pgtype.pgt_c3(), pgtype.pgt_c3(nil))
  print(pgtype(nil, 'pgt_c3')('1', '2'), pgtype(nil, 'public.pgt_c3')(3, nil))
  local r = pgtype.pgt_c3(4, 5)
  r.a = 40
  print(r, pgtype(r)(6, 7), tostring(pgtype(r)):match('^pgtype'))
  print(pgtype.array.integer(10, nil, 30), pgtype.array.text({ 'a', 'b c' }), pgtype(nil, 'varchar(3)[]')('ab', 'cde'))
  print(pgtype.integer('12') + 1, pgtype.numeric('1.50'), pgtype.pgt_small(9), pgtype(nil, 'date')('2024-02-29'))
  print(pgtype.int4range(1, 5), pgtype.int4range(1, 5, '(]'), pgtype.int4range(nil, 5), pgtype.int4range(),
        pgtype.int4range('[3,4]'), pgtype.tstzrange('2024-01-01', nil))
  print(pgtype(spi.execute("SELECT 1 AS x")[1])({ x = 5 }), pgtype({}), pgtype(1))
$$;
-- A type is one object per session and role: types compare with == and
-- are table keys, across calls too; numeric and int64 values know theirs.
DO LANGUAGE plerl $$
  _G.pgt_keys = { [pgtype.numeric] = 'numeric', [pgtype.pgt_c3] = 'pgt_c3', [pgtype.array.integer] = 'int[]' }
$$;
DO LANGUAGE plerl $$
  local r = spi.execute([[SELECT 2.5::numeric AS n, 9007199254740993::bigint AS b, 7::bigint AS s,
                                 ROW(1, 2)::pgt_c3 AS c, ARRAY[1, 2] AS a]])[1]
  print(pgt_keys[pgtype(r.n)], pgt_keys[pgtype(r.c)], pgt_keys[pgtype(r.a)], pgt_keys[pgtype(pgtype.numeric(1))])
  print(pgtype(r.b), pgtype(r.b) == pgtype.int8, pgtype(r.s), pgtype(r.n) == pgtype(nil, 'numeric'))
  print(pgtype.int4 == pgtype.integer, pgtype.int4 == pgtype.int8, pgtype(r.c) == pgtype.pgt_c3, pgtype.array.integer == pgtype(nil, 'integer[]'))
$$;
-- A(t, d1, d2, ...): an array of the given dimensions read from t (missing
-- elements are NULL); arrays of json and jsonb take t and numbers as elements.
DO LANGUAGE plerl $$
  local a = pgtype.array.integer({{{1, 2}}, {{3, 4}}, {{5, 6}}}, 3, 1, 2)
  print(a, #a, #a[1], #a[1][1], a[3][1][2])
  print(pgtype.array.integer({1, nil, 3}, 4), pgtype.array.text({}, 2, 2), pgtype.array.integer({5}, 0),
        pgtype.array.integer({{1, 2, 3}, {4}}, 2, 2), pgtype.array.jsonb({a = 1}, 3))
  for _, bad in ipairs({{{1}, 1.5}, {{1}, -1}, {{1}, 1, 1, 1, 1, 1, 1, 1}, {{1, 2}, 2, 2}, {{1}, 65536, 65536}}) do
    local ok, e = pcall(pgtype.array.integer, unpack(bad))
    print(ok, e.sqlstate, e.message)
  end
$$;
-- Two numbers that ask for 2^24 elements: refused before any is made
-- (their memory is checked first), not after seconds past the limit.
DO LANGUAGE plerl $$
  local ok, e = pcall(pgtype.array.integer, {}, 4096, 4096)
  print(ok, e.sqlstate, e.message)
$$;
DO LANGUAGE plerl $$ print(pgtype.pgt_c3(1)) $$;
-- A scalar type takes one value: more is an error, never ignored.
DO LANGUAGE plerl $$ print(pgtype.integer(1, 2)) $$;
DO LANGUAGE plerl $$ print(pgtype.jsonb({a = 1}, {null = false})) $$;
DO LANGUAGE plerl $$ print(pgtype.pgt_c3(true, 1)) $$;
DO LANGUAGE plerl $$ print(pgtype.pgt_small(10)) $$;
DO LANGUAGE plerl $$ print(pgtype(nil, 'varchar(3)[]')('abcd')) $$;
DO LANGUAGE plerl $$ print(pgtype.no_such_type) $$;
DO LANGUAGE plerl $$ print(pgtype(nil, 'anyelement')) $$;
DO LANGUAGE plerl $$ print(pgtype(nil, 'integer; drop table x')) $$;
DO LANGUAGE plerl $$ print(pgtype.int4range(1, 2, '<>')) $$;
DO LANGUAGE plerl $$ print(pgtype.int4range(2, 1)) $$;
-- A type's name is looked up once per call: within one call a name keeps
-- its meaning; the next call sees the catalog as it is then.
CREATE FUNCTION pgt_name() RETURNS text LANGUAGE plerl AS $$ return tostring(pgtype.pgt_later(1)) $$;
SELECT pgt_name();
CREATE TYPE pgt_later AS (z integer);
SELECT pgt_name();

-- pgtype(nil, n): the type of argument n as this call resolved it (0: the
-- result); T:name(), T:element().
CREATE FUNCTION pgt_argtypes(a anyelement, b pgt_small, c pgt_c3[]) RETURNS pgt_c3[] LANGUAGE plerl AS $$
  print(pgtype(nil, 1):name(), pgtype(nil, 2):name(), pgtype(nil, 3):name(), pgtype(nil, 0):name(),
        pgtype(nil, 3):element():name(), pgtype(nil, 2):element(), tostring(pgtype(a)))
  return { pgtype(nil, 0):element()(1, 2) }
$$;
SELECT pgt_argtypes(1.5, 3, NULL), pgt_argtypes(date '2024-02-29', 3, NULL);
CREATE FUNCTION pgt_noarg() RETURNS integer[] LANGUAGE plerl AS $$ return pgtype(nil, 0)() $$;
SELECT pgt_noarg();
CREATE FUNCTION pgt_badarg() RETURNS integer LANGUAGE plerl AS $$ return pgtype(nil, 2) $$;
SELECT pgt_badarg();
DO LANGUAGE plerl $$ print(pgtype(nil, 1)) $$;
-- spi.prepare takes type objects for its parameter types.
DO LANGUAGE plerl $$
  local p = spi.prepare("SELECT $1 AS a, pg_typeof($1)::text AS t, $2 AS c", { pgtype.array.integer, pgtype(nil, 'pgt_c3') })
  local r = p:execute(pgtype.array.integer(1, nil, 3), pgtype.pgt_c3(1, 2))[1]
  print(r, r.a, r.t, r.c)
$$;
DO LANGUAGE plerl $$ spi.prepare("SELECT $1", { 42 }) $$;

-- Ranges are values: their text (canonical as the range type makes it)
-- and their parts, read by the range type itself.
CREATE TYPE pgt_floatrange AS RANGE (subtype = float8);
CREATE DOMAIN pgt_posrange AS int4range CHECK (lower(VALUE) > 0);
DO LANGUAGE plerl $$
  local function parts(r)
    return tostring(r), type(r.lower), r.lower, r.upper, r.lower_inc, r.upper_inc, r.lower_inf, r.upper_inf, r.isempty
  end
  print(parts(pgtype.int4range(1, 5, '(]')))
  print(parts(pgtype.int4range('[3,3)')))
  print(parts(pgtype.int4range()))
  print(parts(pgtype.numrange('(1.50,)')))
  print(parts(pgtype.numrange(nil, 2.5, '[]')))
  print(parts(pgtype.daterange('2024-02-28', '2024-02-29', '[]')))
  print(parts(pgtype.tstzrange('2024-01-01 10:00+00', nil)))
  print(parts(pgtype.pgt_floatrange(-1.5, 0.25)))
  print(parts(pgtype.pgt_posrange(1, 3, '[]')))
  print(parts(pgtype(nil, 'int8range')('[9007199254740993,)')))
$$;
-- A Lua number as a bound keeps every digit (as a parameter would), not
-- the 14 significant digits of its text in tostring.
DO LANGUAGE plerl $$
  print(pgtype.pgt_floatrange(0.1 + 0.2, 1/3), pgtype.numrange(0.1234567890123456789, 2^53))
  print(spi.execute('SELECT $1::float8 = 1/3::float8 AS same', pgtype.pgt_floatrange(1/3, 1).lower)[1].same)
$$;
-- Type, equality, rebuilding, and round trips to SQL (parameters, results).
CREATE FUNCTION pgt_range_out(a integer, b integer) RETURNS int4range LANGUAGE plerl AS $$
  return pgtype.int4range(a, b, '[]')
$$;
SELECT pgt_range_out(1, 4), pgt_range_out(1, 4) = int4range(1, 5), pgt_range_out(4, 4);
CREATE FUNCTION pgt_range_text() RETURNS text LANGUAGE plerl AS $$ return pgtype.numrange(1, 2) $$;
SELECT pgt_range_text();
DO LANGUAGE plerl $$
  local a = pgtype.int4range(1, 5, '(]')
  print(pgtype(a), pgtype.int4range(a), a == pgtype.int4range('[2,6)'), a == pgtype.int4range(2, 7), 'r=' .. a)
  local r = spi.execute('SELECT $1::int4range * int4range(3, 10) AS r, pg_typeof($1)::text AS t', a)[1]
  print(r.r, r.t)
  local p = spi.prepare('SELECT upper($1) AS u', { pgtype.daterange })
  print(p:execute(pgtype.daterange('2024-01-01', '2024-02-01'))[1].u)
$$;
-- Ranges from SQL are the same values: arguments, arrays, rows, SPI
-- results; they go back unchanged, and are their text in JSON, in
-- table.concat and for text results.
CREATE TABLE pgt_rt (id integer, r numrange, ds daterange[]);
INSERT INTO pgt_rt VALUES (1, '(1.5,2]', '{"[2024-01-01,2024-01-05)",empty}'), (2, NULL, '{}');
CREATE FUNCTION pgt_range_in(r int8range, rs int4range[]) RETURNS int8range LANGUAGE plerl AS $$
  if r == nil then return nil end
  print(r, type(r), r.lower, r.upper_inf, pgtype(r), rs[1].upper, rs[2].isempty, rs, table.concat({ r, rs[1] }, ' '))
  return r
$$;
SELECT pgt_range_in('[5,)', ARRAY[int4range(1, 3), 'empty']), pgt_range_in(NULL, NULL) IS NULL;
CREATE FUNCTION pgt_range_tr() RETURNS trigger LANGUAGE plerl AS $$
  local n = trigger.new
  print(n.r, n.r and n.r.lower, n.ds[1] and n.ds[1].upper, json.encode({ r = n.r, ds = n.ds }))
  if n.r then n.r = pgtype.numrange(n.r.lower, 10) end
  return n
$$;
CREATE TRIGGER pgt_range_tr BEFORE UPDATE ON pgt_rt FOR EACH ROW EXECUTE FUNCTION pgt_range_tr();
UPDATE pgt_rt SET id = id + 10;
SELECT * FROM pgt_rt ORDER BY id;
DO LANGUAGE plerl $$
  local rows = spi.execute('SELECT r, ds FROM pgt_rt ORDER BY id')
  print(rows[1].r, rows[1].r.lower_inc, rows[1].ds[2], rows[2].r, tostring(rows[1]))
$$;
DROP TABLE pgt_rt;
-- Bad input: the range type's own errors, never a crash.
DO LANGUAGE plerl $$ print(pgtype.int4range(1, 'x')) $$;
DO LANGUAGE plerl $$ print(pgtype.pgt_posrange(-1, 3)) $$;
DO LANGUAGE plerl $$ print(pgtype.int4range('[1,2')) $$;
DO LANGUAGE plerl $$ local r = pgtype.int4range(1, 2) print(r.nosuchfield, r:sub(1, 1), r:match('%d+')) $$;
DO LANGUAGE plerl $$ print(pgtype.int8range(1, 2) == pgtype.int4range(1, 2)) $$;
DROP DOMAIN pgt_posrange;
DROP TYPE pgt_floatrange;
