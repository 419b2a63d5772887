// Protocol tests against the scripted fake peer (internal/fakepeer).
package dist

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plerl/plerl/internal/fakepeer"
	"github.com/plerl/plerl/runtime/term"
)

const fakeCookie = "fake-cookie-XYZZY"

func startFake(t *testing.T, b fakepeer.Behavior) (*fakepeer.Peer, *Config) {
	t.Helper()
	p, err := fakepeer.Start("fake", fakeCookie)
	if err != nil {
		t.Fatal(err)
	}
	p.Set(b)
	t.Cleanup(p.Close)
	cfg := &Config{NodeName: "plerl_fake_1@127.0.0.1", Cookie: fakeCookie, EpmdPort: p.EpmdPort()}
	return p, cfg
}

func noCookie(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), fakeCookie) {
		t.Fatalf("error leaks the cookie: %v", err)
	}
}

func TestFakeHandshakeOutcomes(t *testing.T) {
	cases := []struct {
		name  string
		b     fakepeer.Behavior
		alive bool // Config.ReplaceAlive
		kind  Kind
		msg   string
	}{
		{"ok", fakepeer.Behavior{}, false, 0, ""},
		{"bad digest", fakepeer.Behavior{BadDigest: true}, false, KindCookieRefused, "handshake: recv_challenge_ack (fake@127.0.0.1): digest mismatch"},
		{"cookie refused", fakepeer.Behavior{}, false, KindCookieRefused, "cookie refused"},
		{"name refused", fakepeer.Behavior{CloseAfterName: true}, false, KindHandshake, "recv_status"},
		{"nok", fakepeer.Behavior{Status: "nok"}, false, KindHandshake, "status nok"},
		{"not_allowed", fakepeer.Behavior{Status: "not_allowed"}, false, KindHandshake, "not_allowed"},
		{"alive false", fakepeer.Behavior{Status: "alive"}, false, KindHandshake, "status alive"},
		{"alive true", fakepeer.Behavior{Status: "alive"}, true, 0, ""},
		{"weird status", fakepeer.Behavior{Status: "bogus"}, false, KindHandshake, `unexpected status "bogus"`},
		{"version 5", fakepeer.Behavior{Version5: true}, false, KindHandshake, "version 6 (OTP 23+) is required"},
		{"epmd version 5", fakepeer.Behavior{EpmdHighest: 5}, false, KindEpmd, "version 6 (OTP 23+) is required"},
		{"missing flags", fakepeer.Behavior{Flags: fakepeer.DefaultFlags &^ FlagMapTag}, false, KindHandshake, "mandatory distribution flags 0x20000"},
		{"mandatory digest flag", fakepeer.Behavior{Flags: FlagMandatory25Digest | FlagSpawn}, false, 0, ""},
		{"epmd refuses", fakepeer.Behavior{EpmdRefuse: true}, false, KindEpmd, "not registered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, cfg := startFake(t, tc.b)
			cfg.ReplaceAlive = tc.alive
			if tc.name == "cookie refused" {
				cfg.Cookie = "another-secret"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			c, err := Dial(ctx, cfg, p.Name)
			noCookie(t, err)
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				if v, err := c.Call(ctx, "erlang", "node", nil); err != nil || v != term.Atom(p.Name) {
					t.Fatalf("call: %v %v", v, err)
				}
				return
			}
			if KindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v (kind %v), want kind %v containing %q", err, KindOf(err), tc.kind, tc.msg)
			}
		})
	}
}

func TestFakeSendNameFlags(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{})
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ev := <-p.Received
	if ev.Kind != "name" || ev.Name != cfg.NodeName || ev.Flags != 0x507074FBC {
		t.Fatalf("send_name: %+v (flags %#x)", ev, ev.Flags)
	}
	if ev.Flags&FlagPublished != 0 || ev.Flags&FlagDistHdrAtomCache != 0 || ev.Flags&FlagFragments != 0 {
		t.Fatal("forbidden flag set")
	}
}

