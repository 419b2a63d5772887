package pl

import "testing"

// A caught error closes only the upvalues of the frames it unwinds: the
// caller's locals stay shared with its closures (gopher-lua closed them
// all), and a closure made in the failed call keeps its own copy.
func TestUpvaluesAfterCaughtError(t *testing.T) {
	if checkUpvalueMirror(); !uvMirror.ok {
		t.Fatal("the upvalue mirror does not match gopher-lua's LState and Upvalue")
	}
	e := NewEngine(fakeHost{})
	for src, want := range map[string]string{
		`local n = 0 local function inc() n = n + 1 end pcall(error, 'x') inc() return n`:                                  "1",
		`local n = 0 local function inc() n = n + 1 end pcall(function() local z = 1 error('x') end) inc() inc() return n`: "2",
		`local n = 0 local function inc() n = n + 1 end lpcall(error, 'x') inc() return n`:                                 "1",
		`local n = 0 local function inc() n = n + 1 end xpcall(error, function(e) return e end) inc() return n`:            "1",
		// an xpcall handler that itself errors (its error closed them again)
		`local n = 0 local function inc() n = n + 1 end
		 xpcall(function() error('x') end, function(e) error('y') end) inc() return n`: "1",
		`local n = 0 local function inc() n = n + 1 end
		 xpcall(error, function(e) local q = nil; return q.x end) inc() inc() return n`: "2",
		// nested pcalls
		`local n = 0 local function inc() n = n + 1 end
		 pcall(function() pcall(error, 'a') error('b') end) inc() return n`: "1",
		`local n = 0 local function inc() n = n + 1 end
		 pcall(function() xpcall(error, function() return 1 end) local q = nil; q.x = 1 end) inc() return n`: "1",
		// a closure made in the failed call keeps the value its local had
		`local t = {}
		 pcall(function() local x = 41 t.f = function() x = x + 1 return x end error('boom') end)
		 local a = t.f()
		 local junk1, junk2, junk3 = {}, 'overwrite', 99
		 return a .. ' ' .. t.f()`: "42 43",
		// errors caught in a loop, closures of the loop body
		`local fs, n = {}, 0
		 for i = 1, 3 do
		   local j = i
		   fs[i] = function() n = n + j end
		   pcall(error, i)
		 end
		 for i = 1, 3 do fs[i]() end
		 return n`: "6",
		// a runtime error (not error()) caught by pcall
		`local n = 0 local function inc() n = n + 1 end pcall(function() return nil + 1 end) inc() return n`: "1",
		// coroutine errors: the coroutine's own frames only
		`local n = 0 local function inc() n = n + 1 end
		 coroutine.resume(coroutine.create(function() error('c') end)) inc() return n`: "1",
	} {
		got, err := evalLua(t, e, src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
		} else if got != want {
			t.Errorf("%s = %q, want %q", src, got, want)
		}
	}
}

// After a Go panic that pcall recovered (gopher-lua closes no upvalue
// then), the upvalues the failed call opened are closed: its closure no
// longer reads a register the caller reuses; the caller's stay shared.
func TestUpvaluesAfterGoPanic(t *testing.T) {
	e := NewEngine(fakeHost{})
	src := `local n = 0 local function inc() n = n + 1 end
		local h
		pcall(function() local y = 'inner' h = function() return y end plerl.internal_panic('p') end)
		local a, b, c, d, e = 'r1', 'r2', 'r3', 'r4', 'r5'
		local function f() local p, q, r, s = 'f1', 'f2', 'f3', 'f4' return h() end
		inc()
		return tostring(h()) .. ' ' .. tostring(f()) .. ' ' .. n`
	id, err := e.Compile("t", src, nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	e.Enter()
	defer e.Leave()
	rets, err := e.Call(id, 1, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := rets[0].String(); got != "nil nil 1" {
		t.Errorf("got %q, want %q (a closure of the failed call read the caller's registers)", got, "nil nil 1")
	}
}
