// Requests over a Conn: rex calls (Call), erpc calls that can be killed (CallKill), Send, RegSend, Ping, links and monitors.
package dist

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

// RemoteError is a call that failed on the peer. Class is "error", "exit"
// or "throw"; Stack is the remote stacktrace when the peer sent one.
//
// Via rex (Call) the classes cannot all be told apart (rpc.erl wraps with
// catch): {badrpc, {'EXIT', {Reason, Stack}}} is reported as class "error"
// when Stack looks like a stacktrace, every other {badrpc, {'EXIT', R}} as
// "exit", and {badrpc, X} (e.g. nodedown) as "exit" with Reason X; a throw
// is an ordinary return value. CallKill (erpc) reports exact classes.
type RemoteError struct {
	Class  string
	Reason any
	Stack  any
	MFA    string // "mod:fun/arity"
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s raised %s: %s", e.MFA, e.Class, termString(e.Reason, 200))
}

// IsUndef reports an undefined module or function on the peer.
func (e *RemoteError) IsUndef() bool {
	return e.Class == "error" && e.Reason == term.Atom("undef")
}

// termString renders a term briefly for error messages (bounded length).
func termString(v any, max int) string {
	s := fmt.Sprintf("%v", v)
	switch x := v.(type) {
	case term.Atom:
		s = string(x)
	case term.Tuple:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = termString(e, max)
		}
		s = "{" + strings.Join(parts, ",") + "}"
	}
	if len(s) > max {
		s = s[:max] + "..."
	}
	return s
}

func mfaString(mod, fun string, arity int) string {
	return mod + ":" + fun + "/" + strconv.Itoa(arity)
}

// ---- pending calls --------------------------------------------------------

type reply struct {
	buf  []byte  // rex/gen_call: the result term, starting with 131
	ctl  Control // spawn: SPAWN_REPLY or DOWN
	n    int64   // the bytes of the frames that brought it (length headers included)
	held int64   // bytes drawn from Config.ReplyBytes until collected
	over int64   // the reply (of this many bytes) did not fit ReplyBytes: dropped
}

// collected gives a collected (or dropped) reply's bytes back to the budget.
func (c *Conn) collected(r reply) { c.cfg.ReplyBytes.give(r.held) }

// hold draws a reply of n bytes from Config.ReplyBytes; a reply that does
// not fit is dropped and fails its call (overErr).
func (c *Conn) hold(r reply, n int64) reply {
	if !c.cfg.ReplyBytes.takeHeld(n) {
		return reply{over: n, n: r.n}
	}
	r.held = n
	return r
}

// overErr is the error of a call whose reply did not fit Config.ReplyBytes.
func (c *Conn) overErr(r reply, step string) *Error {
	return newErr(KindTooLarge, c.node, step, fmt.Errorf("its reply of %d bytes arrived while replies of earlier calls still waited to be collected, beyond the %d bytes they may hold together: fewer calls in flight", r.over, c.cfg.ReplyBytes.Limit()))
}

type call struct {
	ch chan reply // cap 2: a failed SPAWN_REPLY, or the DOWN
	// spawn bookkeeping, under Conn.pmu
	spawn     bool
	havePid   bool
	pid       term.Pid
	cancelled bool
	// OneWaiter's count (Conn.parked), under Conn.pmu: unpended once the
	// call left the pending map (its reply is being delivered), parked while
	// a goroutine waits for it and it is still pending.
	unpended, parked bool
	// spawn: the bytes of a SPAWN_REPLY that brought the pid (under
	// Conn.pmu), added to the DOWN's in its reply.
	spawnBytes int64
}

var callPool = sync.Pool{New: func() any { return &call{ch: make(chan reply, 2)} }}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte, b []byte) {
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
}

// newRefKey allocates the next reference: IDs {k & 0x3ffff, k >> 18, salt}
// (the first word of a reference carries 18 bits). k keys the pending map.
func (c *Conn) newRefKey() uint64 {
	c.pmu.Lock()
	c.refSeq++
	k := c.refSeq
	c.pmu.Unlock()
	return k
}

