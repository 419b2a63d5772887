package pl

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/term"
)

func TestJSONRoundTrip(t *testing.T) {
	s := newValuesState(t)
	tests := []struct{ in, want string }{
		{`{}`, `{}`},
		{`[]`, `[]`},
		{`[[], {}, [[]], {"a": []}]`, `[[],{},[[]],{"a":[]}]`},
		{`null`, `null`},
		{`[null, true, false]`, `[null,true,false]`},
		{`{"b": 1, "a": 2, "c": {"z": null, "y": [1, 2]}}`, `{"a":2,"b":1,"c":{"y":[1,2],"z":null}}`},
		{`"h\u00e9llo \"q\" \\ \/ \b\f\n\r\t \u0001"`, `"héllo \"q\" \\ / \b\f\n\r\t \u0001"`},
		{`"\ud83d\ude00 \uD83D\uDE00 x"`, `"😀 😀 x"`},
		// Integers keep every digit: numbers, then int64, then numeric.
		{`[0, -0, 9007199254740991, 9007199254740992, -9223372036854775808, 18446744073709551616]`,
			`[0,-0,9007199254740991,9007199254740992,-9223372036854775808,18446744073709551616]`},
		// Non-integers: a float when it keeps the digits, numeric when not.
		{`[0.1, 1.5e300, 1e-7, 0.10000000000000000001, 3.141592653589793238, 1e400, -0.0]`,
			`[0.1,1.5e+300,1e-07,0.10000000000000000001,3.141592653589793238,1` + strings.Repeat("0", 400) + `,-0]`},
		{`1.0`, `1`},
		{`  [1 , 2 ]  `, `[1,2]`},
		{`{"a": 1, "a": 2}`, `{"a":2}`},
		{`{"1": "x"}`, `{"1":"x"}`},
	}
	for _, tt := range tests {
		v, err := s.DecodeJSON(tt.in)
		if err != nil {
			t.Errorf("decode %s: %v", tt.in, err)
			continue
		}
		got, err := s.EncodeJSON(v)
		if err != nil {
			t.Errorf("encode %s: %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s -> %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	s := newValuesState(t)
	for _, in := range []string{
		``, ` `, `[`, `[1,]`, `{"a"}`, `{"a":}`, `{a:1}`, `[1 2]`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
		`tru`, `nul`, `"abc`, "\"a\x01b\"", `"\x"`, `"\u12"`, `[] []`, `NaN`, `Infinity`,
		// Lone surrogates, refused as jsonb refuses them.
		`"\ud800"`, `"\udc00"`, `["\ud800x"]`, `"\ud800\u0041"`, `"\ud800\ud800"`, `{"\udfff": 1}`,
		strings.Repeat("[", maxJSONDepth+2) + strings.Repeat("]", maxJSONDepth+2),
	} {
		if v, err := s.DecodeJSON(in); err == nil {
			t.Errorf("decode %q succeeded: %v", in, v)
		} else if err.(*Error).SQLState != sqlstate.InvalidJSONText {
			t.Errorf("decode %q: %v", in, err)
		}
	}
}

// Numbers beyond numeric's range are refused, not rounded.
func TestJSONNumberRange(t *testing.T) {
	s := newValuesState(t)
	for _, in := range []string{`1e-20000`, `[1E170000]`, `{"a": -1e200000}`} {
		if _, err := s.DecodeJSON(in); err == nil || err.(*Error).SQLState != sqlstate.NumericValueOutOfRange {
			t.Errorf("decode %s: %v", in, err)
		}
	}
}

// Lua tables become JSON by these rules: marked arrays and tables keyed
// exactly 1..n are arrays, other tables objects with sorted keys.
func TestJSONEncodeLua(t *testing.T) {
	s := newValuesState(t)
	tests := []struct{ src, want string }{
		{`return {}`, `{}`},
		{`return json.array()`, `[]`},
		{`return json.array({})`, `[]`},
		{`return {1, 2, 3}`, `[1,2,3]`},
		{`return {1, nil, 3}`, `{"1":1,"3":3}`},
		{`return json.array({1, nil, 3})`, `[1,null,3]`},
		{`return {[1] = 'a', [2] = 'b'}`, `["a","b"]`},
		{`return {[2] = 'b'}`, `{"2":"b"}`},
		{`return {1, 2, x = 3}`, `{"1":1,"2":2,"x":3}`},
		{`return json.object({1, 2})`, `{"1":1,"2":2}`},
		{`return {a = null, b = {null}}`, `{"a":null,"b":[null]}`},
		{`return {[1.5] = true}`, `{"1.5":true}`},
		{`return {n = 2^53, f = 0.5, i = int64("-9223372036854775808"), d = numeric("1.50")}`,
			`{"d":1.50,"f":0.5,"i":-9223372036854775808,"n":9007199254740992}`},
		{`return 'a string'`, `"a string"`},
		{`return 'a\0b'`, `"a\u0000b"`},
	}
	for _, tt := range tests {
		v, err := luaEval(t, s, tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		got, err := s.EncodeJSON(v)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s -> %s, want %s", tt.src, got, tt.want)
		}
	}
	for _, src := range []string{
		`return 0/0`, `return 1/0`, `return {f = print}`, `return {[true] = 1}`,
		`return numeric("NaN")`, `return json.array({x = 1})`, `local t = {}; t[1] = t; return t`,
	} {
		v, err := luaEval(t, s, src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if out, err := s.EncodeJSON(v); err == nil {
			t.Errorf("%s encoded as %s", src, out)
		}
	}
}

func TestJSONLuaShapes(t *testing.T) {
	s := newValuesState(t)
	v, err := s.DecodeJSON(`{"arr": [1, null, 3], "obj": {}, "big": 9223372036854775807, "n": 123456789012345678901234567890.5}`)
	if err != nil {
		t.Fatal(err)
	}
	s.L.SetGlobal("doc", v)
	tests := []struct{ src, want string }{
		{`return json.isarray(doc.arr)`, "true"},
		{`return json.isarray(doc.obj)`, "false"},
		{`return #doc.arr`, "3"},
		{`return doc.arr[2] == null`, "true"},
		{`return doc.arr[2] == json.null`, "true"},
		{`return int64.is(doc.big)`, "true"},
		{`return numeric.is(doc.n)`, "true"},
		{`return tostring(doc.n + 1)`, "123456789012345678901234567891.5"},
	}
	for _, tt := range tests {
		if got := luaResult(t, s, tt.src); got != tt.want {
			t.Errorf("%s = %s, want %s", tt.src, got, tt.want)
		}
	}
}

// FuzzJSONLua checks the JSON <-> Lua conversion on any input:
//   - it accepts exactly the valid JSON texts (within its nesting limit);
//   - what it decodes encodes, and the encoding is a fixed point
//     (decode(encode(v)) encodes to the same text);
//   - the encoding means the same JSON as the input: same structure, equal
//     numbers (by exact decimal value), same strings.
func FuzzJSONLua(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `null`, `{"a": [1, 2.5, "x", null, true, false, {}, []]}`,
		`[9223372036854775807, -9223372036854775808, 18446744073709551616, 0.1, 1e400, -0.0, 1E-7]`,
		`"\ud83d\ude00\u0000\n"`, `"\ud800"`, `"\udc00\ud800"`, `[[[[[]]]]]`, `{"a": 1, "a": 2}`, `[1,]`, `{"a"`, "\"\xff\"",
		`3.141592653589793238462643383279`, `[1e-20000, 1e20000]`, `1E170000`,
	} {
		f.Add([]byte(seed))
	}
	s := newValuesState(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		in := string(data)
		v, err := s.DecodeJSON(in)
		// Valid by RFC 8259 and by jsonb's rule on surrogates.
		valid := json.Valid(data) && !loneSurrogate(data)
		if err != nil {
			// Refused although valid: only deeper than the limit, or a
			// number beyond numeric's range (22003).
			if valid && nesting(data) <= maxJSONDepth && err.(*Error).SQLState != sqlstate.NumericValueOutOfRange {
				t.Fatalf("valid JSON refused: %q: %v", in, err)
			}
			return
		}
		if !valid {
			t.Fatalf("invalid JSON accepted: %q", in)
		}
		enc, err := s.EncodeJSON(v)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", in, err)
		}
		v2, err := s.DecodeJSON(enc)
		if err != nil {
			t.Fatalf("cannot decode own encoding %q (of %q): %v", enc, in, err)
		}
		enc2, err := s.EncodeJSON(v2)
		if err != nil || enc2 != enc {
			t.Fatalf("not a fixed point: %q -> %q -> %q (%v)", in, enc, enc2, err)
		}
		if !sameJSON(t, data, []byte(enc)) {
			t.Fatalf("meaning changed: %q -> %q", in, enc)
		}
	})
}

// loneSurrogate reports whether a string in JSON text (assumed otherwise
// valid) has a \u escape of a surrogate that is not half of a pair.
func loneSurrogate(data []byte) bool {
	inStr := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case !inStr:
			inStr = c == '"'
		case c == '"':
			inStr = false
		case c == '\\' && i+1 < len(data) && data[i+1] == 'u' && i+6 <= len(data):
			r, _ := strconv.ParseUint(string(data[i+2:i+6]), 16, 32)
			i += 5
			if utf16.IsSurrogate(rune(r)) {
				if r >= 0xdc00 || i+7 > len(data) || data[i+1] != '\\' || data[i+2] != 'u' {
					return true
				}
				r2, _ := strconv.ParseUint(string(data[i+3:i+7]), 16, 32)
				if r2 < 0xdc00 || r2 > 0xdfff {
					return true
				}
				i += 6
			}
		case c == '\\':
			i++
		}
	}
	return false
}

