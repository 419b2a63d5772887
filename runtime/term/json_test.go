package term

import (
	"encoding/base64"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func b64(t any) string {
	enc, err := AppendNoVersion(nil, t)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(enc)
}

var (
	jPid  = Pid{Node: "a@b", ID: 1, Serial: 2, Creation: 3}
	jRef  = Ref{Node: "a@b", Creation: 3, IDs: []uint32{1, 2, 3}}
	jPort = Port{Node: "a@b", ID: 7, Creation: 3}
	jFun  = Fun{Raw: []byte{113, 119, 6, 'e', 'r', 'l', 'a', 'n', 'g', 119, 4, 'n', 'o', 'd', 'e', 97, 0}}
)

// jsonCases: JSON text, the term FromJSON makes of it, and the text ToJSON
// writes for that term ("" = the same text). Default options.
var jsonCases = []struct {
	name string
	json string
	term any
	out  string
}{
	{"int", `42`, int64(42), ""},
	{"negative int", `-7`, int64(-7), ""},
	{"minus zero int", `-0`, int64(0), `0`},
	{"max int64", `9223372036854775807`, int64(math.MaxInt64), ""},
	{"bignum", `123456789012345678901234567890`, bigFromString("123456789012345678901234567890"), ""},
	{"negative bignum", `-9223372036854775809`, bigFromString("-9223372036854775809"), ""},
	{"float", `1.5`, 1.5, ""},
	{"float 1.0 stays float", `1.0`, 1.0, ""},
	{"float exponent", `1e3`, 1000.0, `1000.0`},
	{"float big exponent", `1E21`, 1e21, `1000000000000000000000.0`},
	{"float small", `1e-7`, 1e-7, `0.0000001`},
	{"float negative zero", `-0.0`, math.Copysign(0, -1), `{"$float":"-0.0"}`},
	{"float tag negative zero", `{"$float":"-0.0"}`, math.Copysign(0, -1), ""},
	{"float shortest", `0.1`, 0.1, ""},
	{"float underflow", `1e-400`, 0.0, `0.0`},
	{"true", `true`, Atom("true"), ""},
	{"false", `false`, Atom("false"), ""},
	{"null", `null`, Atom("nil"), ""},
	{"string", `"héllo"`, Binary("héllo"), ""},
	{"string escapes", `"a\"b\\c\/d\n\t\u00e9\ud83d\ude00\u0001"`, Binary("a\"b\\c/d\n\té😀\x01"), `"a\"b\\c/d\n\té😀\u0001"`},
	{"empty string", `""`, Binary{}, ""},
	{"array", `[1, "a", [true]]`, List{int64(1), Binary("a"), List{Atom("true")}}, `[1,"a",[true]]`},
	{"empty array", `[]`, List{}, ""},
	{"object", `{"b": 1, "a": {"c": null}}`, Map{{Binary("b"), int64(1)}, {Binary("a"), Map{{Binary("c"), Atom("nil")}}}}, `{"a":{"c":null},"b":1}`},
	{"empty object", `{}`, Map{}, ""},
	{"atom", `{"$atom": "ok"}`, Atom("ok"), `{"$atom":"ok"}`},
	{"atom utf8", `{"$atom":"日本"}`, Atom("日本"), ""},
	{"atom undefined", `{"$atom":"undefined"}`, Atom("undefined"), ""},
	{"tuple", `{"$tuple": [{"$atom":"ok"}, 1]}`, Tuple{Atom("ok"), int64(1)}, `{"$tuple":[{"$atom":"ok"},1]}`},
	{"empty tuple", `{"$tuple":[]}`, Tuple{}, ""},
	{"binary base64", `{"$binary_base64":"AP8="}`, Binary{0, 0xff}, ""},
	{"binary with NUL", `{"$binary_base64":"YQBi"}`, Binary("a\x00b"), ""},
	{"string with NUL escape", `"a\u0000b"`, Binary("a\x00b"), `{"$binary_base64":"YQBi"}`},
	{"bits", `{"$bits":{"base64":"oA==","size":3}}`, BitBinary{Bytes: []byte{0xa0}, Bits: 3}, ""},
	{"bits unused bits cleared", `{"$bits":{"size":3,"base64":"rw=="}}`, BitBinary{Bytes: []byte{0xa0}, Bits: 3}, `{"$bits":{"base64":"oA==","size":3}}`},
	{"bits whole bytes", `{"$bits":{"base64":"YQ==","size":8}}`, Binary("a"), `"a"`},
	{"charlist", `{"$charlist":"hé"}`, List{int64('h'), int64(0xe9)}, `[104,233]`},
	{"empty charlist", `{"$charlist":""}`, List{}, `[]`},
	{"improper", `{"$improper":[[1,2],3]}`, ImproperList{Elems: []any{int64(1), int64(2)}, Tail: int64(3)}, ""},
	{"map with non-string keys", `{"$map":[[1,"one"],[{"$atom":"a"},2]]}`, Map{{int64(1), Binary("one")}, {Atom("a"), int64(2)}}, ""},
	{"map with atom keys", `{"$map":[[{"$atom":"b"},1],[{"$atom":"a"},2]]}`, Map{{Atom("b"), int64(1)}, {Atom("a"), int64(2)}}, `{"a":2,"b":1}`},
	{"map with tuple key", `{"$map":[[{"$tuple":[]},1]]}`, Map{{Tuple{}, int64(1)}}, ""},
	{"map with binary key not text", `{"$map":[[{"$binary_base64":"/w=="},1]]}`, Map{{Binary{0xff}, int64(1)}}, ""},
	{"literal dollar key", `{"$$atom": 1}`, Map{{Binary("$atom"), int64(1)}}, `{"$$atom":1}`},
	{"literal double dollar key", `{"$$$x": 1}`, Map{{Binary("$$x"), int64(1)}}, `{"$$$x":1}`},
	{"dollar keys in a larger object are literal", `{"$atom": 1, "b": 2}`, Map{{Binary("$atom"), int64(1)}, {Binary("b"), int64(2)}}, `{"$atom":1,"b":2}`},
	{"pid", `{"$pid":"` + b64(jPid) + `"}`, jPid, ""},
	{"ref", `{"$ref":"` + b64(jRef) + `"}`, jRef, ""},
	{"port", `{"$port":"` + b64(jPort) + `"}`, jPort, ""},
	{"fun", `{"$fun":"` + b64(jFun) + `"}`, jFun, ""},
	{"int tag", `{"$int":"-000123456789012345678901234567890"}`, bigFromString("-123456789012345678901234567890"), `-123456789012345678901234567890`},
	{"int tag small", `{"$int":"12"}`, int64(12), `12`},
	{"float tag", `{"$float":1500}`, 1500.0, `1500.0`},
	{"float tag string", `{"$float":"1.5e3"}`, 1500.0, `1500.0`},
	{"whitespace", " \t\n[ 1 ,\r\n 2 ] ", List{int64(1), int64(2)}, `[1,2]`},
}

func TestFromJSONAndToJSON(t *testing.T) {
	for _, c := range jsonCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := FromJSON([]byte(c.json), nil)
			if err != nil {
				t.Fatalf("FromJSON: %v", err)
			}
			if !Equal(got, c.term) {
				t.Fatalf("FromJSON = %#v, want %#v", got, c.term)
			}
			out, err := ToJSON(c.term, nil)
			if err != nil {
				t.Fatalf("ToJSON: %v", err)
			}
			want := c.out
			if want == "" {
				want = c.json
			}
			if string(out) != want {
				t.Fatalf("ToJSON = %s, want %s", out, want)
			}
		})
	}
}

