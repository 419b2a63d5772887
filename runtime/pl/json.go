// json: JSON text <-> Lua values without losing digits or the [] / {}
// distinction, and the Lua json module (json.null, json.array, ...).
package pl

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/term"
)

// maxJSONDepth bounds nesting both ways (and catches cyclic tables): the
// term mapping's default, so a JSON value too deep for one is too deep for
// the other.
const maxJSONDepth = term.DefaultJSONMaxDepth

// DecodeJSON converts JSON text to Lua: objects are plain tables, arrays
// are tables marked as arrays (json.isarray), null is the null sentinel,
// integers are numbers (int64 beyond ±2^53, numeric beyond int64), other
// numbers are Lua numbers unless a float would lose digits: then numeric.
func (s *State) DecodeJSON(text string) (lua.LValue, error) {
	d := jsonDecoder{s: s, data: text}
	d.ws()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.ws()
	if d.pos != len(d.data) {
		return nil, d.errorf("unexpected data after the JSON value")
	}
	return v, nil
}

type jsonDecoder struct {
	s    *State
	data string
	pos  int
	buf  []byte
	// Members of the containers being read, so that each table is made
	// once at its final size (gopher-lua's default table preallocates 32
	// slots of both kinds, about 2 KB).
	vals []lua.LValue
	keys []string
}

func (d *jsonDecoder) errorf(format string, args ...any) *Error {
	e := Errorf(sqlstate.InvalidJSONText, "invalid JSON: "+format, args...)
	e.Detail = "at byte " + strconv.Itoa(d.pos)
	return e
}

func (d *jsonDecoder) ws() {
	d.pos = term.SkipJSONSpace(d.data, d.pos)
}

func (d *jsonDecoder) value(depth int) (lua.LValue, error) {
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of input")
	}
	// Counted as the term mapping counts MaxDepth: at most maxJSONDepth
	// arrays and objects, one inside the other.
	if c := d.data[d.pos]; (c == '{' || c == '[') && depth >= maxJSONDepth {
		return nil, d.errorf("nested deeper than %d levels", maxJSONDepth)
	}
	L := d.s.L
	switch c := d.data[d.pos]; {
	case c == '{':
		d.pos++
		base := len(d.vals)
		d.ws()
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			return L.CreateTable(0, 0), nil
		}
		for {
			d.ws()
			if d.pos >= len(d.data) || d.data[d.pos] != '"' {
				return nil, d.errorf("expected a string key")
			}
			k, err := d.str()
			if err != nil {
				return nil, err
			}
			d.ws()
			if d.pos >= len(d.data) || d.data[d.pos] != ':' {
				return nil, d.errorf("expected ':'")
			}
			d.pos++
			d.ws()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			d.keys = append(d.keys, k)
			d.vals = append(d.vals, v)
			d.ws()
			if d.pos < len(d.data) && d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.pos < len(d.data) && d.data[d.pos] == '}' {
				d.pos++
				n := len(d.vals) - base
				t := L.CreateTable(0, n)
				for i := base; i < len(d.vals); i++ {
					t.RawSetString(d.keys[i], d.vals[i]) // a repeated key: the last wins
				}
				d.keys, d.vals = d.keys[:base], clearTail(d.vals, base)
				return t, nil
			}
			return nil, d.errorf("expected ',' or '}'")
		}
	case c == '[':
		d.pos++
		base := len(d.vals)
		d.ws()
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			t := L.CreateTable(0, 0)
			t.Metatable = d.s.arrayMT
			return t, nil
		}
		for {
			d.ws()
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			d.keys = append(d.keys, "")
			d.vals = append(d.vals, v)
			d.ws()
			if d.pos < len(d.data) && d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.pos < len(d.data) && d.data[d.pos] == ']' {
				d.pos++
				n := len(d.vals) - base
				t := L.CreateTable(n, 0)
				t.Metatable = d.s.arrayMT
				for i := 0; i < n; i++ {
					t.RawSetInt(i+1, d.vals[base+i])
				}
				d.keys, d.vals = d.keys[:base], clearTail(d.vals, base)
				return t, nil
			}
			return nil, d.errorf("expected ',' or ']'")
		}
	case c == '"':
		str, err := d.str()
		if err != nil {
			return nil, err
		}
		return lua.LString(str), nil
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	case strings.HasPrefix(d.data[d.pos:], "true"):
		d.pos += 4
		return lua.LTrue, nil
	case strings.HasPrefix(d.data[d.pos:], "false"):
		d.pos += 5
		return lua.LFalse, nil
	case strings.HasPrefix(d.data[d.pos:], "null"):
		d.pos += 4
		return d.s.null, nil
	}
	return nil, d.errorf("unexpected character %q", d.data[d.pos])
}

