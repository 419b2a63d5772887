// State: one sandboxed Lua state (per role in the trusted language).
package pl

import (
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
	"github.com/plerl/plerl/runtime/term"
)

// State is one Lua interpreter and the function instances that live in it.
type State struct {
	L         *lua.LState
	e         *Engine
	Trusted   bool
	instances map[int64]*lua.LFunction
	one       [1]lua.LValue // reused for single results (no allocation per call)
	key       stateKey
	typeState // int64, numeric, arrays, json (values.go)

	atoms map[term.Atom]*lua.LUserData // interned atoms

	dtMT lua.LValue // the datetime metatable (registerDateTime), nil before

	typeObjects map[pgType]lua.LValue // pgtype's type objects (pgtype.go)

	pcalls  map[*lua.LState]int // open pcalls per thread (coroutine.go)
	lpcalls map[*lua.LState]int // open lpcalls per thread (coroutine.go)
	uvOpen  []*lua.Upvalue      // upvalues open when protected calls began (upvalues.go)

	triggerMetas map[triggerKey]*lua.LTable // trigger.go
	lastTrigger  lastTrigger

	lazyMetas []lazyMeta // metatables made on first use (metaOf)

	cursorObjs cursorObjects // spi.go
}

// newTypeMeta registers an empty metatable as name, as L.NewTypeMetatable
// does, but sized for about n fields: gopher-lua's NewTable reserves 32
// array and 32 hash slots (about 2 kB), and newState makes dozens of
// metatables and module tables on the first call of each role.
func newTypeMeta(L *lua.LState, name string, n int) *lua.LTable {
	if mt, ok := L.G.Registry.RawGetString(name).(*lua.LTable); ok {
		return mt
	}
	mt := L.CreateTable(0, n)
	L.G.Registry.RawSetString(name, mt)
	return mt
}

// lazyMeta is a type's metatable not made yet: build registers it
// (newTypeMeta) under name.
type lazyMeta struct {
	name  string
	build func()
}

// lazyTypeMeta defers the metatable registered as name until a value of
// its type is first made (metaOf). A state is made per role on its first
// call, and most calls never make a plan, cursor, Erlang term or async
// handle: building those metatables in newState was part of the first
// call's cost. Nothing can tell the difference: values get their
// metatable only through metaOf, and isType compares with the registry,
// where a metatable not built yet matches nothing because no value has it.
func (s *State) lazyTypeMeta(name string, build func()) {
	s.lazyMetas = append(s.lazyMetas, lazyMeta{name: name, build: build})
}

// metaOf returns the metatable registered as name, building it first
// if it was deferred (lazyTypeMeta).
func (s *State) metaOf(name string) *lua.LTable {
	if mt, ok := s.L.GetTypeMetatable(name).(*lua.LTable); ok {
		return mt
	}
	for i := range s.lazyMetas {
		if m := &s.lazyMetas[i]; m.name == name && m.build != nil {
			build := m.build
			m.build = nil
			s.buildInGlobals(build)
			break
		}
	}
	if mt, ok := s.L.GetTypeMetatable(name).(*lua.LTable); ok {
		return mt
	}
	panic("plerl: no metatable registered as " + name)
}

// buildInGlobals runs build with the state's thread environment set to the
// globals, as it is when newState runs: the Go functions a metatable holds
// take the thread environment (L.Env, which setfenv(0, t) changes) as
// theirs, and getfenv can show it, so one made later must not take the
// table some function set.
func (s *State) buildInGlobals(build func()) {
	env := s.L.Env
	s.L.Env = s.L.G.Global
	defer func() { s.L.Env = env }()
	build()
}

