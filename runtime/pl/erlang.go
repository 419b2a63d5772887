// The Lua module `erlang`: calls, sends (immediate or at COMMIT), receive,
// and term constructors. The backend side (sessions, privilege checks) is
// an ErlangHost the handler provides.
package pl

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
	"github.com/plerl/plerl/runtime/term"
)

// Operations, for privilege checks: the numbers of PLERL_ERL_* in
// handler/plerl_shared.h (checked at compile time in handler/protocol.go).
const (
	OpConnect    = 0
	OpCall       = 1
	OpDisconnect = 2
	OpSend       = 3
	OpPing       = 4
	OpCast       = 7
	OpCallMany   = 8
)

// ClusterName is a destination the node resolves when the message goes
// out: a :global name (global:whereis_name/1) or a :pg group
// (pg:get_members/2: one member at random, or all). Name is the atom
// checked against plerl.allow like a registered name (module = Name,
// function = '!'); Scope, the :pg scope, must be pg or an atom that row
// lists.
type ClusterName struct {
	Global bool
	Name   string
	Scope  string
	All    bool
}

const clusterMetaName = "erlang.cluster_name"

// Target is a resolved destination; only the host looks inside.
type Target any

// Routed is a Target that takes a group's routing options for one call:
// key, the affinity key (balance 'affinity': the same key, the same live
// member), and retry, whether a call in flight when its member died may go
// to another member (for idempotent calls).
type Routed interface {
	WithRoute(key string, retry bool) Target
}

// Named is a Target that can instead call a process by its cluster name:
// erlang.call(server, erlang.global(name), msg) is GenServer.call to the
// :global name, made on the member the host picks. It is resolved as a
// send to that name (module = the name, function '!', arity 1, with the
// privilege of a call).
type Named interface {
	CallName(c ClusterName) (Target, error)
}

// ErlangHost is what the erlang module needs from the backend. Every error
// is an *Error (with SQLSTATE) or a *RemoteError.
type ErlangHost interface {
	// Resolve checks privileges and the allow-list for op on target
	// (a plerl server name, or a raw node name for admins).
	Resolve(target, module, function string, arity, op int) (Target, error)
	// User is the role the running code acts as.
	User() uint32
	// ResolveAs is Resolve checked as role user instead of the current
	// role: a deferred send is checked at COMMIT as the role that queued it.
	ResolveAs(user uint32, target, module, function string, arity, op int) (Target, error)
	// CheckSend checks that a send to to (a name or pid) on t may carry
	// msg (its atoms, against plerl.allow); Send checks it again.
	CheckSend(t Target, to any, msg any) error
	// Enqueue writes msg for the registered name to into the durable
	// outbox, in the current (sub)transaction, as checked by Resolve;
	// returns the message's id (docs/outbox.md).
	Enqueue(t Target, to string, msg any, cast bool) (int64, error)
	Call(t Target, mod, fun string, args []any, timeout time.Duration, kill bool) (any, error)
	Send(t Target, to any, msg any) error // to: registered name (string) or term.Pid
	Connect(node, cookie string) error
	Disconnect(target string) bool
	Ping(t Target) error
	Self(t Target) (term.Pid, error)
	Receive(t Target, timeout time.Duration) (any, bool, error)
	TermOptions() *TermOptions
	CallTimeout() time.Duration
	// NestLevel is the current (sub)transaction nesting level.
	NestLevel() int
}

// RemoteError is an exception raised on the Erlang node.
type RemoteError struct {
	Err    *Error // message and SQLSTATE for SQL
	Class  string
	Reason any
	Stack  any
}

func (e *RemoteError) Error() string { return e.Err.Message }

// Unwrap lets errors.As find the *Error inside.
func (e *RemoteError) Unwrap() error { return e.Err }

// DeferredSend is a message queued until COMMIT.
type DeferredSend struct {
	Target   string // as the user named it: resolved again at commit
	To       any    // registered name (string) or term.Pid
	Msg      any
	Cast     bool
	Level    int    // transaction nesting level when queued
	User     uint32 // the role that queued it: checked again as that role
	resolved Target
}

