// numeric userdata: Lua's view of PostgreSQL numeric (numeric.go does the math).
package pl

import (
	"math"
	"strconv"
	"strings"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

const numericMetaName = "numeric"

// NewNumeric boxes a numeric.
func (s *State) NewNumeric(n *Numeric) *lua.LUserData {
	ud := s.L.NewUserData()
	ud.Value = n
	ud.Metatable = s.numericMT
	return ud
}

// NumericValue is a numeric argument (numeric_out's text) as a userdata.
func (s *State) NumericValue(text string) (lua.LValue, error) {
	n, err := ParseNumeric(text)
	if err != nil {
		return nil, err
	}
	return s.NewNumeric(n), nil
}

func isNumericUD(v lua.LValue) bool {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return false
	}
	_, ok = ud.Value.(*Numeric)
	return ok
}

// toNumeric converts an operand: numeric, int64 (exact), a Lua number
// (its shortest decimal form) or a string in numeric's input syntax.
func (s *State) toNumeric(v lua.LValue) (*Numeric, error) {
	switch x := v.(type) {
	case lua.LNumber:
		return NumericFromFloat(float64(x)), nil
	case lua.LString:
		return ParseNumeric(string(x))
	case *lua.LUserData:
		switch u := x.Value.(type) {
		case *Numeric:
			return u, nil
		case int64:
			return NumericFromInt64(u), nil
		}
	}
	return nil, Errorf(sqlstate.DatatypeMismatch, "cannot convert %s to numeric", s.typeName(v))
}

func (s *State) checkNumericArg(L *lua.LState, n int) *Numeric {
	x, err := s.toNumeric(L.CheckAny(n))
	if err != nil {
		s.raise(err)
	}
	return x
}

// numericArith implements the operators (and the div/mod methods) when
// either operand is a numeric; the result is always a numeric.
func (s *State) numericArith(op string) lua.LGFunction {
	return func(L *lua.LState) int {
		a, b := s.checkNumericArg(L, 1), s.checkNumericArg(L, 2)
		var r *Numeric
		var err error
		switch op {
		case "+":
			r, err = a.Add(b)
		case "-":
			r, err = a.Sub(b)
		case "*":
			r, err = a.Mul(b)
		case "/":
			r, err = a.Div(b)
		case "%":
			r, err = a.FloorMod(b)
		case "div":
			r, err = a.DivTrunc(b)
		case "mod":
			r, err = a.Mod(b)
		case "^":
			r, err = a.PowInt(b) // numeric_pow.go
		default:
			err = Errorf(sqlstate.FeatureNotSupported, "numeric has no %s operator: convert with :tonumber() first", op)
		}
		if err != nil {
			s.raise(err)
		}
		L.Push(s.NewNumeric(r))
		return 1
	}
}