func (c *Conn) refOf(k uint64) term.Ref {
	return term.Ref{Node: c.self, Creation: c.creation, IDs: []uint32{uint32(k & 0x3ffff), uint32(k >> 18), c.refSalt}}
}

// appendOurRef encodes refOf(k) without building it.
func (c *Conn) appendOurRef(b []byte, k uint64) []byte {
	b = append(b, tagNewerRef, 0, 3)
	b = appendAtom(b, string(c.self))
	b = binary.BigEndian.AppendUint32(b, c.creation)
	b = binary.BigEndian.AppendUint32(b, uint32(k&0x3ffff))
	b = binary.BigEndian.AppendUint32(b, uint32(k>>18))
	return binary.BigEndian.AppendUint32(b, c.refSalt)
}

// NewRef makes a reference of our node (unique on this connection).
func (c *Conn) NewRef() term.Ref { return c.refOf(c.newRefKey()) }

func (c *Conn) ourRefKey(r term.Ref) (uint64, bool) {
	if r.Node != c.self || r.Creation != c.creation || len(r.IDs) != 3 || r.IDs[2] != c.refSalt || r.IDs[0] > 0x3ffff {
		return 0, false
	}
	return uint64(r.IDs[0]) | uint64(r.IDs[1])<<18, true
}

func (c *Conn) register(k uint64, spawn bool) *call {
	cl := callPool.Get().(*call)
	cl.spawn, cl.havePid, cl.cancelled = spawn, false, false
	cl.unpended, cl.parked = false, false
	cl.spawnBytes = 0
	c.pmu.Lock()
	c.pending[k] = cl
	c.pmu.Unlock()
	return cl
}

// unpendLocked removes call k from the pending map (pmu held): a goroutine
// parked on it is no longer waiting for the socket (OneWaiter).
func (c *Conn) unpendLocked(k uint64, cl *call) {
	delete(c.pending, k)
	cl.unpended = true
	if cl.parked {
		cl.parked = false
		c.parked.Add(-1)
	}
}

// abandon removes a call nobody will wait for. If the reader already took
// it (a reply is in flight), the call is not recycled.
func (c *Conn) abandon(k uint64, cl *call) {
	c.pmu.Lock()
	mine := c.pending[k] == cl
	if mine {
		c.unpendLocked(k, cl)
	} else {
		c.dropHeldLocked(cl)
	}
	c.pmu.Unlock()
	if mine {
		callPool.Put(cl)
	}
}

// dropHeldLocked gives back the bytes of a reply delivered to a call that
// is being abandoned. Replies are put in a call's channel under pmu, so
// nothing arrives after this.
func (c *Conn) dropHeldLocked(cl *call) {
	for {
		select {
		case r := <-cl.ch:
			c.collected(r)
		default:
			return
		}
	}
}

// buildRexHeader pre-encodes the constant part of a rex call:
//
//	<<Len:32, 112, 131, {6, RpcPid, '', rex}, 131, 104, 3, '$gen_call', 104, 2, RpcPid>>
//
// after which Call appends Ref, {call, M, F, Args, user}.
func (c *Conn) buildRexHeader() []byte {
	b := make([]byte, frameHdr, 128)
	b = append(b, passThrough, versionMagic)
	b = appendTupleHeader(b, 4)
	b = appendInt(b, OpRegSend)
	b = appendPid(b, c.rpcPid)
	b = appendAtom(b, "")
	b = appendAtom(b, "rex")
	b = append(b, versionMagic)
	b = appendTupleHeader(b, 3)
	b = appendAtom(b, "$gen_call")
	b = appendTupleHeader(b, 2)
	return appendPid(b, c.rpcPid)
}

