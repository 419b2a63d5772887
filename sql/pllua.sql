-- pllua: pllua's spellings plerl accepts besides its own (docs/lua-api.md,
-- "Coming from pllua"): the trigger interface, the body forms.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY default

-- CREATE EXTENSION plerlu (pllua's plluau) is accepted: an extension that
-- adds nothing, since plerl made the language plerlu already.
CREATE EXTENSION plerlu;
SELECT e.extname, r.extname AS requires, l.lanpltrusted
  FROM pg_extension e, pg_depend d, pg_extension r, pg_language l
 WHERE e.extname = 'plerlu' AND d.classid = 'pg_extension'::regclass AND d.objid = e.oid
   AND d.refclassid = 'pg_extension'::regclass AND d.refobjid = r.oid AND l.lanname = 'plerlu';
DROP EXTENSION plerlu;
SELECT count(*) AS plerlu_still_there FROM pg_language WHERE lanname = 'plerlu';

-- cstring arguments and results (declared or polymorphic) are strings.
CREATE FUNCTION pl_cstring(a cstring) RETURNS cstring LANGUAGE plerl AS $$ return type(a) .. ':' .. a .. '!' $$;
CREATE FUNCTION pl_poly(a anyelement) RETURNS anyelement LANGUAGE plerl AS $$ return a $$;
SELECT pl_cstring('abc'), pl_cstring(''), pl_poly(cstring 'foo'), pg_typeof(pl_poly(cstring 'foo'));
CREATE FUNCTION pl_cstring_nul() RETURNS cstring LANGUAGE plerl AS $$ return 'a\0b' $$;
SELECT pl_cstring_nul();
DROP FUNCTION pl_cstring(cstring), pl_poly(anyelement), pl_cstring_nul();

-- Triggers: trigger, old and new are parameters, `...` the trigger's
-- arguments; trigger.row is new for INSERT and UPDATE, old for DELETE;
-- trigger.relation names the table and its columns.
CREATE TABLE pl_t (id int, name text, gone int, qty int);
ALTER TABLE pl_t DROP COLUMN gone;
CREATE FUNCTION pl_show() RETURNS trigger LANGUAGE plerl AS $$
  local function r(x) return x and ('(' .. tostring(x.id) .. ',' .. tostring(x.name) .. ',' .. tostring(x.qty) .. ')') or '-' end
  local attrs = {}
  for k, v in pairs(trigger.relation.attributes) do attrs[#attrs + 1] = k .. '=' .. v end
  table.sort(attrs)
  print(trigger.op, trigger.level, 'old=' .. r(old), 'new=' .. r(new), 'row=' .. r(trigger.row),
        'nargs=' .. select('#', ...), 'args=' .. table.concat({...}, ','),
        trigger.relation.namespace .. '.' .. trigger.relation.name, table.concat(attrs, ' '),
        trigger.relation.oid == trigger.relid, trigger.row == (trigger.op == 'DELETE' and old or new),
        old == trigger.old, new == trigger.new)
$$;
CREATE TRIGGER pl_row BEFORE INSERT OR UPDATE OR DELETE ON pl_t
  FOR EACH ROW EXECUTE FUNCTION pl_show('a', 'b c');
CREATE TRIGGER pl_stmt AFTER INSERT OR UPDATE OR DELETE ON pl_t
  FOR EACH STATEMENT EXECUTE FUNCTION pl_show();
INSERT INTO pl_t VALUES (1, 'one', 10);
UPDATE pl_t SET qty = 11;
DELETE FROM pl_t;
DROP TRIGGER pl_row ON pl_t;
DROP TRIGGER pl_stmt ON pl_t;

-- Changing the row the pllua way: fields of new (or trigger.row), a new
-- trigger.row, trigger.row = nil to skip; plerl's own results still rule
-- (returning nil goes on, "SKIP" skips).
CREATE FUNCTION pl_before() RETURNS trigger LANGUAGE plerl AS $$
  local how = ...
  if trigger.op == 'DELETE' then
    if old.name == 'KEEP' then trigger.row = nil end
    return
  end
  if new.name == 'field' then new.qty = new.qty * 2
  elseif new.name == 'rowfield' then trigger.row.qty = -1
  elseif new.name == 'replace' then trigger.row = {id = new.id, name = 'replaced', qty = 0}
  elseif new.name == 'skip' then trigger.row = nil
  elseif new.name == 'returned' then return trigger.row
  elseif new.name == 'bad' then trigger.row = 'x'
  end
  if how == 'upper' then new.name = string.upper(new.name) end
$$;
CREATE TRIGGER pl_before BEFORE INSERT OR UPDATE OR DELETE ON pl_t
  FOR EACH ROW EXECUTE FUNCTION pl_before('upper');
INSERT INTO pl_t VALUES (1, 'field', 5), (2, 'rowfield', 5), (3, 'replace', 5), (4, 'skip', 5),
  (5, 'returned', 5), (6, 'keep', 5);
SELECT * FROM pl_t ORDER BY id;
INSERT INTO pl_t VALUES (7, 'bad', 1);
DELETE FROM pl_t WHERE id IN (1, 6);
SELECT id, name FROM pl_t ORDER BY id;
-- `local t = ...` now gets the first trigger argument, not the trigger.
CREATE FUNCTION pl_first() RETURNS trigger LANGUAGE plerl AS $$
  local first = ...
  print(type(trigger), first)
$$;
CREATE TRIGGER pl_first AFTER INSERT ON pl_t FOR EACH ROW EXECUTE FUNCTION pl_first();
INSERT INTO pl_t VALUES (8, 'x', 1);
DROP TABLE pl_t;

-- Function bodies: a function calls itself by name (unless a global has
-- that name) ...
CREATE FUNCTION pl_fact(n int) RETURNS numeric LANGUAGE plerl AS $$
  if n <= 1 then return numeric(1) end
  return n * pl_fact(n - 1)
$$;
SELECT pl_fact(25);
CREATE FUNCTION pl_fib(int) RETURNS int LANGUAGE plerl AS $$
  local n = ...
  if n < 2 then return n end
  return pl_fib(n - 1) + pl_fib(n - 2)
$$;
SELECT pl_fib(20);
-- (named like a global: the global wins)
CREATE FUNCTION "tostring"(x int) RETURNS text LANGUAGE plerl AS $$ return tostring(x) .. '!' $$;
SELECT "tostring"(5);
DROP FUNCTION "tostring"(int);

-- ... and pllua's form with code run once, before the first call: the
-- body ends the function early and goes on.
CREATE FUNCTION pl_init(x int) RETURNS text LANGUAGE plerl AS $$
    calls = calls + 1
    return string.format('%s: x=%d calls=%d', prefix, x, calls)
  end
  do
    prefix = 'init ran once'
    calls = 0
    print('initialising')
$$;
SELECT pl_init(1), pl_init(2);
SELECT pl_init(g) FROM generate_series(3, 4) g;
-- unnamed arguments arrive as ... in that form too; recursion by name
CREATE FUNCTION pl_init2(int, text) RETURNS text LANGUAGE plerl AS $$
    local n, s = ...
    if n == 0 then return s end
    return pl_init2(n - 1, s .. sep)
  end
  do sep = '+'
$$;
SELECT pl_init2(3, 'x');
-- an error in the once-run code is the first call's error, and the next
-- call tries again
CREATE FUNCTION pl_init_fails() RETURNS int LANGUAGE plerl AS $$
    return 1
  end
  do
    error('no init')
$$;
SELECT pl_init_fails();
SELECT pl_init_fails();
-- neither form compiles: the error is the chunk's
CREATE FUNCTION pl_bad() RETURNS int LANGUAGE plerl AS $$ return 1 end end $$;

-- spi.error and the other levels take pllua's arguments: (message),
-- (sqlstate or condition name, message [, detail [, hint]]), or a table.
DO LANGUAGE plerl $$
  local function show(...)
    local ok, e = pcall(spi.error, ...)
    print(e.sqlstate, e.message, e.detail, e.hint)
  end
  show('plain')
  show('22012', 'by code', 'the detail', 'the hint')
  show('division_by_zero', 'by name')
  show({sqlstate = 'P0002', message = 'as a table', hint = 'h'})
  for _, bad in ipairs({{'nonsense_name', 'm'}, {{message = 'm', detial = 'x'}}, {{}}}) do
    local ok, e = pcall(spi.error, unpack(bad))
    print(e.sqlstate, e.message)
  end
  spi.notice('a notice')
  spi.warning('01000', 'a warning', 'its detail')
  spi.elog('info', {message = 'via elog'})
  print(pcall(spi.elog, 'loud', 'x'))
$$;
DO LANGUAGE plerl $$ spi.error('unique_violation', 'duplicate thing', 'key 1', 'use another key') $$;
-- spi.prepare checks its options like erlang.* does: unknown keys and
-- wrong types are 22023.
DO LANGUAGE plerl $$
  for _, o in ipairs({{scroll = true, fetch_count = 10}, {scrol = true}, {scroll = 'yes'}, {hold = 1},
                      {fetch_count = '5'}, {fetch_count = 1.5}}) do
    local ok, e = pcall(spi.prepare, 'SELECT 1 AS x', nil, o)
    print(ok or e.sqlstate, ok and '' or e.message)
  end
$$;
