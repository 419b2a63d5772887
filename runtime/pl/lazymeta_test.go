package pl

import (
	"testing"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/term"
)

// A new state defers the metatables of values it may never make; the first
// value of each type gets the complete metatable all the same.
func TestLazyTypeMetatables(t *testing.T) {
	e := NewEngine(nopHost{})
	e.Modules = append(e.Modules, ErlangModule(nil))
	s := e.State(10, true)
	lazy := []string{planMetaName, cursorMetaName, atomMetaName, termMetaName,
		tupleMetaName, mapMetaName, clusterMetaName}
	for _, name := range lazy {
		if mt := s.L.GetTypeMetatable(name); mt != lua.LNil {
			t.Errorf("%s: metatable built by newState", name)
		}
	}
	// isType before any value exists: nothing matches, nothing is built.
	if s.isType(s.L.NewTable(), tupleMetaName) {
		t.Fatal("a plain table is a tuple")
	}
	if s.L.GetTypeMetatable(tupleMetaName) != lua.LNil {
		t.Fatal("isType built the tuple metatable")
	}
	a := s.Atom(term.Atom("ok"))
	if !s.isType(a, atomMetaName) {
		t.Fatal("an atom is not of the atom type")
	}
	if err := s.L.DoString(`
		local a = erlang.atom('ok')
		assert(tostring(a) == 'ok', 'atom tostring')
		assert(getmetatable(a) == 'atom', 'atom protected')
		assert(a == erlang.atom('ok'), 'atoms interned')
		local t = erlang.tuple(1, 2)
		assert(erlang.is_tuple(t), 'tuple type')
		assert(tostring(t) == '{1, 2}', 'tuple tostring: ' .. tostring(t))
		assert(getmetatable(erlang.map({})) ~= nil, 'map metatable')
		assert(tostring(erlang.global('x')) == '{global, x}', 'cluster name')
	`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{atomMetaName, termMetaName, tupleMetaName, mapMetaName, clusterMetaName} {
		if s.L.GetTypeMetatable(name) == lua.LNil {
			t.Errorf("%s: not built after use", name)
		}
	}
	if mt := s.metaOf(cursorMetaName); mt.RawGetString("__name") != lua.LString(cursorMetaName) {
		t.Errorf("cursor metatable: __name %v", mt.RawGetString("__name"))
	}
	// A second state builds its own.
	s2 := e.State(11, true)
	if s2.L.GetTypeMetatable(atomMetaName) != lua.LNil {
		t.Error("a new state shares the first one's metatables")
	}
}

// A metatable made on first use gives its functions the globals as their
// environment, as newState did, whatever setfenv(0, t) left as the thread's.
func TestLazyTypeMetatableEnv(t *testing.T) {
	e := NewEngine(nopHost{})
	e.Modules = append(e.Modules, ErlangModule(nil))
	s := e.State(10, true)
	if err := s.L.DoString(`
		mine = {}
		setfenv(0, mine)
	`); err != nil {
		t.Fatal(err)
	}
	mt := s.metaOf(cursorMetaName)
	idx, ok := mt.RawGetString("__index").(*lua.LTable)
	if !ok {
		t.Fatal("cursor metatable has no method table")
	}
	fn, ok := idx.RawGetString("fetch").(*lua.LFunction)
	if !ok {
		t.Fatal("no cursor:fetch")
	}
	if fn.Env != s.L.G.Global {
		t.Fatal("a lazily made method took the thread environment setfenv(0) set")
	}
	if s.L.Env == s.L.G.Global {
		t.Fatal("metaOf did not put the thread environment back")
	}
}
