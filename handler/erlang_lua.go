// erlang_lua: pl.ErlangHost for the Lua erlang module, and the
// transaction callbacks that send deferred messages at COMMIT.
package main

/*
#include <stdlib.h>
#include "postgres.h"
#include "storage/proc.h"
#include "plerl.h"
extern int plerl_nest_level(void);
extern int plerl_erl_resolve_as_guarded(uint32_t as_user, const char *target, const char *module,
	const char *function, int arity, int lua_op, PlerlErlTarget *out, PlerlError *err);
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
	return targetFromC(&ct), nil
}

func (erlangHost) Call(t pl.Target, mod, fun string, args []any, timeout time.Duration, kill bool) (any, error) {
	b, err := erlBridge()
	if err != nil {
		return nil, err
	}
	tg := t.(target)
	ctx, cancel := callContext(timeout)
	defer cancel()
	var res any
	waiting(func() {
		var c *dist.Conn
		if c, err = b.conn(ctx, tg); err != nil {
			return
		}
		if kill {
			res, err = c.CallKill(ctx, mod, fun, args)
		} else {
			res, err = c.Call(ctx, mod, fun, args)
		}
	})
	if err != nil {
		return nil, luaError(err, "erlang.call "+mod+":"+fun+" on "+tg.name())
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

func (h erlangHost) Send(t pl.Target, to any, msg any) error {
	b, err := erlBridge()
	if err != nil {
		return err
	}
	return b.send(h.parent, t.(target), to, msg)
}

func (erlangHost) Connect(node, cookie string) error {
	b, err := erlBridge()
	if err != nil {
		return err
	}
	b.rawCookie[node] = cookie
	ctx, cancel := callContext(0)
	defer cancel()
	waiting(func() { _, err = b.conn(ctx, target{node: node}) })
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
	node := targetName
	if t, err := (erlangHost{}).Resolve(targetName, "", "", 0, pl.OpPing); err == nil {
		node = t.(target).node
	}
	delete(erl.rawCookie, node)
	return erl.pool.Disconnect(node)
}

func (erlangHost) Ping(t pl.Target) error {
	b, err := erlBridge()
	if err != nil {
		return err
	}
	ctx, cancel := callContext(readSettings().CallTimeout)
	defer cancel()
	waiting(func() {
		var c *dist.Conn
		if c, err = b.conn(ctx, t.(target)); err == nil {
			err = c.Ping(ctx)
		}
	})
	return err
}

// selfPids: one mailbox pid per connection, for erlang.self/receive.
var selfPids = map[*dist.Conn]term.Pid{}

func (erlangHost) Self(t pl.Target) (term.Pid, error) {
	b, err := erlBridge()
	if err != nil {
		return term.Pid{}, err
	}
	ctx, cancel := callContext(readSettings().ConnectTimeout)
	defer cancel()
	var c *dist.Conn
	waiting(func() { c, err = b.conn(ctx, t.(target)) })
	if err != nil {
		return term.Pid{}, sqlError(err, "connect")
	}
	return selfPid(c), nil
}

// selfPid is this backend's pid on connection c (made on first use): the
// mailbox of erlang.receive, and the sender of every send on c.
func selfPid(c *dist.Conn) term.Pid {
	p, ok := selfPids[c]
	if !ok {
		for old := range selfPids { // connections that went away
			select {
			case <-old.Done():
				delete(selfPids, old)
			default:
			}
		}
		p = c.NewPid()
		selfPids[c] = p
	}
	return p
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
	waiting(func() {
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

// Transaction events (xact.h), forwarded by erlang.c's callbacks.
const (
	xactPreCommit = 1
	xactCommit    = 2
	xactAbort     = 3
	xactPrepare   = 4
	subAbort      = 5
	subCommit     = 6
)

//export plerlGoXact
func plerlGoXact(event C.int, level C.int, cerr *C.PlerlError) {
	defer recoverInto(cerr)
	if engine == nil || engine.PendingSends() == 0 {
		return
	}
	h := erlangHost{}
	switch event {
	case xactPreCommit:
		if err := engine.PrepareSends(h); err != nil {
			engine.DropSends(1)
			setError(cerr, err)
		}
	case xactCommit:
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
	case xactAbort:
		engine.DropSends(1)
	case xactPrepare:
		engine.DropSends(1)
		setError(cerr, pl.Errorf("0A000", "cannot PREPARE a transaction with erlang sends waiting for COMMIT"))
	case subAbort:
		engine.DropSends(int(level))
	case subCommit:
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
