package term

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"sync"
	"testing"
)

func bigFromString(s string) *big.Int {
	x, ok := new(big.Int).SetString(s, 0)
	if !ok {
		panic(s)
	}
	return x
}

func b(xs ...byte) []byte { return xs }

// golden: bytes written by OTP 25's term_to_binary (erl), the term they
// decode to, and what Append writes for that term when it differs (we write
// UTF-8 atoms; OTP 25 writes Latin-1 ATOM_EXT where it can).
var golden = []struct {
	name   string
	erl    []byte
	term   any
	append []byte // nil: same as erl
}{
	{"small int 0", b(131, 97, 0), int64(0), nil},
	{"small int 255", b(131, 97, 255), int64(255), nil},
	{"int 256", b(131, 98, 0, 0, 1, 0), int64(256), nil},
	{"int -1", b(131, 98, 255, 255, 255, 255), int64(-1), nil},
	{"int max32", b(131, 98, 127, 255, 255, 255), int64(math.MaxInt32), nil},
	{"int min32", b(131, 98, 128, 0, 0, 0), int64(math.MinInt32), nil},
	{"big 2^31", b(131, 110, 4, 0, 0, 0, 0, 128), int64(1 << 31), nil},
	{"big maxint64", b(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 127), int64(math.MaxInt64), nil},
	{"big minint64", b(131, 110, 8, 1, 0, 0, 0, 0, 0, 0, 0, 128), int64(math.MinInt64), nil},
	{"big 2^63", b(131, 110, 8, 0, 0, 0, 0, 0, 0, 0, 0, 128), bigFromString("9223372036854775808"), nil},
	{"big -2^63-1", b(131, 110, 8, 1, 1, 0, 0, 0, 0, 0, 0, 128), bigFromString("-9223372036854775809"), nil},
	{"big 2^200", append(b(131, 110, 26, 0), append(make([]byte, 25), 1)...), new(big.Int).Lsh(big.NewInt(1), 200), nil},
	{"large big -2^2100", append(b(131, 111, 0, 0, 1, 7, 1), append(make([]byte, 262), 16)...), new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 2100)), nil},
	{"float 1.5", b(131, 70, 63, 248, 0, 0, 0, 0, 0, 0), 1.5, nil},
	{"float -0.0", b(131, 70, 128, 0, 0, 0, 0, 0, 0, 0), math.Copysign(0, -1), nil},
	{"float 0.0", b(131, 70, 0, 0, 0, 0, 0, 0, 0, 0), 0.0, nil},
	{"atom ok", b(131, 100, 0, 2, 111, 107), Atom("ok"), b(131, 119, 2, 111, 107)},
	{"atom true", b(131, 100, 0, 4, 116, 114, 117, 101), Atom("true"), b(131, 119, 4, 116, 114, 117, 101)},
	{"atom false", b(131, 100, 0, 5, 102, 97, 108, 115, 101), Atom("false"), b(131, 119, 5, 102, 97, 108, 115, 101)},
	{"atom nil", b(131, 100, 0, 3, 110, 105, 108), Atom("nil"), b(131, 119, 3, 110, 105, 108)},
	{"atom latin1", b(131, 100, 0, 5, 104, 233, 108, 108, 111), Atom("héllo"), b(131, 119, 6, 104, 0xc3, 0xa9, 108, 108, 111)},
	{"atom utf8", b(131, 119, 6, 230, 151, 165, 230, 156, 172), Atom("日本"), nil},
	{"empty binary", b(131, 109, 0, 0, 0, 0), Binary{}, nil},
	{"binary", b(131, 109, 0, 0, 0, 3, 97, 98, 99), Binary("abc"), nil},
	{"bitstring", b(131, 77, 0, 0, 0, 3, 3, 1, 2, 96), BitBinary{Bytes: []byte{1, 2, 96}, Bits: 3}, nil},
	{"empty tuple", b(131, 104, 0), Tuple{}, nil},
	{"tuple", b(131, 104, 2, 100, 0, 1, 97, 97, 1), Tuple{Atom("a"), int64(1)}, b(131, 104, 2, 119, 1, 97, 97, 1)},
	{"nil", b(131, 106), List{}, nil},
	{"string", b(131, 107, 0, 3, 97, 98, 99), List{int64(97), int64(98), int64(99)}, b(131, 108, 0, 0, 0, 3, 97, 97, 97, 98, 97, 99, 106)},
	{"improper", b(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 97, 3), ImproperList{Elems: []any{int64(1), int64(2)}, Tail: int64(3)}, nil},
	{"improper atoms", b(131, 108, 0, 0, 0, 1, 100, 0, 1, 97, 100, 0, 1, 98), ImproperList{Elems: []any{Atom("a")}, Tail: Atom("b")}, b(131, 108, 0, 0, 0, 1, 119, 1, 97, 119, 1, 98)},
	{"list", b(131, 108, 0, 0, 0, 2, 98, 0, 0, 1, 0, 97, 1, 106), List{int64(256), int64(1)}, nil},
	{"empty map", b(131, 116, 0, 0, 0, 0), Map{}, nil},
	{"map", b(131, 116, 0, 0, 0, 2, 100, 0, 1, 97, 108, 0, 0, 0, 1, 100, 0, 1, 120, 106, 109, 0, 0, 0, 1, 107, 97, 1),
		Map{{Atom("a"), List{Atom("x")}}, {Binary("k"), int64(1)}},
		b(131, 116, 0, 0, 0, 2, 119, 1, 97, 108, 0, 0, 0, 1, 119, 1, 120, 106, 109, 0, 0, 0, 1, 107, 97, 1)},
	{"pid", b(131, 88, 100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0),
		Pid{Node: "nonode@nohost", ID: 9},
		b(131, 88, 119, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0)},
	{"ref", b(131, 90, 0, 3, 100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 0, 0, 2, 145, 133, 250, 80, 0, 2, 100, 32, 105, 105),
		Ref{Node: "nonode@nohost", IDs: []uint32{0x29185, 0xfa500002, 0x64206969}},
		b(131, 90, 0, 3, 119, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 0, 0, 2, 145, 133, 250, 80, 0, 2, 100, 32, 105, 105)},
	{"export fun", b(131, 113, 100, 0, 6, 101, 114, 108, 97, 110, 103, 100, 0, 4, 110, 111, 100, 101, 97, 0),
		Fun{Raw: b(113, 100, 0, 6, 101, 114, 108, 97, 110, 103, 100, 0, 4, 110, 111, 100, 101, 97, 0)}, nil},
	// Old and rarely used forms: decoded, written in the modern form.
	{"old float", append(append(b(131, 99), "1.50000000000000000000e+00"...), 0, 0, 0, 0, 0), 1.5, b(131, 70, 63, 248, 0, 0, 0, 0, 0, 0)},
	{"small atom", b(131, 115, 2, 111, 107), Atom("ok"), b(131, 119, 2, 111, 107)},
	{"atom_utf8", b(131, 118, 0, 2, 111, 107), Atom("ok"), b(131, 119, 2, 111, 107)},
	{"old pid", b(131, 103, 119, 1, 110, 0, 0, 0, 1, 0, 0, 0, 2, 3), Pid{Node: "n", ID: 1, Serial: 2, Creation: 3}, b(131, 88, 119, 1, 110, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3)},
	{"old port", b(131, 102, 119, 1, 110, 0, 0, 0, 7, 3), Port{Node: "n", ID: 7, Creation: 3}, b(131, 89, 119, 1, 110, 0, 0, 0, 7, 0, 0, 0, 3)},
	{"new port", b(131, 89, 119, 1, 110, 0, 0, 0, 7, 0, 0, 0, 3), Port{Node: "n", ID: 7, Creation: 3}, nil},
	{"v4 port", b(131, 120, 119, 1, 110, 0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 3), Port{Node: "n", ID: 1<<32 | 7, Creation: 3}, nil},
	{"old ref", b(131, 101, 119, 1, 110, 0, 0, 0, 7, 3), Ref{Node: "n", IDs: []uint32{7}, Creation: 3}, b(131, 90, 0, 1, 119, 1, 110, 0, 0, 0, 3, 0, 0, 0, 7)},
	{"new ref", b(131, 114, 0, 1, 119, 1, 110, 3, 0, 0, 0, 7), Ref{Node: "n", IDs: []uint32{7}, Creation: 3}, b(131, 90, 0, 1, 119, 1, 110, 0, 0, 0, 3, 0, 0, 0, 7)},
	{"list with list tail", b(131, 108, 0, 0, 0, 1, 97, 1, 108, 0, 0, 0, 1, 97, 2, 106), List{int64(1), int64(2)}, b(131, 108, 0, 0, 0, 2, 97, 1, 97, 2, 106)},
	{"bits 8 is binary", b(131, 77, 0, 0, 0, 1, 8, 5), Binary{5}, b(131, 109, 0, 0, 0, 1, 5)},
	{"bitstring garbage bits cleared", b(131, 77, 0, 0, 0, 1, 1, 0xff), BitBinary{Bytes: []byte{0x80}, Bits: 1}, b(131, 77, 0, 0, 0, 1, 1, 0x80)},
	{"bignum with leading zeros", b(131, 110, 3, 1, 5, 0, 0), int64(-5), b(131, 98, 255, 255, 255, 251)},
	{"compressed", b(131, 80, 0, 0, 0, 105, 120, 156, 203, 101, 96, 96, 72, 73, 164, 3, 0, 0, 206, 117, 38, 182),
		Binary(bytes.Repeat([]byte("a"), 100)), append(b(131, 109, 0, 0, 0, 100), bytes.Repeat([]byte("a"), 100)...)},
}

