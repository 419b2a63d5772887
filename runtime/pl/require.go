// require and package for the trusted language: modules a role defines in
// package.preload, and plerl's own libraries under their names and pllua's.
package pl

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// builtinModules maps a name require accepts to the global that holds the
// library: Lua's own names, and pllua's for the libraries plerl has.
var builtinModules = map[string]string{
	"string": "string", "table": "table", "math": "math", "coroutine": "coroutine", "os": "os",
	"pllua.numeric": "numeric", "pllua.spi": "spi", "pllua.elog": "elog", "pllua.pgtype": "pgtype",
	// pllua's names with the language renamed, as a migrated script has them.
	"plerl.numeric": "numeric", "plerl.spi": "spi", "plerl.elog": "elog", "plerl.pgtype": "pgtype",
}

// installRequire gives a trusted state `package` (only `loaded` and
// `preload`) and a `require` that loads from nothing but those: no file,
// no C library. The tables are the role's (each role has its own state).
func (s *State) installRequire() {
	L := s.L
	pkg := L.NewTable()
	loaded := L.NewTable()
	preload := L.NewTable()
	pkg.RawSetString("loaded", loaded)
	pkg.RawSetString("preload", preload)
	L.SetGlobal("package", pkg)
	sentinel := L.NewTable() // marks a module whose loader is running
	L.SetGlobal("require", L.NewFunction(func(L *lua.LState) int {
		arg, ok := L.Get(1).(lua.LString)
		if !ok {
			s.raise(Errorf(sqlstate.DatatypeMismatch, "%sbad argument #1 to 'require' (a module name expected, got %s)", requireWhere(L), s.typeName(L.Get(1))))
		}
		name := string(arg)
		// The tables a script may have replaced are read through package.
		loaded, _ := pkg.RawGetString("loaded").(*lua.LTable)
		preload, _ := pkg.RawGetString("preload").(*lua.LTable)
		if loaded == nil || preload == nil {
			s.raise(Errorf(sqlstate.ObjectNotInPrerequisiteState, "%srequire: package.loaded and package.preload must be tables", requireWhere(L)))
		}
		if v := loaded.RawGetString(name); v != lua.LNil {
			if v == sentinel {
				s.raise(Errorf(sqlstate.ObjectNotInPrerequisiteState, "%sloop or previous error loading module '%s'", requireWhere(L), name))
			}
			L.Push(v)
			return 1
		}
		if loader := preload.RawGetString(name); loader != lua.LNil {
			if _, ok := loader.(*lua.LFunction); !ok {
				s.raise(Errorf(sqlstate.DatatypeMismatch, "%spackage.preload['%s'] must be a function, not %s", requireWhere(L), name, s.typeName(loader)))
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
		if g, ok := builtinModules[name]; ok {
			if v := L.G.Global.RawGetString(g); v != lua.LNil {
				loaded.RawSetString(name, v)
				L.Push(v)
				return 1
			}
		}
		s.raise(Errorf(sqlstate.UndefinedObject, "%smodule '%s' not found: no field package.preload['%s'] and no such library in plerl", requireWhere(L), name, name))
		return 0
	}))
}

// preloadBuiltins puts pllua's module names into an untrusted state's
// package.preload (its require is Lua's own).
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
	for name, g := range builtinModules {
		if !strings.HasPrefix(name, "pllua.") && !strings.HasPrefix(name, "plerl.") {
			continue
		}
		g := g
		preload.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			L.Push(L.G.Global.RawGetString(g))
			return 1
		}))
	}
}

// requireWhere is where(L) when Lua code called require, and nothing when
// a Go function did (pcall(require, name) would say "[G]:").
func requireWhere(L *lua.LState) string {
	w := where(L)
	if strings.HasPrefix(w, "[G]") {
		return ""
	}
	return w
}
