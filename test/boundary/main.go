// Command boundary runs the boundary tests of docs/internals/boundary.md
// ("Tests that must stay in the suite") against its own throw-away cluster:
// signal masks of Go threads, lost latch wakeups, shared_preload_libraries,
// the catch path, cancellation, the trusted sandbox, and clean exits.
//
// Usage (as root or as a user that may run initdb):
//
//	boundary -dir /tmp/plerl-boundary-XXXX [-port 54410] [-bindir /usr/lib/postgresql/15/bin]
//
// It assumes `make install` has been done. It prints one line per test and
// a last line "N passed, N failed"; it exits 1 if anything failed.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"
)

// quick: PLERL_SLOW=0, fewer repetitions.
var quick bool

// skipError marks a test that cannot run yet (the feature is pending).
type skipError struct{ why string }

func (e skipError) Error() string { return e.why }

func skip(format string, args ...any) error { return skipError{fmt.Sprintf(format, args...)} }

type Suite struct {
	cl                        *Cluster
	passed, failed, skipped   int
	notes                     []string
	hasSPI, hasPanic          bool
	guardLoop, pgCatchVariant string // what tests 5c-5d / 4c used (reported)
	only                      map[string]bool
}

// run runs one test and prints its line.
func (s *Suite) run(id, name string, f func() (string, error)) {
	if !s.selected(id) {
		return
	}
	t0 := time.Now()
	msg, err := func() (msg string, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("driver panic: %v", r)
			}
		}()
		return f()
	}()
	took := time.Since(t0).Round(10 * time.Millisecond)
	var se skipError
	switch {
	case errors.As(err, &se):
		s.skipped++
		fmt.Printf("skip %-3s %s: %s\n", id, name, se.why)
	case err != nil:
		s.failed++
		if msg != "" {
			msg += "; "
		}
		fmt.Printf("FAIL %-3s %s: %s%v (%s)\n", id, name, msg, err, took)
	default:
		s.passed++
		fmt.Printf("ok   %-3s %s: %s (%s)\n", id, name, msg, took)
	}
}

// selected reports whether test id (e.g. "4c") is to run; 0 (the cluster) always is.
func (s *Suite) selected(id string) bool {
	num := strings.TrimRight(id, "abcdefghij")
	return s.only == nil || num == "0" || s.only[num]
}

func (s *Suite) note(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

func main() {
	dir := flag.String("dir", "", "directory for the cluster (created by the caller, removed by the caller)")
	port := flag.Int("port", 54410, "port of the cluster")
	bindir := flag.String("bindir", "/usr/lib/postgresql/15/bin", "PostgreSQL binaries")
	only := flag.String("only", "", "comma-separated test numbers to run (default: all)")
	flag.Parse()
	// scripts/test --quick exports PLERL_SLOW=0: fewer repetitions, same checks.
	if os.Getenv("PLERL_SLOW") == "0" {
		quick = true
		wakeTrials, catchIters, cancelStops = 12, 3000, 50
		fmt.Println("quick run (PLERL_SLOW=0): 12 wakeup trials, 3,000 catch-path iterations, 50 stops per cancel test")
	}
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "boundary: -dir is required")
		os.Exit(2)
	}
	s := &Suite{}
	if *only != "" {
		s.only = map[string]bool{}
		for _, id := range strings.Split(*only, ",") {
			s.only[strings.TrimSpace(id)] = true
		}
	}
	cl, err := newCluster(*dir, *port, *bindir)
	if err != nil {
		fmt.Println("FAIL 0   cluster:", err)
		fmt.Println("0 passed, 1 failed")
		os.Exit(1)
	}
	s.cl = cl

	// Stop the server whatever happens (the caller removes the directory).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		cl.Stop()
		os.Exit(1)
	}()
	code := s.all()
	cl.Stop()
	os.Exit(code)
}