func TestGolden(t *testing.T) {
	for _, g := range golden {
		t.Run(g.name, func(t *testing.T) {
			got, n, err := Decode(g.erl, nil)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if n != len(g.erl) {
				t.Errorf("consumed %d of %d bytes", n, len(g.erl))
			}
			if !Equal(got, g.term) {
				t.Errorf("Decode = %#v, want %#v", got, g.term)
			}
			want := g.append
			if want == nil {
				want = g.erl
			}
			enc, err := Append(nil, g.term)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !bytes.Equal(enc, want) {
				t.Errorf("Append = %v, want %v", enc, want)
			}
			// Trailing bytes are left for the caller.
			got2, n2, err := Decode(append(append([]byte{}, g.erl...), 131, 106), nil)
			if err != nil || n2 != len(g.erl) || !Equal(got2, g.term) {
				t.Errorf("with trailing bytes: %v, %d, %v", got2, n2, err)
			}
		})
	}
}

func TestDecodeSplitsDistMessage(t *testing.T) {
	ctrl, _ := Append(nil, Tuple{int64(2), Atom(""), Pid{Node: "a@b", ID: 1}})
	msg, _ := Append(nil, Tuple{Atom("rex"), Binary("hi")})
	pkt := append(append([]byte{}, ctrl...), msg...)
	c, n, err := Decode(pkt, nil)
	if err != nil || n != len(ctrl) {
		t.Fatalf("ctrl: %v %d %v", c, n, err)
	}
	m, n2, err := Decode(pkt[n:], nil)
	if err != nil || n2 != len(msg) || !Equal(m, Tuple{Atom("rex"), "hi"}) {
		t.Fatalf("msg: %v %d %v", m, n2, err)
	}
}

