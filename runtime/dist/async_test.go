// Live tests of calls in flight (Conn.Go, Pending.Wait, Pending.Abandon).
package dist

import (
	"testing"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

// Many calls sent before any is awaited all come back, each to its own
// Pending, whatever order they are awaited in; rex and erpc alike.
func TestLiveGoPipelined(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	ctx := ctx5(t)
	for _, kill := range []bool{false, true} {
		var ps []*Pending
		for i := 0; i < 500; i++ {
			p, err := c.Go(ctx, "erlang", "abs", []any{int64(-i)}, kill)
			if err != nil {
				t.Fatalf("Go %d: %v", i, err)
			}
			ps = append(ps, p)
		}
		for i := len(ps) - 1; i >= 0; i-- { // backwards: out of order
			v, err := ps[i].Wait(ctx)
			if err != nil || v != int64(i) {
				t.Fatalf("kill=%v: item %d: %v %v", kill, i, v, err)
			}
		}
		if _, err := ps[0].Wait(ctx); err == nil {
			t.Fatal("a spent Pending gave a result twice")
		}
		c.pmu.Lock()
		left := len(c.pending)
		c.pmu.Unlock()
		if left != 0 {
			t.Fatalf("kill=%v: %d calls left in the pending map", kill, left)
		}
	}
}

// Abandoning erpc calls kills their workers on the node: the process
// count goes back to where it was. Abandoning rex calls forgets them.
func TestLiveGoAbandonKills(t *testing.T) {
	n := shared(t)
	c := dialNode(t, n, nil)
	ctx := ctx5(t)
	count := func() int64 {
		v, err := c.Call(ctx, "erlang", "system_info", []any{term.Atom("process_count")})
		if err != nil {
			t.Fatal(err)
		}
		return v.(int64)
	}
	before := count()
	var ps []*Pending
	for i := 0; i < 50; i++ {
		p, err := c.Go(ctx, "timer", "sleep", []any{int64(60000)}, true)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	deadline := time.Now().Add(3 * time.Second)
	for count() < before+50 {
		if time.Now().After(deadline) {
			t.Fatalf("workers never all ran: %d, want %d", count(), before+50)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, p := range ps {
		p.Abandon()
	}
	deadline = time.Now().Add(2 * time.Second)
	for count() > before {
		if time.Now().After(deadline) {
			t.Fatalf("abandoned workers still alive: %d processes, %d before", count(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Abandoned right after sending (pid not yet known): killed when
	// SPAWN_REPLY comes.
	for i := 0; i < 20; i++ {
		p, err := c.Go(ctx, "timer", "sleep", []any{int64(60000)}, true)
		if err != nil {
			t.Fatal(err)
		}
		p.Abandon()
	}
	deadline = time.Now().Add(2 * time.Second)
	for count() > before {
		if time.Now().After(deadline) {
			t.Fatalf("workers abandoned before their pid was known still alive: %d, %d before", count(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.pmu.Lock()
	left := len(c.pending)
	c.pmu.Unlock()
	if left != 0 {
		t.Fatalf("%d calls left in the pending map", left)
	}
}

// OneWaiter and Hold, as a backend's pipeline uses them: requests held and
// sent in runs, each awaited in order by the one goroutine that made them.
// Every result is right, the waits read the socket themselves (no parked
// hand-off once a run is out), requests go out in fewer writes than there
// are calls, and nothing stays pending or held.
func TestLiveOneWaiterHold(t *testing.T) {
	n := shared(t)
	cfg := testConfig(n)
	cfg.OneWaiter = true
	c := dialNode(t, n, cfg)
	ctx := ctx5(t)
	for _, kill := range []bool{false, true} {
		const total, max = 2000, 64
		var q []*Pending
		next, done := 0, 0
		frames0, parked0 := c.wframes.Load(), c.parkedWaits.Load()
		for done < total {
			c.Hold()
			for len(q) < max && next < total {
				p, err := c.Go(ctx, "erlang", "abs", []any{int64(-next)}, kill)
				if err != nil {
					t.Fatalf("Go %d: %v", next, err)
				}
				q = append(q, p)
				next++
			}
			for len(q) > max/2 || (len(q) > 0 && next == total) {
				v, err := q[0].Wait(ctx) // releases what is held first
				if err != nil || v != int64(done) {
					t.Fatalf("kill=%v: item %d: %v %v", kill, done, v, err)
				}
				q = q[1:]
				done++
			}
		}
		c.Release()
		frames, parked := c.wframes.Load()-frames0, c.parkedWaits.Load()-parked0
		t.Logf("kill=%v: %d calls, %d writes, %d parked waits", kill, total, frames, parked)
		if frames >= total/4 {
			t.Errorf("kill=%v: %d writes for %d calls: Hold did not batch them", kill, frames, total)
		}
		if parked > total/100 {
			t.Errorf("kill=%v: %d of %d waits parked for the reader goroutine", kill, parked, total)
		}
		c.pmu.Lock()
		left := len(c.pending)
		c.pmu.Unlock()
		c.wmu.Lock()
		held := len(c.wbuf)
		c.wmu.Unlock()
		if left != 0 || held != 0 || c.held.Load() {
			t.Fatalf("kill=%v: %d pending, %d bytes held (held=%v)", kill, left, held, c.held.Load())
		}
	}
}

// OneWaiter, calls one at a time: once the reader goroutine has taken the
// duty back (idle for dutyGrace), the next call parks for it, but the reader
// then gives the duty up (the parked caller's reply is taken, so it no
// longer counts as waiting) and the calls after it read for themselves.
// As without OneWaiter, a few to a few dozen of 200 park (measured; the
// bound is generous for a loaded box); a reader that kept the duty would
// make all 200 park.
func TestLiveOneWaiterSequential(t *testing.T) {
	n := shared(t)
	cfg := testConfig(n)
	cfg.OneWaiter = true
	c := dialNode(t, n, cfg)
	ctx := ctx5(t)
	for round := 0; round < 5; round++ {
		time.Sleep(3 * dutyGrace) // the reader takes the duty back
		parked0 := c.parkedWaits.Load()
		for i := 0; i < 200; i++ {
			if v, err := c.Call(ctx, "erlang", "abs", []any{int64(-i)}); err != nil || v != int64(i) {
				t.Fatalf("call %d: %v %v", i, v, err)
			}
		}
		t.Logf("round %d: %d parked", round, c.parkedWaits.Load()-parked0)
		if parked := c.parkedWaits.Load() - parked0; parked > 100 {
			t.Fatalf("round %d: %d of 200 calls in a row parked for the reader goroutine", round, parked)
		}
	}
}
