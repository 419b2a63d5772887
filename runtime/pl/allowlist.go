// Allow-list: every name a Lua state may reach from its globals, as data; openLibs removes the rest.
package pl

import (
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// allowTrusted is every path reachable from _G (and the string metatable)
// in a trusted state, by table: "" holds the globals. A gopher-lua upgrade
// that adds a function fails TestSandboxAllowList until it is listed here
// (and in docs/lua-api.md) or removed in openLibs. The erlang module is
// what the handler installs (ErlangModule), listed here too.
var allowTrusted = map[string][]string{
	"": {"_G", "_GOPHER_LUA_VERSION", "_VERSION", "assert", "collectgarbage", "coroutine", "datetime", "elog",
		"erlang", "error", "getfenv", "getmetatable", "int64", "ipairs", "json", "load", "loadstring", "lpcall", "math",
		"next", "null", "numeric", "os", "package", "pairs", "pgtype", "pcall", "print", "rawequal", "rawget", "rawset",
		"require", "select", "setfenv", "setmetatable", "spi", "string", "table", "tonumber", "tostring", "type",
		"unpack", "xpcall"},
	"coroutine":    {"create", "resume", "running", "status", "wrap", "yield"},
	"datetime":     {"date", "interval", "is", "time", "timestamp", "timestamptz"},
	"pgtype":       {"array", "date", "interval", "time", "timestamp", "timestamptz", "timetz"},
	"pgtype.array": {},
	"elog":         {"debug", "error", "info", "log", "notice", "warning"},
	"erlang": {"async", "async_with", "atom", "await", "await_all", "binary", "call", "call_many",
		"call_with", "cast", "charlist", "connect", "disconnect", "float", "global", "int", "is_atom", "is_tuple",
		"list", "map", "multicall", "null", "pg", "ping", "receive", "self", "send", "term_type", "tuple"},
	"int64": {"add", "compare", "div", "is", "max", "min", "mod", "mul", "sub", "tonumber", "tostring"},
	"json":  {"array", "decode", "encode", "isarray", "null", "object"},
	"math": {"abs", "acos", "asin", "atan", "atan2", "ceil", "cos", "cosh", "deg", "exp", "floor",
		"fmod", "frexp", "huge", "ldexp", "log", "log10", "max", "min", "mod", "modf", "pi", "pow",
		"rad", "random", "randomseed", "sin", "sinh", "sqrt", "tan", "tanh"},
	"numeric": {"abs", "ceil", "compare", "div", "floor", "is", "isnan", "mod", "round", "scale",
		"sign", "sqrt", "tonumber", "tostring", "trunc"},
	"os": {"clock", "date", "difftime", "time"},
	// A trusted package has only loaded and preload (require.go).
	"package":         {"loaded", "preload"},
	"package.loaded":  {},
	"package.preload": {},
	"spi":             {"commit", "commit_and_chain", "cursor", "debug", "elog", "error", "execute", "execute_count", "findcursor", "info", "is_atomic", "log", "newcursor", "notice", "prepare", "rollback", "rollback_and_chain", "rows", "warning"},
	// The string table is also the string metatable (__index, __metatable);
	// plerl.concat is what `..` compiles to (concat.go).
	"string": {"__index", "__metatable", "byte", "char", "find", "format", "gfind", "gmatch", "gsub",
		"len", "lower", "match", "plerl.concat", "rep", "reverse", "sub", "upper"},
	"table": {"concat", "getn", "insert", "maxn", "remove", "sort"},
}

// allowUntrusted is what plerlu adds to allowTrusted (os replaces it).
var allowUntrusted = map[string][]string{
	"":        {"dofile", "io", "loadfile", "module", "plerl"},
	"io":      {"close", "flush", "input", "lines", "open", "output", "popen", "read", "stderr", "stdin", "stdout", "tmpfile", "type", "write"},
	"os":      {"clock", "date", "difftime", "execute", "exit", "getenv", "remove", "rename", "setenv", "setlocale", "time", "tmpname"},
	"package": {"config", "cpath", "loaded", "loaders", "loadlib", "path", "preload", "seeall"},
	"plerl":   {"internal_panic", "internal_stats"},
	// package.loaded's other entries are the tables named above.
	"package.loaded":  {"io"},
	"package.loaders": {"1", "2"},
	"package.preload": {"plerl.elog", "plerl.error", "plerl.numeric", "plerl.pgtype", "plerl.spi", "pllua.elog", "pllua.error", "pllua.numeric", "pllua.pgtype", "pllua.spi"},
}

// allowList is the allow-list of a trusted or untrusted state, by table.
func allowList(trusted bool) map[string][]string {
	out := map[string][]string{}
	for k, v := range allowTrusted {
		out[k] = append([]string(nil), v...)
	}
	if !trusted {
		for k, v := range allowUntrusted {
			if k == "" {
				out[k] = append(out[k], v...)
			} else {
				out[k] = append([]string(nil), v...)
			}
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

// reachable lists what L reaches from its globals and the string
// metatable, by table, breadth first in sorted order (so each table is
// named by its shortest path). package.loaded's entries are the tables
// already named; their own fields are listed under that first name.
func reachable(L *lua.LState) map[string][]string {
	out := map[string][]string{}
	type item struct {
		path string
		t    *lua.LTable
	}
	seen := map[*lua.LTable]bool{}
	queue := []item{{"", L.G.Global}}
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		queue = append(queue, item{"string", mt})
	}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if seen[it.t] {
			continue
		}
		seen[it.t] = true
		var keys []string
		vals := map[string]lua.LValue{}
		it.t.ForEach(func(k, v lua.LValue) {
			keys = append(keys, k.String())
			vals[k.String()] = v
		})
		sort.Strings(keys)
		out[it.path] = keys
		for _, k := range keys {
			if t, ok := vals[k].(*lua.LTable); ok && !seen[t] {
				p := k
				if it.path != "" {
					p = it.path + "." + k
				}
				queue = append(queue, item{p, t})
			}
		}
	}
	return out
}

// renderAllowList is the allow-list as docs/lua-api.md shows it: one line
// per table ("base" for the globals).
func renderAllowList(list map[string][]string) string {
	var names []string
	for k := range list {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		label := n
		if n == "" {
			label = "base"
		}
		b.WriteString(label + ": " + strings.Join(list[n], " ") + "\n")
	}
	return b.String()
}
