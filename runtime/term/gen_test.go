package term

import (
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
)

// Random terms for property tests. The generator yields terms in the form
// Decode produces (int64 unless the value needs *big.Int, Binary, List, ...),
// so a round trip can be checked with Equal.

type genOpts struct {
	maxDepth int
	// oracle restricts the terms to what erlang_go can represent: map keys
	// must be Go-comparable there (atoms and small integers only) and not
	// the atoms it turns into bool/nil (true, false, undefined).
	oracle bool
}

var sampleAtoms = []string{"ok", "error", "true", "false", "nil", "undefined", "null", "",
	"héllo", "日本語", "emoji😀", "Elixir.MyApp.User", "with space", "$atom", "a@b",
	strings.Repeat("x", 255), strings.Repeat("é", 255)}

var sampleNodes = []Atom{"a@b", "node@127.0.0.1", "testnode@127.0.0.1", "ñode@host"}

func genAtom(r *rand.Rand) Atom {
	if r.IntN(3) > 0 {
		return Atom(sampleAtoms[r.IntN(len(sampleAtoms))])
	}
	runes := []rune("abcXYZ_09@.é日😀ü")
	n := r.IntN(12)
	var sb strings.Builder
	for range n {
		sb.WriteRune(runes[r.IntN(len(runes))])
	}
	return Atom(sb.String())
}

func genInt(r *rand.Rand) any {
	switch r.IntN(8) {
	case 0:
		return int64(r.IntN(256))
	case 1:
		return int64(int32(r.Uint32()))
	case 2:
		return int64(r.Uint64())
	case 3:
		edges := []int64{0, 255, 256, -1, math.MaxInt32, math.MaxInt32 + 1, math.MinInt32, math.MinInt32 - 1, math.MaxInt64, math.MinInt64}
		return edges[r.IntN(len(edges))]
	case 4:
		edges := []string{"9223372036854775808", "-9223372036854775809", "18446744073709551615",
			"18446744073709551616", "-18446744073709551616", "123456789012345678901234567890123456789012345678901234567890"}
		return bigFromString(edges[r.IntN(len(edges))])
	case 5, 6:
		n := 9 + r.IntN(40)
		if r.IntN(10) == 0 {
			n = 256 + r.IntN(300) // LARGE_BIG_EXT
		}
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		buf[0] |= 1
		x := new(big.Int).SetBytes(buf)
		if r.IntN(2) == 0 {
			x.Neg(x)
		}
		return x
	}
	return int64(r.IntN(2000) - 1000)
}

func genFloat(r *rand.Rand) float64 {
	switch r.IntN(4) {
	case 0:
		edges := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e300, -1e-300, 5e-324, math.MaxFloat64, -math.MaxFloat64, 1e21, 1e20, 123456789.125}
		return edges[r.IntN(len(edges))]
	case 1:
		for {
			f := math.Float64frombits(r.Uint64())
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f
			}
		}
	case 2:
		return float64(r.IntN(1000) - 500)
	}
	return r.NormFloat64() * 1000
}

func genBinary(r *rand.Rand) Binary {
	if r.IntN(2) == 0 {
		words := []string{"", "hello", "héllo wörld", "日本", "\x00", "with \"quotes\" and \\", "$atom", "😀"}
		return Binary(words[r.IntN(len(words))])
	}
	b := make(Binary, r.IntN(20))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func genScalar(r *rand.Rand, o genOpts) any {
	switch r.IntN(13) {
	case 0, 1:
		return genInt(r)
	case 2:
		return genFloat(r)
	case 3, 4:
		return genAtom(r)
	case 5, 6:
		return genBinary(r)
	case 7:
		n := 1 + r.IntN(4)
		bs := make([]byte, n)
		for i := range bs {
			bs[i] = byte(r.Uint32())
		}
		bits := uint8(1 + r.IntN(7))
		bs[n-1] &= byte(0xFF << (8 - bits))
		return BitBinary{Bytes: bs, Bits: bits}
	case 8:
		return Pid{Node: sampleNodes[r.IntN(len(sampleNodes))], ID: r.Uint32(), Serial: r.Uint32(), Creation: r.Uint32()}
	case 9:
		ids := make([]uint32, 1+r.IntN(maxRefWords))
		for i := range ids {
			ids[i] = r.Uint32()
		}
		return Ref{Node: sampleNodes[r.IntN(len(sampleNodes))], Creation: r.Uint32(), IDs: ids}
	case 10:
		id := uint64(r.Uint32())
		if r.IntN(2) == 0 {
			id = r.Uint64()
		}
		return Port{Node: sampleNodes[r.IntN(len(sampleNodes))], ID: id, Creation: r.Uint32()}
	case 11:
		raw := []byte{tagExport}
		raw, _ = appendAtom(raw, string(genAtom(r)))
		raw, _ = appendAtom(raw, string(genAtom(r)))
		raw = append(raw, tagSmallInt, byte(r.IntN(256)))
		return Fun{Raw: raw}
	}
	return emptyList
}

func genTerm(r *rand.Rand, depth int, o genOpts) any {
	if depth >= o.maxDepth || r.IntN(3) == 0 {
		return genScalar(r, o)
	}
	switch r.IntN(6) {
	case 0, 1:
		n := r.IntN(5)
		if r.IntN(30) == 0 {
			n = 256 + r.IntN(10) // LARGE_TUPLE_EXT
		}
		t := make(Tuple, n)
		for i := range t {
			t[i] = genTerm(r, depth+1, o)
		}
		return t
	case 2:
		n := r.IntN(5)
		if n == 0 {
			return emptyList
		}
		l := make(List, n)
		charlist := r.IntN(4) == 0
		for i := range l {
			if charlist {
				l[i] = int64(r.IntN(256))
			} else {
				l[i] = genTerm(r, depth+1, o)
			}
		}
		return l
	case 3:
		n := 1 + r.IntN(3)
		l := ImproperList{Elems: make([]any, n)}
		for i := range l.Elems {
			l.Elems[i] = genTerm(r, depth+1, o)
		}
		for {
			l.Tail = genTerm(r, depth+1, o)
			if _, _, isList := listParts(l.Tail); !isList {
				return l
			}
		}
	}
	n := r.IntN(5)
	m := make(Map, 0, n)
outer:
	for range n {
		var k any
		if o.oracle {
			if r.IntN(2) == 0 {
				k = genAtom(r)
				if a := k.(Atom); a == "true" || a == "false" || a == "undefined" {
					continue // erlang_go turns these into bool/nil
				}
			} else {
				k = int64(r.IntN(256))
			}
		} else if r.IntN(2) == 0 {
			k = genBinary(r)
		} else {
			k = genTerm(r, depth+1, o)
		}
		if f, ok := k.(float64); ok && f == 0 {
			continue // OTP < 27 treats 0.0 and -0.0 as the same key
		}
		for _, p := range m {
			if Equal(p.Key, k) {
				continue outer
			}
		}
		m = append(m, Pair{Key: k, Value: genTerm(r, depth+1, o)})
	}
	return m
}
