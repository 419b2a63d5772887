// Package layout checks the shape of handler/'s C files: calls between
// them go one way (docs/internals/architecture.md), every guard Go calls
// uses the one idiom, and no SQLSTATE or protocol number is written as a
// bare literal where plerl.h names it.
package layout

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// handlerDir is handler/, or PLERL_LAYOUT_DIR (to look at another tree,
// e.g. an older commit's, which the tests must reject).
var handlerDir = func() string {
	if d := os.Getenv("PLERL_LAYOUT_DIR"); d != "" {
		return d
	}
	return "../../handler"
}()

var (
	comment    = regexp.MustCompile(`(?s)/\*.*?\*/|//[^\n]*`)
	literal    = regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'`)
	definition = regexp.MustCompile(`(?m)^([A-Za-z_]\w*)\(`)
	callSite   = regexp.MustCompile(`\b([A-Za-z_]\w*)\s*\(`)
)

// cFiles returns handler/*.c, comments and string literals removed.
func cFiles(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(handlerDir, "*.c"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no C files in %s: %v", handlerDir, err)
	}
	files := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		src := comment.ReplaceAllString(string(b), "")
		files[filepath.Base(p)] = literal.ReplaceAllString(src, `""`)
	}
	return files
}

// callGraph: file -> files whose non-static functions it calls.
func callGraph(files map[string]string) map[string]map[string]bool {
	definedIn := map[string]string{}
	for name, src := range files {
		lines := strings.Split(src, "\n")
		for i, l := range lines {
			m := definition.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			if i > 0 && strings.HasPrefix(strings.TrimSpace(lines[i-1]), "static") {
				continue // file-local
			}
			definedIn[m[1]] = name
		}
	}
	g := map[string]map[string]bool{}
	for name, src := range files {
		g[name] = map[string]bool{}
		for _, m := range callSite.FindAllStringSubmatch(src, -1) {
			if def, ok := definedIn[m[1]]; ok && def != name {
				g[name][def] = true
			}
		}
	}
	return g
}

