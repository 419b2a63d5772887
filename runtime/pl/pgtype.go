// pgtype: pllua's namespace of typed values. pgtype.<date/time type> makes
// date and time values (pgtype_dt.go).
package pl

import (
	lua "github.com/yuin/gopher-lua"
)

// pgtypeDateTime are the date and time types pgtype names directly.
var pgtypeDateTime = map[string]DTKind{
	"date": DTDate, "time": DTTime, "timestamp": DTTimestamp, "timestamptz": DTTimestampTZ, "interval": DTInterval,
}

func (s *State) registerPgtype() {
	L := s.L
	pg := L.NewTable()
	for name, k := range pgtypeDateTime {
		kind := k
		pg.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			L.Push(s.NewDateTime(s.pgDTConstruct(kind, L.CheckAny(1))))
			return 1
		}))
	}
	L.SetGlobal("pgtype", pg)
}

// TypeHost is what a host gives values that remember their SQL type (a
// handle the host assigned, > 0): their SQL text, as the type's output
// function makes it.
type TypeHost interface {
	TypeText(s *State, handle int32, v lua.LValue) (string, error)
}

// maxTypeMetas bounds the metatables a state keeps per kind (the host's
// handles are bounded too).
const maxTypeMetas = 2048

// RowMeta is the metatable of rows of the type handle (nil for none): one
// per type and state, shared by all its rows, so a row costs nothing more
// than its table. tostring gives the row's SQL text.
func (s *State) RowMeta(handle int32) *lua.LTable {
	return s.typeMeta(handle, false)
}

// ArrayMeta is RowMeta for arrays: the array marker, and tostring.
func (s *State) ArrayMeta(handle int32) *lua.LTable {
	return s.typeMeta(handle, true)
}

func (s *State) typeMeta(handle int32, array bool) *lua.LTable {
	if handle <= 0 {
		if array {
			return s.arrayMT
		}
		return nil
	}
	if _, ok := s.e.host.(TypeHost); !ok {
		if array {
			return s.arrayMT
		}
		return nil
	}
	m := &s.rowMTs
	if array {
		m = &s.arrayMTs
	}
	if mt, ok := (*m)[handle]; ok {
		return mt
	}
	if *m == nil || len(*m) >= maxTypeMetas {
		*m = map[int32]*lua.LTable{}
	}
	L := s.L
	mt := L.CreateTable(0, 3)
	if array {
		mt.RawSetString("__array", lua.LTrue)
	}
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(s.TypedText(handle, L.CheckAny(1))))
		return 1
	}))
	(*m)[handle] = mt
	return mt
}

// TypedText is the SQL text of v as a value of the type handle.
func (s *State) TypedText(handle int32, v lua.LValue) string {
	h, ok := s.e.host.(TypeHost)
	if !ok {
		return ""
	}
	t, err := h.TypeText(s, handle, v)
	if err != nil {
		s.raise(err)
	}
	s.reserve(s.L, len(t), "tostring")
	return t
}
