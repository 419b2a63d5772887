// Typed values: the SQL text of rows and arrays that remember their type
// (pl.TypeHost) through the guards of pgtype.c.
package main

/*
#include <stdlib.h>
#include "plerl.h"
*/
import "C"

import (
	"math"
	"strings"
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
)

func (host) TypeText(s *pl.State, handle int32, v lua.LValue) (string, error) {
	var cerr C.PlerlError
	var info *C.PlerlTypeInfo
	var typtype C.int32_t
	if C.plerl_type_info(C.int32_t(handle), &info, &typtype, &cerr) != 0 {
		return "", guardError(&cerr)
	}
	var cv C.PlerlValue
	if err := luaToType(s, v, info, &cv); err != nil {
		return "", err
	}
	var out *C.char
	if C.plerl_type_text(C.int32_t(handle), &cv, &out, &cerr) != 0 {
		return "", guardError(&cerr)
	}
	if out == nil {
		return "", nil
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoString(out), nil
}

func (host) TypeLookup(name string) (int32, error) {
	var cerr C.PlerlError
	var h C.int32_t
	cn, err := cText("type name", name)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cn))
	if C.plerl_type_lookup(cn, &h, &cerr) != 0 {
		return 0, guardError(&cerr)
	}
	return int32(h), nil
}

// TypeBuild is a pgtype constructor: the arguments shaped as a value of
// the type (a row from its fields in order or a table by name, an array
// from its elements or a table, a range from its bounds), converted as a
// result of that type would be (input functions, typmods, domains), and
// back to Lua.
func (host) TypeBuild(s *pl.State, handle int32, args []lua.LValue) (lua.LValue, error) {
	var cerr C.PlerlError
	var info *C.PlerlTypeInfo
	var typtype C.int32_t
	if C.plerl_type_info(C.int32_t(handle), &info, &typtype, &cerr) != 0 {
		return nil, guardError(&cerr)
	}
	arg := func(i int) lua.LValue {
		if i < len(args) {
			return args[i]
		}
		return lua.LNil
	}
	var v lua.LValue
	switch {
	case info.kind == C.PLT_RECORD:
		n := int(info.nfields)
		switch {
		case len(args) == 0 || (len(args) == 1 && (args[0] == lua.LNil || args[0] == s.Null())):
			v = s.L.CreateTable(0, 0)
		case len(args) == 1 && isTable(args[0]):
			v = args[0]
		case len(args) == n:
			t := s.L.CreateTable(0, n)
			for i, name := range unsafe.Slice(info.names, n) {
				t.RawSetString(C.GoString(name), args[i])
			}
			v = t
		default:
			return nil, pl.Errorf(sqlstate.InvalidParameterValue,
				"plerl: incorrect number of arguments for type constructor (expected %d got %d)", n, len(args))
		}
	case info.kind == C.PLT_ARRAY:
		if dims, ok := givenDims(info, args); ok {
			var err error
			if v, err = arrayWithDims(s, args[0].(*lua.LTable), dims); err != nil {
				return nil, err
			}
		} else if len(args) == 1 && isTable(args[0]) {
			v = args[0]
		} else {
			v = s.ArrayTable([]int{len(args)}, []int{1}, func(i int) lua.LValue {
				if args[i] == lua.LNil {
					return s.Null()
				}
				return args[i]
			})
		}
	case typtype == 'r' && (len(args) != 1 || !(isString(args[0]) || isRange(args[0]))):
		if len(args) == 0 {
			v = lua.LString("empty")
			break
		}
		bounds := "[)"
		if b, ok := arg(2).(lua.LString); ok {
			bounds = string(b)
		} else if arg(2) != lua.LNil {
			return nil, pl.Errorf(sqlstate.InvalidParameterValue, "pgtype: range bounds must be a string such as '[)', not %s", s.TypeName(arg(2)))
		}
		if len(bounds) != 2 || !strings.Contains("[(", bounds[:1]) || !strings.Contains("])", bounds[1:]) {
			return nil, pl.Errorf(sqlstate.InvalidParameterValue, "pgtype: invalid range bounds %q", bounds)
		}
		lo, err := rangeBound(s, arg(0))
		if err != nil {
			return nil, err
		}
		hi, err := rangeBound(s, arg(1))
		if err != nil {
			return nil, err
		}
		v = lua.LString(bounds[:1] + lo + "," + hi + bounds[1:])
	default:
		if len(args) > 1 {
			what := ""
			if info.kind == C.PLT_JSON || info.kind == C.PLT_JSONB {
				what = " (pllua's options for JSON, such as null or map, are not supported)"
			}
			return nil, pl.Errorf(sqlstate.InvalidParameterValue,
				"pgtype: %s takes one value, %d given%s", typeName(info), len(args), what)
		}
		v = arg(0)
	}
	var in, out C.PlerlValue
	if err := luaToType(s, v, info, &in); err != nil {
		return nil, err
	}
	if C.plerl_type_coerce(C.int32_t(handle), &in, &out, &cerr) != 0 {
		return nil, guardError(&cerr)
	}
	lv, err := valueToLua(s, &out)
	if err != nil {
		return nil, err
	}
	if str, ok := lv.(lua.LString); ok && typtype == 'r' {
		// A range: a value with parts (pl.Range), its text as SQL made it.
		return s.NewRange(handle, string(str)), nil
	}
	return lv, nil
}

