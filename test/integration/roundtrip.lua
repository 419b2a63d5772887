
-- int_lua_roundtrip(n, seed): n generated Lua values through
-- erlang.call(tn, Elixir.Plerl.Test, echo, v), each compared deep-equal with
-- what docs/lua-api.md says comes back. Returns "ok <summary>" or the first
-- difference. Deterministic: a Park-Miller generator from seed.
local state = seed
local function rnd(k) -- 0 .. k-1
  state = (state * 48271) % 2147483647
  return state % k
end

local atoms = {'ok', 'error', 'undefined', 'a', 'b', 'Elixir.Foo', 'with space', 'héllo', '日本語', 'x1', 'x2'}
local me = erlang.self('tn')
local counts = {}
local function count(kind) counts[kind] = (counts[kind] or 0) + 1 end

local function bytes(max) -- any bytes: NUL, invalid UTF-8, ...
  local t = {}
  for i = 1, rnd(max + 1) do t[i] = string.char(rnd(256)) end
  return table.concat(t)
end

local function digits(n)
  local t = {tostring(1 + rnd(9))}
  for i = 2, n do t[i] = tostring(rnd(10)) end
  return table.concat(t)
end

-- gen returns a value to send and the value expected back.
local gen
local function scalar()
  local k = rnd(13)
  if k == 0 then local v = rnd(2001) - 1000; count('small int'); return v, v
  elseif k == 1 then -- an integer a Lua number holds exactly (below 2^53)
    local v = (rnd(2^26) * 2^26 + rnd(2^26)) * (rnd(2) == 0 and 1 or -1); count('int < 2^53'); return v, v
  elseif k == 2 then -- a float with a fraction
    local v = rnd(2^30) / 2^rnd(40) + 1/3; if rnd(2) == 0 then v = -v end; count('float'); return v, v
  elseif k == 3 then -- int64 beyond 2^53
    local v = int64((rnd(2) == 0 and '-' or '') .. digits(17 + rnd(2))); count('int64'); return v, v
  elseif k == 4 then -- bignum
    local v = erlang.int((rnd(2) == 0 and '-' or '') .. digits(20 + rnd(60))); count('bignum'); return v, v
  elseif k == 5 or k == 6 then local v = bytes(24); count('string'); return v, v
  elseif k == 7 then local v = rnd(2) == 0; count('boolean'); return v, v
  elseif k == 8 then local v = erlang.atom(atoms[1 + rnd(#atoms)]); count('atom'); return v, v
  elseif k == 9 then count('null'); return erlang.null, erlang.null
  elseif k == 10 then count('pid'); return me, me
  elseif k == 11 then -- erlang.float of an integral number: a float there, a number here
    local x = rnd(1000); count('erlang.float'); return erlang.float(x), x
  else -- a charlist: a list of code points
    local c = ({{'héllo', {104, 233, 108, 108, 111}}, {'abc', {97, 98, 99}}, {'', {}}, {'日本', {26085, 26412}}})[1 + rnd(4)]
    count('charlist'); return erlang.charlist(c[1]), c[2]
  end
end

function gen(depth)
  local k = rnd(depth > 0 and 12 or 6)
  if k < 6 then return scalar() end
  if k == 6 or k == 7 then -- list
    local v, e = {}, {}
    for i = 1, rnd(5) do v[i], e[i] = gen(depth - 1) end
    count('list'); return v, e
  elseif k == 8 then -- tuple
    local v, e = {}, {}
    local n = rnd(4)
    for i = 1, n do v[i], e[i] = gen(depth - 1) end
    count('tuple'); return erlang.tuple(unpack(v, 1, n)), erlang.tuple(unpack(e, 1, n))
  elseif k == 9 then -- map with string keys
    local v, e = {}, {}
    for i = 1, 1 + rnd(4) do local key = 'k' .. bytes(4); v[key], e[key] = gen(depth - 1) end
    count('map, string keys'); return v, e
  elseif k == 10 then -- map with integer keys that are not 1..n
    local v, e = {}, {}
    for i = 1, 1 + rnd(4) do local key = 2 + rnd(50); v[key], e[key] = gen(depth - 1) end
    count('map, integer keys'); return v, e
  else -- map with atom keys: they come back as string keys
    local v, e = {}, {}
    for i = 1, 1 + rnd(3) do
      local name = atoms[1 + rnd(#atoms)]
      v[erlang.atom(name)], e[name] = gen(depth - 1)
    end
    if rnd(4) == 0 then v, e = erlang.map{}, {} end
    count('map, atom keys'); return v, e
  end
end

local function show(v, depth)
  depth = depth or 0
  if depth > 6 then return '...' end
  if type(v) == 'string' then return string.format('%q', v) end
  if type(v) ~= 'table' then return tostring(v) .. '<' .. (erlang.term_type(v) or type(v)) .. '>' end
  local parts = {}
  for k, x in pairs(v) do parts[#parts + 1] = '[' .. show(k, depth + 1) .. ']=' .. show(x, depth + 1) end
  table.sort(parts)
  return (erlang.is_tuple(v) and 'tuple{' or '{') .. table.concat(parts, ', ') .. '}'
end

local function eq(x, y)
  if rawequal(x, y) then return true end
  if type(x) ~= type(y) then return false end
  if type(x) == 'table' then
    if erlang.is_tuple(x) ~= erlang.is_tuple(y) then return false end
    for k, v in pairs(x) do
      local w = y[k]
      if w == nil or not eq(v, w) then return false end
    end
    for k in pairs(y) do if x[k] == nil then return false end end
    return true
  end
  return x == y -- numbers, strings, int64, bignums and pids (by value), interned atoms
end

for i = 1, n do
  local v, want = gen(3)
  if v == erlang.null then want = nil end -- the null atom is nil at the top level
  local got = erlang.call('tn', 'Elixir.Plerl.Test', 'echo', v)
  if not eq(got, want) then
    return string.format('value %d (seed %d) differs:\n  sent %s\n  want %s\n  got  %s', i, seed, show(v), show(want), show(got))
  end
end
local kinds = {}
for k, c in pairs(counts) do kinds[#kinds + 1] = k .. ' ' .. c end
table.sort(kinds)
return string.format('ok %d of %d values deep-equal (seed %d); generated: %s', n, n, seed, table.concat(kinds, ', '))
