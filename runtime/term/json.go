// JSON to term: FromJSON and ArgsFromJSON, with the options and tagged forms
// shared with ToJSON (json_out.go). The mapping is documented in docs/mapping.md.
package term

import (
	"bytes"
	"encoding/base64"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AtomKeyMode says how ToJSON writes a map whose keys are atoms.
type AtomKeyMode uint8

const (
	// AtomKeysObject (the default) writes a map whose keys are all atoms
	// or strings as a plain JSON object, atom names as keys: what an
	// Elixir map or struct looks like to SQL. It does not round-trip: the
	// object reads back with binary keys.
	AtomKeysObject AtomKeyMode = iota
	// AtomKeysTagged writes such a map exactly, as
	// {"$map": [[{"$atom": "k"}, v], ...]}.
	AtomKeysTagged
)

// Defaults of JSONOptions.
const (
	DefaultNullAtom     Atom = "nil"
	DefaultMaxAtoms          = 100 // the default of the plerl.max_atoms GUC
	DefaultJSONMaxDepth      = DefaultMaxDepth
	DefaultJSONMaxBytes      = 64 << 20
	// MaxJSONIntDigits is the most digits an integer may have on either
	// side: what a jsonb number (numeric) holds before the decimal point.
	MaxJSONIntDigits = 131072
)

// JSONOptions tune the mapping. The zero value (or nil) means the defaults.
type JSONOptions struct {
	// NullAtom is the atom JSON null becomes, and the only atom ToJSON
	// writes as null. Default nil (Elixir); undefined (Erlang) or null are
	// the usual alternatives.
	NullAtom Atom
	// AtomKeys chooses how maps with atom keys are written (ToJSON only).
	AtomKeys AtomKeyMode
	// MaxAtoms bounds the distinct atoms one FromJSON call creates: names
	// in $atom, and node, module and function names inside $pid, $ref,
	// $port and $fun (the remote node interns every atom it receives, and
	// never frees one). true, false and NullAtom do not count. 0 means
	// DefaultMaxAtoms; a negative value allows none.
	MaxAtoms int
	// MaxDepth bounds nesting: JSON arrays and objects for FromJSON
	// (tagged forms included), term containers for ToJSON. 0 means 1000.
	MaxDepth int
	// MaxBytes bounds the JSON text read or written. 0 means 64 MiB.
	MaxBytes int
}

type jsonConf struct {
	null     Atom
	atomKeys AtomKeyMode
	maxAtoms int
	maxDepth int
	maxBytes int
}

func (o *JSONOptions) conf() (jsonConf, error) {
	c := jsonConf{null: DefaultNullAtom, maxAtoms: DefaultMaxAtoms, maxDepth: DefaultJSONMaxDepth, maxBytes: DefaultJSONMaxBytes}
	if o == nil {
		return c, nil
	}
	if o.NullAtom != "" {
		if _, err := appendAtom(nil, string(o.NullAtom)); err != nil {
			return c, &JSONError{Kind: KindMalformed, Path: "$", Reason: "bad NullAtom option: " + err.(*EncodeError).Reason}
		}
		c.null = o.NullAtom
	}
	c.atomKeys = o.AtomKeys
	switch {
	case o.MaxAtoms < 0:
		c.maxAtoms = 0
	case o.MaxAtoms > 0:
		c.maxAtoms = o.MaxAtoms
	}
	if o.MaxDepth > 0 {
		c.maxDepth = o.MaxDepth
	}
	if o.MaxBytes > 0 {
		c.maxBytes = o.MaxBytes
	}
	return c, nil
}

// FromJSON converts one JSON value (RFC 8259 text, UTF-8) to a term.
// Errors are *JSONError whose Path names the offending value.
func FromJSON(data []byte, opt *JSONOptions) (any, error) {
	p, err := newJSONParser(data, opt)
	if err != nil {
		return nil, err
	}
	t, err := p.value(0)
	if err != nil {
		return nil, err
	}
	return t, p.end()
}

// ArgsFromJSON converts a JSON array to the argument list of a call: one
// term per element. Anything but an array is an error.
func ArgsFromJSON(data []byte, opt *JSONOptions) ([]any, error) {
	p, err := newJSONParser(data, opt)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] != '[' {
		return nil, p.fail(KindMalformed, "arguments must be a JSON array, not "+jsonKindAt(p.data[p.pos]))
	}
	t, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if err := p.end(); err != nil {
		return nil, err
	}
	args := []any(t.(List))
	if args == nil {
		args = []any{}
	}
	return args, nil
}