func TestFakeSlowHandshakeTimesOut(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{HandshakeDelay: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := Dial(ctx, cfg, p.Name)
	if !IsTimeout(err) {
		t.Fatalf("want Timeout, got %v", err)
	}
	if d := time.Since(t0); d > 400*time.Millisecond {
		t.Fatalf("timeout took %v", d)
	}
	// Cancellation (not a deadline) is reported as such.
	cctx, ccancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, ccancel)
	if _, err := Dial(cctx, cfg, p.Name); !IsCancelled(err) {
		t.Fatalf("want Cancelled, got %v", err)
	}
}

func TestFakeSlowReplyTimesOut(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{ReplyDelay: 500 * time.Millisecond})
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err = c.Call(ctx, "m", "f", nil)
	if !IsTimeout(err) || time.Since(t0) > 300*time.Millisecond {
		t.Fatalf("want Timeout in ~100ms, got %v after %v", err, time.Since(t0))
	}
	time.Sleep(600 * time.Millisecond)
	if c.late.Load() != 1 || c.Err() != nil {
		t.Fatalf("late=%d err=%v", c.late.Load(), c.Err())
	}
}

func TestFakeGarbageIsProtocolError(t *testing.T) {
	garbage := [][]byte{
		{1, 2, 3},                               // not pass-through
		{112},                                   // nothing after 112
		{112, 131, 104, 3, 97},                  // truncated control tuple
		{112, 131, 97, 2},                       // control is not a tuple
		{112, 131, 104, 3, 97, 2, 106, 106},     // SEND without payload
		{112, 131, 104, 2, 97, 2, 131, 106},     // SEND of wrong arity
		{112, 131, 104, 1, 100, 0, 1, 'x'},      // op is an atom
		{112, 131, 104, 3, 97, 1, 106, 106, 55}, // trailing bytes after LINK
	}
	for i, g := range garbage {
		p, cfg := startFake(t, fakepeer.Behavior{GarbageOnCall: g})
		c, err := Dial(context.Background(), cfg, p.Name)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err = c.Call(ctx, "m", "f", nil)
		cancel()
		if !IsProtocol(err) {
			t.Fatalf("garbage %d: want Protocol error, got %v", i, err)
		}
		<-c.Done()
		if !IsProtocol(c.Err()) {
			t.Fatalf("garbage %d: conn err %v", i, c.Err())
		}
	}
}

func TestFakeOversizeFrame(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{OversizeOnCall: 200 << 20})
	cfg.MaxMessageSize = 1 << 20
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Call(context.Background(), "m", "f", nil)
	if !IsTooLarge(err) {
		t.Fatalf("want TooLarge, got %v", err)
	}
	// Outbound cap: nothing is sent, the connection stays up.
	c2, err := Dial(context.Background(), &Config{NodeName: "plerl_fake_2@127.0.0.1", Cookie: fakeCookie, EpmdPort: cfg.EpmdPort, MaxSendSize: 1000}, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	p.Set(fakepeer.Behavior{})
	_, err = c2.Call(context.Background(), "m", "f", []any{make([]byte, 2000)})
	if !IsTooLarge(err) || c2.Err() != nil {
		t.Fatalf("want TooLarge with the conn up, got %v / %v", err, c2.Err())
	}
	if _, err := c2.Call(context.Background(), "m", "f", nil); err != nil {
		t.Fatal(err)
	}
}

func TestFakeCloseMidCall(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{ReplyDelay: 10 * time.Second})
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 5)
	for i := 0; i < 5; i++ {
		go func() { _, err := c.Call(context.Background(), "m", "f", nil); errc <- err }()
	}
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	p.KillConns()
	for i := 0; i < 5; i++ {
		if err := <-errc; !IsNodeDown(err) {
			t.Fatalf("want NodeDown, got %v", err)
		}
	}
	if d := time.Since(t0); d > 200*time.Millisecond {
		t.Fatalf("NodeDown after %v", d)
	}
	// Later calls fail at once with the same kind.
	if _, err := c.Call(context.Background(), "m", "f", nil); !IsNodeDown(err) {
		t.Fatalf("after down: %v", err)
	}
	// And Close reports KindClosed for a fresh connection.
	c2, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if _, err := c2.Call(context.Background(), "m", "f", nil); !IsClosed(err) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestFakeEpmdDown(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{})
	p.Close()
	_, err := Dial(context.Background(), cfg, p.Name)
	if !IsEpmd(err) {
		t.Fatalf("want Epmd error, got %v", err)
	}
	// A node registered in epmd whose port refuses connections: Connect.
	p2, cfg2 := startFake(t, fakepeer.Behavior{})
	_ = p2
	if _, err := dialPort(context.Background(), mustDefaults(t, cfg2), p2.Name, "127.0.0.1", 1); !IsConnect(err) {
		t.Fatalf("want Connect error, got %v", err)
	}
}