// clearTail truncates vals to n, dropping the references it held.
func clearTail(vals []lua.LValue, n int) []lua.LValue {
	clear(vals[n:])
	return vals[:n]
}

// str reads a string literal at d.pos (the opening quote) with the lexer
// the term mapping uses (term.ScanJSONString), so a json argument, a jsonb
// argument and json.decode read strings by one set of rules. Raw bytes are
// not checked for UTF-8: a Lua string is bytes in the server encoding.
func (d *jsonDecoder) str() (string, error) {
	text, escaped, end, serr := term.ScanJSONString(d.data, d.pos, d.buf[:0])
	if serr != nil {
		d.pos = serr.Offset
		return "", d.errorf("%s", serr.Reason)
	}
	str := d.data[d.pos+1 : end-1]
	if escaped {
		d.buf = text
		str = string(text)
	}
	d.pos = end
	return str, nil
}

// number reads a JSON number (the shared grammar, term.ScanJSONNumber) and
// picks its Lua form.
func (d *jsonDecoder) number() (lua.LValue, error) {
	start := d.pos
	n, isFloat := term.ScanJSONNumber(d.data[start:])
	if n == 0 {
		return nil, d.errorf("bad number")
	}
	d.pos = start + n
	v, err := d.s.jsonNumber(d.data[start:d.pos], !isFloat)
	if err != nil {
		d.pos = start
		e := Errorf(sqlstate.NumericValueOutOfRange, "JSON number %s is out of range for a numeric", d.data[start:start+n])
		e.Detail = "at byte " + strconv.Itoa(start)
		return nil, e
	}
	return v, nil
}

// jsonNumber picks the Lua form of a valid JSON number literal. A number
// beyond what numeric holds (json text may say 1e-20000) is an error
// rather than a rounded float.
func (s *State) jsonNumber(lit string, integer bool) (lua.LValue, error) {
	if integer {
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			if i == 0 && lit[0] == '-' {
				return lua.LNumber(math.Copysign(0, -1)), nil // -0 stays -0
			}
			return s.IntValue(i), nil
		}
	} else if f, err := strconv.ParseFloat(lit, 64); err == nil && floatKeepsDigits(lit, f) {
		return lua.LNumber(f), nil
	}
	n, err := ParseNumeric(lit)
	if err != nil {
		return nil, err
	}
	return s.NewNumeric(n), nil
}

// floatKeepsDigits reports whether f's shortest decimal form has the same
// value as the literal it was read from.
func floatKeepsDigits(lit string, f float64) bool {
	if math.IsInf(f, 0) {
		return false
	}
	// Up to 15 significant digits always survive a normal float (DBL_DIG).
	sig := 0
	started := false
	trailingZeros := 0
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		if c == 'e' || c == 'E' {
			break
		}
		if c < '0' || c > '9' {
			continue
		}
		if c != '0' {
			started = true
			sig += trailingZeros + 1
			trailingZeros = 0
		} else if started {
			trailingZeros++
		}
	}
	if sig == 0 {
		return true // zero
	}
	if sig <= 15 && math.Abs(f) >= 0x1p-1022 {
		return true
	}
	a, err1 := ParseNumeric(lit)
	b, err2 := ParseNumeric(strconv.FormatFloat(f, 'g', -1, 64))
	return err1 == nil && err2 == nil && a.Cmp(b) == 0
}

