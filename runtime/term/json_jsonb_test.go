// Tests that the JSON mapping survives a trip through jsonb: negative zero
// and the 131072-digit integer limit, the two places where jsonb's numeric
// and Go's float64 or big.Int disagree.
package term

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

// jsonbNumbers rewrites JSON text the way storing it in jsonb rewrites its
// numbers: numeric has no negative zero, so -0, -0.0 and -0.000 lose their
// sign (checked against PostgreSQL 15: '[-0, -0.0]'::jsonb is [0, 0.0]).
// ToJSON never writes exponents, so nothing else about numbers changes.
func jsonbNumbers(js []byte) []byte {
	out := make([]byte, 0, len(js))
	inStr := false
	for i := 0; i < len(js); i++ {
		c := js[i]
		switch {
		case inStr:
			if c == '\\' {
				out = append(out, c, js[i+1])
				i++
				continue
			}
			inStr = c != '"'
		case c == '"':
			inStr = true
		case c == '-':
			n, _ := ScanJSONNumber(js[i:])
			if strings.Trim(string(js[i+1:i+n]), "0.") == "" {
				continue // a negative zero: drop the sign
			}
		}
		out = append(out, c)
	}
	return out
}

var negZero = math.Copysign(0, -1)

// A term holding -0.0 anywhere comes back from jsonb with the sign kept.
func TestNegativeZeroThroughJSONB(t *testing.T) {
	cases := []struct {
		name string
		term any
		back any // what FromJSON gives with default options; nil: term
	}{
		{"alone", negZero, nil},
		{"in a list", List{int64(1), negZero, 0.0}, nil},
		{"in a tuple", Tuple{Atom("ok"), negZero}, nil},
		{"map value", Map{{Binary("k"), negZero}}, nil},
		{"map key", Map{{negZero, Binary("v")}}, nil},
		{"map key and value", Map{{negZero, negZero}, {int64(1), negZero}}, nil},
		{"atom-keyed map value", Map{{Atom("a"), negZero}}, Map{{Binary("a"), negZero}}},
		{"improper tail", ImproperList{Elems: []any{negZero}, Tail: negZero}, nil},
	}
	for _, c := range cases {
		want := c.back
		if want == nil {
			want = c.term
		}
		js, err := ToJSON(c.term, nil)
		if err != nil {
			t.Errorf("%s: ToJSON: %v", c.name, err)
			continue
		}
		back, err := FromJSON(jsonbNumbers(js), nil)
		if err != nil {
			t.Errorf("%s: FromJSON(%s): %v", c.name, js, err)
			continue
		}
		if !Equal(back, want) { // Equal compares floats by bits
			t.Errorf("%s: %s through jsonb is %#v, want %#v", c.name, js, back, want)
		}
	}
	got, err := FromJSON([]byte(`{"$float":"-0.0"}`), nil)
	if f, ok := got.(float64); err != nil || !ok || f != 0 || !math.Signbit(f) {
		t.Errorf(`FromJSON({"$float":"-0.0"}) = %v, %v`, got, err)
	}
}

// pow10 returns 10^n.
func pow10(n int64) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(n), nil)
}

// An integer of up to 131072 digits (what jsonb's numeric holds before the
// decimal point; checked against PostgreSQL 15) is accepted both ways, one
// of 131073 refused both ways with KindOutOfRange (22003).
func TestJSONIntegerDigitLimit(t *testing.T) {
	one := big.NewInt(1)
	max := new(big.Int).Sub(pow10(MaxJSONIntDigits), one) // 131072 nines
	tooBig := pow10(MaxJSONIntDigits)                     // 131073 digits
	allOnes := new(big.Int).Sub(new(big.Int).Lsh(one, uint(max.BitLen())), one)
	fits := map[string]*big.Int{
		"10^131071":      pow10(MaxJSONIntDigits - 1),
		"10^131072-1":    max,
		"-(10^131072-1)": new(big.Int).Neg(max),
		"2^435411":       new(big.Int).Lsh(one, uint(max.BitLen()-1)),
	}
	for name, x := range fits {
		js, err := ToJSON(List{x}, nil)
		if err != nil {
			t.Errorf("ToJSON(%s): %v", name, err)
			continue
		}
		back, err := FromJSON(js, nil)
		if err != nil || !Equal(back, List{x}) {
			t.Errorf("FromJSON(ToJSON(%s)): %v", name, err)
		}
		digits := strings.TrimPrefix(x.String(), "-")
		back, err = FromJSON([]byte(`{"$int":"`+x.String()+`"}`), nil)
		if len(digits) != MaxJSONIntDigits || err != nil || !Equal(back, x) {
			t.Errorf("$int %s (%d digits): %v", name, len(digits), err)
		}
	}
	refused := map[string]*big.Int{
		"10^131072":    tooBig,
		"-(10^131072)": new(big.Int).Neg(tooBig),
		"2^435412-1":   allOnes, // as many bits as 10^131072-1, one digit more
	}
	for name, x := range refused {
		if x.BitLen() > max.BitLen()+4 {
			t.Fatalf("%s is not at the boundary", name)
		}
		_, err := ToJSON(List{x}, nil)
		var je *JSONError
		if !errors.As(err, &je) || je.Kind != KindOutOfRange || je.Path != "$[0]" || je.Kind.SQLState() != "22003" {
			t.Errorf("ToJSON(%s) = %v, want out of range at $[0]", name, err)
		}
		text := x.String()
		for _, in := range []string{"[" + text + "]", `[{"$int":"` + text + `"}]`} {
			_, err := FromJSON([]byte(in), nil)
			if !errors.As(err, &je) || je.Kind != KindOutOfRange {
				t.Errorf("FromJSON(%s as %.10s...) = %v, want out of range", name, in, err)
			}
		}
	}
}