func mustDefaults(t *testing.T, cfg *Config) *Config {
	c, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func TestFakeSilentPeerIsNodeDown(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{NoTicks: true})
	cfg.TickTime = 400 * time.Millisecond
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("silent peer not detected")
	}
	d := time.Since(t0)
	if !IsNodeDown(c.Err()) || d < 400*time.Millisecond || d > 800*time.Millisecond {
		t.Fatalf("after %v: %v", d, c.Err())
	}
	// Meanwhile we wrote ticks every TickTime/4.
	ticks := 0
	for len(p.Received) > 0 {
		if ev := <-p.Received; ev.Kind == "tick" {
			ticks++
		}
	}
	if ticks < 2 {
		t.Fatalf("peer saw %d ticks from us", ticks)
	}
}

func TestFakeTicksKeepIdleConnUp(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{TickEvery: 50 * time.Millisecond})
	cfg.TickTime = 200 * time.Millisecond
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(time.Second)
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
	if _, err := c.Call(context.Background(), "erlang", "node", nil); err != nil {
		t.Fatal(err)
	}
}

func TestFakePoolBackoffAndRestart(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{})
	pool := NewPool(PoolConfig{Config: *cfg, BackoffMin: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond, MaxConns: 1})
	defer pool.CloseAll()
	ctx := context.Background()
	if _, err := pool.Call(ctx, p.Name, "erlang", "node", nil); err != nil {
		t.Fatal(err)
	}
	c1, _ := pool.Get(ctx, p.Name)
	// MaxConns: a second node is refused.
	if _, err := pool.Get(ctx, "other@127.0.0.1"); !IsConnect(err) || !strings.Contains(err.Error(), "MaxConns") {
		t.Fatalf("MaxConns: %v", err)
	}
	p.Stop()
	<-c1.Done()
	_, err := pool.Call(ctx, p.Name, "erlang", "node", nil) // node gone: epmd says not registered
	if !IsEpmd(err) {
		t.Fatalf("want Epmd, got %v", err)
	}
	_, err = pool.Call(ctx, p.Name, "erlang", "node", nil)
	if !IsEpmd(err) || !strings.Contains(err.Error(), "not retrying") {
		t.Fatalf("within backoff: %v", err)
	}
	if st := pool.Stats(); st[0].State != "backoff" || st[0].LastError == "" {
		t.Fatalf("stats: %+v", st)
	}
	if err := p.Restart(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if _, err := pool.Call(ctx, p.Name, "erlang", "node", nil); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if c2, _ := pool.Get(ctx, p.Name); c2 == c1 {
		t.Fatal("pool kept the dead connection")
	}
	for _, ci := range pool.Stats() {
		if strings.Contains(ci.LastError, fakeCookie) {
			t.Fatal("stats leak the cookie")
		}
	}
	pool.CloseAll()
	if _, err := pool.Get(ctx, p.Name); !IsClosed(err) {
		t.Fatalf("after CloseAll: %v", err)
	}
}

