// Decoder of the external term format: bounds-checked, allocation-bounded.
//
// Invariants: every length read from the input is checked against the bytes
// that remain before anything is allocated for it, and every container
// element needs at least one input byte, so allocations are bounded by a
// small multiple of the input size (16 bytes of []any per input byte at
// worst). Recursion is bounded by MaxDepth and the number of terms by
// MaxItems.
package term

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"hash/maphash"
	"io"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"sync/atomic"
	"unicode/utf8"
)

type decoder struct {
	data     []byte
	pos      int
	items    int // remaining budget of terms
	maxDepth int
	maxUnc   int
	inflated bool // decoding the inflated payload of a compressed term
	// onAtom, if set, sees every atom decoded (FromJSON counts atoms
	// inside opaque $pid/$ref/$port/$fun encodings with it).
	onAtom func(Atom)
}

func (d *decoder) setLimits(lim *Limits) {
	d.maxDepth, d.items, d.maxUnc = DefaultMaxDepth, DefaultMaxItems, DefaultMaxUncompressed
	if lim != nil {
		if lim.MaxDepth > 0 {
			d.maxDepth = lim.MaxDepth
		}
		if lim.MaxItems > 0 {
			d.items = lim.MaxItems
		}
		if lim.MaxUncompressed > 0 {
			d.maxUnc = lim.MaxUncompressed
		}
	}
}

func (d *decoder) fail(kind Kind, reason string) *DecodeError {
	return &DecodeError{Offset: d.pos, Kind: kind, Reason: reason, Compressed: d.inflated}
}

func (d *decoder) malformed(reason string) *DecodeError { return d.fail(KindMalformed, reason) }

func (d *decoder) truncated() *DecodeError { return d.fail(KindMalformed, "truncated input") }

// left is the number of unread bytes.
func (d *decoder) left() int { return len(d.data) - d.pos }

// atomCache remembers recently decoded atoms (node names, map keys, record
// tags repeat in every message), so decoding a known atom does not
// allocate. It is a fixed-size table of slots indexed by a hash of the atom
// text; a slot holds the last atom that hashed to it. Lock-free: a slot is
// an atomic pointer to an immutable string, so a racing store only costs a
// miss. Memory is bounded by atomCacheSize * atomCacheMaxLen. It starts
// empty (filling it at package init cost every backend's Go start for
// atoms a backend that never calls Erlang does not decode).
const (
	atomCacheSize   = 1024 // slots, a power of two
	atomCacheMaxLen = 64   // longer atoms are not cached
)

var (
	atomCache     [atomCacheSize]atomic.Pointer[string]
	atomCacheSeed = maphash.MakeSeed()
)

// cachedAtom returns b as an Atom, from the cache when it is there.
func cachedAtom(b []byte) Atom {
	if len(b) > atomCacheMaxLen {
		return Atom(b)
	}
	slot := &atomCache[maphash.Bytes(atomCacheSeed, b)&(atomCacheSize-1)]
	if p := slot.Load(); p != nil && *p == string(b) {
		return Atom(*p)
	}
	a := string(b)
	slot.Store(&a)
	return Atom(a)
}

// Shared results that need no allocation.
var (
	emptyList any = List(nil)
	trueAtom  any = Atom("true")
	falseAtom any = Atom("false")
)