// fastReply recognises a rex/gen_call reply to our rpc pid without
// allocating: SEND {2, ”, RpcPid} + {Ref, Result}. It hands the caller
// the Result bytes, overwriting the byte before them (the last byte of the
// ref, already parsed; the frame is ours) with 131 so it decodes on its own.
func (c *Conn) fastReply(f []byte) bool {
	if len(f) < 8 || f[0] != passThrough || f[1] != versionMagic || f[2] != tagSmallTuple ||
		f[3] != 3 || f[4] != tagSmallInt || f[5] != OpSend {
		return false
	}
	w := wire{b: f, i: 6, in: &c.in}
	if a, ok := w.atomBytes(); !ok || len(a) != 0 {
		return false
	}
	if w.i >= len(f) || f[w.i] != tagNewPid {
		return false
	}
	if p, ok := w.pid(); !ok || p != c.rpcPid {
		return false
	}
	if len(f)-w.i < 4 || f[w.i] != versionMagic || f[w.i+1] != tagSmallTuple || f[w.i+2] != 2 || f[w.i+3] != tagNewerRef {
		return false
	}
	w.i += 4
	if n, ok := w.u16(); !ok || n != 3 {
		return false
	}
	if a, ok := w.atomBytes(); !ok || string(a) != string(c.self) {
		return false
	}
	cr, _ := w.u32()
	id0, _ := w.u32()
	id1, _ := w.u32()
	salt, ok := w.u32()
	if !ok || cr != c.creation || salt != c.refSalt || id0 > 0x3ffff || w.i >= len(f) {
		return false
	}
	k := uint64(id0) | uint64(id1)<<18
	f[w.i-1] = versionMagic
	c.pmu.Lock()
	cl := c.pending[k]
	if cl == nil || cl.spawn {
		c.pmu.Unlock()
		c.late.Add(1) // late reply after a timeout: dropped
		return true
	}
	c.unpendLocked(k, cl)
	// Under pmu (the channel has room: one reply per call), so that
	// abandon either finds the call pending or finds its reply here.
	n := int64(len(f) + frameHdr)
	cl.ch <- c.hold(reply{buf: f[w.i-1:], n: n}, n)
	c.pmu.Unlock()
	return true
}

// routeSignal hands a SPAWN_REPLY or DOWN to a pending CallKill; n is
// the size of the frame that brought it.
func (c *Conn) routeSignal(k uint64, ctl Control, n int64) bool {
	c.pmu.Lock()
	cl := c.pending[k]
	if cl == nil || !cl.spawn {
		c.pmu.Unlock()
		return false
	}
	cl.spawnBytes += n
	if ctl.Op == OpSpawnReply {
		if p, ok := ctl.Reason.(term.Pid); ok {
			cl.havePid, cl.pid = true, p
			if cl.cancelled {
				// The caller gave up before the pid was known: kill now.
				c.unpendLocked(k, cl)
				c.pmu.Unlock()
				c.queueKill(p)
				return true
			}
			// Running: the caller needs only the DOWN, so it is not woken
			// for this.
			c.pmu.Unlock()
			return true
		}
	}
	c.unpendLocked(k, cl) // DOWN, or a failed spawn: final
	if !cl.cancelled {
		r := c.hold(reply{ctl: ctl, n: cl.spawnBytes}, n)
		select {
		case cl.ch <- r:
		default:
			c.collected(r)
		}
	}
	c.pmu.Unlock()
	return true
}

func (c *Conn) exit2Frame(to term.Pid, reason term.Atom) []byte {
	b := make([]byte, frameHdr, 128)
	b = append(b, passThrough, versionMagic)
	b = appendTupleHeader(b, 4)
	b = appendInt(b, OpExit2)
	b = appendPid(b, c.rpcPid)
	b = appendPid(b, to)
	b = appendAtom(b, string(reason))
	binary.BigEndian.PutUint32(b, uint32(len(b)-frameHdr))
	return b
}

func (c *Conn) queueKill(p term.Pid) { c.queueControl(c.exit2Frame(p, "kill")) }

