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