func TestToJSONOnly(t *testing.T) {
	cases := []struct {
		name string
		term any
		opt  *JSONOptions
		want string
	}{
		{"go values", []any{1, "s", true, 2.5, []byte{0xff}, uint64(math.MaxUint64)}, nil, `[1,"s",true,2.5,{"$binary_base64":"/w=="},18446744073709551615]`},
		{"atom keys object", Map{{Atom("name"), Binary("Ada")}, {Atom("__struct__"), Atom("Elixir.User")}}, nil, `{"__struct__":{"$atom":"Elixir.User"},"name":"Ada"}`},
		{"atom keys tagged", Map{{Atom("name"), Binary("Ada")}}, &JSONOptions{AtomKeys: AtomKeysTagged}, `{"$map":[[{"$atom":"name"},"Ada"]]}`},
		{"mixed keys object", Map{{Atom("a"), int64(1)}, {Binary("b"), int64(2)}}, nil, `{"a":1,"b":2}`},
		{"colliding keys", Map{{Atom("a"), int64(1)}, {Binary("a"), int64(2)}}, nil, `{"$map":[[{"$atom":"a"},1],["a",2]]}`},
		{"lone dollar atom key", Map{{Atom("$x"), int64(1)}}, nil, `{"$$x":1}`},
		{"null atom undefined", List{Atom("undefined"), Atom("nil")}, &JSONOptions{NullAtom: "undefined"}, `[null,{"$atom":"nil"}]`},
		{"null atom null", List{Atom("null"), Atom("nil")}, &JSONOptions{NullAtom: "null"}, `[null,{"$atom":"nil"}]`},
		{"charlist is an array", List{int64('h'), int64('i')}, nil, `[104,105]`},
		{"float formats", List{1e300, 5e-324, -1.25, 123456789.125, float32(0.5)}, nil, `[` + "1" + strings.Repeat("0", 300) + `.0,0.` + strings.Repeat("0", 323) + `5,-1.25,123456789.125,0.5]`},
		{"atom with control chars", Atom("a\nb\x00"), nil, `{"$atom":"a\nb\u0000"}`},
		{"map sorted by bytes", Map{{Binary("é"), int64(1)}, {Binary("z"), int64(2)}, {Binary("A"), int64(3)}}, nil, `{"A":3,"z":2,"é":1}`},
		{"$map sorted by term order", Map{{Binary{0}, int64(1)}, {int64(2), int64(2)}, {Atom("a"), int64(3)}}, nil, `{"$map":[[2,2],[{"$atom":"a"},3],[{"$binary_base64":"AA=="},1]]}`},
	}
	for _, c := range cases {
		got, err := ToJSON(c.term, c.opt)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("%s: ToJSON = %s\nwant %s", c.name, got, c.want)
		}
	}
}

