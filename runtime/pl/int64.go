// int64 userdata: integers beyond ±2^53, which a Lua number would round.
package pl

import (
	"math"
	"strconv"
	"strings"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

const int64MetaName = "int64"

// int64 userdata only ever holds values of magnitude ≥ 2^53: every result is
// normalized (IntValue), so a plain number and an int64 never hold the same
// value and Lua's == (which never calls __eq for a number and a userdata)
// stays right.

// NewInt64 boxes an int64 (use IntValue, which keeps small values numbers).
func (s *State) NewInt64(i int64) *lua.LUserData {
	ud := s.L.NewUserData()
	ud.Value = i
	ud.Metatable = s.int64MT
	return ud
}

// CheckInt64Value unboxes an int64 userdata.
func (s *State) CheckInt64Value(ud *lua.LUserData) (int64, bool) {
	i, ok := ud.Value.(int64)
	return i, ok
}

// errBigintRange is int8's overflow error.
func errBigintRange() *Error { return Errorf(sqlstate.NumericValueOutOfRange, "bigint out of range") }

// errRounded refuses a Lua number that cannot be trusted as an exact integer.
func errRounded(f float64, target string) *Error {
	e := Errorf(sqlstate.NumericValueOutOfRange, "Lua number %s is not below 2^53 and may have been rounded: use an int64 or numeric value (or a string) for %s", fmtNumber(f), target)
	e.Hint = `int64("...") and numeric("...") keep every digit.`
	return e
}

// exactInt returns a Lua number as an int64 when it is an integer below
// 2^53 in magnitude (see maxExact).
func exactInt(f float64, target string) (int64, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return 0, Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type %s: %q", target, fmtNumber(f))
	}
	if math.Abs(f) >= maxExact {
		return 0, errRounded(f, target)
	}
	return int64(f), nil
}

// intOperand reads an operand of int64 arithmetic: an int64, or a number or
// string holding an integer. ok is false for anything else (fractions,
// numerics), which then take the float or numeric path.
func (s *State) intOperand(v lua.LValue) (int64, bool) {
	switch x := v.(type) {
	case *lua.LUserData:
		i, ok := x.Value.(int64)
		return i, ok
	case lua.LNumber:
		f := float64(x)
		if f == math.Trunc(f) && math.Abs(f) < maxExact {
			return int64(f), true
		}
	case lua.LString:
		if i, err := strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64); err == nil {
			return i, true
		}
	}
	return 0, false
}

// int64Arith implements + - * / % ^ for an int64 on either side. Integer
// operands stay exact (overflow raises 22003); a numeric operand makes the
// result numeric; anything else is Lua float arithmetic, as in Lua 5.3.
func (s *State) int64Arith(op string) lua.LGFunction {
	return func(L *lua.LState) int {
		a, b := L.Get(1), L.Get(2)
		if isNumericUD(a) || isNumericUD(b) {
			return s.numericArith(op)(L)
		}
		x, okx := s.intOperand(a)
		y, oky := s.intOperand(b)
		if okx && oky && op != "/" && op != "^" {
			r, err := int64Op(op, x, y)
			if err != nil {
				s.raise(err)
			}
			L.Push(s.IntValue(r))
			return 1
		}
		fx, fy := s.floatOperand(L, a, 1), s.floatOperand(L, b, 2)
		L.Push(lua.LNumber(floatOp(op, fx, fy)))
		return 1
	}
}

func (s *State) floatOperand(L *lua.LState, v lua.LValue, n int) float64 {
	switch x := v.(type) {
	case lua.LNumber:
		return float64(x)
	case *lua.LUserData:
		if i, ok := x.Value.(int64); ok {
			return float64(i)
		}
	case lua.LString:
		if f, err := strconv.ParseFloat(strings.TrimSpace(string(x)), 64); err == nil {
			return f
		}
	}
	L.ArgError(n, "number expected, got "+s.typeName(v))
	return 0
}

func floatOp(op string, x, y float64) float64 {
	switch op {
	case "+":
		return x + y
	case "-":
		return x - y
	case "*":
		return x * y
	case "/":
		return x / y
	case "%":
		return x - math.Floor(x/y)*y
	}
	return math.Pow(x, y)
}

// int64Op is exact integer arithmetic with overflow detection. % is Lua's
// (floored); div and mod are SQL's (truncated).
func int64Op(op string, x, y int64) (int64, error) {
	switch op {
	case "+":
		r := x + y
		if (r > x) != (y > 0) {
			return 0, errBigintRange()
		}
		return r, nil
	case "-":
		r := x - y
		if (r < x) != (y > 0) {
			return 0, errBigintRange()
		}
		return r, nil
	case "*":
		r := x * y
		if x != 0 && (r/x != y || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64)) {
			return 0, errBigintRange()
		}
		return r, nil
	case "div":
		if y == 0 {
			return 0, errDivisionByZero()
		}
		if x == math.MinInt64 && y == -1 {
			return 0, errBigintRange()
		}
		return x / y, nil
	case "mod":
		if y == 0 {
			return 0, errDivisionByZero()
		}
		if y == -1 {
			return 0, nil
		}
		return x % y, nil
	case "%":
		if y == 0 {
			return 0, errDivisionByZero()
		}
		if y == -1 {
			return 0, nil
		}
		r := x % y
		if r != 0 && (r < 0) != (y < 0) {
			r += y
		}
		return r, nil
	}
	return 0, Errorf(sqlstate.InternalError, "plerl: unknown int64 operator %q", op)
}