func (s *Suite) all() int {
	t0 := time.Now()
	s.run("0", "cluster", func() (string, error) {
		if err := s.cl.Init(); err != nil {
			return "", err
		}
		if err := s.cl.Start(false); err != nil {
			return "", err
		}
		if err := s.setup(); err != nil {
			return "", err
		}
		return fmt.Sprintf("initdb + start on port %d, spi=%v, plerl.internal_panic=%v", s.cl.Port, s.hasSPI, s.hasPanic), nil
	})
	if s.failed > 0 {
		return s.finish(t0)
	}
	s.run("1", "signal masks", s.testSignalMasks)
	s.run("2", "lost wakeup", s.testLostWakeup)
	s.testCatchPath() // 4a..4g
	s.testCancel()    // 5a..5f
	s.run("6", "sandbox", s.testSandbox)
	s.testExit()    // 7a..7d
	s.testCommit()  // 9a..9b
	s.testPreload() // 3a..3f, last: it restarts the cluster with shared_preload_libraries
	s.run("8", "server log", s.checkServerLog)
	return s.finish(t0)
}

func (s *Suite) finish(t0 time.Time) int {
	if s.failed > 0 {
		if b, err := os.ReadFile(s.cl.LogFile()); err == nil {
			lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
			if len(lines) > 30 {
				lines = lines[len(lines)-30:]
			}
			fmt.Println("--- last lines of", s.cl.LogFile())
			for _, l := range lines {
				fmt.Println("log:", l)
			}
		}
	}
	for _, n := range s.notes {
		fmt.Println("note:", n)
	}
	fmt.Printf("total %s\n", time.Since(t0).Round(100*time.Millisecond))
	if s.skipped > 0 {
		fmt.Printf("%d skipped (pending features, see above)\n", s.skipped)
	}
	fmt.Printf("%d passed, %d failed\n", s.passed, s.failed)
	if s.failed > 0 {
		return 1
	}
	return 0
}

