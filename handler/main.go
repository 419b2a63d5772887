// Package main is plerl_go.so: the Go half of plerl inside a backend. The
// C entry paths (exec.c, trigger.c, srf.c, erlang.c, xact.c) call the
// //export functions of this package (this file has those for compiling
// and calling functions); Go reaches PostgreSQL only through the C guards
// (docs/internals/architecture.md), from the goroutine that entered.
package main

/*
#include <stdlib.h>
#include "plerl.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"unsafe"

	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

func main() {}

var engine *pl.Engine

//export plerlGoInit
func plerlGoInit(maxProcs C.int) {
	defer reportPanics("plerlGoInit")
	releaseFIPSScratch()
	// The environment is invisible to Go in a backend (PostgreSQL reuses
	// it for the process title): set what matters in code.
	runtime.GOMAXPROCS(int(maxProcs))
	// GOGC 100: a higher value was ~10% faster per trivial call but lets
	// every backend's RSS grow by tens of MB of garbage (boundary test 4c).
	// The soft limit, above plerl.lua_memory_limit, is a backstop.
	debug.SetGCPercent(100)
	debug.SetMemoryLimit(int64(readSettings().LuaMemoryLimit) + 64<<20)
	engine = pl.NewEngine(host{})
	installModules(engine)
	startPoller()
}

// setError fills a C error record from a Go error.
func setError(cerr *C.PlerlError, err error) {
	e, ok := err.(*pl.Error)
	if !ok {
		e = &pl.Error{Kind: pl.KindError, SQLState: sqlstate.InternalError, Message: err.Error()}
	}
	C.plerl_error_free(cerr)
	switch e.Kind {
	case pl.KindRethrow:
		cerr.kind = C.PLERL_ERR_RETHROW
		return
	case pl.KindCancel:
		cerr.kind = C.PLERL_ERR_CANCEL
	default:
		cerr.kind = C.PLERL_ERR
	}
	st := e.SQLState
	if len(st) != 5 {
		st = sqlstate.InternalError
	}
	for i := 0; i < 5; i++ {
		cerr.sqlstate[i] = C.char(st[i])
	}
	cerr.sqlstate[5] = 0
	cerr.message = cstr(e.Message)
	cerr.detail = cstrOrNil(e.Detail)
	cerr.hint = cstrOrNil(e.Hint)
	cerr.context = cstrOrNil(e.Context)
}

func cstr(s string) *C.char { return C.CString(s) }

// cText copies text PostgreSQL parses (a query, a type or cursor name, a
// date) for C, which reads up to the first NUL: text holding one is refused,
// as PostgreSQL refuses a NUL in text, rather than cut short so that C runs
// a prefix of what Lua wrote.
func cText(what, s string) (*C.char, error) {
	if err := checkText(what, s); err != nil {
		return nil, err
	}
	return C.CString(s), nil
}

// checkText is cText's check, for text copied later.
func checkText(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return pl.Errorf(sqlstate.CharacterNotInRepertoire, "%s contains a NUL byte (0x00)", what)
	}
	return nil
}

func cstrOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// recoverInto turns a panic into an XX000 error record; every //export
// defers it, so no panic ever unwinds into C.
func recoverInto(cerr *C.PlerlError) {
	if r := recover(); r != nil {
		setPanicError(cerr, r)
	}
}

// setPanicError reports a recovered Go panic as an internal error.
func setPanicError(cerr *C.PlerlError, r any) {
	setError(cerr, &pl.Error{Kind: pl.KindError, SQLState: sqlstate.InternalError,
		Message: fmt.Sprintf("internal error in plerl: %v", r)})
}

// reportPanics is deferred by the exports that have no error record to
// fill (init, forget, cleanup hooks): a panic there is reported as a
// WARNING in the server log and to the client, never swallowed, and never
// raised (they run where an ERROR would do harm: at exit, in transaction
// callbacks).
func reportPanics(where string) {
	if r := recover(); r != nil {
		reportPanic(where, r)
	}
}

// reportPanic reports r, a panic recovered in where, as a WARNING (for a
// deferred function that recovers itself: recover only works there).
func reportPanic(where string, r any) {
	defer func() { recover() }() // the report itself must not fail
	_ = host{}.Elog(pl.LevelWarning, fmt.Sprintf("plerl: internal error in %s: %v", where, r), "", "")
}

// entered records what beginCall did, for leaveCall.
type entered struct{ outer, ok bool }

// leaveCall is endCall (if beginCall returned) and recoverInto in one
// deferred call.
func leaveCall(cerr *C.PlerlError, in *entered) {
	r := recover()
	if in.ok {
		endCall(in.outer)
	}
	if r != nil {
		setPanicError(cerr, r)
	}
}

//export plerlGoCompile
func plerlGoCompile(cc *C.PlerlCompile) {
	defer recoverInto(&cc.err)
	src := C.GoStringN(cc.src, C.int(cc.srclen))
	name := C.GoString(cc.name)
	var names []string
	if cc.nargs > 0 {
		cnames := unsafe.Slice(cc.argnames, int(cc.nargs))
		names = make([]string, len(cnames))
		for i, n := range cnames {
			if n != nil {
				names[i] = C.GoString(n)
			}
		}
	}
	trusted, validate := cc.flags&C.PLERL_TRUSTED != 0, cc.flags&C.PLERL_VALIDATE_ONLY != 0
	var id int64
	var err error
	if cc.flags&C.PLERL_TRIGGER != 0 {
		id, err = engine.CompileTrigger(name, src, trusted, validate)
	} else if cc.flags&C.PLERL_VARIADIC_ANY != 0 {
		id, err = engine.CompileVariadic(name, src, names, trusted, validate)
	} else {
		id, err = engine.Compile(name, src, names, trusted, validate)
	}
	if err != nil {
		setError(&cc.err, err)
		return
	}
	cc.fn_id = C.int64_t(id)
}

//export plerlGoForget
func plerlGoForget(id C.int64_t) {
	defer reportPanics("plerlGoForget")
	engine.Forget(int64(id))
}

// callArgs converts a call's arguments, appending to buf.
func callArgs(s *pl.State, call *C.PlerlCall, buf []lua.LValue) ([]lua.LValue, error) {
	args := buf
	if call.nargs > 0 {
		vs := unsafe.Slice(call.args, int(call.nargs))
		for i := range vs {
			lv, err := valueToLua(s, &vs[i])
			if err != nil {
				return nil, err
			}
			args = append(args, lv)
		}
	}
	return args, nil
}

//export plerlGoCall
func plerlGoCall(call *C.PlerlCall) {
	var in entered
	defer leaveCall(&call.err, &in) // one defer on the hottest path
	in.outer, in.ok = beginCall(), true
	trusted := call.flags&C.PLERL_TRUSTED != 0
	s := engine.State(uint32(call.user_id), trusted)
	var argbuf [8]lua.LValue
	args, err := callArgs(s, call, argbuf[:0])
	if err != nil {
		setError(&call.err, err)
		return
	}
	rets, err := engine.CallIn(s, int64(call.fn_id), args)
	if err != nil {
		setError(&call.err, err)
		return
	}
	if err := resultToValue(s, rets, call); err != nil {
		setError(&call.err, err)
	}
}