// Signals from the peer: UNLINK_ID is acknowledged, MONITOR_P of a pid we
// do not have gets DOWN noproc, EXIT and DOWN land in the mailbox, and a
// full mailbox drops according to the policy.
func TestFakeSignalsAndMailbox(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{NoTicks: true})
	cfg.MailboxSize = 2
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	<-p.Received // name
	me := c.NewPid()
	them := term.Pid{Node: term.Atom(p.Name), ID: 40, Serial: 0, Creation: 7}
	ref := term.Ref{Node: term.Atom(p.Name), Creation: 7, IDs: []uint32{1, 2, 3}}

	p.SendTo(fakepeer.Control(term.Tuple{int64(OpUnlinkID), int64(99), them, me}, nil))
	ghost := term.Pid{Node: c.Self(), ID: 999, Creation: c.Creation()}
	p.SendTo(fakepeer.Control(term.Tuple{int64(OpMonitorP), them, ghost, ref}, nil))
	want := []term.Tuple{
		{int64(OpUnlinkIDAck), int64(99), me, them},
		{int64(OpMonitorPExit), ghost, them, ref, term.Atom("noproc")},
	}
	for _, w := range want {
		var ev fakepeer.Event
		for ev = <-p.Received; ev.Kind != "msg"; ev = <-p.Received {
		}
		if !term.Equal(ev.Ctrl, w) {
			t.Fatalf("peer got %v, want %v", ev.Ctrl, w)
		}
	}

	ctx := ctx5(t)
	p.SendTo(fakepeer.Control(term.Tuple{int64(OpExit), them, me, term.Atom("boom")}, nil))
	if v, err := c.Receive(ctx, me); err != nil || !term.Equal(v.(Exit).Reason, term.Atom("boom")) || v.(Exit).Kind != "exit" {
		t.Fatalf("exit: %#v %v", v, err)
	}
	p.SendTo(fakepeer.Control(term.Tuple{int64(OpPayloadExit2), them, me}, term.Tuple{term.Atom("big"), int64(1)}))
	if v, err := c.Receive(ctx, me); err != nil || v.(Exit).Kind != "exit2" || !term.Equal(v.(Exit).Reason, term.Tuple{term.Atom("big"), int64(1)}) {
		t.Fatalf("payload exit2: %#v %v", v, err)
	}
	p.SendTo(fakepeer.Control(term.Tuple{int64(OpPayloadMonitorPExit), them, me, ref}, term.Atom("normal")))
	if v, err := c.Receive(ctx, me); err != nil || v.(Down).Reason != term.Atom("normal") || !term.Equal(v.(Down).Ref, ref) {
		t.Fatalf("down: %#v %v", v, err)
	}
	// Drop oldest (default): 5 messages into a mailbox of 2 leave 3 and 4.
	for i := 0; i < 5; i++ {
		p.SendTo(fakepeer.Control(term.Tuple{int64(OpSend), term.Atom(""), me}, int64(i)))
	}
	waitFor(t, func() bool { return c.Drops(me) == 3 })
	for _, w := range []int64{3, 4} {
		if v, err := c.Receive(ctx, me); err != nil || v != w {
			t.Fatalf("got %v %v, want %d", v, err, w)
		}
	}
	// Messages to pids we do not know are counted and dropped.
	before := c.drops.Load()
	p.SendTo(fakepeer.Control(term.Tuple{int64(OpSend), term.Atom(""), ghost}, int64(1)))
	waitFor(t, func() bool { return c.drops.Load() == before+1 })
	// After the node goes away, Receive reports NodeDown.
	p.KillConns()
	if _, err := c.Receive(ctx, me); !IsNodeDown(err) {
		t.Fatalf("want NodeDown, got %v", err)
	}
}

func TestFakeDropNewest(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{})
	cfg.MailboxSize = 2
	cfg.MailboxDrop = DropNewest
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	me := c.NewPid()
	for i := 0; i < 5; i++ {
		p.SendTo(fakepeer.Control(term.Tuple{int64(OpSend), term.Atom(""), me}, int64(i)))
	}
	waitFor(t, func() bool { return c.Drops(me) == 3 })
	for _, w := range []int64{0, 1} {
		if v, err := c.Receive(ctx5(t), me); err != nil || v != w {
			t.Fatalf("got %v %v, want %d", v, err, w)
		}
	}
}

func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if f() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

var _ = errors.Is

