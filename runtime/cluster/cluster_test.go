package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTest(p Policy, members ...string) (*Group, *clock) {
	c := &clock{t: time.Unix(1000, 0)}
	return New(members, p, Config{BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second, Now: c.now}), c
}

var three = []string{"a@h1", "b@h2", "c@h3"}

func counts(g *Group, n int, key func(int) string) map[string]int {
	out := map[string]int{}
	for i := 0; i < n; i++ {
		o := g.Order(key(i))
		out[o[0]]++
	}
	return out
}

func TestParsePolicy(t *testing.T) {
	for _, s := range []string{"round_robin", "random", "first", "affinity"} {
		p, err := ParsePolicy(s)
		if err != nil || p.String() != s {
			t.Fatalf("%s: %v %v", s, p, err)
		}
	}
	if _, err := ParsePolicy("least_loaded"); err == nil {
		t.Fatal("unknown policy accepted")
	}
}

func TestRoundRobinExact(t *testing.T) {
	g, _ := newTest(RoundRobin, three...)
	c := counts(g, 3000, func(int) string { return "" })
	for _, m := range three {
		if c[m] != 1000 {
			t.Fatalf("round robin: %v", c)
		}
	}
	// The rest of an order is the failover path: every live member once.
	if o := g.Order(""); len(o) != 3 || o[0] == o[1] || o[1] == o[2] || o[0] == o[2] {
		t.Fatalf("order %v", o)
	}
}

func TestRandomSpread(t *testing.T) {
	g, _ := newTest(Random, three...)
	c := counts(g, 30000, func(int) string { return "" })
	for _, m := range three {
		if c[m] < 9000 || c[m] > 11000 {
			t.Fatalf("random spread outside 10%%: %v", c)
		}
	}
}

func TestFirstIsPrimaryThenStandbys(t *testing.T) {
	g, clk := newTest(First, three...)
	if o := g.Order(""); strings.Join(o, ",") != "a@h1,b@h2,c@h3" {
		t.Fatalf("order %v", o)
	}
	g.Down("a@h1", errors.New("refused"))
	if o := g.Order(""); o[0] != "b@h2" || len(o) != 2 {
		t.Fatalf("after primary down: %v", o)
	}
	clk.t = clk.t.Add(100 * time.Millisecond) // its backoff passed: the primary is probed again
	if o := g.Order(""); o[0] != "a@h1" {
		t.Fatalf("primary not retried after its backoff: %v", o)
	}
}

func TestAffinityStableAndSpread(t *testing.T) {
	g, clk := newTest(Affinity, three...)
	key := func(i int) string { return fmt.Sprintf("customer-%d", i) }
	first := map[string]string{}
	for i := 0; i < 3000; i++ {
		first[key(i)] = g.Order(key(i))[0]
	}
	c := map[string]int{}
	for i := 0; i < 3000; i++ { // same key, same member, every time
		m := g.Order(key(i))[0]
		if m != first[key(i)] {
			t.Fatalf("key %s moved from %s to %s", key(i), first[key(i)], m)
		}
		c[m]++
	}
	for _, m := range three {
		if c[m] < 800 || c[m] > 1200 {
			t.Fatalf("affinity spread: %v", c)
		}
	}
	// b down: only b's keys move, and they come back when b is up again.
	g.Down("b@h2", errors.New("gone"))
	moved := 0
	for i := 0; i < 3000; i++ {
		m := g.Order(key(i))[0]
		if first[key(i)] == "b@h2" {
			moved++
			if m == "b@h2" {
				t.Fatal("down member picked")
			}
		} else if m != first[key(i)] {
			t.Fatalf("key %s of a live member moved", key(i))
		}
	}
	if moved != c["b@h2"] {
		t.Fatalf("moved %d, b had %d", moved, c["b@h2"])
	}
	clk.t = clk.t.Add(time.Second)
	g.Up("b@h2")
	for i := 0; i < 3000; i++ {
		if g.Order(key(i))[0] != first[key(i)] {
			t.Fatal("key did not come back to its member")
		}
	}
}

func TestDownBackoffDoublesToMax(t *testing.T) {
	g, clk := newTest(RoundRobin, three...)
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for _, w := range want {
		until := g.Down("c@h3", errors.New("econnrefused"))
		if got := until.Sub(clk.t); got != w*time.Millisecond {
			t.Fatalf("backoff %v, want %v", got, w*time.Millisecond)
		}
		for i := 0; i < 10; i++ {
			for _, m := range g.Order("") {
				if m == "c@h3" {
					t.Fatal("member in backoff offered")
				}
			}
		}
		clk.t = until
		if s := g.Stats()[2]; s.State != "retrying" {
			t.Fatalf("state after window: %+v", s)
		}
	}
	g.Up("c@h3")
	if s := g.Stats()[2]; s.State != "up" || s.Failures != uint64(len(want)) || s.LastError != "econnrefused" {
		t.Fatalf("stats %+v", s)
	}
	// Up forgot the failures: the next window is the minimum again.
	if until := g.Down("c@h3", nil); until.Sub(clk.t) != 100*time.Millisecond {
		t.Fatal("failures not reset by Up")
	}
}

func TestAllDownNamesMembers(t *testing.T) {
	g, _ := newTest(RoundRobin, three...)
	for _, m := range three {
		g.Down(m, fmt.Errorf("%s refused", m))
	}
	if o := g.Order(""); len(o) != 0 {
		t.Fatalf("order with all down: %v", o)
	}
	err := g.AllDown()
	if !IsAllDown(err) {
		t.Fatal("not an AllDownError")
	}
	for _, m := range three {
		if !strings.Contains(err.Error(), m+" (down for another") || !strings.Contains(err.Error(), m+" refused") {
			t.Fatalf("%q does not name %s", err, m)
		}
	}
}

func TestShare(t *testing.T) {
	g, _ := newTest(RoundRobin, three...)
	for i := 0; i < 300; i++ {
		g.Picked(g.Order("")[0])
	}
	for _, s := range g.Stats() {
		if s.Picks != 100 || s.Share < 0.333 || s.Share > 0.334 {
			t.Fatalf("share %+v", s)
		}
	}
}

// BenchmarkPick is what a group adds to a call: the order, the pick, up.
func BenchmarkPick(b *testing.B) {
	for _, p := range []Policy{RoundRobin, First, Affinity} {
		b.Run(p.String(), func(b *testing.B) {
			g := New(three, p, Config{})
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				m := g.Order("customer-42")[0]
				g.Up(m)
				g.Picked(m)
			}
		})
	}
}
