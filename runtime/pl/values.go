// Values: what the backend passes in and expects back, as Lua values.
package pl

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// maxExact is the largest integer a float64 (a Lua number) holds exactly.
const maxExact = 1 << 53

// IntValue is an integer argument: a plain number when exact, else an
// int64 userdata that keeps every digit.
func (s *State) IntValue(i int64) lua.LValue {
	if i >= -maxExact && i <= maxExact {
		return lua.LNumber(i)
	}
	return s.NewInt64(i)
}

// ToBool converts a result to boolean (Lua truthiness, like an IF).
func ToBool(v lua.LValue) bool { return lua.LVAsBool(v) }

// ToInt converts a result to an integer of the given bit size, refusing
// fractions and values out of range instead of rounding.
func (s *State) ToInt(v lua.LValue, bits int) (int64, error) {
	var i int64
	switch x := v.(type) {
	case lua.LNumber:
		f := float64(x)
		if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, Errorf(StateInvalidText, "invalid input syntax for type %s: %q", intTypeName(bits), fmtNumber(f))
		}
		if f < -9223372036854775808.0 || f >= 9223372036854775808.0 {
			return 0, Errorf(StateOutOfRange, "value %s out of range for type %s", fmtNumber(f), intTypeName(bits))
		}
		if math.Abs(f) > maxExact {
			return 0, Errorf(StateOutOfRange, "Lua number %s is beyond 2^53 and may have been rounded: use an int64 value or a string for %s", fmtNumber(f), intTypeName(bits))
		}
		i = int64(f)
	case lua.LString:
		n, err := strconv.ParseInt(strings.TrimSpace(string(x)), 10, 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return 0, Errorf(StateOutOfRange, "value %q is out of range for type %s", string(x), intTypeName(bits))
			}
			return 0, Errorf(StateInvalidText, "invalid input syntax for type %s: %q", intTypeName(bits), string(x))
		}
		i = n
	case *lua.LUserData:
		n, ok := s.CheckInt64Value(x)
		if !ok {
			return 0, Errorf(StateDatatype, "cannot convert %s to %s", s.typeName(v), intTypeName(bits))
		}
		i = n
	default:
		return 0, Errorf(StateDatatype, "cannot convert %s to %s", s.typeName(v), intTypeName(bits))
	}
	switch bits {
	case 16:
		if i < math.MinInt16 || i > math.MaxInt16 {
			return 0, Errorf(StateOutOfRange, "smallint out of range")
		}
	case 32:
		if i < math.MinInt32 || i > math.MaxInt32 {
			return 0, Errorf(StateOutOfRange, "integer out of range")
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

// ToFloat converts a result to a float.
func (s *State) ToFloat(v lua.LValue) (float64, error) {
	switch x := v.(type) {
	case lua.LNumber:
		return float64(x), nil
	case lua.LString:
		f, err := strconv.ParseFloat(strings.TrimSpace(string(x)), 64)
		if err != nil {
			return 0, Errorf(StateInvalidText, "invalid input syntax for type double precision: %q", string(x))
		}
		return f, nil
	case *lua.LUserData:
		if n, ok := s.CheckInt64Value(x); ok {
			return float64(n), nil
		}
	}
	return 0, Errorf(StateDatatype, "cannot convert %s to a float", s.typeName(v))
}

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
	case *lua.LUserData, *lua.LTable:
		if s.L.GetMetaField(v, "__tostring") != lua.LNil {
			return s.tostring(v), nil
		}
	}
	return "", Errorf(StateDatatype, "cannot convert %s to text", s.typeName(v))
}

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

var _ = fmt.Sprint