// A caller reading the socket itself (read duty) whose context ends in
// the middle of a packet: the half-read packet is kept, the next reader
// finishes it (a late reply, dropped) and the stream stays in sync.
func TestFakeDeadlineMidPacket(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{})
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		p.Set(fakepeer.Behavior{})
		// Calls until the duty is free: a reply dispatched by the reader
		// goroutine can wake its caller before the reader lets go of it.
		waitFor(t, func() bool {
			if _, err := c.Call(ctx5(t), "erlang", "node", nil); err != nil {
				t.Fatal(err)
			}
			c.rmu.Lock()
			defer c.rmu.Unlock()
			return c.duty == dutyFree
		})
		p.Set(fakepeer.Behavior{SplitReply: 300 * time.Millisecond})
		direct := c.directWaits.Load()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		_, err := c.Call(ctx, "m", "f", []any{i})
		cancel()
		if !IsTimeout(err) {
			t.Fatalf("want Timeout, got %v", err)
		}
		if c.directWaits.Load() != direct+1 {
			t.Fatal("the call did not read the socket itself")
		}
		time.Sleep(400 * time.Millisecond) // the reader goroutine finishes the packet
	}
	p.Set(fakepeer.Behavior{})
	for i := 0; i < 20; i++ {
		v, err := c.Call(ctx5(t), "erlang", "node", nil)
		if err != nil || v != term.Atom(p.Name) {
			t.Fatalf("after mid-packet timeouts: %v %v", v, err)
		}
	}
	if c.late.Load() != 3 || c.Err() != nil {
		t.Fatalf("late %d, err %v", c.late.Load(), c.Err())
	}
}

// GetWith: a per-node cookie; a changed configuration (ident) is tried at
// once despite the backoff of the old one, and replaces a live connection.
func TestFakePoolGetWith(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{})
	cfg.Cookie = "pool-default-cookie"
	pool := NewPool(PoolConfig{Config: *cfg, BackoffMin: time.Minute, BackoffMax: time.Minute})
	defer pool.CloseAll()
	ctx := ctx5(t)
	if _, err := pool.GetWith(ctx, p.Name, &NodeConfig{Cookie: "wrong", Ident: "a"}); !IsCookieRefused(err) {
		t.Fatalf("want CookieRefused, got %v", err)
	}
	if _, err := pool.GetWith(ctx, p.Name, &NodeConfig{Cookie: "wrong", Ident: "a"}); !strings.Contains(err.Error(), "not retrying") {
		t.Fatalf("same ident within backoff: %v", err)
	}
	c1, err := pool.GetWith(ctx, p.Name, &NodeConfig{Cookie: fakeCookie, Ident: "b"})
	if err != nil {
		t.Fatalf("new ident must be tried at once: %v", err)
	}
	if c2, _ := pool.GetWith(ctx, p.Name, &NodeConfig{Cookie: fakeCookie, Ident: "b"}); c2 != c1 {
		t.Fatal("same ident did not reuse the connection")
	}
	c3, err := pool.GetWith(ctx, p.Name, &NodeConfig{Cookie: fakeCookie, Ident: "c"})
	if err != nil || c3 == c1 {
		t.Fatalf("changed ident: %v (same conn %v)", err, c3 == c1)
	}
	<-c1.Done()
	if !IsClosed(c1.Err()) {
		t.Fatalf("old connection: %v", c1.Err())
	}
	for _, ci := range pool.Stats() {
		if strings.Contains(ci.LastError, fakeCookie) || strings.Contains(ci.LastError, "wrong") {
			t.Fatal("stats leak a cookie")
		}
	}
}