func jsonKindAt(c byte) string {
	switch {
	case c == '{':
		return "an object"
	case c == '"':
		return "a string"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "a number"
	}
	return "valid JSON"
}

type jsonParser struct {
	data  []byte
	pos   int
	conf  jsonConf
	atoms map[string]struct{} // distinct atoms created so far
	path  []pathElem
}

// pathElem is one step of the JSON path: an array index or an object key.
type pathElem struct {
	key   []byte
	index int
	isKey bool
}

func newJSONParser(data []byte, opt *JSONOptions) (*jsonParser, error) {
	c, err := opt.conf()
	if err != nil {
		return nil, err
	}
	p := &jsonParser{data: data, conf: c}
	if len(data) > c.maxBytes {
		return nil, p.fail(KindTooLarge, "JSON text of "+strconv.Itoa(len(data))+" bytes exceeds MaxBytes")
	}
	return p, nil
}

func (p *jsonParser) fail(kind Kind, reason string) *JSONError {
	return &JSONError{Kind: kind, Path: formatPath(p.path), Reason: reason}
}

// formatPath writes a path as $, $[2], $.items[0], $["odd key"].
func formatPath(path []pathElem) string {
	var sb strings.Builder
	sb.WriteByte('$')
	for _, e := range path {
		if !e.isKey {
			sb.WriteByte('[')
			sb.WriteString(strconv.Itoa(e.index))
			sb.WriteByte(']')
			continue
		}
		if isIdent(e.key) {
			sb.WriteByte('.')
			sb.Write(e.key)
		} else {
			sb.WriteByte('[')
			sb.Write(appendJSONString(nil, e.key))
			sb.WriteByte(']')
		}
	}
	return sb.String()
}

func isIdent(s []byte) bool {
	if len(s) == 0 || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '$' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func (p *jsonParser) skipSpace() {
	p.pos = SkipJSONSpace(p.data, p.pos)
}

func (p *jsonParser) end() error {
	p.skipSpace()
	if p.pos != len(p.data) {
		return p.fail(KindMalformed, "unexpected text after the JSON value at byte "+strconv.Itoa(p.pos))
	}
	return nil
}

func (p *jsonParser) unexpected() *JSONError {
	if p.pos >= len(p.data) {
		return p.fail(KindMalformed, "unexpected end of JSON text")
	}
	return p.fail(KindMalformed, "unexpected "+strconv.QuoteRune(rune(p.data[p.pos]))+" at byte "+strconv.Itoa(p.pos))
}

func (p *jsonParser) literal(word string) bool {
	if bytes.HasPrefix(p.data[p.pos:], []byte(word)) {
		p.pos += len(word)
		return true
	}
	return false
}

// value parses the JSON value at p.pos; depth counts enclosing arrays and objects.
func (p *jsonParser) value(depth int) (any, error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, p.unexpected()
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return s, nil
	case c == 't' && p.literal("true"):
		return trueAtom, nil
	case c == 'f' && p.literal("false"):
		return falseAtom, nil
	case c == 'n' && p.literal("null"):
		return p.conf.null, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return nil, p.unexpected()
}

func (p *jsonParser) enter(depth int) error {
	if depth >= p.conf.maxDepth {
		return p.fail(KindTooLarge, "nesting deeper than MaxDepth ("+strconv.Itoa(p.conf.maxDepth)+")")
	}
	return nil
}

func (p *jsonParser) array(depth int) (any, error) {
	if err := p.enter(depth); err != nil {
		return nil, err
	}
	p.pos++ // [
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return emptyList, nil
	}
	var l List
	p.path = append(p.path, pathElem{})
	for {
		p.path[len(p.path)-1].index = len(l)
		t, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		l = append(l, t)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.unexpected()
		}
		if p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.data[p.pos] != ']' {
			return nil, p.unexpected()
		}
		p.pos++
		p.path = p.path[:len(p.path)-1]
		return l[:len(l):len(l)], nil
	}
}

