// Checks the shared epmd (several peers, one listener) and the behaviours test/security relies on, through the real dist client.
package fakepeer

import (
	"context"
	"testing"
	"time"

	"github.com/plerl/plerl/runtime/dist"
	"github.com/plerl/plerl/runtime/term"
)

const cookie = "fakepeer-test-cookie"

// TestSharedEpmd: one epmd, peers with different behaviours, each found by
// name; an unknown name is not registered.
func TestSharedEpmd(t *testing.T) {
	e, err := StartEpmd("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	good, err := e.Start("good", cookie, Behavior{})
	if err != nil {
		t.Fatal(err)
	}
	silent, err := e.Start("silent", cookie, Behavior{SilentOnCall: true})
	if err != nil {
		t.Fatal(err)
	}
	hs, err := e.Start("silenths", cookie, Behavior{SilentHandshake: true})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.Start("raw", cookie, Behavior{RawReply: []byte{119, 2, 'o', 'k'}}) // SMALL_ATOM_UTF8_EXT ok
	if err != nil {
		t.Fatal(err)
	}
	cfg := &dist.Config{NodeName: "fakepeer_test@127.0.0.1", Cookie: cookie, EpmdPort: e.Port()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	c, err := dist.Dial(ctx, cfg, good.Name)
	if err != nil {
		t.Fatalf("good: %v", err)
	}
	if v, err := c.Call(ctx, "erlang", "node", nil); err != nil || v != term.Atom(good.Name) {
		t.Fatalf("good: erlang:node() = %v, %v", v, err)
	}
	c.Close()

	c, err = dist.Dial(ctx, cfg, raw.Name)
	if err != nil {
		t.Fatalf("raw: %v", err)
	}
	if v, err := c.Call(ctx, "m", "f", nil); err != nil || v != term.Atom("ok") {
		t.Fatalf("raw: got %v, %v", v, err)
	}
	c.Close()

	c, err = dist.Dial(ctx, cfg, silent.Name)
	if err != nil {
		t.Fatalf("silent: %v", err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := c.Call(short, "m", "f", nil); !dist.IsTimeout(err) {
		t.Fatalf("silent: want a timeout, got %v", err)
	}
	cancelShort()
	c.Close()

	short, cancelShort = context.WithTimeout(ctx, 300*time.Millisecond)
	if _, err := dist.Dial(short, cfg, hs.Name); !dist.IsTimeout(err) {
		t.Fatalf("silent handshake: want a timeout, got %v", err)
	}
	cancelShort()

	if _, err := dist.Dial(ctx, cfg, "nobody@127.0.0.1"); !dist.IsEpmd(err) {
		t.Fatalf("unknown name: want an epmd error, got %v", err)
	}
}