func TestNullAtomOption(t *testing.T) {
	for _, null := range []Atom{"nil", "undefined", "null"} {
		opt := &JSONOptions{NullAtom: null}
		got, err := FromJSON([]byte(`[null]`), opt)
		if err != nil || !Equal(got, List{null}) {
			t.Errorf("%s: FromJSON(null) = %v, %v", null, got, err)
		}
	}
	if _, err := FromJSON([]byte(`1`), &JSONOptions{NullAtom: Atom("\xff")}); KindOf(err) != KindMalformed {
		t.Errorf("bad NullAtom accepted: %v", err)
	}
}

func TestArgsFromJSON(t *testing.T) {
	args, err := ArgsFromJSON([]byte(` [1, "x", {"$atom":"ok"}] `), nil)
	if err != nil || len(args) != 3 || !Equal(List(args), List{int64(1), Binary("x"), Atom("ok")}) {
		t.Fatalf("ArgsFromJSON = %#v, %v", args, err)
	}
	args, err = ArgsFromJSON([]byte(`[]`), nil)
	if err != nil || args == nil || len(args) != 0 {
		t.Fatalf("ArgsFromJSON([]) = %#v, %v", args, err)
	}
	for in, want := range map[string]string{
		`{"a":1}`: "not an object", `"x"`: "not a string", `1`: "not a number", `null`: "not null", `true`: "not a boolean",
	} {
		_, err := ArgsFromJSON([]byte(in), nil)
		var je *JSONError
		if !errors.As(err, &je) || je.Kind != KindMalformed || je.Path != "$" || !strings.Contains(je.Reason, want) {
			t.Errorf("ArgsFromJSON(%s) = %v", in, err)
		}
	}
}