// term decodes the term at d.pos. depth is the nesting depth of the term
// (0 for the top level); containers check it before decoding children.
func (d *decoder) term(depth int) (any, error) {
	if d.pos >= len(d.data) {
		return nil, d.truncated()
	}
	d.items--
	if d.items < 0 {
		return nil, d.fail(KindTooLarge, "more terms than MaxItems")
	}
	tag := d.data[d.pos]
	d.pos++
	switch tag {
	case tagSmallInt: // <<97, Int:8/unsigned>>
		if d.left() < 1 {
			return nil, d.truncated()
		}
		v := int64(d.data[d.pos])
		d.pos++
		return v, nil

	case tagInt: // <<98, Int:32/signed>>
		if d.left() < 4 {
			return nil, d.truncated()
		}
		v := int64(int32(binary.BigEndian.Uint32(d.data[d.pos:])))
		d.pos += 4
		return v, nil

	case tagSmallBig, tagLargeBig: // <<110, N:8, Sign:8, Digits:N/little>> or <<111, N:32, ...>>
		var n int
		if tag == tagSmallBig {
			if d.left() < 1 {
				return nil, d.truncated()
			}
			n = int(d.data[d.pos])
			d.pos++
		} else {
			if d.left() < 4 {
				return nil, d.truncated()
			}
			n = int(binary.BigEndian.Uint32(d.data[d.pos:]))
			d.pos += 4
		}
		if d.left() < 1 || n > d.left()-1 {
			return nil, d.truncated()
		}
		return d.bigDigits(n)

	case tagNewFloat: // <<70, IEEE754:64/big>>
		if d.left() < 8 {
			return nil, d.truncated()
		}
		f := math.Float64frombits(binary.BigEndian.Uint64(d.data[d.pos:]))
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, d.malformed("float is NaN or infinite")
		}
		d.pos += 8
		return f, nil

	case tagFloat: // <<99, Text:31/bytes>> "%.20e" padded with NULs
		if d.left() < 31 {
			return nil, d.truncated()
		}
		txt := d.data[d.pos : d.pos+31]
		if i := bytes.IndexByte(txt, 0); i >= 0 {
			txt = txt[:i]
		}
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(txt)), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, d.malformed("bad FLOAT_EXT text")
		}
		d.pos += 31
		return f, nil

	case tagAtom, tagSmallAtom, tagAtomUTF8, tagSmallAtomUTF8:
		a, err := d.atomBody(tag)
		if err != nil {
			return nil, err
		}
		switch a {
		case "true":
			return trueAtom, nil
		case "false":
			return falseAtom, nil
		}
		return a, nil

	case tagSmallTuple, tagLargeTuple: // <<104, Arity:8, Elems>> or <<105, Arity:32, Elems>>
		var n int
		if tag == tagSmallTuple {
			if d.left() < 1 {
				return nil, d.truncated()
			}
			n = int(d.data[d.pos])
			d.pos++
		} else {
			if d.left() < 4 {
				return nil, d.truncated()
			}
			n = int(binary.BigEndian.Uint32(d.data[d.pos:]))
			d.pos += 4
		}
		elems, err := d.seq(n, depth)
		if err != nil {
			return nil, err
		}
		return Tuple(elems), nil

	case tagNil: // <<106>>
		return emptyList, nil

	case tagString: // <<107, Len:16, Bytes:Len>>: a list of small integers
		if d.left() < 2 {
			return nil, d.truncated()
		}
		n := int(binary.BigEndian.Uint16(d.data[d.pos:]))
		d.pos += 2
		if n > d.left() {
			return nil, d.truncated()
		}
		if n == 0 {
			return emptyList, nil
		}
		d.items -= n
		if d.items < 0 {
			return nil, d.fail(KindTooLarge, "more terms than MaxItems")
		}
		l := make(List, n)
		for i, c := range d.data[d.pos : d.pos+n] {
			l[i] = int64(c) // values < 256 are boxed without allocation
		}
		d.pos += n
		return l, nil

	case tagList: // <<108, Len:32, Elems:Len, Tail>>
		if d.left() < 4 {
			return nil, d.truncated()
		}
		n := int(binary.BigEndian.Uint32(d.data[d.pos:]))
		d.pos += 4
		if n == 0 {
			return nil, d.malformed("LIST_EXT with no elements")
		}
		elems, err := d.seq(n, depth)
		if err != nil {
			return nil, err
		}
		tail, err := d.term(depth + 1)
		if err != nil {
			return nil, err
		}
		// Erlang writes a list flat with a NIL tail; a list tail (legal
		// but never produced by the VM) is merged so the Go value is the
		// same as what the VM would build.
		switch tl := tail.(type) {
		case List:
			if len(tl) == 0 {
				return List(elems), nil
			}
			return List(append(elems, tl...)), nil
		case ImproperList:
			return ImproperList{Elems: append(elems, tl.Elems...), Tail: tl.Tail}, nil
		}
		return ImproperList{Elems: elems, Tail: tail}, nil

	case tagBinary: // <<109, Len:32, Data:Len>>
		if d.left() < 4 {
			return nil, d.truncated()
		}
		n := int(binary.BigEndian.Uint32(d.data[d.pos:]))
		d.pos += 4
		if n > d.left() {
			return nil, d.truncated()
		}
		b := make(Binary, n)
		copy(b, d.data[d.pos:])
		d.pos += n
		return b, nil

	case tagBitBinary: // <<77, Len:32, Bits:8, Data:Len>>, Bits in 1..8 (0 iff Len is 0)
		if d.left() < 5 {
			return nil, d.truncated()
		}
		n := int(binary.BigEndian.Uint32(d.data[d.pos:]))
		nbits := d.data[d.pos+4]
		d.pos += 5
		if n > d.left() {
			return nil, d.truncated()
		}
		if nbits > 8 || (nbits == 0) != (n == 0) {
			return nil, d.malformed("bad BIT_BINARY_EXT bit count")
		}
		b := make([]byte, n)
		copy(b, d.data[d.pos:])
		d.pos += n
		if nbits == 8 || n == 0 {
			return Binary(b), nil
		}
		// The unused low bits of the last byte carry no meaning; clear
		// them so equal bitstrings have equal Go values.
		b[n-1] &= byte(0xFF << (8 - nbits))
		return BitBinary{Bytes: b, Bits: nbits}, nil

	case tagMap: // <<116, Arity:32, K1, V1, ... Kn, Vn>>
		if d.left() < 4 {
			return nil, d.truncated()
		}
		n := int(binary.BigEndian.Uint32(d.data[d.pos:]))
		d.pos += 4
		if n > d.left()/2 {
			return nil, d.truncated()
		}
		if n > 0 && depth >= d.maxDepth {
			return nil, d.fail(KindTooLarge, "nesting deeper than MaxDepth")
		}
		if 2*n > d.items {
			return nil, d.fail(KindTooLarge, "more terms than MaxItems")
		}
		m := make(Map, n)
		for i := range m {
			k, err := d.term(depth + 1)
			if err != nil {
				return nil, err
			}
			v, err := d.term(depth + 1)
			if err != nil {
				return nil, err
			}
			m[i] = Pair{Key: k, Value: v}
		}
		return m, nil

	case tagPid, tagNewPid:
		// <<103, Node:atom, ID:32, Serial:32, Creation:8>>
		// <<88, Node:atom, ID:32, Serial:32, Creation:32>>
		node, err := d.atom()
		if err != nil {
			return nil, err
		}
		need := 12
		if tag == tagPid {
			need = 9
		}
		if d.left() < need {
			return nil, d.truncated()
		}
		p := d.data[d.pos:]
		pid := Pid{Node: node, ID: binary.BigEndian.Uint32(p), Serial: binary.BigEndian.Uint32(p[4:])}
		if tag == tagPid {
			pid.Creation = uint32(p[8])
		} else {
			pid.Creation = binary.BigEndian.Uint32(p[8:])
		}
		d.pos += need
		return pid, nil

	case tagPort, tagNewPort, tagV4Port:
		// <<102, Node:atom, ID:32, Creation:8>>
		// <<89, Node:atom, ID:32, Creation:32>>
		// <<120, Node:atom, ID:64, Creation:32>>
		node, err := d.atom()
		if err != nil {
			return nil, err
		}
		need := 5
		switch tag {
		case tagNewPort:
			need = 8
		case tagV4Port:
			need = 12
		}
		if d.left() < need {
			return nil, d.truncated()
		}
		p := d.data[d.pos:]
		port := Port{Node: node}
		switch tag {
		case tagPort:
			port.ID, port.Creation = uint64(binary.BigEndian.Uint32(p)), uint32(p[4])
		case tagNewPort:
			port.ID, port.Creation = uint64(binary.BigEndian.Uint32(p)), binary.BigEndian.Uint32(p[4:])
		default:
			port.ID, port.Creation = binary.BigEndian.Uint64(p), binary.BigEndian.Uint32(p[8:])
		}
		d.pos += need
		return port, nil

	case tagRef: // <<101, Node:atom, ID:32, Creation:8>>
		node, err := d.atom()
		if err != nil {
			return nil, err
		}
		if d.left() < 5 {
			return nil, d.truncated()
		}
		r := Ref{Node: node, IDs: []uint32{binary.BigEndian.Uint32(d.data[d.pos:])}, Creation: uint32(d.data[d.pos+4])}
		d.pos += 5
		return r, nil

	case tagNewRef, tagNewerRef:
		// <<114, Len:16, Node:atom, Creation:8, ID:Len/unit:32>>
		// <<90, Len:16, Node:atom, Creation:32, ID:Len/unit:32>>
		if d.left() < 2 {
			return nil, d.truncated()
		}
		n := int(binary.BigEndian.Uint16(d.data[d.pos:]))
		d.pos += 2
		if n < 1 || n > maxRefWords {
			return nil, d.malformed("reference with " + strconv.Itoa(n) + " words (want 1..5)")
		}
		node, err := d.atom()
		if err != nil {
			return nil, err
		}
		cw := 4
		if tag == tagNewRef {
			cw = 1
		}
		if d.left() < cw+4*n {
			return nil, d.truncated()
		}
		r := Ref{Node: node, IDs: make([]uint32, n)}
		if cw == 1 {
			r.Creation = uint32(d.data[d.pos])
		} else {
			r.Creation = binary.BigEndian.Uint32(d.data[d.pos:])
		}
		d.pos += cw
		for i := range r.IDs {
			r.IDs[i] = binary.BigEndian.Uint32(d.data[d.pos:])
			d.pos += 4
		}
		return r, nil

	case tagNewFun:
		return d.newFun(depth)

	case tagExport: // <<113, Module:atom, Function:atom, Arity:SMALL_INTEGER_EXT>>
		mod, err := d.atom()
		if err != nil {
			return nil, err
		}
		fn, err := d.atom()
		if err != nil {
			return nil, err
		}
		if d.left() < 2 {
			return nil, d.truncated()
		}
		if d.data[d.pos] != tagSmallInt {
			return nil, d.malformed("EXPORT_EXT arity is not SMALL_INTEGER_EXT")
		}
		arity := d.data[d.pos+1]
		d.pos += 2
		// Canonical form (UTF-8 atoms), so equal funs have equal Raw
		// whichever atom tags the sender used.
		raw := make([]byte, 0, 1+2+len(mod)+2+len(fn)+2)
		raw, _ = appendAtom(append(raw, tagExport), string(mod))
		raw, _ = appendAtom(raw, string(fn))
		return Fun{Raw: append(raw, tagSmallInt, arity)}, nil

	case tagCompressed:
		return nil, d.malformed("compressed term not at top level")
	case tagAtomCacheRef:
		return nil, d.malformed("ATOM_CACHE_REF without a distribution header")
	case tagLocal:
		return nil, d.malformed("LOCAL_EXT is node-local and cannot be decoded")
	case tagFun:
		return nil, d.malformed("FUN_EXT (removed in OTP 23) is not supported")
	}
	d.pos--
	return nil, d.malformed("unknown tag " + strconv.Itoa(int(tag)))
}