// rpcPidMessage handles messages to the rpc pid that are not fast-path
// replies: io_requests (the rpc pid may be a spawned call's group leader)
// get {error, enotsup}; a reply whose ref was encoded unusually is routed;
// anything else is dropped. frameLen is the size of the frame.
func (c *Conn) rpcPidMessage(payload []byte, frameLen int64) {
	v, n, err := term.Decode(payload, &c.cfg.Limits)
	if err != nil || n != len(payload) {
		c.drops.Add(1)
		return
	}
	t, ok := v.(term.Tuple)
	if !ok {
		c.drops.Add(1)
		return
	}
	if len(t) == 4 && t[0] == term.Atom("io_request") {
		if from, ok := t[1].(term.Pid); ok {
			ans := term.Tuple{term.Atom("io_reply"), t[2], term.Tuple{term.Atom("error"), term.Atom("enotsup")}}
			b, err := appendControl(make([]byte, frameHdr, 128), term.Tuple{int64(OpSend), term.Atom(""), from}, ans, true)
			if err == nil {
				binary.BigEndian.PutUint32(b, uint32(len(b)-frameHdr))
				c.queueControl(b)
			}
		}
		return
	}
	if len(t) == 2 {
		if r, ok := t[0].(term.Ref); ok {
			if k, ok := c.ourRefKey(r); ok {
				b, err := appendVersioned(nil, t[1]) // it decoded: it encodes
				c.pmu.Lock()
				cl := c.pending[k]
				if err != nil || cl == nil || cl.spawn {
					c.pmu.Unlock()
					c.late.Add(1)
					return
				}
				c.unpendLocked(k, cl)
				cl.ch <- c.hold(reply{buf: b, n: frameLen}, frameLen) // under pmu, as fastReply
				c.pmu.Unlock()
				return
			}
		}
	}
	c.drops.Add(1)
}

// ---- Call (rex) -----------------------------------------------------------

// Call runs mod:fun(args...) on the peer through rex, as
// gen_server:call(rex, {call, Mod, Fun, Args, user}): one REG_SEND of
// {'$gen_call', {RpcPid, Ref}, {call, M, F, A, user}}, reply {Ref, Result}.
// Many calls may be in flight on one Conn. ctx bounds the wait; a reply
// arriving later is dropped. The remote work is NOT stopped when ctx ends
// (use CallKill for that). A failure on the peer is a KindRemote *Error
// wrapping a *RemoteError.
func (c *Conn) Call(ctx context.Context, mod, fun string, args []any) (any, error) {
	p, err := c.Go(ctx, mod, fun, args, false)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

func (c *Conn) precheck(ctx context.Context, what, mod, fun string, args []any) error {
	c.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return c.countErr(ctxErr(ctx, KindTimeout, c.node, what+" "+mfaString(mod, fun, len(args)), err))
	}
	select {
	case <-c.done:
		return c.countErr(c.err)
	default:
	}
	if len(mod) > 255 || len(fun) > 255 {
		return c.countErr(newErr(KindProtocol, c.node, what, errors.New("module or function name longer than 255 bytes")))
	}
	return nil
}

func (c *Conn) countErr(err error) error {
	c.errs.Add(1)
	return err
}

// stepErr re-labels a connection error with the call it hit.
func (c *Conn) stepErr(err error, what, mod, fun string, arity int) error {
	var e *Error
	if errors.As(err, &e) {
		return &Error{Kind: e.Kind, Node: e.Node, Step: what + " " + mfaString(mod, fun, arity), Err: e}
	}
	return err
}

// awaitReply waits for a rex or gen_call reply; *recv (if not nil) gets
// the size of the frame that brought it.
func (c *Conn) awaitReply(ctx context.Context, k uint64, cl *call, t0 time.Time, mod, fun string, arity int, rex bool, recv *int64) (any, error) {
	r, err := c.wait(ctx, cl)
	switch {
	case err == nil:
		callPool.Put(cl)
		if recv != nil {
			*recv = r.n
		}
		c.lastRTT.Store(int64(time.Since(t0)))
		defer c.collected(r)
		if r.over > 0 {
			return nil, c.countErr(c.overErr(r, "rpc "+mfaString(mod, fun, arity)))
		}
		v, n, err := term.Decode(r.buf, &c.cfg.Limits)
		if err != nil || n != len(r.buf) {
			if err == nil {
				err = fmt.Errorf("%d bytes after the result", len(r.buf)-n)
			}
			return nil, c.countErr(newErr(KindProtocol, c.node, "rpc "+mfaString(mod, fun, arity), fmt.Errorf("decode result: %w", err)))
		}
		if rex {
			if re := rexError(v, mfaString(mod, fun, arity)); re != nil {
				return nil, c.countErr(newErr(KindRemote, c.node, "rpc "+mfaString(mod, fun, arity), re))
			}
		}
		return v, nil
	case ctx.Err() != nil:
		c.abandon(k, cl)
		return nil, c.countErr(ctxErr(ctx, KindTimeout, c.node, "rpc "+mfaString(mod, fun, arity), ctx.Err()))
	default:
		c.abandon(k, cl)
		return nil, c.countErr(c.stepErr(c.err, "rpc", mod, fun, arity))
	}
}