// EncodeJSON converts a Lua value to JSON text. Tables marked as arrays
// (and unmarked tables whose keys are exactly 1..n) become arrays, others
// objects with their keys (strings, or numbers as text) in sorted order;
// the null sentinel is null; int64 and numeric keep their digits.
func (s *State) EncodeJSON(v lua.LValue) (string, error) {
	var b strings.Builder
	if err := s.encodeJSON(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func errJSONEncode(format string, args ...any) *Error {
	return Errorf(sqlstate.InvalidParameterValue, "cannot encode as JSON: "+format, args...)
}

func (s *State) encodeJSON(b *strings.Builder, v lua.LValue, depth int) error {
	if depth > maxJSONDepth {
		return errJSONEncode("tables nested deeper than %d levels (a cycle?)", maxJSONDepth)
	}
	switch x := v.(type) {
	case *lua.LNilType:
		b.WriteString("null")
	case lua.LBool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case lua.LNumber:
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return errJSONEncode("JSON has no %s", fmtNumber(f))
		}
		b.WriteString(fmtNumber(f))
	case lua.LString:
		writeJSONString(b, string(x))
	case *lua.LUserData:
		if x == s.null {
			b.WriteString("null")
			return nil
		}
		switch u := x.Value.(type) {
		case int64:
			b.WriteString(strconv.FormatInt(u, 10))
		case *Numeric:
			if !u.IsFinite() {
				return errJSONEncode("JSON has no %s", u.String())
			}
			b.WriteString(u.String())
		case textValue:
			// A range or timetz is its SQL text (as before they were values).
			writeJSONString(b, u.SQLText())
		case DateTime:
			t, err := s.jsonDateTimeText(u)
			if err != nil {
				return err
			}
			writeJSONString(b, t)
		default:
			return errJSONEncode("%s", s.typeName(v))
		}
	case *lua.LTable:
		return s.encodeTable(b, x, depth)
	default:
		return errJSONEncode("%s", s.typeName(v))
	}
	return nil
}

// IsArray reports whether t is marked as an array (SQL arrays, JSON
// arrays, json.array(t)).
func (s *State) IsArray(t *lua.LTable) bool {
	mt, ok := t.Metatable.(*lua.LTable)
	return ok && (mt == s.arrayMT || mt.RawGetString("__array") == lua.LTrue)
}

func (s *State) isObject(t *lua.LTable) bool {
	mt, ok := t.Metatable.(*lua.LTable)
	return ok && (mt == s.objectMT || mt.RawGetString("__object") == lua.LTrue)
}

func (s *State) encodeTable(b *strings.Builder, t *lua.LTable, depth int) error {
	marked := s.IsArray(t)
	object := s.isObject(t)
	if !object {
		n, consecutive, err := s.seqInfo(t, marked)
		if err != nil {
			return err
		}
		if marked || (consecutive && n > 0) {
			b.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					b.WriteByte(',')
				}
				if err := s.encodeJSON(b, t.RawGetInt(i), depth+1); err != nil {
					return err
				}
			}
			b.WriteByte(']')
			return nil
		}
	}
	type kv struct {
		k string
		v lua.LValue
	}
	var kvs []kv
	var bad lua.LValue
	t.ForEach(func(k, v lua.LValue) {
		switch key := k.(type) {
		case lua.LString:
			kvs = append(kvs, kv{string(key), v})
		case lua.LNumber:
			kvs = append(kvs, kv{fmtNumber(float64(key)), v})
		default:
			if bad == nil {
				bad = k
			}
		}
	})
	if bad != nil {
		return errJSONEncode("object keys must be strings or numbers, not %s", s.typeName(bad))
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].k < kvs[j].k })
	b.WriteByte('{')
	for i, e := range kvs {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, e.k)
		b.WriteByte(':')
		if err := s.encodeJSON(b, e.v, depth+1); err != nil {
			return err
		}
	}
	b.WriteByte('}')
	return nil
}