func TestAppendConveniences(t *testing.T) {
	cases := []struct {
		in   any
		want []byte
	}{
		{true, b(131, 119, 4, 't', 'r', 'u', 'e')},
		{false, b(131, 119, 5, 'f', 'a', 'l', 's', 'e')},
		{"hé", b(131, 109, 0, 0, 0, 3, 'h', 0xc3, 0xa9)},
		{[]byte{1}, b(131, 109, 0, 0, 0, 1, 1)},
		{[]any{1, "a"}, b(131, 108, 0, 0, 0, 2, 97, 1, 109, 0, 0, 0, 1, 'a', 106)},
		{[]any{}, b(131, 106)},
		{List(nil), b(131, 106)},
		{int(-2), b(131, 98, 255, 255, 255, 254)},
		{int32(300), b(131, 98, 0, 0, 1, 44)},
		{uint64(math.MaxUint64), b(131, 110, 8, 0, 255, 255, 255, 255, 255, 255, 255, 255)},
		{big.NewInt(7), b(131, 97, 7)},
		{float32(0.5), b(131, 70, 63, 224, 0, 0, 0, 0, 0, 0)},
		{Atom(strings.Repeat("é", 255)), append(b(131, 118, 1, 254), strings.Repeat("é", 255)...)},
		{BitBinary{Bytes: []byte{0xff}, Bits: 4}, b(131, 77, 0, 0, 0, 1, 4, 0xf0)},
	}
	for _, c := range cases {
		got, err := Append(nil, c.in)
		if err != nil {
			t.Errorf("Append(%#v): %v", c.in, err)
			continue
		}
		if !bytes.Equal(got, c.want) {
			t.Errorf("Append(%#v) = %v, want %v", c.in, got, c.want)
		}
		back, _, err := Decode(got, nil)
		if err != nil || !Equal(back, c.in) {
			t.Errorf("Decode(Append(%#v)) = %#v, %v", c.in, back, err)
		}
	}
}