func TestJSONErrors(t *testing.T) {
	many := make([]string, 1001)
	for i := range many {
		many[i] = `{"$atom":"a` + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + `_` + strings.Repeat("y", i/26) + `"}`
	}
	cases := []struct {
		name string
		json string
		opt  *JSONOptions
		kind Kind
		path string
		msg  string
	}{
		{"empty", ``, nil, KindMalformed, "$", "unexpected end"},
		{"garbage", `x`, nil, KindMalformed, "$", "unexpected"},
		{"trailing", `1 2`, nil, KindMalformed, "$", "after the JSON value"},
		{"leading zero", `01`, nil, KindMalformed, "$", "after the JSON value"},
		{"bad number", `-`, nil, KindMalformed, "$", "unexpected"},
		{"bad fraction", `1.`, nil, KindMalformed, "$", "unexpected"},
		{"bad exponent", `1e`, nil, KindMalformed, "$", "unexpected"},
		{"NaN", `NaN`, nil, KindMalformed, "$", "unexpected"},
		{"Infinity", `[-Infinity]`, nil, KindMalformed, "$[0]", "unexpected"},
		{"float overflow", `[1, 1e400]`, nil, KindOutOfRange, "$[1]", "out of float range"},
		{"integer too long", `[` + strings.Repeat("9", MaxJSONIntDigits+1) + `]`, nil, KindOutOfRange, "$[0]", "digits"},
		{"unterminated string", `"abc`, nil, KindMalformed, "$", "unterminated"},
		{"control char", "\"a\nb\"", nil, KindMalformed, "$", "control character"},
		{"bad escape", `"\x"`, nil, KindMalformed, "$", "bad escape"},
		{"lone surrogate", `"\ud800"`, nil, KindMalformed, "$", "surrogate"},
		{"lone low surrogate", `["\udc00"]`, nil, KindMalformed, "$[0]", "surrogate"},
		{"high surrogate then a letter", `"\ud800x"`, nil, KindMalformed, "$", "surrogate"},
		{"high surrogate then a BMP escape", `"\ud800\u0041"`, nil, KindMalformed, "$", "surrogate"},
		{"two high surrogates", `"\ud800\ud800"`, nil, KindMalformed, "$", "surrogate"},
		{"invalid utf8", "\"\xff\"", nil, KindMalformed, "$", "UTF-8"},
		{"duplicate key", `{"a":1,"a":2}`, nil, KindMalformed, "$.a", "duplicate"},
		{"unknown tag", `[1, {"items": [{"$foo": 1}]}]`, nil, KindMalformed, "$[1].items[0].$foo", "unknown tag $foo"},
		{"odd key path", `{"a b": [{"$tuple": 1}]}`, nil, KindMalformed, `$["a b"][0].$tuple`, "$tuple needs an array"},
		{"atom too long", `{"$atom":"` + strings.Repeat("a", 256) + `"}`, nil, KindMalformed, "$.$atom", "255"},
		{"atom not string", `{"$atom":1}`, nil, KindMalformed, "$.$atom", "needs a string"},
		{"bad base64", `{"$binary_base64":"!"}`, nil, KindMalformed, "$.$binary_base64", "base64"},
		{"bits size mismatch", `{"$bits":{"base64":"oA==","size":9}}`, nil, KindMalformed, "$.$bits", "size/8"},
		{"improper list tail", `{"$improper":[[1],[2]]}`, nil, KindMalformed, "$.$improper", "tail"},
		{"improper no elems", `{"$improper":[[],2]}`, nil, KindMalformed, "$.$improper", "non-empty"},
		{"map pair", `{"$map":[[1,2],[3]]}`, nil, KindMalformed, "$.$map[1]", "[key, value]"},
		{"map duplicate", `{"$map":[[1,2],[1,3]]}`, nil, KindMalformed, "$.$map", "duplicate"},
		{"pid wrong kind", `{"$pid":"` + b64(jRef) + `"}`, nil, KindMalformed, "$.$pid", "pid"},
		{"pid garbage", `{"$pid":"AAAA"}`, nil, KindMalformed, "$.$pid", "pid"},
		{"pid with version byte", `{"$pid":"` + base64.StdEncoding.EncodeToString(append([]byte{131}, mustDecodeB64(b64(jPid))...)) + `"}`, nil, KindMalformed, "$.$pid", "pid"},
		{"int tag bad", `{"$int":"1.5"}`, nil, KindMalformed, "$.$int", "integer"},
		{"float tag bad", `{"$float":"nan"}`, nil, KindMalformed, "$.$float", "number"},
		{"float tag overflow", `{"$float":"1e999"}`, nil, KindOutOfRange, "$.$float", "range"},
		{"too many atoms", `[` + strings.Join(many, ",") + `]`, nil, KindTooLarge, "$[100].$atom", "MaxAtoms"},
		{"atoms forbidden", `{"$atom":"x"}`, &JSONOptions{MaxAtoms: -1}, KindTooLarge, "$.$atom", "MaxAtoms"},
		{"atoms in pid count", `[{"$atom":"x"},{"$pid":"` + b64(jPid) + `"}]`, &JSONOptions{MaxAtoms: 1}, KindTooLarge, "$[1].$pid", "MaxAtoms"},
		{"too deep", strings.Repeat("[", 1001) + strings.Repeat("]", 1001), nil, KindTooLarge, "$" + strings.Repeat("[0]", 1000), "MaxDepth"},
		{"depth option", `[[1]]`, &JSONOptions{MaxDepth: 1}, KindTooLarge, "$[0]", "MaxDepth"},
		{"too large", `[1,2,3]`, &JSONOptions{MaxBytes: 4}, KindTooLarge, "$", "MaxBytes"},
	}
	for _, c := range cases {
		_, err := FromJSON([]byte(c.json), c.opt)
		var je *JSONError
		if !errors.As(err, &je) {
			t.Errorf("%s: err = %v", c.name, err)
			continue
		}
		if je.Kind != c.kind || je.Path != c.path || !strings.Contains(je.Reason, c.msg) {
			t.Errorf("%s: got kind %v path %s reason %q; want %v %s %q", c.name, je.Kind, je.Path, je.Reason, c.kind, c.path, c.msg)
		}
	}
	// Repeating an atom does not count it twice; true/false/null never count.
	if _, err := FromJSON([]byte(`[{"$atom":"x"},{"$atom":"x"},true,null,{"$atom":"nil"}]`), &JSONOptions{MaxAtoms: 1}); err != nil {
		t.Errorf("repeated atom: %v", err)
	}
}