// maxRefWords is the largest reference the VM makes (V4_NC: up to 5 words).
const maxRefWords = 5

// seq decodes n consecutive terms that are children of a container at depth.
func (d *decoder) seq(n, depth int) ([]any, error) {
	if n > d.left() {
		return nil, d.truncated()
	}
	if n > d.items {
		return nil, d.fail(KindTooLarge, "more terms than MaxItems")
	}
	if n == 0 {
		return nil, nil
	}
	if depth >= d.maxDepth {
		return nil, d.fail(KindTooLarge, "nesting deeper than MaxDepth")
	}
	elems := make([]any, n)
	for i := range elems {
		t, err := d.term(depth + 1)
		if err != nil {
			return nil, err
		}
		elems[i] = t
	}
	return elems, nil
}

// bigDigits decodes <<Sign:8, Digits:n/little>> (n+1 bytes are known to be
// there) into an int64 if it fits, else a *big.Int.
func (d *decoder) bigDigits(n int) (any, error) {
	sign := d.data[d.pos]
	if sign > 1 {
		return nil, d.malformed("bignum sign byte is not 0 or 1")
	}
	digits := d.data[d.pos+1 : d.pos+1+n]
	d.pos += 1 + n
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1] // leading zeros (legal, never written by the VM)
	}
	if len(digits) <= 8 {
		var u uint64
		for i := len(digits) - 1; i >= 0; i-- {
			u = u<<8 | uint64(digits[i])
		}
		if sign == 0 && u <= math.MaxInt64 {
			return int64(u), nil
		}
		if sign == 1 && u <= 1<<63 {
			return -int64(u), nil // -int64(1<<63) wraps to MinInt64, which is right
		}
	}
	const wordBytes = bits.UintSize / 8
	words := make([]big.Word, (len(digits)+wordBytes-1)/wordBytes)
	for i, c := range digits {
		words[i/wordBytes] |= big.Word(c) << (8 * (i % wordBytes))
	}
	x := new(big.Int).SetBits(words)
	if sign == 1 {
		x.Neg(x)
	}
	return x, nil
}