// ErlangModule installs the erlang module, backed by host.
func ErlangModule(host ErlangHost) Module {
	return func(s *State) {
		m := &erlMod{s: s, host: host}
		m.install()
	}
}

type erlMod struct {
	s    *State
	host ErlangHost
}

func (m *erlMod) install() {
	L := m.s.L
	t := L.CreateTable(0, 32)
	fns := map[string]lua.LGFunction{
		"call":       m.call,
		"call_with":  m.callWith,
		"send":       m.send,
		"cast":       m.cast,
		"connect":    m.connect,
		"disconnect": m.disconnect,
		"ping":       m.ping,
		"self":       m.self,
		"receive":    m.receive,
		"atom":       m.atom,
		"tuple":      m.tuple,
		"list":       m.list,
		"map":        m.mapCtor,
		"binary":     m.binary,
		"int":        m.integer,
		"float":      m.float,
		"charlist":   m.charlist,
		"is_atom":    m.isAtom,
		"is_tuple":   m.isTuple,
		"term_type":  m.termType,
		"global":     m.global,
		"pg":         m.pg,
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	t.RawSetString("null", m.s.null)
	m.s.lazyTypeMeta(clusterMetaName, m.buildClusterMeta)
	m.installAsync(t)
	L.SetGlobal("erlang", t)
}

func (m *erlMod) buildClusterMeta() {
	L := m.s.L
	mt := newTypeMeta(L, clusterMetaName, 1)
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		c, _ := L.CheckUserData(1).Value.(ClusterName)
		if c.Global {
			L.Push(lua.LString("{global, " + c.Name + "}"))
		} else {
			L.Push(lua.LString("{pg, " + c.Scope + ", " + c.Name + "}"))
		}
		return 1
	}))
}

// errorObject is the Lua error object erlang.call would raise for err.
func (m *erlMod) errorObject(err error) lua.LValue {
	var re *RemoteError
	if errors.As(err, &re) {
		obj := newErrorObject(m.s.L, re.Err)
		obj.RawSetString("class", lua.LString(re.Class))
		opt := m.host.TermOptions()
		if v, e := m.s.fromTerm(re.Reason, opt, 0); e == nil {
			obj.RawSetString("reason", v)
		}
		if re.Stack != nil {
			if v, e := m.s.fromTerm(re.Stack, opt, 0); e == nil {
				obj.RawSetString("stack", v)
			}
		}
		return obj
	}
	var pe *Error
	if errors.As(err, &pe) {
		return newErrorObject(m.s.L, pe)
	}
	return lua.LString(err.Error())
}

// raise raises err as erlang.call's error object (never returns).
func (m *erlMod) raise(err error) {
	var re *RemoteError
	if errors.As(err, &re) {
		m.s.L.Error(m.errorObject(err), 0)
	}
	m.s.raise(err)
}

// badArg raises "bad argument #i to erlang.fn (why)" with err's SQLSTATE
// (22023 unless err carries one, e.g. 54000 for a limit).
func (m *erlMod) badArg(i int, fn string, err error) {
	state := sqlstate.InvalidParameterValue
	var e *Error
	if errors.As(err, &e) && e.SQLState != "" {
		state = e.SQLState
		err = errors.New(e.Message)
	}
	L := m.s.L.G.CurrentThread // built-ins also run inside coroutines
	if L == nil {
		L = m.s.L
	}
	m.s.raise(&Error{Kind: KindError, SQLState: state,
		Message: fmt.Sprintf("%sbad argument #%d to erlang.%s (%v)", where(L), i, fn, err)})
}

func (m *erlMod) args(L *lua.LState, from int, fn string) []any {
	opt := m.host.TermOptions()
	n := L.GetTop()
	args := make([]any, 0, max(n-from+1, 0))
	atoms := map[term.Atom]struct{}{}
	for i := from; i <= n; i++ {
		t, err := m.s.toTerm(L.Get(i), opt, 0, atoms)
		if err != nil {
			m.badArg(i, fn, err)
		}
		args = append(args, t)
	}
	return args
}

