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
