// Test 6: Lua cannot exit, exec, read files or load binary chunks in the
// trusted language, and the backend survives every attempt (boundary.md,
// defect 5). plerlu keeps os.exit refused.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type probe struct {
	name string
	lang string // plerl (default) or plerlu
	code string // body of a DO block
	// mustFail: the block must end in an ERROR (an uncaught attempt).
	// Otherwise it must succeed: the code raises 'UNSAFE: ...' itself when
	// the attempt worked.
	mustFail bool
	errHas   string // with mustFail: text the error message must contain
}

func sandboxProbes(marker string) []probe {
	binChunk := `'\27Lua\81\0\1\4\8\4\8\0\0\0\0\0\0\0\0\0\0\0\0\2\2\1\0\0\0\30\0\128\0\0\0\0\0\0\0\0\0\0\0\0\0\0'`
	return []probe{
		{name: "os.exit(3)", code: `os.exit(3)`, mustFail: true},
		{name: "pcall(os.exit, 0)", code: `if pcall(os.exit, 0) then error('UNSAFE: os.exit returned') end`},
		{name: "os.execute", code: `os.execute('touch ` + marker + `')`, mustFail: true},
		{name: "io.open", code: `local f = io.open('/etc/passwd') error('UNSAFE: ' .. tostring(f))`, mustFail: true},
		{name: "io.popen", code: `io.popen('touch ` + marker + `')`, mustFail: true},
		{name: "io.lines", code: `for l in io.lines('/etc/passwd') do error('UNSAFE: ' .. l) end`, mustFail: true},
		{name: "dofile", code: `dofile('/etc/passwd')`, mustFail: true},
		{name: "loadfile", code: `loadfile('/etc/passwd')`, mustFail: true},
		// require reads no file: only package.preload and plerl's own libraries.
		{name: "require of io", code: `require('io')`, mustFail: true, errHas: "not found"},
		{name: "require of debug", code: `require('debug')`, mustFail: true, errHas: "not found"},
		{name: "require of a file", code: `require('../../../../etc/passwd')`, mustFail: true, errHas: "not found"},
		{name: "require of a C module", code: `package.cpath = '/usr/lib/x86_64-linux-gnu/?.so' require('libc')`, mustFail: true, errHas: "not found"},
		{name: "require of os is the restricted os", code: `local o = require('os')
			for _, k in ipairs({'execute', 'exit', 'getenv', 'remove', 'rename', 'tmpname', 'setenv'}) do
				if o[k] ~= nil then error('UNSAFE: require(\'os\').' .. k .. ' present') end
			end`},
		{name: "package.loadlib", code: `package.loadlib('libc.so.6', 'exit')`, mustFail: true},
		{name: "string.dump", code: `string.dump(function() end)`, mustFail: true},
		{name: "debug library", code: `if debug ~= nil then error('UNSAFE: debug is ' .. type(debug)) end`},
		{name: "debug.getregistry", code: `debug.getregistry()`, mustFail: true},
		{name: "newproxy", code: `if newproxy ~= nil then error('UNSAFE: newproxy present') end`},
		{name: "loadstring of a binary chunk", code: `local f, e = loadstring(` + binChunk + `)
			if f ~= nil then error('UNSAFE: binary chunk loaded') end`},
		{name: "load(reader) of a binary chunk", code: `local s, done = ` + binChunk + `, false
			local f = load(function() if done then return nil end done = true return s end)
			if f ~= nil then error('UNSAFE: binary chunk loaded') end`},
		{name: "loaded source calling os.exit", code: `loadstring('os.exit(3)')()`, mustFail: true},
		{name: "os.getenv of a secret", code: `if os.getenv ~= nil then
				local v = os.getenv('` + secretEnv + `') or os.getenv('PATH') or os.getenv('PGDATA')
				if v ~= nil then error('UNSAFE: read ' .. v) end
				error('UNSAFE: os.getenv present')
			end`},
		{name: "os.remove/rename/tmpname/setenv", code: `for _, k in ipairs({'remove', 'rename', 'tmpname', 'setenv', 'execute', 'exit', 'getenv'}) do
				if os[k] ~= nil then error('UNSAFE: os.' .. k .. ' present') end
			end`},
		{name: "collectgarbage has no whole-process effect", code: `
			local keep = {}
			for i = 1, 300000 do keep[i] = {i} end
			local t0 = os.clock()
			for i = 1, 200 do collectgarbage('collect'); collectgarbage('step') end
			collectgarbage('stop'); collectgarbage('setpause', 1); collectgarbage('restart')
			local took = os.clock() - t0
			if took > 0.5 then error('UNSAFE: 200 collections took ' .. took .. ' s (full GCs)') end
			if type(collectgarbage('count')) ~= 'number' then error('count is not a number') end`},
		{name: "getmetatable('').__index tampering", code: `
			local mt = getmetatable('')
			if type(mt) == 'table' then error('UNSAFE: string metatable exposed') end
			if pcall(function() getmetatable('').__index.upper = function() return 'pwned' end end) then
				error('UNSAFE: string metatable writable') end
			if ('x'):upper() ~= 'X' then error('UNSAFE: string methods changed') end`},
		{name: "setmetatable on the string metatable", code: `
			local ok = pcall(setmetatable, '', {__index = {upper = function() return 'pwned' end}})
			if ok or ('x'):upper() ~= 'X' then error('UNSAFE: string metatable replaced') end`},
		{name: "setmetatable on an error object", code: `
			local _, e = pcall(elog.error, 'x')
			if type(e) ~= 'table' then error('no error object: ' .. tostring(e)) end
			if pcall(setmetatable, e, {}) then error('UNSAFE: protected metatable replaced') end
			if getmetatable(e) ~= 'plerl.error' then error('UNSAFE: metatable exposed: ' .. tostring(getmetatable(e))) end`},
		{name: "nothing dangerous reachable from _G", code: `
			local bad = {exit = 1, execute = 1, popen = 1, getenv = 1, setenv = 1, remove = 1, rename = 1,
				loadlib = 1, dofile = 1, loadfile = 1, require = 1, open = 1, lines = 1, output = 1, input = 1,
				getregistry = 1, dump = 1, tmpname = 1}
			-- Legitimate namesakes: table.remove is not os.remove, spi.execute runs SQL.
			-- A new module with a dangerous-looking name must be added here on purpose.
			-- The trusted require loads no code: package.preload's functions and plerl's libraries.
			local allowed = {['_G.table.remove'] = true, ['_G.spi.execute'] = true, ['_G.require'] = true}
			local seen, found = {}, {}
			local function walk(v, path, depth)
				if depth > 8 or seen[v] then return end
				if type(v) == 'table' then
					seen[v] = true
					for k, x in pairs(v) do
						local p = path .. '.' .. tostring(k)
						if type(k) == 'string' and bad[k] and type(x) == 'function' and not allowed[p] then
							found[#found + 1] = p
						end
						walk(x, p, depth + 1)
					end
					local mt = getmetatable(v)
					if type(mt) == 'table' then walk(mt, path .. '<mt>', depth + 1) end
				elseif type(v) == 'function' then
					seen[v] = true
					local ok, env = pcall(getfenv, v)
					if ok and type(env) == 'table' then walk(env, path .. '<env>', depth + 1) end
				end
			end
			walk(_G, '_G', 0)
			for _, v in ipairs({'', 0, true, print}) do
				local mt = getmetatable(v)
				if type(mt) == 'table' then walk(mt, '<mt of ' .. type(v) .. '>', 0) end
			end
			if #found > 0 then error('UNSAFE: reachable: ' .. table.concat(found, ', ')) end`},
		{name: "string.rep bomb", code: `local s = string.rep('x', 1e12)`, mustFail: true},
		{name: "deep recursion", code: `local function f(n) return 1 + f(n + 1) end f(1)`, mustFail: true},
		// The untrusted language: os.exit must still be refused.
		{name: "plerlu os.exit(3)", lang: "plerlu", code: `os.exit(3)`, mustFail: true, errHas: "not allowed"},
		{name: "plerlu os.exit(true)", lang: "plerlu", code: `os.exit(true)`, mustFail: true, errHas: "not allowed"},
		{name: "plerlu pcall(os.exit, 0)", lang: "plerlu", code: `if pcall(os.exit, 0) then error('UNSAFE: os.exit returned') end`},
	}
}