func (s *State) registerNumeric() {
	L := s.L
	mt := newTypeMeta(L, numericMetaName, 16)
	s.numericMT = mt
	mt.RawSetString("__name", lua.LString("numeric"))
	mt.RawSetString("__metatable", lua.LString("numeric"))
	for ev, op := range map[string]string{"__add": "+", "__sub": "-", "__mul": "*", "__div": "/", "__mod": "%", "__pow": "^"} {
		mt.RawSetString(ev, L.NewFunction(s.numericArith(op)))
	}
	mt.RawSetString("__unm", L.NewFunction(func(L *lua.LState) int {
		L.Push(s.NewNumeric(s.checkNumericArg(L, 1).Neg()))
		return 1
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(s.checkNumericArg(L, 1).String()))
		return 1
	}))
	mt.RawSetString("__concat", s.concatFn)
	mt.RawSetString("__eq", s.eqFn)
	mt.RawSetString("__lt", s.ltFn)
	mt.RawSetString("__le", s.leFn)

	methods := L.CreateTable(0, 16)
	methods.RawSetString("div", L.NewFunction(s.numericArith("div")))
	methods.RawSetString("mod", L.NewFunction(s.numericArith("mod")))
	methods.RawSetString("tonumber", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(s.checkNumericArg(L, 1).Float64()))
		return 1
	}))
	methods.RawSetString("tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(s.checkNumericArg(L, 1).String()))
		return 1
	}))
	methods.RawSetString("compare", s.compareFn)
	rounding := func(f func(n *Numeric, digits int) (*Numeric, error)) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			n := s.checkNumericArg(L, 1)
			digits := L.OptInt(2, 0)
			r, err := f(n, digits)
			if err != nil {
				s.raise(err)
			}
			L.Push(s.NewNumeric(r))
			return 1
		})
	}
	methods.RawSetString("round", rounding((*Numeric).Round))
	methods.RawSetString("trunc", rounding((*Numeric).Trunc))
	methods.RawSetString("floor", rounding(func(n *Numeric, _ int) (*Numeric, error) { return n.Floor() }))
	methods.RawSetString("ceil", rounding(func(n *Numeric, _ int) (*Numeric, error) { return n.Ceil() }))
	methods.RawSetString("abs", rounding(func(n *Numeric, _ int) (*Numeric, error) { return n.Abs(), nil }))
	methods.RawSetString("sqrt", L.NewFunction(func(L *lua.LState) int {
		r, err := s.checkNumericArg(L, 1).Sqrt()
		if err != nil {
			s.raise(err)
		}
		L.Push(s.NewNumeric(r))
		return 1
	}))
	methods.RawSetString("sign", L.NewFunction(func(L *lua.LState) int {
		L.Push(s.NewNumeric(s.checkNumericArg(L, 1).SignNum()))
		return 1
	}))
	methods.RawSetString("isnan", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(s.checkNumericArg(L, 1).IsNaN()))
		return 1
	}))
	methods.RawSetString("scale", L.NewFunction(func(L *lua.LState) int {
		n := s.checkNumericArg(L, 1)
		if !n.IsFinite() {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(n.scale))
		return 1
	}))
	methods.RawSetString("is", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(isNumericUD(L.Get(1))))
		return 1
	}))
	mt.RawSetString("__index", methods)

	ctor := L.CreateTable(0, 20)
	methods.ForEach(func(k, v lua.LValue) { ctor.RawSet(k, v) })
	cmt := L.CreateTable(0, 1)
	cmt.RawSetString("__call", L.NewFunction(func(L *lua.LState) int {
		L.Push(s.NewNumeric(s.checkNumericArg(L, 2)))
		return 1
	}))
	cmt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(ctor, cmt)
	L.SetGlobal("numeric", ctor)
}

// registerNumberHelpers makes the functions int64 and numeric share: one
// LFunction per metamethod, because Lua calls __eq/__lt/__le only when both
// operands have the same one (so int64 < numeric works).
func (s *State) registerNumberHelpers() {
	L := s.L
	cmp := func(L *lua.LState) int {
		c, err := s.compareValues(L.CheckAny(1), L.CheckAny(2))
		if err != nil {
			s.raise(err)
		}
		return c
	}
	s.eqFn = L.NewFunction(func(L *lua.LState) int {
		a, b := L.Get(1), L.Get(2)
		if _, err := s.toNumeric(a); err != nil {
			L.Push(lua.LFalse)
			return 1
		}
		if _, err := s.toNumeric(b); err != nil {
			L.Push(lua.LFalse)
			return 1
		}
		L.Push(lua.LBool(cmp(L) == 0))
		return 1
	})
	s.ltFn = L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(cmp(L) < 0))
		return 1
	})
	s.leFn = L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(cmp(L) <= 0))
		return 1
	})
	s.compareFn = L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(cmp(L)))
		return 1
	})
	s.concatFn = L.NewFunction(func(L *lua.LState) int {
		var b strings.Builder
		for i := 1; i <= 2; i++ {
			v := L.CheckAny(i)
			switch x := v.(type) {
			case lua.LString:
				b.WriteString(string(x))
			case lua.LNumber:
				b.WriteString(x.String())
			default:
				if n, err := s.toNumeric(v); err == nil {
					b.WriteString(n.String())
				} else {
					L.RaiseError("cannot concatenate %s", s.typeName(v))
				}
			}
		}
		L.Push(lua.LString(b.String()))
		return 1
	})
}

// numericText is a result value for a numeric column, as numeric_in reads it.
func (s *State) numericText(v lua.LValue) (string, error) {
	switch x := v.(type) {
	case lua.LNumber:
		f := float64(x)
		if math.Abs(f) >= maxExact && !math.IsInf(f, 0) {
			return "", errRounded(f, "numeric")
		}
		return NumericFromFloat(f).String(), nil
	case lua.LString:
		return string(x), nil
	case *lua.LUserData:
		switch u := x.Value.(type) {
		case *Numeric:
			return u.String(), nil
		case int64:
			return strconv.FormatInt(u, 10), nil
		}
	}
	return "", Errorf(sqlstate.DatatypeMismatch, "cannot convert %s to numeric", s.typeName(v))
}