func TestAppendErrors(t *testing.T) {
	cyclic := make([]any, 1)
	cyclic[0] = cyclic
	cases := []struct {
		name string
		in   any
		kind Kind
	}{
		{"nil", nil, KindMalformed},
		{"go map", map[string]any{}, KindMalformed},
		{"struct", struct{}{}, KindMalformed},
		{"long atom", Atom(strings.Repeat("a", 256)), KindMalformed},
		{"long utf8 atom", Atom(strings.Repeat("é", 256)), KindMalformed},
		{"bad utf8 atom", Atom("\xff"), KindMalformed},
		{"nan", math.NaN(), KindOutOfRange},
		{"inf", math.Inf(-1), KindOutOfRange},
		{"nil in tuple", Tuple{int64(1), nil}, KindMalformed},
		{"ref without ids", Ref{Node: "n"}, KindMalformed},
		{"ref with 6 ids", Ref{Node: "n", IDs: make([]uint32, 6)}, KindMalformed},
		{"bitstring bits 0", BitBinary{Bytes: []byte{1}}, KindMalformed},
		{"bitstring bits 9", BitBinary{Bytes: []byte{1}, Bits: 9}, KindMalformed},
		{"improper without elems", ImproperList{Tail: int64(1)}, KindMalformed},
		{"improper with list tail", ImproperList{Elems: []any{int64(1)}, Tail: List{int64(2)}}, KindMalformed},
		{"forged fun", Fun{Raw: b(109, 0, 0, 0, 0)}, KindMalformed},
		{"fun with trailing bytes", Fun{Raw: b(113, 119, 1, 'm', 119, 1, 'f', 97, 0, 106)}, KindMalformed},
		{"nil big", (*big.Int)(nil), KindMalformed},
		{"cyclic", cyclic, KindTooLarge},
	}
	for _, c := range cases {
		buf := []byte{1, 2}
		out, err := Append(buf, c.in)
		var ee *EncodeError
		if !errors.As(err, &ee) || ee.Kind != c.kind {
			t.Errorf("%s: err = %v, want kind %v", c.name, err, c.kind)
		}
		if len(out) != 2 {
			t.Errorf("%s: buf grew on error", c.name)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	deep := bytes.Repeat([]byte{108, 0, 0, 0, 1}, 1001)
	compressedOK := b(131, 80, 0, 0, 0, 105, 120, 156, 203, 101, 96, 96, 72, 73, 164, 3, 0, 0, 206, 117, 38, 182)
	cases := []struct {
		name string
		in   []byte
		lim  *Limits
		kind Kind
	}{
		{"empty", nil, nil, KindMalformed},
		{"no version", b(97, 1), nil, KindMalformed},
		{"only version", b(131), nil, KindMalformed},
		{"unknown tag", b(131, 1), nil, KindMalformed},
		{"truncated int", b(131, 98, 0, 0), nil, KindMalformed},
		{"huge binary", b(131, 109, 255, 255, 255, 255, 1), nil, KindMalformed},
		{"huge tuple", b(131, 105, 255, 255, 255, 255, 106), nil, KindMalformed},
		{"huge list", b(131, 108, 255, 255, 255, 255, 106), nil, KindMalformed},
		{"huge map", b(131, 116, 255, 255, 255, 255, 106, 106), nil, KindMalformed},
		{"huge bignum", b(131, 111, 255, 255, 255, 255, 0, 1), nil, KindMalformed},
		{"bignum bad sign", b(131, 110, 1, 2, 1), nil, KindMalformed},
		{"empty list ext", b(131, 108, 0, 0, 0, 0, 106), nil, KindMalformed},
		{"nan", b(131, 70, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0), nil, KindMalformed},
		{"inf", b(131, 70, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0), nil, KindMalformed},
		{"bad old float", append(b(131, 99), bytes.Repeat([]byte{'x'}, 31)...), nil, KindMalformed},
		{"bad utf8 atom", b(131, 119, 1, 0xff), nil, KindMalformed},
		{"long latin1 atom", append(b(131, 100, 1, 0), bytes.Repeat([]byte{'a'}, 256)...), nil, KindMalformed},
		{"pid node not atom", b(131, 88, 97, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), nil, KindMalformed},
		{"ref 0 words", b(131, 90, 0, 0, 119, 1, 'n', 0, 0, 0, 0), nil, KindMalformed},
		{"ref 6 words", append(b(131, 90, 0, 6, 119, 1, 'n'), make([]byte, 28)...), nil, KindMalformed},
		{"bit binary 0 bits", b(131, 77, 0, 0, 0, 1, 0, 1), nil, KindMalformed},
		{"bit binary 9 bits", b(131, 77, 0, 0, 0, 1, 9, 1), nil, KindMalformed},
		{"atom cache ref", b(131, 82, 0), nil, KindMalformed},
		{"old fun", b(131, 117, 0, 0, 0, 0), nil, KindMalformed},
		{"local", b(131, 121, 0), nil, KindMalformed},
		{"nested compressed", b(131, 104, 1, 80, 0, 0, 0, 1), nil, KindMalformed},
		{"compressed size 0", b(131, 80, 0, 0, 0, 0, 120, 156), nil, KindMalformed},
		{"compressed too big", compressedOK, &Limits{MaxUncompressed: 104}, KindTooLarge},
		{"compressed size lies", b(131, 80, 0, 0, 0, 104, 120, 156, 203, 101, 96, 96, 72, 73, 164, 3, 0, 0, 206, 117, 38, 182), nil, KindMalformed},
		{"compressed bad checksum", b(131, 80, 0, 0, 0, 105, 120, 156, 203, 101, 96, 96, 72, 73, 164, 3, 0, 0, 206, 117, 38, 183), nil, KindMalformed},
		{"compressed truncated", b(131, 80, 0, 0, 0, 105, 120, 156, 203, 101, 96, 96, 72, 73, 164, 3, 0, 0, 206, 117), nil, KindMalformed},
		{"compressed garbage", b(131, 80, 0, 0, 0, 1, 1, 2, 3), nil, KindMalformed},
		{"too deep", append(append(b(131), deep...), 106), nil, KindTooLarge},
		{"too many items", b(131, 104, 3, 97, 1, 97, 2, 97, 3), &Limits{MaxItems: 3}, KindTooLarge},
		{"too many string items", b(131, 107, 0, 3, 1, 2, 3), &Limits{MaxItems: 3}, KindTooLarge},
		{"depth limit", b(131, 104, 1, 104, 1, 106), &Limits{MaxDepth: 1}, KindTooLarge},
		{"fun size lies", b(131, 112, 255, 255, 255, 255), nil, KindMalformed},
		{"export arity not small int", b(131, 113, 119, 1, 'm', 119, 1, 'f', 98, 0, 0, 0, 0), nil, KindMalformed},
	}
	for _, c := range cases {
		_, _, err := Decode(c.in, c.lim)
		var de *DecodeError
		if !errors.As(err, &de) || de.Kind != c.kind {
			t.Errorf("%s: err = %v, want kind %v", c.name, err, c.kind)
		}
	}
	// Just inside the limits.
	if _, _, err := Decode(b(131, 104, 2, 97, 1, 97, 2), &Limits{MaxItems: 3}); err != nil {
		t.Errorf("3 items with MaxItems 3: %v", err)
	}
	if _, _, err := Decode(b(131, 104, 1, 104, 0), &Limits{MaxDepth: 1}); err != nil {
		t.Errorf("depth 1 with MaxDepth 1: %v", err)
	}
	ok := append(append(b(131), deep[:5*1000]...), bytes.Repeat([]byte{106}, 1001)...)
	if _, _, err := Decode(ok, nil); err != nil {
		t.Errorf("depth 1000: %v", err)
	}
}

// TestDecodeConcurrentAtoms: the shared atom cache gives every goroutine
// the atoms it decoded, whatever the others store (run with -race).
func TestDecodeConcurrentAtoms(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				want := Tuple{Atom(fmt.Sprintf("atom_%d_%d", g, i%50)), Atom(fmt.Sprintf("k%d", i%3000))}
				enc, _ := Append(nil, want)
				got, _, err := Decode(enc, nil)
				if err != nil || !Equal(got, want) {
					t.Errorf("got %v, %v; want %v", got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