func (p *jsonParser) object(depth int) (any, error) {
	if err := p.enter(depth); err != nil {
		return nil, err
	}
	p.pos++ // {
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return Map{}, nil
	}
	var m Map
	var seen map[string]struct{}
	p.path = append(p.path, pathElem{isKey: true})
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.unexpected()
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		p.path[len(p.path)-1].key = key
		// Duplicate keys: jsonb never produces them and an Erlang map
		// cannot hold them, so they are an error rather than last-wins.
		if len(m) < 8 {
			for _, q := range m {
				if string(q.Key.(Binary)) == string(key) {
					return nil, p.fail(KindMalformed, "duplicate object key")
				}
			}
		} else {
			if seen == nil {
				seen = make(map[string]struct{}, 2*len(m))
				for _, q := range m {
					seen[string(q.Key.(Binary))] = struct{}{}
				}
			}
			if _, dup := seen[string(key)]; dup {
				return nil, p.fail(KindMalformed, "duplicate object key")
			}
			seen[string(key)] = struct{}{}
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.unexpected()
		}
		p.pos++
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m = append(m, Pair{Key: key, Value: v})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return nil, p.unexpected()
		}
		if p.data[p.pos] == ',' {
			p.pos++
			continue
		}
		if p.data[p.pos] != '}' {
			return nil, p.unexpected()
		}
		p.pos++
		p.path = p.path[:len(p.path)-1]
		if k := m[0].Key.(Binary); len(m) == 1 && len(k) > 0 && k[0] == '$' {
			return p.tagged(string(k), m[0].Value)
		}
		return m[:len(m):len(m)], nil
	}
}

// tagged interprets an object with one key that starts with $: a tagged
// form, or, with $$, a literal key that starts with $. v is the value
// already converted as a plain term.
func (p *jsonParser) tagged(tag string, v any) (any, error) {
	if strings.HasPrefix(tag, "$$") {
		return Map{{Key: Binary(tag[1:]), Value: v}}, nil
	}
	p.path = append(p.path, pathElem{key: []byte(tag), isKey: true})
	t, err := p.untag(tag, v)
	if err != nil {
		return nil, err
	}
	p.path = p.path[:len(p.path)-1]
	return t, nil
}

