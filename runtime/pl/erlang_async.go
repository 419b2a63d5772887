// Many Erlang calls at once from Lua: erlang.async/async_with and
// erlang.await/await_all (handles), erlang.call_many (one function, many
// argument lists, pipelined) and erlang.multicall (one call, many
// servers). The host sends and awaits; every request is resolved and
// checked as erlang.call's.
package pl

import (
	"errors"
	"fmt"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/term"
)

// AsyncCall is a call sent and not yet awaited; only the host looks inside.
type AsyncCall any

// AsyncHost is what the async built-ins need beyond ErlangHost. The host
// cancels calls not awaited when the call that made them ends.
type AsyncHost interface {
	// Start sends the call Resolve checked and returns at once.
	Start(t Target, args []any, timeout time.Duration, kill bool) (AsyncCall, error)
	// Await returns the result of a started call (wait: at most that long
	// on top of the call's own timeout; 0: the call's own timeout only).
	Await(h AsyncCall, wait time.Duration) (any, error)
	// Abandon gives a started call up (erpc workers are killed).
	Abandon(h AsyncCall)
	// MaxInFlight is plerl.max_in_flight.
	MaxInFlight() int
}

const asyncMetaName = "erlang.async"

type asyncHandle struct {
	h    AsyncCall
	what string
	done bool
}

func (m *erlMod) installAsync(t *lua.LTable) {
	ah, ok := m.host.(AsyncHost)
	if !ok {
		return
	}
	L := m.s.L
	m.s.lazyTypeMeta(asyncMetaName, m.buildAsyncMeta)
	a := &asyncMod{m: m, host: ah}
	for name, fn := range map[string]lua.LGFunction{
		"async": a.async, "async_with": a.asyncWith, "await": a.await, "await_all": a.awaitAll,
		"call_many": a.callMany, "multicall": a.multicall,
	} {
		t.RawSetString(name, L.NewFunction(fn))
	}
}

func (m *erlMod) buildAsyncMeta() {
	L := m.s.L
	mt := newTypeMeta(L, asyncMetaName, 2)
	mt.RawSetString("__metatable", lua.LString(asyncMetaName))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString("erlang.async: " + m.handle(L, 1, "tostring").what))
		return 1
	}))
}

type asyncMod struct {
	m    *erlMod
	host AsyncHost
}

func (m *erlMod) handle(L *lua.LState, i int, fn string) *asyncHandle {
	if ud, ok := L.Get(i).(*lua.LUserData); ok {
		if h, ok := ud.Value.(*asyncHandle); ok {
			return h
		}
	}
	m.badArg(i, fn, errors.New("expected a handle from erlang.async"))
	return nil
}

// callOptions reads {timeout = ms, kill = bool [, max_in_flight = n]}.
func (a *asyncMod) callOptions(i int, fn string, opts *lua.LTable, many bool) (time.Duration, bool, int) {
	known := map[string]lua.LValueType{"timeout": lua.LTNumber, "kill": lua.LTBool, "key": lua.LTString}
	if many {
		known["max_in_flight"] = lua.LTNumber
		known["keys"] = lua.LTTable
	}
	timeout := a.m.host.CallTimeout()
	if opts == nil {
		return timeout, false, 0
	}
	a.m.checkOptions(i, fn, opts, known)
	if v, ok := opts.RawGetString("timeout").(lua.LNumber); ok {
		if v < 0 {
			a.m.badArg(i, fn, errors.New("timeout must be zero (none) or a positive number of milliseconds"))
		}
		timeout = time.Duration(float64(v) * float64(time.Millisecond))
	}
	n := 0
	if v, ok := opts.RawGetString("max_in_flight").(lua.LNumber); ok {
		if v < 1 {
			a.m.badArg(i, fn, errors.New("max_in_flight must be positive"))
		}
		n = int(v)
	}
	return timeout, lua.LVAsBool(opts.RawGetString("kill")), n
}

// routed is t with the affinity key of a call (a group's balance affinity).
func routed(t Target, key string) Target {
	if r, ok := t.(Routed); ok && key != "" {
		return r.WithRoute(key, false)
	}
	return t
}

func (a *asyncMod) start(L *lua.LState, target, mod, fun string, via *ClusterName, args []any, timeout time.Duration, kill bool, key, fn string, i int) int {
	t := routed(a.m.resolveCall(target, mod, fun, via, args, fn, i), key)
	h, err := a.host.Start(t, args, timeout, kill)
	if err != nil {
		a.m.raise(err)
	}
	ud := L.NewUserData()
	what := fmt.Sprintf("%s:%s/%d on %s", mod, fun, len(args), target)
	if via != nil {
		what = fmt.Sprintf("call to %s on %s", mod, target)
	}
	ud.Value = &asyncHandle{h: h, what: what}
	L.SetMetatable(ud, a.m.s.metaOf(asyncMetaName))
	L.Push(ud)
	return 1
}

