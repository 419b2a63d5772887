package dist

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/plerl/plerl/internal/fakepeer"
	"github.com/plerl/plerl/runtime/term"
)

// Waiting to write is waiting: a peer that stopped reading (SIGSTOP, a
// full TCP window) must not hold a caller past its context. These tests
// use a fake peer that reads nothing after the handshake until released.

// bigArg is far more than loopback socket buffers hold.
var bigArg = make([]byte, 32<<20)

func holdingPeer(t *testing.T) (*fakepeer.Peer, *Conn, chan struct{}) {
	t.Helper()
	if !fdDialSupported {
		t.Skip("own sockets only on Linux")
	}
	hold := make(chan struct{})
	p, cfg := startFake(t, fakepeer.Behavior{HoldReads: hold, NoTicks: true}) // NoTicks: no tick answers of ours in the stream
	t.Cleanup(func() { release(hold) })                                       // before p.Close, which waits for the peer's goroutines
	cfg.TickTime = time.Hour                                                  // no tick of ours lands in the tests' stream
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return p, c, hold
}

func release(hold chan struct{}) {
	select {
	case <-hold:
	default:
		close(hold)
	}
}

// ctxFor returns a context that ends after d.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// regSends collects the names of REG_SENDs (to "sink") the peer read,
// until the marker arrives.
func regSends(t *testing.T, p *fakepeer.Peer, marker term.Atom) []term.Atom {
	t.Helper()
	var got []term.Atom
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-p.Received:
			if ev.Kind != "msg" || len(ev.Ctrl) != 4 || ev.Ctrl[0] != int64(OpRegSend) || ev.Ctrl[3] != term.Atom("sink") {
				continue
			}
			tag := term.Atom("?")
			if tu, ok := ev.Payload.(term.Tuple); ok && len(tu) > 0 {
				tag, _ = tu[0].(term.Atom)
			}
			if tag == marker {
				return got
			}
			got = append(got, tag)
		case <-deadline:
			t.Fatalf("the peer never read the marker; read %v", got)
		}
	}
}

func sinkMsg(tag string, size int) term.Tuple {
	return term.Tuple{term.Atom(tag), make([]byte, size)}
}

// A packet of which part is on the wire when ctx ends: the caller returns
// at once with a timeout; a background writer finishes the packet, so the
// connection stays usable and in step.
func TestWriteCtxEndsMidPacket(t *testing.T) {
	p, c, hold := holdingPeer(t)
	t0 := time.Now()
	err := c.RegSend(ctxFor(t, 200*time.Millisecond), c.NewPid(), "sink", term.Tuple{term.Atom("big"), bigArg})
	d := time.Since(t0)
	if !IsTimeout(err) || !errors.Is(err, errPartialWrite) {
		t.Fatalf("want a timeout after a partial write, got %v", err)
	}
	if d > 3*time.Second { // ~200 ms on a quiet box; the bound is for a loaded CI box, far below the 60 s it took
		t.Fatalf("the send returned after %v, its context ended after 200ms", d)
	}
	if c.Err() != nil {
		t.Fatalf("the connection ended: %v", c.Err())
	}
	// A call while the rest is still being written: it is freed by its own
	// context too.
	t0 = time.Now()
	if _, err := c.Call(ctxFor(t, 100*time.Millisecond), "erlang", "node", nil); !IsTimeout(err) || time.Since(t0) > time.Second {
		t.Fatalf("a call behind the blocked write: %v after %v", err, time.Since(t0))
	}
	release(hold)
	if err := c.RegSend(ctxFor(t, 5*time.Second), c.NewPid(), "sink", term.Tuple{term.Atom("end")}); err != nil {
		t.Fatal(err)
	}
	if got := regSends(t, p, "end"); len(got) != 1 || got[0] != "big" {
		t.Fatalf("the peer read %v, want [big]", got)
	}
	if v, err := c.Call(ctx5(t), "erlang", "node", nil); err != nil || v != term.Atom(p.Name) {
		t.Fatalf("after the blocked write: %v %v", v, err)
	}
}

// A packet not written at all when ctx ends is withdrawn: the caller gets
// the timeout and the peer never sees the packet.
func TestWriteCtxEndsBeforePacket(t *testing.T) {
	p, c, hold := holdingPeer(t)
	// Fill the socket with the start of one valid packet while the test
	// holds the writer (its rest is written below, before the peer reads).
	filler, err := appendControl(make([]byte, frameHdr), term.Tuple{int64(OpRegSend), c.NewPid(), term.Atom(""), term.Atom("sink")},
		term.Tuple{term.Atom("filler"), bigArg}, true)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(filler, uint32(len(filler)-frameHdr))
	c.wmu.Lock()
	c.writing = true
	c.wmu.Unlock()
	fc := c.ownSocket()
	sent, err := fc.writeNoWait(filler)
	if err != nil || sent == len(filler) {
		t.Fatalf("filling the socket: %d of %d bytes, %v", sent, len(filler), err)
	}
	c.wmu.Lock()
	c.writing = false
	c.wmu.Unlock()

	t0 := time.Now()
	err = c.RegSend(ctxFor(t, 150*time.Millisecond), c.NewPid(), "sink", term.Tuple{term.Atom("withdrawn")})
	if !IsTimeout(err) || errors.Is(err, errPartialWrite) || time.Since(t0) > time.Second {
		t.Fatalf("want a timeout with nothing written, got %v after %v", err, time.Since(t0))
	}
	c.wmu.Lock()
	writing := c.writing
	c.wmu.Unlock()
	if writing {
		t.Fatalf("a withdrawn packet left a writer behind (%v)", err)
	}
	// Finish the filler, then let the peer read.
	c.wmu.Lock()
	c.writing = true
	c.wmu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := fc.Write(filler[sent:])
		done <- err
	}()
	release(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	c.wmu.Lock()
	c.writing = false
	c.wmu.Unlock()
	if err := c.RegSend(ctx5(t), c.NewPid(), "sink", term.Tuple{term.Atom("end")}); err != nil {
		t.Fatal(err)
	}
	if got := regSends(t, p, "end"); len(got) != 1 || got[0] != "filler" {
		t.Fatalf("the peer read %v, want [filler]", got)
	}
	if v, err := c.Call(ctx5(t), "erlang", "node", nil); err != nil || v != term.Atom(p.Name) {
		t.Fatalf("after the withdrawn write: %v %v", v, err)
	}
}

