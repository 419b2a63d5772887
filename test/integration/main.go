// Command integration runs the end-to-end tests of the issue "Erlang from
// SQL and Lua" against a running cluster with plerl installed (the dev
// cluster of scripts/env.sh when run by test/integration/run) and the
// Elixir test node (PLERL_TEST_NODE, PLERL_TEST_COOKIE):
//
//   - cancel: pg_cancel_backend and statement_timeout end a waiting
//     erlang_call within 100 ms (median), the wait event shows, and the
//     backend and its Erlang session stay usable;
//   - node failure: a node killed during a call gives 08006 within 1 s and
//     the backend reconnects by itself once the node is back;
//   - round trips of generated values through SQL (jsonb) and Lua;
//   - an idle session outlives the peer's net_ticktime;
//   - batches: a cancel ends a 100,000-item erlang_call_many or awaited
//     erlang.async handles within 100 ms and (kill) leaves no worker on the
//     node, a 1,000,000-item batch runs in flat memory, five calls at once
//     take about as long as one;
//   - groups of three real nodes: round_robin, affinity, failover, batches
//     and async calls spread over the members (cluster.go); names in the
//     cluster across two of them: a :global name and a :pg group on
//     another node reached through one member (names.go).
//
// It drives PostgreSQL through psql subprocesses (connection from PGHOST,
// PGPORT, PGUSER), works in a database of its own (-db, one per run, dropped
// at the end), and starts and kills its own Erlang nodes (unique names) for the
// destructive tests. Each test prints one line; the last line is
// "N passed, N failed", and the exit status is 1 if anything failed.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type Suite struct {
	db       string
	dir      string // scratch: node homes and logs
	testNode string
	cookie   string
	slow     bool
	seed     int64
	values   int
	only     map[string]bool

	passed, failed, skipped int
	nodes                   []*Node // started by us: killed at exit
	admin                   *Session
	group                   []*Node // the three members of the group tests (cluster.go)
}

type skipError struct{ why string }

func (e skipError) Error() string { return e.why }

func main() {
	var s Suite
	var only string
	flag.StringVar(&s.db, "db", fmt.Sprintf("plerl_integration_%d", os.Getpid()), "database to create, use and drop")
	flag.StringVar(&s.dir, "dir", "", "scratch directory (required)")
	flag.Int64Var(&s.seed, "seed", 20240611, "seed of the generated values")
	flag.IntVar(&s.values, "values", 1000, "generated values per round-trip test")
	flag.StringVar(&only, "only", "", "comma-separated test ids to run (default all)")
	flag.Parse()
	s.testNode = os.Getenv("PLERL_TEST_NODE")
	s.cookie = os.Getenv("PLERL_TEST_COOKIE")
	s.slow = os.Getenv("PLERL_SLOW") != "0"
	if only != "" {
		s.only = map[string]bool{}
		for _, id := range strings.Split(only, ",") {
			s.only[strings.TrimSpace(id)] = true
		}
	}

	// ^C or TERM: kill our nodes before going.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		s.killNodes()
		os.Exit(130)
	}()

	if err := s.setup(); err != nil {
		fmt.Printf("FAIL 0   setup: %v\n", err)
		fmt.Println("0 passed, 1 failed")
		s.killNodes()
		os.Exit(1)
	}
	s.run("1", "cancel: pg_cancel_backend ends a waiting erlang_call (57014), median latency <= 100 ms", s.testCancelBackend)
	s.run("2", "cancel: statement_timeout ends a waiting erlang_call (57014), median latency <= 100 ms", s.testStatementTimeout)
	s.run("3", "cancel: Lua erlang.call cannot be caught by pcall; call_with{kill=true} kills the remote worker", s.testCancelLua)
	s.run("4", "node failure: node killed during a 10 s call gives 08006 within 1 s; next calls reconnect once it is back", s.testNodeFailure)
	s.run("5", "node failure in Lua: pcall catches 08006 as an error object; the backend goes on", s.testNodeFailureLua)
	s.run("6", "round trip through SQL: generated jsonb values come back from Plerl.Test.echo identical", s.testRoundTripSQL)
	s.run("7", "round trip through Lua: generated Lua values come back from erlang.call deep-equal", s.testRoundTripLua)
	s.run("8", "ticks: an idle session outlives the peer's net_ticktime (4 s)", s.testTicktime)
	s.run("9", "connecting waits too: cancel ends it at once, plerl.connect_timeout gives 08001", s.testConnectHang)
	s.run("10", "sends keep no per-send state: 20000 from SQL and 20000 from Lua, small Go heap", s.testManySends)
	s.run("11", "group: round_robin over 3 real nodes spreads 3000 calls within 10%", s.testGroupRoundRobin)
	s.run("12", "group: affinity keeps each key on one member, across sessions", s.testGroupAffinity)
	s.run("13", "group: a member killed under load from 8 sessions: 0 failed retryable calls, clean 08006 for calls in flight", s.testGroupKill)
	s.run("14", "group: a missing member is skipped within 100 ms; once back it takes calls within the backoff maximum", s.testGroupRefused)
	s.run("15", "batch cancel: a 100000-item erlang_call_many ends within 100 ms (57014) under cancel and statement_timeout; kill = true leaves nothing on the node", s.testBatchCancel)
	s.run("16", "async cancel: Lua erlang.async{kill} handles end within 100 ms (57014); not awaited, they are killed when the call returns", s.testAsyncCancel)
	s.run("17", "batch memory: a 1000000-item erlang_call_many peaks within 32 MB of a 100000-item one", s.testBatchMemory)
	s.run("18", "fan-out: five 1 ms calls awaited together take at most 2.5x one (target 1.5x)", s.testFiveAtOnce)
	s.run("19", "names: a :global name on node B reached through a server on node A: sends counted exactly, GenServer.calls answered by B", s.testNamesGlobalRelay)
	s.run("20", "names: a :pg group with members on A and B, reached through A: all = true reaches each member exactly once per send", s.testNamesPgAll)
	s.run("21", "group batches: erlang_call_many, erlang.call_many and erlang.async on round_robin spread exactly a third per member, results in order", s.testGroupBatch)
	s.run("22", "group batches: a member down before the batch starts is skipped, no item fails", s.testGroupBatchDown)
	s.run("23", "group batches: on affinity, erlang_call_many's column key, erlang.call_many's keys and erlang.async_with's key reach each key's member", s.testGroupBatchAffinity)
	s.teardown()
	if s.skipped > 0 {
		fmt.Printf("(%d skipped)\n", s.skipped)
	}
	fmt.Printf("%d passed, %d failed\n", s.passed, s.failed)
	if s.failed > 0 {
		os.Exit(1)
	}
}

