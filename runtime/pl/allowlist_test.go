package pl

import (
	"os"
	"strings"
	"testing"
	"time"
)

// Everything a state reaches is on the allow-list, and everything on it
// is there: a gopher-lua upgrade cannot add a function silently. The
// state is the one the handler makes: with the erlang module installed
// (its host is never called here).
func TestSandboxAllowList(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		e := NewEngine(fakeHost{})
		e.Modules = append(e.Modules, ErlangModule(listingHost{}))
		got := reachable(e.State(1, trusted).L)
		want := allowList(trusted)
		if g, w := renderAllowList(got), renderAllowList(want); g != w {
			t.Errorf("trusted=%v: the state reaches\n%s\nthe allow-list says\n%s", trusted, g, w)
		}
	}
}

// docs/lua-api.md shows the trusted allow-list as it is.
func TestSandboxAllowListDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/lua-api.md")
	if err != nil {
		t.Fatal(err)
	}
	want := "```\n" + renderAllowList(allowList(true)) + "```"
	if !strings.Contains(string(doc), want) {
		t.Errorf("docs/lua-api.md lacks the allow-list block:\n%s", want)
	}
}

// listingHost is an ErlangHost and AsyncHost that is never called: the
// erlang module installs what it would in a backend (the async built-ins
// only for a host that can run them).
type listingHost struct{ ErlangHost }

func (listingHost) Start(Target, []any, time.Duration, bool) (AsyncCall, error) { return nil, nil }
func (listingHost) Await(AsyncCall, time.Duration) (any, error)                 { return nil, nil }
func (listingHost) Abandon(AsyncCall)                                           {}
func (listingHost) MaxInFlight() int                                            { return 0 }
