// pgtype: pllua's namespace of typed values. pgtype.<date/time type> makes
// date and time values (pgtype_dt.go).
package pl

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// pgtypeDateTime are the date and time types pgtype names directly.
var pgtypeDateTime = map[string]DTKind{
	"date": DTDate, "time": DTTime, "timestamp": DTTimestamp, "timestamptz": DTTimestampTZ, "interval": DTInterval,
}

func (s *State) registerPgtype() {
	L := s.L
	pg := L.CreateTable(0, len(pgtypeDateTime)+4)
	for name, k := range pgtypeDateTime {
		kind := k
		pg.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			L.Push(s.NewDateTime(s.pgDTConstruct(kind, L.CheckAny(1))))
			return 1
		}))
	}
	// pgtype.timetz(text) and pllua's table forms (timetz.go).
	pg.RawSetString("timetz", L.NewFunction(func(L *lua.LState) int {
		a := L.Get(1)
		if tbl, ok := a.(*lua.LTable); ok {
			a = lua.LString(s.timeTZText(tbl))
		}
		if a == lua.LNil {
			L.Push(lua.LNil)
			return 1
		}
		t := s.pgTypeNamed("timetz").(*lua.LUserData).Value.(pgType)
		v, err := s.e.host.(TypeHost).TypeBuild(s, t.handle, []lua.LValue{a})
		if err != nil {
			s.raise(err)
		}
		L.Push(v)
		return 1
	}))
	// T:name(), T:element().
	typeName := L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(s.pgTypeName(s.checkPgType(L, 1))))
		return 1
	})
	typeElement := L.NewFunction(func(L *lua.LState) int {
		t := s.checkPgType(L, 1)
		if t.handle <= 0 {
			L.Push(lua.LNil)
			return 1
		}
		e, err := s.e.host.(TypeHost).TypeElement(t.handle)
		if err != nil {
			s.raise(err)
		}
		if e <= 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(s.newPgType(pgType{handle: e}))
		return 1
	})
	tmt := newTypeMeta(L, pgTypeMetaName, 4)
	tmt.RawSetString("__metatable", lua.LString("pgtype"))
	tmt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("pgtype: " + s.pgTypeName(s.checkPgType(L, 1))))
		return 1
	}))
	tmt.RawSetString("__call", L.NewFunction(func(L *lua.LState) int {
		t := s.checkPgType(L, 1)
		args := make([]lua.LValue, 0, L.GetTop()-1)
		for i := 2; i <= L.GetTop(); i++ {
			args = append(args, L.Get(i))
		}
		if t.dt != 0 {
			var a lua.LValue = lua.LNil
			if len(args) > 0 {
				a = args[0]
			}
			if a == lua.LNil {
				L.Push(lua.LNil)
			} else {
				L.Push(s.NewDateTime(s.pgDTConstruct(t.dt, a)))
			}
			return 1
		}
		h, _ := s.e.host.(TypeHost)
		v, err := h.TypeBuild(s, t.handle, args)
		if err != nil {
			s.raise(err)
		}
		L.Push(v)
		return 1
	}))
	tmt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		s.checkPgType(L, 1)
		switch L.CheckString(2) {
		case "name":
			L.Push(typeName)
		case "element":
			L.Push(typeElement)
		default:
			L.Push(lua.LNil)
		}
		return 1
	}))

	arr := L.CreateTable(0, 1)
	amt := L.CreateTable(0, 1)
	amt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.Push(s.pgTypeNamed(L.CheckString(2) + "[]"))
		return 1
	}))
	arr.Metatable = amt
	pg.RawSetString("array", arr)

	mt := L.CreateTable(0, 2)
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.Push(s.pgTypeNamed(L.CheckString(2)))
		return 1
	}))
	// pgtype(v): the type of a row, array or date value from SQL (nil for
	// others); pgtype(nil, 'name'): the type SQL calls name.
	mt.RawSetString("__call", L.NewFunction(func(L *lua.LState) int {
		v := L.Get(2)
		if name, ok := L.Get(3).(lua.LString); ok && v == lua.LNil {
			L.Push(s.pgTypeNamed(string(name)))
			return 1
		}
		if n, ok := L.Get(3).(lua.LNumber); ok {
			h, ok := s.e.host.(TypeHost)
			if !ok {
				s.raise(Errorf(sqlstate.FeatureNotSupported, "pgtype needs a backend"))
			}
			i, err := s.ToInt(n, 32)
			if err != nil {
				s.raise(err)
			}
			handle, err := h.TypeOfArg(int(i))
			if err != nil {
				s.raise(err)
			}
			L.Push(s.newPgType(pgType{handle: handle}))
			return 1
		}
		L.Push(s.pgTypeOf(v))
		return 1
	}))
	pg.Metatable = mt
	L.SetGlobal("pgtype", pg)
}

const pgTypeMetaName = "pgtype.type"

// pgType is a type object: pgtype.<name>, pgtype(v), pgtype(nil, name).
// Calling it makes a value of the type.
type pgType struct {
	handle int32  // the host's handle (0 for a date and time kind)
	dt     DTKind // a date and time type: pgtype.timestamptz{...} rules
	name   string
}