// appendArgs encodes args as a proper list.
func appendArgs(b []byte, args []any) ([]byte, error) {
	if len(args) == 0 {
		return append(b, tagNil), nil
	}
	b = append(b, tagList)
	b = binary.BigEndian.AppendUint32(b, uint32(len(args)))
	var err error
	for _, a := range args {
		if b, err = appendTerm(b, a); err != nil {
			return b, err
		}
	}
	return append(b, tagNil), nil
}

// rexError turns rex's failure shapes into a *RemoteError (nil = success).
func rexError(v any, mfa string) *RemoteError {
	t, ok := v.(term.Tuple)
	if !ok || len(t) != 2 || t[0] != term.Atom("badrpc") {
		return nil
	}
	if ex, ok := t[1].(term.Tuple); ok && len(ex) == 2 && ex[0] == term.Atom("EXIT") {
		if rs, ok := ex[1].(term.Tuple); ok && len(rs) == 2 && isStacktrace(rs[1]) {
			return &RemoteError{Class: "error", Reason: rs[0], Stack: rs[1], MFA: mfa}
		}
		return &RemoteError{Class: "exit", Reason: ex[1], MFA: mfa}
	}
	return &RemoteError{Class: "exit", Reason: t[1], MFA: mfa}
}

// isStacktrace: a list of {M, F, ArityOrArgs, Location} tuples.
func isStacktrace(v any) bool {
	l, ok := v.(term.List)
	if !ok {
		return false
	}
	for _, e := range l {
		f, ok := e.(term.Tuple)
		if !ok || len(f) != 4 {
			return false
		}
		if _, ok := f[0].(term.Atom); !ok {
			return false
		}
	}
	return true
}

// genCall does gen_server:call({Name, Node}, Request) from the rpc pid.
func (c *Conn) genCall(ctx context.Context, name string, req any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(ctx, KindTimeout, c.node, "call "+name, err)
	}
	t0 := time.Now()
	k := c.newRefKey()
	payload := term.Tuple{term.Atom("$gen_call"), term.Tuple{c.rpcPid, c.refOf(k)}, req}
	b, err := appendControl(make([]byte, frameHdr, 256), term.Tuple{int64(OpRegSend), c.rpcPid, term.Atom(""), term.Atom(name)}, payload, true)
	if err != nil {
		return nil, newErr(KindProtocol, c.node, "call "+name, err)
	}
	cl := c.register(k, false)
	if err := c.writeFrame(ctx, b); err != nil {
		c.abandon(k, cl)
		return nil, err
	}
	return c.awaitReply(ctx, k, cl, t0, name, "call", 1, false, nil)
}

// Ping checks the peer answers, as net_adm:ping does:
// gen_server:call(net_kernel, {is_auth, OurNode}) must return yes.
func (c *Conn) Ping(ctx context.Context) error {
	v, err := c.genCall(ctx, "net_kernel", term.Tuple{term.Atom("is_auth"), c.self})
	if err != nil {
		return err
	}
	if v != term.Atom("yes") {
		return protoErr(c.node, "ping", "net_kernel answered %s", termString(v, 100))
	}
	return nil
}

// ---- CallKill (erpc via spawn_request) ------------------------------------

