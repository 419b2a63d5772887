// Engine: per-role Lua states, the compiled-function cache, and calls.
package pl

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Host is what the backend offers Lua. The cgo handler implements it with C
// guards; every method returns an *Error on failure.
type Host interface {
	Elog(level int, msg, detail, hint string) error
	SubxactBegin() error
	SubxactCommit() error
	SubxactAbort() error
	// Poisoned reports that a PostgreSQL error is stashed for re-raise: no
	// Lua code may catch anything any more in this call.
	Poisoned() bool
	// A host that can run SQL also implements SPI (spi.go); the spi
	// module asks for it when Lua first uses it.
}

// Elog levels: the numbers of PLERL_DEBUG.. in handler/plerl.h (checked at
// compile time in handler/protocol.go).
const (
	LevelDebug = 1 + iota
	LevelLog
	LevelInfo
	LevelNotice
	LevelWarning
)

// Func is one compiled function body.
type Func struct {
	ID       int64
	Name     string
	Trusted  bool
	proto    *lua.FunctionProto
	argNames []string

	lastState *State // the state lastFn lives in
	lastFn    *lua.LFunction

	// factory: proto is pllua's form of the body (a chunk that defines
	// the function and returns it, after code that runs once); each state
	// runs it once and calls what it returned.
	factory bool
	// self is the name under which the function sees itself in its
	// environment (unless a global of that name exists); "" for none.
	self string
	// rowsStay: a trigger function compiled as a function of (trigger,
	// old, new, ...) that provably keeps none of those tables past a call
	// (rowsstay.go): its caller may reuse them for the next row.
	rowsStay bool
}

// TriggerArgs are the parameters of a trigger function's body: the trigger
// object, the old and the new row; `...` is the CREATE TRIGGER arguments.
var TriggerArgs = []string{"trigger", "old", "new"}

// Engine holds everything Lua in one backend.
type Engine struct {
	host   Host
	states map[stateKey]*State
	funcs  map[int64]*Func
	nextID int64

	// ctx is shared by all states; replaced only after it was cancelled
	// (gopher-lua checks it on every instruction).
	ctx    context.Context
	cancel context.CancelFunc
	lctx   *luaCtx      // what the Lua states see of ctx (luaCtx)
	reason atomic.Int32 // why ctx was cancelled (cancel*)
	depth  int          // nesting of Call
	calls  uint64       // outermost calls entered (per-call caches key on it)

	// Extra global modules installed in every new state (erlang, spi...).
	Modules []Module

	// One-entry caches for the common case of many calls of one function
	// by one role (a function in a query over many rows).
	lastFunc  *Func
	lastState *State

	sends []DeferredSend // erlang sends waiting for COMMIT

	// memLimit is plerl.lua_memory_limit in bytes (0: none), set by the
	// handler at each outermost call; built-ins check a result against it
	// before they build it (budget.go).
	memLimit uint64
}

// Module installs globals into a fresh state.
type Module func(s *State)

// Why a call was stopped.
const (
	cancelNone int32 = iota
	cancelInterrupt
	cancelTimeLimit
	cancelMemory
)

type stateKey struct {
	user    uint32
	trusted bool
}

// NewEngine makes an engine talking to host.
func NewEngine(host Host) *Engine {
	checkFastTables()
	checkUpvalueMirror() // upvalues.go
	e := &Engine{host: host, states: map[stateKey]*State{}, funcs: map[int64]*Func{}}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.lctx = &luaCtx{Context: e.ctx}
	return e
}

// Host returns the engine's host.
func (e *Engine) Host() Host { return e.host }

// Compile compiles a function body. The body is a Lua chunk: its arguments
// arrive as `...` and, when named, as locals of those names.
func (e *Engine) Compile(name, src string, argNames []string, trusted, validateOnly bool) (int64, error) {
	return e.compile(name, src, argNames, false, trusted, validateOnly)
}

// CompileVariadic compiles the body of a function with VARIADIC "any":
// argNames are the arguments before the variadic ones, and `...` is what
// follows them (each variadic argument, converted by its own type), as
// in pllua.
func (e *Engine) CompileVariadic(name, src string, argNames []string, trusted, validateOnly bool) (int64, error) {
	return e.compile(name, src, argNames, true, trusted, validateOnly)
}

