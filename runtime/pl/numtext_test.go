package pl

import (
	"math"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// The expected texts are C's printf("%.14g") (coreutils printf), except
// whole numbers, which keep every digit.
func TestNumberText(t *testing.T) {
	cases := []struct {
		in   float64
		want string
	}{
		{0.1, "0.1"},
		{0.1 + 0.2, "0.3"},
		{-51916498.765433, "-51916498.765433"},
		{1e-5, "1e-05"},
		{0.0001, "0.0001"},
		{123456789012.5, "123456789012.5"},
		{10000000000000.5, "10000000000000"},
		{1.5e300, "1.5e+300"},
		{-2.5e-10, "-2.5e-10"},
		{3.14159265358979, "3.1415926535898"},
		{1e100, "1e+100"},
		{99999999999999.9, "1e+14"},
		{1234567890123456.7, "1.2345678901235e+15"},
		{0, "0"},
		{-17, "-17"},
		{1 << 53, "9007199254740992"},
		{-(1 << 63), "-9223372036854775808"},
		{1 << 63, "9.2233720368548e+18"},
		{math.Inf(1), "+Inf"},
		{math.Inf(-1), "-Inf"},
	}
	for _, c := range cases {
		if got := numberText(lua.LNumber(c.in)); got != c.want {
			t.Errorf("numberText(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

// tostring, `..`, table.concat, string.format's %s and print agree.
func TestNumberTextPaths(t *testing.T) {
	e := NewEngine(fakeHost{})
	for src, want := range map[string]string{
		`return tostring(0.1 + 0.2)`:                                                   "0.3",
		`local x = 0.1 + 0.2 return '<' .. x .. '>'`:                                   "<0.3>",
		`return table.concat({0.1 + 0.2, 2^53, -0.5}, ',')`:                            "0.3,9007199254740992,-0.5",
		`return string.format('%s|%5s', 0.1 + 0.2, 1/4)`:                               "0.3| 0.25",
		`return tostring(2^53) .. ' ' .. 2^63`:                                         "9007199254740992 9.2233720368548e+18",
		`return tostring(-51916498.765433)`:                                            "-51916498.765433",
		`return tostring(setmetatable({}, {__tostring = function() return 'mt' end}))`: "mt",
		`return tostring(nil) .. tostring(true)`:                                       "niltrue",
	} {
		got, err := evalLua(t, e, src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
		} else if got != want {
			t.Errorf("%s = %q, want %q", src, got, want)
		}
	}
}