// erlang.async(server, module, function, ...): the call is sent, a handle returned.
func (a *asyncMod) async(L *lua.LState) int {
	target := L.CheckString(1)
	mod, fun, via, next := a.m.callee(L, 2, "async")
	args := a.m.args(L, next, "async")
	return a.start(L, target, mod, fun, via, args, a.m.host.CallTimeout(), false, "", "async", 2)
}

// erlang.async_with({timeout = ms, kill = true}, server, module, function, ...)
func (a *asyncMod) asyncWith(L *lua.LState) int {
	opts := L.CheckTable(1)
	target := L.CheckString(2)
	mod, fun, via, next := a.m.callee(L, 3, "async_with")
	timeout, kill, _ := a.callOptions(1, "async_with", opts, false)
	key, _ := opts.RawGetString("key").(lua.LString)
	args := a.m.args(L, next, "async_with")
	return a.start(L, target, mod, fun, via, args, timeout, kill, string(key), "async_with", 3)
}

func (a *asyncMod) take(h *asyncHandle, wait time.Duration, i int, fn string) (any, error) {
	if h.done {
		a.m.badArg(i, fn, errors.New("this handle was awaited already"))
	}
	h.done = true
	return a.host.Await(h.h, wait)
}

// erlang.await(h [, timeout_ms]): the value, or the error erlang.call raises.
func (a *asyncMod) await(L *lua.LState) int {
	h := a.m.handle(L, 1, "await")
	var wait time.Duration
	if L.Get(2) != lua.LNil {
		ms := L.CheckNumber(2)
		if ms < 0 {
			a.m.badArg(2, "await", errors.New("timeout must not be negative"))
		}
		wait = time.Duration(float64(ms) * float64(time.Millisecond))
	}
	res, err := a.take(h, wait, 1, "await")
	if err != nil {
		a.m.raise(err)
	}
	return a.m.result(L, res)
}

// erlang.await_all{h1, h2, ...}: every value, in order (a table); the first
// error is raised and the other calls are given up.
func (a *asyncMod) awaitAll(L *lua.LState) int {
	t := L.CheckTable(1)
	n := t.Len()
	hs := make([]*asyncHandle, n)
	for i := 1; i <= n; i++ {
		ud, ok := t.RawGetInt(i).(*lua.LUserData)
		var h *asyncHandle
		if ok {
			h, _ = ud.Value.(*asyncHandle)
		}
		if h == nil {
			a.m.badArg(1, "await_all", fmt.Errorf("element %d is not a handle from erlang.async", i))
		}
		hs[i-1] = h
	}
	out := L.CreateTable(n, 0)
	for i, h := range hs {
		res, err := a.take(h, 0, 1, "await_all")
		if err == nil {
			var v lua.LValue
			if v, err = a.m.s.FromTerm(res, a.m.host.TermOptions()); err == nil {
				out.RawSetInt(i+1, v)
				continue
			}
		}
		for _, rest := range hs[i+1:] {
			if !rest.done {
				rest.done = true
				a.host.Abandon(rest.h)
			}
		}
		a.m.raise(err)
	}
	L.Push(out)
	return 1
}

// outcome is one item's entry in call_many's and multicall's results:
// {ok = true, value = v} or {ok = false, error = <error object>}. Only an
// error of the call itself is data: a cancel or a plerl limit is raised.
func (a *asyncMod) outcome(L *lua.LState, res any, err error) *lua.LTable {
	t := L.CreateTable(0, 2)
	if err == nil {
		v, cerr := a.m.s.FromTerm(res, a.m.host.TermOptions())
		if cerr == nil {
			t.RawSetString("ok", lua.LTrue)
			t.RawSetString("value", v)
			return t
		}
		err = cerr
	}
	var pe *Error
	if !errors.As(err, &pe) || pe.Kind != KindError {
		a.m.raise(err)
	}
	t.RawSetString("ok", lua.LFalse)
	t.RawSetString("error", a.m.errorObject(err))
	return t
}