func newState(e *Engine, trusted bool) *State {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:     true,
		CallStackSize:    200,
		RegistrySize:     1024,
		RegistryMaxSize:  1024 * 1024,
		RegistryGrowStep: 64,
		// A fixed call stack (16 kB a thread): gopher-lua v1.1.2's growing
		// one (MinimizeStackMemory) never reports itself full, and a PCall
		// begun with every frame in use loses the last 8 frames when it is
		// unwound (autoGrowingCallFrameStack.SetSp), so the VM went on in
		// frames that were gone: a nil dereference, or a recursion of pcall
		// or xpcall handlers that ignored cancel and terminate.
		MinimizeStackMemory: false,
	})
	s := &State{L: L, e: e, Trusted: trusted, instances: map[int64]*lua.LFunction{},
		pcalls: map[*lua.LState]int{}, lpcalls: map[*lua.LState]int{}}
	openLibs(s)
	registerErrorType(L)
	s.registerTypes()
	registerErlangTypes(s)
	s.installBuiltins()
	for _, m := range e.Modules {
		m(s)
	}
	L.SetContext(e.lctx)
	return s
}

// Engine returns the engine the state belongs to.
func (s *State) Engine() *Engine { return s.e }

// instance returns the function's closure in this state, with its own
// environment table (reads fall through to the globals; writes stay, so a
// function can keep what it set up on its first call).
//
// A function sees itself under its own name (when no global has that
// name), so it can call itself as pllua's can. A body in pllua's form is
// run here once (its code after the function's early `end`, too) and
// what it returns is the function.
func (s *State) instance(f *Func) (*lua.LFunction, error) {
	if f.lastState == s {
		return f.lastFn, nil
	}
	fn := s.instances[f.ID]
	if fn == nil {
		L := s.L
		fn = L.NewFunctionFromProto(f.proto)
		env := L.NewTable()
		mt := L.NewTable()
		globals := L.Get(lua.GlobalsIndex).(*lua.LTable)
		mt.RawSetString("__index", globals)
		L.SetMetatable(env, mt)
		fn.Env = env
		if f.factory {
			base := L.GetTop()
			L.Push(fn)
			mark := s.markUpvalues(L)
			err := L.PCall(0, 1, nil)
			s.restoreUpvalues(L, mark, err != nil) // upvalues.go: a call of this one may be running
			if err != nil {
				L.SetTop(base)
				return nil, s.e.fromLuaError(err)
			}
			made, ok := L.Get(-1).(*lua.LFunction)
			L.SetTop(base)
			if !ok {
				return nil, Errorf(sqlstate.InternalError, "plerl: the body of %s did not make a function", describe(f.Name))
			}
			fn = made
		}
		if f.self != "" && globals.RawGetString(f.self) == lua.LNil && env.RawGetString(f.self) == lua.LNil {
			env.RawSetString(f.self, fn)
		}
		s.instances[f.ID] = fn
	}
	f.lastState, f.lastFn = s, fn
	return fn, nil
}

func (s *State) call(f *Func, args []lua.LValue) ([]lua.LValue, error) {
	L := s.L
	if L.Context() != s.e.lctx {
		L.SetContext(s.e.lctx)
	}
	fn, err := s.instance(f)
	if err != nil {
		return nil, err
	}
	base := L.GetTop()
	L.Push(fn)
	for _, a := range args {
		L.Push(a)
	}
	// Lua -> SQL -> Lua runs on the same thread: a failed call (which SQL
	// may catch) must not close the upvalues of the calls below it.
	mark := s.markUpvalues(L)
	err = L.PCall(len(args), lua.MultRet, nil)
	s.restoreUpvalues(L, mark, err != nil) // upvalues.go
	if err != nil {
		L.SetTop(base)
		return nil, s.e.fromLuaError(err)
	}
	n := L.GetTop() - base
	var rets []lua.LValue
	if n == 1 {
		rets = s.one[:1]
		rets[0] = L.Get(base + 1)
	} else if n > 1 {
		rets = make([]lua.LValue, n)
		for i := 0; i < n; i++ {
			rets[i] = L.Get(base + 1 + i)
		}
	}
	L.SetTop(base)
	return rets, nil
}

// raise raises err as a Lua error object (never returns).
func (s *State) raise(err error) {
	// Raise in the running thread: built-ins also run inside coroutines.
	L := s.L.G.CurrentThread
	if L == nil {
		L = s.L
	}
	if he, ok := err.(*Error); ok {
		L.Error(newErrorObject(L, he), 0)
	}
	L.RaiseError("%s", err.Error())
}

