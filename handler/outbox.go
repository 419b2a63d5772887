// outbox: the Go half of the durable outbox (docs/outbox.md): encoding and
// checking a message at enqueue (SQL plerl.enqueue and Lua's
// {durable = true}), and delivering the worker's batches (outbox.c reads,
// resolves and marks; this file only talks to the nodes).
package main

/*
#include <stdlib.h>
#include "plerl.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/plerl/plerl/runtime/cluster"
	"github.com/plerl/plerl/runtime/dist"
	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
	"github.com/plerl/plerl/runtime/term"
)

// outboxTag heads every delivery: gen_server:call(Dest, {plerl_outbox,
// [{Id, Message}, ...]}, Timeout). The receiver's reply ok acknowledges the
// whole batch (docs/outbox.md, "The receiver protocol").
const outboxTag = term.Atom("plerl_outbox")

// encodeDurable checks msg against what the allow-list permits t (the same
// check as bridge.send: the atoms) and encodes it for the queue. The
// message is stored as it would have been sent: a cast is not wrapped in
// '$gen_cast' (the receiver protocol carries it).
func encodeDurable(t target, msg any) ([]byte, error) {
	if t.server == "" {
		return nil, pl.Errorf(sqlstate.InvalidParameterValue, "the outbox delivers through plerl foreign servers only, not to a raw node name")
	}
	if err := checkName("registered", t.module); err != nil {
		return nil, err
	}
	b, err := erlBridge()
	if err != nil {
		return nil, err
	}
	if err := b.checkAtoms(t, msg); err != nil {
		return nil, err
	}
	out, err := term.Encode(msg)
	if err != nil {
		return nil, sqlError(err, "message")
	}
	if max := int(readSettings().MaxMessage); max > 0 && len(out) > max {
		return nil, pl.Errorf(sqlstate.ProgramLimitExceeded, "message of %d bytes is larger than plerl.max_message_size", len(out))
	}
	return out, nil
}

// Enqueue writes a durable message (Lua's erlang.cast/send with
// {durable = true}) into the outbox, in the current (sub)transaction, as
// checked for t's role by Resolve.
func (erlangHost) Enqueue(pt pl.Target, to string, msg any, cast bool) (int64, error) {
	t := pt.(target)
	if to != t.module {
		return 0, pl.Errorf(sqlstate.InternalError, "plerl: enqueue to %q was checked as %q", to, t.module)
	}
	data, err := encodeDurable(t, msg)
	if err != nil {
		return 0, err
	}
	op := C.int(C.PLERL_ERL_SEND)
	if cast {
		op = C.PLERL_ERL_CAST
	}
	cserver, cdest := C.CString(t.server), C.CString(t.module)
	defer C.free(unsafe.Pointer(cserver))
	defer C.free(unsafe.Pointer(cdest))
	var id C.int64_t
	var cerr C.PlerlError
	p := C.CBytes(data)
	defer C.free(p)
	if C.plerl_queue_insert_guarded(C.uint32_t(t.role), cserver, cdest, op, (*C.char)(p), C.int64_t(len(data)), &id, &cerr) != 0 {
		return 0, guardError(&cerr)
	}
	return int64(id), nil
}

// outboxBatch is one group copied out of C memory.
type outboxBatch struct {
	t     target
	dest  string
	ids   []int64
	msgs  [][]byte
	ident string
	group *cluster.Group // a group's members and their state (server option nodes); nil: one node

	status int32
	bad    int32
	err    string

	// statistics (recordOutbox): the call's frames, error and duration
	tr      traffic
	callErr error
	took    time.Duration
}

// plerlGoOutboxDeliver delivers the worker's batches, one goroutine per
// destination (a destination whose node is down or slow waits out its own
// timeout without holding up the others), and reports each outcome. It
// touches no PostgreSQL state; the goroutines are done before it returns.
//
//export plerlGoOutboxDeliver
func plerlGoOutboxDeliver(groups *C.PlerlOutboxGroup, n C.int) {
	cg := unsafe.Slice(groups, int(n))
	defer func() {
		// A panic leaves every batch to be retried (the default status).
		if r := recover(); r != nil {
			for i := range cg {
				cg[i].status = C.PLERL_OUTBOX_RETRY
			}
			reportPanic("plerlGoOutboxDeliver", r)
		}
	}()
	b, err := erlBridge()
	batches := make([]*outboxBatch, len(cg))
	for i := range cg {
		g := &cg[i]
		ob := &outboxBatch{t: targetFromC(&g.target), dest: goStr(g.dest), status: C.PLERL_OUTBOX_RETRY}
		ob.t.role = 0
		ids := unsafe.Slice(g.ids, int(g.n))
		ps := unsafe.Slice(g.payloads, int(g.n))
		ls := unsafe.Slice(g.lens, int(g.n))
		for j := range ids {
			ob.ids = append(ob.ids, int64(ids[j]))
			ob.msgs = append(ob.msgs, C.GoBytes(unsafe.Pointer(ps[j]), C.int(ls[j])))
		}
		if b != nil {
			ob.ident = b.identOf(ob.t.cookie) // the memo is not for goroutines
			if len(ob.t.members) > 0 {
				ob.group = b.group(ob.t) // nor the map of groups; a Group is safe for them
			}
		}
		batches[i] = ob
	}
	if err != nil {
		for _, ob := range batches {
			ob.err = err.Error()
		}
	} else {
		timeout := readSettings().CallTimeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		var wg sync.WaitGroup
		for _, ob := range batches {
			wg.Add(1)
			go func(ob *outboxBatch) {
				defer wg.Done()
				defer func() {
					if r := recover(); r != nil {
						ob.status, ob.err = C.PLERL_OUTBOX_RETRY, fmt.Sprint("panic: ", r)
					}
				}()
				b.deliver(ob, timeout)
			}(ob)
		}
		wg.Wait()
	}
	recordOutbox(batches) // plerl.stat_calls, kind outbox (stats.go)
	for i, ob := range batches {
		cg[i].status = C.int32_t(ob.status)
		cg[i].bad = C.int32_t(ob.bad)
		if ob.err != "" {
			cg[i].error = C.CString(ob.err)
		}
	}
}

// deliver makes one call for the batch and waits for the acknowledgement.
func (b *bridge) deliver(ob *outboxBatch, timeout time.Duration) {
	start := time.Now()
	defer func() { ob.took = time.Since(start) }()
	items := make(term.List, 0, len(ob.ids))
	for i, raw := range ob.msgs {
		msg, _, err := term.Decode(raw, nil)
		if err != nil {
			ob.status, ob.bad, ob.err = C.PLERL_OUTBOX_DEAD_ONE, int32(i), "stored message cannot be decoded: "+err.Error()
			return
		}
		// Held to the allow-list as it is now (an atom removed from a row
		// since the enqueue): permanent for this message.
		if err := b.checkAtoms(ob.t, msg); err != nil {
			ob.status, ob.bad, ob.err = C.PLERL_OUTBOX_DEAD_ONE, int32(i), err.Error()
			return
		}
		items = append(items, term.Tuple{ob.ids[i], msg})
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Second)
	defer cancel()
	// A group: the batch goes to one live member; when that member is lost
	// before it acknowledged (connection closed, node down), the same batch
	// goes to the next member at once. Order holds: a destination has one
	// batch in flight, and its next batch is read only after this one was
	// acknowledged; a member that took the batch and died before its ack
	// makes the next member see those ids again (repeats, by id).
	tried := map[string]bool{}
	for {
		c, err := b.outboxConn(ctx, ob, tried)
		if err != nil {
			ob.status, ob.err = C.PLERL_OUTBOX_UNREACHABLE, clip("cannot connect to "+ob.t.name()+": "+err.Error())
			return
		}
		res, err := callCounted(ctx, c, "gen_server", "call",
			[]any{term.Atom(ob.t.module), term.Tuple{outboxTag, items}, int64(timeout / time.Millisecond)}, &ob.tr)
		ob.callErr = err
		if err != nil && ob.group != nil && ctx.Err() == nil && dist.KindOf(err) != dist.KindTimeout &&
			memberLost(ctx, err) && len(tried) < len(ob.t.members) {
			ob.group.Down(c.Node(), err)
			continue
		}
		b.outboxResult(ob, res, err)
		return
	}
}

// outboxResult sets ob's status from the reply to its delivery.
func (b *bridge) outboxResult(ob *outboxBatch, res any, err error) {
	if err != nil {
		var re *dist.RemoteError
		if errors.As(err, &re) {
			ob.err = clip(fmt.Sprintf("receiver %s on %s failed: %s %s", ob.t.module, ob.t.name(), re.Class, termText(re.Reason)))
			switch {
			case re.IsUndef():
				ob.status = C.PLERL_OUTBOX_DEAD
			case isNoproc(re.Reason):
				// The node is up but the receiver is not registered (yet):
				// like a node that is down, it costs no attempt.
				ob.status = C.PLERL_OUTBOX_UNREACHABLE
			}
			return
		}
		ob.err = clip("delivery to " + ob.t.module + " on " + ob.t.name() + ": " + err.Error())
		switch dist.KindOf(err) {
		case dist.KindEpmd, dist.KindConnect, dist.KindNodeDown, dist.KindClosed, dist.KindHandshake, dist.KindCookieRefused:
			ob.status = C.PLERL_OUTBOX_UNREACHABLE
		}
		return
	}
	if res != term.Atom("ok") {
		ob.err = fmt.Sprintf("receiver %s replied %s, not ok", ob.t.module, termText(res))
		return
	}
	ob.status = C.PLERL_OUTBOX_ACKED
}

// outboxConn is bridge.conn for a goroutine: no shared memo, only the pool
// (which is safe for concurrent use). For a group, the first member in the
// policy's order (keyed by the destination) not tried yet for this batch
// that connects; members that do not are marked down (the group's backoff).
func (b *bridge) outboxConn(ctx context.Context, ob *outboxBatch, tried map[string]bool) (*dist.Conn, error) {
	if ob.group == nil {
		tried[ob.t.node] = true
		return b.outboxConnNode(ctx, ob, ob.t.node)
	}
	var errs []string
	for _, m := range ob.group.Order(ob.dest) {
		if tried[m] {
			continue
		}
		tried[m] = true
		c, err := b.outboxConnNode(ctx, ob, m)
		if err == nil {
			ob.group.Up(m)
			ob.group.Picked(m)
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		ob.group.Down(m, err)
		errs = append(errs, m+": "+err.Error())
	}
	if len(errs) == 0 {
		return nil, ob.group.AllDown()
	}
	return nil, errors.New(strings.Join(errs, "; "))
}

func (b *bridge) outboxConnNode(ctx context.Context, ob *outboxBatch, node string) (*dist.Conn, error) {
	t := ob.t
	if !t.tls {
		if c := b.pool.Lookup(node, ob.ident); c != nil {
			return c, nil
		}
	}
	nc, err := nodeConfig(t, t.cookie, ob.ident)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, readSettings().ConnectTimeout)
	defer cancel()
	return b.pool.GetWith(cctx, node, nc)
}

// clip keeps last_error readable in plerl.outbox_status (a raise's stack
// trace is kilobytes).
func clip(s string) string {
	if len(s) > 500 {
		return strings.ToValidUTF8(s[:500], "") + "..."
	}
	return s
}

// isNoproc: gen_server:call's exit reason when no process has the name,
// {noproc, {gen_server, call, Args}}.
func isNoproc(reason any) bool {
	t, ok := reason.(term.Tuple)
	return ok && len(t) == 2 && t[0] == term.Atom("noproc")
}