// CallKill runs mod:fun(args...) in a fresh process on the peer, the way
// erpc:call does: SPAWN_REQUEST {29, ReqId, RpcPid, GroupLeader,
// {erpc, execute_call, 4}, [monitor]} + [ResRef, M, F, A]; the result is the
// reason of the DOWN for ReqId ({ResRef, return, V}, {ResRef, throw, T},
// {ResRef, exit, R}, {ResRef, error, R, Stack}). If ctx ends first, the
// spawned process is killed with EXIT2 kill (at once if its pid is known,
// else as soon as SPAWN_REPLY brings it). Group leader: the peer's `user`
// process (looked up once per connection with erlang:whereis(user)), so I/O
// goes to the peer's console like rex calls; if there is none, our rpc pid,
// which answers io_requests with {error, enotsup}.
func (c *Conn) CallKill(ctx context.Context, mod, fun string, args []any) (any, error) {
	p, err := c.Go(ctx, mod, fun, args, true)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// erpcResult decodes the DOWN reason of erpc:execute_call/4.
func erpcResult(reason any, resRef term.Ref, mfa string) (any, *RemoteError) {
	t, ok := reason.(term.Tuple)
	if ok && len(t) >= 3 && refEqual(t[0], resRef) {
		switch {
		case t[1] == term.Atom("return") && len(t) == 3:
			return t[2], nil
		case t[1] == term.Atom("throw") && len(t) == 3:
			return nil, &RemoteError{Class: "throw", Reason: t[2], MFA: mfa}
		case t[1] == term.Atom("exit") && len(t) == 3:
			return nil, &RemoteError{Class: "exit", Reason: t[2], MFA: mfa}
		case t[1] == term.Atom("error") && len(t) == 4:
			return nil, &RemoteError{Class: "error", Reason: t[2], Stack: t[3], MFA: mfa}
		case t[1] == term.Atom("error") && len(t) == 3:
			return nil, &RemoteError{Class: "error", Reason: t[2], MFA: mfa} // {erpc, R}
		}
	}
	// The process died some other way (killed, noconnection, ...).
	return nil, &RemoteError{Class: "exit", Reason: reason, MFA: mfa}
}

func refEqual(v any, r term.Ref) bool {
	x, ok := v.(term.Ref)
	if !ok || x.Node != r.Node || x.Creation != r.Creation || len(x.IDs) != len(r.IDs) {
		return false
	}
	for i := range x.IDs {
		if x.IDs[i] != r.IDs[i] {
			return false
		}
	}
	return true
}

func (c *Conn) groupLeader(ctx context.Context) (any, error) {
	c.glMu.Lock()
	defer c.glMu.Unlock()
	if c.gl != nil {
		return c.gl, nil
	}
	v, err := c.Call(ctx, "erlang", "whereis", []any{term.Atom("user")})
	if err != nil {
		return nil, err
	}
	if p, ok := v.(term.Pid); ok {
		c.gl = p
	} else {
		c.gl = c.rpcPid
	}
	return c.gl, nil
}

// ---- messages, links, monitors ---------------------------------------------

func (c *Conn) sendCtl(ctx context.Context, step string, ctrl term.Tuple, payload any, hasPayload bool) error {
	if err := ctx.Err(); err != nil {
		return ctxErr(ctx, KindTimeout, c.node, step, err)
	}
	bp := getBuf()
	b, err := appendControl(append((*bp)[:0], 0, 0, 0, 0), ctrl, payload, hasPayload)
	if err != nil {
		putBuf(bp, b)
		return newErr(KindProtocol, c.node, step, fmt.Errorf("encode: %w", err))
	}
	err = c.writeFrame(ctx, b)
	putBuf(bp, b)
	return err
}

// Send sends msg to a pid on the peer (SEND {2, ”, To} + Msg). Like
// Erlang's !, it does not wait for or confirm delivery.
func (c *Conn) Send(ctx context.Context, to term.Pid, msg any) error {
	_, err := c.SendBytes(ctx, to, msg)
	return err
}

// SendBytes is Send, and also returns the size of the frame written
// (length header included; 0 if none was).
func (c *Conn) SendBytes(ctx context.Context, to term.Pid, msg any) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, ctxErr(ctx, KindTimeout, c.node, "send", err)
	}
	bp := getBuf()
	b := append((*bp)[:0], 0, 0, 0, 0, passThrough, versionMagic, tagSmallTuple, 3, tagSmallInt, OpSend, tagSmallAtomUTF8, 0)
	b = appendPid(b, to)
	return c.sendBuilt(ctx, bp, b, msg, "send")
}