func (s *State) installBuiltins() {
	L := s.L
	L.SetGlobal("print", L.NewFunction(s.luaPrint))
	s.installToString() // numtext.go
	L.SetGlobal("pcall", L.NewFunction(s.luaPcall))
	L.SetGlobal("xpcall", L.NewFunction(s.luaXpcall))
	L.SetGlobal("lpcall", L.NewFunction(s.luaLpcall))
	elog := L.CreateTable(0, 6)
	for name, level := range map[string]int{
		"debug": LevelDebug, "log": LevelLog, "info": LevelInfo,
		"notice": LevelNotice, "warning": LevelWarning,
	} {
		lv := level
		elog.RawSetString(name, L.NewFunction(func(L *lua.LState) int { return s.luaElog(L, lv) }))
	}
	elog.RawSetString("error", L.NewFunction(s.luaElogError))
	L.SetGlobal("elog", elog)
	s.installCoroutine()
	s.installSPI()
	if !s.Trusted {
		s.installInternal()
		s.preloadBuiltins()
	} else {
		s.installRequire() // require.go
	}
}

func (s *State) luaPrint(L *lua.LState) int {
	n := L.GetTop()
	strs := make([]string, n)
	size := n
	for i := range strs {
		strs[i] = s.tostring(L.Get(i + 1))
		size = addSize(size, len(strs[i]))
	}
	s.reserve(L, size, "print") // budget.go
	var b strings.Builder
	b.Grow(size)
	for i, str := range strs {
		if i > 0 {
			b.WriteByte('\t')
		}
		b.WriteString(str)
	}
	if err := s.e.host.Elog(LevelInfo, b.String(), "", ""); err != nil {
		s.raise(err)
	}
	return 0
}

// tostring applies Lua's tostring (with __tostring).
func (s *State) tostring(v lua.LValue) string {
	if str, ok := v.(lua.LString); ok {
		return string(str)
	}
	L := s.L
	L.Push(L.GetGlobal("tostring"))
	L.Push(v)
	L.Call(1, 1)
	r := L.Get(-1)
	L.Pop(1)
	return lua.LVAsString(r)
}

// elog.notice(msg [, {detail=..., hint=...}])
func (s *State) luaElog(L *lua.LState, level int) int {
	msg := s.tostring(L.CheckAny(1))
	var detail, hint string
	if opts, ok := L.Get(2).(*lua.LTable); ok {
		detail = lua.LVAsString(opts.RawGetString("detail"))
		hint = lua.LVAsString(opts.RawGetString("hint"))
	}
	if err := s.e.host.Elog(level, msg, detail, hint); err != nil {
		s.raise(err)
	}
	return 0
}

// elog.error(msg [, {sqlstate=..., detail=..., hint=...}]) raises.
func (s *State) luaElogError(L *lua.LState) int {
	e := &Error{Kind: KindError, SQLState: sqlstate.RaiseException, Message: s.tostring(L.CheckAny(1))}
	if opts, ok := L.Get(2).(*lua.LTable); ok {
		if st := lua.LVAsString(opts.RawGetString("sqlstate")); st != "" {
			if !validSQLState(st) {
				L.ArgError(2, "sqlstate must be 5 characters of 0-9 and A-Z")
			}
			e.SQLState = st
		}
		e.Detail = lua.LVAsString(opts.RawGetString("detail"))
		e.Hint = lua.LVAsString(opts.RawGetString("hint"))
	}
	L.Error(newErrorObject(L, e), 0)
	return 0
}

// pcall runs the function inside a subtransaction, so a caught SQL error
// leaves the transaction usable. Cancellation and stashed backend errors
// are re-raised: Lua cannot swallow them.
func (s *State) luaPcall(L *lua.LState) int {
	L.CheckAny(1)
	return s.protected(L, L.GetTop()-1, nil)
}

