-- bench/rowbench/setup.sql: tables, triggers and functions for bench/rowbench/run.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
CREATE EXTENSION IF NOT EXISTS pllua;
DROP TABLE IF EXISTS kv CASCADE;
CREATE TABLE kv (id int PRIMARY KEY, v int);
INSERT INTO kv SELECT i, i * 10 FROM generate_series(1, 1000) i;
ANALYZE kv;

-- Every trigger case inserts N rows into its own table; "none" has no trigger.
DO $d$
DECLARE c text; l text;
BEGIN
  FOREACH c IN ARRAY ARRAY['none', 'before', 'date', 'after', 'transition'] LOOP
    FOREACH l IN ARRAY ARRAY['plerl', 'pllua', 'plpgsql'] LOOP
      EXECUTE format('DROP TABLE IF EXISTS %I', 't_' || c || '_' || l);
      EXECUTE format('CREATE UNLOGGED TABLE %I (id int, x int, y int, d date, d2 date)', 't_' || c || '_' || l);
    END LOOP;
  END LOOP;
END $d$;

-- BEFORE ROW: read a column, set another.
CREATE OR REPLACE FUNCTION plerl_before() RETURNS trigger LANGUAGE plerl AS $$
  trigger.new.y = trigger.new.x + 1 $$;
CREATE OR REPLACE FUNCTION pllua_before() RETURNS trigger LANGUAGE pllua AS $$
  trigger.new.y = trigger.new.x + 1 $$;
CREATE OR REPLACE FUNCTION plpgsql_before() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN NEW.y := NEW.x + 1; RETURN NEW; END $$;
-- BEFORE ROW on dates: d2 = d + 7 days (plerl: dates are Lua values).
CREATE OR REPLACE FUNCTION plerl_date() RETURNS trigger LANGUAGE plerl AS $$
  trigger.new.d2 = trigger.new.d + 7 $$;
-- (pllua dates are userdata without arithmetic: not measured.)
CREATE OR REPLACE FUNCTION pllua_date() RETURNS trigger LANGUAGE pllua AS $$
  trigger.new.d2 = trigger.new.d $$;
CREATE OR REPLACE FUNCTION plpgsql_date() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN NEW.d2 := NEW.d + 7; RETURN NEW; END $$;
-- AFTER ROW: read a column.
CREATE OR REPLACE FUNCTION plerl_after() RETURNS trigger LANGUAGE plerl AS $$
  if trigger.new.x < 0 then error('negative') end $$;
CREATE OR REPLACE FUNCTION pllua_after() RETURNS trigger LANGUAGE pllua AS $$
  if trigger.new.x < 0 then error('negative') end $$;
CREATE OR REPLACE FUNCTION plpgsql_after() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN IF NEW.x < 0 THEN RAISE 'negative'; END IF; RETURN NULL; END $$;
-- AFTER STATEMENT with a transition table: every row read in the language.
CREATE OR REPLACE FUNCTION plerl_transition() RETURNS trigger LANGUAGE plerl AS $$
  local s = 0
  for r in spi.rows('SELECT x FROM nt') do s = s + r.x end
  if s < 0 then error('negative') end $$;
-- (pllua 2.0.x crashes the backend on spi.rows over a transition table: spi.execute.)
CREATE OR REPLACE FUNCTION pllua_transition() RETURNS trigger LANGUAGE pllua AS $$
  local s = 0
  for _, r in ipairs(spi.execute('SELECT x FROM nt')) do s = s + r.x end
  if s < 0 then error('negative') end $$;
CREATE OR REPLACE FUNCTION plpgsql_transition() RETURNS trigger LANGUAGE plpgsql AS $$
  DECLARE s bigint := 0; r record;
  BEGIN FOR r IN SELECT x FROM nt LOOP s := s + r.x; END LOOP;
  IF s < 0 THEN RAISE 'negative'; END IF; RETURN NULL; END $$;

