package pl

import (
	"strings"
	"testing"

	"github.com/yuin/gopher-lua/parse"
)

// Source that nests too deep is refused before it is parsed (the parse
// would take gigabytes) or, failing that, before it is compiled (the
// compiler would overflow the goroutine stack and abort the process).
func TestSourceLimits(t *testing.T) {
	deep := maxSourceDepth + 10
	for _, c := range []struct {
		name, src string
		ok        bool
	}{
		{"flat", strings.Repeat("local x = 'a' .. 'b' .. (1 + 2)\n", 1000), true},
		{"plus chain", "return 1" + strings.Repeat(" + 1", deep), true},
		{"concat statements", strings.Repeat("x = a .. b .. c\n", deep), true},
		{"strings and comments", "local s = '((((' -- {{{{\n--[==[ ((( ]==] return [[ {{{ ]] .. \"(((\"", true},
		{"braces", "return " + strings.Repeat("{", deep) + strings.Repeat("}", deep), false},
		{"parens", "return " + strings.Repeat("(", deep) + "1" + strings.Repeat(")", deep), false},
		{"index", "return t" + strings.Repeat("[t", deep) + strings.Repeat("]", deep), false},
		{"concat chain", "return 'a'" + strings.Repeat(" .. 'a'", deep), false},
		{"power chain", "return 2" + strings.Repeat("^2", deep), false},
		{"unary minus", "return " + strings.Repeat("- ", deep) + "1", false},
		{"not", "return " + strings.Repeat("not ", deep) + "true", false},
		{"len", "return " + strings.Repeat("#", deep) + "t", false},
		{"do blocks", strings.Repeat("do ", deep) + strings.Repeat("end ", deep), false},
		{"functions", strings.Repeat("return function() ", deep) + strings.Repeat("end ", deep), false},
		{"ifs", strings.Repeat("if x then ", deep) + strings.Repeat("end ", deep), false},
		{"repeat", strings.Repeat("repeat ", deep) + strings.Repeat("until x ", deep), false},
		{"too large", "return '" + strings.Repeat("x", maxSourceBytes) + "'", false},
	} {
		err := checkSource(c.src)
		if (err == nil) != c.ok {
			t.Errorf("%s: checkSource = %v, want ok=%v", c.name, err, c.ok)
		}
	}
	// Whatever checkSource lets through, checkNesting still measures.
	chunk, err := parse.Parse(strings.NewReader("if a then elseif b then"+strings.Repeat(" elseif b then", deep)+" end"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if checkNesting(chunk) == nil {
		t.Error("a long elseif chain nests in the tree: checkNesting should refuse it")
	}
	chunk, _ = parse.Parse(strings.NewReader("return 1"+strings.Repeat(" + 1", 100)), "x")
	if err := checkNesting(chunk); err != nil {
		t.Error(err)
	}
}
