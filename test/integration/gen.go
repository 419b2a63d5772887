package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// gen makes random JSON values written exactly as docs/mapping.md says the
// result of an echo is written, so that echo(v) must give back v, as jsonb
// and as text: integers of every size, floats with the fewest digits and a
// fraction, UTF-8 strings, arrays, objects (a single "$" key doubled), and
// the tagged forms $atom, $tuple, $binary_base64, $bits, $improper and $map
// (keys that are not all strings, pairs in Erlang term order).
type gen struct {
	r *rand.Rand
}

// Atom names: a fixed set, so runs do not grow the test node's atom table.
var genAtoms = []string{"ok", "error", "undefined", "a", "b", "z", "Elixir.Foo", "Elixir.Plerl.Test",
	"with space", "it's", `quo"te`, "back\\slash", "héllo", "日本語", "emoji😀", "$dollar", "UPPER",
	"nil_not", "x1", "x2", "x3", "a_long_atom_name_to_make_it_more_than_sixteen_bytes"}

// ASCII atom names for $map keys, whose order is then plain byte order.
var genKeyAtoms = []string{"a", "b", "k", "key", "ok", "z"}

func newGen(seed int64) *gen { return &gen{r: rand.New(rand.NewSource(seed))} }

func (g *gen) n(k int) int { return g.r.Intn(k) }

// Value is one JSON value, nested at most depth more levels.
func (g *gen) Value(depth int) string {
	k := g.n(16)
	if depth <= 0 && k >= 10 {
		k = g.n(10)
	}
	switch k {
	case 0, 1:
		return g.integer()
	case 2:
		return g.float()
	case 3, 4:
		return jsonString(g.text(16))
	case 5:
		return []string{"true", "false", "null"}[g.n(3)]
	case 6:
		return fmt.Sprintf(`{"$atom": %s}`, jsonString(genAtoms[g.n(len(genAtoms))]))
	case 7:
		return g.binary()
	case 8:
		return g.bits()
	case 9:
		return g.integer()
	case 10, 11:
		return "[" + g.list(depth-1, 5) + "]"
	case 12:
		return g.object(depth - 1)
	case 13:
		return `{"$tuple": [` + g.list(depth-1, 4) + "]}"
	case 14:
		return g.improper(depth - 1)
	default:
		return g.mapForm(depth - 1)
	}
}

func (g *gen) list(depth, max int) string {
	n := g.n(max + 1)
	parts := make([]string, n)
	for i := range parts {
		parts[i] = g.Value(depth)
	}
	return strings.Join(parts, ", ")
}

var intEdges = []string{"0", "1", "-1", "255", "256", "-256", "2147483647", "-2147483648", "2147483648",
	"9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740993",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808", "-9223372036854775809",
	"18446744073709551615", "18446744073709551616"}

func (g *gen) integer() string {
	switch g.n(5) {
	case 0:
		return strconv.Itoa(g.n(2001) - 1000)
	case 1:
		return intEdges[g.n(len(intEdges))]
	case 2:
		return strconv.FormatInt(g.r.Int63()-g.r.Int63(), 10)
	case 3: // within 2^53 (a Lua number would hold it)
		return strconv.FormatInt(g.r.Int63n(1<<53)-g.r.Int63n(1<<53), 10)
	default: // bignum, up to 300 digits
		digits := 20 + g.n(280)
		var b strings.Builder
		if g.n(2) == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(byte('1' + g.n(9)))
		for i := 1; i < digits; i++ {
			b.WriteByte(byte('0' + g.n(10)))
		}
		return b.String()
	}
}

// float: always a fraction, never an exponent, fewest digits (what ToJSON writes).
func (g *gen) float() string {
	var f float64
	switch g.n(5) {
	case 0:
		f = float64(g.n(2000001)-1000000) / 1000 // decimal fractions: 0.1 and friends
	case 1:
		f = (float64(g.n(1<<30)) + 0.5) / math.Pow(2, float64(g.n(40)))
	case 2:
		f = g.r.NormFloat64() * math.Pow(10, float64(g.n(30)-10))
	case 3:
		f = float64(g.n(1000)) // integral floats: 3.0
	default:
		f = []float64{0.5, 1.0, 1e21, 1e22, 123456789.125, 1e-7, 2.5e-10, 0.1 + 0.2}[g.n(8)]
	}
	if g.n(2) == 0 {
		f = -f
	}
	if f == 0 {
		f = 0 // jsonb has no -0
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

var runePools = [][2]rune{
	{0x20, 0x7e}, {0x20, 0x7e}, {0x20, 0x7e}, // ASCII mostly
	{0x01, 0x1f},       // control characters (escaped in JSON)
	{0xa0, 0x24f},      // Latin
	{0x391, 0x3c9},     // Greek
	{0x4e00, 0x4fff},   // CJK
	{0x1f300, 0x1f64f}, // emoji (4-byte UTF-8)
	{0x300, 0x36f},     // combining marks
}

// text: valid UTF-8 without NUL (what comes back as a JSON string).
func (g *gen) text(max int) string {
	n := g.n(max + 1)
	var b strings.Builder
	for i := 0; i < n; i++ {
		p := runePools[g.n(len(runePools))]
		b.WriteRune(p[0] + rune(g.n(int(p[1]-p[0]+1))))
	}
	return b.String()
}

// binary: bytes that are not UTF-8 text (invalid, or with a NUL).
func (g *gen) binary() string {
	n := 1 + g.n(24)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.n(256))
	}
	if utf8.Valid(b) && !strings.ContainsRune(string(b), 0) {
		b[g.n(n)] = []byte{0x00, 0xff, 0xc0, 0xfe}[g.n(4)] // never valid in UTF-8 (or NUL)
	}
	return fmt.Sprintf(`{"$binary_base64": %q}`, base64.StdEncoding.EncodeToString(b))
}

