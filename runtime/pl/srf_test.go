package pl

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func srfFor(t *testing.T, body string, args ...lua.LValue) *SRF {
	t.Helper()
	e := NewEngine(fakeHost{})
	id, err := e.Compile("srf", body, []string{"n"}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.StartSRF(e.State(1, true), id, args)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rows drains r: each row's values joined by ",", then the error if any.
func rows(r *SRF) ([]string, error) {
	var out []string
	for {
		vals, done, err := r.Next()
		if err != nil || done {
			return out, err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = v.String()
		}
		out = append(out, strings.Join(parts, ","))
	}
}

func TestSRFRows(t *testing.T) {
	cases := []struct {
		body    string
		want    string
		errPart string
	}{
		{"for i = 1, n do coroutine.yield(i) end", "1|2|3", ""},
		{"coroutine.yield('a', 'b') coroutine.yield()", "a,b|nil", ""},
		{"coroutine.yield(1) return {2, 3}", "1|2|3", ""},
		{"return {}", "", ""},
		{"return nil", "", ""},
		{"return 42", "42", ""},
		{"coroutine.yield(1) return 'last', 'row'", "1|last,row", ""},
		{"coroutine.yield(1) error('boom')", "1", "boom"},
		{"pcall(function() coroutine.yield(1) end) coroutine.yield(2)", "2", ""},
		{"local ok, e = pcall(function() coroutine.yield(1) end) error(e, 0)", "", "cannot yield inside pcall"},
		{"local g = coroutine.wrap(function() coroutine.yield('x') end) coroutine.yield(g())", "x", ""},
	}
	for _, c := range cases {
		before := liveSRFs
		r := srfFor(t, c.body, lua.LNumber(3))
		got, err := rows(r)
		if strings.Join(got, "|") != c.want {
			t.Errorf("%q: rows %q, want %q", c.body, strings.Join(got, "|"), c.want)
		}
		if c.errPart == "" && err != nil {
			t.Errorf("%q: %v", c.body, err)
		}
		if c.errPart != "" && (err == nil || !strings.Contains(err.Error(), c.errPart)) {
			t.Errorf("%q: error %v, want %q", c.body, err, c.errPart)
		}
		if liveSRFs != before {
			t.Errorf("%q: %d coroutines left running", c.body, liveSRFs-before)
		}
	}
}

func TestSRFCloseEarly(t *testing.T) {
	before := liveSRFs
	r := srfFor(t, "for i = 1, 1e9 do coroutine.yield(i) end")
	for i := 0; i < 3; i++ {
		if _, done, err := r.Next(); done || err != nil {
			t.Fatal(done, err)
		}
	}
	if liveSRFs != before+1 {
		t.Fatalf("live %d, want %d", liveSRFs, before+1)
	}
	r.Close()
	r.Close()
	if liveSRFs != before {
		t.Fatalf("live %d after Close, want %d", liveSRFs, before)
	}
	if _, done, _ := r.Next(); !done {
		t.Fatal("Next after Close is not done")
	}
}
