// require in the trusted language, and pllua's error module.
package pl

import (
	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// requireNames are the modules trusted `require` gives: the libraries the
// sandbox already holds as globals (os is the restricted one), as they
// were when the state was made, and pllua's error module (as plerl.error
// or pllua.error). Anything else
// ("io", "debug", a file) is a Lua error, as in pllua's trusted language:
// require loads no code.
var requireNames = []string{"string", "table", "math", "coroutine", "os"}

// installRequire sets the trusted `require` (untrusted plerlu has
// gopher-lua's package library instead).
func (s *State) installRequire() {
	L := s.L
	mods := map[string]lua.LValue{}
	for _, name := range requireNames {
		if t, ok := L.GetGlobal(name).(*lua.LTable); ok {
			mods[name] = t
		}
	}
	em := s.errorModule()
	mods["plerl.error"], mods["pllua.error"] = em, em
	L.SetGlobal("require", L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(1)
		if m, ok := mods[name]; ok {
			L.Push(m)
			return 1
		}
		L.RaiseError("module '%s' not found (the trusted language's require gives only %s)",
			name, "string, table, math, coroutine, os and plerl.error")
		return 0
	}))
}

// errorModule is pllua's `pllua.error`: type(e) is "error" for an error
// object plerl made, nil otherwise; category(e) and errcode(e) the
// condition names of its SQLSTATE's class and of the SQLSTATE; and the
// catching functions.
func (s *State) errorModule() *lua.LTable {
	L := s.L
	t := L.NewTable()
	t.RawSetString("type", L.NewFunction(func(L *lua.LState) int {
		if s.isErrorObject(L.Get(1)) {
			L.Push(lua.LString("error"))
		} else {
			L.Push(lua.LNil)
		}
		return 1
	}))
	for _, name := range []string{"category", "errcode"} {
		key := name
		t.RawSetString(key, L.NewFunction(func(L *lua.LState) int {
			if !s.isErrorObject(L.Get(1)) {
				L.Push(lua.LNil)
				return 1
			}
			L.Push(errorField(L.Get(1).(*lua.LTable), key))
			return 1
		}))
	}
	for _, name := range []string{"pcall", "xpcall", "lpcall", "error"} {
		t.RawSetString(name, L.GetGlobal(name))
	}
	return t
}

// errorField is what an error object gives for the fields pllua computes
// (its __index): severity "error"; errcode, the condition name of its
// SQLSTATE (the SQLSTATE if it has none); category, that of its class.
func errorField(t *lua.LTable, key string) lua.LValue {
	st := lua.LVAsString(t.RawGetString("sqlstate"))
	switch key {
	case "severity":
		return lua.LString("error")
	case "errcode", "category":
		if len(st) != 5 {
			return lua.LNil
		}
		if key == "category" {
			st = st[:2] + "000"
		}
		if n := sqlstate.Condition(st); n != "" {
			return lua.LString(n)
		}
		return lua.LString(st)
	}
	return lua.LNil
}