// run runs one test and prints its line; a test returns a short result
// note (measurements) or an error.
func (s *Suite) run(id, name string, f func() (string, error)) {
	if s.only != nil && !s.only[id] {
		return
	}
	t0 := time.Now()
	note, err := func() (note string, err error) {
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
		fmt.Printf("SKIP %-3s %s (%s)\n", id, name, se.why)
	case err != nil:
		s.failed++
		fmt.Printf("FAIL %-3s %s (%v)\n     %v\n", id, name, took, err)
	default:
		s.passed++
		fmt.Printf("ok   %-3s %s (%v)\n", id, name, took)
	}
	if note != "" {
		for _, l := range strings.Split(note, "\n") {
			fmt.Printf("     %s\n", l)
		}
	}
}

// setup makes the database with the extension, a plerl server "tn" for the
// test node, and the allow-list rows the tests need.
func (s *Suite) setup() error {
	if s.dir == "" {
		return errors.New("-dir is required")
	}
	if s.testNode == "" || s.cookie == "" {
		return errors.New("PLERL_TEST_NODE and PLERL_TEST_COOKIE must be set (scripts/setup-elixir, scripts/env.sh)")
	}
	if !registered(strings.SplitN(s.testNode, "@", 2)[0]) {
		return fmt.Errorf("epmd does not list %s (scripts/setup-elixir)", s.testNode)
	}
	boot, err := Connect("setup", "postgres")
	if err != nil {
		return err
	}
	err = boot.Must(
		`DROP DATABASE IF EXISTS `+s.db+` WITH (FORCE)`,
		`CREATE DATABASE `+s.db,
	)
	boot.Close()
	if err != nil {
		return err
	}
	if s.admin, err = Connect("admin", s.db); err != nil {
		return err
	}
	if err := s.admin.Must(`CREATE EXTENSION plerl`); err != nil {
		return err
	}
	if err := s.addServer("tn", s.testNode, s.cookie); err != nil {
		return err
	}
	return s.allow("tn",
		"'Elixir.Plerl.Test', NULL, NULL",
		"'Elixir.String', 'upcase', 1",
		"'erlang', 'node', 0",
		"'plerl_echo', '!', 1")
}

// addServer creates a plerl server and the current user's mapping (the
// cookie is sent on psql's stdin and kept out of the server log).
func (s *Suite) addServer(name, node, cookie string) error {
	return s.admin.Must(
		`SET log_statement = 'none'`,
		fmt.Sprintf(`CREATE SERVER %s FOREIGN DATA WRAPPER plerl OPTIONS (node %s)`, name, quote(node)),
		fmt.Sprintf(`CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (cookie %s)`, name, quote(cookie)),
		`RESET log_statement`)
}

// allow adds plerl.allow rows: each is "module, function, arity" in SQL.
func (s *Suite) allow(server string, rows ...string) error {
	for _, r := range rows {
		if err := s.admin.Must(fmt.Sprintf(
			`INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES (%s, NULL, %s, '{*}')`, quote(server), r)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Suite) teardown() {
	s.killNodes()
	if s.admin != nil {
		s.admin.Close()
	}
	if boot, err := Connect("teardown", "postgres"); err == nil {
		boot.Exec(`DROP DATABASE IF EXISTS ` + s.db + ` WITH (FORCE)`)
		boot.Close()
	}
}

// nodeSuffix ends the names of the nodes the suite starts
// (PLERL_INT_NODE_SUFFIX: tells apart the nodes of suites run side by side).
var nodeSuffix = os.Getenv("PLERL_INT_NODE_SUFFIX")

// startNode starts an extra node with a name no other run uses.
func (s *Suite) startNode(tag string, extra ...string) (*Node, error) {
	short := fmt.Sprintf("plerl_int_%d_%s%s", os.Getpid(), tag, nodeSuffix)
	n, err := NewNode(s.dir, short, extra...)
	if err != nil {
		return nil, err
	}
	s.nodes = append(s.nodes, n)
	return n, n.Start()
}

func (s *Suite) killNodes() {
	for _, n := range s.nodes {
		n.Kill()
	}
}

// session opens a psql session on the test database.
func (s *Suite) session(name string) (*Session, error) { return Connect(name, s.db) }

// watched opens the session a test works in, an observer b beside it, and
// a's backend pid (to signal it or read its memory from b).
func (s *Suite) watched(name, observer string) (a, b *Session, pid string, err error) {
	if a, err = s.session(name); err != nil {
		return
	}
	if b, err = s.session(observer); err != nil {
		a.Close()
		return
	}
	if pid, err = a.Value(`SELECT pg_backend_pid()`); err != nil {
		a.Close()
		b.Close()
	}
	return
}
