package pl

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// poisonHost reports a stashed backend error once poisoned is set.
type poisonHost struct {
	fakeHost
	poisoned *bool
}

func (h poisonHost) Poisoned() bool { return *h.poisoned }

func run(t *testing.T, e *Engine, body string) ([]lua.LValue, error) {
	t.Helper()
	id, err := e.Compile("f", body, nil, true, false)
	if err != nil {
		t.Fatal(err)
	}
	return e.Call(id, 1, true, nil)
}

func TestCoroutines(t *testing.T) {
	cases := []luaCase{
		{"local co = coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)\n" +
			"local _, x = coroutine.resume(co, 1) local _, y = coroutine.resume(co, 10) return x + y", "22", ""},
		{"local g = coroutine.wrap(function() coroutine.yield(1) coroutine.yield(2) end) return g() + g()", "3", ""},
		{"local g = coroutine.wrap(function() error('in wrap') end) return g()", "", "in wrap"},
		{"local ok, e = coroutine.resume(coroutine.create(function() error('x', 0) end)) return tostring(ok) .. e", "falsex", ""},
		{"local co = coroutine.create(function() pcall(function() coroutine.yield() end) end)\n" +
			"local ok, e = coroutine.resume(co) return tostring(ok)", "true", ""},
		{"local co = coroutine.create(function() local ok, e = pcall(coroutine.yield) return e end)\n" +
			"local _, e = coroutine.resume(co) return e", "cannot yield inside pcall", ""},
		{"coroutine.yield(1)", "", "can not yield from outside of a coroutine"},
	}
	checkLuaCases(t, cases)
}

// An error the backend stashed cannot be swallowed by coroutine.resume.
func TestResumeRethrowsUncatchable(t *testing.T) {
	poisoned := false
	e := NewEngine(poisonHost{poisoned: &poisoned})
	s := e.State(1, true)
	s.L.SetGlobal("poison", s.L.NewFunction(func(L *lua.LState) int {
		poisoned = true
		L.RaiseError("stashed")
		return 0
	}))
	e.Enter()
	defer e.Leave()
	_, err := run(t, e, "local ok = coroutine.resume(coroutine.create(function() poison() end)) return 'swallowed'")
	if err == nil || !strings.Contains(err.Error(), "stashed") {
		t.Fatalf("error %v, want the stashed error re-raised", err)
	}
}

// A coroutine kept across calls follows the engine's context when it is
// renewed after a cancel.
func TestCoroutineAcrossCancel(t *testing.T) {
	e := NewEngine(fakeHost{})
	e.Enter()
	if _, err := run(t, e, "_G.gen = coroutine.wrap(function() while true do coroutine.yield(1) end end) return gen()"); err != nil {
		t.Fatal(err)
	}
	e.Leave()
	e.InterruptForQueryCancel()
	e.Enter()
	if _, err := run(t, e, "return 1"); err != nil {
		t.Fatalf("after renewal: %v", err)
	}
	rets, err := run(t, e, "return gen()")
	e.Leave()
	if err != nil || len(rets) != 1 || rets[0] != lua.LNumber(1) {
		t.Fatalf("kept coroutine after a cancel: %v %v", rets, err)
	}
}

// luaCase is a body run in a fresh engine: its first result contains want,
// or (errPart set) its error contains errPart.
type luaCase struct {
	body    string
	want    string
	errPart string
}

func checkLuaCases(t *testing.T, cases []luaCase) {
	t.Helper()
	for _, c := range cases {
		e := NewEngine(fakeHost{})
		e.Enter()
		rets, err := run(t, e, c.body)
		e.Leave()
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("%q: error %v, want %q", c.body, err, c.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.body, err)
			continue
		}
		if len(rets) == 0 || !strings.Contains(rets[0].String(), c.want) {
			t.Errorf("%q: got %v, want %q", c.body, rets, c.want)
		}
	}
}
