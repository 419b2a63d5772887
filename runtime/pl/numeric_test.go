package pl

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// numeric_ops.tsv was produced by PostgreSQL 15 itself: a, b, a+b, a-b,
// a*b, a/b, div(a,b), mod(a,b), sign of comparison ("ERR:sqlstate" for
// errors). Every result must match digit for digit, scale included.
func TestNumericMatchesPostgres(t *testing.T) {
	f, err := os.Open("testdata/numeric_ops.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 9 {
			t.Fatalf("bad line %q", sc.Text())
		}
		a, err1 := ParseNumeric(cols[0])
		b, err2 := ParseNumeric(cols[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("parse %q %q: %v %v", cols[0], cols[1], err1, err2)
		}
		ops := []struct {
			name string
			fn   func(x, y *Numeric) (*Numeric, error)
		}{
			{"+", (*Numeric).Add}, {"-", (*Numeric).Sub}, {"*", (*Numeric).Mul},
			{"/", (*Numeric).Div}, {"div", (*Numeric).DivTrunc}, {"mod", (*Numeric).Mod},
		}
		for i, op := range ops {
			want := cols[2+i]
			r, err := op.fn(a, b)
			got := ""
			if err != nil {
				got = "ERR:" + err.(*Error).SQLState
			} else {
				got = r.String()
			}
			if got != want {
				t.Errorf("%s %s %s = %s, PostgreSQL says %s", cols[0], op.name, cols[1], got, want)
			}
		}
		if c := a.Cmp(b); itoa(c) != cols[8] {
			t.Errorf("cmp(%s, %s) = %d, PostgreSQL says %s", cols[0], cols[1], c, cols[8])
		}
		n++
	}
	if n < 500 {
		t.Fatalf("only %d cases", n)
	}
}

func itoa(i int) string {
	switch i {
	case -1:
		return "-1"
	case 1:
		return "1"
	}
	return "0"
}

// numeric_in.tsv: numeric_in's verdict on inputs (LONG: valid, too long
// to keep in the file).
func TestNumericInput(t *testing.T) {
	data, err := os.ReadFile("testdata/numeric_in.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		in, want, _ := strings.Cut(line, "\t")
		n, err := ParseNumeric(in)
		got := ""
		if err != nil {
			got = "ERR:" + err.(*Error).SQLState
		} else {
			got = n.String()
			if want == "LONG" {
				got = "LONG"
			}
		}
		if got != want {
			t.Errorf("numeric %q = %s, PostgreSQL says %s", in, got, want)
		}
	}
}

func TestNumericMethods(t *testing.T) {
	num := func(s string) *Numeric {
		n, err := ParseNumeric(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		name string
		got  func() (*Numeric, error)
		want string
	}{
		// round(x, s) and trunc(x, s) as in SQL (half away from zero).
		{"round 2.5", func() (*Numeric, error) { return num("2.5").Round(0) }, "3"},
		{"round -2.5", func() (*Numeric, error) { return num("-2.5").Round(0) }, "-3"},
		{"round 1234.5678,-2", func() (*Numeric, error) { return num("1234.5678").Round(-2) }, "1200"},
		{"round 1.2,3", func() (*Numeric, error) { return num("1.2").Round(3) }, "1.200"},
		{"round 0.05,1", func() (*Numeric, error) { return num("0.05").Round(1) }, "0.1"},
		{"trunc 1.29,1", func() (*Numeric, error) { return num("1.29").Trunc(1) }, "1.2"},
		{"trunc -1.29,1", func() (*Numeric, error) { return num("-1.29").Trunc(1) }, "-1.2"},
		{"trunc 1.2,3", func() (*Numeric, error) { return num("1.2").Trunc(3) }, "1.200"},
		{"floor -1.5", func() (*Numeric, error) { return num("-1.5").Floor() }, "-2"},
		{"floor 1.5", func() (*Numeric, error) { return num("1.5").Floor() }, "1"},
		{"ceil -1.5", func() (*Numeric, error) { return num("-1.5").Ceil() }, "-1"},
		{"ceil 1.000", func() (*Numeric, error) { return num("1.000").Ceil() }, "1"},
		{"round inf", func() (*Numeric, error) { return num("Infinity").Round(2) }, "Infinity"},
		{"abs", func() (*Numeric, error) { return num("-0.50").Abs(), nil }, "0.50"},
		{"neg zero", func() (*Numeric, error) { return num("0.00").Neg(), nil }, "0.00"},
		// Lua's % is floored: the sign of the divisor.
		{"floormod -7,2", func() (*Numeric, error) { return num("-7").FloorMod(num("2")) }, "1"},
		{"floormod 7,-2", func() (*Numeric, error) { return num("7").FloorMod(num("-2")) }, "-1"},
		{"floormod 7.5,2", func() (*Numeric, error) { return num("7.5").FloorMod(num("2")) }, "1.5"},
		{"from float", func() (*Numeric, error) { return NumericFromFloat(0.1), nil }, "0.1"},
		{"from float big", func() (*Numeric, error) { return NumericFromFloat(1e20), nil }, "100000000000000000000"},
		{"from float tiny", func() (*Numeric, error) { return NumericFromFloat(2.5e-10), nil }, "0.00000000025"},
		{"from int64", func() (*Numeric, error) { return NumericFromInt64(-9223372036854775808), nil }, "-9223372036854775808"},
	}
	for _, tt := range tests {
		r, err := tt.got()
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if r.String() != tt.want {
			t.Errorf("%s = %s, want %s", tt.name, r, tt.want)
		}
	}
	if f := num("0.1").Float64(); f != 0.1 {
		t.Errorf("Float64(0.1) = %v", f)
	}
	if i, ok := num("-12.000").Int64(); !ok || i != -12 {
		t.Errorf("Int64(-12.000) = %v %v", i, ok)
	}
	if _, ok := num("9223372036854775808").Int64(); ok {
		t.Error("Int64 beyond int64 succeeded")
	}
	if _, ok := num("1.5").Int64(); ok {
		t.Error("Int64 of a fraction succeeded")
	}
}

// The product keeps every digit up to numeric's display-scale limit, and
// refuses more integer digits than numeric holds.
func TestNumericLimits(t *testing.T) {
	big, _ := ParseNumeric("1e70000")
	if _, err := big.Mul(big); err == nil || err.(*Error).SQLState != sqlstate.NumericValueOutOfRange {
		t.Errorf("1e70000 squared: %v", err)
	}
	tiny, _ := ParseNumeric("1e-10000")
	r, err := tiny.Mul(tiny)
	if err != nil {
		t.Fatal(err)
	}
	if r.scale != numericMaxScale || r.Sign() != 0 {
		t.Errorf("1e-10000 squared = scale %d sign %d", r.scale, r.Sign())
	}
}