// atom decodes an atom term (any of the four atom tags), as in the node
// field of a pid or the module of a fun.
func (d *decoder) atom() (Atom, error) {
	if d.pos >= len(d.data) {
		return "", d.truncated()
	}
	tag := d.data[d.pos]
	switch tag {
	case tagAtom, tagSmallAtom, tagAtomUTF8, tagSmallAtomUTF8:
	default:
		return "", d.malformed("expected an atom")
	}
	d.pos++
	return d.atomBody(tag)
}

// atomBody decodes the length and text of an atom whose tag was read:
// <<100, Len:16, Latin1>> <<115, Len:8, Latin1>> <<118, Len:16, UTF8>> <<119, Len:8, UTF8>>.
// Atoms hold at most 255 characters, as in the VM.
func (d *decoder) atomBody(tag byte) (Atom, error) {
	var n int
	if tag == tagSmallAtom || tag == tagSmallAtomUTF8 {
		if d.left() < 1 {
			return "", d.truncated()
		}
		n = int(d.data[d.pos])
		d.pos++
	} else {
		if d.left() < 2 {
			return "", d.truncated()
		}
		n = int(binary.BigEndian.Uint16(d.data[d.pos:]))
		d.pos += 2
	}
	if n > d.left() {
		return "", d.truncated()
	}
	b := d.data[d.pos : d.pos+n]
	a, err := d.atomText(tag, b)
	if err == nil && d.onAtom != nil {
		d.onAtom(a)
	}
	return a, err
}