func (m *erlMod) result(L *lua.LState, res any) int {
	v, err := m.s.FromTerm(res, m.host.TermOptions())
	if err != nil {
		m.raise(err)
	}
	L.Push(v)
	return 1
}

// callee reads what a call goes to, from argument i: module and function
// (two arguments), or a cluster name (erlang.global(name), one argument).
// next is the index of the first argument of the call.
func (m *erlMod) callee(L *lua.LState, i int, fn string) (mod, fun string, via *ClusterName, next int) {
	if ud, ok := L.Get(i).(*lua.LUserData); ok && m.s.isType(ud, clusterMetaName) {
		c, _ := ud.Value.(ClusterName)
		if !c.Global {
			m.badArg(i, fn, errors.New("a call goes to a :global name (erlang.global), not a :pg group"))
		}
		return "{global, " + c.Name + "}", "", &c, i + 1
	}
	return L.CheckString(i), L.CheckString(i + 1), nil, i + 2
}

// resolveCall resolves a call of mod:fun(args...) on target, or (via) of
// the process registered as via's :global name with the one message args[0].
func (m *erlMod) resolveCall(target, mod, fun string, via *ClusterName, args []any, fn string, i int) Target {
	if via == nil {
		t, err := m.host.Resolve(target, mod, fun, len(args), OpCall)
		if err != nil {
			m.raise(err)
		}
		return t
	}
	if len(args) != 1 {
		m.badArg(i, fn, fmt.Errorf("a call to erlang.global(name) takes one message, not %d arguments", len(args)))
	}
	t, err := m.host.Resolve(target, via.Name, "!", 1, OpCall)
	if err != nil {
		m.raise(err)
	}
	n, ok := t.(Named)
	if !ok {
		m.badArg(i, fn, errors.New("this host cannot call a process by its cluster name"))
	}
	if t, err = n.CallName(*via); err != nil {
		m.raise(err)
	}
	return t
}

// erlang.call(server, module, function, ...) or erlang.call(server, erlang.global(name), msg)
func (m *erlMod) call(L *lua.LState) int {
	target := L.CheckString(1)
	mod, fun, via, next := m.callee(L, 2, "call")
	args := m.args(L, next, "call")
	t := m.resolveCall(target, mod, fun, via, args, "call", 2)
	res, err := m.host.Call(t, mod, fun, args, m.host.CallTimeout(), false)
	if err != nil {
		m.raise(err)
	}
	return m.result(L, res)
}

// erlang.call_with({timeout = ms, kill = true, key = 'k', retry = true}, server, module, function, ...)
func (m *erlMod) callWith(L *lua.LState) int {
	opts := L.CheckTable(1)
	target := L.CheckString(2)
	mod, fun, via, next := m.callee(L, 3, "call_with")
	m.checkOptions(1, "call_with", opts, map[string]lua.LValueType{"timeout": lua.LTNumber, "kill": lua.LTBool,
		"key": lua.LTString, "retry": lua.LTBool})
	timeout := m.host.CallTimeout()
	if v, ok := opts.RawGetString("timeout").(lua.LNumber); ok {
		if v < 0 {
			m.badArg(1, "call_with", errors.New("timeout must be zero (none) or a positive number of milliseconds"))
		}
		timeout = time.Duration(float64(v) * float64(time.Millisecond))
	}
	kill := lua.LVAsBool(opts.RawGetString("kill"))
	key, _ := opts.RawGetString("key").(lua.LString)
	retry := lua.LVAsBool(opts.RawGetString("retry"))
	args := m.args(L, next, "call_with")
	t := m.resolveCall(target, mod, fun, via, args, "call_with", 3)
	if r, ok := t.(Routed); ok {
		t = r.WithRoute(string(key), retry)
	}
	res, err := m.host.Call(t, mod, fun, args, timeout, kill)
	if err != nil {
		m.raise(err)
	}
	return m.result(L, res)
}

// checkOptions refuses keys of an options table that are not in known, and
// values of the wrong type.
func (m *erlMod) checkOptions(i int, fn string, t *lua.LTable, known map[string]lua.LValueType) {
	if bad := optionsError(m.s, t, known); bad != nil {
		m.badArg(i, fn, bad)
	}
}

