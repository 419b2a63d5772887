// erlang_lua: pl.ErlangHost for the Lua erlang module, and the
// transaction callbacks that send deferred messages at COMMIT.
package main

/*
#include <stdlib.h>
#include "postgres.h"
#include "storage/proc.h"
#include "plerl.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/plerl/plerl/runtime/dist"
	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
	"github.com/plerl/plerl/runtime/term"
)

type erlangHost struct {
	// parent, if set, bounds every request (the COMMIT-time flush: see
	// plerlGoXact); nil: the engine's context.
	parent context.Context
}

func (h erlangHost) Resolve(targetName, module, function string, arity, op int) (pl.Target, error) {
	return h.ResolveAs(0, targetName, module, function, arity, op)
}

// User is the role the running code acts as (GetUserId).
func (erlangHost) User() uint32 { return uint32(C.plerl_current_user()) }

// ResolveAs is Resolve checked as role user (0: the current role).
func (erlangHost) ResolveAs(user uint32, targetName, module, function string, arity, op int) (pl.Target, error) {
	if err := checkNullAtom(); err != nil { // before anything is sent
		return nil, err
	}
	// Every name C checks is checked whole first: C reads up to a NUL.
	if err := checkName("server or node", targetName); err != nil {
		return nil, err
	}
	if module != "" {
		what := "module"
		if function == "!" {
			what = "registered"
		}
		if err := checkName(what, module); err != nil {
			return nil, err
		}
		if err := checkName("function", function); err != nil {
			return nil, err
		}
	}
	var ct C.PlerlErlTarget
	var cerr C.PlerlError
	ctarget := C.CString(targetName)
	cmod := C.CString(module)
	cfun := C.CString(function)
	defer C.free(unsafe.Pointer(ctarget))
	defer C.free(unsafe.Pointer(cmod))
	defer C.free(unsafe.Pointer(cfun))
	mod := cmod
	if module == "" {
		mod = nil // no allow-list check (ping, self, receive, disconnect)
	}
	if C.plerl_erl_resolve_as_guarded(C.uint32_t(user), ctarget, mod, cfun, C.int(arity), C.int(op), &ct, &cerr) != 0 {
		return nil, guardError(&cerr)
	}
	if op == pl.OpConnect {
		return target{node: targetName}, nil
	}
	return targetFromC(&ct), nil // with the role C checked as
}

// Call makes the call Resolve checked: t's names are what is sent (mod
// and fun, the caller's copies, only name it in messages).
func (erlangHost) Call(t pl.Target, mod, fun string, args []any, timeout time.Duration, kill bool) (any, error) {
	b, err := erlBridge()
	if err != nil {
		return nil, err
	}
	tg := t.(target).withTimeout(timeout)
	ctx, cancel := callContext(timeout)
	defer cancel()
	res, err := b.call(ctx, tg, args, kill)
	if err != nil {
		what := "erlang.call " + mod + ":" + fun + " on " + tg.name()
		if tg.via != nil {
			what = "erlang.call to the :global name " + tg.via.Name + " on " + tg.name()
		}
		return nil, luaError(err, what)
	}
	return res, nil
}

// luaError is sqlError keeping a remote exception's class, reason and stack.
func luaError(err error, what string) error {
	var re *dist.RemoteError
	mapped := sqlError(err, what)
	if errors.As(err, &re) {
		if pe, ok := mapped.(*pl.Error); ok && pe.Kind == pl.KindError {
			return &pl.RemoteError{Err: pe, Class: re.Class, Reason: re.Reason, Stack: re.Stack}
		}
	}
	return mapped
}

// CheckSend is what Send checks before anything is sent (bridge.checkAtoms).
func (erlangHost) CheckSend(t pl.Target, to any, msg any) error {
	b, err := erlBridge()
	if err != nil {
		return err
	}
	return b.checkAtoms(t.(target), atomsOfDestination(to), msg)
}

func (h erlangHost) Send(t pl.Target, to any, msg any) error {
	b, err := erlBridge()
	if err != nil {
		return err
	}
	return b.send(h.parent, t.(target), to, msg)
}

func (erlangHost) Connect(node, cookie string) error {
	if err := checkName("node", node); err != nil {
		return err
	}
	b, err := erlBridge()
	if err != nil {
		return err
	}
	b.rawCookie[node] = cookie
	ctx, cancel := callContext(0)
	defer cancel()
	waiting(C.PLERL_WAIT_CONNECT, "", node, func() { _, err = b.conn(ctx, target{node: node}) })
	if err != nil {
		delete(b.rawCookie, node)
		return sqlError(err, "connect to "+node)
	}
	return nil
}

func (erlangHost) Disconnect(targetName string) bool {
	if erl == nil {
		return false
	}
	nodes := []string{targetName}
	if t, err := (erlangHost{}).Resolve(targetName, "", "", 0, pl.OpPing); err == nil {
		nodes = []string{t.(target).node}
		if ms := t.(target).members; len(ms) > 0 {
			nodes = ms
		}
	}
	was := false
	for _, node := range nodes {
		delete(erl.rawCookie, node)
		if erl.disconnect(node) {
			was = true
		}
	}
	return was
}

func (erlangHost) Ping(t pl.Target) error {
	b, err := erlBridge()
	if err != nil {
		return err
	}
	ctx, cancel := callContext(readSettings().CallTimeout)
	defer cancel()
	waiting(C.PLERL_WAIT_PING, t.(target).server, t.(target).node, func() {
		var c *dist.Conn
		if c, err = b.conn(ctx, t.(target)); err == nil {
			err = c.Ping(ctx)
		}
	})
	return err
}

// mailboxKey: a mailbox is per connection and per role. A connection is
// shared by every role of the backend; one pid for all of them would let a
// role read another's replies after SET ROLE, or plant them through a
// SECURITY DEFINER function.
type mailboxKey struct {
	c    *dist.Conn
	role uint32
}

// selfPids: the pid of each (connection, role), for erlang.self/receive and
// as the sender of sends.
var selfPids = map[mailboxKey]term.Pid{}

func (erlangHost) Self(t pl.Target) (term.Pid, error) {
	b, err := erlBridge()
	if err != nil {
		return term.Pid{}, err
	}
	ctx, cancel := callContext(readSettings().ConnectTimeout)
	defer cancel()
	var c *dist.Conn
	waiting(C.PLERL_WAIT_CONNECT, t.(target).server, t.(target).node, func() { c, err = b.conn(ctx, t.(target)) })
	if err != nil {
		return term.Pid{}, sqlError(err, "connect")
	}
	return selfPid(c, t.(target).role), nil
}

// selfPid is role's pid on connection c (made on first use): the mailbox of
// erlang.receive, and the sender of that role's sends on c.
func selfPid(c *dist.Conn, role uint32) term.Pid {
	k := mailboxKey{c, role}
	p, ok := selfPids[k]
	if !ok {
		dropMailboxes(func(k mailboxKey) bool { return isDone(k.c) }) // connections that went away
		p = c.NewPid()
		selfPids[k] = p
	}
	return p
}

// dropMailboxes forgets the pids for which gone says so, and what their
// mailboxes hold (its bytes go back to the backend's mailbox budget): a
// message queued on a connection that went away can never be received
// (the next erlang.receive is on a new connection).
func dropMailboxes(gone func(mailboxKey) bool) {
	for k, p := range selfPids {
		if gone(k) {
			k.c.ClosePid(p)
			delete(selfPids, k)
		}
	}
}

// disconnect closes this backend's connection to node and drops its
// mailboxes.
func (b *bridge) disconnect(node string) bool {
	dropMailboxes(func(k mailboxKey) bool { return k.c.Node() == node })
	for c := range knownFuncs {
		if c.Node() == node {
			delete(knownFuncs, c)
		}
	}
	nodeDisconnected(node)
	return b.pool.Disconnect(node)
}

func (h erlangHost) Receive(t pl.Target, timeout time.Duration) (any, bool, error) {
	p, err := h.Self(t)
	if err != nil {
		return nil, false, err
	}
	b, _ := erlBridge()
	ctx, cancel := callContext(timeout)
	defer cancel()
	var msg any
	var c *dist.Conn
	waiting(C.PLERL_WAIT_RECEIVE, t.(target).server, t.(target).node, func() {
		if c, err = b.conn(ctx, t.(target)); err == nil {
			msg, err = c.Receive(ctx, p)
		}
	})
	if err != nil {
		if dist.IsTimeout(err) && engine.Context().Err() == nil {
			return nil, false, nil
		}
		return nil, false, sqlError(err, "receive")
	}
	return msg, true, nil
}

func (erlangHost) TermOptions() *pl.TermOptions {
	s := readSettings()
	max := s.MaxAtoms
	if max == 0 {
		max = -1
	}
	return &pl.TermOptions{NullAtom: term.Atom(s.NullAtom), MaxAtoms: max}
}

func (erlangHost) CallTimeout() time.Duration { return readSettings().CallTimeout }

func (erlangHost) NestLevel() int { return int(C.plerl_nest_level()) }

// plerlGoXact handles a transaction event (PLERL_XACT_*, plerl.h) that
// xact.c forwards: deferred sends are re-checked before COMMIT, sent after
// it, dropped on abort.
//
//export plerlGoXact
func plerlGoXact(event C.int, level C.int, cerr *C.PlerlError) {
	defer recoverInto(cerr)
	if engine == nil || engine.PendingSends() == 0 {
		return
	}
	h := erlangHost{}
	switch event {
	case C.PLERL_XACT_PRE_COMMIT:
		if err := engine.PrepareSends(h); err != nil {
			engine.DropSends(1)
			setError(cerr, err)
		}
	case C.PLERL_XACT_COMMIT:
		// As a call of its own: the context of the last Lua call may be
		// cancelled (a statement cancelled in a savepoint rolled back
		// since), and that says nothing about these sends.
		//
		// The transaction has committed: errors can only be WARNINGs, but
		// waiting here is waiting like anywhere else. The poller must see
		// this phase (commitStarted) so that pg_cancel_backend and
		// pg_terminate_backend end it (it only reads the flags, which are
		// set even while CommitTransaction holds interrupts; it never
		// raises). PostgreSQL has already disabled statement_timeout
		// (finish_xact_command does so before it commits), so the flush
		// applies it itself, from its own start.
		engine.Enter()
		commitStarted()
		ctx, cancel := context.WithCancel(engine.Context())
		if st := int64(C.StatementTimeout); st > 0 {
			cancel()
			ctx, cancel = context.WithTimeout(engine.Context(), time.Duration(st)*time.Millisecond)
		}
		errs := engine.FlushSends(erlangHost{parent: ctx})
		timedOut := ctx.Err() == context.DeadlineExceeded && engine.Context().Err() == nil
		cancel()
		callFinished()
		engine.Leave()
		for _, err := range errs {
			if timedOut {
				err = fmt.Errorf("%w (statement_timeout ended the sends at COMMIT)", err)
			}
			_ = h.warn(err)
		}
	case C.PLERL_XACT_ABORT:
		engine.DropSends(1)
	case C.PLERL_XACT_PREPARE:
		engine.DropSends(1)
		setError(cerr, pl.Errorf(sqlstate.FeatureNotSupported, "cannot PREPARE a transaction with erlang sends waiting for COMMIT"))
	case C.PLERL_XACT_SUB_ABORT:
		engine.DropSends(int(level))
	case C.PLERL_XACT_SUB_COMMIT:
		engine.ReparentSends(int(level))
	}
}

// warn reports a failed deferred send (the transaction has committed).
func (erlangHost) warn(err error) error {
	return host{}.Elog(pl.LevelWarning, "plerl: a message deferred to COMMIT was not delivered: "+err.Error(), "", "")
}

func installErlang(e *pl.Engine) {
	e.Modules = append(e.Modules, pl.ErlangModule(erlangHost{}))
}
