package term

import (
	"bytes"
	"errors"
	"testing"
)

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