// A silent epmd or a peer silent in the handshake must not hold a cancelled
// Dial: plerl's own sockets (fdconn_linux.go) watch the context in every
// wait, whatever deadline the socket had when the wait began.
func TestCancelDuringSilentSetup(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept, then say nothing
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := &Config{NodeName: "plerl_cancel@127.0.0.1", Cookie: "c"}
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"epmd", func(ctx context.Context) error {
			_, err := LookupPort(ctx, nil, "127.0.0.1", port, "x", "x@127.0.0.1")
			return err
		}},
		{"handshake", func(ctx context.Context) error {
			_, err := dialPort(ctx, mustDefaults(t, cfg), "x@127.0.0.1", "127.0.0.1", port)
			return err
		}},
	} {
		for _, withDeadline := range []bool{false, true} {
			ctx, cancel := context.WithCancel(context.Background())
			if withDeadline {
				ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
			}
			time.AfterFunc(50*time.Millisecond, cancel)
			res := make(chan error, 1)
			go func() { res <- tc.run(ctx) }()
			select {
			case err := <-res:
				var e *Error
				if !errors.As(err, &e) || e.Kind != KindCancelled {
					t.Errorf("%s (deadline %v): want a KindCancelled error, got %v", tc.name, withDeadline, err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s (deadline %v): still waiting 10 s after the cancel", tc.name, withDeadline)
			}
			cancel()
		}
	}
}

// Corking: when one read brings the replies of many callers, the requests
// they send next leave in one write (conn.go, cork), not one each. The peer
// answers 8 calls at a time in one write; with GOMAXPROCS=1 the woken
// callers all run before the reader flushes. Without corking each of the
// 8*rounds requests is its own write.
func TestFakeCorkBatchesRequests(t *testing.T) {
	for _, noCork := range []bool{false, true} {
		writes, calls := corkRun(t, noCork)
		t.Logf("noCork=%v: %d writes for %d calls", noCork, writes, calls)
		switch {
		case !noCork && writes*2 > calls:
			t.Errorf("corked: %d writes for %d calls, want at most half", writes, calls)
		case noCork && writes*2 <= calls:
			t.Errorf("uncorked: %d writes for %d calls: the requests were batched without corking, so the test shows nothing", writes, calls)
		}
	}
}

func corkRun(t *testing.T, noCork bool) (writes, calls uint64) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const callers, rounds = 8, 10
	p, cfg := startFake(t, fakepeer.Behavior{NoTicks: true, BatchReplies: callers})
	cfg.noCork = noCork
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctx5(t)
	w0 := c.wframes.Load()
	var wg sync.WaitGroup
	for g := 0; g < callers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				if v, err := c.Call(ctx, "erlang", "node", nil); err != nil || v != term.Atom(p.Name) {
					t.Errorf("call: %v %v", v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return c.wframes.Load() - w0, callers * rounds
}

// Mailboxes sharing a ByteBudget hold at most its bytes: a message that
// does not fit drops the oldest of its mailbox (DropOldest), the drops are
// counted, Receive gives the bytes back, and Close empties the mailboxes so
// nothing stays charged to the budget.
func TestFakeMailboxByteBudget(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{NoTicks: true})
	budget := NewByteBudget(5 << 20)
	cfg.MailboxBytes = budget
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	<-p.Received // name
	me := c.NewPid()
	big := func(i int) term.Tuple { return term.Tuple{int64(i), term.Binary(make([]byte, 2<<20))} }
	for i := 1; i <= 6; i++ {
		if err := p.SendTo(fakepeer.Control(term.Tuple{int64(OpSend), term.Atom(""), me}, big(i))); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctx5(t)
	// Six messages of 2 MB into 5 MB: the last two stay.
	deadline := time.Now().Add(5 * time.Second)
	for c.Drops(me) < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if d := c.Drops(me); d != 4 {
		t.Fatalf("drops %d, want 4", d)
	}
	if u := budget.Used(); u <= 4<<20 || u > 5<<20 {
		t.Fatalf("budget holds %d bytes, want two messages' worth", u)
	}
	v, err := c.Receive(ctx, me)
	if err != nil || v.(term.Tuple)[0] != int64(5) {
		t.Fatalf("first message: %v %v, want the 5th", v, err)
	}
	if u := budget.Used(); u > 3<<20 {
		t.Fatalf("after Receive the budget holds %d bytes", u)
	}
	c.Close()
	if u := budget.Used(); u != 0 {
		t.Fatalf("after Close the budget holds %d bytes, want 0", u)
	}
}

// Replies that arrive while an earlier call is awaited are held until
// collected; together they stay within Config.ReplyBytes: a reply that
// does not fit fails its own call (KindTooLarge) and is dropped, the first
// one held always fits, and collecting or abandoning gives the bytes back.
func TestFakeReplyByteBudget(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{NoTicks: true})
	budget := NewByteBudget(5 << 19) // 2.5 MB
	cfg.ReplyBytes = budget
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctx5(t)
	mb := term.Binary(make([]byte, 1<<20)) // each reply echoes it: just over 1 MB
	var ps []*Pending
	send := func(n int) {
		for i := 0; i < n; i++ {
			pd, err := c.Go(ctx, "m", "f", []any{mb}, false)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, pd)
		}
	}
	// Four calls first: the fifth and sixth are sent once these are
	// collected (replies read in the background while two are held would
	// not fit, and which are read when depends on the machine's load).
	send(4)
	// Awaiting the fourth reads the first three: two fit, the third does
	// not, nor does the fourth itself.
	if _, err := ps[3].Wait(ctx); KindOf(err) != KindTooLarge {
		t.Fatalf("4th: %v, want KindTooLarge", err)
	}
	if u := budget.Used(); u <= 2<<20 || u > 5<<19 {
		t.Fatalf("held %d bytes, want two replies' worth", u)
	}
	for i, want := range []Kind{0, 0, KindTooLarge} {
		_, err := ps[i].Wait(ctx)
		if KindOf(err) != want {
			t.Fatalf("call %d: %v, want kind %v", i+1, err, want)
		}
	}
	if u := budget.Used(); u != 0 {
		t.Fatalf("after collecting, %d bytes held", u)
	}
	// The sixth's wait holds the fifth's reply; abandoning the fifth
	// gives it back.
	send(2)
	if _, err := ps[5].Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if u := budget.Used(); u < 1<<20 {
		t.Fatalf("the 5th reply is not held (%d bytes)", u)
	}
	ps[4].Abandon()
	if u := budget.Used(); u != 0 {
		t.Fatalf("after abandoning, %d bytes held", u)
	}
}

