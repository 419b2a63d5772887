// Term to JSON: ToJSON, deterministic output that jsonb accepts unchanged.
package term

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxJSONIntBits: integers with more bits have more than MaxJSONIntDigits
// decimal digits. 10^131072 - 1, the largest integer of 131072 digits, has
// 435412 bits (131072 / log10(2) = 435411.6), but so have some integers of
// 131073 digits: at exactly this many bits the digits written are counted.
// Checking the bits first keeps a huge integer from being converted at all.
const maxJSONIntBits = 435412

// ToJSON converts a term to JSON text. Integers are written exactly, floats
// always with a fraction (1.0) and never with an exponent, so that jsonb
// (which stores numbers as numeric) keeps them floats (-0.0, which numeric
// cannot hold, as {"$float":"-0.0"}); binaries that are
// UTF-8 without NUL become strings; proper lists arrays; maps with string
// keys objects with sorted keys; everything else a tagged form (see
// docs/mapping.md). The same term always gives the same bytes.
// Errors are *JSONError whose Path names the offending part.
func ToJSON(t any, opt *JSONOptions) ([]byte, error) {
	c, err := opt.conf()
	if err != nil {
		return nil, err
	}
	w := jsonWriter{conf: c}
	if err := w.term(t, 0); err != nil {
		return nil, err
	}
	return w.buf, nil
}

type jsonWriter struct {
	buf  []byte
	conf jsonConf
	path []pathElem
}

func (w *jsonWriter) fail(kind Kind, reason string) *JSONError {
	return &JSONError{Kind: kind, Path: formatPath(w.path), Reason: reason}
}

// term writes t; the size check after each term names the path of the
// term that crossed MaxBytes (containers check after their elements).
func (w *jsonWriter) term(t any, depth int) error {
	if err := w.value(t, depth); err != nil {
		return err
	}
	if len(w.buf) > w.conf.maxBytes {
		return w.fail(KindTooLarge, "JSON text longer than MaxBytes ("+strconv.Itoa(w.conf.maxBytes)+")")
	}
	return nil
}

func (w *jsonWriter) value(t any, depth int) error {
	switch v := t.(type) {
	case Atom:
		return w.atom(v)
	case bool:
		w.buf = strconv.AppendBool(w.buf, v)
		return nil
	case int64:
		w.buf = strconv.AppendInt(w.buf, v, 10)
		return nil
	case float64:
		return w.float(v)
	case float32:
		return w.float(float64(v))
	case Binary:
		w.binary(v)
		return nil
	case []byte:
		w.binary(v)
		return nil
	case string:
		w.binary([]byte(v))
		return nil
	case BitBinary:
		b, n, ok := bitsOf(v)
		if !ok {
			return w.fail(KindMalformed, "bitstring needs 1..8 bits in a non-empty last byte")
		}
		if n%8 == 0 {
			w.binary(b)
			return nil
		}
		last := b[len(b)-1] & byte(0xFF<<(8-n%8))
		enc := append(slices.Clip(b[:len(b)-1]), last)
		w.buf = append(w.buf, `{"$bits":{"base64":"`...)
		w.buf = base64.StdEncoding.AppendEncode(w.buf, enc)
		w.buf = append(w.buf, `","size":`...)
		w.buf = strconv.AppendInt(w.buf, int64(n), 10)
		w.buf = append(w.buf, "}}"...)
		return nil
	case Tuple:
		w.buf = append(w.buf, `{"$tuple":`...)
		w.path = append(w.path, pathElem{key: []byte("$tuple"), isKey: true})
		if err := w.array(v, depth); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-1]
		w.buf = append(w.buf, '}')
		return nil
	case List:
		return w.array(v, depth)
	case []any:
		return w.array(v, depth)
	case ImproperList:
		elems, tail, _ := listParts(v)
		if tail == nil {
			return w.array(elems, depth)
		}
		if len(elems) == 0 {
			return w.fail(KindMalformed, "improper list without elements")
		}
		if depth >= w.conf.maxDepth {
			return w.tooDeep()
		}
		w.buf = append(w.buf, `{"$improper":[`...)
		w.path = append(w.path, pathElem{key: []byte("$improper"), isKey: true}, pathElem{index: 0})
		if err := w.array(elems, depth+1); err != nil {
			return err
		}
		w.buf = append(w.buf, ',')
		w.path[len(w.path)-1].index = 1
		if err := w.term(tail, depth+1); err != nil {
			return err
		}
		w.path = w.path[:len(w.path)-2]
		w.buf = append(w.buf, "]}"...)
		return nil
	case Map:
		return w.mapping(v, depth)
	case Pid:
		return w.opaque("$pid", v)
	case Ref:
		return w.opaque("$ref", v)
	case Port:
		return w.opaque("$port", v)
	case Fun:
		return w.opaque("$fun", v)
	case nil:
		return w.fail(KindMalformed, "nil is not a term")
	}
	if i, b, ok := intVal(t); ok {
		if b == nil {
			w.buf = strconv.AppendInt(w.buf, i, 10)
			return nil
		}
		tooLong := func() error {
			return w.fail(KindOutOfRange, "integer with more than "+strconv.Itoa(MaxJSONIntDigits)+" digits does not fit a jsonb number")
		}
		if b.BitLen() > maxJSONIntBits {
			return tooLong()
		}
		start := len(w.buf)
		w.buf = b.Append(w.buf, 10)
		digits := len(w.buf) - start
		if b.Sign() < 0 {
			digits-- // the minus sign
		}
		if digits > MaxJSONIntDigits {
			w.buf = w.buf[:start]
			return tooLong()
		}
		return nil
	}
	return w.fail(KindMalformed, fmt.Sprintf("unsupported Go type %T", t))
}

