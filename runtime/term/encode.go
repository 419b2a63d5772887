// Encoder of the external term format: smallest integer forms, UTF-8 atoms,
// NEW_PID_EXT, NEWER_REFERENCE_EXT, NEW_PORT_EXT/V4_PORT_EXT, NEW_FLOAT_EXT, MAP_EXT.
package term

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"unicode/utf8"
)

// maxEncodeDepth bounds recursion in Append, so a cyclic []any fails instead
// of overflowing the goroutine stack; it equals Decode's default so that
// whatever Append produces, Decode accepts with default limits.
const maxEncodeDepth = DefaultMaxDepth

func encodeErr(reason string) *EncodeError {
	return &EncodeError{Kind: KindMalformed, Reason: reason}
}

func appendTerm(buf []byte, t any, depth int) ([]byte, error) {
	switch v := t.(type) {
	case Atom:
		return appendAtom(buf, string(v))
	case int64:
		return appendInt(buf, v), nil
	case int:
		return appendInt(buf, int64(v)), nil
	case Binary:
		return appendBinary(buf, v)
	case string:
		return appendString(buf, v)
	case []byte:
		return appendBinary(buf, v)
	case float64:
		return appendFloat(buf, v)
	case bool:
		if v {
			return append(buf, tagSmallAtomUTF8, 4, 't', 'r', 'u', 'e'), nil
		}
		return append(buf, tagSmallAtomUTF8, 5, 'f', 'a', 'l', 's', 'e'), nil
	case Tuple:
		if len(v) > 0 && depth >= maxEncodeDepth {
			return buf, tooDeep()
		}
		// <<104, Arity:8, Elems>> or <<105, Arity:32, Elems>>
		if len(v) <= math.MaxUint8 {
			buf = append(buf, tagSmallTuple, byte(len(v)))
		} else {
			if uint64(len(v)) > math.MaxUint32 {
				return buf, encodeErr("tuple too large")
			}
			buf = binary.BigEndian.AppendUint32(append(buf, tagLargeTuple), uint32(len(v)))
		}
		return appendSeq(buf, v, depth)
	case List:
		return appendList(buf, v, nil, depth)
	case []any:
		return appendList(buf, v, nil, depth)
	case Map:
		if len(v) > 0 && depth >= maxEncodeDepth {
			return buf, tooDeep()
		}
		// <<116, Arity:32, K1, V1, ...>>
		if uint64(len(v)) > math.MaxUint32 {
			return buf, encodeErr("map too large")
		}
		buf = binary.BigEndian.AppendUint32(append(buf, tagMap), uint32(len(v)))
		var err error
		for _, p := range v {
			if buf, err = appendTerm(buf, p.Key, depth+1); err != nil {
				return buf, err
			}
			if buf, err = appendTerm(buf, p.Value, depth+1); err != nil {
				return buf, err
			}
		}
		return buf, nil
	case ImproperList:
		if len(v.Elems) == 0 {
			return buf, encodeErr("improper list without elements")
		}
		switch v.Tail.(type) {
		case List, []any, ImproperList:
			return buf, encodeErr("improper list tail is a list")
		}
		return appendList(buf, v.Elems, v.Tail, depth)
	case *big.Int:
		if v == nil {
			return buf, encodeErr("nil *big.Int")
		}
		return appendBig(buf, v)
	case BitBinary:
		return appendBitBinary(buf, v)
	case Pid:
		// <<88, Node:atom, ID:32, Serial:32, Creation:32>>
		buf, err := appendAtom(append(buf, tagNewPid), string(v.Node))
		if err != nil {
			return buf, err
		}
		buf = binary.BigEndian.AppendUint32(buf, v.ID)
		buf = binary.BigEndian.AppendUint32(buf, v.Serial)
		return binary.BigEndian.AppendUint32(buf, v.Creation), nil
	case Ref:
		// <<90, Len:16, Node:atom, Creation:32, ID:Len/unit:32>>
		if len(v.IDs) < 1 || len(v.IDs) > maxRefWords {
			return buf, encodeErr("reference with " + strconv.Itoa(len(v.IDs)) + " words (want 1..5)")
		}
		buf = binary.BigEndian.AppendUint16(append(buf, tagNewerRef), uint16(len(v.IDs)))
		buf, err := appendAtom(buf, string(v.Node))
		if err != nil {
			return buf, err
		}
		buf = binary.BigEndian.AppendUint32(buf, v.Creation)
		for _, id := range v.IDs {
			buf = binary.BigEndian.AppendUint32(buf, id)
		}
		return buf, nil
	case Port:
		// <<89, Node:atom, ID:32, Creation:32>> when the ID fits 32 bits
		// (what the VM writes, and readable by peers without V4_NC), else
		// <<120, Node:atom, ID:64, Creation:32>>.
		tag := byte(tagNewPort)
		if v.ID > math.MaxUint32 {
			tag = tagV4Port
		}
		buf, err := appendAtom(append(buf, tag), string(v.Node))
		if err != nil {
			return buf, err
		}
		if tag == tagNewPort {
			buf = binary.BigEndian.AppendUint32(buf, uint32(v.ID))
		} else {
			buf = binary.BigEndian.AppendUint64(buf, v.ID)
		}
		return binary.BigEndian.AppendUint32(buf, v.Creation), nil
	case Fun:
		// Raw is passed through; it is checked first so a forged Fun
		// cannot smuggle other terms or a bad length into the stream.
		if err := checkFunRaw(v.Raw); err != nil {
			return buf, err
		}
		return append(buf, v.Raw...), nil
	case int32:
		return appendInt(buf, int64(v)), nil
	case uint64:
		if v > math.MaxInt64 {
			return appendBig(buf, new(big.Int).SetUint64(v))
		}
		return appendInt(buf, int64(v)), nil
	case uint:
		if uint64(v) > math.MaxInt64 {
			return appendBig(buf, new(big.Int).SetUint64(uint64(v)))
		}
		return appendInt(buf, int64(v)), nil
	case uint32:
		return appendInt(buf, int64(v)), nil
	case int8:
		return appendInt(buf, int64(v)), nil
	case int16:
		return appendInt(buf, int64(v)), nil
	case uint8:
		return appendInt(buf, int64(v)), nil
	case uint16:
		return appendInt(buf, int64(v)), nil
	case float32:
		return appendFloat(buf, float64(v))
	case nil:
		return buf, encodeErr("nil is not a term (say Atom(\"nil\") or Atom(\"undefined\"))")
	}
	return buf, encodeErr(fmt.Sprintf("unsupported Go type %T", t))
}

