// Tests against a real Erlang node started by the test.
package dist

import (
	"context"
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

func TestLiveNode(t *testing.T) {
	n := startNode(t)
	c := dialNode(t, n, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := c.Call(ctx, "erlang", "node", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v != term.Atom(n.Name) {
		t.Fatalf("node() = %v", v)
	}
}