func nesting(data []byte) int {
	depth, max := 0, 0
	inStr, esc := false, false
	for _, c := range data {
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '[' || c == '{'):
			depth++
			max = maxInt(max, depth)
		case !inStr && (c == ']' || c == '}'):
			depth--
		}
	}
	return max
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// sameJSON compares two JSON texts by meaning, numbers by exact value
// (when numeric can hold the original; beyond it plerl falls back to the
// nearest float, as documented).
func sameJSON(t *testing.T, a, b []byte) bool {
	decode := func(data []byte) any {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("encoding/json cannot read %q: %v", data, err)
		}
		return v
	}
	return sameValue(decode(a), decode(b))
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		na, err1 := ParseNumeric(zeroExp(string(x)))
		nb, err2 := ParseNumeric(zeroExp(string(y)))
		return err1 == nil && err2 == nil && na.Cmp(nb) == 0
	}
	return a == b
}

// zeroExp drops the exponent of a zero ("0E1100000000" is 0, whatever
// numeric's exponent limit says).
func zeroExp(lit string) string {
	mant, _, _ := strings.Cut(strings.ToLower(lit), "e")
	if strings.Trim(mant, "-0.") == "" {
		return "0"
	}
	return lit
}

// Lua values that are not JSON-shaped still encode or fail cleanly.
func TestJSONEncodeTypes(t *testing.T) {
	s := newValuesState(t)
	if _, err := s.EncodeJSON(s.L.NewFunction(func(*lua.LState) int { return 0 })); err == nil {
		t.Error("a function encoded")
	}
	if out, err := s.EncodeJSON(lua.LNil); err != nil || out != "null" {
		t.Errorf("nil: %q %v", out, err)
	}
}