// CompileTrigger compiles a DML trigger function's body: trigger, old and
// new are its parameters (TriggerArgs) and `...` the trigger's arguments,
// as in pllua.
func (e *Engine) CompileTrigger(name, src string, trusted, validateOnly bool) (int64, error) {
	return e.compile(name, src, TriggerArgs, true, trusted, validateOnly)
}

func (e *Engine) compile(name, src string, argNames []string, restVararg, trusted, validateOnly bool) (int64, error) {
	var prefix strings.Builder
	named := false
	for _, n := range argNames {
		if n != "" {
			named = true
		}
	}
	if named {
		// Same line as the body's first line, so Lua line numbers match.
		prefix.WriteString("local ")
		for i, n := range argNames {
			if i > 0 {
				prefix.WriteString(", ")
			}
			if n == "" {
				n = "_"
			}
			prefix.WriteString(n)
		}
		prefix.WriteString(" = ...; ")
	}
	if err := checkSource(src); err != nil {
		return 0, sourceError(describe(name), err)
	}
	chunk, err := parse.Parse(strings.NewReader(prefix.String()+src), name)
	factory, rows := false, false
	if err != nil {
		// pllua's form: the body of `local function name(args) ... end`,
		// which may end that function early and go on with code run once
		// (`... end do <init>`).
		if c, perr := parse.Parse(strings.NewReader(plluaForm(name, src, argNames, restVararg)), name); perr == nil {
			chunk, err, factory = c, nil, true
		}
	}
	if err != nil {
		return 0, &Error{Kind: KindError, SQLState: sqlstate.SyntaxError,
			Message: fmt.Sprintf("syntax error in %s %s", describe(name), syntaxMessage(err, src, prefix.Len()))}
	}
	if err := checkNesting(chunk); err != nil {
		return 0, sourceError(describe(name), err)
	}
	concatFix(chunk) // concat.go
	proto, err := lua.Compile(chunk, chunkName(name))
	if err != nil {
		return 0, &Error{Kind: KindError, SQLState: sqlstate.SyntaxError,
			Message: fmt.Sprintf("cannot compile %s: %s", describe(name), err)}
	}
	if validateOnly {
		return 0, nil
	}
	if factory {
		// as compiled
	} else if restVararg {
		if p := functionProto(name, src, "return function("+strings.Join(argNames, ", ")+", ...) "); p != nil {
			proto = p
			rows = rowsStay(p, len(argNames))
		}
	} else if p := paramProto(name, src, argNames); p != nil {
		proto = p
	}
	e.nextID++
	f := &Func{ID: e.nextID, Name: name, Trusted: trusted, proto: proto, argNames: argNames,
		factory: factory, rowsStay: rows}
	if name != "DO block" && isLuaName(name) {
		f.self = name
	}
	e.funcs[f.ID] = f
	return f.ID, nil
}

// paramProto compiles a body whose arguments are all named and which does
// not use `...` as a function with those parameters instead of a vararg
// chunk: a call then skips gopher-lua's vararg frame set-up and the
// `local ... = ...` prologue (~15-20 ns of a ~300 ns trivial call). Line
// numbers are unchanged (the header shares line 1) and tracebacks still
// call the outermost frame the main chunk. nil means: keep the chunk.
func paramProto(name, src string, argNames []string) *lua.FunctionProto {
	if len(argNames) == 0 {
		return nil
	}
	for _, n := range argNames {
		if n == "" {
			return nil
		}
	}
	return functionProto(name, src, "return function("+strings.Join(argNames, ", ")+") ")
}

// functionProto compiles head + src + "end" (head opens a function on the
// body's first line) and returns that function's prototype, or nil.
func functionProto(name, src, head string) *lua.FunctionProto {
	chunk, err := parse.Parse(strings.NewReader(head+src+"\nend"), name)
	if err != nil {
		return nil // e.g. a body ending in a `--[[` comment: the chunk form works
	}
	concatFix(chunk) // concat.go
	p, err := lua.Compile(chunk, chunkName(name))
	if err != nil || len(p.FunctionPrototypes) != 1 {
		return nil // "cannot use '...' outside a vararg function": the body needs ...
	}
	inner := p.FunctionPrototypes[0]
	if inner.NumUpvalues != 0 {
		return nil
	}
	return inner
}