// atomText converts the n bytes b of an atom (at d.pos) and moves past them.
func (d *decoder) atomText(tag byte, b []byte) (Atom, error) {
	n := len(b)
	latin1 := tag == tagAtom || tag == tagSmallAtom
	if latin1 {
		if n > maxAtomChars {
			return "", d.malformed("atom longer than 255 characters")
		}
		if !isASCII(b) {
			// Latin-1 to UTF-8: every byte is the code point.
			r := make([]rune, n)
			for i, c := range b {
				r[i] = rune(c)
			}
			d.pos += n
			return Atom(string(r)), nil
		}
	} else {
		if !utf8.Valid(b) {
			return "", d.malformed("atom is not valid UTF-8")
		}
		if n > maxAtomChars && utf8.RuneCount(b) > maxAtomChars {
			return "", d.malformed("atom longer than 255 characters")
		}
	}
	d.pos += n
	return cachedAtom(b), nil
}

// maxAtomChars is the VM's limit on the length of an atom, in characters.
const maxAtomChars = 255

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// newFun decodes NEW_FUN_EXT (tag already read) into a Fun holding its
// encoding, after checking its structure so that Size is trustworthy:
// <<112, Size:32, Arity:8, Uniq:16/bytes, Index:32, NumFree:32,
// Module:atom, OldIndex:int, OldUniq:int, Pid:pid, FreeVars:NumFree terms>>,
// where Size counts from the Size field to the end. Raw is re-encoded in
// canonical form (UTF-8 atoms, smallest integers, NEW_PID_EXT, free
// variables as Append writes them), so equal funs have equal Raw.
func (d *decoder) newFun(depth int) (any, error) {
	if d.left() < 4+1+16+4+4 {
		return nil, d.truncated()
	}
	size := int(binary.BigEndian.Uint32(d.data[d.pos:]))
	numFree := int(binary.BigEndian.Uint32(d.data[d.pos+25:]))
	if size < 29 || size > d.left() {
		return nil, d.malformed("bad NEW_FUN_EXT size")
	}
	header := d.data[d.pos+4 : d.pos+29] // Arity, Uniq, Index, NumFree
	end := d.pos + size
	d.pos += 29
	mod, err := d.atom()
	if err != nil {
		return nil, err
	}
	var old [2]int64 // OldIndex, OldUniq
	for i := range old {
		t, err := d.term(depth + 1)
		if err != nil {
			return nil, err
		}
		v, ok := t.(int64)
		if !ok {
			return nil, d.malformed("NEW_FUN_EXT index is not an integer")
		}
		old[i] = v
	}
	t, err := d.term(depth + 1)
	if err != nil {
		return nil, err
	}
	pid, ok := t.(Pid)
	if !ok {
		return nil, d.malformed("NEW_FUN_EXT pid is not a pid")
	}
	free, err := d.seq(numFree, depth)
	if err != nil {
		return nil, err
	}
	if d.pos != end {
		return nil, d.malformed("NEW_FUN_EXT size does not match its contents")
	}
	raw := make([]byte, 0, size+1)
	raw = append(raw, tagNewFun, 0, 0, 0, 0)
	raw = append(raw, header...)
	raw, _ = appendAtom(raw, string(mod))
	raw = appendInt(raw, old[0])
	raw = appendInt(raw, old[1])
	if raw, err = appendTerm(raw, pid, depth+1); err != nil {
		return nil, d.malformed("NEW_FUN_EXT pid: " + err.Error())
	}
	if raw, err = appendSeq(raw, free, depth); err != nil {
		return nil, d.malformed("NEW_FUN_EXT free variables: " + err.Error())
	}
	binary.BigEndian.PutUint32(raw[1:], uint32(len(raw)-1))
	return Fun{Raw: raw}, nil
}

