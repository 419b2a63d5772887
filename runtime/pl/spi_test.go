package pl

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// fakeSPI answers every query with rows {i = 1..n} where n is the first
// argument (or 3), and records what it was asked.
type fakeSPI struct {
	fakeHost
	log     []string
	cursors map[string]int // rows left
	closed  []string
	tx      []int
	atomic  bool
	// txCloses: a commit or rollback closes every cursor, as it closes
	// the portals of the transaction.
	txCloses bool
}

type fakePlan struct {
	sql   string
	types []string
	opts  PlanOptions
	freed bool
}

func (p *fakePlan) NumParams() int         { return len(p.types) }
func (p *fakePlan) ParamType(i int) string { return p.types[i] }
func (p *fakePlan) FetchCount() int        { return p.opts.FetchCount }
func (p *fakePlan) Free() error            { p.freed = true; return nil }

type fakeCursor struct {
	f    *fakeSPI
	name string
	next int
}

func (c *fakeCursor) Name() string { return c.name }
func (c *fakeCursor) Fetch(s *State, n int64) (*lua.LTable, error) {
	c.f.log = append(c.f.log, fmt.Sprintf("fetch %d", n))
	t := s.L.NewTable()
	for i := int64(0); i < n && c.f.cursors[c.name] > 0; i++ {
		c.next++
		c.f.cursors[c.name]--
		row := s.L.NewTable()
		row.RawSetString("i", lua.LNumber(c.next))
		t.Append(row)
	}
	return t, nil
}
func (c *fakeCursor) FetchDir(s *State, dir int, n int64) (*lua.LTable, error) {
	if dir != FetchForward {
		c.f.log = append(c.f.log, fmt.Sprintf("fetch dir %d %d", dir, n))
		return s.L.NewTable(), nil
	}
	return c.Fetch(s, n)
}
func (c *fakeCursor) Move(dir int, n int64) (int64, error) {
	c.f.log = append(c.f.log, fmt.Sprintf("move dir %d %d", dir, n))
	return n, nil
}
func (c *fakeCursor) IsOpen() (bool, error) {
	_, ok := c.f.cursors[c.name]
	return ok, nil
}
func (c *fakeCursor) Close() error { c.f.closed = append(c.f.closed, c.name); return nil }
func (c *fakeCursor) SetOwned(owned bool) {
	c.f.log = append(c.f.log, fmt.Sprintf("owned %s %v", c.name, owned))
}

func count(q Query, args []lua.LValue) int {
	if len(args) > 0 {
		if n, ok := args[0].(lua.LNumber); ok {
			return int(n)
		}
	}
	return 3
}

func (f *fakeSPI) SPIExecute(s *State, q Query, args []lua.LValue, limit int64) (*Result, error) {
	f.log = append(f.log, fmt.Sprintf("execute %q %d args limit %d", q.SQL, len(args), limit))
	if strings.Contains(q.SQL, "fail") {
		return nil, Errorf("22012", "division by zero")
	}
	t := s.L.NewTable()
	for i := 1; i <= count(q, args); i++ {
		row := s.L.NewTable()
		row.RawSetString("i", lua.LNumber(i))
		t.Append(row)
	}
	return &Result{Rows: t, Processed: int64(t.Len())}, nil
}

func (f *fakeSPI) SPIPrepare(s *State, sql string, types []string, opts PlanOptions) (Plan, error) {
	f.log = append(f.log, fmt.Sprintf("prepare %q %v keep=%v scroll=%v fetch=%d", sql, types, opts.Keep, opts.Scroll, opts.FetchCount))
	return &fakePlan{sql: sql, types: types, opts: opts}, nil
}

func (f *fakeSPI) SPICursor(name string) Cursor { return &fakeCursor{f: f, name: name} }

func (f *fakeSPI) SPIOpen(s *State, q Query, args []lua.LValue, want string) (Cursor, error) {
	name := fmt.Sprintf("c%d", len(f.cursors)+1)
	if want != "" {
		name = want
	}
	f.cursors[name] = count(q, args)
	return &fakeCursor{f: f, name: name}, nil
}

func (f *fakeSPI) SPITransaction(op int) error {
	if f.atomic {
		return Errorf("2D000", "invalid transaction termination")
	}
	f.tx = append(f.tx, op)
	if f.txCloses {
		clear(f.cursors)
	}
	return nil
}