func (w *jsonWriter) tooDeep() error {
	return w.fail(KindTooLarge, "nesting deeper than MaxDepth ("+strconv.Itoa(w.conf.maxDepth)+")")
}

func (w *jsonWriter) atom(a Atom) error {
	switch {
	case a == w.conf.null:
		w.buf = append(w.buf, "null"...)
	case a == "true" || a == "false":
		w.buf = append(w.buf, a...)
	default:
		if !utf8.ValidString(string(a)) {
			return w.fail(KindMalformed, "atom is not valid UTF-8")
		}
		w.buf = append(w.buf, `{"$atom":`...)
		w.buf = appendJSONString(w.buf, string(a))
		w.buf = append(w.buf, '}')
	}
	return nil
}

// float writes f in positional notation with at least one fractional
// digit and the fewest digits that read back as f: 1.0, 0.1,
// 1000000000000000000000.0. No exponent: jsonb keeps a number's digits and
// scale, so 1e21 would come back as the integer 1000000000000000000000.
// Negative zero is {"$float":"-0.0"}: numeric has no negative zero, so
// jsonb would turn the number -0.0 into 0.0, but it keeps a string.
func (w *jsonWriter) float(f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return w.fail(KindOutOfRange, "float is NaN or infinite")
	}
	if f == 0 && math.Signbit(f) {
		w.buf = append(w.buf, `{"$float":"-0.0"}`...)
		return nil
	}
	start := len(w.buf)
	w.buf = strconv.AppendFloat(w.buf, f, 'f', -1, 64)
	if bytes.IndexByte(w.buf[start:], '.') < 0 {
		w.buf = append(w.buf, ".0"...)
	}
	return nil
}

// jsonText reports whether b can be a JSON string that jsonb stores: valid
// UTF-8 without NUL (jsonb rejects \u0000).
func jsonText(b []byte) bool {
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}

func (w *jsonWriter) binary(b []byte) {
	if jsonText(b) {
		w.buf = appendJSONString(w.buf, b)
		return
	}
	w.buf = append(w.buf, `{"$binary_base64":"`...)
	w.buf = base64.StdEncoding.AppendEncode(w.buf, b)
	w.buf = append(w.buf, `"}`...)
}

