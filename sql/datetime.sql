-- Date and time values: date, time, timestamp, timestamptz and interval
-- reach Lua as values holding PostgreSQL's integers (exact round trips),
-- with fields, arithmetic, comparison and constructors.
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE FUNCTION dt_kinds(d date, t time, ts timestamp, tz timestamptz, i interval) RETURNS text LANGUAGE plerl AS $$
  return table.concat({type(d), d:type(), t:type(), ts:type(), tz:type(), i:type(),
    tostring(datetime.is(tz)), tostring(datetime.is(tz, 'date')), tostring(datetime.is('x'))}, ' ')
$$;
SELECT dt_kinds('2024-02-29', '13:45', '2024-02-29 13:45', '2024-02-29 13:45+02', '1 day');

-- Exact round trips, microseconds and infinities included.
CREATE FUNCTION rt_ts(x timestamp) RETURNS timestamp LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION rt_tz(x timestamptz) RETURNS timestamptz LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION rt_d(x date) RETURNS date LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION rt_t(x time) RETURNS time LANGUAGE plerl AS $$ return x $$;
CREATE FUNCTION rt_i(x interval) RETURNS interval LANGUAGE plerl AS $$ return x $$;
SELECT x, rt_ts(x) = x AS same FROM (VALUES (timestamp '2024-02-29 13:45:00.123456'), ('294276-12-31 23:59:59.999999'),
  ('4713-11-24 00:00:00 BC'), ('infinity'), ('-infinity')) v(x);
SELECT x, rt_tz(x) = x AS same FROM (VALUES (timestamptz '2024-02-29 13:45:00.000001+05:30'), ('infinity')) v(x);
SELECT x, rt_d(x) = x AS same FROM (VALUES (date '2024-02-29'), ('5874897-12-31'), ('4714-11-24 BC'), ('-infinity')) v(x);
SELECT rt_t('23:59:59.999999'), rt_t('24:00'), rt_i('1 year 2 mons -3 days 04:05:06.789'), rt_i('-178000000 years');
SELECT rt_ts(x) FROM unnest(ARRAY[timestamp '2001-01-01', '2002-02-02 02:02']) x;

