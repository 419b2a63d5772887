// Tests against a real Erlang node started by the test (skipped only if erl is absent).
package dist

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

func dialNode(t *testing.T, n *testNode, cfg *Config) *Conn {
	t.Helper()
	if cfg == nil {
		cfg = testConfig(n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg, n.Name)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// One node shared by the quick live tests.
var (
	sharedOnce sync.Once
	sharedNode *testNode
)

func shared(t *testing.T) *testNode {
	needErl(t)
	sharedOnce.Do(func() {
		// Not t.Cleanup: the node outlives this test; TestMain's
		// process-group kill is not available, so stop it at exit.
		sharedNode = startNodeNoCleanup(t)
	})
	if sharedNode == nil {
		t.Fatal("shared node failed to start")
	}
	return sharedNode
}

func TestLiveBasics(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	ctx := ctx5(t)

	if v, err := c.Call(ctx, "erlang", "node", nil); err != nil || v != term.Atom(n.Name) {
		t.Fatalf("node() = %v, %v", v, err)
	}
	v, err := c.Call(ctx, "lists", "seq", []any{1, 100})
	if err != nil {
		t.Fatal(err)
	}
	l, ok := v.(term.List)
	if !ok || len(l) != 100 || l[0] != int64(1) || l[99] != int64(100) {
		t.Fatalf("lists:seq = %v", v)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	// Our connection is hidden: the peer lists us in nodes(hidden) only.
	if v, err := c.Call(ctx, "erlang", "nodes", []any{term.Atom("hidden")}); err != nil || !containsAtom(v, string(c.Self())) {
		t.Fatalf("nodes(hidden) = %v, %v", v, err)
	}
	if v, err := c.Call(ctx, "erlang", "nodes", nil); err != nil || containsAtom(v, string(c.Self())) {
		t.Fatalf("nodes() = %v, %v (we must be hidden)", v, err)
	}
}

func containsAtom(v any, a string) bool {
	l, _ := v.(term.List)
	for _, e := range l {
		if e == term.Atom(a) {
			return true
		}
	}
	return false
}

func TestLiveBigBinaryEcho(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	v, err := c.Call(ctx5(t), "erlang", "iolist_to_binary", []any{term.List{term.Binary(big)}})
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := v.(term.Binary); !ok || !bytes.Equal(b, big) {
		t.Fatalf("echo of 1 MiB: got %T len %d", v, len(fmt.Sprint(v)))
	}
}

func TestLiveErrorShapes(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	ctx := ctx5(t)
	a := func(s string) term.Atom { return term.Atom(s) }
	check := func(what string, err error, class string, reason any, stack bool) {
		t.Helper()
		var re *RemoteError
		if !errors.As(err, &re) || !IsRemote(err) {
			t.Fatalf("%s: want *RemoteError, got %v", what, err)
		}
		if re.Class != class || !term.Equal(re.Reason, reason) || (re.Stack != nil) != stack {
			t.Fatalf("%s: got class %s reason %v stack %v", what, re.Class, re.Reason, re.Stack)
		}
	}
	// rex (Call)
	_, err := c.Call(ctx, "plerl_t", "raise", []any{a("error"), a("boom")})
	check("rex error", err, "error", a("boom"), true)
	if !strings.Contains(err.Error(), "plerl_t:raise/2") {
		t.Errorf("error text lacks the MFA: %v", err)
	}
	_, err = c.Call(ctx, "plerl_t", "raise", []any{a("exit"), a("bye")})
	check("rex exit", err, "exit", a("bye"), false)
	v, err := c.Call(ctx, "plerl_t", "raise", []any{a("throw"), a("x")})
	if err != nil || v != a("x") { // rex: a throw is a normal return
		t.Fatalf("rex throw: %v %v", v, err)
	}
	_, err = c.Call(ctx, "no_such_module", "f", []any{1})
	check("rex undef", err, "error", a("undef"), true)
	if !IsUndef(err) {
		t.Fatalf("IsUndef(%v) = false", err)
	}
	_, err = c.Call(ctx, "erlang", "atom_to_list", []any{1})
	check("rex badarg", err, "error", a("badarg"), true)

	// erpc (CallKill): exact classes
	v, err = c.CallKill(ctx, "lists", "seq", []any{1, 3})
	if err != nil || !term.Equal(v, term.List{int64(1), int64(2), int64(3)}) {
		t.Fatalf("erpc lists:seq: %v %v", v, err)
	}
	_, err = c.CallKill(ctx, "plerl_t", "raise", []any{a("error"), a("boom")})
	check("erpc error", err, "error", a("boom"), true)
	_, err = c.CallKill(ctx, "plerl_t", "raise", []any{a("exit"), a("bye")})
	check("erpc exit", err, "exit", a("bye"), false)
	_, err = c.CallKill(ctx, "plerl_t", "raise", []any{a("throw"), a("x")})
	check("erpc throw", err, "throw", a("x"), false)
	_, err = c.CallKill(ctx, "no_such_module", "f", nil)
	check("erpc undef", err, "error", a("undef"), true)
	if !IsUndef(err) {
		t.Fatalf("IsUndef(%v) = false", err)
	}
	// I/O in an erpc call goes to the peer's user process (group leader):
	// it must not block.
	if v, err := c.CallKill(ctx, "io", "format", []any{"plerl dist test output~n", term.List{}}); err != nil || v != a("ok") {
		t.Fatalf("erpc io:format: %v %v", v, err)
	}
}

func TestLiveConcurrentCalls(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	ctx := ctx5(t)
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 1; i <= 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%5 == 0 { // some calls finish out of order
				if _, err := c.Call(ctx, "timer", "sleep", []any{60 - i}); err != nil {
					errs <- err
				}
			}
			v, err := c.Call(ctx, "lists", "seq", []any{1, i})
			if err != nil {
				errs <- err
				return
			}
			if l, ok := v.(term.List); !ok || len(l) != i {
				errs <- fmt.Errorf("call %d: got %v", i, v)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLiveSendReceive(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	ctx := ctx5(t)
	me := c.NewPid()
	defer c.ClosePid(me)
	for i := 0; i < 3; i++ {
		if err := c.RegSend(ctx, me, "t_echo", term.Tuple{me, int64(i), term.Binary("hi")}); err != nil {
			t.Fatal(err)
		}
		v, err := c.Receive(ctx, me)
		if err != nil {
			t.Fatal(err)
		}
		if !term.Equal(v, term.Tuple{int64(i), term.Binary("hi")}) {
			t.Fatalf("got %v", v)
		}
	}
	// Send to a pid: ask the node for t_echo's pid, then SEND to it.
	pv, err := c.Call(ctx, "erlang", "whereis", []any{term.Atom("t_echo")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, pv.(term.Pid), term.Tuple{me, term.Atom("tag"), int64(42)}); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Receive(ctx, me); err != nil || !term.Equal(v, term.Tuple{term.Atom("tag"), int64(42)}) {
		t.Fatalf("got %v %v", v, err)
	}
	// Monitor a name that is not registered: DOWN noproc at once.
	ref, err := c.Monitor(ctx, me, term.Atom("no_such_name"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Receive(ctx, me)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := v.(Down)
	if !ok || !term.Equal(d.Ref, ref) || d.Reason != term.Atom("noproc") {
		t.Fatalf("want Down noproc, got %#v", v)
	}
	// Receive times out cleanly.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.Receive(short, me); !IsTimeout(err) {
		t.Fatalf("want timeout, got %v", err)
	}
}

func TestLiveWrongCookie(t *testing.T) {
	n := shared(t)
	cfg := testConfig(n)
	cfg.Cookie = "wrong-cookie-SECRET"
	ctx := ctx5(t)
	_, err := Dial(ctx, cfg, n.Name)
	if !IsCookieRefused(err) {
		t.Fatalf("want CookieRefused, got %v", err)
	}
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), n.Cookie) {
		t.Fatalf("error leaks the cookie: %v", err)
	}
	// An unknown node is an epmd error.
	_, err = Dial(ctx, testConfig(n), "nosuchnode_xyz@127.0.0.1")
	if !IsEpmd(err) || !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("want Epmd not registered, got %v", err)
	}
}

func TestLiveTimeoutAndLateReply(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := c.Call(short, "timer", "sleep", []any{300})
	if !IsTimeout(err) || time.Since(t0) > 200*time.Millisecond {
		t.Fatalf("want timeout after ~50ms, got %v after %v", err, time.Since(t0))
	}
	time.Sleep(400 * time.Millisecond) // the late reply arrives and is dropped
	if c.late.Load() != 1 {
		t.Errorf("late replies = %d, want 1", c.late.Load())
	}
	if v, err := c.Call(ctx5(t), "erlang", "node", nil); err != nil || v != term.Atom(n.Name) {
		t.Fatalf("after a late reply: %v %v", v, err)
	}
	cctx, ccancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); ccancel() }()
	if _, err := c.Call(cctx, "timer", "sleep", []any{200}); !IsCancelled(err) {
		t.Fatalf("want Cancelled, got %v", err)
	}
}

// CallKill: when ctx ends first the remote worker is killed.
func TestLiveCallKillKillsWorker(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	ctx := ctx5(t)
	for _, name := range []string{"t_victim1", "t_victim2"} {
		short, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		seen := make(chan bool, 1)
		go func() { // the worker registers itself: it must exist while the call runs
			for i := 0; i < 25; i++ {
				v, _ := c.Call(ctx, "erlang", "whereis", []any{term.Atom(name)})
				if _, ok := v.(term.Pid); ok {
					seen <- true
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			seen <- false
		}()
		_, err := c.CallKill(short, "plerl_t", "sleep_reg", []any{term.Atom(name), 60000})
		cancel()
		if !IsTimeout(err) {
			t.Fatalf("want timeout, got %v", err)
		}
		if !<-seen {
			t.Fatalf("worker %s never seen alive", name)
		}
		gone := false
		for i := 0; i < 100 && !gone; i++ {
			v, err := c.Call(ctx, "erlang", "whereis", []any{term.Atom(name)})
			if err != nil {
				t.Fatal(err)
			}
			gone = v == term.Atom("undefined")
			if !gone {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !gone {
			t.Fatalf("worker %s still alive after cancellation", name)
		}
	}
}

// Node-down: killing the node mid-call fails the call promptly; a pool
// reconnects once the node is back.
func TestLiveNodeDownAndPoolReconnect(t *testing.T) {
	n := startNode(t)
	cfg := testConfig(n)
	p := NewPool(PoolConfig{Config: *cfg, BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	defer p.CloseAll()
	ctx := ctx5(t)
	if v, err := p.Call(ctx, n.Name, "erlang", "node", nil); err != nil || v != term.Atom(n.Name) {
		t.Fatalf("first call: %v %v", v, err)
	}
	c, _ := p.Get(ctx, n.Name)
	errc := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			_, err := c.Call(ctx, "timer", "sleep", []any{10000})
			errc <- err
		}()
	}
	time.Sleep(200 * time.Millisecond)
	t0 := time.Now()
	n.Stop()
	for i := 0; i < 3; i++ {
		err := <-errc
		if !IsNodeDown(err) {
			t.Fatalf("want NodeDown, got %v", err)
		}
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("NodeDown took %v", d)
	}
	if st := p.Stats(); len(st) != 1 || st[0].State != "down" {
		t.Fatalf("stats after node down: %+v", st)
	}
	// While the node is down: connect fails, then the backoff answers fast.
	_, err := p.Call(ctx, n.Name, "erlang", "node", nil)
	if !IsEpmd(err) && !IsConnect(err) {
		t.Fatalf("want epmd/connect error, got %v", err)
	}
	t1 := time.Now()
	_, err = p.Call(ctx, n.Name, "erlang", "node", nil)
	if err == nil || time.Since(t1) > 10*time.Millisecond || !strings.Contains(err.Error(), "not retrying") {
		t.Fatalf("within backoff: %v after %v", err, time.Since(t1))
	}
	n.Restart(t)
	deadline := time.Now().Add(3 * time.Second)
	for {
		v, err := p.Call(ctx, n.Name, "erlang", "node", nil)
		if err == nil && v == term.Atom(n.Name) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool did not reconnect: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := p.Stats()
	if len(st) != 1 || st[0].State != "connected" || st[0].Calls < 5 || st[0].Errors < 3 {
		t.Fatalf("stats: %+v", st)
	}
	if !p.Disconnect(n.Name) || p.Disconnect(n.Name) {
		t.Fatal("Disconnect results")
	}
}

// Idle past the peer's net_ticktime: our ticks keep the connection up.
func TestLiveIdlePastTicktime(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s idle test skipped in -short mode")
	}
	n := startNode(t, "-kernel", "net_ticktime", "4")
	cfg := testConfig(n)
	cfg.TickTime = 4 * time.Second
	c := dialNode(t, n, cfg)
	ctx := ctx5(t)
	if _, err := c.Call(ctx, "erlang", "node", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Second)
	if err := c.Err(); err != nil {
		t.Fatalf("connection ended while idle: %v", err)
	}
	if v, err := c.Call(ctx5(t), "erlang", "node", nil); err != nil || v != term.Atom(n.Name) {
		t.Fatalf("after idle: %v %v", v, err)
	}
	// The peer still lists us (it did not time us out and we reconnected).
	if v, err := c.Call(ctx5(t), "erlang", "nodes", []any{term.Atom("hidden")}); err != nil || !containsAtom(v, string(c.Self())) {
		t.Fatalf("nodes(hidden) = %v %v", v, err)
	}
}

// Links, monitors and exit signals with real processes.
func TestLiveLinksMonitors(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	ctx := ctx5(t)
	me := c.NewPid()
	spawn := func() term.Pid {
		v, err := c.Call(ctx, "erlang", "spawn", []any{term.Atom("timer"), term.Atom("sleep"), term.List{term.Atom("infinity")}})
		if err != nil {
			t.Fatal(err)
		}
		return v.(term.Pid)
	}
	recv := func() any {
		v, err := c.Receive(ctx, me)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// LINK, then the process is killed: EXIT arrives.
	p1 := spawn()
	if err := c.Link(ctx, me, p1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Call(ctx, "erlang", "exit", []any{p1, term.Atom("kill")}); err != nil {
		t.Fatal(err)
	}
	if e, ok := recv().(Exit); !ok || e.From != p1 || e.Reason != term.Atom("killed") {
		t.Fatalf("want Exit killed from %v, got %#v", p1, e)
	}
	// MONITOR_P on a pid, then EXIT2 from us kills it: DOWN with our ref.
	p2 := spawn()
	ref, err := c.Monitor(ctx, me, p2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Exit(ctx, me, p2, term.Atom("kill")); err != nil {
		t.Fatal(err)
	}
	if d, ok := recv().(Down); !ok || !term.Equal(d.Ref, ref) || d.Reason != term.Atom("killed") {
		t.Fatalf("want Down killed, got %#v", d)
	}
	// DEMONITOR_P and UNLINK: no signal arrives afterwards.
	p3 := spawn()
	ref3, _ := c.Monitor(ctx, me, p3)
	c.Link(ctx, me, p3)
	if err := c.Demonitor(ctx, me, p3, ref3); err != nil {
		t.Fatal(err)
	}
	if err := c.Unlink(ctx, me, p3); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Call(ctx, "erlang", "process_info", []any{p3, term.Atom("links")}); err != nil || !term.Equal(v, term.Tuple{term.Atom("links"), term.List{}}) {
		t.Fatalf("links after unlink: %v %v", v, err)
	}
	c.Call(ctx, "erlang", "exit", []any{p3, term.Atom("kill")})
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if v, err := c.Receive(short, me); !IsTimeout(err) {
		t.Fatalf("signal after demonitor/unlink: %#v %v", v, err)
	}
	// A remote process links to our pid and unlinks: the peer sends LINK
	// then UNLINK_ID, which we acknowledge (UNLINK_ID_ACK); then it links
	// again and is killed: the EXIT reaches us, so the link state is right.
	before := c.drops.Load()
	if v, err := c.Call(ctx, "plerl_t", "link_unlink", []any{me}); err != nil || v != term.Atom("ok") {
		t.Fatalf("link_unlink: %v %v", v, err)
	}
	if c.Err() != nil || c.drops.Load() != before+1 { // the LINK itself is dropped (counted)
		t.Fatalf("after UNLINK_ID: err %v, drops %d -> %d", c.Err(), before, c.drops.Load())
	}
}
