-- isolation: in the trusted language each role has its own Lua state (a
-- SECURITY DEFINER function runs in its owner's); each function has its own
-- environment over the role's globals, for run-once set-up.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
DROP ROLE IF EXISTS regress_plerl_alice;
DROP ROLE IF EXISTS regress_plerl_bob;
RESET client_min_messages;
\set VERBOSITY default

CREATE ROLE regress_plerl_alice;
CREATE ROLE regress_plerl_bob;

-- _G is the role's global table, shared by the role's functions.
CREATE FUNCTION iso_set(v text) RETURNS text LANGUAGE plerl AS $$ _G.shared = v; return v $$;
CREATE FUNCTION iso_get() RETURNS text LANGUAGE plerl AS $$ return tostring(shared) $$;
CREATE FUNCTION iso_get_definer() RETURNS text LANGUAGE plerl SECURITY DEFINER AS $$
  return tostring(shared)
$$;
ALTER FUNCTION iso_get_definer() OWNER TO regress_plerl_alice;

SET ROLE regress_plerl_alice;
SELECT iso_set('alice''s');
SELECT iso_get();
RESET ROLE;
SET ROLE regress_plerl_bob;
SELECT iso_get() AS bob_sees;
SELECT iso_set('bob''s');
-- A SECURITY DEFINER function runs in its owner's state.
SELECT iso_get_definer() AS definer_sees, iso_get() AS bob_sees;
RESET ROLE;
SET ROLE regress_plerl_alice;
SELECT iso_get() AS alice_sees;
RESET ROLE;
SELECT iso_get() AS superuser_sees;

-- Roles cannot reach each other's state through shared tables either:
-- string's metatable and the libraries are per state.
SET ROLE regress_plerl_bob;
DO LANGUAGE plerl $$ string.shout = function(s) return s:upper() end; print(('x'):shout()) $$;
RESET ROLE;
SET ROLE regress_plerl_alice;
DO LANGUAGE plerl $$ print(string.shout) $$;
RESET ROLE;

-- A plain assignment in a function body lands in the function's own
-- environment: it survives across calls but no other function sees it.
CREATE FUNCTION iso_counter() RETURNS int LANGUAGE plerl AS $$
  count = (count or 0) + 1
  return count
$$;
CREATE FUNCTION iso_peek() RETURNS text LANGUAGE plerl AS $$ return tostring(count) $$;
SELECT iso_counter(), iso_counter(), iso_counter(), iso_peek();
SET ROLE regress_plerl_bob;
SELECT iso_counter() AS bobs_first;
RESET ROLE;
-- Redefining the function starts a fresh environment.
CREATE OR REPLACE FUNCTION iso_counter() RETURNS int LANGUAGE plerl AS $$
  count = (count or 100) + 1
  return count
$$;
SELECT iso_counter();

-- Run-once set-up, and a prepared plan kept across calls.
CREATE TABLE iso_t (k text PRIMARY KEY, v int);
INSERT INTO iso_t VALUES ('a', 1), ('b', 2);
GRANT SELECT ON iso_t TO regress_plerl_bob;
CREATE FUNCTION iso_lookup(key text) RETURNS int LANGUAGE plerl AS $$
  if not lookup then
    print('setting up')
    lookup = spi.prepare('SELECT v FROM iso_t WHERE k = $1')
  end
  local r = lookup:execute(key)
  return r[1] and r[1].v
$$;
SELECT iso_lookup('a'), iso_lookup('b'), iso_lookup('c');
SELECT iso_lookup('b');
-- Another role gets its own copy of the function, set up again.
SET ROLE regress_plerl_bob;
SELECT iso_lookup('a');
RESET ROLE;

-- The untrusted language has one state for everybody (only superusers
-- create plerlu functions).
CREATE FUNCTION isou_set(v text) RETURNS text LANGUAGE plerlu AS $$ _G.u = v; return v $$;
CREATE FUNCTION isou_get() RETURNS text LANGUAGE plerlu AS $$ return tostring(u) $$;
SET ROLE regress_plerl_bob;
SELECT isou_set('set by bob');
RESET ROLE;
SET ROLE regress_plerl_alice;
SELECT isou_get();
RESET ROLE;

DROP TABLE iso_t;
DROP FUNCTION iso_set(text), iso_get(), iso_get_definer(), iso_counter(), iso_peek(),
  iso_lookup(text), isou_set(text), isou_get();
DROP ROLE regress_plerl_alice;
DROP ROLE regress_plerl_bob;