// plluaForm is pllua's wrapping of a body: a chunk defining the function
// as a local of its own name (so it can call itself) and returning it.
// Its parameters are the named ones, then `...` when some are unnamed (or
// for a trigger's arguments). The header shares the body's first line.
func plluaForm(name, src string, argNames []string, restVararg bool) string {
	fn := name
	if !isLuaName(fn) {
		fn = "plerl_function"
	}
	var params []string
	vararg := restVararg
	for _, n := range argNames {
		if n == "" || !isLuaName(n) {
			vararg = true
			break
		}
		params = append(params, n)
	}
	if vararg {
		params = append(params, "...")
	}
	return "local function " + fn + "(" + strings.Join(params, ", ") + ") " + src + "\nend return " + fn
}

// isLuaName reports whether s is a Lua 5.1 identifier that is not a
// keyword.
func isLuaName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	switch s {
	case "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in",
		"local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while":
		return false
	}
	return true
}

// chunkName is the name Lua gives a function's chunk in error positions
// and tracebacks: `[string "name"]`, what Lua calls a chunk loaded from a
// string, and what pllua shows (a DO block is `[string "DO-block"]`), so
// code that matches error texts behaves the same in both.
func chunkName(name string) string {
	if name == "DO block" {
		name = "DO-block"
	}
	return `[string "` + name + `"]`
}

func describe(name string) string {
	if name == "DO block" {
		return name
	}
	return fmt.Sprintf("function %q", name)
}

// syntaxMessage names the Lua line (and column) of a parse error, in the
// user's source (the argument prefix shares line 1, so shift its columns).
func syntaxMessage(err error, src string, prefixLen int) string {
	pe, ok := err.(*parse.Error)
	if !ok {
		return ": " + strings.TrimSpace(err.Error())
	}
	if pe.Pos.Line == parse.EOF {
		line := strings.Count(strings.TrimRight(src, " \t\r\n"), "\n") + 1
		return fmt.Sprintf("at line %d: unexpected end of function body", line)
	}
	col := pe.Pos.Column
	if pe.Pos.Line == 1 {
		col -= prefixLen
	}
	return fmt.Sprintf("at line %d, column %d near '%s': %s", pe.Pos.Line, col, pe.Token, pe.Message)
}

// Forget drops a compiled function.
func (e *Engine) Forget(id int64) {
	if e.lastFunc != nil && e.lastFunc.ID == id {
		e.lastFunc = nil
	}
	delete(e.funcs, id)
	for _, s := range e.states {
		delete(s.instances, id)
	}
}

// state returns the Lua state of a role (trusted) or the shared untrusted state.
func (e *Engine) state(user uint32, trusted bool) *State {
	k := stateKey{user: user, trusted: trusted}
	if !trusted {
		k.user = 0
	}
	if s := e.lastState; s != nil && s.key == k {
		return s
	}
	s := e.states[k]
	if s == nil {
		s = newState(e, trusted)
		s.key = k
		e.states[k] = s
	}
	e.lastState = s
	return s
}

// Enter marks the start of a call from the backend; the outermost one
// arms cancellation. It returns false when called from inside Lua.
func (e *Engine) Enter() bool {
	e.depth++
	if e.depth > 1 {
		return false
	}
	e.calls++
	if e.ctx.Err() != nil {
		e.ctx, e.cancel = context.WithCancel(context.Background())
		e.lctx = &luaCtx{Context: e.ctx}
		e.reason.Store(cancelNone) // last: Interrupt's CAS then sees the new fields
	}
	return true
}

// Leave ends what Enter started.
func (e *Engine) Leave() { e.depth-- }

// Depth is the nesting of calls (0: none running).
func (e *Engine) Depth() int { return e.depth }

// Interrupt stops the running Lua code; safe from any goroutine.
func (e *Engine) Interrupt(reason int32) {
	if e.reason.CompareAndSwap(cancelNone, reason) {
		e.cancel()
		e.lctx.fire()
	}
}