func (p *jsonParser) untag(tag string, v any) (any, error) {
	bad := func(want string) (any, error) {
		return nil, p.fail(KindMalformed, tag+" needs "+want)
	}
	switch tag {
	case "$atom":
		s, ok := v.(Binary)
		if !ok {
			return bad("a string")
		}
		if utf8.RuneCount(s) > maxAtomChars {
			return nil, p.fail(KindMalformed, "atom longer than 255 characters")
		}
		a := Atom(s)
		if err := p.countAtom(a); err != nil {
			return nil, err
		}
		return a, nil
	case "$tuple":
		l, ok := v.(List)
		if !ok {
			return bad("an array")
		}
		return Tuple(l), nil
	case "$map":
		l, ok := v.(List)
		if !ok {
			return bad("an array of [key, value] arrays")
		}
		m := make(Map, len(l))
		for i, e := range l {
			kv, ok := e.(List)
			if !ok || len(kv) != 2 {
				p.path = append(p.path, pathElem{index: i})
				return bad("an array of [key, value] arrays")
			}
			m[i] = Pair{Key: kv[0], Value: kv[1]}
		}
		if hasDuplicateKeys(m) {
			return nil, p.fail(KindMalformed, "duplicate key in $map")
		}
		return m, nil
	case "$improper":
		l, ok := v.(List)
		if !ok || len(l) != 2 {
			return bad("[[elements...], tail]")
		}
		elems, ok := l[0].(List)
		if !ok || len(elems) == 0 {
			return bad("a non-empty array of elements")
		}
		switch l[1].(type) {
		case List, ImproperList:
			return bad("a tail that is not a list")
		}
		return ImproperList{Elems: elems, Tail: l[1]}, nil
	case "$binary_base64":
		s, ok := v.(Binary)
		if !ok {
			return bad("a base64 string")
		}
		b, err := base64.StdEncoding.DecodeString(string(s))
		if err != nil {
			return bad("standard base64 with padding")
		}
		return Binary(b), nil
	case "$bits":
		m, ok := v.(Map)
		if !ok || len(m) != 2 {
			return bad(`{"base64": "...", "size": bits}`)
		}
		var data, size any
		for _, kv := range m {
			switch string(kv.Key.(Binary)) {
			case "base64":
				data = kv.Value
			case "size":
				size = kv.Value
			}
		}
		s, ok1 := data.(Binary)
		n, ok2 := size.(int64)
		if !ok1 || !ok2 || n < 0 {
			return bad(`{"base64": "...", "size": bits}`)
		}
		b, err := base64.StdEncoding.DecodeString(string(s))
		if err != nil || int64(len(b)) != (n+7)/8 {
			return bad("base64 of size/8 bytes, rounded up")
		}
		if n%8 == 0 {
			return Binary(b), nil
		}
		bits := uint8(n % 8)
		b[len(b)-1] &= byte(0xFF << (8 - bits))
		return BitBinary{Bytes: b, Bits: bits}, nil
	case "$charlist":
		s, ok := v.(Binary)
		if !ok {
			return bad("a string")
		}
		l := make(List, 0, len(s))
		for _, r := range string(s) {
			l = append(l, int64(r))
		}
		if len(l) == 0 {
			return emptyList, nil
		}
		return l, nil
	case "$pid", "$ref", "$port", "$fun":
		s, ok := v.(Binary)
		if !ok {
			return bad("a base64 string")
		}
		raw, err := base64.StdEncoding.DecodeString(string(s))
		if err != nil || len(raw) == 0 {
			return bad("standard base64 of an external term encoding")
		}
		d := decoder{data: raw}
		d.setLimits(nil)
		t, err := d.term(0)
		if err != nil || d.pos != len(raw) {
			return bad("the external encoding (without the 131 version byte) of a " + tag[1:])
		}
		var kindOK bool
		switch t.(type) {
		case Pid:
			kindOK = tag == "$pid"
		case Ref:
			kindOK = tag == "$ref"
		case Port:
			kindOK = tag == "$port"
		case Fun:
			kindOK = tag == "$fun"
		}
		if !kindOK {
			return bad("the external encoding of a " + tag[1:])
		}
		if err := p.countAtomsIn(raw); err != nil {
			return nil, err
		}
		return t, nil
	case "$int":
		switch x := v.(type) {
		case int64, *big.Int:
			return x, nil
		case Binary:
			s := string(x)
			if !isJSONInt(s) {
				return bad("a decimal integer string")
			}
			return p.parseInt(s)
		}
		return bad("a decimal integer string")
	case "$float":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		case *big.Int:
			f, _ := new(big.Float).SetInt(x).Float64()
			if math.IsInf(f, 0) {
				return nil, p.fail(KindOutOfRange, "number out of float range")
			}
			return f, nil
		case Binary:
			if !isJSONNumber(string(x)) {
				return bad("a JSON number or a string holding one")
			}
			return p.parseFloat(string(x))
		}
		return bad("a JSON number or a string holding one")
	}
	return nil, p.fail(KindMalformed, "unknown tag "+tag+" (write $"+tag+" for a literal key)")
}