// RangeParts: a range's bounds and flags, as range_deserialize reads the
// value its text makes (plerl_range_parts).
func (host) RangeParts(s *pl.State, handle int32, text string) (pl.RangeParts, error) {
	var p pl.RangeParts
	var cerr C.PlerlError
	var info *C.PlerlTypeInfo
	var typtype C.int32_t
	if C.plerl_type_info(C.int32_t(handle), &info, &typtype, &cerr) != 0 {
		return p, guardError(&cerr)
	}
	var in, lo, hi C.PlerlValue
	if err := luaToType(s, lua.LString(text), info, &in); err != nil {
		return p, err
	}
	var flags C.int32_t
	if C.plerl_range_parts(C.int32_t(handle), &in, &lo, &hi, &flags, &cerr) != 0 {
		return p, guardError(&cerr)
	}
	var err error
	if p.Lower, err = valueToLua(s, &lo); err != nil {
		return p, err
	}
	if p.Upper, err = valueToLua(s, &hi); err != nil {
		return p, err
	}
	p.Empty, p.LowerInc, p.UpperInc = flags&1 != 0, flags&2 != 0, flags&4 != 0
	p.LowerInf, p.UpperInf = flags&8 != 0, flags&16 != 0
	return p, nil
}

// givenDims reads pllua's A(t, d1, d2, ...): a table and the array's
// dimensions (whole numbers). Not for arrays of json or jsonb, whose
// elements may be tables and numbers alike.
func givenDims(info *C.PlerlTypeInfo, args []lua.LValue) ([]lua.LValue, bool) {
	if len(args) < 2 || !isTable(args[0]) || info.elem == nil ||
		info.elem.kind == C.PLT_JSON || info.elem.kind == C.PLT_JSONB {
		return nil, false
	}
	for _, a := range args[1:] {
		if _, ok := a.(lua.LNumber); !ok {
			return nil, false
		}
	}
	return args[1:], true
}

// maxDims is PostgreSQL's MAXDIM; maxGivenElements bounds an array made
// with given dimensions (Lua's tables hold no more in their array part).
// givenElementBytes is about what an element costs of Go heap on its way:
// its slot in the table built here, its value for C, its slot in the
// array's Lua value made from SQL's (the heap grew by more than that:
// 4M elements went past 256 MB).
const (
	maxDims           = 6
	maxGivenElements  = 1 << 24
	givenElementBytes = 64
)

