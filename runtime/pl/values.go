// Values: what the backend passes in and expects back, as Lua values, and
// the Lua types that carry SQL values exactly (null, int64, numeric, arrays).
package pl

import (
	"math"
	"strconv"
	"strings"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// maxExact bounds the integers a Lua number (float64) is trusted with:
// every integer below 2^53 in magnitude is exact, and no float at or
// beyond it can be told apart from a rounded result (2^53 + 1 becomes
// 2^53). So integers from SQL are numbers only below it (int64 userdata
// from there on), and a number at or beyond it is refused where an exact
// integer or numeric is needed.
const maxExact = 1 << 53

// typeState is what a State keeps for the value types (embedded in State).
type typeState struct {
	int64MT   *lua.LTable
	numericMT *lua.LTable
	arrayMT   *lua.LTable // shared marker of arrays (SQL and JSON)
	objectMT  *lua.LTable // marker of tables that must encode as JSON objects
	// null is the one sentinel for SQL NULL, JSON null and erlang.null.
	null *lua.LUserData
	// Shared by int64 and numeric: Lua compares userdata only when both
	// have the same metamethod.
	eqFn, ltFn, leFn, compareFn, concatFn *lua.LFunction
	// Metatables of rows and arrays of a SQL type, by the host's handle (pgtype.go).
	rowMTs, arrayMTs map[int32]*lua.LTable
	// pgtype's types by name, for one outermost call (typeNamesCall).
	typeNames     map[string]lua.LValue
	typeNamesCall uint64
}

// registerTypes installs null, int64, numeric and json in a new state.
func (s *State) registerTypes() {
	L := s.L
	nmt := newTypeMeta(L, "null", 3)
	nmt.RawSetString("__name", lua.LString("null"))
	nmt.RawSetString("__metatable", lua.LString("null"))
	nmt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("null"))
		return 1
	}))
	s.null = L.NewUserData()
	s.null.Metatable = nmt
	L.SetGlobal("null", s.null)

	s.arrayMT = L.CreateTable(0, 1)
	s.arrayMT.RawSetString("__array", lua.LTrue)
	s.objectMT = L.CreateTable(0, 1)
	s.objectMT.RawSetString("__object", lua.LTrue)

	s.registerNumberHelpers()
	s.registerInt64()
	s.registerNumeric()
	s.registerJSON()
	s.registerDateTime()
	s.registerPgtype()
	s.registerRange()
	s.registerTimeTZ()
}

// Null is the sentinel for SQL NULL (and JSON null) inside tables.
func (s *State) Null() lua.LValue { return s.null }

// IsNull reports whether v means NULL: nil or the null sentinel.
func (s *State) IsNull(v lua.LValue) bool { return v == lua.LNil || v == lua.LValue(s.null) }

// IntValue is an integer argument: a plain number when exact, else an
// int64 userdata that keeps every digit.
func (s *State) IntValue(i int64) lua.LValue {
	if i > -maxExact && i < maxExact {
		return lua.LNumber(i)
	}
	return s.NewInt64(i)
}

// ToBool converts a result to boolean (Lua truthiness, like an IF).
func ToBool(v lua.LValue) bool { return lua.LVAsBool(v) }

// ToInt converts a result to an integer of the given bit size, refusing
// fractions and values out of range instead of rounding, and Lua numbers
// beyond ±2^53 (they may already have been rounded).
func (s *State) ToInt(v lua.LValue, bits int) (int64, error) {
	var i int64
	switch x := v.(type) {
	case lua.LNumber:
		f := float64(x)
		if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type %s: %q", intTypeName(bits), fmtNumber(f))
		}
		if f < -9223372036854775808.0 || f >= 9223372036854775808.0 {
			return 0, Errorf(sqlstate.NumericValueOutOfRange, "value %s out of range for type %s", fmtNumber(f), intTypeName(bits))
		}
		if math.Abs(f) >= maxExact {
			return 0, errRounded(f, intTypeName(bits))
		}
		i = int64(f)
	case lua.LString:
		n, err := strconv.ParseInt(strings.TrimFunc(string(x), isPGSpace), 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return 0, Errorf(sqlstate.NumericValueOutOfRange, "value %q is out of range for type %s", string(x), intTypeName(bits))
			}
			return 0, Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type %s: %q", intTypeName(bits), string(x))
		}
		i = n
	case *lua.LUserData:
		n, err := s.toInt64(x)
		if err != nil {
			if e, ok := err.(*Error); ok && e.SQLState == sqlstate.NumericValueOutOfRange {
				return 0, Errorf(sqlstate.NumericValueOutOfRange, "%s out of range", intTypeName(bits))
			}
			return 0, err
		}
		i = n
	default:
		return 0, Errorf(sqlstate.DatatypeMismatch, "cannot convert %s to %s", s.typeName(v), intTypeName(bits))
	}
	switch bits {
	case 16:
		if i < math.MinInt16 || i > math.MaxInt16 {
			return 0, Errorf(sqlstate.NumericValueOutOfRange, "smallint out of range")
		}
	case 32:
		if i < math.MinInt32 || i > math.MaxInt32 {
			return 0, Errorf(sqlstate.NumericValueOutOfRange, "integer out of range")
		}
	}
	return i, nil
}

