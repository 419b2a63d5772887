package pl

import (
	"math"
	"strings"
	"testing"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// valuesTestHost is a Host that does nothing (no backend in these tests).
type valuesTestHost struct{}

func (valuesTestHost) Elog(level int, msg, detail, hint string) error { return nil }
func (valuesTestHost) SubxactBegin() error                            { return nil }
func (valuesTestHost) SubxactCommit() error                           { return nil }
func (valuesTestHost) SubxactAbort() error                            { return nil }
func (valuesTestHost) Poisoned() bool                                 { return false }

func newValuesState(t testing.TB) *State {
	t.Helper()
	return NewEngine(valuesTestHost{}).State(0, true)
}

// luaResult runs a chunk and describes its one result: numbers exactly
// (shortest form), other values through tostring, errors as
// "error: <message>".
func luaResult(t testing.TB, s *State, src string) string {
	t.Helper()
	v, err := luaEval(t, s, src)
	if err != nil {
		return "error: " + s.e.fromLuaError(err).Message
	}
	if n, ok := v.(lua.LNumber); ok {
		return fmtNumber(float64(n))
	}
	return s.tostring(v)
}

// luaEval runs a chunk that returns one value.
func luaEval(t testing.TB, s *State, src string) (lua.LValue, error) {
	t.Helper()
	fn, err := s.L.LoadString(src)
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	s.L.Push(fn)
	if err := s.L.PCall(0, 1, nil); err != nil {
		return nil, err
	}
	v := s.L.Get(-1)
	s.L.Pop(1)
	return v, nil
}

func TestInt64Op(t *testing.T) {
	const max, min = math.MaxInt64, math.MinInt64
	tests := []struct {
		op      string
		x, y    int64
		want    int64
		wantErr string // SQLSTATE
	}{
		{"+", max - 1, 1, max, ""},
		{"+", max, 1, 0, sqlstate.NumericValueOutOfRange},
		{"+", min, -1, 0, sqlstate.NumericValueOutOfRange},
		{"+", min, max, -1, ""},
		{"-", min + 1, 1, min, ""},
		{"-", min, 1, 0, sqlstate.NumericValueOutOfRange},
		{"-", max, -1, 0, sqlstate.NumericValueOutOfRange},
		{"-", 0, min, 0, sqlstate.NumericValueOutOfRange},
		{"*", 3037000499, 3037000499, 9223372030926249001, ""},
		{"*", 3037000500, 3037000500, 0, sqlstate.NumericValueOutOfRange},
		{"*", min, -1, 0, sqlstate.NumericValueOutOfRange},
		{"*", -1, min, 0, sqlstate.NumericValueOutOfRange},
		{"*", min, 1, min, ""},
		{"*", 4294967296, -2147483648, min, ""},
		{"*", 4294967296, 2147483648, 0, sqlstate.NumericValueOutOfRange},
		{"*", 0, min, 0, ""},
		{"div", 7, -2, -3, ""},
		{"div", -7, 2, -3, ""},
		{"div", min, -1, 0, sqlstate.NumericValueOutOfRange},
		{"div", 1, 0, 0, sqlstate.DivisionByZero},
		{"mod", -7, 2, -1, ""},
		{"mod", 7, -2, 1, ""},
		{"mod", min, -1, 0, ""},
		{"mod", 1, 0, 0, sqlstate.DivisionByZero},
		{"%", -7, 2, 1, ""},
		{"%", 7, -2, -1, ""},
		{"%", min, -1, 0, ""},
		{"%", 6, 3, 0, ""},
		{"%", 1, 0, 0, sqlstate.DivisionByZero},
	}
	for _, tt := range tests {
		got, err := int64Op(tt.op, tt.x, tt.y)
		if tt.wantErr != "" {
			if err == nil || err.(*Error).SQLState != tt.wantErr {
				t.Errorf("%d %s %d: err %v, want %s", tt.x, tt.op, tt.y, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%d %s %d = %d, %v; want %d", tt.x, tt.op, tt.y, got, err, tt.want)
		}
	}
}

// Lua-level behaviour: normalization below 2^53, operators, comparisons
// shared with numeric, the constructor's refusals.
func TestInt64Lua(t *testing.T) {
	s := newValuesState(t)
	tests := []struct {
		src  string
		want string // tostring of the result, or "error: <substring>"
	}{
		{`return int64("9223372036854775807")`, "9223372036854775807"},
		{`return type(int64("42"))`, "number"},
		{`return type(int64("9007199254740992"))`, "userdata"},
		{`return type(int64("-9007199254740991"))`, "number"},
		{`return int64("9007199254740993") - 1`, "9007199254740992"},
		{`return type(int64("9007199254740993") - 2)`, "number"},
		{`return int64("9223372036854775807") + 1`, "error: bigint out of range"},
		{`return -int64("-9223372036854775808")`, "error: bigint out of range"},
		{`return int64.mul(3037000499, 3037000499)`, "9223372030926249001"},
		{`return int64.add(9007199254740991, 2)`, "9007199254740993"},
		{`return int64.sub(-9007199254740991, 2)`, "-9007199254740993"},
		{`return int64("9007199254740993"):div(2)`, "4503599627370496"},
		{`return int64("-9007199254740993"):mod(10)`, "-3"},
		{`return int64("-9007199254740993") % 10`, "7"},
		{`return int64("9007199254740993") / 2`, "4503599627370496"}, // float division, as in Lua 5.3
		{`return int64("9007199254740993") + 0.5`, "9007199254740992"},
		{`return int64("9007199254740993") + "1"`, "9007199254740994"},
		{`return int64("9007199254740993") * numeric("0.5")`, "4503599627370496.5"},
		{`return int64("9007199254740993") == int64("9007199254740993")`, "true"},
		{`return int64("9007199254740993") < int64("9007199254740994")`, "true"},
		{`return int64("9007199254740993") <= numeric("9007199254740993.0")`, "true"},
		{`return int64("9007199254740993") == numeric("9007199254740993")`, "true"},
		{`return int64.compare(int64("9007199254740993"), 2^53)`, "1"},
		{`return int64.compare(1, 2)`, "-1"},
		{`return "x" .. int64("9223372036854775807")`, "x9223372036854775807"},
		{`return int64("9223372036854775807"):tonumber()`, "9223372036854776000"},
		{`return int64.is(int64.max)`, "true"},
		{`return int64(2^53)`, "error: not below 2^53"},
		{`return int64(0.5)`, "error: invalid input syntax for type bigint"},
		{`return int64("1e3")`, "error: invalid input syntax for type bigint"},
		{`return int64("9223372036854775808")`, "error: out of range"},
		{`return int64(numeric("1e30"))`, "error: bigint out of range"},
		{`return int64({})`, "error: cannot convert a Lua table to int64"},
	}
	for _, tt := range tests {
		got := luaResult(t, s, tt.src)
		if strings.HasPrefix(tt.want, "error: ") {
			if !strings.HasPrefix(got, "error: ") || !strings.Contains(got, strings.TrimPrefix(tt.want, "error: ")) {
				t.Errorf("%s: got %q, want %q", tt.src, got, tt.want)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.src, got, tt.want)
		}
	}
}

// Results for integer columns: exact or refused, never rounded.
func TestToInt(t *testing.T) {
	s := newValuesState(t)
	tests := []struct {
		v       lua.LValue
		bits    int
		want    int64
		wantErr string
	}{
		{lua.LNumber(9007199254740991), 64, 9007199254740991, ""},
		{lua.LNumber(-9007199254740991), 64, -9007199254740991, ""},
		{lua.LNumber(9007199254740992), 64, 0, sqlstate.NumericValueOutOfRange},
		{lua.LNumber(1e19), 64, 0, sqlstate.NumericValueOutOfRange},
		{lua.LNumber(2.5), 64, 0, sqlstate.InvalidTextRepresentation},
		{lua.LNumber(math.NaN()), 64, 0, sqlstate.InvalidTextRepresentation},
		{lua.LString(" -9223372036854775808 "), 64, math.MinInt64, ""},
		{lua.LString("9223372036854775808"), 64, 0, sqlstate.NumericValueOutOfRange},
		{s.NewInt64(math.MaxInt64), 64, math.MaxInt64, ""},
		{s.NewInt64(math.MaxInt64), 32, 0, sqlstate.NumericValueOutOfRange},
		{lua.LNumber(32768), 16, 0, sqlstate.NumericValueOutOfRange},
		{lua.LNumber(-32768), 16, -32768, ""},
		{s.NewNumeric(NumericFromInt64(7)), 32, 7, ""},
		{lua.LTrue, 32, 0, sqlstate.DatatypeMismatch},
	}
	for _, tt := range tests {
		got, err := s.ToInt(tt.v, tt.bits)
		if tt.wantErr != "" {
			if err == nil || err.(*Error).SQLState != tt.wantErr {
				t.Errorf("ToInt(%v, %d): err %v, want %s", tt.v, tt.bits, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ToInt(%v, %d) = %d, %v; want %d", tt.v, tt.bits, got, err, tt.want)
		}
	}
}