func mustDecodeB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestToJSONErrors(t *testing.T) {
	deep := any(int64(1))
	for range 1001 {
		deep = List{deep}
	}
	huge := new(big.Int).Lsh(big.NewInt(1), maxJSONIntBits+1)
	cases := []struct {
		name string
		term any
		opt  *JSONOptions
		kind Kind
		path string
	}{
		{"nan", List{int64(1), math.NaN()}, nil, KindOutOfRange, "$[1]"},
		{"inf in map", Map{{Binary("k"), math.Inf(1)}}, nil, KindOutOfRange, "$.k"},
		{"nil", Tuple{nil}, nil, KindMalformed, "$.$tuple[0]"},
		{"go map", map[string]any{}, nil, KindMalformed, "$"},
		{"huge integer", List{huge}, nil, KindOutOfRange, "$[0]"},
		{"too deep", deep, nil, KindTooLarge, "$" + strings.Repeat("[0]", 1000)},
		{"too large", Binary(strings.Repeat("a", 100)), &JSONOptions{MaxBytes: 10}, KindTooLarge, "$[1]"},
		{"duplicate map keys", Map{{int64(1), int64(1)}, {int64(1), int64(2)}}, nil, KindMalformed, "$"},
		{"bad atom", Tuple{Atom("\xff")}, nil, KindMalformed, "$.$tuple[0]"},
		{"bad fun", Fun{Raw: []byte{1}}, nil, KindMalformed, "$"},
		{"improper in $map", Map{{int64(1), ImproperList{Tail: int64(1)}}}, nil, KindMalformed, "$.$map[0][1]"},
	}
	for _, c := range cases {
		if c.name == "too large" {
			c.term = List{int64(1), c.term, int64(2)}
		}
		_, err := ToJSON(c.term, c.opt)
		var je *JSONError
		if !errors.As(err, &je) || je.Kind != c.kind || je.Path != c.path {
			t.Errorf("%s: err = %v (want kind %v at %s)", c.name, err, c.kind, c.path)
		}
	}
	if _, err := ToJSON(new(big.Int).Lsh(big.NewInt(1), maxJSONIntBits-1), nil); err != nil {
		t.Errorf("largest integer: %v", err)
	}
}

