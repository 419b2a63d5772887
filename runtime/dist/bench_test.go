// Go benchmarks against a real node (allocation counts of the hot paths).
package dist

import (
	"context"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

func benchConn(b *testing.B, writerG ...bool) *Conn {
	n := startNode(b)
	cfg := testConfig(n)
	cfg.writerGoroutine = len(writerG) > 0
	c, err := Dial(context.Background(), cfg, n.Name)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func BenchmarkLiveCallNode(b *testing.B) {
	c := benchConn(b)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.Call(ctx, "erlang", "node", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLiveCallNodeParallel(b *testing.B) {
	c := benchConn(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Call(ctx, "erlang", "node", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLiveEcho(b *testing.B) {
	c := benchConn(b)
	ctx := context.Background()
	me := c.NewPid()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := c.RegSend(ctx, me, "t_echo", term.Tuple{me, int64(i), term.Atom("ok")}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Receive(ctx, me); err != nil {
			b.Fatal(err)
		}
	}
}

// The same call latency with every write handed to a writer goroutine
// (the alternative to the combining writer; see useWriterGoroutine).
func BenchmarkLiveCallNodeWriterGoroutine(b *testing.B) {
	c := benchConn(b, true)
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := c.Call(ctx, "erlang", "node", nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLiveCallNodeParallelWriterGoroutine(b *testing.B) {
	c := benchConn(b, true)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Call(ctx, "erlang", "node", nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestMeasureWriterDesigns compares call latency (median, p99) of the
// combining writer and a writer goroutine, alternating runs on one node.
// Run with PLERL_DIST_MEASURE=1 (results in bench/distbench/README.md).
func TestMeasureWriterDesigns(t *testing.T) {
	if os.Getenv("PLERL_DIST_MEASURE") != "1" {
		t.Skip("set PLERL_DIST_MEASURE=1")
	}
	n := startNode(t)
	measure := func(writerG bool, conc int) (med, p99 time.Duration) {
		cfg := testConfig(n)
		cfg.writerGoroutine = writerG
		c, err := Dial(context.Background(), cfg, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		const calls = 4000
		lat := make([]time.Duration, calls*conc)
		var wg sync.WaitGroup
		for g := 0; g < conc; g++ {
			wg.Add(1)
			go func(l []time.Duration) {
				defer wg.Done()
				for i := -500; i < len(l); i++ {
					t0 := time.Now()
					if _, err := c.Call(ctx, "erlang", "node", nil); err != nil {
						t.Error(err)
						return
					}
					if i >= 0 {
						l[i] = time.Since(t0)
					}
				}
			}(lat[g*calls : (g+1)*calls])
		}
		wg.Wait()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		return lat[len(lat)/2], lat[len(lat)*99/100]
	}
	for _, conc := range []int{1, 8} {
		for round := 0; round < 4; round++ {
			for _, wg := range []bool{false, true} {
				med, p99 := measure(wg, conc)
				name := "combining"
				if wg {
					name = "writer-goroutine"
				}
				t.Logf("conc=%d %-17s median=%v p99=%v", conc, name, med, p99)
			}
		}
	}
}

// TestMeasureReaderHandoff compares a Call (reply routed by the reader
// goroutine) with the same call done synchronously by the calling
// goroutine (write, then read and dispatch the reply itself): the
// difference is the cost of the reader hand-off.
func TestMeasureReaderHandoff(t *testing.T) {
	if os.Getenv("PLERL_DIST_MEASURE") != "1" {
		t.Skip("set PLERL_DIST_MEASURE=1")
	}
	n := startNode(t)
	const calls = 5000
	run := func(direct bool) time.Duration {
		cfg := testConfig(n)
		cfg.noGoroutines = direct
		c, err := Dial(context.Background(), cfg, n.Name)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		lat := make([]time.Duration, calls)
		for i := -500; i < calls; i++ {
			t0 := time.Now()
			if direct {
				k := c.newRefKey()
				b := append([]byte(nil), c.rexHdr...)
				b = c.appendOurRef(b, k)
				b = append(b, tagSmallTuple, 5, tagSmallAtomUTF8, 4, 'c', 'a', 'l', 'l')
				b = appendAtom(appendAtom(b, "erlang"), "node")
				b = append(b, tagNil, tagSmallAtomUTF8, 4, 'u', 's', 'e', 'r')
				cl := c.register(k, false)
				if err := c.writeFrame(context.Background(), b); err != nil {
					t.Fatal(err)
				}
				for len(cl.ch) == 0 {
					f, err := readFrame(c.br, 1<<20)
					if err != nil {
						t.Fatal(err)
					}
					if f != nil {
						c.dispatch(f)
					}
				}
				r := <-cl.ch
				if _, _, err := term.Decode(r.buf, nil); err != nil {
					t.Fatal(err)
				}
			} else if _, err := c.Call(context.Background(), "erlang", "node", nil); err != nil {
				t.Fatal(err)
			}
			if i >= 0 {
				lat[i] = time.Since(t0)
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		if !direct {
			t.Logf("waits: direct %d parked %d", c.directWaits.Load(), c.parkedWaits.Load())
		}
		return lat[calls/2]
	}
	for round := 0; round < 5; round++ {
		t.Logf("reader goroutine %v   direct read %v", run(false), run(true))
	}
}
