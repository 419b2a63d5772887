// Term equality (Equal, exact like =:=) and a total order (Compare).
package term

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/big"
	"slices"
	"strings"
)

// Equal reports whether a and b are the same Erlang term (like =:=).
//
// Go conveniences are seen as the terms Append makes of them: every integer
// type and *big.Int compare by value (int 5, int64 5 and big.NewInt(5) are
// equal), bool is the atom true/false, string and []byte are binaries,
// []any is a list; BitBinary with Bits 8 equals the Binary of its bytes and
// the unused bits of its last byte are ignored. An integer never equals a
// float (1 =/= 1.0), and floats compare by bits, so -0.0 differs from 0.0
// (as in OTP 27; OTP 25 and 26 consider them exactly equal, and reject a map
// that has both as keys).
// Map order does not matter. Values that are not terms are never equal.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case Atom, bool:
		y, ok := atomText(b)
		return ok && y == mustAtomText(x)
	case float64, float32:
		y, ok := floatVal(b)
		xf, _ := floatVal(x)
		return ok && math.Float64bits(xf) == math.Float64bits(y)
	case Tuple:
		y, ok := b.(Tuple)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case Map:
		y, ok := b.(Map)
		return ok && mapEqual(x, y)
	case Pid:
		y, ok := b.(Pid)
		return ok && x == y
	case Port:
		y, ok := b.(Port)
		return ok && x == y
	case Ref:
		y, ok := b.(Ref)
		return ok && x.Node == y.Node && x.Creation == y.Creation && slices.Equal(x.IDs, y.IDs)
	case Fun:
		y, ok := b.(Fun)
		return ok && (bytes.Equal(x.Raw, y.Raw) || bytes.Equal(canonicalFun(x.Raw), canonicalFun(y.Raw)))
	}
	if xe, xt, ok := listParts(a); ok {
		ye, yt, ok := listParts(b)
		if !ok || len(xe) != len(ye) {
			return false
		}
		for i := range xe {
			if !Equal(xe[i], ye[i]) {
				return false
			}
		}
		if xt == nil || yt == nil {
			return xt == nil && yt == nil
		}
		return Equal(xt, yt)
	}
	if xb, xn, ok := bitsOf(a); ok {
		yb, yn, ok := bitsOf(b)
		return ok && xn == yn && bitsCompare(xb, xn, yb, yn) == 0
	}
	if xi, xbig, ok := intVal(a); ok {
		yi, ybig, ok := intVal(b)
		if !ok {
			return false
		}
		if xbig == nil && ybig == nil {
			return xi == yi
		}
		return bigOf(xi, xbig).Cmp(bigOf(yi, ybig)) == 0
	}
	return false
}

// mapEqual compares two maps through their canonical encodings: linear in
// their size, where matching keys pairwise would be quadratic per level and
// exponential for maps nested in keys.
func mapEqual(x, y Map) bool {
	if len(x) != len(y) {
		return false
	}
	cx, err := appendCanonical(nil, x, 0)
	if err != nil {
		return false
	}
	cy, err := appendCanonical(nil, y, 0)
	return err == nil && bytes.Equal(cx, cy)
}

// sortedPairs returns a copy of m sorted by key in term order.
func sortedPairs(m Map) Map {
	s := slices.Clone(m)
	slices.SortStableFunc(s, func(a, b Pair) int { return Compare(a.Key, b.Key) })
	return s
}

// Ranks of the Erlang term order: number < atom < reference < fun < port <
// pid < tuple < map < nil < list < bitstring. Non-terms sort last.
const (
	rankNumber = iota + 1
	rankAtom
	rankRef
	rankFun
	rankPort
	rankPid
	rankTuple
	rankMap
	rankNil
	rankList
	rankBits
	rankInvalid
)