// TestJSONRoundTrip: for generated terms, FromJSON(ToJSON(t)) is t (with
// AtomKeysTagged, the exact mode) even after jsonb has normalized the
// numbers (genFloat often gives -0.0), and ToJSON is deterministic.
func TestJSONRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	opt := &JSONOptions{AtomKeys: AtomKeysTagged, MaxAtoms: 1 << 20}
	n := 5000
	if testing.Short() {
		n = 500
	}
	for i := range n {
		term := genTerm(r, 0, genOpts{maxDepth: 5})
		js, err := ToJSON(term, opt)
		if err != nil {
			t.Fatalf("#%d ToJSON(%#v): %v", i, term, err)
		}
		back, err := FromJSON(jsonbNumbers(js), opt)
		if err != nil {
			t.Fatalf("#%d FromJSON(%.2000s): %v", i, js, err)
		}
		if !Equal(back, term) {
			t.Fatalf("#%d %.2000v\n-> %.2000s\n-> %.2000v", i, term, js, back)
		}
		js2, err := ToJSON(back, opt)
		if err != nil || string(js2) != string(js) {
			t.Fatalf("#%d not deterministic: %.2000s then %.2000s (%v)", i, js, js2, err)
		}
	}
}

// TestMappingDocExamples keeps docs/mapping.md honest: every row of its
// Examples table reads (first column) and writes (last column) as shown.
func TestMappingDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "mapping.md"))
	if err != nil {
		t.Skipf("docs/mapping.md: %v", err)
	}
	_, examples, ok := strings.Cut(string(doc), "\n## Examples\n")
	if !ok {
		t.Fatal("no Examples section in docs/mapping.md")
	}
	rows := 0
	for _, line := range strings.Split(examples, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := regexp.MustCompile(`[^\\]\|`).Split(line[1:], -1)
		if len(cells) < 4 {
			t.Fatalf("bad row %q", line)
		}
		in := strings.Trim(strings.TrimSpace(cells[0]), "`")
		want := strings.Trim(strings.TrimSpace(cells[3]), "`")
		term, err := FromJSON([]byte(in), nil)
		if err != nil {
			t.Errorf("FromJSON(%s): %v", in, err)
			continue
		}
		out, err := ToJSON(term, nil)
		if err != nil || string(out) != want {
			t.Errorf("%s -> %s (%v), doc says %s", in, out, err, want)
		}
		rows++
	}
	if rows < 10 {
		t.Fatalf("only %d example rows found", rows)
	}
}