// The SQL path (term.FromJSON, erlang_call's arguments) and the Lua path
// (json and jsonb arguments, json.decode) share one lexer: they accept and
// refuse the same string literals and read the same text from them, and
// they agree on the integer digit limit (numeric's 131072 digits, 22003
// beyond; checked against PostgreSQL 15).
func TestJSONSameRulesAsTerm(t *testing.T) {
	s := newValuesState(t)
	for _, in := range []string{
		`""`, `"plain"`, `"h\u00e9 \/ \"q\" \\ \b\f\n\r\t"`, `"\ud83d\ude00"`, `"\uD83D\uDE00"`, `"a\u0000b"`,
		`"\ud800"`, `"\udc00"`, `"\ud800x"`, `"\ud800\u0041"`, `"\ud800\ud800"`, `"\udc00\ud800"`, `"\ud800\u12"`,
		`"\x"`, `"\u12"`, `"abc`, "\"a\x01b\"", "\"tab\tin\"", `"\u00"`, `"\`,
	} {
		tv, terr := term.FromJSON([]byte(in), nil)
		lv, lerr := s.DecodeJSON(in)
		if (terr == nil) != (lerr == nil) {
			t.Errorf("%s: term %v, Lua %v", in, terr, lerr)
			continue
		}
		if terr == nil && string(tv.(term.Binary)) != string(lv.(lua.LString)) {
			t.Errorf("%s: term %q, Lua %q", in, tv, lv)
		}
	}
	for digits, ok := range map[int]bool{term.MaxJSONIntDigits: true, term.MaxJSONIntDigits + 1: false} {
		for _, in := range []string{"1" + strings.Repeat("0", digits-1), "-" + strings.Repeat("9", digits)} {
			_, terr := term.FromJSON([]byte(in), nil)
			_, lerr := s.DecodeJSON(in)
			if ok != (terr == nil) || ok != (lerr == nil) {
				t.Errorf("%d digits: term %v, Lua %v", digits, terr, lerr)
			}
			if !ok && (term.KindOf(terr).SQLState() != sqlstate.NumericValueOutOfRange || lerr.(*Error).SQLState != sqlstate.NumericValueOutOfRange) {
				t.Errorf("%d digits: term %v, Lua %v, want 22003", digits, terr, lerr)
			}
		}
	}
}