func tooDeep() *EncodeError {
	return &EncodeError{Kind: KindTooLarge, Reason: "nesting deeper than " + strconv.Itoa(maxEncodeDepth)}
}

func appendSeq(buf []byte, elems []any, depth int) ([]byte, error) {
	var err error
	for _, e := range elems {
		if buf, err = appendTerm(buf, e, depth+1); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// appendList writes <<108, Len:32, Elems, Tail>> (tail nil means NIL_EXT),
// or NIL_EXT alone for an empty proper list.
func appendList(buf []byte, elems []any, tail any, depth int) ([]byte, error) {
	if len(elems) == 0 {
		return append(buf, tagNil), nil
	}
	if depth >= maxEncodeDepth {
		return buf, tooDeep()
	}
	if uint64(len(elems)) > math.MaxUint32 {
		return buf, encodeErr("list too long")
	}
	buf = binary.BigEndian.AppendUint32(append(buf, tagList), uint32(len(elems)))
	buf, err := appendSeq(buf, elems, depth)
	if err != nil {
		return buf, err
	}
	if tail == nil {
		return append(buf, tagNil), nil
	}
	return appendTerm(buf, tail, depth+1)
}

// appendInt writes the smallest form: <<97, U8>>, <<98, I32>> or
// <<110, N, Sign, Digits/little>>.
func appendInt(buf []byte, v int64) []byte {
	if v >= 0 && v <= math.MaxUint8 {
		return append(buf, tagSmallInt, byte(v))
	}
	if v >= math.MinInt32 && v <= math.MaxInt32 {
		return binary.BigEndian.AppendUint32(append(buf, tagInt), uint32(int32(v)))
	}
	sign := byte(0)
	u := uint64(v)
	if v < 0 {
		sign, u = 1, -u // also right for MinInt64
	}
	n := (bits.Len64(u) + 7) / 8
	buf = append(buf, tagSmallBig, byte(n), sign)
	for range n {
		buf = append(buf, byte(u))
		u >>= 8
	}
	return buf
}

// appendBig writes x in the smallest form; digits come straight from the
// words of |x|, without an intermediate byte slice.
func appendBig(buf []byte, x *big.Int) ([]byte, error) {
	if x.IsInt64() {
		return appendInt(buf, x.Int64()), nil
	}
	n := (x.BitLen() + 7) / 8
	sign := byte(0)
	if x.Sign() < 0 {
		sign = 1
	}
	if n <= math.MaxUint8 {
		buf = append(buf, tagSmallBig, byte(n), sign)
	} else {
		if uint64(n) > math.MaxUint32 {
			return buf, encodeErr("integer too large")
		}
		buf = binary.BigEndian.AppendUint32(append(buf, tagLargeBig), uint32(n))
		buf = append(buf, sign)
	}
	const wordBytes = bits.UintSize / 8
	for _, w := range x.Bits() { // little-endian words of |x|
		for range wordBytes {
			if n == 0 {
				break
			}
			buf = append(buf, byte(w))
			w >>= 8
			n--
		}
	}
	return buf, nil
}

// appendFloat writes <<70, IEEE754:64/big>>.
func appendFloat(buf []byte, f float64) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return buf, &EncodeError{Kind: KindOutOfRange, Reason: "float is NaN or infinite (Erlang has neither)"}
	}
	return binary.BigEndian.AppendUint64(append(buf, tagNewFloat), math.Float64bits(f)), nil
}

