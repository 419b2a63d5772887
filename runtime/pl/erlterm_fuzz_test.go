package pl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"
	"unicode/utf8"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
	"github.com/plerl/plerl/runtime/term"
)

// FuzzLuaTerm: the bytes describe a tree of Lua values (luaTree); ToTerm
// never panics and fails only with 22023 or 54000; what it makes is a valid
// term (no duplicate map keys, atoms of at most 255 characters of UTF-8,
// finite floats) that the codec encodes and decodes to an Equal term;
// FromTerm takes it back without error; and where the mapping is exact
// (exactTerm), ToTerm of that gives the same term again.
func FuzzLuaTerm(f *testing.F) {
	for _, seed := range luaTermSeeds {
		f.Add(seed)
	}
	e := NewEngine(fakeHost{})
	s := e.State(1, true)
	opt := &TermOptions{NullAtom: "nil", MaxAtoms: 100}
	f.Fuzz(func(t *testing.T, data []byte) {
		defer luaTermWatchdog(data)()
		top := s.L.GetTop()
		defer s.L.SetTop(top)
		v := (&luaTree{s: s, data: data}).value(0)
		t1, err := s.ToTerm(v, opt)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || (pe.SQLState != sqlstate.InvalidParameterValue && pe.SQLState != sqlstate.ProgramLimitExceeded) {
				t.Fatalf("ToTerm failed with %#v", err)
			}
			return
		}
		if why := invalidTerm(t1, opt); why != "" {
			t.Fatalf("ToTerm made an invalid term (%s): %s", why, describeTerm(t1))
		}
		enc, err := term.Encode(t1)
		if err != nil {
			t.Fatalf("cannot encode %s: %v", describeTerm(t1), err)
		}
		dec, _, err := term.Decode(enc, nil)
		if err != nil || !term.Equal(dec, t1) {
			t.Fatalf("codec round trip of %s: %v, %v", describeTerm(t1), describeTerm(dec), err)
		}
		back, err := s.FromTerm(t1, opt)
		if err != nil {
			t.Fatalf("FromTerm(%s): %v", describeTerm(t1), err)
		}
		exact := exactTerm(t1, opt)
		t2, err := s.ToTerm(back, opt)
		if err != nil {
			// Where the mapping is not exact, two keys can meet (#{} and []
			// both come back as an empty table); it must still fail cleanly.
			var pe *Error
			if exact || !errors.As(err, &pe) || pe.SQLState != sqlstate.InvalidParameterValue {
				t.Fatalf("ToTerm(FromTerm(%s)): %v", describeTerm(t1), err)
			}
			return
		}
		if exact && !term.Equal(t1, t2) {
			t.Fatalf("round trip: %s came back as %s", describeTerm(t1), describeTerm(t2))
		}
	})
}

func luaTermWatchdog(data []byte) (stop func()) {
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

// luaTree builds Lua values from bytes: one opcode byte per value, then its
// operands. Containers hold at most 8 elements, nesting stops at 40 levels
// and 3000 values in all, so every input is small and quick.
type luaTree struct {
	s       *State
	data    []byte
	pos     int
	n       int
	parents []*lua.LTable // enclosing tables, for self-references
}

func (b *luaTree) byte() byte {
	if b.pos >= len(b.data) {
		return 0
	}
	c := b.data[b.pos]
	b.pos++
	return c
}

func (b *luaTree) bytes(n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b.byte()
	}
	return out
}

func (b *luaTree) value(depth int) lua.LValue {
	b.n++
	if b.pos >= len(b.data) || depth > 40 || b.n > 3000 {
		return lua.LNil
	}
	L := b.s.L
	op := b.byte()
	switch op % 16 {
	case 0:
		return lua.LNil
	case 1:
		return lua.LTrue
	case 2:
		return lua.LFalse
	case 3: // any float64, NaN and infinities included
		return lua.LNumber(math.Float64frombits(binary.BigEndian.Uint64(b.bytes(8))))
	case 4: // a small integer
		return lua.LNumber(int8(b.byte()))
	case 5: // an integral float up to 2^31
		return lua.LNumber(int32(binary.BigEndian.Uint32(b.bytes(4))))
	case 6: // a string of any bytes
		return lua.LString(b.bytes(int(b.byte() % 24)))
	case 7, 8, 9, 10: // list, erlang.map, table by pairs, tuple
		t := L.NewTable()
		b.parents = append(b.parents, t)
		n := int(b.byte() % 9)
		for i := 1; i <= n; i++ {
			switch op % 16 {
			case 7, 10:
				v := b.value(depth + 1)
				if v == lua.LNil && op%16 == 10 {
					v = b.s.null
				}
				t.RawSetInt(i, v)
			default:
				k := b.value(depth + 1)
				v := b.value(depth + 1)
				if k == lua.LNil || v == lua.LNil {
					continue
				}
				if n, ok := k.(lua.LNumber); ok && (math.IsNaN(float64(n)) ||
					float64(n) == math.Trunc(float64(n)) && float64(n) > 1<<16) {
					continue // gopher-lua would fill an array up to a big integer key
				}
				t.RawSet(k, v)
			}
		}
		b.parents = b.parents[:len(b.parents)-1]
		switch op % 16 {
		case 8:
			L.SetMetatable(t, b.s.metaOf(mapMetaName))
		case 10:
			L.SetMetatable(t, b.s.metaOf(tupleMetaName))
		}
		return t
	case 11: // an atom (when its bytes make one), else a string
		name := string(b.bytes(int(b.byte() % 40)))
		if utf8.ValidString(name) && utf8.RuneCountInString(name) <= 255 {
			return b.s.Atom(term.Atom(name))
		}
		return lua.LString(name)
	case 12: // a 64-bit integer
		return b.s.IntValue(int64(binary.BigEndian.Uint64(b.bytes(8))))
	case 13:
		return b.s.null
	case 14: // an enclosing table: cycles
		if len(b.parents) == 0 {
			return lua.LNil
		}
		return b.parents[int(b.byte())%len(b.parents)]
	default: // a bignum
		n := new(big.Int).SetBytes(b.bytes(int(b.byte()%24) + 1))
		if b.byte()%2 == 1 {
			n.Neg(n)
		}
		if n.IsInt64() {
			return b.s.IntValue(n.Int64())
		}
		return b.s.wrapTerm(n)
	}
}