// TestCallsGoOneWay fails if a C file calls (directly or through other
// files) back into a file that calls it: the files must form a DAG.
func TestCallsGoOneWay(t *testing.T) {
	g := callGraph(cFiles(t))
	if len(g) < 5 {
		t.Fatalf("only %d C files found: the test is not looking at handler/", len(g))
	}
	// Depth-first search for a cycle, reporting the first one found.
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []string
	var visit func(string) []string
	visit = func(f string) []string {
		state[f] = onPath
		path = append(path, f)
		var next []string
		for to := range g[f] {
			next = append(next, to)
		}
		sort.Strings(next)
		for _, to := range next {
			switch state[to] {
			case onPath:
				for i, p := range path {
					if p == to {
						return append(append([]string{}, path[i:]...), to)
					}
				}
			case unseen:
				if c := visit(to); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[f] = done
		return nil
	}
	var names []string
	for f := range g {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		if state[f] == unseen {
			if c := visit(f); c != nil {
				t.Fatalf("calls go back: %s", strings.Join(c, " -> "))
			}
		}
	}
}

// TestCallsFollowTheDocumentedOrder: handler/plerl_int.h lists the C files
// in the order calls go (docs/internals/architecture.md repeats it); every
// file must be listed, and no file may call one listed above it.
func TestCallsFollowTheDocumentedOrder(t *testing.T) {
	hdr, err := os.ReadFile(filepath.Join(handlerDir, "plerl_int.h"))
	if err != nil {
		t.Skipf("no plerl_int.h in %s", handlerDir)
	}
	var order []string
	for _, m := range regexp.MustCompile(`(?m)^ \*   ([a-z_]+\.c) `).FindAllStringSubmatch(string(hdr), -1) {
		order = append(order, m[1])
	}
	rank := map[string]int{}
	for i, f := range order {
		rank[f] = i
	}
	g := callGraph(cFiles(t))
	for f, tos := range g {
		rf, ok := rank[f]
		if !ok {
			t.Errorf("%s is not in plerl_int.h's list of files", f)
			continue
		}
		for to := range tos {
			if rt, ok := rank[to]; ok && rt < rf {
				t.Errorf("%s calls %s, which plerl_int.h lists above it", f, to)
			}
		}
	}
}

// TestCallGraphSeesCalls guards the test above against going blind (a
// regexp that matches nothing would find no cycle): known edges must show.
func TestCallGraphSeesCalls(t *testing.T) {
	g := callGraph(cFiles(t))
	for _, e := range [][2]string{
		{"entry.c", "exec.c"}, {"entry.c", "trigger.c"}, {"exec.c", "srf.c"},
		{"exec.c", "frame.c"}, {"trigger.c", "procedure.c"}, {"spi.c", "typeio.c"},
		{"erlang.c", "allow.c"}, {"frame.c", "elog.c"},
	} {
		if !g[e[0]][e[1]] {
			t.Errorf("no call from %s to %s seen; the graph: %v", e[0], e[1], g)
		}
	}
	// A cycle made on purpose is found.
	g2 := callGraph(map[string]string{
		"a.c": "int\nplerl_a(void)\n{\n\treturn plerl_b();\n}\n",
		"b.c": "int\nplerl_b(void)\n{\n\treturn plerl_a();\n}\n",
	})
	if !g2["a.c"]["b.c"] || !g2["b.c"]["a.c"] {
		t.Fatalf("a made-up cycle was not seen: %v", g2)
	}
}

// TestOneGuardIdiom: every PG_CATCH that captures an error for Go does it
// through PLERL_GUARD_CAPTURE, and every function that does so entered
// through PLERL_GUARD_ENTER (or _ALWAYS for cleanup).
func TestOneGuardIdiom(t *testing.T) {
	for name, src := range cFiles(t) {
		if name == "elog.c" {
			continue // defines the idiom's parts
		}
		if strings.Contains(src, "plerl_capture(") {
			t.Errorf("%s calls plerl_capture directly: use PLERL_GUARD_CAPTURE", name)
		}
		for _, fn := range strings.Split(src, "\n}\n") {
			if strings.Contains(fn, "PLERL_GUARD_CAPTURE") &&
				!strings.Contains(fn, "PLERL_GUARD_ENTER") && !strings.Contains(fn, "plerl_guard_refuse(") {
				t.Errorf("%s: a function captures without PLERL_GUARD_ENTER:\n%s", name, fn[:min(len(fn), 300)])
			}
		}
	}
}

// TestNoBareProtocolNumbers: the ids plerl.h and plerl_shared.h name are
// not written as numbers in the C files that use them.
func TestNoBareProtocolNumbers(t *testing.T) {
	bare := regexp.MustCompile(`PLERL_ENTRY_ERLANG\s*\+\s*\d|case\s+\d+\s*:|InvalidOid\s*-\s*1|plerlGoXact\(\s*\d`)
	files := cFiles(t)
	b, err := os.ReadFile("../../src/plerl.c")
	if err != nil {
		t.Fatal(err)
	}
	files["src/plerl.c"] = comment.ReplaceAllString(string(b), "")
	define := regexp.MustCompile(`(?m)^#define .*$`) // where a number gets its name
	for name, src := range files {
		if m := bare.FindString(define.ReplaceAllString(src, "")); m != "" {
			t.Errorf("%s: a protocol number without its name: %q", name, m)
		}
	}
}

// TestRegressSchedule: every sql/*.sql area is in the Makefile's fixed
// schedule exactly once (REGRESS_LOCAL or REGRESS_NODE), and nothing else is.
func TestRegressSchedule(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.ReplaceAll(string(mk), "\\\n", " ")
	listed := map[string]int{}
	for _, v := range []string{"REGRESS_LOCAL", "REGRESS_NODE"} {
		m := regexp.MustCompile(`(?m)^` + v + `\s*=\s*(.*)$`).FindStringSubmatch(src)
		if m == nil {
			t.Fatalf("Makefile has no %s", v)
		}
		for _, a := range strings.Fields(m[1]) {
			listed[a]++
		}
	}
	files, _ := filepath.Glob("../../sql/*.sql")
	if len(files) == 0 {
		t.Fatal("no sql/*.sql")
	}
	for _, f := range files {
		a := strings.TrimSuffix(filepath.Base(f), ".sql")
		if listed[a] != 1 {
			t.Errorf("sql/%s.sql is listed %d times in REGRESS_LOCAL/REGRESS_NODE", a, listed[a])
		}
		delete(listed, a)
	}
	for a := range listed {
		t.Errorf("%s is scheduled but sql/%s.sql does not exist", a, a)
	}
}
