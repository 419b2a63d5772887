// record: rows (composite values) <-> Lua tables keyed by field name.
package pl

import (
	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// RecordTable builds the Lua form of a row: a table by field name; NULL
// fields are absent (nil). field(i) returns the i-th value and whether it
// is NULL.
func (s *State) RecordTable(names []string, field func(i int) (lua.LValue, bool)) *lua.LTable {
	t := s.L.CreateTable(0, len(names))
	for i, n := range names {
		if v, isNull := field(i); !isNull {
			t.RawSetString(n, v)
		}
	}
	return t
}

// RecordFields reads a Lua table as a row of the given field names into
// out (len(names)): absent fields and the null sentinel are NULL (nil).
// Keys that are not field names are refused, so typos do not go unnoticed.
func (s *State) RecordFields(t *lua.LTable, typeName string, names []string, out []lua.LValue) error {
	found := 0
	for i, n := range names {
		v := t.RawGetString(n)
		if v != lua.LNil {
			found++
		}
		if v == lua.LValue(s.null) {
			v = lua.LNil
		}
		out[i] = v
	}
	// More keys than matched fields: name the first stranger.
	count := 0
	for k, _ := t.Next(lua.LNil); k != lua.LNil; k, _ = t.Next(k) {
		count++
		if count > found {
			return s.unknownField(t, typeName, names)
		}
	}
	return nil
}

func (s *State) unknownField(t *lua.LTable, typeName string, names []string) error {
	known := make(map[string]bool, len(names))
	for _, n := range names {
		known[n] = true
	}
	var bad lua.LValue
	t.ForEach(func(k, _ lua.LValue) {
		if str, ok := k.(lua.LString); ok && known[string(str)] {
			return
		}
		if bad == nil {
			bad = k
		}
	})
	if bad == nil {
		return nil
	}
	if _, ok := bad.(lua.LString); ok {
		return Errorf(sqlstate.UndefinedColumn, "%s has no field %s", typeName, s.keyString(bad))
	}
	return Errorf(sqlstate.DatatypeMismatch, "a row must be a table keyed by field name (%s has the key %s)", typeName, s.keyString(bad))
}
