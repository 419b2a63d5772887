package term

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// watchdog crashes the fuzzing process if one input takes longer than 5 s,
// so that a pathological input is reported (and saved) instead of stalling.
func watchdog(data []byte) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			panic(fmt.Sprintf("input took more than 5 s: %q", data))
		}
	}()
	return func() { close(done) }
}

// FuzzDecode: Decode never panics and fails only with *DecodeError; what it
// decodes, Append encodes, and that encoding decodes to an Equal term and is
// a fixed point (encoding it again gives the same bytes).
func FuzzDecode(f *testing.F) {
	for _, g := range golden {
		f.Add(g.erl)
		if g.append != nil {
			f.Add(g.append)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(data)()
		term, n, err := Decode(data, &Limits{MaxUncompressed: 1 << 20})
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || de.Kind == 0 {
				t.Fatalf("untyped error %T %v", err, err)
			}
			return
		}
		if n < 2 || n > len(data) {
			t.Fatalf("consumed %d of %d bytes", n, len(data))
		}
		enc, err := Append(nil, term)
		if err != nil {
			t.Fatalf("Append(Decode(x)): %v for %#v", err, term)
		}
		back, m, err := Decode(enc, nil)
		if err != nil || m != len(enc) {
			t.Fatalf("Decode(Append(Decode(x))) = %d, %v", m, err)
		}
		if !Equal(back, term) || !Equal(term, back) || Compare(back, term) != 0 {
			t.Fatalf("round trip changed %#v into %#v", term, back)
		}
		enc2, err := Append(nil, back)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point: %v then %v (%v)", enc, enc2, err)
		}
	})
}

// FuzzFromJSON: FromJSON never panics and fails only with *JSONError; what
// it accepts, ToJSON writes (exact mode), and that text reads back as an
// Equal term and is a fixed point.
func FuzzFromJSON(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c.json))
	}
	for _, s := range []string{`[1, {"items": [{"$foo": 1}]}]`, `{"$map":[[1,2],[1,3]]}`, `"\ud800"`, `{"a":1,"a":2}`,
		`{"$improper":[[1],[2]]}`, `[[[[[]]]]]`, `{"$$":1}`, `{"$":1}`, `1e400`, `-0.0e-0`} {
		f.Add([]byte(s))
	}
	opt := &JSONOptions{AtomKeys: AtomKeysTagged}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(data)()
		term, err := FromJSON(data, opt)
		if err != nil {
			var je *JSONError
			if !errors.As(err, &je) || je.Kind == 0 {
				t.Fatalf("untyped error %T %v", err, err)
			}
			return
		}
		js, err := ToJSON(term, opt)
		if err != nil {
			t.Fatalf("ToJSON(FromJSON(%q)): %v", data, err)
		}
		back, err := FromJSON(js, opt)
		if err != nil {
			t.Fatalf("FromJSON(ToJSON(FromJSON(%q))) = %s: %v", data, js, err)
		}
		if !Equal(back, term) {
			t.Fatalf("round trip of %q via %s changed %#v into %#v", data, js, term, back)
		}
		js2, err := ToJSON(back, opt)
		if err != nil || !bytes.Equal(js, js2) {
			t.Fatalf("not a fixed point: %s then %s (%v)", js, js2, err)
		}
		if _, err := Append(nil, term); err != nil {
			t.Fatalf("Append(FromJSON(%q)): %v", data, err)
		}
	})
}
