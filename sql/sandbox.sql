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
  'require', 'module', 'package', 'package.path', 'package.loadlib', 'package.loaders', 'debug', 'string.dump', 'newproxy', 'channel',
  'os.time', 'os.clock', 'os.date', 'os.difftime', 'string.format', 'table.concat',
  'math.floor', 'coroutine.wrap', 'load', 'loadstring', 'pcall', 'setmetatable'
]) AS e;

-- require reads no file: it loads what package.preload defines (once per
-- session and role: package.loaded keeps it), and plerl's own libraries
-- by Lua's and pllua's names.
DO LANGUAGE plerl $$
  package.preload['sbx_util'] = function(name)
    loads = (loads or 0) + 1
    return { name = name, twice = function(x) return 2 * x end }
  end
  local a, b = require 'sbx_util', require('sbx_util')
  print(a == b, a.name, a.twice(21), loads, package.loaded.sbx_util == a)
  print(require 'pllua.numeric' == numeric, require 'os' == os, require 'pllua.spi' == spi,
        require 'pllua.elog' == elog, require 'pllua.pgtype' == pgtype, require 'string' == string,
        require 'plerl.numeric' == numeric, require 'plerl.pgtype' == pgtype)
  package.preload.sbx_nothing = function() end
  print(require 'sbx_nothing', package.loaded.sbx_nothing)
  -- A loader that fails leaves nothing behind: the next require runs it again.
  package.preload.sbx_bad = function() bad = (bad or 0) + 1; error('broken loader') end
  local ok, e = pcall(require, 'sbx_bad')
  print(ok, e, package.loaded.sbx_bad, pcall(require, 'sbx_bad'), bad)
  -- Lua errors (lpcall catches them), as Lua's require raises them.
  package.preload.sbx_loop = function() return require 'sbx_loop' end
  package.preload.sbx_num = 42
  for _, name in ipairs({'sbx_loop', 'sbx_num', 'pllua.jsonb', 'sbx_nowhere'}) do
    print(name, lpcall(require, name))
  end
  print(lpcall(require, {}))
$$;
-- Another function of the same role finds the module the DO block defined.
CREATE FUNCTION sbx_use(x integer) RETURNS integer LANGUAGE plerl AS $$ return require('sbx_util').twice(x) $$;
SELECT sbx_use(5);
-- package.loaded and package.preload replaced by something else.
DO LANGUAGE plerl $$
  local saved = package.loaded
  package.loaded = 1
  print(lpcall(require, 'sbx_util'))
  package.loaded = saved
$$;
DO LANGUAGE plerlu $$ print(require('pllua.numeric') == numeric, require('plerl.spi') == spi, type(package.loadlib)) $$;

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
