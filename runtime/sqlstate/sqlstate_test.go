// Checks that the table matches PostgreSQL's, that no other Go file spells a SQLSTATE, and that docs/sql-api.md lists the Erlang path's codes.
package sqlstate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// table parses sqlstate_gen.go: Go name -> code. Parsing the source (not
// reflection, which Go has not for constants) sees every constant.
func table(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "sqlstate_gen.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			v := s.(*ast.ValueSpec)
			code, _ := strconv.Unquote(v.Values[0].(*ast.BasicLit).Value)
			out[v.Names[0].Name] = code
		}
	}
	return out
}

// macroName spells an ERRCODE_ macro the way gen.go does, written again
// here so that a change of gen.go's rule shows up as a failure.
func macroName(macro string) string {
	special := map[string]string{"JSON": "JSON", "SQL": "SQL", "XML": "XML", "FDW": "FDW",
		"SQLCLIENT": "SQLClient", "SQLSERVER": "SQLServer", "SQLCONNECTION": "SQLConnection"}
	var b strings.Builder
	for _, w := range strings.Split(strings.TrimPrefix(macro, "ERRCODE_"), "_") {
		if s, ok := special[w]; ok {
			b.WriteString(s)
		} else {
			b.WriteString(w[:1] + strings.ToLower(w[1:]))
		}
	}
	return b.String()
}

func errcodesH(t *testing.T) string {
	dir := "/usr/include/postgresql/15/server"
	if out, err := exec.Command("pg_config", "--includedir-server").Output(); err == nil {
		dir = strings.TrimSpace(string(out))
	}
	b, err := os.ReadFile(filepath.Join(dir, "utils", "errcodes.h"))
	if err != nil {
		t.Skipf("no errcodes.h (%v): install PostgreSQL's server headers to check the table", err)
	}
	return string(b)
}

var defineRE = regexp.MustCompile(`#define (ERRCODE_\w+) MAKE_SQLSTATE\('(.)','(.)','(.)','(.)','(.)'\)`)

// TestMatchesErrcodesH: every ERRCODE_ macro of the installed PostgreSQL is
// a constant of the same code, and every other constant is plerl's (class PE).
func TestMatchesErrcodesH(t *testing.T) {
	h := errcodesH(t)
	tab := table(t)
	seen := map[string]bool{}
	for _, m := range defineRE.FindAllStringSubmatch(h, -1) {
		name, code := macroName(m[1]), strings.Join(m[2:], "")
		seen[name] = true
		if got, ok := tab[name]; !ok || got != code {
			t.Errorf("%s: table has %s = %q, errcodes.h %q", m[1], name, got, code)
		}
	}
	if len(seen) < 200 {
		t.Fatalf("only %d macros parsed from errcodes.h", len(seen))
	}
	for name, code := range tab {
		if !seen[name] && !strings.HasPrefix(code, "PE") {
			t.Errorf("%s = %q is not in errcodes.h and not plerl's class PE", name, code)
		}
		if strings.HasPrefix(code, "PE") && strings.Contains(h, "'P','E'") {
			t.Errorf("PostgreSQL now uses class PE: plerl's %s must move", name)
		}
		if Condition(code) == "" {
			t.Errorf("%s = %q has no condition name", name, code)
		}
	}
}

func repoRoot(t *testing.T) string {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skip("not in the repository")
	}
	return root
}

var literalRE = regexp.MustCompile(`"([0-9A-Z]{5})"`)

// TestNoLiteralSQLStates: outside this package, Go code that makes errors
// names SQLSTATEs through the table. Tests and the drivers under test/ may
// spell the codes they expect a client to see; they make no errors.
func TestNoLiteralSQLStates(t *testing.T) {
	root := repoRoot(t)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." || rel == "test" || rel == "runtime/sqlstate" || d.Name() == "vendor" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range literalRE.FindAllStringSubmatch(line, -1) {
				if Known(m[1]) || strings.HasPrefix(m[1], "PE") {
					t.Errorf("%s:%d: SQLSTATE literal %s: use sqlstate.%s", rel, i+1, m[0], goNameOf(t, m[1]))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func goNameOf(t *testing.T, code string) string {
	for name, c := range table(t) {
		if c == code {
			return name
		}
	}
	return "?"
}

// TestDocsErrorTable: docs/sql-api.md's table of SQLSTATEs names only real
// codes, and lists every code the Erlang functions raise, from Go
// (handler/erlang*.go through this package) or from C (handler/erlang.c
// through ERRCODE_ macros). XX000 is left out: it is a bug, not an answer.
func TestDocsErrorTable(t *testing.T) {
	root := repoRoot(t)
	doc, err := os.ReadFile(filepath.Join(root, "docs", "sql-api.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, errs, ok := strings.Cut(string(doc), "\n## Errors\n")
	if !ok {
		t.Fatal("docs/sql-api.md has no ## Errors section")
	}
	errs, _, _ = strings.Cut(errs, "\n## ")
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| ((?:`[0-9A-Z]{5}`(?:, )?)+) \\|").FindAllStringSubmatch(errs, -1) {
		for _, c := range regexp.MustCompile("`([0-9A-Z]{5})`").FindAllStringSubmatch(m[1], -1) {
			if !Known(c[1]) {
				t.Errorf("docs/sql-api.md lists %s, which is no SQLSTATE", c[1])
			}
			documented[c[1]] = true
		}
	}
	if len(documented) < 10 {
		t.Fatalf("only %d codes parsed from docs/sql-api.md", len(documented))
	}
	tab := table(t)
	raised := map[string]string{} // code -> where
	for _, f := range []string{"handler/erlang.go", "handler/erlang_lua.go", "runtime/term/errors.go", "handler/erlang.c"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`sqlstate\.([A-Z]\w*)|\b(ERRCODE_[A-Z_]+)`).FindAllStringSubmatch(string(b), -1) {
			name := m[1]
			if name == "" {
				name = macroName(m[2])
			}
			code, ok := tab[name]
			if !ok {
				if m[1] != "" {
					continue // a function of this package, not a code
				}
				t.Errorf("%s: %s is not in the table", f, m[0])
				continue
			}
			raised[code] = f + ": " + m[0]
		}
	}
	for code, where := range raised {
		if code != InternalError && !documented[code] {
			t.Errorf("%s (%s) is raised but not in docs/sql-api.md's table", code, where)
		}
	}
}