// nextEvent returns the peer's next event of kind k (others skipped).
func nextEvent(t *testing.T, p *fakepeer.Peer, k string) fakepeer.Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev := <-p.Received:
			if ev.Kind == k {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %q event from the peer", k)
		}
	}
}

// The bytes a call and a send report are those of the frames on the wire,
// as the peer counted them reading and writing (length headers included);
// a binary argument n bytes longer makes the request exactly n bytes longer.
func TestFakeBytesCounted(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{NoTicks: true})
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctx5(t)
	var sent [2]int64
	for i, n := range []int{1000, 3500} {
		pd, err := c.Go(ctx, "m", "echo", []any{term.Binary(strings.Repeat("x", n))}, false)
		if err != nil {
			t.Fatal(err)
		}
		if s, r := pd.Bytes(); s == 0 || r != 0 {
			t.Fatalf("before Wait: sent %d received %d, want >0 and 0", s, r)
		}
		if _, err := pd.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		req, rep := nextEvent(t, p, "msg"), nextEvent(t, p, "reply")
		s, r := pd.Bytes()
		if s != int64(req.Size) || r != int64(rep.Size) {
			t.Fatalf("call %d: sent %d received %d, the peer read %d and wrote %d", i, s, r, req.Size, rep.Size)
		}
		sent[i] = s
	}
	if sent[1]-sent[0] != 2500 {
		t.Fatalf("2500 more bytes of argument: request %d -> %d bytes", sent[0], sent[1])
	}
	me := c.NewPid()
	n, err := c.RegSendBytes(ctx, me, "desk", term.Binary(strings.Repeat("y", 777)))
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, p, "msg"); n != int64(ev.Size) {
		t.Fatalf("reg_send: %d bytes, the peer read %d", n, ev.Size)
	}
	// From first principles: <<Len:32, 112, 131, {6, Me, '', desk}, 131, Bin>>
	// with Me = NEW_PID_EXT (1 + SMALL_ATOM_UTF8 node + 12).
	pid := 1 + 2 + len(cfg.NodeName) + 12
	want := 4 + 1 + 1 + (2 + 2 + pid + 2 + 2 + len("desk")) + 1 + (5 + 777)
	if n != int64(want) {
		t.Fatalf("reg_send: %d bytes, want %d", n, want)
	}
	n, err = c.SendBytes(ctx, term.Pid{Node: term.Atom(p.Name), ID: 40, Creation: 7}, int64(5))
	if err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, p, "msg"); n != int64(ev.Size) {
		t.Fatalf("send: %d bytes, the peer read %d", n, ev.Size)
	}
}

// atomsOf collects the atoms of v.
func atomsOf(v any, out map[term.Atom]bool) {
	switch x := v.(type) {
	case term.Atom:
		out[x] = true
	case term.Pid:
		out[x.Node] = true
	case term.Ref:
		out[x.Node] = true
	case term.Tuple:
		for _, e := range x {
			atomsOf(e, out)
		}
	}
}