// optionsError says what is wrong with an options table: a key not in
// known, or a value not of its type (nil: nothing).
func optionsError(s *State, t *lua.LTable, known map[string]lua.LValueType) error {
	var bad error
	t.ForEach(func(k, v lua.LValue) {
		if bad != nil {
			return
		}
		want, ok := known[lua.LVAsString(k)]
		switch {
		case k.Type() != lua.LTString || !ok:
			names := make([]string, 0, len(known))
			for n := range known {
				names = append(names, n)
			}
			sort.Strings(names)
			bad = fmt.Errorf("unknown option %s (known: %s)", s.tostring(k), strings.Join(names, ", "))
		case v.Type() != want:
			bad = fmt.Errorf("option %s must be a %s, not a %s", lua.LVAsString(k), want, v.Type())
		}
	})
	return bad
}

// clusterName checks a cluster name's argument (an atom's name).
func (m *erlMod) clusterName(L *lua.LState, i int, fn string) string {
	var name string
	switch v := L.Get(i).(type) {
	case lua.LString:
		name = string(v)
	case *lua.LUserData:
		if m.s.isType(v, atomMetaName) {
			name = string(atomOf(v))
		}
	}
	if name == "" || len(name) > 255 || !validUTF8(name) {
		m.badArg(i, fn, errors.New("expected a name: at most 255 characters of UTF-8"))
	}
	return name
}

func (m *erlMod) pushCluster(L *lua.LState, c ClusterName) int {
	ud := L.NewUserData()
	ud.Value = c
	ud.Metatable = m.s.metaOf(clusterMetaName)
	L.Push(ud)
	return 1
}

// erlang.global(name): the process registered as :global name, wherever it runs.
func (m *erlMod) global(L *lua.LState) int {
	return m.pushCluster(L, ClusterName{Global: true, Name: m.clusterName(L, 1, "global")})
}

// erlang.pg(group [, scope]): the members of a :pg group (scope default pg).
func (m *erlMod) pg(L *lua.LState) int {
	c := ClusterName{Name: m.clusterName(L, 1, "pg"), Scope: "pg"}
	if L.Get(2) != lua.LNil {
		c.Scope = m.clusterName(L, 2, "pg")
	}
	return m.pushCluster(L, c)
}

// destination: a registered name (string or atom), a pid, or a cluster
// name (erlang.global, erlang.pg).
func (m *erlMod) destination(L *lua.LState, i int, fn string) (any, string) {
	switch v := L.Get(i).(type) {
	case lua.LString:
		return string(v), string(v)
	case *lua.LUserData:
		if m.s.isType(v, atomMetaName) {
			return string(atomOf(v)), string(atomOf(v))
		}
		if p, ok := v.Value.(term.Pid); ok && m.s.isType(v, termMetaName) {
			return p, "!"
		}
		if c, ok := v.Value.(ClusterName); ok && m.s.isType(v, clusterMetaName) {
			return c, c.Name
		}
	}
	m.badArg(i, fn, errors.New("expected a registered name or a pid"))
	return nil, ""
}

