// Coroutines made safe for the backend, and the untrusted-only test hook.
package pl

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// installCoroutine replaces coroutine.create, resume, wrap and yield:
//
//   - A coroutine runs under the engine's current cancellation context. A
//     thread gopher-lua creates gets a child context of its creator's, which
//     stays registered in the engine's context until the thread dies (an
//     abandoned coroutine would leak it) and goes stale when the engine
//     renews its context after a cancel. So threads are created without
//     one and given the engine's context on creation and on each resume.
//   - resume re-raises what Lua must not catch, as pcall does: a query
//     cancel or timeout, and a PostgreSQL error stashed for re-raise; and,
//     as pllua does, any SQL error (an error object plerl made): a
//     coroutine has no subtransaction that could roll back what failed,
//     so only a pcall outside it may catch one. Lua's own errors are
//     resume's false, message.
//   - yield refuses to leave a pcall of its own thread: the pcall's
//     subtransaction would stay open across the yield (gopher-lua cannot
//     yield across a Go function either; it corrupts the thread).
func (s *State) installCoroutine() {
	L := s.L
	co, ok := L.GetGlobal("coroutine").(*lua.LTable)
	if !ok {
		return
	}
	origCreate := co.RawGetString("create").(*lua.LFunction).GFunction
	origResume := co.RawGetString("resume").(*lua.LFunction).GFunction

	create := func(L *lua.LState) int {
		L.CheckFunction(1)
		L.SetTop(1)
		s.withoutContext(L, func() { origCreate(L) })
		L.CheckThread(2).SetContext(s.e.lctx)
		return 1
	}
	resume := func(L *lua.LState) int {
		th := L.CheckThread(1)
		if th.Context() != s.e.lctx {
			th.SetContext(s.e.lctx)
		}
		n := origResume(L)
		top := L.GetTop()
		if n >= 2 && L.Get(top-n+1) == lua.LFalse && (s.e.uncatchable() || s.isErrorObject(L.Get(top-n+2))) {
			L.Error(L.Get(top-n+2), 0)
		}
		return n
	}
	co.RawSetString("create", L.NewFunction(create))
	co.RawSetString("resume", L.NewFunction(resume))
	co.RawSetString("wrap", L.NewFunction(func(L *lua.LState) int {
		create(L)
		th := L.Get(-1)
		L.Push(L.NewFunction(func(L *lua.LState) int {
			L.Insert(th, 1)
			n := resume(L)
			top := L.GetTop()
			if L.Get(top-n+1) == lua.LFalse {
				L.Error(L.Get(top-n+2), 0)
			}
			return n - 1
		}))
		return 1
	}))
	co.RawSetString("yield", L.NewFunction(func(L *lua.LState) int {
		if s.pcalls[L] > 0 {
			L.RaiseError("cannot yield inside pcall: its subtransaction would stay open")
		}
		if s.lpcalls[L] > 0 {
			L.RaiseError("cannot yield inside lpcall (a Lua call cannot yield across it)")
		}
		return -1 // gopher-lua's coroutine.yield
	}))
}

// withoutContext runs fn with L's context removed, so a thread fn creates
// gets none.
func (s *State) withoutContext(L *lua.LState, fn func()) {
	ctx := L.RemoveContext()
	defer func() {
		if ctx != nil {
			L.SetContext(ctx)
		}
	}()
	fn()
}

// newThread makes a coroutine thread for Go to resume (a set-returning
// function's body), under the engine's context.
func (s *State) newThread(L *lua.LState) *lua.LState {
	var th *lua.LState
	s.withoutContext(L, func() { th, _ = L.NewThread() })
	th.SetContext(s.e.lctx)
	return th
}

func (s *State) leavePcall(L *lua.LState) {
	if n := s.pcalls[L] - 1; n > 0 {
		s.pcalls[L] = n
	} else {
		delete(s.pcalls, L)
	}
}

// installInternal adds test hooks to the untrusted language only:
// plerl.internal_panic(msg) is a real Go panic inside a Go built-in, for
// the boundary tests (it must become ERROR XX000 and leave the backend
// usable); plerl.internal_stats() counts what leak tests look at.
func (s *State) installInternal() {
	L := s.L
	t, ok := L.GetGlobal("plerl").(*lua.LTable)
	if !ok {
		t = L.NewTable()
		L.SetGlobal("plerl", t)
	}
	t.RawSetString("internal_panic", L.NewFunction(func(L *lua.LState) int {
		panic(fmt.Sprintf("plerl.internal_panic: %s", L.OptString(1, "test panic")))
	}))
	// plerl.internal_stats() -> {srfs = running set-returning functions,
	// heap_kb = Go heap in use}: for leak tests.
	t.RawSetString("internal_stats", L.NewFunction(func(L *lua.LState) int {
		st := L.NewTable()
		st.RawSetString("srfs", lua.LNumber(liveSRFs))
		st.RawSetString("heap_kb", lua.LNumber(heapBytes()/1024))
		L.Push(st)
		return 1
	}))
}