// compressed decodes <<131, 80, UncompressedSize:32, Zlib>> (d.pos at 80).
// The inflated size is checked against MaxUncompressed before and while
// inflating, so memory follows the real output, not the claimed size.
func (d *decoder) compressed() (any, int, error) {
	d.pos++
	if d.left() < 4 {
		return nil, 0, d.truncated()
	}
	size := int(binary.BigEndian.Uint32(d.data[d.pos:]))
	d.pos += 4
	if size == 0 {
		return nil, 0, d.malformed("compressed term of size 0")
	}
	if size > d.maxUnc {
		return nil, 0, d.fail(KindTooLarge, "compressed term inflates beyond MaxUncompressed")
	}
	src := bytes.NewReader(d.data[d.pos:])
	zr, err := zlib.NewReader(src)
	if err != nil {
		return nil, 0, d.malformed("bad zlib header")
	}
	var out bytes.Buffer
	out.Grow(min(size, 64<<10+16*len(d.data)))
	// Read one byte more than announced so a longer stream is detected;
	// reading to EOF makes zlib verify its checksum.
	nr, err := io.Copy(&out, io.LimitReader(zr, int64(size)+1))
	if err != nil {
		return nil, 0, d.malformed("bad zlib data: " + err.Error())
	}
	if int(nr) != size {
		return nil, 0, d.malformed("inflated size differs from the announced size")
	}
	// The limit stopped before EOF: make sure the stream ends here and its
	// checksum is right.
	var one [1]byte
	if n, err := zr.Read(one[:]); n != 0 || err != io.EOF {
		return nil, 0, d.malformed("bad zlib data after the announced size")
	}
	consumed := len(d.data) - src.Len()
	inner := decoder{data: out.Bytes(), items: d.items, maxDepth: d.maxDepth, maxUnc: d.maxUnc, inflated: true}
	t, err := inner.term(0)
	if err != nil {
		return nil, 0, err
	}
	if inner.pos != len(inner.data) {
		return nil, 0, inner.malformed("trailing bytes in compressed term")
	}
	return t, consumed, nil
}