// arrayWithDims is the array of the given dimensions whose element
// [i][j]... is t[i][j]... (nil is NULL; keys beyond the dimensions are
// not read).
func arrayWithDims(s *pl.State, t *lua.LTable, given []lua.LValue) (lua.LValue, error) {
	if len(given) > maxDims {
		return nil, pl.Errorf(sqlstate.ProgramLimitExceeded,
			"pgtype: %d array dimensions given, at most %d are allowed", len(given), maxDims)
	}
	dims := make([]int, len(given))
	total := 1
	for i, g := range given {
		f := float64(g.(lua.LNumber))
		if f != math.Trunc(f) || f < 0 || f > maxGivenElements {
			return nil, pl.Errorf(sqlstate.InvalidParameterValue,
				"pgtype: array dimension %d must be a whole number from 0 to %d, not %v", i+1, maxGivenElements, g)
		}
		dims[i] = int(f)
		total *= dims[i]
		if total > maxGivenElements {
			return nil, pl.Errorf(sqlstate.ProgramLimitExceeded,
				"pgtype: an array of the given dimensions would have more than %d elements", maxGivenElements)
		}
	}
	if total == 0 {
		return s.ArrayTable(nil, nil, nil), nil
	}
	// Two numbers ask for up to 2^24 elements: the memory is checked before
	// it is taken, and cancel while the elements are read (seconds of Go
	// work otherwise, past statement_timeout).
	if err := s.Reserve(pl.MulSize(total, givenElementBytes), "pgtype: an array of the given dimensions"); err != nil {
		return nil, err
	}
	lbs := make([]int, len(dims))
	for i := range lbs {
		lbs[i] = 1
	}
	idx := make([]int, len(dims))
	var bad error
	v := s.ArrayTable(dims, lbs, func(n int) lua.LValue {
		if bad != nil {
			return s.Null()
		}
		if n&0xffff == 0xffff {
			if bad = s.Cancelled(); bad != nil {
				return s.Null()
			}
		}
		for d := len(dims) - 1; d >= 0; d-- {
			idx[d] = n%dims[d] + 1
			n /= dims[d]
		}
		var cur lua.LValue = t
		for d, i := range idx {
			tb, ok := cur.(*lua.LTable)
			if !ok {
				if cur != lua.LNil && cur != s.Null() && bad == nil {
					bad = pl.Errorf(sqlstate.InvalidParameterValue,
						"pgtype: the table has %s at depth %d where dimension %d needs a table", s.TypeName(cur), d, d+1)
				}
				return s.Null()
			}
			cur = tb.RawGetInt(i)
		}
		if cur == lua.LNil {
			return s.Null()
		}
		return cur
	})
	if bad != nil {
		return nil, bad
	}
	return v, nil
}

func isTable(v lua.LValue) bool { _, ok := v.(*lua.LTable); return ok }

func isString(v lua.LValue) bool { _, ok := v.(lua.LString); return ok }

func isRange(v lua.LValue) bool { _, ok := pl.AsRange(v); return ok }

// rangeBound is a range bound's text in range syntax: empty for nil
// (unbounded), else the value's text, quoted.
func rangeBound(s *pl.State, v lua.LValue) (string, error) {
	if v == lua.LNil || v == s.Null() {
		return "", nil
	}
	// As a parameter would be: a number in its shortest exact form (not
	// tostring's 14 digits), int64 and numeric exactly, strings as given.
	t, err := s.ToText(v)
	if err != nil {
		return "", err
	}
	if strings.IndexByte(t, 0) >= 0 {
		return "", pl.Errorf(sqlstate.CharacterNotInRepertoire, "range bound contains a NUL byte (0x00)")
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(t) + `"`, nil
}

func (host) TypeOfArg(n int) (int32, error) {
	var cerr C.PlerlError
	var h C.int32_t
	if n < 0 || n > 1<<20 {
		return 0, pl.Errorf(sqlstate.InvalidParameterValue, "pgtype(nil, %d): no such argument", n)
	}
	if C.plerl_type_of_arg(C.int32_t(n), &h, &cerr) != 0 {
		return 0, guardError(&cerr)
	}
	return int32(h), nil
}

func (host) TypeElement(handle int32) (int32, error) {
	var cerr C.PlerlError
	var h C.int32_t
	if C.plerl_type_element(C.int32_t(handle), &h, &cerr) != 0 {
		return 0, guardError(&cerr)
	}
	return int32(h), nil
}

func (host) TypeName(handle int32) (string, error) {
	var cerr C.PlerlError
	var info *C.PlerlTypeInfo
	var typtype C.int32_t
	if C.plerl_type_info(C.int32_t(handle), &info, &typtype, &cerr) != 0 {
		return "", guardError(&cerr)
	}
	return C.GoString(info.name), nil
}