// luaCtx is the context the Lua states run under. gopher-lua's VM selects
// on ctx.Done() before every instruction; with the engine's cancelCtx that
// is an atomic.Value load, a type assertion and a look at the channel,
// ~21% of a Lua loop's time (bench/plbench). luaCtx.Done is nil, a select
// case that is skipped at once, until the engine is interrupted, and the
// engine context's (closed) channel from then on. Err, Deadline and Value
// are the engine context's. Go code that derives contexts (Erlang calls)
// uses Engine.Context, never this one: a context derived from a parent
// whose Done is nil would never be cancelled. Lua threads get it by
// SetContext, never by deriving (coroutine.go).
type luaCtx struct {
	context.Context
	done atomic.Pointer[<-chan struct{}]
}

func (c *luaCtx) Done() <-chan struct{} {
	if p := c.done.Load(); p != nil {
		return *p
	}
	return nil
}

// fire makes Done the engine context's channel (after the cancel).
func (c *luaCtx) fire() {
	d := c.Context.Done()
	c.done.Store(&d)
}

// InterruptForQueryCancel is Interrupt for a pending query cancel or die.
func (e *Engine) InterruptForQueryCancel() { e.Interrupt(cancelInterrupt) }

// InterruptForTimeLimit is Interrupt for plerl.lua_time_limit.
func (e *Engine) InterruptForTimeLimit() { e.Interrupt(cancelTimeLimit) }

// InterruptForMemory is Interrupt for plerl.lua_memory_limit.
func (e *Engine) InterruptForMemory() { e.Interrupt(cancelMemory) }

// SetMemoryLimit sets the budget built-ins check before they allocate
// (bytes of Go heap, 0 = none). Backend goroutine only.
func (e *Engine) SetMemoryLimit(bytes uint64) { e.memLimit = bytes }

// Context is the cancellation context of the running call.
func (e *Engine) Context() context.Context { return e.ctx }

func (e *Engine) cancelled() bool { return e.ctx.Err() != nil }

func (e *Engine) cancelMessage() string {
	switch e.reason.Load() {
	case cancelTimeLimit:
		return "Lua code ran longer than plerl.lua_time_limit"
	case cancelMemory:
		return "Lua code used more memory than plerl.lua_memory_limit"
	}
	return "canceling statement due to user request"
}

// uncatchable reports whether an error must not be caught by Lua pcall.
func (e *Engine) uncatchable() bool {
	return e.cancelled() || e.host.Poisoned()
}

// Call runs a compiled function in the state of user with the given
// arguments and returns its results.
func (e *Engine) Call(id int64, user uint32, trusted bool, args []lua.LValue) ([]lua.LValue, error) {
	return e.CallIn(e.state(user, trusted), id, args)
}

// CallIn runs a compiled function in state s.
func (e *Engine) CallIn(s *State, id int64, args []lua.LValue) ([]lua.LValue, error) {
	f, err := e.lookup(s, id)
	if err != nil {
		return nil, err
	}
	return s.call(f, args)
}

// RowsStay reports whether trigger function id provably keeps none of its
// trigger object and row tables past a call (rowsstay.go), so that they
// may be reused for the next row (TriggerData.Reuse).
func (e *Engine) RowsStay(id int64) bool {
	f := e.lastFunc
	if f == nil || f.ID != id {
		f = e.funcs[id]
	}
	return f != nil && f.rowsStay
}

// lookup finds compiled function id for a call in state s.
func (e *Engine) lookup(s *State, id int64) (*Func, error) {
	f := e.lastFunc
	if f == nil || f.ID != id {
		f = e.funcs[id]
		if f == nil {
			return nil, Errorf(sqlstate.InternalError, "plerl: function %d is not compiled", id)
		}
		e.lastFunc = f
	}
	if f.Trusted != s.Trusted {
		return nil, Errorf(sqlstate.InternalError, "plerl: function %q called with the wrong trust level", f.Name)
	}
	return f, nil
}

// State returns the state of user, creating it; for tests and built-ins.
func (e *Engine) State(user uint32, trusted bool) *State { return e.state(user, trusted) }