// bits: a bitstring whose size is not a multiple of 8, unused bits zero.
func (g *gen) bits() string {
	size := 1 + g.n(70)
	if size%8 == 0 {
		size++
	}
	b := make([]byte, (size+7)/8)
	for i := range b {
		b[i] = byte(g.n(256))
	}
	b[len(b)-1] &= byte(0xff << (8 - size%8))
	return fmt.Sprintf(`{"$bits": {"base64": %q, "size": %d}}`, base64.StdEncoding.EncodeToString(b), size)
}

func (g *gen) object(depth int) string {
	n := g.n(5)
	seen := map[string]bool{}
	var parts []string
	for len(parts) < n {
		k := g.text(6)
		if g.n(6) == 0 {
			k = "$" + k
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		parts = append(parts, jsonString(k)+": "+g.Value(depth))
	}
	if n == 1 && strings.HasPrefix(keysOf(seen)[0], "$") {
		// One key starting with $ is a tagged form: the literal key is written doubled.
		parts[0] = "{" + `"$` + parts[0][1:] + "}"
		return parts[0]
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func keysOf(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func (g *gen) improper(depth int) string {
	elems := make([]string, 1+g.n(3))
	for i := range elems {
		elems[i] = g.Value(depth)
	}
	var tail string
	switch g.n(5) { // never a list
	case 0:
		tail = g.integer()
	case 1:
		tail = fmt.Sprintf(`{"$atom": %s}`, jsonString(genAtoms[g.n(len(genAtoms))]))
	case 2:
		tail = jsonString(g.text(5))
	case 3:
		tail = `{"$tuple": [` + g.list(depth, 2) + "]}"
	default:
		tail = g.float()
	}
	return `{"$improper": [[` + strings.Join(elems, ", ") + "], " + tail + "]}"
}

// A $map key and its place in Erlang term order: number < atom < tuple < binary.
type mapKey struct {
	rank int
	num  *big.Int
	text string // atom name or binary
	tup  []int64
	json string
}

func cmpKeys(a, b mapKey) int {
	if a.rank != b.rank {
		return a.rank - b.rank
	}
	switch a.rank {
	case 0:
		return a.num.Cmp(b.num)
	case 2:
		if len(a.tup) != len(b.tup) {
			return len(a.tup) - len(b.tup)
		}
		for i := range a.tup {
			if a.tup[i] != b.tup[i] {
				if a.tup[i] < b.tup[i] {
					return -1
				}
				return 1
			}
		}
		return 0
	}
	return strings.Compare(a.text, b.text)
}

// mapForm: a map with at least one key that is a number or a tuple (so
// it cannot be an object), pairs sorted by key.
func (g *gen) mapForm(depth int) string {
	n := 1 + g.n(5)
	var keys []mapKey
	has := false
	for len(keys) < n || !has {
		var k mapKey
		switch g.n(5) {
		case 0, 1:
			s := g.integer()
			v, _ := new(big.Int).SetString(s, 10)
			k = mapKey{rank: 0, num: v, json: s}
			has = true
		case 2:
			a := genKeyAtoms[g.n(len(genKeyAtoms))]
			k = mapKey{rank: 1, text: a, json: fmt.Sprintf(`{"$atom": %q}`, a)}
		case 3:
			t := make([]int64, g.n(3))
			parts := make([]string, len(t))
			for i := range t {
				t[i] = int64(g.n(5))
				parts[i] = strconv.FormatInt(t[i], 10)
			}
			k = mapKey{rank: 2, tup: t, json: `{"$tuple": [` + strings.Join(parts, ", ") + "]}"}
			has = true
		default:
			s := g.text(4)
			k = mapKey{rank: 3, text: s, json: jsonString(s)}
		}
		dup := false
		for _, o := range keys {
			if cmpKeys(o, k) == 0 {
				dup = true
			}
		}
		if !dup {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return cmpKeys(keys[i], keys[j]) < 0 })
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = "[" + k.json + ", " + g.Value(depth) + "]"
	}
	return `{"$map": [` + strings.Join(pairs, ", ") + "]}"
}

func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}
