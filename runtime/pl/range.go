// Ranges as values: pgtype.<range type>(...) makes one (the host's
// constructor: the range type's own input function, so a discrete range
// is canonical as PostgreSQL makes it). A range is its SQL text and its
// type; its parts (r.lower, r.upper, r.lower_inc, r.upper_inc,
// r.lower_inf, r.upper_inf, r.isempty) are read from the host on first
// use and kept.
package pl

import (
	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
)

const rangeMetaName = "pgtype.range"

// Range is a value of a range type: its handle (TypeHost's) and text.
type Range struct {
	Handle int32
	Text   string
	parts  *RangeParts
}

// RangeParts are a range's bounds (nil when infinite or empty) and flags.
type RangeParts struct {
	Lower, Upper                                  lua.LValue
	Empty, LowerInc, UpperInc, LowerInf, UpperInf bool
}

// RangeHost reads a range's parts.
type RangeHost interface {
	RangeParts(s *State, handle int32, text string) (RangeParts, error)
}

// NewRange wraps a range value's text as a Lua value.
func (s *State) NewRange(handle int32, text string) lua.LValue {
	ud := s.L.NewUserData()
	ud.Value = &Range{Handle: handle, Text: text}
	ud.Metatable = s.L.GetTypeMetatable(rangeMetaName)
	return ud
}

// SQLText is a range's text.
func (r *Range) SQLText() string { return r.Text }

// textValue: values that are their SQL text wherever a string is wanted
// (ranges, timetz): they were strings before they were values.
type textValue interface{ SQLText() string }

// AsSQLText is the SQL text of a range or timetz value.
func AsSQLText(v lua.LValue) (string, bool) {
	if ud, ok := v.(*lua.LUserData); ok {
		if t, ok := ud.Value.(textValue); ok {
			return t.SQLText(), true
		}
	}
	return "", false
}

// AsRange is the range a Lua value holds, if it holds one.
func AsRange(v lua.LValue) (*Range, bool) {
	if ud, ok := v.(*lua.LUserData); ok {
		r, ok := ud.Value.(*Range)
		return r, ok
	}
	return nil, false
}

func (s *State) checkRange(L *lua.LState, n int) *Range {
	if r, ok := AsRange(L.Get(n)); ok {
		return r
	}
	s.raise(Errorf(sqlstate.DatatypeMismatch, "a range expected, got %s", s.typeName(L.Get(n))))
	return nil
}

func (s *State) rangeParts(r *Range) *RangeParts {
	if r.parts != nil {
		return r.parts
	}
	h, ok := s.e.host.(RangeHost)
	if !ok {
		s.raise(Errorf(sqlstate.FeatureNotSupported, "ranges need a backend"))
	}
	p, err := h.RangeParts(s, r.Handle, r.Text)
	if err != nil {
		s.raise(err)
	}
	if p.Lower == nil {
		p.Lower = lua.LNil
	}
	if p.Upper == nil {
		p.Upper = lua.LNil
	}
	r.parts = &p
	return r.parts
}

// textTypeMeta makes the metatable of a userdata kind whose SQL text is
// text(L) of argument 1: its name, protected, tostring and .. by that text.
func (s *State) textTypeMeta(meta, name string, text func(L *lua.LState) string) *lua.LTable {
	L := s.L
	mt := newTypeMeta(L, meta, 8)
	mt.RawSetString("__name", lua.LString(name))
	mt.RawSetString("__metatable", lua.LString(name))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(text(L)))
		return 1
	}))
	mt.RawSetString("__concat", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(s.tostring(L.Get(1)) + s.tostring(L.Get(2))))
		return 1
	}))
	return mt
}

func (s *State) registerRange() {
	L := s.L
	mt := s.textTypeMeta(rangeMetaName, "range", func(L *lua.LState) string { return s.checkRange(L, 1).Text })
	mt.RawSetString("__eq", L.NewFunction(func(L *lua.LState) int {
		a, b := s.checkRange(L, 1), s.checkRange(L, 2)
		L.Push(lua.LBool(a.Handle == b.Handle && a.Text == b.Text))
		return 1
	}))
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		r := s.checkRange(L, 1)
		var v lua.LValue = lua.LNil
		switch L.CheckString(2) {
		case "lower":
			v = s.rangeParts(r).Lower
		case "upper":
			v = s.rangeParts(r).Upper
		case "isempty":
			v = lua.LBool(s.rangeParts(r).Empty)
		case "lower_inc":
			v = lua.LBool(s.rangeParts(r).LowerInc)
		case "upper_inc":
			v = lua.LBool(s.rangeParts(r).UpperInc)
		case "lower_inf":
			v = lua.LBool(s.rangeParts(r).LowerInf)
		case "upper_inf":
			v = lua.LBool(s.rangeParts(r).UpperInf)
		default:
			// The string methods, on the SQL text (r:match(...), r:sub(1, 1)):
			// a range was a string before it was a value.
			v = s.stringMethod(L, L.CheckString(2))
		}
		L.Push(v)
		return 1
	}))
}