func (m *erlMod) message(L *lua.LState, target string, cast bool) int {
	fn := "send"
	if cast {
		fn = "cast"
	}
	to, name := m.destination(L, 2, fn)
	opt := m.host.TermOptions()
	msg, err := m.s.ToTerm(L.Get(3), opt)
	if err != nil {
		m.badArg(3, fn, err)
	}
	plain := msg // a durable message is stored unwrapped: the receiver protocol carries it
	if cast {
		msg = term.Tuple{term.Atom("$gen_cast"), msg}
	}
	onCommit, durable := false, false
	if o := L.Get(4); o != lua.LNil {
		// A misspelled on_commit must not quietly send at once.
		t, ok := o.(*lua.LTable)
		if !ok {
			m.badArg(4, fn, fmt.Errorf("options must be a table, not a %s", o.Type()))
		}
		m.checkOptions(4, fn, t, map[string]lua.LValueType{"on_commit": lua.LTBool, "durable": lua.LTBool, "all": lua.LTBool})
		onCommit = lua.LVAsBool(t.RawGetString("on_commit"))
		durable = lua.LVAsBool(t.RawGetString("durable"))
		if lua.LVAsBool(t.RawGetString("all")) {
			c, ok := to.(ClusterName)
			if !ok || c.Global {
				m.badArg(4, fn, errors.New("all = true is for a :pg group (erlang.pg)"))
			}
			c.All = true
			to = c
		}
	}
	op := OpSend
	if cast {
		op = OpCast
	}
	// Checked now (a clear error at the call site) and again at COMMIT.
	t, err := m.host.Resolve(target, name, "!", 1, op)
	if err != nil {
		m.raise(err)
	}
	if durable {
		// A row in the outbox, written now in this (sub)transaction and
		// delivered by the worker after COMMIT, acknowledged (docs/outbox.md).
		if onCommit {
			m.badArg(4, fn, fmt.Errorf("durable and on_commit exclude each other: a durable message is always sent after COMMIT"))
		}
		if _, isName := to.(string); !isName {
			m.badArg(2, fn, fmt.Errorf("a durable message goes to a registered name, not a pid or a cluster name"))
		}
		id, err := m.host.Enqueue(t, name, plain, cast)
		if err != nil {
			m.raise(err)
		}
		L.Push(lua.LNumber(id))
		return 1
	}
	if onCommit {
		// A message refused at COMMIT could only be a WARNING after it:
		// refuse it here, where the caller sees it.
		if err := m.host.CheckSend(t, to, msg); err != nil {
			m.raise(err)
		}
		m.s.e.deferSend(DeferredSend{Target: target, To: to, Msg: msg, Cast: cast,
			Level: m.host.NestLevel(), User: m.host.User()})
		L.Push(lua.LTrue)
		return 1
	}
	if err := m.host.Send(t, to, msg); err != nil {
		m.raise(err)
	}
	L.Push(lua.LTrue)
	return 1
}

// erlang.send(server, name_or_pid, message [, {on_commit = true}])
func (m *erlMod) send(L *lua.LState) int { return m.message(L, L.CheckString(1), false) }

// erlang.cast(server, name, message [, {on_commit = true}]): GenServer.cast
func (m *erlMod) cast(L *lua.LState) int { return m.message(L, L.CheckString(1), true) }

func (m *erlMod) connect(L *lua.LState) int {
	node, cookie := L.CheckString(1), L.CheckString(2)
	if _, err := m.host.Resolve(node, "", "", 0, OpConnect); err != nil {
		m.raise(err)
	}
	if err := m.host.Connect(node, cookie); err != nil {
		m.raise(err)
	}
	L.Push(lua.LTrue)
	return 1
}

func (m *erlMod) disconnect(L *lua.LState) int {
	target := L.CheckString(1)
	if _, err := m.host.Resolve(target, "", "", 0, OpDisconnect); err != nil {
		m.raise(err)
	}
	L.Push(lua.LBool(m.host.Disconnect(target)))
	return 1
}

func (m *erlMod) ping(L *lua.LState) int {
	t, err := m.host.Resolve(L.CheckString(1), "", "", 0, OpPing)
	if err != nil {
		m.raise(err)
	}
	L.Push(lua.LBool(m.host.Ping(t) == nil))
	return 1
}

// erlang.self(server): this backend's pid on that node's connection.
func (m *erlMod) self(L *lua.LState) int {
	t, err := m.host.Resolve(L.CheckString(1), "", "", 0, OpPing)
	if err != nil {
		m.raise(err)
	}
	p, err := m.host.Self(t)
	if err != nil {
		m.raise(err)
	}
	L.Push(m.s.wrapTerm(p))
	return 1
}

