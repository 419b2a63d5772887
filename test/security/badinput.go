// badinput: hostile input from SQL, from Lua and from peers. Each case
// names the SQLSTATE it must end with, and after each one the same backend
// must still answer (runCases). The role is sec_bad: plerl_admin (so raw
// node names get past the privilege check), with a user mapping for
// sec_node and for every fake node, plerl.lua_memory_limit = 128MB and
// statement_timeout = 30s.
package main

import (
	"fmt"
	"strings"
)

const (
	okState = "00000"
)

func badCases(e *env) []sqlCase {
	call := func(args string) string {
		return "SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', " + args + ");"
	}
	do := func(lua string) string { return "DO LANGUAGE plerl $$ " + lua + " $$;" }
	peer := func(server string) string {
		return "SELECT erlang_call('" + server + "', 'erlang', 'node', '[]');"
	}
	long := strings.Repeat("n", 2000)
	cs := []sqlCase{
		// jsonb arguments that do not map to a term
		{name: "jsonb: arguments an object, not an array", sql: call(`'{"a": 1}'`), want: []string{"22023"}},
		{name: "jsonb: arguments a number", sql: call(`'5'`), want: []string{"22023"}},
		{name: "jsonb: arguments a string", sql: call(`'"x"'`), want: []string{"22023"}},
		{name: "jsonb: arguments JSON null", sql: call(`'null'`), want: []string{"22023"}},
		{name: "jsonb: unknown $tag", sql: call(`'[{"$nosuch": 1}]'`), want: []string{"22023"}},
		{name: "jsonb: $atom with a number", sql: call(`'[{"$atom": 5}]'`), want: []string{"22023"}},
		{name: "jsonb: $atom with null", sql: call(`'[{"$atom": null}]'`), want: []string{"22023"}},
		{name: "jsonb: $atom with an array", sql: call(`'[{"$atom": ["a"]}]'`), want: []string{"22023"}},
		{name: "jsonb: $atom of 300 characters", sql: call(`jsonb_build_array(jsonb_build_object('$atom', repeat('a', 300)))`), want: []string{"22023"}},
		{name: "jsonb: $atom with another key (a map: both keys literal)", sql: call(`'[{"$atom": "a", "b": 1}]'`), want: []string{okState}},
		{name: "jsonb: $tuple of a number", sql: call(`'[{"$tuple": 5}]'`), want: []string{"22023"}},
		{name: "jsonb: $binary_base64 not base64", sql: call(`'[{"$binary_base64": "!!not base64!!"}]'`), want: []string{"22023"}},
		{name: "jsonb: $improper of one element", sql: call(`'[{"$improper": [1]}]'`), want: []string{"22023"}},
		{name: "jsonb: $map with a one-element pair", sql: call(`'[{"$map": [[1]]}]'`), want: []string{"22023"}},
		{name: "jsonb: $charlist of 40 million characters", sql: call(`jsonb_build_array(jsonb_build_object('$charlist', repeat('x', 40000000)))`), want: []string{"54000", "53200"}},
		{name: "jsonb: arrays nested 10000 deep", sql: call(`('[' || repeat('[', 10000) || repeat(']', 10000) || ']')::jsonb`), want: []string{"54000"}},
		{name: "jsonb: objects nested 10000 deep", sql: call(`('[' || repeat('{"a":', 10000) || '1' || repeat('}', 10000) || ']')::jsonb`), want: []string{"54000"}},
		{name: "jsonb: 1e400 (jsonb makes it the integer 10^400: a bignum)", sql: call(`'[1e400]'`), want: []string{okState}},
		{name: "jsonb: -1e400 (the integer -10^400)", sql: call(`'[-1e400]'`), want: []string{okState}},
		{name: "jsonb: a float beyond double range", sql: call(`('[' || repeat('9', 400) || '.5]')::jsonb`), want: []string{"22003"}},
		{name: "jsonb: 1e-400 (underflows to 0.0, as documented)", sql: call(`'[1e-400]'`), want: []string{okState}},
		{name: "jsonb: a 1000-digit integer (a bignum, round trip)", sql: call(`('[1' || repeat('0', 1000) || ']')::jsonb`), want: []string{okState}},
		{name: "jsonb: 101 distinct atoms (plerl.max_atoms = 100)", sql: call(`(SELECT jsonb_build_array(jsonb_agg(jsonb_build_object('$atom', 'plerl_sec_atom_' || i))) FROM generate_series(1, 101) i)`), want: []string{"54000"}},
		{name: "jsonb: SQL NULL arguments (no arguments: echo/0 is undef)", sql: call(`NULL`), want: []string{"42883"}},
		{name: "jsonb: \\u0000 (PostgreSQL refuses it)", sql: call(`'["\u0000"]'`), want: []string{"22P05"}},

		// names of servers and nodes
		{name: "name: empty server name", sql: "SELECT erlang_call('', 'erlang', 'node', '[]');", want: []string{"42704"}},
		{name: "name: 2000-character server name", sql: "SELECT erlang_call('" + long + "', 'erlang', 'node', '[]');", want: []string{"42704"}},
		{name: "name: unicode junk server name", sql: "SELECT erlang_call(E'\u00f1\u2603\u200b\ufeff', 'erlang', 'node', '[]');", want: []string{"42704"}},
		{name: "name: NUL in a name (PostgreSQL refuses it)", sql: "SELECT erlang_call(E'sec\\x00node', 'erlang', 'node', '[]');", want: []string{"22021"}},
		{name: "name: raw 'a@'", sql: "SELECT erlang_call('a@', 'erlang', 'node', '[]');", want: []string{"22023"}},
		{name: "name: raw '@b'", sql: "SELECT erlang_call('@b', 'erlang', 'node', '[]');", want: []string{"22023"}},
		{name: "name: raw 'a@b@c'", sql: "SELECT erlang_ping('a@b@c');", want: []string{"22023"}},
		{name: "name: raw name of 2000 characters", sql: "SELECT erlang_call('" + long + "@h', 'erlang', 'node', '[]');", want: []string{"22023"}},
		{name: "name: a valid raw name without erlang_connect", sql: "SELECT erlang_call('nobody@127.0.0.1', 'erlang', 'node', '[]');", want: []string{"08003"}},
		{name: "name: erlang_connect('a@')", sql: "SELECT erlang_connect('a@', 'not-a-secret');", want: []string{"22023"}},
		{name: "name: erlang_connect('@b')", sql: "SELECT erlang_connect('@b', 'not-a-secret');", want: []string{"22023"}},
		{name: "name: erlang_connect(2000 characters @ host)", sql: "SELECT erlang_connect('" + long + "@127.0.0.1', 'not-a-secret');", want: []string{"22023"}},
		{name: "name: erlang_connect(unicode junk)", sql: "SELECT erlang_connect(E'\u00f1\u2603@\u2603\ufeff', 'not-a-secret');", want: []string{"08001"}},
		{name: "name: Lua erlang.connect('a@')", sql: do("erlang.connect('a@', 'not-a-secret')"), want: []string{"22023"}},
		{name: "name: erlang_connect(empty cookie)", sql: "SELECT erlang_connect('x@127.0.0.1', '');", want: []string{"28000"}},
		{name: "name: module of 300 characters (no allow row can match)", sql: "SELECT erlang_call('sec_node', repeat('m', 300), 'f', '[]');", want: []string{"42501"}},
		{name: "name: erlang.call with 300 arguments (the remote says undef)", sql: do("local a = {} for i = 1, 300 do a[i] = i end erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', unpack(a))"), want: []string{"42883"}},

		// Lua values that do not map to a term
		{name: "lua: a table that contains itself", sql: do("local t = {} t[1] = t erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', t)"), want: []string{"54000", "53200"}},                                             // the depth limit, or the memory limit first (sec_bad has 128 MB; 100000 tables and their garbage can reach it)
		{name: "lua: tables nested 100000 deep", sql: do("local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', t)"), want: []string{"54000", "53200"}}, // the depth limit, or the memory limit first (sec_bad has 128 MB; 100000 tables and their garbage can reach it)
		{name: "lua: a function as an argument", sql: do("erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', print)"), want: []string{"22023"}},
		{name: "lua: a coroutine as an argument", sql: do("erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', coroutine.create(print))"), want: []string{"22023"}},
		{name: "lua: NaN", sql: do("erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', 0/0)"), want: []string{"22023"}},
		{name: "lua: infinity", sql: do("erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', 1/0)"), want: []string{"22023"}},
		{name: "lua: erlang.atom of 300 characters", sql: do("erlang.atom(string.rep('a', 300))"), want: []string{"22023"}},
		{name: "lua: erlang.atom of invalid UTF-8", sql: do(`erlang.atom('\255\254')`), want: []string{"22023"}},
		{name: "lua: erlang.int('12x')", sql: do("erlang.int('12x')"), want: []string{"22023"}},
		{name: "lua: erlang.int(1.5)", sql: do("erlang.int(1.5)"), want: []string{"22023"}},
		{name: "lua: erlang.int('')", sql: do("erlang.int('')"), want: []string{"22023"}},
		{name: "lua: erlang.int of 200000 digits", sql: do("erlang.int(string.rep('9', 200000))"), want: []string{"54000"}},
		{name: "lua: erlang.call with a nil server", sql: do("erlang.call(nil, 'erlang', 'node')"), want: []string{"XX000"}},
		{name: "lua: send to a pid that no longer exists", sql: do("local p = erlang.call('sec_node', 'erlang', 'self') assert(erlang.term_type(p) == 'pid') assert(erlang.send('sec_node', p, 'hello'))"), want: []string{okState}},
		{name: "lua: send to a name nobody registered", sql: do("assert(erlang.send('sec_node', 'no_such_registered_name', 'hello'))"), want: []string{okState}},
		{name: "lua: send to a number", sql: do("erlang.send('sec_node', 42, 'hello')"), want: []string{"22023"}},

		// the sandbox
		{name: "sandbox: string.rep of 1e12 bytes", sql: do("local s = string.rep('x', 1e12)"), want: []string{"54000"}},
		{name: "sandbox: string.rep whose size overflows int64", sql: do("local s = string.rep('ab', 2^62)"), want: []string{"54000"}},
		{name: "sandbox: doubling a string until memory runs out", sql: do("local s = 'x' for i = 1, 40 do s = s .. s end"), want: []string{"53200", "54000"}},
		{name: "sandbox: deep recursion", sql: do("local function f(n) return 1 + f(n + 1) end f(1)"), want: []string{"54001"}},
		{name: "sandbox: deep recursion through pcall", sql: do("local function f() return pcall(f) end f()"), want: []string{"54001", okState}},
		{name: "sandbox: source nested 1e6 deep in a DO block", sql: "SELECT 'DO LANGUAGE plerl $x$ return ' || repeat('{', 1000000) || repeat('}', 1000000) || ' $x$;' AS src \\gset\n:src", want: []string{"54001"}},
		{name: "sandbox: loadstring of source nested 1e6 deep", sql: do("local f, err = loadstring('return ' .. string.rep('(', 1000000) .. '1' .. string.rep(')', 1000000)) assert(f == nil and err:find('nested'))"), want: []string{okState}},
		{name: "sandbox: loadstring of 20 MB", sql: do("local f, err = loadstring(string.rep('x = 1\\n', 4000000)) assert(f == nil and err:find('larger'))"), want: []string{okState}},
		{name: "sandbox: catastrophic pattern (statement_timeout 1s)", pre: "SET statement_timeout = '1s';", sql: do("string.find(string.rep('a', 5000), 'a*a*a*a*b')"), want: []string{"57014"}, max: 3000},
		{name: "sandbox: the string metatable is protected", sql: do("getmetatable('').__index = {}"), want: []string{"XX000"}},
		{name: "sandbox: an atom's metatable cannot be replaced", sql: do("setmetatable(erlang.atom('a'), {})"), want: []string{"XX000"}},
		{name: "sandbox: an atom's metatable is hidden", sql: do("assert(getmetatable(erlang.atom('a')) == 'atom')"), want: []string{okState}},
		{name: "sandbox: an error object's metatable is protected", sql: do("local ok, e = pcall(erlang.call, 'no_such_server', 'm', 'f') assert(type(e) == 'table') setmetatable(e, {})"), want: []string{"XX000"}},
		{name: "sandbox: 10000 coroutines", sql: do("for i = 1, 10000 do local co = coroutine.wrap(function(a) local b = coroutine.yield(a) return b end) co(i) co(i) end"), want: []string{okState}},
		{name: "sandbox: a million live coroutines", sql: do("local t = {} for i = 1, 1000000 do t[i] = coroutine.create(print) end"), want: []string{"53200"}},
		{name: "sandbox: yield across pcall", sql: do("local co = coroutine.wrap(function() return pcall(coroutine.yield, 1) end) co() co()"), want: []string{okState, "XX000"}},
		{name: "sandbox: resume a dead coroutine", sql: do("local co = coroutine.create(function() end) coroutine.resume(co) local ok = coroutine.resume(co) assert(not ok)"), want: []string{okState}},
		{name: "sandbox: yield outside a coroutine", sql: do("coroutine.yield(1)"), want: []string{"XX000"}},
		{name: "sandbox: a coroutine resumes itself", sql: do("local co co = coroutine.create(function() return coroutine.resume(co) end) local ok, a, b = coroutine.resume(co) assert(ok and not a)"), want: []string{okState}},

		// errors that are not strings
		{name: "error: error(nil)", sql: do("error(nil)"), want: []string{"XX000"}},
		{name: "error: error(42)", sql: do("error(42)"), want: []string{"XX000"}},
		{name: "error: error(true)", sql: do("error(true)"), want: []string{"XX000"}},
		{name: "error: error(a function)", sql: do("error(print)"), want: []string{"XX000"}},
		{name: "error: error({}) without a message", sql: do("error({})"), want: []string{"P0001"}},
		{name: "error: error{sqlstate = 'XYZ'}", sql: do("error{sqlstate = 'XYZ', message = 'm'}"), want: []string{"XX000"}},
		{name: "error: error{sqlstate = '00000'}", sql: do("error{sqlstate = '00000', message = 'm'}"), want: []string{"XX000"}},
		{name: "error: error{sqlstate = 'abcde'} (lower case)", sql: do("error{sqlstate = 'abcde', message = 'm'}"), want: []string{"XX000"}},
		{name: "error: error{message = {}}", sql: do("error{message = {}}"), want: []string{"P0001"}},
		{name: "error: an object whose __tostring raises", sql: do("error(setmetatable({}, {__tostring = function() error('again') end}))"), want: []string{"P0001"}},
		{name: "error: a 10 MB message", sql: do("error(string.rep('m', 10000000))"), want: []string{"XX000"}},

		// peers that misbehave
		{name: "peer: garbage instead of a reply", sql: peer("fake_garbage"), want: []string{"08P01"}},
		{name: "peer: a frame claiming 2 GB", sql: peer("fake_oversize"), want: []string{"54000"}},
		{name: "peer: a reply nested 100000 deep", sql: peer("fake_deep"), want: []string{"54000"}},
		{name: "peer: a binary that is not UTF-8 (tagged base64)", sql: "SELECT erlang_call('fake_badutf8', 'erlang', 'node', '[]') = '{\"$binary_base64\": \"//5vaw==\"}';", want: []string{okState}},
		{name: "peer: the same binary returned as text from Lua", pre: "CREATE FUNCTION pg_temp.badtext() RETURNS text LANGUAGE plerl AS $$ return erlang.call('fake_badutf8', 'erlang', 'node') $$;", sql: "SELECT pg_temp.badtext();", want: []string{"22021"}},
		{name: "peer: an atom that is not UTF-8", sql: peer("fake_badatom"), want: []string{"08P01"}},
		{name: "peer: a tuple claiming 2^32-1 elements", sql: peer("fake_hugetuple"), want: []string{"08P01"}},
		{name: "peer: a 4 MB bignum into jsonb (more digits than numeric has)", pre: "SET statement_timeout = '3s';", sql: peer("fake_bignum"), want: []string{"22003"}},
		{name: "peer: the 4 MB bignum in Lua, printed (statement_timeout 3s)", pre: "SET statement_timeout = '3s';", sql: do("local n = erlang.call('fake_bignum', 'erlang', 'node') assert(erlang.term_type(n) == 'bignum') local s = tostring(n)"), want: []string{okState, "57014"}, max: 5000},
		{name: "peer: closes the connection on the call", sql: peer("fake_close"), want: []string{"08006"}},
		{name: "peer: never answers the call (plerl.call_timeout 500ms)", pre: "SET plerl.call_timeout = '500ms';", sql: peer("fake_silent"), want: []string{"PE001"}, max: 3000},
		{name: "peer: never answers the handshake (plerl.connect_timeout 500ms)", pre: "SET plerl.connect_timeout = '500ms';", sql: peer("fake_silenths"), want: []string{"08001"}, max: 3000},
		{name: "peer: refuses the handshake", sql: peer("fake_status"), want: []string{"28000"}},
		{name: "peer: a wrong digest in its challenge ack", sql: peer("fake_digest"), want: []string{"28000"}},
		{name: "peer: not registered with epmd", sql: peer("fake_missing"), want: []string{"08001"}},
		{name: "peer: garbage, from Lua", sql: do("erlang.call('fake_garbage', 'erlang', 'node')"), want: []string{"08P01"}},
		{name: "peer: the test node still answers after all that", sql: call(`'["still here"]'`), want: []string{okState}},
	}
	return cs
}