-- Fields (timestamptz in the session's TimeZone), epoch exactly.
CREATE FUNCTION dt_fields(x anyelement) RETURNS text LANGUAGE plerl AS $$
  local t = x:as_table()
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. '=' .. tostring(t[k]) end
  return table.concat(out, ' ')
$$;
SELECT dt_fields(timestamp '2024-02-29 13:45:06.5');
SELECT dt_fields(date '2024-02-29'), dt_fields(time '01:02:03.25');
SELECT dt_fields(interval '1 year 14 mons 3 days 04:05:06.5');
SET timezone = 'Asia/Kolkata';
SELECT dt_fields(timestamptz '2024-02-29 13:45:06+00');
CREATE FUNCTION dt_epoch_us(x timestamptz) RETURNS text LANGUAGE plerl AS $$
  return tostring(x.epoch_us) .. ' ' .. tostring(x.epoch) .. ' ' .. tostring(x.year) .. ' ' .. tostring(x.isfinite)
$$;
SELECT dt_epoch_us('2024-02-29 13:45:06.000001+00'), dt_epoch_us('infinity'),
  extract(epoch FROM timestamptz '2024-02-29 13:45:06.000001+00');
SET timezone = 'UTC';

-- Arithmetic as SQL does it: months clamp to the month's end, days on the
-- wall clock (across a DST change for timestamptz), date +/- days.
CREATE FUNCTION dt_arith() RETURNS text LANGUAGE plerl AS $$
  local ts = datetime.timestamp('2024-01-31 10:00')
  local mon = datetime.interval('1 mon')
  local out = {
    ts + mon, ts - mon, mon + ts, ts + datetime.interval('1 day 02:00'),
    ts - datetime.timestamp('2024-01-01'), datetime.date('2024-03-01') - 1,
    1 + datetime.date('2024-02-28'), datetime.date('2024-03-01') - datetime.date('2024-01-01'),
    datetime.date('2024-02-29') + datetime.time('12:30'), datetime.time('23:00') + datetime.interval('2 hours'),
    datetime.interval('1 day') * 1.5, datetime.interval('1 mon') / 4, -datetime.interval('1 day 01:00'),
    datetime.interval('1 day') + datetime.interval('-2 hours'),
  }
  return table.concat(out, ' | ')
$$;
SELECT dt_arith();
SET timezone = 'Europe/Paris';
CREATE FUNCTION dt_dst(x timestamptz) RETURNS text LANGUAGE plerl AS $$
  return tostring(x + datetime.interval('1 day')) .. ' / ' .. tostring(x + datetime.interval('24 hours'))
$$;
SELECT dt_dst('2024-03-30 12:00+01'),
  (timestamptz '2024-03-30 12:00+01' + interval '1 day')::text || ' / ' || (timestamptz '2024-03-30 12:00+01' + interval '24 hours')::text AS sql;
SET timezone = 'UTC';

-- Comparison (intervals by span: 1 mon = 30 days), and mixed kinds refused.
CREATE FUNCTION dt_cmp() RETURNS text LANGUAGE plerl AS $$
  local a, b = datetime.timestamptz('2024-01-01 00:00+00'), datetime.timestamptz('2024-01-01 01:00+01')
  local r = {tostring(a == b), tostring(a < b), tostring(a <= b),
    tostring(datetime.interval('1 mon') == datetime.interval('30 days')),
    tostring(datetime.interval('1 day') > datetime.interval('23:59:59')),
    tostring(datetime.date('2024-01-01') == datetime.timestamp('2024-01-01'))}
  local ok, err = pcall(function() return datetime.date('2024-01-01') < datetime.timestamp('2024-01-01') end)
  r[#r + 1] = tostring(ok) .. ': ' .. tostring(err)
  return table.concat(r, ' ')
$$;
SELECT dt_cmp();

-- Constructors: SQL text, fields, seconds since 1970 (exact; a fraction
-- only where a double holds microseconds), casts.
SET timezone = 'America/New_York';
CREATE FUNCTION dt_make() RETURNS text LANGUAGE plerl AS $$
  return table.concat({
    datetime.timestamptz{year = 2019, month = 4, day = 22, hour = 12, min = 23, sec = 34.1},
    datetime.timestamp{year = -44, month = 3, day = 15},
    datetime.date{year = 2024, month = 2, day = 30},
    datetime.time{hour = 1, min = 2, sec = 3, usec = 4},
    datetime.interval{year = 1, month = 2, day = 3, hour = 4},
    datetime.timestamptz(0), datetime.timestamptz(1700000000.5), datetime.timestamp(int64.tostring and int64('1700000000')),
    datetime.date(datetime.timestamptz('2024-01-01 02:00+00')), datetime.timestamp(datetime.timestamptz('2024-01-01 02:00+00')),
    datetime.timestamptz{epoch = 86400}, datetime.interval(90.25),
  }, ' | ')
$$;
SELECT dt_make();
SET timezone = 'UTC';
DO LANGUAGE plerl $$
  for _, f in ipairs{
    function() return datetime.timestamp('not a date') end,
    function() return datetime.timestamptz(1e15 + 0.5) end,
    function() return datetime.timestamp{month = 1} end,
    function() return datetime.date('2024-01-01') + 0.5 end,
    function() return datetime.timestamp('2024-01-01') + datetime.timestamp('2024-01-01') end,
    function() return datetime.timestamp('294276-12-31') + datetime.interval('1 year') end,
  } do
    local ok, e = pcall(f)
    print(ok, e.sqlstate, e.message)
  end
$$;

-- Results and parameters: a value of one kind for a column of another is
-- cast as SQL would; precision (timestamp(0)) applies; text columns get the text.
CREATE TABLE dt_t (id int, d date, ts timestamp(0), tz timestamptz, tx text, i interval);
CREATE FUNCTION dt_store() RETURNS void LANGUAGE plerl AS $$
  local v = datetime.timestamptz('2024-05-06 07:08:09.6+00')
  spi.execute('INSERT INTO dt_t VALUES (1, $1, $2, $3, $4, $5)', v, v, v, v, datetime.interval('2 days'))
  local r = spi.execute('SELECT * FROM dt_t WHERE tz = $1', v)[1]
  print(r.d, r.ts, r.tz, r.tx, r.i, r.tz == v, r.d:type())
$$;
SELECT dt_store();
SELECT * FROM dt_t;

-- Strings still work where text did: string methods and concatenation.
CREATE FUNCTION dt_compat(d date) RETURNS text LANGUAGE plerl AS $$
  local y, m = d:match('(%d+)-(%d+)')
  return y .. '/' .. m .. ' ' .. d:sub(1, 4) .. ' ' .. d .. ' ' .. #tostring(d)
$$;
SELECT dt_compat('2024-02-29');

-- A trigger on dates: the common path stays values, no text.
CREATE TABLE dt_log (id int, at timestamptz, due date);
CREATE FUNCTION dt_trg() RETURNS trigger LANGUAGE plerl AS $$
  local new = trigger.new
  if new.due == nil then new.due = datetime.date(new.at) + 30 end
  if new.due < datetime.date(new.at) then error('due before at') end
$$;
CREATE TRIGGER dt_trg BEFORE INSERT OR UPDATE ON dt_log FOR EACH ROW EXECUTE FUNCTION dt_trg();
INSERT INTO dt_log VALUES (1, '2024-01-15 10:00+00', NULL), (2, '2024-01-15 10:00+00', '2024-01-20');
INSERT INTO dt_log VALUES (3, '2024-01-15 10:00+00', '2024-01-01');
UPDATE dt_log SET at = at + interval '1 microsecond' WHERE id = 1;
SELECT * FROM dt_log ORDER BY id;
RESET timezone;
RESET datestyle;

-- timetz: a time of day and its UTC offset, its ISO text whatever
-- DateStyle; fields hour, min, sec, usec, timezone (seconds east), epoch
-- (as extract(epoch ...)); pllua's table forms; exact round trips.
SET timezone = 'PST8PDT';
SET datestyle = 'Postgres, MDY';
DO LANGUAGE plerl $$
  print(pgtype.timetz{ hour = 12, min = 23, sec = 34.1, timezone = 7200 }, pgtype.timetz{ hour = 1, usec = 5 })
  print(pgtype.timetz{ epoch = 3601, timezone = -3600 }, pgtype.timetz{ epoch = 86400 + 60, timezone = 19815 },
        pgtype.timetz('10:20:30.5 EST'), pgtype.timetz(nil))
  local t = pgtype.timetz('03:45:01.234567+01')
  local a = t:as_table()
  print(t.hour, t.min, t.sec, t.usec, t.timezone, t.epoch, a.timezone, a.sec, t.nosuch, type(t), t:type(), pgtype(t))
  print(t == pgtype.timetz('03:45:01.234567+01:00'), t == pgtype.timetz('02:45:01.234567+00'), t:sub(1, 5), 'at ' .. t,
        table.concat({ t, t }, ' '), json.encode({ t }))
$$;
CREATE TABLE dt_tz (id integer, t timetz, ts timetz[]);
INSERT INTO dt_tz VALUES (1, '23:59:59.999999-15:59:59', '{00:00+00,"24:00:00+14"}'), (2, NULL, NULL);
CREATE FUNCTION dt_tz_trig() RETURNS trigger LANGUAGE plerl AS $$
  local n = trigger.new
  if n.t then
    print(n.t, n.t.timezone, n.t.epoch, n.ts[2], n.ts[2].hour, n.ts[2].timezone)
    n.t = pgtype.timetz{ hour = n.t.hour, min = n.t.min, sec = n.t.sec, timezone = 3600 }
    n.ts = { n.ts[2], n.ts[1] }
  end
  return n
$$;
CREATE TRIGGER dt_tz_trig BEFORE UPDATE ON dt_tz FOR EACH ROW EXECUTE FUNCTION dt_tz_trig();
UPDATE dt_tz SET id = id + 10;
SELECT * FROM dt_tz ORDER BY id;
CREATE FUNCTION dt_tz_echo(t timetz) RETURNS timetz LANGUAGE plerl AS $$ return t $$;
SELECT dt_tz_echo(t) = t AS same, dt_tz_echo(t)::text = t::text AS same_text FROM dt_tz WHERE t IS NOT NULL;
CREATE FUNCTION dt_tz_time() RETURNS time LANGUAGE plerl AS $$ return pgtype.timetz('10:11:12+05') $$;
SELECT dt_tz_time();
-- Bad input: SQLSTATEs, never a crash.
DO LANGUAGE plerl $$ print(pgtype.timetz{ hour = 20, timezone = 'America/Los_Angeles' }) $$;
DO LANGUAGE plerl $$ print(pgtype.timetz{ hour = 25 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timetz{ hour = 1.5 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timetz{ sec = 0/0 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timetz{ epoch = 1, hour = 1 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timetz{ hour = 1, timezone = 16 * 3600 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timetz('25:00+01')) $$;
DO LANGUAGE plerl $$ print(pgtype.timetz('10:00+04'):as_table('UTC')) $$;
DROP TABLE dt_tz;

-- PostgreSQL's date_part units as fields (pllua's): on the session's wall
-- clock, numbers as date_part gives them (epoch and second with their
-- fraction, epoch_usec exact, the rest whole).
SET timezone = 'Europe/London';
CREATE FUNCTION dt_parts(x anyelement, units text[]) RETURNS SETOF text LANGUAGE plerl AS $$
  for _, u in ipairs(units) do
    local v = x[u]
    coroutine.yield(u .. ' ' .. (type(v) == 'number' and string.format('%.6f', v) or tostring(v)))
  end
$$;
SELECT string_agg(p, ', ') FROM dt_parts('1968-05-10 03:45:01.234567+01'::timestamptz, ARRAY['century', 'decade',
  'millennium', 'quarter', 'week', 'isoweek', 'isodow', 'isoyear', 'julian', 'microseconds', 'milliseconds',
  'minute', 'second', 'timezone', 'timezone_hour', 'timezone_minute', 'epoch', 'epoch_msec', 'epoch_usec']) p;
SELECT string_agg(p, ', ') FROM dt_parts('0044-03-15 23:59:59.5 BC'::timestamp, ARRAY['century', 'decade',
  'millennium', 'year', 'isoyear', 'julian', 'milliseconds', 'epoch_usec']) p;
SELECT string_agg(p, ', ') FROM dt_parts('2024-12-30'::date, ARRAY['hour', 'minute', 'second', 'week', 'isoyear',
  'isodow', 'quarter', 'epoch_usec']) p;
SELECT string_agg(p, ', ') FROM dt_parts('03:45:01.234567'::time, ARRAY['minute', 'second', 'milliseconds',
  'microseconds', 'epoch_msec', 'epoch_usec']) p;
SELECT string_agg(p, ', ') FROM dt_parts('1 year 2 mons 3 days 04:05:06.789001'::interval, ARRAY['century',
  'quarter', 'minute', 'second', 'milliseconds', 'microseconds', 'epoch_usec']) p;
SELECT string_agg(p, ', ') FROM dt_parts('03:45:01.234567-05:30:15'::timetz, ARRAY['hour', 'minute', 'second',
  'milliseconds', 'microseconds', 'epoch', 'epoch_msec', 'epoch_usec', 'timezone', 'timezone_hour',
  'timezone_minute']) p;
SELECT date_part('timezone_minute', '03:45:01.234567-05:30:15'::timetz) AS sql_tz_minute,
  date_part('milliseconds', '03:45:01.234567-05:30:15'::timetz) AS sql_ms;
DO LANGUAGE plerl $$ print(pgtype.timetz('10:00+04').isodow) $$;
-- epoch_usec stays exact past 2^53 (an int64); past int64 it is an error.
DO LANGUAGE plerl $$
  local t = pgtype.timestamp('2300-01-01 00:00:00.000001')
  print(t.epoch_usec, int64.is(t.epoch_usec), pgtype.timestamp('2019-01-01 00:00:00.000001').epoch_usec)
$$;
DO LANGUAGE plerl $$ print(pgtype.timestamp('294276-12-31 23:59:59.999999').epoch_usec) $$;
-- Units a type lacks are PostgreSQL's error; other unknown names are nil.
DO LANGUAGE plerl $$ print(pgtype.time('03:45:01').dow) $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ print(pgtype.timestamp('2019-01-01').timezone) $$;
DO LANGUAGE plerl $$ print(pgtype.interval('1 day').isoyear) $$;
DO LANGUAGE plerl $$ print(pgtype.date('2019-01-01').no_such_unit, pgtype.timestamptz('infinity').century) $$;
-- as_table(zone): a timestamptz's fields in that zone; other kinds refuse one.
DO LANGUAGE plerl $$
  local t = pgtype.timestamptz('2019-04-22 10:20:30+00')
  for _, z in ipairs{'America/Los_Angeles', 'Asia/Kathmandu', '+03', 3600} do
    local r = t:as_table(z)
    print(z, r.year, r.month, r.day, r.hour, r.min, r.sec, r.tz_offset, r.epoch)
  end
$$;
DO LANGUAGE plerl $$ print(pgtype.timestamp('2019-04-22 10:20:30'):as_table('Europe/London')) $$;
\echo :LAST_ERROR_SQLSTATE
DO LANGUAGE plerl $$ print(pgtype.timestamptz('2019-04-22 10:20:30+00'):as_table('No/Such_Zone')) $$;
-- An infinite year with another infinite field names that field, as pllua does.
DO LANGUAGE plerl $$ print(pgtype.timestamptz{ year = 1/0, month = 1, day = -1/0 }) $$;
DO LANGUAGE plerl $$ print(pgtype.timestamptz{ year = 1/0, month = 1, day = 1 }) $$;
RESET timezone;
RESET datestyle;

-- In JSON, date and time values are written as PostgreSQL's to_json writes
-- them (ISO 8601: a T between date and time, a timestamptz in the session
-- zone with its offset as +hh:mm), whatever DateStyle says; an interval is
-- its text (in the postgres style, whatever IntervalStyle says). The
-- function's result must equal jsonb_build_array's.
SET timezone = 'Asia/Kolkata';
SET intervalstyle = 'postgres';
SET datestyle = 'SQL, DMY';
CREATE FUNCTION dt_json() RETURNS jsonb LANGUAGE plerl AS $$
  return { pgtype.date('2024-02-29'), pgtype.timestamp('2017-12-19 12:00:00.25'),
           pgtype.timestamptz('2017-12-19 12:00:00+00'), pgtype.time('12:30:00'), pgtype.interval('1 day 2 hours'),
           pgtype.timestamp('infinity'), pgtype.date('0044-03-15 BC'), pgtype.timestamptz('0044-03-15 10:00+00 BC') }
$$;
SELECT dt_json();
SELECT dt_json()::text = jsonb_build_array(date '2024-02-29', timestamp '2017-12-19 12:00:00.25',
         timestamptz '2017-12-19 12:00:00+00', time '12:30', interval '1 day 2 hours', timestamp 'infinity',
         date '0044-03-15 BC', timestamptz '0044-03-15 10:00+00 BC')::text AS same_as_sql;
DO LANGUAGE plerl $$ print(json.encode({ at = pgtype.timestamptz('2017-12-19 12:00:00+00') })) $$;
DROP FUNCTION dt_json();
RESET timezone;
RESET datestyle;
RESET intervalstyle;
-- A date_part field read in a loop takes no memory that stays until the
-- statement ends (its unit's text used to: ~50 bytes a read).
DO LANGUAGE plerl $$
  local function used() return spi.execute("SELECT sum(used_bytes)::int8 AS u FROM pg_backend_memory_contexts")[1].u end
  local d = spi.execute("SELECT '2024-03-01'::date AS d")[1].d
  local before, s = used(), 0
  for i = 1, 200000 do s = s + d.julian end
  local grew = used() - before
  print(s, grew < 1000000 or grew)
$$;
