// Range values without a backend: their text goes everywhere a string
// went before ranges were values (JSON, Erlang terms, table.concat, the
// string methods); their parts need a host.
package pl

import (
	"testing"

	"github.com/plerl/plerl/runtime/term"
)

func TestRangeText(t *testing.T) {
	s := newValuesState(t)
	s.L.SetGlobal("r", s.NewRange(7, "[1,5)"))
	for src, want := range map[string]string{
		`return tostring(r)`:                      "[1,5)",
		`return 'x' .. r`:                         "x[1,5)",
		`return table.concat({ r, 'y', r }, ' ')`: "[1,5) y [1,5)",
		`return json.encode({ a = r })`:           `{"a":"[1,5)"}`,
		`return r:sub(2, 2) .. r:match('%d+$' ~= nil and ',(%d+)' or '')`: "15",
		`return type(r)`:            "userdata",
		`return tostring(r.nosuch)`: "nil",
		`return tostring(r == r)`:   "true",
	} {
		if got := luaResult(t, s, src); got != want {
			t.Errorf("%s: %q, want %q", src, got, want)
		}
	}
	// Without a host its parts are an error, not a guess.
	if got := luaResult(t, s, `return r.lower`); got != "error: ranges need a backend" {
		t.Errorf("r.lower without a host: %q", got)
	}
	v, err := s.ToTerm(s.NewRange(7, "empty"), &TermOptions{NullAtom: "nil", MaxAtoms: 10})
	if err != nil || !term.Equal(v, term.Binary("empty")) {
		t.Errorf("a range to Erlang: %v (%v), want the binary <<\"empty\">>", v, err)
	}
}
