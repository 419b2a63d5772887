-- sandbox: the trusted language opens only allow-listed libraries.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS plerl;
RESET client_min_messages;
\set VERBOSITY terse

CREATE FUNCTION probe(expr text) RETURNS text LANGUAGE plerl AS $$
  local f, err = loadstring('return ' .. expr)
  if not f then return 'compile error: ' .. err end
  local ok, v = pcall(f)
  if not ok then return 'error: ' .. tostring(v) end
  return type(v)
$$;
SELECT e, probe(e) FROM unnest(ARRAY[
  'io', 'os.exit', 'os.execute', 'os.getenv', 'os.remove', 'os.setenv', 'dofile', 'loadfile',
  'require', 'module', 'package', 'debug', 'string.dump', 'newproxy', 'channel',
  'os.time', 'os.clock', 'os.date', 'os.difftime', 'string.format', 'table.concat',
  'math.floor', 'coroutine.wrap', 'load', 'loadstring', 'pcall', 'setmetatable'
]) AS e;

-- Binary chunks cannot be loaded.
DO LANGUAGE plerl $$
  local f, err = loadstring('\27Lua\81\0\1\4\8\4\8\0')
  print(f == nil, err ~= nil)
$$;
-- The string metatable is protected.
DO LANGUAGE plerl $$ print(getmetatable('')) $$;
DO LANGUAGE plerl $$ print(pcall(setmetatable, getmetatable(''), {})) $$;
-- Only tables take metatables (gopher-lua alone would allow numbers).
DO LANGUAGE plerl $$ print(pcall(setmetatable, 0, {__index = function() return 'x' end})) $$;
-- string.rep bombs are refused before allocating.
DO LANGUAGE plerl $$ local s = string.rep('x', 1e12) $$;
-- Deep recursion is an error, not a crash.
DO LANGUAGE plerl $$ local function f(n) return 1 + f(n + 1) end f(1) $$;
-- collectgarbage does not stop the world.
DO LANGUAGE plerl $$ print(collectgarbage('collect'), type(collectgarbage('count'))) $$;

-- require loads no code in the trusted language: the libraries it already
-- holds (os is the restricted one, whatever _G.os is now), plerl.error;
-- any other name is a Lua error (lpcall catches it).
DO LANGUAGE plerl $$
  os = {execute = print}
  local o = require 'os'
  print(type(o.time), type(o.difftime), o.execute, o.getenv, o.exit, o == os)
  print(require 'string' == string, require 'plerl.error' == require 'pllua.error')
  for _, m in ipairs{'io', 'debug', 'package', 'plerl.error.x', 'os.execute', '', 'sandbox_mod'} do
    print(m, lpcall(require, m))
  end
$$;
DO LANGUAGE plerl $$ require('io') $$;
DO LANGUAGE plerl $$ print(pcall(require)) $$;

-- The untrusted language opens more, never os.exit.
DO LANGUAGE plerlu $$ print(type(io), type(os.getenv), type(require)) $$;
DO LANGUAGE plerlu $$ os.exit(3) $$;
SELECT 1 AS still_alive;
