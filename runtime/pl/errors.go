// Errors as Lua sees them (error objects) and as the backend sees them (*Error).
package pl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// Kind says how the backend must raise an *Error.
type Kind int

const (
	// KindError: raise with SQLState, Message, Detail, Hint, Context.
	KindError Kind = iota
	// KindRethrow: a PostgreSQL error a guard stashed; the backend re-raises it unchanged.
	KindRethrow
	// KindCancel: Lua was stopped (query cancel, statement_timeout or a plerl limit).
	KindCancel
)

// Error is an error on its way to SQL.
type Error struct {
	Kind     Kind
	SQLState string
	Message  string
	Detail   string
	Hint     string
	Context  string
}

func (e *Error) Error() string { return e.Message }

// Errorf makes a KindError with the given SQLSTATE.
func Errorf(sqlstate, format string, args ...any) *Error {
	return &Error{Kind: KindError, SQLState: sqlstate, Message: fmt.Sprintf(format, args...)}
}

const errorMetaName = "plerl.error"

// newErrorObject makes the Lua error object for a backend error: a table
// with sqlstate, message, detail, hint, and a __tostring.
func newErrorObject(L *lua.LState, e *Error) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("sqlstate", lua.LString(e.SQLState))
	t.RawSetString("message", lua.LString(e.Message))
	if e.Detail != "" {
		t.RawSetString("detail", lua.LString(e.Detail))
	}
	if e.Hint != "" {
		t.RawSetString("hint", lua.LString(e.Hint))
	}
	if e.Context != "" {
		t.RawSetString("context", lua.LString(e.Context))
	}
	L.SetMetatable(t, L.GetTypeMetatable(errorMetaName))
	return t
}

func registerErrorType(L *lua.LState) {
	mt := newTypeMeta(L, errorMetaName, 2)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		msg := lua.LVAsString(t.RawGetString("message"))
		if st := lua.LVAsString(t.RawGetString("sqlstate")); st != "" {
			msg = st + ": " + msg
		}
		L.Push(lua.LString(msg))
		return 1
	}))
	// pllua's computed fields: e.severity, e.errcode, e.category.
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.Push(errorField(L.CheckTable(1), L.CheckString(2)))
		return 1
	}))
	mt.RawSetString("__metatable", lua.LString("plerl.error"))
}

// validSQLState reports whether s may be an error's SQLSTATE: five of 0-9
// and A-Z, and not of class 00 (successful completion): an ERROR with
// SQLSTATE 00000 reads as success to clients that look only at the code.
func validSQLState(s string) bool {
	if len(s) != 5 || s[:2] == "00" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// CancelError is the error of a call that was stopped: 57014 through the
// cancel path for a query cancel, statement_timeout or plerl.lua_time_limit;
// 53200 (out_of_memory), an ordinary error, for plerl.lua_memory_limit.
// Either way Lua's pcall cannot catch it (the context stays cancelled).
func (e *Engine) CancelError() *Error {
	if e.reason.Load() == cancelMemory {
		return &Error{Kind: KindError, SQLState: sqlstate.OutOfMemory, Message: e.cancelMessage(),
			Hint: "The limit is plerl.lua_memory_limit (the Go heap of this backend)."}
	}
	return &Error{Kind: KindCancel, SQLState: sqlstate.QueryCanceled, Message: e.cancelMessage()}
}

// fromLuaError turns what a protected call returned into an *Error.
func (e *Engine) fromLuaError(err error) *Error {
	if e.cancelled() {
		return e.CancelError()
	}
	var he *Error
	if errors.As(err, &he) {
		return he
	}
	var api *lua.ApiError
	if !errors.As(err, &api) {
		if errors.Is(err, context.Canceled) {
			return e.CancelError()
		}
		return &Error{Kind: KindError, SQLState: sqlstate.InternalError, Message: err.Error()}
	}
	out := &Error{Kind: KindError, SQLState: sqlstate.InternalError, Context: cleanTraceback(api.StackTrace)}
	if strings.Contains(api.Object.String(), "callstack overflow") || strings.Contains(api.Object.String(), "stack overflow") {
		out.SQLState = sqlstate.StatementTooComplex
		out.Message = "Lua stack overflow (recursion too deep)"
		return out
	}
	if api.Type == lua.ApiErrorPanic {
		out.Message = "internal error in plerl: " + firstLine(api.Object.String())
		return out
	}
	switch obj := api.Object.(type) {
	case *lua.LTable:
		if st := lua.LVAsString(obj.RawGetString("sqlstate")); validSQLState(st) {
			out.SQLState = st
		} else if st != "" {
			out.Message = fmt.Sprintf("invalid sqlstate %q in error object", st)
			return out
		} else {
			out.SQLState = sqlstate.RaiseException
		}
		m := obj.RawGetString("message")
		if m == lua.LNil {
			out.Message = "(error object without a message)"
		} else {
			out.Message = lua.LVAsString(m)
			if _, ok := m.(lua.LString); !ok {
				out.Message = m.String()
			}
		}
		out.Detail = lua.LVAsString(obj.RawGetString("detail"))
		out.Hint = lua.LVAsString(obj.RawGetString("hint"))
	case lua.LString:
		out.Message = string(obj)
	default:
		out.Message = fmt.Sprintf("(error object is a %s value)", api.Object.Type().String())
		if api.Object != lua.LNil {
			out.Message = fmt.Sprintf("(error object is a %s value: %s)", api.Object.Type().String(), api.Object.String())
		}
	}
	return out
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// cleanTraceback keeps the Lua frames of a gopher-lua stack trace.
func cleanTraceback(tb string) string {
	tb = strings.TrimSpace(tb)
	if tb == "" {
		return ""
	}
	keep := []string{"Lua traceback:"}
	for _, line := range strings.Split(tb, "\n") {
		l := strings.TrimSpace(line)
		if l == "" || l == "stack traceback:" || l == "[G]: ?" {
			continue
		}
		l = strings.Replace(l, "in main chunk", "in function body", 1)
		keep = append(keep, "  "+l)
	}
	if len(keep) == 1 {
		return ""
	}
	return strings.Join(keep, "\n")
}