// RegSend sends msg to the process registered as name on the peer
// (REG_SEND {6, From, ”, Name} + Msg); from is one of our pids (the
// sender a reply goes to). A name that is not registered drops the message
// silently on the peer.
func (c *Conn) RegSend(ctx context.Context, from term.Pid, name string, msg any) error {
	_, err := c.RegSendBytes(ctx, from, name, msg)
	return err
}

// RegSendBytes is RegSend, and also returns the size of the frame written
// (length header included; 0 if none was).
func (c *Conn) RegSendBytes(ctx context.Context, from term.Pid, name string, msg any) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, ctxErr(ctx, KindTimeout, c.node, "reg_send", err)
	}
	if len(name) > 255 {
		return 0, newErr(KindProtocol, c.node, "reg_send", errors.New("registered name longer than 255 bytes"))
	}
	bp := getBuf()
	b := append((*bp)[:0], 0, 0, 0, 0, passThrough, versionMagic, tagSmallTuple, 4, tagSmallInt, OpRegSend)
	b = appendPid(b, from)
	b = append(b, tagSmallAtomUTF8, 0)
	b = appendAtom(b, name)
	return c.sendBuilt(ctx, bp, b, msg, "reg_send")
}

// sendBuilt appends the payload to a built control message and writes it;
// it returns the frame's size if it was written.
func (c *Conn) sendBuilt(ctx context.Context, bp *[]byte, b []byte, msg any, step string) (int64, error) {
	b, err := appendVersioned(b, msg)
	if err != nil {
		putBuf(bp, b)
		return 0, newErr(KindProtocol, c.node, step, fmt.Errorf("encode: %w", err))
	}
	n := int64(len(b))
	err = c.writeFrame(ctx, b)
	putBuf(bp, b)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Link links our pid from with the remote pid to (LINK {1, From, To});
// an exit of to arrives in from's mailbox as an Exit.
func (c *Conn) Link(ctx context.Context, from, to term.Pid) error {
	return c.sendCtl(ctx, "link", term.Tuple{int64(OpLink), from, to}, nil, false)
}

// Unlink removes a link (UNLINK_ID {35, Id, From, To}, the OTP 26 link
// protocol; the peer answers with UNLINK_ID_ACK, which we ignore).
func (c *Conn) Unlink(ctx context.Context, from, to term.Pid) error {
	return c.sendCtl(ctx, "unlink", term.Tuple{int64(OpUnlinkID), c.newRefKey(), from, to}, nil, false)
}

// Monitor monitors a remote process (a term.Pid or a registered name as
// term.Atom) on behalf of our pid from (MONITOR_P {19, From, To, Ref}); its
// death arrives in from's mailbox as a Down carrying the returned ref.
func (c *Conn) Monitor(ctx context.Context, from term.Pid, to any) (term.Ref, error) {
	r := c.NewRef()
	return r, c.sendCtl(ctx, "monitor", term.Tuple{int64(OpMonitorP), from, to, r}, nil, false)
}

// Demonitor removes a monitor (DEMONITOR_P {20, From, To, Ref}).
func (c *Conn) Demonitor(ctx context.Context, from term.Pid, to any, ref term.Ref) error {
	return c.sendCtl(ctx, "demonitor", term.Tuple{int64(OpDemonitorP), from, to, ref}, nil, false)
}

// Exit sends an exit signal from our pid to a remote pid (EXIT2 {8, From,
// To, Reason}); reason kill kills it unconditionally.
func (c *Conn) Exit(ctx context.Context, from, to term.Pid, reason any) error {
	return c.sendCtl(ctx, "exit", term.Tuple{int64(OpExit2), from, to, reason}, nil, false)
}