func rankOf(t any) int {
	switch v := t.(type) {
	case Atom, bool:
		return rankAtom
	case float64, float32:
		return rankNumber
	case Tuple:
		return rankTuple
	case Map:
		return rankMap
	case Pid:
		return rankPid
	case Port:
		return rankPort
	case Ref:
		return rankRef
	case Fun:
		return rankFun
	case List:
		if len(v) == 0 {
			return rankNil
		}
		return rankList
	case []any:
		if len(v) == 0 {
			return rankNil
		}
		return rankList
	case ImproperList:
		return rankList
	}
	if _, _, ok := bitsOf(t); ok {
		return rankBits
	}
	if _, _, ok := intVal(t); ok {
		return rankNumber
	}
	return rankInvalid
}

// Compare orders terms by the Erlang term order and returns -1, 0 or +1.
// It is a total order consistent with Equal (Compare(a, b) == 0 exactly
// when Equal(a, b) for terms): where Erlang calls terms equal that are not
// exactly equal (1 == 1.0, 0.0 == -0.0), the integer and then -0.0 come
// first. Pids, ports, references and funs are ordered by their fields,
// which may differ from the VM's order between nodes; maps by size, then by
// their canonical encoding (not the VM's order, but cheap and total).
// Non-terms sort after every term.
func Compare(a, b any) int {
	ra, rb := rankOf(a), rankOf(b)
	if ra != rb {
		return cmpOrdered(ra, rb)
	}
	switch ra {
	case rankNumber:
		return cmpNumber(a, b)
	case rankAtom:
		x, _ := atomText(a)
		y, _ := atomText(b)
		return strings.Compare(x, y) // UTF-8 byte order is code point order
	case rankRef:
		x, y := a.(Ref), b.(Ref)
		if c := strings.Compare(string(x.Node), string(y.Node)); c != 0 {
			return c
		}
		if c := cmpOrdered(x.Creation, y.Creation); c != 0 {
			return c
		}
		if c := cmpOrdered(len(x.IDs), len(y.IDs)); c != 0 {
			return c
		}
		return slices.Compare(x.IDs, y.IDs)
	case rankFun:
		return bytes.Compare(canonicalFun(a.(Fun).Raw), canonicalFun(b.(Fun).Raw))
	case rankPort:
		x, y := a.(Port), b.(Port)
		if c := strings.Compare(string(x.Node), string(y.Node)); c != 0 {
			return c
		}
		if c := cmpOrdered(x.Creation, y.Creation); c != 0 {
			return c
		}
		return cmpOrdered(x.ID, y.ID)
	case rankPid:
		x, y := a.(Pid), b.(Pid)
		if c := strings.Compare(string(x.Node), string(y.Node)); c != 0 {
			return c
		}
		if c := cmpOrdered(x.Creation, y.Creation); c != 0 {
			return c
		}
		if c := cmpOrdered(x.Serial, y.Serial); c != 0 {
			return c
		}
		return cmpOrdered(x.ID, y.ID)
	case rankTuple:
		x, y := a.(Tuple), b.(Tuple)
		if c := cmpOrdered(len(x), len(y)); c != 0 {
			return c
		}
		for i := range x {
			if c := Compare(x[i], y[i]); c != 0 {
				return c
			}
		}
		return 0
	case rankMap:
		x, y := a.(Map), b.(Map)
		if c := cmpOrdered(len(x), len(y)); c != 0 {
			return c
		}
		cx, _ := appendCanonical(nil, x, 0)
		cy, _ := appendCanonical(nil, y, 0)
		return bytes.Compare(cx, cy)
	case rankNil, rankInvalid:
		return 0
	case rankList:
		xe, xt, _ := listParts(a)
		ye, yt, _ := listParts(b)
		return cmpList(xe, xt, ye, yt)
	case rankBits:
		xb, xn, _ := bitsOf(a)
		yb, yn, _ := bitsOf(b)
		return bitsCompare(xb, xn, yb, yn)
	}
	return 0
}