// The tick probe: on an idle connection, a due tick is a MONITOR_P of a pid
// of the peer's node that cannot exist (another creation, never 0), from
// our rpc pid, carrying only the two node names as atoms; the peer's
// noproc answer gives TickRTT and calls OnTickRTT. One probe at a time:
// unanswered, it is given up after 4 intervals and another one goes out.
func TestFakeTickProbe(t *testing.T) {
	for _, answer := range []bool{true, false} {
		p, cfg := startFake(t, fakepeer.Behavior{NoMonitorReply: !answer})
		cfg.TickTime = 400 * time.Millisecond // a tick (or probe) due every 100 ms of silence
		cfg.TickProbe = true
		var hooked atomic.Int32
		cfg.OnTickRTT = func(*Conn) { hooked.Add(1) }
		c, err := Dial(context.Background(), cfg, p.Name)
		if err != nil {
			t.Fatal(err)
		}
		probes := 0
		for probes < 2 {
			ev := nextEvent(t, p, "msg")
			if len(ev.Ctrl) != 4 || ev.Ctrl[0] != int64(OpMonitorP) {
				t.Fatalf("idle connection wrote %v, want only probes", ev.Ctrl)
			}
			ghost, ok := ev.Ctrl[2].(term.Pid)
			if !ok || string(ghost.Node) != p.Name || ghost.Creation == 7 || ghost.Creation == 0 {
				t.Fatalf("probe of %#v: want a pid of %s with a creation other than its 7 and 0", ev.Ctrl[2], p.Name)
			}
			if ev.Ctrl[1] != c.rpcPid {
				t.Fatalf("probe from %v, want our rpc pid", ev.Ctrl[1])
			}
			atoms := map[term.Atom]bool{}
			atomsOf(ev.Ctrl, atoms)
			for a := range atoms {
				if string(a) != p.Name && a != c.Self() {
					t.Fatalf("probe carries the atom %q", a)
				}
			}
			probes++
		}
		rtt, at := c.TickRTT()
		if answer {
			waitFor(t, func() bool { rtt, at = c.TickRTT(); return rtt > 0 })
			if at.IsZero() || hooked.Load() == 0 {
				t.Fatalf("answered probe: at %v, hook called %d times", at, hooked.Load())
			}
		} else if rtt != 0 || !at.IsZero() || hooked.Load() != 0 {
			t.Fatalf("no answer, yet TickRTT %v at %v, hook %d", rtt, at, hooked.Load())
		}
		if err := c.Err(); err != nil {
			t.Fatalf("connection failed: %v", err)
		}
		c.Close()
	}
}

// A call pending is not idle: the due ticks stay plain ticks.
func TestFakeTickProbeNotWhileBusy(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{SilentOnCall: true})
	cfg.TickTime = 400 * time.Millisecond
	cfg.TickProbe = true
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pd, err := c.Go(context.Background(), "m", "f", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pd.Abandon()
	for {
		ev := nextEvent(t, p, "msg")
		if len(ev.Ctrl) == 4 && ev.Ctrl[3] == term.Atom("rex") {
			break
		}
	}
	for ticks := 0; ticks < 4; {
		select {
		case ev := <-p.Received:
			switch ev.Kind {
			case "tick":
				ticks++
			case "msg":
				t.Fatalf("wrote %v while a call was pending", ev.Ctrl)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no ticks")
		}
	}
}

// A "nok" status (the peer's own connect to us won a simultaneous-connect
// race) is retried at once, not reported nor put in backoff: two noks and
// the third handshake succeeds; a peer that answers nok every time fails
// after five tries with the nok error.
func TestFakePoolRetriesNok(t *testing.T) {
	p, cfg := startFake(t, fakepeer.Behavior{NokTimes: 2})
	pool := NewPool(PoolConfig{Config: *cfg})
	defer pool.CloseAll()
	ctx := ctx5(t)
	if _, err := pool.Call(ctx, p.Name, "erlang", "node", nil); err != nil {
		t.Fatalf("after two noks: %v", err)
	}
	q, cfg2 := startFake(t, fakepeer.Behavior{Status: "nok"})
	pool2 := NewPool(PoolConfig{Config: *cfg2})
	defer pool2.CloseAll()
	_, err := pool2.Call(ctx, q.Name, "erlang", "node", nil)
	if !errors.Is(err, errSimultaneous) {
		t.Fatalf("always nok: %v, want the nok error", err)
	}
}