func (w *jsonWriter) array(elems []any, depth int) error {
	if len(elems) > 0 && depth >= w.conf.maxDepth {
		return w.tooDeep()
	}
	w.buf = append(w.buf, '[')
	w.path = append(w.path, pathElem{})
	for i, e := range elems {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.path[len(w.path)-1].index = i
		if err := w.term(e, depth+1); err != nil {
			return err
		}
	}
	w.path = w.path[:len(w.path)-1]
	w.buf = append(w.buf, ']')
	return nil
}

func (w *jsonWriter) opaque(tag string, t any) error {
	enc, err := AppendNoVersion(nil, t)
	if err != nil {
		return w.fail(KindMalformed, err.(*EncodeError).Reason)
	}
	w.buf = append(w.buf, `{"`...)
	w.buf = append(w.buf, tag...)
	w.buf = append(w.buf, `":"`...)
	w.buf = base64.StdEncoding.AppendEncode(w.buf, enc)
	w.buf = append(w.buf, `"}`...)
	return nil
}

type objectMember struct {
	key   []byte
	value any
}

// mapping writes a map as an object when every key is text (a binary that
// is a JSON string, or with AtomKeysObject also an atom) and no two keys
// have the same text; otherwise as {"$map": [[k, v], ...]} in key order.
func (w *jsonWriter) mapping(m Map, depth int) error {
	if len(m) > 0 && depth >= w.conf.maxDepth {
		return w.tooDeep()
	}
	members := make([]objectMember, 0, len(m))
	for _, p := range m {
		var key []byte
		switch k := p.Key.(type) {
		case Binary:
			key = k
		case string:
			key = []byte(k)
		case []byte:
			key = k
		case Atom:
			if w.conf.atomKeys == AtomKeysObject {
				key = []byte(k)
			}
		}
		if key == nil || !jsonText(key) {
			return w.tagged(m, depth)
		}
		members = append(members, objectMember{key, p.Value})
	}
	slices.SortFunc(members, func(a, b objectMember) int { return bytes.Compare(a.key, b.key) })
	for i := 1; i < len(members); i++ {
		if bytes.Equal(members[i-1].key, members[i].key) {
			return w.tagged(m, depth) // e.g. atom a and binary "a", or a duplicate
		}
	}
	w.buf = append(w.buf, '{')
	w.path = append(w.path, pathElem{isKey: true})
	for i, mb := range members {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.path[len(w.path)-1].key = mb.key
		if len(members) == 1 && len(mb.key) > 0 && mb.key[0] == '$' {
			// A lone key starting with $ would read back as a tag.
			w.buf = appendJSONString(w.buf, append([]byte{'$'}, mb.key...))
		} else {
			w.buf = appendJSONString(w.buf, mb.key)
		}
		w.buf = append(w.buf, ':')
		if err := w.term(mb.value, depth+1); err != nil {
			return err
		}
	}
	w.path = w.path[:len(w.path)-1]
	w.buf = append(w.buf, '}')
	return nil
}

func (w *jsonWriter) tagged(m Map, depth int) error {
	if hasDuplicateKeys(m) {
		return w.fail(KindMalformed, "map has duplicate keys")
	}
	w.buf = append(w.buf, `{"$map":[`...)
	w.path = append(w.path, pathElem{key: []byte("$map"), isKey: true}, pathElem{}, pathElem{})
	for i, p := range sortedPairs(m) {
		if i > 0 {
			w.buf = append(w.buf, ',')
		}
		w.path[len(w.path)-2].index = i
		w.buf = append(w.buf, '[')
		w.path[len(w.path)-1].index = 0
		if err := w.term(p.Key, depth+1); err != nil {
			return err
		}
		w.buf = append(w.buf, ',')
		w.path[len(w.path)-1].index = 1
		if err := w.term(p.Value, depth+1); err != nil {
			return err
		}
		w.buf = append(w.buf, ']')
	}
	w.path = w.path[:len(w.path)-3]
	w.buf = append(w.buf, "]}"...)
	return nil
}

// appendJSONString writes s (valid UTF-8) as a JSON string: ", \ and
// control characters escaped, everything else as is.
func appendJSONString[S string | []byte](buf []byte, s S) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\f':
			buf = append(buf, '\\', 'f')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
