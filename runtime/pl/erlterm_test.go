// Tests of the Lua <-> Erlang term mapping that the fuzz target does not
// pin down: negative zero.
package pl

import (
	"math"
	"testing"

	"github.com/plerl/plerl/runtime/term"
)

// A Lua number can be -0.0 (gopher-lua numbers are float64), and there is
// no integer -0: a negative zero goes to Erlang as the float -0.0, not as
// the integer 0, alone and in lists, tuples, map keys and map values.
func TestNegativeZeroTerm(t *testing.T) {
	s := newValuesState(t)
	opt := &TermOptions{NullAtom: "nil", MaxAtoms: 100}
	nz := math.Copysign(0, -1)
	for _, tt := range []any{
		nz,
		term.List{int64(1), nz, 0.5},
		term.Tuple{term.Atom("ok"), nz},
		term.Map{{Key: nz, Value: term.Binary("v")}},
		term.Map{{Key: term.Binary("k"), Value: nz}},
	} {
		v, err := s.FromTerm(tt, opt)
		if err != nil {
			t.Fatalf("FromTerm(%s): %v", describeTerm(tt), err)
		}
		back, err := s.ToTerm(v, opt)
		if err != nil || !term.Equal(back, tt) { // Equal compares floats by bits
			t.Errorf("%s came back from Lua as %s (%v)", describeTerm(tt), describeTerm(back), err)
		}
	}
	// -z at run time: gopher-lua's constant pool would merge the literals
	// -0.0 and 0.0 (Go map keys that compare equal).
	v, err := luaEval(t, s, `local z = 0.0; return {-z, z, 1.0}`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ToTerm(v, opt)
	if want := (term.List{nz, int64(0), int64(1)}); err != nil || !term.Equal(got, want) {
		t.Errorf("{-z, z, 1.0} = %s (%v), want %s", describeTerm(got), err, describeTerm(want))
	}
}