func cmpOrdered[T int | int64 | uint32 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpList compares [xe... | xt] with [ye... | yt]; a nil tail is [].
func cmpList(xe []any, xt any, ye []any, yt any) int {
	n := min(len(xe), len(ye))
	for i := range n {
		if c := Compare(xe[i], ye[i]); c != 0 {
			return c
		}
	}
	xe, ye = xe[n:], ye[n:]
	rest := func(e []any, t any) any {
		if len(e) == 0 {
			if t == nil {
				return emptyList
			}
			return t
		}
		if t == nil {
			return List(e)
		}
		return ImproperList{Elems: e, Tail: t}
	}
	return Compare(rest(xe, xt), rest(ye, yt))
}

// listParts views a list as elements and tail (nil for a proper list),
// flattening tails that are themselves lists.
func listParts(t any) ([]any, any, bool) {
	switch v := t.(type) {
	case List:
		return v, nil, true
	case []any:
		return v, nil, true
	case ImproperList:
		switch tl := v.Tail.(type) {
		case List, []any, ImproperList:
			e, tt, _ := listParts(tl)
			return append(slices.Clip(v.Elems), e...), tt, true
		}
		return v.Elems, v.Tail, true
	}
	return nil, nil, false
}

func atomText(t any) (string, bool) {
	switch v := t.(type) {
	case Atom:
		return string(v), true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

func mustAtomText(t any) string { s, _ := atomText(t); return s }

func floatVal(t any) (float64, bool) {
	switch v := t.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	}
	return 0, false
}

// intVal returns t as an int64, or as a *big.Int when it does not fit.
func intVal(t any) (int64, *big.Int, bool) {
	switch v := t.(type) {
	case int64:
		return v, nil, true
	case int:
		return int64(v), nil, true
	case *big.Int:
		if v == nil {
			return 0, nil, false
		}
		if v.IsInt64() {
			return v.Int64(), nil, true
		}
		return 0, v, true
	case int32:
		return int64(v), nil, true
	case int16:
		return int64(v), nil, true
	case int8:
		return int64(v), nil, true
	case uint8:
		return int64(v), nil, true
	case uint16:
		return int64(v), nil, true
	case uint32:
		return int64(v), nil, true
	case uint64:
		if v > math.MaxInt64 {
			return 0, new(big.Int).SetUint64(v), true
		}
		return int64(v), nil, true
	case uint:
		if uint64(v) > math.MaxInt64 {
			return 0, new(big.Int).SetUint64(uint64(v)), true
		}
		return int64(v), nil, true
	}
	return 0, nil, false
}

func bigOf(i int64, b *big.Int) *big.Int {
	if b != nil {
		return b
	}
	return big.NewInt(i)
}

func cmpNumber(a, b any) int {
	ai, abig, aInt := intVal(a)
	bi, bbig, bInt := intVal(b)
	af, _ := floatVal(a)
	bf, _ := floatVal(b)
	switch {
	case aInt && bInt:
		if abig == nil && bbig == nil {
			return cmpOrdered(ai, bi)
		}
		return bigOf(ai, abig).Cmp(bigOf(bi, bbig))
	case !aInt && !bInt:
		switch {
		case af < bf:
			return -1
		case af > bf:
			return 1
		}
		// Equal values: -0.0 before 0.0.
		return cmpOrdered(int(boolInt(!math.Signbit(af))), int(boolInt(!math.Signbit(bf))))
	case aInt:
		if c := cmpIntFloat(ai, abig, bf); c != 0 {
			return c
		}
		return -1 // integer before an equal float
	default:
		if c := cmpIntFloat(bi, bbig, af); c != 0 {
			return -c
		}
		return 1
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cmpIntFloat compares an integer with a float exactly.
func cmpIntFloat(i int64, b *big.Int, f float64) int {
	if b == nil && i > -(1<<53) && i < 1<<53 {
		x := float64(i) // exact
		switch {
		case x < f:
			return -1
		case x > f:
			return 1
		}
		return 0
	}
	return new(big.Float).SetInt(bigOf(i, b)).Cmp(big.NewFloat(f))
}

// bitsOf views a bitstring as bytes and a length in bits.
func bitsOf(t any) ([]byte, int, bool) {
	switch v := t.(type) {
	case Binary:
		return v, 8 * len(v), true
	case string:
		return []byte(v), 8 * len(v), true
	case []byte:
		return v, 8 * len(v), true
	case BitBinary:
		switch {
		case len(v.Bytes) == 0 && (v.Bits == 0 || v.Bits == 8):
			return nil, 0, true
		case len(v.Bytes) == 0 || v.Bits == 0 || v.Bits > 8:
			return nil, 0, false
		}
		return v.Bytes, 8*(len(v.Bytes)-1) + int(v.Bits), true
	}
	return nil, 0, false
}

// bitsCompare compares two bitstrings bit by bit; a prefix sorts first.
func bitsCompare(x []byte, xn int, y []byte, yn int) int {
	n := min(xn, yn)
	full := n / 8
	if c := bytes.Compare(x[:full], y[:full]); c != 0 {
		return c
	}
	if r := n % 8; r != 0 {
		mask := byte(0xFF << (8 - r))
		if c := cmpOrdered(int(x[full]&mask), int(y[full]&mask)); c != 0 {
			return c
		}
	}
	return cmpOrdered(xn, yn)
}

// canonicalFun returns the canonical encoding of a fun (what Decode puts in
// Fun.Raw), or raw itself if it is not a valid fun encoding.
func canonicalFun(raw []byte) []byte {
	if len(raw) == 0 || (raw[0] != tagNewFun && raw[0] != tagExport) {
		return raw
	}
	d := decoder{data: raw}
	d.setLimits(nil)
	t, err := d.term(0)
	if err != nil || d.pos != len(raw) {
		return raw
	}
	return t.(Fun).Raw
}

// appendCanonical appends the canonical encoding of t (no version byte):
// what Append writes, except that map pairs are sorted by the canonical
// encoding of their keys, improper lists with list tails are flattened and
// funs re-encoded. Two terms are Equal exactly when their canonical
// encodings are the same bytes. Each map sorts its own keys once, so the
// cost is O(n log n) in the size of t whatever the nesting.
func appendCanonical(buf []byte, t any, depth int) ([]byte, error) {
	if depth >= maxEncodeDepth {
		return buf, tooDeep()
	}
	switch v := t.(type) {
	case Tuple:
		if len(v) <= 255 {
			buf = append(buf, tagSmallTuple, byte(len(v)))
		} else {
			buf = binary.BigEndian.AppendUint32(append(buf, tagLargeTuple), uint32(len(v)))
		}
		return appendCanonicalSeq(buf, v, depth)
	case Map:
		type kv struct{ k, v []byte }
		pairs := make([]kv, len(v))
		for i, p := range v {
			k, err := appendCanonical(nil, p.Key, depth+1)
			if err != nil {
				return buf, err
			}
			val, err := appendCanonical(nil, p.Value, depth+1)
			if err != nil {
				return buf, err
			}
			pairs[i] = kv{k, val}
		}
		slices.SortFunc(pairs, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
		buf = binary.BigEndian.AppendUint32(append(buf, tagMap), uint32(len(v)))
		for _, p := range pairs {
			buf = append(append(buf, p.k...), p.v...)
		}
		return buf, nil
	case Fun:
		if err := checkFunRaw(v.Raw); err != nil {
			return buf, err
		}
		return append(buf, canonicalFun(v.Raw)...), nil
	case List, []any, ImproperList:
		elems, tail, _ := listParts(t)
		if len(elems) == 0 {
			if tail != nil {
				return buf, encodeErr("improper list without elements")
			}
			return append(buf, tagNil), nil
		}
		buf = binary.BigEndian.AppendUint32(append(buf, tagList), uint32(len(elems)))
		buf, err := appendCanonicalSeq(buf, elems, depth)
		if err != nil || tail == nil {
			return append(buf, tagNil), err
		}
		return appendCanonical(buf, tail, depth+1)
	}
	return appendTerm(buf, t, depth)
}

func appendCanonicalSeq(buf []byte, elems []any, depth int) ([]byte, error) {
	var err error
	for _, e := range elems {
		if buf, err = appendCanonical(buf, e, depth+1); err != nil {
			return buf, err
		}
	}
	return buf, nil
}