// erlang.receive(server [, timeout_ms]): the next message to erlang.self(server),
// or nil after timeout_ms (default plerl.call_timeout; 0: no wait at all).
func (m *erlMod) receive(L *lua.LState) int {
	t, err := m.host.Resolve(L.CheckString(1), "", "", 0, OpPing)
	if err != nil {
		m.raise(err)
	}
	ms := L.OptNumber(2, lua.LNumber(m.host.CallTimeout()/time.Millisecond))
	if ms < 0 {
		m.badArg(2, "receive", errors.New("timeout must not be negative"))
	}
	d := time.Duration(float64(ms) * float64(time.Millisecond))
	if ms == 0 && L.Get(2) != lua.LNil {
		// An explicit 0 looks without waiting (Erlang's `after 0`); only
		// the default (plerl.call_timeout = 0) waits until cancelled.
		d = time.Nanosecond
	}
	msg, ok, err := m.host.Receive(t, d)
	if err != nil {
		m.raise(err)
	}
	if !ok {
		L.Push(lua.LNil)
		return 1
	}
	v, err := m.s.fromTerm(msg, m.host.TermOptions(), 0)
	if err != nil {
		m.raise(err)
	}
	L.Push(v)
	return 1
}

func (m *erlMod) atom(L *lua.LState) int {
	name := L.CheckString(1)
	if len(name) > 255 || !validUTF8(name) {
		m.badArg(1, "atom", errors.New("an atom is at most 255 characters of UTF-8"))
	}
	L.Push(m.s.Atom(term.Atom(name)))
	return 1
}

func validUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func (m *erlMod) tuple(L *lua.LState) int {
	n := L.GetTop()
	t := L.CreateTable(n, 0)
	for i := 1; i <= n; i++ {
		v := L.Get(i)
		if v == lua.LNil {
			v = m.s.null
		}
		t.RawSetInt(i, v)
	}
	L.SetMetatable(t, m.s.metaOf(tupleMetaName))
	L.Push(t)
	return 1
}

// erlang.list(t): t as a list even when empty (a plain table already is one).
func (m *erlMod) list(L *lua.LState) int {
	t := L.OptTable(1, L.NewTable())
	v, err := m.s.ToTerm(t, m.host.TermOptions())
	if err != nil {
		m.badArg(1, "list", err)
	}
	if _, ok := v.(term.List); !ok {
		m.badArg(1, "list", errors.New("not a sequence 1..n"))
	}
	L.Push(m.s.wrapTerm(v))
	return 1
}

// erlang.map(t): t as a map even when empty or array-like.
func (m *erlMod) mapCtor(L *lua.LState) int {
	t := L.OptTable(1, L.NewTable())
	L.SetMetatable(t, m.s.metaOf(mapMetaName))
	L.Push(t)
	return 1
}

func (m *erlMod) binary(L *lua.LState) int {
	L.Push(lua.LString(L.CheckString(1)))
	return 1
}

// maxIntDigits bounds erlang.int's string argument (as many digits as a
// numeric may have before its decimal point).
const maxIntDigits = 131072

// erlang.int("123456789012345678901234567890"): an exact integer of any size.
func (m *erlMod) integer(L *lua.LState) int {
	switch v := L.Get(1).(type) {
	case lua.LNumber:
		f := float64(v)
		if f != math.Trunc(f) || math.Abs(f) > maxExact {
			m.badArg(1, "int", errors.New("not an exact integer: pass a string for integers beyond 2^53"))
		}
		L.Push(v)
		return 1
	case lua.LString:
		digits := strings.TrimSpace(string(v))
		if len(digits) > maxIntDigits {
			// Decimal parsing is quadratic and cannot be interrupted:
			// a few million digits take minutes.
			m.badArg(1, "int", Errorf(sqlstate.ProgramLimitExceeded, "more than %d digits", maxIntDigits))
		}
		n, ok := new(big.Int).SetString(digits, 10)
		if !ok {
			m.badArg(1, "int", errors.New("not a decimal integer"))
		}
		if n.IsInt64() {
			L.Push(m.s.IntValue(n.Int64()))
		} else {
			L.Push(m.s.wrapTerm(n))
		}
		return 1
	}
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if _, ok := ud.Value.(int64); ok {
			L.Push(ud)
			return 1
		}
	}
	m.badArg(1, "int", errors.New("expected a number or a string of digits"))
	return 0
}