// Callers behind a writer that is blocked: a small packet is queued and its
// caller returns at once; a big one waits for room under its context and is
// withdrawn when that ends; the blocked owner itself is freed by its
// context; Ping and CallKill behind it end with theirs. Then the peer reads
// again and gets exactly what was not withdrawn, in order.
func TestWriteQueuedBehindBlockedWriter(t *testing.T) {
	p, c, hold := holdingPeer(t)
	ownerCtx, cancelOwner := context.WithCancel(context.Background())
	defer cancelOwner()
	owner := make(chan error, 1)
	go func() {
		owner <- c.RegSend(ownerCtx, c.NewPid(), "sink", term.Tuple{term.Atom("owner"), bigArg})
	}()
	waitFor(t, func() bool { c.wmu.Lock(); defer c.wmu.Unlock(); return c.writing })
	time.Sleep(50 * time.Millisecond) // the owner is in its wait for room

	t0 := time.Now()
	if err := c.RegSend(ctxFor(t, 2*time.Second), c.NewPid(), "sink", sinkMsg("small", 10)); err != nil || time.Since(t0) > time.Second {
		t.Fatalf("a small packet behind the writer: %v after %v", err, time.Since(t0))
	}
	t0 = time.Now()
	err := c.RegSend(ctxFor(t, 150*time.Millisecond), c.NewPid(), "sink", sinkMsg("queued_big", 1<<20))
	if !IsTimeout(err) || errors.Is(err, errPartialWrite) || time.Since(t0) > time.Second {
		t.Fatalf("a big packet behind the writer: %v after %v", err, time.Since(t0))
	}
	t0 = time.Now()
	if err := c.Ping(ctxFor(t, 150*time.Millisecond)); !IsTimeout(err) || time.Since(t0) > time.Second {
		t.Fatalf("ping behind the writer: %v after %v", err, time.Since(t0))
	}
	t0 = time.Now()
	if _, err := c.CallKill(ctxFor(t, 150*time.Millisecond), "m", "f", []any{make([]byte, 1<<20)}); !IsTimeout(err) || time.Since(t0) > time.Second {
		t.Fatalf("CallKill behind the writer: %v after %v", err, time.Since(t0))
	}

	t0 = time.Now()
	cancelOwner()
	select {
	case err := <-owner:
		if !IsCancelled(err) || !errors.Is(err, errPartialWrite) {
			t.Fatalf("the owner: want cancelled after a partial write, got %v", err)
		}
		if d := time.Since(t0); d > time.Second {
			t.Fatalf("the owner returned %v after its cancel", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the owner's cancel did not free it")
	}
	release(hold)
	if err := c.RegSend(ctx5(t), c.NewPid(), "sink", term.Tuple{term.Atom("end")}); err != nil {
		t.Fatal(err)
	}
	got := regSends(t, p, "end")
	if len(got) != 2 || got[0] != "owner" || got[1] != "small" {
		t.Fatalf("the peer read %v, want [owner small]", got)
	}
	if v, err := c.Call(ctx5(t), "erlang", "node", nil); err != nil || v != term.Atom(p.Name) { // the fake does not serve net_kernel
		t.Fatalf("a call afterwards: %v %v", v, err)
	}
	if c.Err() != nil {
		t.Fatal(c.Err())
	}
}

// With nobody reading at all, the background writer gives up at
// WriteTimeout and the connection ends (every waiter is freed).
func TestWriteBackgroundWriterTimesOut(t *testing.T) {
	if !fdDialSupported {
		t.Skip("own sockets only on Linux")
	}
	hold := make(chan struct{})
	defer release(hold)
	p, cfg := startFake(t, fakepeer.Behavior{HoldReads: hold})
	cfg.TickTime = time.Hour
	cfg.WriteTimeout = 500 * time.Millisecond
	c, err := Dial(context.Background(), cfg, p.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.RegSend(ctxFor(t, 100*time.Millisecond), c.NewPid(), "sink", term.Tuple{term.Atom("big"), bigArg})
	if !IsTimeout(err) {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
		if !IsNodeDown(c.Err()) {
			t.Fatalf("want node down, got %v", c.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the background writer did not give up at WriteTimeout")
	}
}