func (f *fakeSPI) SPIAtomic() bool { return f.atomic }

func spiRun(t *testing.T, f *fakeSPI, body string) ([]lua.LValue, error) {
	t.Helper()
	e := NewEngine(f)
	e.Enter()
	defer e.Leave()
	return run(t, e, body)
}

func TestSPIModule(t *testing.T) {
	cases := []struct {
		body    string
		want    string
		errPart string
	}{
		{"local r = spi.execute('q') return #r .. ' ' .. r.n .. ' ' .. r[3].i", "3 3 3", ""},
		{"local r = spi.execute('q', 5, nil) return r.n", "5", ""},
		{"return spi.execute_count('q', 2, 4).n", "4", ""},
		{"local ok, e = pcall(spi.execute, 'fail') return e.sqlstate .. e.message", "22012division by zero", ""},
		{"local p = spi.prepare('q', {'int4', 'text'}) return p:numargs() .. p:argtype(2)", "2text", ""},
		{"local p = spi.prepare('q', {'int4', ''}) return p:numargs() .. tostring(p:argtype(2))", "2nil", ""},
		{"local p = spi.prepare('q', {'int4'}) return p(4).n .. ' ' .. #p:getcursor(2):fetch(5)", "4 2", ""},
		{"local p = spi.prepare('q', {'int4'}) return p:execute(1, 2)", "", "takes 1 arguments, 2 given"},
		{"local p = spi.prepare('q') p:free() p:free() return p:execute()", "", "the plan was freed"},
		{"local n = 0 for r in spi.rows('q', 250) do n = n + r.i end return n", "31375", ""},
		{"local p = spi.prepare('q', {'int4'}, {fetch_count = 7}) local n = 0 for r in p:rows(20) do n = n + 1 end return n", "20", ""},
		{"local c = spi.cursor('q', 5) local a = #c:fetch(2) local b = #c:fetch(10) c:close() return a .. b .. #c:fetch(1)", "", "the cursor is closed"},
		{"spi.commit() spi.rollback() spi.commit_and_chain() return tostring(spi.is_atomic())", "false", ""},
		{"return spi.execute(42)", "", "SQL text or spi.plan expected"},
		{"return spi.prepare('q', 'int4')", "", "a table of type names expected"},
		{"return spi.prepare('q', nil, {fetch_count = 0})", "", "fetch_count must be at least 1"},
	}
	for _, c := range cases {
		f := &fakeSPI{cursors: map[string]int{}}
		rets, err := spiRun(t, f, c.body)
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("%q: error %v, want %q", c.body, err, c.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.body, err)
			continue
		}
		if len(rets) == 0 || rets[0].String() != c.want {
			t.Errorf("%q: got %v, want %q (log %v)", c.body, rets, c.want, f.log)
		}
	}
}

func TestSPIRowsBatchesAndCloses(t *testing.T) {
	f := &fakeSPI{cursors: map[string]int{}}
	if _, err := spiRun(t, f, "for r in spi.rows('q', 250) do end"); err != nil {
		t.Fatal(err)
	}
	want := []string{"fetch 100", "fetch 100", "fetch 100", "fetch 100"}
	if strings.Join(f.log, ",") != strings.Join(want, ",") {
		t.Errorf("fetches %v, want %v", f.log, want)
	}
	if len(f.closed) != 1 {
		t.Errorf("closed %v, want the cursor closed once at the end", f.closed)
	}
}

// c:own() and c:disown() reach the host's cursor (at once, or when a
// cursor made by spi.newcursor opens); c:rows() fetches one row at a time
// and leaves the cursor open.
func TestSPICursorOwnAndRows(t *testing.T) {
	f := &fakeSPI{cursors: map[string]int{}}
	rets, err := spiRun(t, f, `
		local c = spi.cursor('q', 2)
		local same = c:disown() == c and c:own() == c
		local d = spi.newcursor('named'):disown():open('q', 3)
		local n = 0
		for r in d:rows() do n = n + r.i end
		return tostring(same) .. ' ' .. n .. ' ' .. tostring(d:isopen())`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rets) == 0 || rets[0].String() != "true 6 true" {
		t.Errorf("got %v, want \"true 6 true\"", rets)
	}
	want := "owned c1 false,owned c1 true,owned named false,fetch 1,fetch 1,fetch 1,fetch 1"
	if strings.Join(f.log, ",") != want {
		t.Errorf("log %v, want %s", f.log, want)
	}
	if len(f.closed) != 0 {
		t.Errorf("closed %v: c:rows() must leave the cursor open", f.closed)
	}
	if _, err := spiRun(t, f, "spi.cursor('q'):own(1)"); err == nil || !strings.Contains(err.Error(), "no argument expected") {
		t.Errorf("own(1): %v", err)
	}
	if _, err := spiRun(t, f, "spi.newcursor('x'):rows()"); err == nil || !strings.Contains(err.Error(), "the cursor is closed") {
		t.Errorf("rows of a cursor never opened: %v", err)
	}
}