// hasDuplicateKeys reports whether two keys of m are Equal, by their
// canonical encodings (linear, whatever the keys hold).
func hasDuplicateKeys(m Map) bool {
	seen := make(map[string]struct{}, len(m))
	for _, p := range m {
		k, err := appendCanonical(nil, p.Key, 0)
		if err != nil {
			return false // not a term: Append reports it
		}
		if _, dup := seen[string(k)]; dup {
			return true
		}
		seen[string(k)] = struct{}{}
	}
	return false
}

func (p *jsonParser) countAtom(a Atom) error {
	if a == "true" || a == "false" || a == p.conf.null {
		return nil
	}
	if _, ok := p.atoms[string(a)]; ok {
		return nil
	}
	if len(p.atoms) >= p.conf.maxAtoms {
		return p.fail(KindTooLarge, "more than MaxAtoms ("+strconv.Itoa(p.conf.maxAtoms)+") distinct atoms in one call")
	}
	if p.atoms == nil {
		p.atoms = make(map[string]struct{})
	}
	p.atoms[string(a)] = struct{}{}
	return nil
}

// countAtomsIn counts every atom inside an external encoding (node names,
// fun modules and function names, atoms in a fun's free variables).
func (p *jsonParser) countAtomsIn(raw []byte) error {
	var err error
	d := decoder{data: raw}
	d.setLimits(nil)
	d.onAtom = func(a Atom) {
		if err == nil {
			err = p.countAtom(a)
		}
	}
	d.term(0)
	return err
}

// number parses a JSON number: an integer (no fraction, no exponent) to an
// exact int64 or *big.Int, anything else to float64.
func (p *jsonParser) number() (any, error) {
	n, isFloat := ScanJSONNumber(p.data[p.pos:])
	if n == 0 {
		return nil, p.unexpected()
	}
	text := string(p.data[p.pos : p.pos+n])
	p.pos += n
	if isFloat {
		return p.parseFloat(text)
	}
	return p.parseInt(text)
}

func (p *jsonParser) parseFloat(text string) (any, error) {
	f, err := strconv.ParseFloat(text, 64)
	if math.IsInf(f, 0) {
		return nil, p.fail(KindOutOfRange, "number "+abbrev(text)+" out of float range")
	}
	if err != nil {
		return nil, p.fail(KindMalformed, "bad number "+abbrev(text))
	}
	return f, nil // underflow rounds to zero or a subnormal, as any decimal rounds
}

func (p *jsonParser) parseInt(text string) (any, error) {
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return n, nil
	}
	if len(strings.TrimLeft(text, "-0")) > MaxJSONIntDigits {
		return nil, p.fail(KindOutOfRange, "integer with more than "+strconv.Itoa(MaxJSONIntDigits)+" digits")
	}
	x, ok := new(big.Int).SetString(text, 10)
	if !ok {
		return nil, p.fail(KindMalformed, "bad integer "+abbrev(text))
	}
	if x.IsInt64() { // e.g. leading zeros in a $int string
		return x.Int64(), nil
	}
	return x, nil
}

func abbrev(s string) string {
	if len(s) > 40 {
		return s[:37] + "..."
	}
	return s
}

// isJSONInt reports whether s is -?digits (leading zeros allowed, for $int).
func isJSONInt(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isJSONNumber reports whether s is exactly a JSON number.
func isJSONNumber(s string) bool {
	n, _ := ScanJSONNumber(s)
	return n > 0 && n == len(s)
}

// str parses a JSON string at p.pos (the opening quote) with the shared
// lexer (jsonscan.go) and returns its text, which must be valid UTF-8: a
// JSON string is a UTF-8 binary.
func (p *jsonParser) str() (Binary, error) {
	text, escaped, end, serr := ScanJSONString(p.data, p.pos, nil)
	if serr != nil {
		return nil, p.fail(KindMalformed, serr.Reason+" at byte "+strconv.Itoa(serr.Offset))
	}
	if !escaped {
		text = bytes.Clone(p.data[p.pos+1 : end-1])
	}
	if !utf8.Valid(text) {
		return nil, p.fail(KindMalformed, "string is not valid UTF-8")
	}
	p.pos = end
	return Binary(text), nil
}