// seqInfo returns the largest positive integer key n of t and whether the
// keys are exactly 1..n. A marked array must have integer keys only and
// may have holes (they encode as null), within reason.
func (s *State) seqInfo(t *lua.LTable, marked bool) (int, bool, error) {
	n := t.MaxN()
	var k lua.LValue
	if n > 0 {
		k, _ = t.Next(lua.LNumber(n))
	} else {
		k, _ = t.Next(lua.LNil)
	}
	if k == lua.LNil {
		// Only the array part: consecutive unless it has holes.
		for i := 1; i <= n; i++ {
			if t.RawGetInt(i) == lua.LNil {
				return n, false, nil
			}
		}
		return n, true, nil
	}
	count, maxKey := 0, 0
	var bad lua.LValue
	t.ForEach(func(k, _ lua.LValue) {
		count++
		if f, ok := k.(lua.LNumber); ok && float64(f) == math.Trunc(float64(f)) && f >= 1 && f <= math.MaxInt32 {
			maxKey = max(maxKey, int(f))
		} else if bad == nil {
			bad = k
		}
	})
	if bad != nil {
		if marked {
			return 0, false, errJSONEncode("an array table has the key %s", s.keyString(bad))
		}
		return 0, false, nil
	}
	if marked && maxKey > 2*count+1024 {
		return 0, false, errJSONEncode("an array table is too sparse (%d elements up to index %d)", count, maxKey)
	}
	return maxKey, count == maxKey, nil
}

func (s *State) keyString(k lua.LValue) string {
	if str, ok := k.(lua.LString); ok {
		return strconv.Quote(string(str))
	}
	if n, ok := k.(lua.LNumber); ok {
		return fmtNumber(float64(n))
	}
	return s.typeName(k)
}

func writeJSONString(b *strings.Builder, str string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	start := 0
	for i := 0; i < len(str); i++ {
		c := str[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b.WriteString(str[start:i])
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
		start = i + 1
	}
	b.WriteString(str[start:])
	b.WriteByte('"')
}

// registerJSON installs the json module.
func (s *State) registerJSON() {
	L := s.L
	m := L.NewTable()
	m.RawSetString("null", s.null)
	mark := func(mt *lua.LTable) *lua.LFunction {
		return L.NewFunction(func(L *lua.LState) int {
			t, ok := L.Get(1).(*lua.LTable)
			if !ok {
				if L.Get(1) != lua.LNil {
					L.ArgError(1, "table expected")
				}
				t = L.NewTable()
			}
			t.Metatable = mt
			L.Push(t)
			return 1
		})
	}
	m.RawSetString("array", mark(s.arrayMT))
	m.RawSetString("object", mark(s.objectMT))
	m.RawSetString("isarray", L.NewFunction(func(L *lua.LState) int {
		t, ok := L.Get(1).(*lua.LTable)
		L.Push(lua.LBool(ok && s.IsArray(t)))
		return 1
	}))
	m.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
		out, err := s.EncodeJSON(L.CheckAny(1))
		if err != nil {
			s.raise(err)
		}
		L.Push(lua.LString(out))
		return 1
	}))
	m.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
		v, err := s.DecodeJSON(L.CheckString(1))
		if err != nil {
			s.raise(err)
		}
		L.Push(v)
		return 1
	}))
	L.SetGlobal("json", m)
}

// jsonDateTimeText is a date or time value as PostgreSQL's to_json writes
// it: ISO 8601 (XML Schema) form, "2017-12-19T12:00:00", a timestamptz in
// the session's zone with its offset as "+hh:mm"; an interval is its text.
// It returns the host's error rather than raising it: JSON is also encoded
// outside Lua (a function's result).
func (s *State) jsonDateTimeText(d DateTime) (string, error) {
	var t string
	if h := s.dtHost(); h != nil {
		var err error
		if t, err = h.DateTimeText(d); err != nil {
			return "", err
		}
	} else {
		t = s.DateTimeText(d) // no backend: formatted in Go, never raises
	}
	if d.infinite() != 0 || (d.Kind != DTTimestamp && d.Kind != DTTimestampTZ) {
		return t, nil
	}
	bc := ""
	if strings.HasSuffix(t, " BC") {
		t, bc = t[:len(t)-3], " BC"
	}
	t = strings.Replace(t, " ", "T", 1)
	if d.Kind == DTTimestampTZ {
		// The offset follows the time: +hh, +hh:mm or +hh:mm:ss.
		if i := strings.LastIndexAny(t, "+-"); i > strings.IndexByte(t, 'T') && len(t)-i == 3 {
			t += ":00"
		}
	}
	return t + bc, nil
}