DO $d$
DECLARE l text;
BEGIN
  FOREACH l IN ARRAY ARRAY['plerl', 'pllua', 'plpgsql'] LOOP
    EXECUTE format('CREATE TRIGGER tg BEFORE INSERT ON %I FOR EACH ROW EXECUTE FUNCTION %I()', 't_before_' || l, l || '_before');
    EXECUTE format('CREATE TRIGGER tg BEFORE INSERT ON %I FOR EACH ROW EXECUTE FUNCTION %I()', 't_date_' || l, l || '_date');
    EXECUTE format('CREATE TRIGGER tg AFTER INSERT ON %I FOR EACH ROW EXECUTE FUNCTION %I()', 't_after_' || l, l || '_after');
    EXECUTE format('CREATE TRIGGER tg AFTER INSERT ON %I REFERENCING NEW TABLE AS nt FOR EACH STATEMENT EXECUTE FUNCTION %I()', 't_transition_' || l, l || '_transition');
  END LOOP;
END $d$;

-- SPI: n executions of a one-row parameterized SELECT, as query text and as a prepared plan.
CREATE OR REPLACE FUNCTION plerl_spi_text(n int) RETURNS bigint LANGUAGE plerl AS $$
  local s = 0
  for i = 1, n do s = s + spi.execute('SELECT v FROM kv WHERE id = $1', i % 1000 + 1)[1].v end
  return s $$;
CREATE OR REPLACE FUNCTION plerl_spi_plan(n int) RETURNS bigint LANGUAGE plerl AS $$
  local p = spi.prepare('SELECT v FROM kv WHERE id = $1')
  local s = 0
  for i = 1, n do s = s + p:execute(i % 1000 + 1)[1].v end
  p:free()
  return s $$;
CREATE OR REPLACE FUNCTION pllua_spi_text(n int) RETURNS bigint LANGUAGE pllua AS $$
  local s = 0
  for i = 1, n do s = s + spi.execute('SELECT v FROM kv WHERE id = $1', i % 1000 + 1)[1].v end
  return s $$;
CREATE OR REPLACE FUNCTION pllua_spi_plan(n int) RETURNS bigint LANGUAGE pllua AS $$
  local p = spi.prepare('SELECT v FROM kv WHERE id = $1', {'integer'})
  local s = 0
  for i = 1, n do s = s + p:execute(i % 1000 + 1)[1].v end
  return s $$;
-- PL/pgSQL's equivalent of both: static SQL, planned once and cached.
CREATE OR REPLACE FUNCTION plpgsql_spi_text(n int) RETURNS bigint LANGUAGE plpgsql AS $$
  DECLARE s bigint := 0; v int;
  BEGIN FOR i IN 1..n LOOP SELECT kv.v INTO v FROM kv WHERE id = i % 1000 + 1; s := s + v; END LOOP; RETURN s; END $$;
CREATE OR REPLACE FUNCTION plpgsql_spi_plan(n int) RETURNS bigint LANGUAGE plpgsql AS $$
  DECLARE s bigint := 0; v int;
  BEGIN FOR i IN 1..n LOOP SELECT kv.v INTO v FROM kv WHERE id = i % 1000 + 1; s := s + v; END LOOP; RETURN s; END $$;

-- Trivial call and compute loop (as bench/plbench).
CREATE OR REPLACE FUNCTION plerl_trivial(x int) RETURNS int LANGUAGE plerl AS $$ return x + 1 $$;
CREATE OR REPLACE FUNCTION pllua_trivial(x int) RETURNS int LANGUAGE pllua AS $$ return x + 1 $$;
CREATE OR REPLACE FUNCTION plpgsql_trivial(x int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN x + 1; END $$;
CREATE OR REPLACE FUNCTION plerl_loop(x int) RETURNS bigint LANGUAGE plerl AS $$
  local s = 0 for j = 1, 100 do s = s + j * x end return s $$;
CREATE OR REPLACE FUNCTION pllua_loop(x int) RETURNS bigint LANGUAGE pllua AS $$
  local s = 0 for j = 1, 100 do s = s + j * x end return s $$;
CREATE OR REPLACE FUNCTION plpgsql_loop(x int) RETURNS bigint LANGUAGE plpgsql AS $$
  DECLARE s bigint := 0; BEGIN FOR j IN 1..100 LOOP s := s + j * x; END LOOP; RETURN s; END $$;