// erlang.float(x): x as an Erlang float even when integral (1.0, not 1).
func (m *erlMod) float(L *lua.LState) int {
	L.Push(m.s.wrapTerm(float64(L.CheckNumber(1))))
	return 1
}

func (m *erlMod) charlist(L *lua.LState) int {
	str := L.CheckString(1)
	l := make(term.List, 0, len(str))
	for _, r := range str {
		l = append(l, int64(r))
	}
	L.Push(m.s.wrapTerm(l))
	return 1
}

func (m *erlMod) isAtom(L *lua.LState) int {
	v := L.Get(1)
	ok := m.s.isType(v, atomMetaName)
	if ok && L.GetTop() >= 2 {
		ok = string(atomOf(v.(*lua.LUserData))) == L.CheckString(2)
	}
	L.Push(lua.LBool(ok))
	return 1
}

func (m *erlMod) isTuple(L *lua.LState) int {
	L.Push(lua.LBool(m.s.isType(L.Get(1), tupleMetaName)))
	return 1
}

// erlang.term_type(v): "atom", "tuple", "pid", "ref", "port", "fun", "bignum", ...
func (m *erlMod) termType(L *lua.LState) int {
	v := L.Get(1)
	name := ""
	switch {
	case m.s.isType(v, atomMetaName):
		name = "atom"
	case m.s.isType(v, tupleMetaName):
		name = "tuple"
	case m.s.isType(v, termMetaName):
		switch v.(*lua.LUserData).Value.(type) {
		case term.Pid:
			name = "pid"
		case term.Ref:
			name = "ref"
		case term.Port:
			name = "port"
		case term.Fun:
			name = "fun"
		case *big.Int:
			name = "bignum"
		case float64:
			name = "float"
		case term.List:
			name = "list"
		case term.ImproperList:
			name = "improper_list"
		case term.BitBinary:
			name = "bitstring"
		default:
			name = "term"
		}
	}
	if name == "" {
		L.Push(lua.LNil)
	} else {
		L.Push(lua.LString(name))
	}
	return 1
}

// ---- deferred sends ----

func (e *Engine) deferSend(d DeferredSend) { e.sends = append(e.sends, d) }

// PendingSends reports how many sends wait for COMMIT.
func (e *Engine) PendingSends() int { return len(e.sends) }

// DropSends forgets sends queued at nesting level >= level (a rolled-back
// subtransaction drops its own; level 1 is the whole transaction).
func (e *Engine) DropSends(level int) {
	keep := e.sends[:0]
	for _, d := range e.sends {
		if d.Level < level {
			keep = append(keep, d)
		}
	}
	e.sends = keep
}

// ReparentSends moves sends of a committed subtransaction to its parent.
func (e *Engine) ReparentSends(level int) {
	for i := range e.sends {
		if e.sends[i].Level >= level {
			e.sends[i].Level = level - 1
		}
	}
}

// PrepareSends re-checks every queued send (privileges may have changed
// since it was queued) as the role that queued it; called before COMMIT,
// when the catalog can still be read.
func (e *Engine) PrepareSends(host ErlangHost) error {
	for i := range e.sends {
		d := &e.sends[i]
		name := "!"
		switch to := d.To.(type) {
		case string:
			name = to
		case ClusterName:
			name = to.Name
		}
		op := OpSend
		if d.Cast {
			op = OpCast
		}
		t, err := host.ResolveAs(d.User, d.Target, name, "!", 1, op)
		if err != nil {
			return err
		}
		if err := host.CheckSend(t, d.To, d.Msg); err != nil {
			return err
		}
		d.resolved = t
	}
	return nil
}

// FlushSends sends what PrepareSends checked (after COMMIT; errors are only
// reported, the transaction is already committed) and empties the queue.
func (e *Engine) FlushSends(host ErlangHost) []error {
	var errs []error
	for _, d := range e.sends {
		if d.resolved == nil {
			continue
		}
		if err := host.Send(d.resolved, d.To, d.Msg); err != nil {
			errs = append(errs, err)
		}
	}
	e.sends = e.sends[:0]
	return errs
}