func intTypeName(bits int) string {
	switch bits {
	case 16:
		return "smallint"
	case 32:
		return "integer"
	}
	return "bigint"
}

// ToFloat converts a result to a float: numbers as they are, int64 and
// numeric to the nearest float, strings as float8 reads them.
func (s *State) ToFloat(v lua.LValue) (float64, error) {
	switch x := v.(type) {
	case lua.LNumber:
		return float64(x), nil
	case lua.LString:
		str := strings.TrimFunc(string(x), isPGSpace)
		switch strings.ToLower(str) {
		case "infinity", "+infinity", "inf", "+inf":
			return math.Inf(1), nil
		case "-infinity", "-inf":
			return math.Inf(-1), nil
		case "nan":
			return math.NaN(), nil
		}
		f, err := strconv.ParseFloat(str, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return 0, Errorf(sqlstate.NumericValueOutOfRange, "%q is out of range for type double precision", string(x))
			}
			return 0, Errorf(sqlstate.InvalidTextRepresentation, "invalid input syntax for type double precision: %q", string(x))
		}
		return f, nil
	case *lua.LUserData:
		switch u := x.Value.(type) {
		case int64:
			return float64(u), nil
		case *Numeric:
			return u.Float64(), nil
		}
	}
	return 0, Errorf(sqlstate.DatatypeMismatch, "cannot convert %s to a float", s.typeName(v))
}

// NumericText converts a result for a numeric column to numeric's input
// syntax: numeric and int64 exactly, numbers in their shortest exact form
// (refused beyond ±2^53, where they may have been rounded), strings as given.
func (s *State) NumericText(v lua.LValue) (string, error) { return s.numericText(v) }

// ToText converts a result to text: strings as they are, numbers in their
// shortest exact form (integers without ".0"), booleans as true/false,
// anything with __tostring through it. Tables without one are refused.
func (s *State) ToText(v lua.LValue) (string, error) {
	switch x := v.(type) {
	case lua.LString:
		return string(x), nil
	case lua.LNumber:
		return fmtNumber(float64(x)), nil
	case lua.LBool:
		if x {
			return "true", nil
		}
		return "false", nil
	case *lua.LUserData:
		switch u := x.Value.(type) {
		case int64:
			return strconv.FormatInt(u, 10), nil
		case *Numeric:
			return u.String(), nil
		}
		if s.L.GetMetaField(v, "__tostring") != lua.LNil {
			return s.tostring(v), nil
		}
	case *lua.LTable:
		if s.L.GetMetaField(v, "__tostring") != lua.LNil {
			return s.tostring(v), nil
		}
	}
	return "", Errorf(sqlstate.DatatypeMismatch, "cannot convert %s to text", s.typeName(v))
}

// TypeName names a Lua value for messages ("int64", "a Lua table").
func (s *State) TypeName(v lua.LValue) string { return s.typeName(v) }

func (s *State) typeName(v lua.LValue) string {
	if ud, ok := v.(*lua.LUserData); ok {
		if n, ok := s.L.GetMetaField(ud, "__name").(lua.LString); ok {
			return string(n)
		}
	}
	return "a Lua " + v.Type().String()
}

// fmtNumber prints a Lua number as PostgreSQL would read it back exactly.
func fmtNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// FormatNumber is fmtNumber for other packages.
func FormatNumber(f float64) string { return fmtNumber(f) }