// erlang.call_many(server, module, function, {args1, args2, ...} [, opts]):
// module:function(table.unpack(argsN)) for every N, at most
// opts.max_in_flight (plerl.max_in_flight) at once; a table of outcomes in
// order. Every argument list must have the same length.
func (a *asyncMod) callMany(L *lua.LState) int {
	target, mod, fun := L.CheckString(1), L.CheckString(2), L.CheckString(3)
	list := L.CheckTable(4)
	opts := L.OptTable(5, nil)
	timeout, kill, window := a.callOptions(5, "call_many", opts, true)
	if window <= 0 {
		window = a.host.MaxInFlight()
	}
	n := list.Len()
	// The affinity key (a group's balance affinity): key for every item,
	// or keys[i] for item i.
	var key lua.LString
	var keys *lua.LTable
	if opts != nil {
		key, _ = opts.RawGetString("key").(lua.LString)
		keys, _ = opts.RawGetString("keys").(*lua.LTable)
		if key != "" && keys != nil {
			a.m.badArg(5, "call_many", errors.New("key and keys exclude each other"))
		}
		if keys != nil && keys.Len() != n {
			a.m.badArg(5, "call_many", fmt.Errorf("keys has %d keys for %d items", keys.Len(), n))
		}
	}
	keyOf := func(i int) string {
		if keys == nil {
			return string(key)
		}
		k, ok := keys.RawGetInt(i).(lua.LString)
		if !ok {
			a.m.badArg(5, "call_many", fmt.Errorf("keys[%d] is not a string", i))
		}
		return string(k)
	}
	out := L.CreateTable(n, 0)
	if n == 0 {
		L.Push(out)
		return 1
	}
	opt := a.m.host.TermOptions()
	argsOf := func(i int) []any {
		at, ok := list.RawGetInt(i).(*lua.LTable)
		if !ok {
			a.m.badArg(4, "call_many", fmt.Errorf("item %d is not a table of arguments", i))
		}
		k := at.Len()
		args := make([]any, 0, k)
		atoms := map[term.Atom]struct{}{} // plerl.max_atoms per request, as erlang.call counts
		for j := 1; j <= k; j++ {
			v, err := a.m.s.toTerm(at.RawGetInt(j), opt, 0, atoms)
			if err != nil {
				a.m.badArg(4, "call_many", fmt.Errorf("item %d, argument %d: %v", i, j, err))
			}
			args = append(args, v)
		}
		return args
	}
	first := argsOf(1)
	t, err := a.m.host.Resolve(target, mod, fun, len(first), OpCall) // once: same target for all
	if err != nil {
		a.m.raise(err)
	}
	type slot struct {
		h   AsyncCall
		err error
	}
	var q []slot
	defer func() { // a raise leaves nothing in flight
		for _, s := range q {
			if s.h != nil {
				a.host.Abandon(s.h)
			}
		}
	}()
	next := 1
	for done := 1; done <= n; done++ {
		for next <= n && len(q) < window {
			args := first
			if next > 1 {
				args = argsOf(next)
				if len(args) != len(first) {
					a.m.badArg(4, "call_many", fmt.Errorf("item %d has %d arguments, item 1 has %d", next, len(args), len(first)))
				}
			}
			h, err := a.host.Start(routed(t, keyOf(next)), args, timeout, kill)
			q = append(q, slot{h, err})
			next++
		}
		s := q[0]
		q = q[1:]
		var res any
		err := s.err
		if err == nil {
			res, err = a.host.Await(s.h, 0)
		}
		out.RawSetInt(done, a.outcome(L, res, err))
	}
	L.Push(out)
	return 1
}

// erlang.multicall({server1, server2, ...}, module, function, ...): the
// same call on every server at once; a table of outcomes in server order.
func (a *asyncMod) multicall(L *lua.LState) int {
	servers := L.CheckTable(1)
	mod, fun := L.CheckString(2), L.CheckString(3)
	args := a.m.args(L, 4, "multicall")
	n := servers.Len()
	hs := make([]AsyncCall, n)
	errs := make([]error, n)
	defer func() {
		for _, h := range hs {
			if h != nil {
				a.host.Abandon(h)
			}
		}
	}()
	for i := 1; i <= n; i++ {
		name, ok := servers.RawGetInt(i).(lua.LString)
		if !ok {
			a.m.badArg(1, "multicall", fmt.Errorf("element %d is not a server name", i))
		}
		t, err := a.m.host.Resolve(string(name), mod, fun, len(args), OpCall)
		if err == nil {
			hs[i-1], err = a.host.Start(t, args, a.m.host.CallTimeout(), false)
		}
		errs[i-1] = err
	}
	out := L.CreateTable(n, 0)
	for i := range hs {
		var res any
		err := errs[i]
		if hs[i] != nil {
			res, err = a.host.Await(hs[i], 0)
			hs[i] = nil
		}
		e := a.outcome(L, res, err)
		e.RawSetString("server", servers.RawGetInt(i+1))
		out.RawSetInt(i+1, e)
	}
	L.Push(out)
	return 1
}
