// require in the trusted language (package.preload, package.loaded and
// plerl's own libraries), and pllua's error module.
package pl

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// requireNames maps the library names trusted `require` gives to the
// globals holding them, as they were when the state was made: Lua's own
// (os is the restricted one), and pllua's names for the libraries plerl
// has, also as a script renamed from pllua spells them (plerl.numeric).
// pllua's error module is added as plerl.error and pllua.error.
var requireNames = map[string]string{
	"string": "string", "table": "table", "math": "math", "coroutine": "coroutine", "os": "os",
	"pllua.numeric": "numeric", "pllua.spi": "spi", "pllua.elog": "elog", "pllua.pgtype": "pgtype",
	"plerl.numeric": "numeric", "plerl.spi": "spi", "plerl.elog": "elog", "plerl.pgtype": "pgtype",
}

// builtinModules is what require finds without package.preload.
func (s *State) builtinModules() map[string]lua.LValue {
	L := s.L
	mods := map[string]lua.LValue{}
	for name, global := range requireNames {
		if t, ok := L.GetGlobal(global).(*lua.LTable); ok {
			mods[name] = t
		}
	}
	em := s.errorModule()
	mods["plerl.error"], mods["pllua.error"] = em, em
	return mods
}

// installRequire gives a trusted state `package` (only `loaded` and
// `preload`, the role's own: each role has its own state) and a `require`
// that loads nothing but those and plerl's libraries: no file, no C
// library. Its errors are Lua errors, as Lua's require raises them (so
// lpcall catches them). Untrusted plerlu has gopher-lua's package library
// instead (preloadBuiltins).
func (s *State) installRequire() {
	L := s.L
	mods := s.builtinModules()
	pkg := L.NewTable()
	pkg.RawSetString("loaded", L.NewTable())
	pkg.RawSetString("preload", L.NewTable())
	L.SetGlobal("package", pkg)
	sentinel := L.NewTable() // marks a module whose loader is running
	L.SetGlobal("require", L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(1)
		// The tables a script may have replaced are read through package.
		loaded, _ := pkg.RawGetString("loaded").(*lua.LTable)
		preload, _ := pkg.RawGetString("preload").(*lua.LTable)
		if loaded == nil || preload == nil {
			L.RaiseError("require: package.loaded and package.preload must be tables")
		}
		if v := loaded.RawGetString(name); v != lua.LNil {
			if v == sentinel {
				L.RaiseError("loop or previous error loading module '%s'", name)
			}
			L.Push(v)
			return 1
		}
		if loader := preload.RawGetString(name); loader != lua.LNil {
			if _, ok := loader.(*lua.LFunction); !ok {
				L.RaiseError("package.preload['%s'] must be a function, not %s", name, s.typeName(loader))
			}
			loaded.RawSetString(name, sentinel)
			// A loader that fails leaves nothing behind (Lua 5.1 would keep
			// the mark, and the role's state lasts the session): the next
			// require tries again.
			defer func() {
				if loaded.RawGetString(name) == sentinel {
					loaded.RawSetString(name, lua.LNil)
				}
			}()
			L.Push(loader)
			L.Push(lua.LString(name))
			L.Call(1, 1)
			v := L.Get(-1)
			L.Pop(1)
			if v != lua.LNil {
				loaded.RawSetString(name, v)
			}
			if loaded.RawGetString(name) == sentinel {
				loaded.RawSetString(name, lua.LTrue)
			}
			L.Push(loaded.RawGetString(name))
			return 1
		}
		if m, ok := mods[name]; ok {
			L.Push(m)
			return 1
		}
		L.RaiseError("module '%s' not found (the trusted language's require gives only package.preload's modules and plerl's libraries)", name)
		return 0
	}))
}

// preloadBuiltins puts pllua's module names (and plerl's spelling of
// them) into an untrusted state's package.preload (its require is Lua's).
func (s *State) preloadBuiltins() {
	L := s.L
	pkg, ok := L.GetGlobal("package").(*lua.LTable)
	if !ok {
		return
	}
	preload, ok := pkg.RawGetString("preload").(*lua.LTable)
	if !ok {
		return
	}
	for name, m := range s.builtinModules() {
		if !strings.HasPrefix(name, "pllua.") && !strings.HasPrefix(name, "plerl.") {
			continue
		}
		m := m
		preload.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			L.Push(m)
			return 1
		}))
	}
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