// appendAtom writes <<119, Len:8, UTF8>> or <<118, Len:16, UTF8>>.
func appendAtom(buf []byte, a string) ([]byte, error) {
	if !utf8.ValidString(a) {
		return buf, encodeErr("atom is not valid UTF-8")
	}
	if len(a) <= math.MaxUint8 {
		buf = append(buf, tagSmallAtomUTF8, byte(len(a)))
		return append(buf, a...), nil
	}
	if utf8.RuneCountInString(a) > maxAtomChars {
		return buf, encodeErr("atom longer than 255 characters")
	}
	buf = binary.BigEndian.AppendUint16(append(buf, tagAtomUTF8), uint16(len(a)))
	return append(buf, a...), nil
}

// appendBinary writes <<109, Len:32, Data>>.
func appendBinary(buf []byte, b []byte) ([]byte, error) {
	if uint64(len(b)) > math.MaxUint32 {
		return buf, encodeErr("binary larger than 4 GiB")
	}
	buf = binary.BigEndian.AppendUint32(append(buf, tagBinary), uint32(len(b)))
	return append(buf, b...), nil
}

func appendString(buf []byte, s string) ([]byte, error) {
	if uint64(len(s)) > math.MaxUint32 {
		return buf, encodeErr("binary larger than 4 GiB")
	}
	buf = binary.BigEndian.AppendUint32(append(buf, tagBinary), uint32(len(s)))
	return append(buf, s...), nil
}

// appendBitBinary writes <<77, Len:32, Bits:8, Data>> with the unused low
// bits of the last byte cleared; Bits 8 is a plain binary.
func appendBitBinary(buf []byte, b BitBinary) ([]byte, error) {
	switch {
	case b.Bits == 8 || (b.Bits == 0 && len(b.Bytes) == 0):
		return appendBinary(buf, b.Bytes)
	case b.Bits == 0 || b.Bits > 8 || len(b.Bytes) == 0:
		return buf, encodeErr("bitstring needs 1..8 bits in a non-empty last byte")
	case uint64(len(b.Bytes)) > math.MaxUint32:
		return buf, encodeErr("binary larger than 4 GiB")
	}
	buf = binary.BigEndian.AppendUint32(append(buf, tagBitBinary), uint32(len(b.Bytes)))
	buf = append(buf, b.Bits)
	buf = append(buf, b.Bytes...)
	buf[len(buf)-1] &= byte(0xFF << (8 - b.Bits))
	return buf, nil
}

// checkFunRaw accepts only a complete NEW_FUN_EXT or EXPORT_EXT encoding.
func checkFunRaw(raw []byte) error {
	if len(raw) == 0 || (raw[0] != tagNewFun && raw[0] != tagExport) {
		return encodeErr("Fun.Raw is not a NEW_FUN_EXT or EXPORT_EXT encoding")
	}
	d := decoder{data: raw}
	d.setLimits(nil)
	if _, err := d.term(0); err != nil {
		return encodeErr("Fun.Raw: " + err.(*DecodeError).Reason)
	}
	if d.pos != len(raw) {
		return encodeErr("Fun.Raw has trailing bytes")
	}
	return nil
}