func TestSPITransactions(t *testing.T) {
	f := &fakeSPI{cursors: map[string]int{}}
	if _, err := spiRun(t, f, "spi.commit() spi.rollback() spi.commit_and_chain() spi.rollback_and_chain()"); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]int{TxCommit, TxRollback, TxCommit | TxChain, TxRollback | TxChain})
	if fmt.Sprint(f.tx) != want {
		t.Errorf("ops %v, want %v", f.tx, want)
	}
	f = &fakeSPI{cursors: map[string]int{}, atomic: true}
	_, err := spiRun(t, f, "spi.commit()")
	if err == nil || !strings.Contains(err.Error(), "invalid transaction termination") {
		t.Errorf("atomic commit: %v", err)
	}
}

// A loop over a cursor's rows stops at the row after a commit closed the
// cursor, whatever it had fetched ahead.
func TestRowsAfterCommit(t *testing.T) {
	f := &fakeSPI{cursors: map[string]int{}, txCloses: true}
	got, err := spiRun(t, f, `
		local seen = {}
		local ok, e = pcall(function()
			for r in spi.rows('q', 5) do seen[#seen + 1] = r.i spi.commit() end
		end)
		local all = 0
		for r in spi.rows('q', 5) do all = all + 1 end
		return table.concat(seen, ','), e.sqlstate, e.message, all`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].String() != "1" || got[1].String() != "34000" ||
		!strings.Contains(got[2].String(), "cannot iterate a closed cursor") || got[3].String() != "5" {
		t.Fatalf("got %v", got)
	}
}

// spi.findcursor and spi.newcursor give the object that is already there.
func TestFindCursorSameObject(t *testing.T) {
	f := &fakeSPI{cursors: map[string]int{}}
	got, err := spiRun(t, f, `
		local c = spi.cursor('q')
		local o = spi.newcursor('named'):open('q')
		return rawequal(c, spi.findcursor(c:name())), rawequal(c, spi.newcursor(c:name())),
			rawequal(o, spi.findcursor('named')), rawequal(c, spi.findcursor('named'))`)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[true true true false]" {
		t.Fatalf("got %v", got)
	}
}

// The table of cursor objects holds them weakly and forgets closed ones.
func TestCursorObjectsWeak(t *testing.T) {
	var co cursorObjects
	f := &fakeSPI{cursors: map[string]int{}}
	keep := &lua.LUserData{Value: &cursorBox{c: &fakeCursor{f: f, name: "kept"}, name: "kept"}}
	co.remember("kept", keep)
	co.remember("dropped", &lua.LUserData{Value: &cursorBox{c: &fakeCursor{f: f, name: "dropped"}, name: "dropped"}})
	runtime.GC()
	if ud, _ := co.find("dropped"); ud != nil {
		t.Fatal("a dropped cursor object is still found")
	}
	if ud, _ := co.find("kept"); ud != keep {
		t.Fatal("a held cursor object is not found")
	}
	keep.Value.(*cursorBox).closed = true
	if ud, _ := co.find("kept"); ud != nil || len(co.m) != 0 {
		t.Fatalf("a closed cursor object is still found (%d entries)", len(co.m))
	}
	for i := 0; i < 1000; i++ {
		co.remember(fmt.Sprint("u", i), &lua.LUserData{Value: &cursorBox{c: &fakeCursor{f: f}, name: "u"}})
		if i%100 == 0 {
			runtime.GC()
		}
	}
	if len(co.m) > 300 {
		t.Fatalf("%d entries for 1000 dropped objects", len(co.m))
	}
}