func (s *Suite) testSandbox() (string, error) {
	cn, err := s.connect()
	if err != nil {
		return "", err
	}
	defer cn.Close()
	marker := filepath.Join(s.cl.Dir, "sandbox-escaped")
	probes := sandboxProbes(marker)
	var bad []string
	for _, p := range probes {
		lang := p.lang
		if lang == "" {
			lang = "plerl"
		}
		r, err := cn.Exec("DO LANGUAGE " + lang + " $probe$ " + p.code + " $probe$")
		if err != nil {
			return "", fmt.Errorf("probe %q: connection lost: %w", p.name, err)
		}
		switch {
		case r.Err != nil && r.Err.Severity != "ERROR":
			bad = append(bad, fmt.Sprintf("%s: %v", p.name, r.Err))
		case r.Err != nil && strings.Contains(r.Err.Message, "UNSAFE"):
			bad = append(bad, fmt.Sprintf("%s: %s", p.name, r.Err.Message))
		case p.mustFail && r.Err == nil:
			bad = append(bad, p.name+": succeeded")
		case p.mustFail && p.errHas != "" && !strings.Contains(r.Err.Message, p.errHas):
			bad = append(bad, fmt.Sprintf("%s: unexpected error %q", p.name, r.Err.Message))
		case !p.mustFail && r.Err != nil:
			bad = append(bad, fmt.Sprintf("%s: %v", p.name, r.Err))
		}
		if err := samePID(cn); err != nil {
			return "", fmt.Errorf("after probe %q: %w", p.name, err)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		bad = append(bad, "a command ran: "+marker+" exists")
	}
	// Observation, not a failure: gopher-lua lets setmetatable change the
	// metatable shared by all values of a non-table type within the state.
	r, err := cn.Exec(`DO LANGUAGE plerl $$ local ok = pcall(setmetatable, 0, {}) setmetatable(0, nil)
		if ok then error('ALLOWED') end $$`)
	if err == nil && r.Err != nil && strings.Contains(r.Err.Message, "ALLOWED") {
		s.note("trusted Lua may set the metatable of numbers/booleans/functions (setmetatable(0, {}) succeeds in gopher-lua; real Lua 5.1 allows only tables); it affects only the calling role's own Lua state")
	}
	r, err = cn.Exec(`DO LANGUAGE plerlu $$ local v = os.getenv('` + secretEnv + `') if v then error('SEEN ' .. v) end $$`)
	if err == nil && r.Err != nil && strings.Contains(r.Err.Message, "SEEN") {
		s.note("plerlu os.getenv reads the server's environment (%s was visible)", secretEnv)
	}
	msg := fmt.Sprintf("%d/%d probes safe (trusted: exit, exec, io, files, require, loadlib, binary chunks, dump, debug, getenv, collectgarbage, metatables; plerlu os.exit), same pid %d throughout",
		len(probes)-len(bad), len(probes), cn.PID)
	if len(bad) > 0 {
		return msg, fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return msg, nil
}