// setup creates the extension and the functions the tests call.
func (s *Suite) setup() error {
	cn, err := s.cl.Connect()
	if err != nil {
		return err
	}
	defer cn.Close()
	if _, err := cn.MustOK("CREATE EXTENSION plerl"); err != nil {
		return err
	}
	// Feature probes: spi (another engineer is adding it), plerl.internal_panic (plerlu).
	if _, err := cn.MustOK(`CREATE FUNCTION b_has(expr text) RETURNS boolean LANGUAGE plerlu AS $$
		local f = loadstring('return ' .. expr)
		local ok, v = pcall(f)
		return ok and v ~= nil and v ~= false $$`); err != nil {
		return err
	}
	if _, err := cn.MustOK(`CREATE FUNCTION b_has_trusted(expr text) RETURNS boolean LANGUAGE plerl AS $$
		local f = loadstring('return ' .. expr)
		local ok, v = pcall(f)
		return ok and v ~= nil and v ~= false $$`); err != nil {
		return err
	}
	r, err := cn.MustOK(`SELECT b_has_trusted('type(spi) == ''table'' and type(spi.execute) == ''function''')`)
	if err != nil {
		return err
	}
	s.hasSPI = r.Value() == "t"
	r, err = cn.MustOK(`SELECT b_has('type(plerl) == ''table'' and type(plerl.internal_panic) == ''function''')`)
	if err != nil {
		return err
	}
	s.hasPanic = r.Value() == "t"

	guardLoop := `while true do elog.debug('x') end`
	s.guardLoop = "elog.debug loop (spi absent)"
	pgCatch := `local ok, e = pcall(elog.error, 'boundary', {sqlstate = '22012'})
		if ok or type(e) ~= 'table' or e.sqlstate ~= '22012' then error('not caught: ' .. tostring(e)) end
		return 1`
	s.pgCatchVariant = "pcall(elog.error) (spi absent)"
	if s.hasSPI {
		guardLoop = `while true do spi.execute('select 1') end`
		s.guardLoop = "spi.execute loop"
		pgCatch = `local ok, e = pcall(spi.execute, 'select 1/0')
		if ok or type(e) ~= 'table' or e.sqlstate ~= '22012' then error('not caught: ' .. tostring(e)) end
		return 1`
		s.pgCatchVariant = "pcall(spi.execute, 'select 1/0')"
	}
	defs := []string{
		`CREATE FUNCTION b_trivial(x int) RETURNS int LANGUAGE plerl AS $$ return x + 1 $$`,
		`CREATE FUNCTION b_fail() RETURNS int LANGUAGE plerl AS $$ error('boundary: lua error') $$`,
		`CREATE FUNCTION b_gc(n int) RETURNS int LANGUAGE plerl AS $$
			local keep, made = {}, 0
			for i = 1, n do
				keep[i % 5000 + 1] = {i, i * 2, tostring(i), {x = i}}
				made = made + 1
			end
			return made $$`,
		`CREATE FUNCTION b_spin(ms int) RETURNS int LANGUAGE plerl AS $$
			local t0, n = os.clock(), 0
			while (os.clock() - t0) * 1000 < ms do n = n + 1 end
			return n $$`,
		`CREATE FUNCTION b_loop_pure() RETURNS void LANGUAGE plerl AS $$ while true do end $$`,
		`CREATE FUNCTION b_loop_guard() RETURNS void LANGUAGE plerl AS $$ ` + guardLoop + ` $$`,
		`CREATE FUNCTION b_loop_alloc() RETURNS void LANGUAGE plerl AS $$
			local t = {} while true do t[#t % 1000 + 1] = {1, 2, 3} end $$`,
		`CREATE FUNCTION b_catch_lua() RETURNS int LANGUAGE plerl AS $$
			local ok, e = pcall(error, 'boundary')
			if ok then error('not caught') end
			return 1 $$`,
		`CREATE FUNCTION b_catch_pg() RETURNS int LANGUAGE plerl AS $$ ` + pgCatch + ` $$`,
		`CREATE TABLE b_lock (id int PRIMARY KEY, v int NOT NULL)`,
		`INSERT INTO b_lock VALUES (1, 0)`,
	}
	if s.hasSPI {
		defs = append(defs,
			`CREATE FUNCTION b_spi_fail() RETURNS int LANGUAGE plerl AS $$
				spi.execute('select 1/0') return 1 $$`)
	}
	if s.hasPanic {
		defs = append(defs,
			`CREATE FUNCTION b_catch_panic() RETURNS int LANGUAGE plerlu AS $$
				local ok, e = pcall(plerl.internal_panic)
				if ok then error('not caught') end
				return 1 $$`,
			`CREATE FUNCTION b_raise_panic() RETURNS int LANGUAGE plerlu AS $$
				plerl.internal_panic() return 1 $$`)
	}
	for _, d := range defs {
		if _, err := cn.MustOK(d); err != nil {
			return err
		}
	}
	return nil
}

// connect opens a session or fails the test.
func (s *Suite) connect() (*Conn, error) { return s.cl.Connect() }

// expectValue runs sql and checks its single value.
func expectValue(cn *Conn, sql, want string) error {
	r, err := cn.MustOK(sql)
	if err != nil {
		return err
	}
	if got := r.Value(); got != want {
		return fmt.Errorf("%.60q returned %q, want %q", sql, got, want)
	}
	return nil
}

// samePID checks the session still answers from the same backend.
func samePID(cn *Conn) error {
	return expectValue(cn, "SELECT pg_backend_pid()", fmt.Sprint(cn.PID))
}

// stats of durations: median and p99 and max, in ms.
func durStats(ds []time.Duration) string {
	if len(ds) == 0 {
		return "n/a"
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1)+0.5)] }
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	return fmt.Sprintf("median %s ms, p99 %s ms, max %s ms", ms(q(0.5)), ms(q(0.99)), ms(s[len(s)-1]))
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// setRetry runs a SET, retrying when it was itself stopped by a short
// statement_timeout (20-50 ms is not much on a loaded machine).
func setRetry(cn *Conn, sql string) error {
	var err error
	for i := 0; i < 10; i++ {
		var r *Result
		if r, err = cn.Exec(sql); err != nil {
			return err
		}
		if r.Err == nil {
			return nil
		}
		if r.Err.Code != "57014" {
			return fmt.Errorf("%s: %v", sql, r.Err)
		}
		err = fmt.Errorf("%s: %v", sql, r.Err)
	}
	return err
}