func (s *State) luaXpcall(L *lua.LState) int {
	L.CheckAny(1)
	handler := L.CheckFunction(2)
	L.Remove(2)
	return s.protected(L, L.GetTop()-1, handler)
}

func (s *State) protected(L *lua.LState, nargs int, handler *lua.LFunction) int {
	host := s.e.host
	// coroutine.yield refuses to leave a pcall of its thread (coroutine.go).
	s.pcalls[L]++
	defer s.leavePcall(L)
	if err := host.SubxactBegin(); err != nil {
		s.raise(err)
	}
	base := L.GetTop() - nargs - 1 // below the function
	mark := s.markUpvalues(L)
	err := L.PCall(nargs, lua.MultRet, nil)
	s.restoreUpvalues(L, mark, err != nil) // upvalues.go
	if err != nil {
		if abortErr := host.SubxactAbort(); abortErr != nil {
			s.raise(abortErr)
		}
		if s.e.uncatchable() {
			s.rethrow(err)
		}
		obj := errorValue(err)
		L.SetTop(base)
		L.Push(lua.LFalse)
		if handler != nil {
			L.Push(handler)
			L.Push(obj)
			// The handler's own error closes the caller's upvalues too.
			hmark := s.markUpvalues(L)
			herr := L.PCall(1, 1, nil)
			s.restoreUpvalues(L, hmark, herr != nil) // upvalues.go
			if herr != nil {
				// As in pllua: an SQL error in the handler goes on to the
				// caller of xpcall (the handler is no place to catch it);
				// any other error in it is Lua's "error in error handling".
				hobj := errorValue(herr)
				if s.e.uncatchable() || s.isErrorObject(hobj) {
					s.rethrow(herr)
				}
				L.Push(lua.LString("error in error handling"))
			}
			return 2
		}
		L.Push(obj)
		return 2
	}
	if cerr := host.SubxactCommit(); cerr != nil {
		s.raise(cerr)
	}
	n := L.GetTop() - base
	L.Insert(lua.LTrue, base+1)
	return n + 1
}

// lpcall is pllua's pcall for Lua errors only: no subtransaction, so an
// SQL error (an error object plerl made: a backend error, spi.error,
// elog.error, a built-in's refusal), a cancel or a stashed backend error
// goes on to the caller; error('x'), error{...} and runtime errors are
// caught as pcall catches them.
func (s *State) luaLpcall(L *lua.LState) int {
	L.CheckAny(1)
	nargs := L.GetTop() - 1
	// A yield must not leave this Go call in progress (coroutine.go).
	s.lpcalls[L]++
	defer func() {
		if s.lpcalls[L]--; s.lpcalls[L] == 0 {
			delete(s.lpcalls, L)
		}
	}()
	base := L.GetTop() - nargs - 1
	mark := s.markUpvalues(L)
	err := L.PCall(nargs, lua.MultRet, nil)
	s.restoreUpvalues(L, mark, err != nil) // upvalues.go
	if err != nil {
		obj := errorValue(err)
		if s.e.uncatchable() || s.isErrorObject(obj) {
			s.rethrow(err)
		}
		L.SetTop(base)
		L.Push(lua.LFalse)
		L.Push(obj)
		return 2
	}
	n := L.GetTop() - base
	L.Insert(lua.LTrue, base+1)
	return n + 1
}

// isErrorObject reports whether v is an error object plerl made
// (newErrorObject): an SQL error, as opposed to one Lua raised.
func (s *State) isErrorObject(v lua.LValue) bool {
	t, ok := v.(*lua.LTable)
	return ok && t.Metatable != lua.LNil && t.Metatable == s.L.GetTypeMetatable(errorMetaName)
}

func errorValue(err error) lua.LValue {
	if api, ok := err.(*lua.ApiError); ok {
		return api.Object
	}
	return lua.LString(err.Error())
}

func (s *State) rethrow(err error) {
	// In the running thread (pcall also runs inside coroutines): raising
	// on another thread would push onto its stack.
	L := s.L.G.CurrentThread
	if L == nil {
		L = s.L
	}
	L.Error(errorValue(err), 0)
}