// invalidTerm says why t is not something Erlang could hold, or "".
func invalidTerm(t any, opt *TermOptions) string {
	switch x := t.(type) {
	case term.Atom:
		if !utf8.ValidString(string(x)) || utf8.RuneCountInString(string(x)) > 255 {
			return "atom " + fmt.Sprintf("%q", string(x))
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "float " + fmt.Sprint(x)
		}
	case term.List:
		for _, e := range x {
			if w := invalidTerm(e, opt); w != "" {
				return w
			}
		}
	case term.Tuple:
		for _, e := range x {
			if w := invalidTerm(e, opt); w != "" {
				return w
			}
		}
	case term.Map:
		for i, p := range x {
			if w := invalidTerm(p.Key, opt); w != "" {
				return w
			}
			if w := invalidTerm(p.Value, opt); w != "" {
				return w
			}
			for _, q := range x[:i] {
				if term.Equal(p.Key, q.Key) {
					return "duplicate map key " + describeTerm(p.Key)
				}
			}
		}
	}
	return ""
}

// exactTerm reports whether t comes back from Lua as the same term. It does
// not for: maps with atom keys (they come back as strings, as Elixir's
// atom-keyed maps read naturally), empty maps and maps keyed 1..n (plain
// tables, so lists), and floats with integral values (Lua numbers, so
// integers).
func exactTerm(t any, opt *TermOptions) bool {
	switch x := t.(type) {
	case float64:
		return x != math.Trunc(x) || math.Abs(x) > maxExact || (x == 0 && math.Signbit(x))
	case term.List:
		for _, e := range x {
			if !exactTerm(e, opt) {
				return false
			}
		}
	case term.Tuple:
		for _, e := range x {
			if !exactTerm(e, opt) {
				return false
			}
		}
	case term.Map:
		if len(x) == 0 {
			return false
		}
		seq := true
		for i, p := range x {
			if _, ok := p.Key.(term.Atom); ok {
				return false
			}
			if k, ok := p.Key.(int64); !ok || k != int64(i+1) {
				seq = false
			}
			if !exactTerm(p.Key, opt) || !exactTerm(p.Value, opt) {
				return false
			}
		}
		return !seq
	}
	return true
}

// luaTermSeeds are committed as testdata/fuzz/FuzzLuaTerm too.
var luaTermSeeds = [][]byte{
	{1},                             // true
	{4, 42},                         // 42
	{6, 5, 'h', 'e', 'l', 'l', 'o'}, // "hello"
	{7, 3, 4, 1, 4, 2, 4, 3},        // {1, 2, 3}
	{10, 2, 11, 2, 'o', 'k', 4, 7},  // {ok, 7}
	{8, 1, 6, 1, 'k', 6, 1, 'v'},    // erlang.map{k = "v"}
	{9, 2, 6, 1, 'a', 4, 1, 11, 1, 'b', 4, 2}, // {a = 1, [atom b] = 2}
	{7, 1, 14, 0},                     // t = {t}
	{3, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1}, // NaN
	{12, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // 2^63-1
	{15, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 1},       // a negative bignum
	{9, 2, 7, 1, 4, 1, 4, 1, 7, 1, 4, 1, 4, 2},           // two table keys {1}: duplicates?
	{8, 0},            // empty erlang.map
	{10, 3, 0, 13, 0}, // {nil, null, nil}
	{7, 8, 7, 8, 7, 8, 7, 8, 7, 8, 7, 8, 7, 8, 7, 8}, // nesting
}