// ParseInt64 reads a bigint's text form.
func ParseInt64(str string) (int64, error) {
	i, err := strconv.ParseInt(strings.TrimFunc(str, isPGSpace), 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, Errorf(sqlstate.NumericValueOutOfRange, "value %q is out of range for type bigint", str)
		}
		return 0, Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type bigint: %q", str)
	}
	return i, nil
}

// toInt64 converts a constructor argument or method operand.
func (s *State) toInt64(v lua.LValue) (int64, error) {
	switch x := v.(type) {
	case lua.LNumber:
		return exactInt(float64(x), "bigint")
	case lua.LString:
		return ParseInt64(string(x))
	case *lua.LUserData:
		switch u := x.Value.(type) {
		case int64:
			return u, nil
		case *Numeric:
			if i, ok := u.Int64(); ok {
				return i, nil
			}
			if u.IsFinite() {
				if _, r := u.intParts(); r.Sign() == 0 {
					return 0, errBigintRange()
				}
			}
			return 0, Errorf(sqlstate.InvalidTextRepresentation, "numeric %s is not an integer", u.String())
		}
	}
	return 0, Errorf(sqlstate.DatatypeMismatch, "cannot convert %s to int64", s.typeName(v))
}

func (s *State) checkInt64Arg(L *lua.LState, n int) int64 {
	i, err := s.toInt64(L.CheckAny(n))
	if err != nil {
		s.raise(err)
	}
	return i
}

// compareValues orders two numeric values of any kind (number, int64,
// numeric) exactly. NaN sorts last and equals itself, as in SQL.
func (s *State) compareValues(a, b lua.LValue) (int, error) {
	x, okx := s.intOperand(a)
	y, oky := s.intOperand(b)
	if okx && oky {
		switch {
		case x < y:
			return -1, nil
		case x > y:
			return 1, nil
		}
		return 0, nil
	}
	na, err := s.toNumeric(a)
	if err != nil {
		return 0, err
	}
	nb, err := s.toNumeric(b)
	if err != nil {
		return 0, err
	}
	return na.Cmp(nb), nil
}

func (s *State) registerInt64() {
	L := s.L
	mt := newTypeMeta(L, int64MetaName, 16)
	s.int64MT = mt
	mt.RawSetString("__name", lua.LString("int64"))
	mt.RawSetString("__metatable", lua.LString("int64"))
	for ev, op := range map[string]string{"__add": "+", "__sub": "-", "__mul": "*", "__div": "/", "__mod": "%", "__pow": "^"} {
		mt.RawSetString(ev, L.NewFunction(s.int64Arith(op)))
	}
	mt.RawSetString("__unm", L.NewFunction(func(L *lua.LState) int {
		i := s.checkInt64Arg(L, 1)
		if i == math.MinInt64 {
			s.raise(errBigintRange())
		}
		L.Push(s.IntValue(-i))
		return 1
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(strconv.FormatInt(s.checkInt64Arg(L, 1), 10)))
		return 1
	}))
	mt.RawSetString("__concat", s.concatFn)
	mt.RawSetString("__eq", s.eqFn)
	mt.RawSetString("__lt", s.ltFn)
	mt.RawSetString("__le", s.leFn)

	methods := L.CreateTable(0, 16)
	intMethod := func(name, op string) {
		methods.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			a, b := L.CheckAny(1), L.CheckAny(2)
			if isNumericUD(a) || isNumericUD(b) {
				return s.numericArith(op)(L)
			}
			r, err := int64Op(op, s.checkInt64Arg(L, 1), s.checkInt64Arg(L, 2))
			if err != nil {
				s.raise(err)
			}
			L.Push(s.IntValue(r))
			return 1
		}))
	}
	intMethod("add", "+")
	intMethod("sub", "-")
	intMethod("mul", "*")
	intMethod("div", "div")
	intMethod("mod", "mod")
	methods.RawSetString("tonumber", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LNumber(float64(s.checkInt64Arg(L, 1))))
		return 1
	}))
	methods.RawSetString("tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(strconv.FormatInt(s.checkInt64Arg(L, 1), 10)))
		return 1
	}))
	methods.RawSetString("compare", s.compareFn)
	methods.RawSetString("is", L.NewFunction(func(L *lua.LState) int {
		ud, ok := L.Get(1).(*lua.LUserData)
		L.Push(lua.LBool(ok && ud.Metatable == s.int64MT))
		return 1
	}))
	mt.RawSetString("__index", methods)

	// int64(x): the constructor; int64.div(a, b) etc. also work on numbers.
	ctor := L.CreateTable(0, 20)
	methods.ForEach(func(k, v lua.LValue) { ctor.RawSet(k, v) })
	ctor.RawSetString("max", s.NewInt64(math.MaxInt64))
	ctor.RawSetString("min", s.NewInt64(math.MinInt64))
	cmt := L.CreateTable(0, 1)
	cmt.RawSetString("__call", L.NewFunction(func(L *lua.LState) int {
		L.Push(s.IntValue(s.checkInt64Arg(L, 2)))
		return 1
	}))
	cmt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(ctor, cmt)
	L.SetGlobal("int64", ctor)
}