// newPgType is the type object of t: one per type and state, so type
// objects compare equal and work as table keys (pgtype(v) == pgtype.numeric).
// Handles are the backend's and never reused; there are at most
// maxTypeObjects (the host's registry is bounded too).
func (s *State) newPgType(t pgType) lua.LValue {
	if ud, ok := s.typeObjects[t]; ok {
		return ud
	}
	ud := s.L.NewUserData()
	ud.Value = t
	ud.Metatable = s.L.GetTypeMetatable(pgTypeMetaName)
	if s.typeObjects == nil {
		s.typeObjects = map[pgType]lua.LValue{}
	}
	if len(s.typeObjects) < maxTypeObjects {
		s.typeObjects[t] = ud
	}
	return ud
}

// maxTypeObjects bounds the type objects a state keeps.
const maxTypeObjects = 4096

func (s *State) checkPgType(L *lua.LState, n int) pgType {
	if ud, ok := L.Get(n).(*lua.LUserData); ok {
		if t, ok := ud.Value.(pgType); ok {
			return t
		}
	}
	s.raise(Errorf(sqlstate.DatatypeMismatch, "a pgtype type expected, got %s", s.typeName(L.Get(n))))
	return pgType{}
}

// pgTypeName is the SQL name of t.
func (s *State) pgTypeName(t pgType) string {
	if t.dt != 0 {
		return t.dt.String()
	}
	if t.name != "" {
		return t.name
	}
	n, err := s.e.host.(TypeHost).TypeName(t.handle)
	if err != nil {
		s.raise(err)
	}
	return n
}

// maxTypeNames bounds the names a state remembers within one call.
const maxTypeNames = 256

// pgTypeNamed is the type object of the type SQL calls name, looked up
// once per outermost call (a name may mean another type in the next).
func (s *State) pgTypeNamed(name string) lua.LValue {
	if s.typeNames == nil || s.typeNamesCall != s.e.calls || len(s.typeNames) >= maxTypeNames {
		s.typeNames = map[string]lua.LValue{}
		s.typeNamesCall = s.e.calls
	}
	if t, ok := s.typeNames[name]; ok {
		return t
	}
	h, ok := s.e.host.(TypeHost)
	if !ok {
		s.raise(Errorf(sqlstate.FeatureNotSupported, "pgtype needs a backend"))
	}
	handle, err := h.TypeLookup(name)
	if err != nil {
		s.raise(err)
	}
	t := s.newPgType(pgType{handle: handle})
	s.typeNames[name] = t
	return t
}

// pgTypeOf is the type object of a value that remembers its SQL type.
func (s *State) pgTypeOf(v lua.LValue) lua.LValue {
	if d, ok := AsDateTime(v); ok {
		return s.newPgType(pgType{dt: d.Kind, name: d.Kind.String()})
	}
	if r, ok := AsRange(v); ok {
		return s.newPgType(pgType{handle: r.Handle})
	}
	if t, ok := AsTimeTZ(v); ok {
		return s.newPgType(pgType{handle: t.Handle})
	}
	if ud, ok := v.(*lua.LUserData); ok {
		switch ud.Value.(type) {
		case *Numeric:
			return s.pgTypeNamed("pg_catalog.numeric")
		case int64:
			if ud.Metatable == s.int64MT {
				return s.pgTypeNamed("pg_catalog.int8")
			}
		}
		return lua.LNil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		return lua.LNil
	}
	mt, ok := t.Metatable.(*lua.LTable)
	if !ok {
		return lua.LNil
	}
	h, ok := mt.RawGetString("__pgtype").(lua.LNumber)
	if !ok {
		return lua.LNil
	}
	return s.newPgType(pgType{handle: int32(h)})
}

// TypeHost is what a host gives values that remember their SQL type (a
// handle the host assigned, > 0): their SQL text, as the type's output
// function makes it.
type TypeHost interface {
	TypeText(s *State, handle int32, v lua.LValue) (string, error)
	// TypeLookup: the handle of the type SQL calls name.
	TypeLookup(name string) (int32, error)
	// TypeBuild: a value of the type made from a constructor's arguments.
	TypeBuild(s *State, handle int32, args []lua.LValue) (lua.LValue, error)
	// TypeOfArg: the type of the running function's argument n (0: its result).
	TypeOfArg(n int) (int32, error)
	// TypeElement: the element type of an array type (0: not an array).
	TypeElement(handle int32) (int32, error)
	// TypeName: the type's SQL name.
	TypeName(handle int32) (string, error)
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

// RowMetaIntact reports whether mt, a metatable RowMeta returned (nil:
// none), still holds only what RowMeta put there (__pgtype, __tostring):
// no metamethod through which indexing a row could hand it to Lua code.
// getmetatable(row) gives Lua code the shared table to change.
func RowMetaIntact(mt *lua.LTable) bool {
	if mt == nil {
		return true
	}
	if !fastTables || mt.Metatable != lua.LNil {
		return false
	}
	f := fieldsOf(mt)
	if len(f.array) != 0 || len(f.dict) != 0 || len(f.strdict) != 2 {
		return false
	}
	_, t := f.strdict["__tostring"]
	_, p := f.strdict["__pgtype"]
	return t && p
}

// PrivateRowMeta is a copy of mt, an intact row metatable (RowMetaIntact),
// for rows no Lua code can ask for their metatable (kept trigger rows):
// unlike mt, no other row leads to it, so nothing can add to it.
func PrivateRowMeta(mt *lua.LTable) *lua.LTable {
	c := &lua.LTable{Metatable: lua.LNil}
	mt.ForEach(func(k, v lua.LValue) { c.RawSet(k, v) })
	return c
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
	mt.RawSetString("__pgtype", lua.LNumber(handle))
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

// ToString is Lua's tostring of v (metamethods included).
func (s *State) ToString(v lua.LValue) string { return s.tostring(v) }