func (e *env) badinput() {
	if e.fakeHost == "" {
		e.check("badinput/fake nodes", false, "no loopback address for the fake epmd")
	}
	// fake_missing: a server whose node the fake epmd does not know.
	e.psqlRun("postgres", fmt.Sprintf(`\getenv fake PLERL_SEC_FAKE_COOKIE
SET log_statement = 'none';
CREATE SERVER fake_missing FOREIGN DATA WRAPPER plerl OPTIONS (node 'plerl_fake_missing@%s');
CREATE USER MAPPING FOR sec_bad SERVER fake_missing OPTIONS (cookie :'fake');
RESET log_statement;
GRANT USAGE ON FOREIGN SERVER fake_missing TO sec_bad;
INSERT INTO plerl.allow VALUES ('fake_missing', NULL, 'erlang', 'node', 0);
`, e.fakeHost))
	cases := badCases(e)
	res := e.runCases("sec_bad", "", cases)
	n := 0
	for i, c := range cases {
		r := res[i]
		good := false
		for _, w := range c.want {
			if r.state == w {
				good = true
			}
		}
		alive := r.samePid && !r.died
		limit := c.max
		if limit == 0 {
			limit = 20000
		}
		onTime := r.ms <= limit
		n++
		detail := fmt.Sprintf("want %s got %s in %d ms", strings.Join(c.want, "|"), r.state, r.ms)
		if !onTime {
			detail += fmt.Sprintf(", MORE THAN %d ms", limit)
			good = false
		}
		if !alive {
			detail += ", BACKEND LOST"
		}
		if r.message != "" && (!good || !alive) {
			detail += ": " + trim(r.message, 300)
		}
		e.check(fmt.Sprintf("badinput/%02d %s", n, c.name), good && alive, "%s", detail)
	}
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
