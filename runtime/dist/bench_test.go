// Go benchmarks against a real node (allocation counts of the hot paths).
package dist

import (
	"context"
	"testing"

	"github.com/plerl/plerl/runtime/term"
)

func benchConn(b *testing.B) *Conn {
	n := startNode(b)
	c, err := Dial(context.Background(), testConfig(n), n.Name)
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
