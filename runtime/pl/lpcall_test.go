package pl

import "testing"

// pllua's catching rules: lpcall and coroutine.resume catch Lua's errors
// only; an error object plerl made (here elog.error's) goes on. An error in
// xpcall's handler is Lua's "error in error handling" unless it is an SQL
// error, which goes on to xpcall's caller. The trusted require loads no code.
func TestPlluaCatching(t *testing.T) {
	cases := []luaCase{
		{"local ok, e = lpcall(function() error('lua', 0) end) return tostring(ok) .. e", "falselua", ""},
		{"local ok, a, b = lpcall(function(x) return x, x + 1 end, 1) return tostring(ok) .. a .. b", "true12", ""},
		{"lpcall(elog.error, 'sql error') return 'swallowed'", "", "sql error"},
		{"local ok, e = pcall(lpcall, elog.error, 'sql', {sqlstate = '22012'}) return e.sqlstate", "22012", ""},
		{"local co = coroutine.create(function() elog.error('in coroutine') end) coroutine.resume(co) return 'swallowed'",
			"", "in coroutine"},
		{"local ok, e = coroutine.resume(coroutine.create(function() error('lua', 0) end)) return tostring(ok) .. e",
			"falselua", ""},
		{"local ok, e = xpcall(function() error('a') end, function() error('b') end) return tostring(ok) .. e",
			"falseerror in error handling", ""},
		{"xpcall(function() error('a') end, function() elog.error('from handler') end) return 'swallowed'",
			"", "from handler"},
		{"local ok, e = xpcall(function() error('a', 0) end, function(e) return 'h:' .. e end) return e", "h:a", ""},
		{"local ok, e = lpcall(require, 'io') return tostring(ok) .. (e:match(\"module %b'' not found\") or e)", "falsemodule 'io' not found", ""},
		{"return tostring(require('os').execute) .. tostring(require('os').time ~= nil)", "niltrue", ""},
		{"local e = select(2, pcall(elog.error, 'x', {sqlstate = '22012'}))\n" +
			"local m = require 'plerl.error' return m.type(e) .. e.errcode .. e.category .. e.severity .. tostring(m.type('x'))",
			"errordivision_by_zerodata_exceptionerrornil", ""},
	}
	checkLuaCases(t, cases)
}

// A pcall, lpcall or xpcall handler reached with every frame of the call
// stack in use: a Lua error "stack overflow" that the next pcall out
// catches, and the state goes on (gopher-lua's growing call stack lost 8
// frames there: a nil dereference, or a recursion that ignored cancel).
func TestPcallAtFullStack(t *testing.T) {
	for _, body := range []string{
		"local n = 0 local function h() n = n + 1 return pcall(h) end local ok = pcall(h) return n .. tostring(ok)",
		"local n = 0 local function h() n = n + 1 return lpcall(h) end local ok = pcall(h) return n .. tostring(ok)",
		"local n = 0 local function h(e) n = n + 1 if n > 300 then return 'stop' end return xpcall(function() error(e, 0) end, h) end\n" +
			"local ok = xpcall(function() error('a', 0) end, h) return n .. tostring(ok)",
	} {
		e := NewEngine(fakeHost{})
		e.Enter()
		rets, err := run(t, e, body)
		if err == nil {
			// the state is still sound: another call in it works
			rets, err = run(t, e, "local function f(n) if n == 0 then return 'deep' end return (f(n - 1)) end return f(150)")
		}
		e.Leave()
		if err != nil || len(rets) == 0 {
			t.Errorf("%q: %v %v", body, rets, err)
		}
	}
}
