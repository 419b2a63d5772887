// batch: many calls in flight at once. A pipeline keeps up to
// plerl.max_in_flight calls of one checked target in flight on one
// connection and yields their results in the order they were sent; the
// SQL batch (erlang_call_many, fed in chunks by erlang.c), Lua's
// erlang.call_many and erlang.multicall, and erlang.async handles are
// built on it. Every request goes through bridge.start: the checks of a
// single call.
package main

/*
#include <stdlib.h>
#include <string.h>
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

// maxInFlight is plerl.max_in_flight, or n if positive.
func maxInFlight(n int) int {
	if n > 0 {
		return n
	}
	return max(int(C.plerl_settings.max_in_flight), 1)
}

// flight is one request in a pipeline: sent (p), or failed before it could
// be (err: its arguments, atoms, or connecting).
type flight struct {
	item     int64
	p        *dist.Pending
	err      error
	deadline time.Time // zero: no per-item timeout
	start    time.Time // when it was sent (statistics)
	server   string    // its target's server (plerl.stat_waits)
	arity    int
	sent     bool // its arguments converted: it counts as a request
}

// result waits for f under the statement's context and f's deadline.
func (f *flight) result() (any, error) {
	if f.err != nil {
		return nil, f.err
	}
	ctx := engine.Context()
	if f.p.Ready() {
		// In already (read while an earlier call was awaited): no wait, so
		// no deadline context, timer or wait state for it.
		res, err := f.p.Wait(ctx)
		nodeRTT(f.p.Conn())
		return res, err
	}
	if !f.deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, f.deadline)
		defer cancel()
	}
	var res any
	var err error
	waiting(C.PLERL_WAIT_CALL, f.server, f.p.Conn().Node(), func() { res, err = f.p.Wait(ctx) })
	nodeRTT(f.p.Conn())
	return res, err
}

// pipeline: one target, many argument lists, results in order. For a
// group (t.members) each item takes the member the policy picks (bridge.start
// with no connection: round_robin spreads the items, a member found down
// before an item is written is skipped), and the pipeline holds and
// releases every member connection it has used (groupConns).
type pipeline struct {
	b       *bridge
	t       target
	c       *dist.Conn // the connection, once made (a group: the last used)
	conns   []*dist.Conn
	kill    bool
	timeout time.Duration
	max     int
	low     int       // a full pipeline is drained down to low, then refilled
	q       []*flight // in flight, oldest first
	head    int
	next    int64
}

func newPipeline(b *bridge, t target, timeout time.Duration, kill bool, max int) (*pipeline, error) {
	if err := checkTarget(t); err != nil { // once: the same for every item
		return nil, err
	}
	m := maxInFlight(max)
	return &pipeline{b: b, t: t, kill: kill, timeout: timeout, max: m, low: m - (m+1)/2}, nil
}

func (pp *pipeline) inFlight() int { return len(pp.q) - pp.head }

// push sends args (or records why it could not be sent) as the next item.
// The caller pops first when inFlight() reaches max.
func (pp *pipeline) push(args []any, argErr error) {
	pp.next++
	f := &flight{item: pp.next, err: argErr, start: time.Now(), arity: len(args), sent: argErr == nil, server: pp.t.server}
	if f.err == nil {
		if pp.timeout > 0 {
			f.deadline = time.Now().Add(pp.timeout)
		}
		ctx := engine.Context()
		c := pp.c
		if len(pp.t.members) > 0 {
			c = nil // the policy picks each item's member
			for _, gc := range pp.conns {
				gc.Hold()
			}
		}
		if c == nil || isDone(c) {
			// Connecting is bounded by plerl.connect_timeout; on a live
			// connection a send is held (Hold) or waits under the
			// statement (and the connection's WriteTimeout).
			var cancel context.CancelFunc
			ctx, cancel = callContext(readSettings().ConnectTimeout)
			defer cancel()
		} else {
			c.Hold() // requests in a row go out together (release)
		}
		waiting(C.PLERL_WAIT_SEND, pp.t.server, pp.t.node, func() { f.p, f.err = pp.b.start(ctx, pp.t, c, args, pp.kill) })
		if f.p != nil {
			pp.c = f.p.Conn()
			if len(pp.t.members) > 0 {
				pp.groupConn(pp.c)
			}
		}
	}
	if pp.head > 0 && pp.head == len(pp.q) {
		pp.q, pp.head = pp.q[:0], 0
	}
	pp.q = append(pp.q, f)
}

// release sends the requests held since the last wait (push holds them;
// any wait releases them first). Called before returning to C, so nothing
// stays held between calls into Go.
func (pp *pipeline) release() {
	if pp.c != nil {
		pp.c.Release()
	}
	for _, c := range pp.conns {
		c.Release()
	}
}

// groupConn remembers a member connection a group's pipeline used (to hold
// and release it with the others); dead ones are dropped.
func (pp *pipeline) groupConn(c *dist.Conn) {
	live := pp.conns[:0]
	found := false
	for _, old := range pp.conns {
		if old == c {
			found = true
		}
		if !isDone(old) {
			live = append(live, old)
		}
	}
	pp.conns = live
	if !found {
		pp.conns = append(pp.conns, c)
	}
}

// ready: the oldest item can be popped without waiting.
func (pp *pipeline) ready() bool {
	if pp.inFlight() == 0 {
		return false
	}
	f := pp.q[pp.head]
	return f.err != nil || f.p.Ready()
}

// pop waits for the oldest item. A group's held requests all go out
// first (a wait releases only its own connection).
func (pp *pipeline) pop() (*flight, any, error) {
	if len(pp.conns) > 1 {
		pp.release()
	}
	f := pp.q[pp.head]
	pp.q[pp.head] = nil
	pp.head++
	res, err := f.result()
	if f.sent {
		var tr traffic
		tr.add(f.p)
		recordStat(pp.t, C.PLERL_STAT_CALL, f.arity, f.start, err, tr)
	}
	return f, res, err
}

// abandon gives up everything in flight (erpc workers are killed).
func (pp *pipeline) abandon() {
	for _, f := range pp.q[pp.head:] {
		if f != nil && f.p != nil {
			f.p.Abandon()
		}
	}
	pp.q, pp.head = nil, 0
	pp.release() // what was held goes out; its replies are dropped, erpc workers killed
}

// statementEnded: the error is the statement's cancel (or a plerl limit),
// which ends the whole batch, not one item.
func statementEnded() bool { return engine.Context().Err() != nil }

// ---- erlang_call_many (SQL) ----

type sqlBatch struct {
	pp       *pipeline
	opts     *term.JSONOptions
	failFast bool
	what     string
}

var (
	sqlBatches = map[int64]*sqlBatch{}
	batchSeq   int64
)

//export plerlGoBatchStart
func plerlGoBatchStart(req *C.PlerlErlReq, maxInFlightArg C.int32_t, failFast, kill C.int32_t) C.int64_t {
	defer recoverInto(&req.err)
	outer := beginCall()
	defer endCall(outer)
	if err := checkNullAtom(); err != nil {
		setError(&req.err, err)
		return 0
	}
	b, err := erlBridge()
	if err != nil {
		setError(&req.err, err)
		return 0
	}
	t := targetFromC(&req.target)
	t.role = uint32(C.plerl_current_user())
	pp, err := newPipeline(b, t, timeoutOf(req.timeout_ms), kill != 0, int(maxInFlightArg))
	if err != nil {
		setError(&req.err, err)
		return 0
	}
	batchSeq++
	sqlBatches[batchSeq] = &sqlBatch{pp: pp, opts: b.jsonOptions(), failFast: failFast != 0,
		what: "erlang_call_many " + t.module + ":" + t.function + " on " + t.name()}
	return C.int64_t(batchSeq)
}

// plerlGoBatchEnd forgets a batch, abandoning what it has in flight; C
// calls it at the end and from a reset callback of the query's memory (an
// error or cancel between chunks). Unknown ids are ignored.
//
//export plerlGoBatchEnd
func plerlGoBatchEnd(id C.int64_t) {
	defer reportPanics("plerlGoBatchEnd")
	if sb := sqlBatches[int64(id)]; sb != nil {
		delete(sqlBatches, int64(id))
		sb.pp.abandon()
	}
}

//export plerlGoBatchFeed
func plerlGoBatchFeed(fd *C.PlerlBatchFeed) {
	defer recoverInto(&fd.err)
	outer := beginCall()
	defer endCall(outer)
	sb := sqlBatches[int64(fd.batch)]
	if sb == nil {
		setError(&fd.err, pl.Errorf(sqlstate.InternalError, "plerl: unknown batch %d", int64(fd.batch)))
		return
	}
	rows, err := sb.feed(fd)
	sb.pp.release()
	fd.rows, fd.nrows = nil, 0
	if len(rows) > 0 {
		size := C.size_t(unsafe.Sizeof(C.PlerlBatchRow{})) * C.size_t(len(rows))
		arr := (*C.PlerlBatchRow)(C.malloc(size))
		copy(unsafe.Slice(arr, len(rows)), rows)
		fd.rows, fd.nrows = arr, C.int32_t(len(rows))
	}
	if err != nil {
		delete(sqlBatches, int64(fd.batch))
		sb.pp.abandon()
		setError(&fd.err, err)
	}
}

func (sb *sqlBatch) feed(fd *C.PlerlBatchFeed) ([]C.PlerlBatchRow, error) {
	var rows []C.PlerlBatchRow
	emit := func() error {
		f, res, err := sb.pp.pop()
		row, err := sb.row(f, res, err)
		if err != nil {
			return err
		}
		rows = append(rows, row)
		return nil
	}
	n := int(fd.nitems)
	if n > 0 {
		items := unsafe.Slice(fd.items, n)
		lens := unsafe.Slice(fd.lens, n)
		var keys []*C.char
		if fd.keys != nil {
			keys = unsafe.Slice(fd.keys, n)
		}
		for i := 0; i < n; i++ {
			if sb.pp.inFlight() >= sb.pp.max {
				// Full: take results until half the room is free (and
				// whatever else is in), then refill it in a run of
				// requests that go out in one write (Hold), not one
				// request per reply.
				for sb.pp.inFlight() > sb.pp.low || sb.pp.ready() {
					if err := emit(); err != nil {
						return rows, err
					}
				}
			}
			args, err := term.ArgsFromJSON(C.GoBytes(unsafe.Pointer(items[i]), C.int(lens[i])), sb.opts)
			if err != nil {
				err = sqlError(err, "erlang_call_many arguments")
			}
			if keys != nil {
				sb.pp.t.key = C.GoString(keys[i]) // the item's affinity key
			}
			sb.pp.push(args, err)
			if statementEnded() {
				return rows, engine.CancelError()
			}
		}
	}
	for sb.pp.ready() || (fd.final != 0 && sb.pp.inFlight() > 0) {
		if err := emit(); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// row makes the output row of a finished item; an error that ends the
// batch (the statement's cancel, fail_fast) is returned instead.
func (sb *sqlBatch) row(f *flight, res any, err error) (C.PlerlBatchRow, error) {
	var row C.PlerlBatchRow
	row.item = C.int64_t(f.item)
	if err == nil {
		out, jerr := term.ToJSON(res, sb.opts)
		if jerr == nil {
			p := C.CBytes(out)
			row.json, row.jsonlen = (*C.char)(p), C.int64_t(len(out))
			return row, nil
		}
		err = sqlError(jerr, "erlang_call_many result")
	}
	mapped := sqlError(err, sb.what)
	if statementEnded() || sb.failFast {
		return row, mapped
	}
	var pe *pl.Error
	if !errors.As(mapped, &pe) {
		pe = &pl.Error{SQLState: sqlstate.InternalError, Message: mapped.Error()}
	}
	cs := C.CString(pe.SQLState)
	C.strncpy(&row.sqlstate[0], cs, 5)
	C.free(unsafe.Pointer(cs))
	msg := pe.Message
	if pe.Detail != "" {
		msg += "\n" + pe.Detail
	}
	row.message = C.CString(msg)
	return row, nil
}

// ---- erlang.async and friends (pl.AsyncHost) ----

// asyncCall is a Lua call in flight. Calls not awaited are abandoned when
// the call into plerl that made them ends (endCall), so nothing stays in
// flight between statements.
type asyncCall struct {
	f     flight
	t     target // for statistics: counted when awaited
	depth int
	what  string
}

var (
	asyncOpen  = map[*asyncCall]struct{}{}
	entryDepth int // calls into plerl_go.so in progress (beginCall/endCall)
)

// abandonAsync gives up the calls made at entry depth d or deeper.
func abandonAsync(d int) {
	for a := range asyncOpen {
		if a.depth >= d {
			delete(asyncOpen, a)
			if a.f.p != nil {
				a.f.p.Abandon()
			}
		}
	}
}

func (erlangHost) MaxInFlight() int { return maxInFlight(0) }

func (erlangHost) Start(t pl.Target, args []any, timeout time.Duration, kill bool) (pl.AsyncCall, error) {
	b, err := erlBridge()
	if err != nil {
		return nil, err
	}
	if len(asyncOpen) >= maxInFlight(0) {
		return nil, &pl.Error{Kind: pl.KindError, SQLState: sqlstate.ProgramLimitExceeded,
			Message: fmt.Sprintf("more than plerl.max_in_flight (%d) Erlang calls in flight", maxInFlight(0)),
			Hint:    "Await some handles first (erlang.await, erlang.await_all), or raise plerl.max_in_flight."}
	}
	tg := t.(target).withTimeout(timeout)
	if err := checkTarget(tg); err != nil {
		return nil, err
	}
	a := &asyncCall{t: tg, depth: entryDepth, what: fmt.Sprintf("erlang.call %s:%s on %s", tg.module, tg.function, tg.name())}
	if tg.via != nil {
		a.what = fmt.Sprintf("erlang.call to the :global name %s on %s", tg.via.Name, tg.name())
	}
	a.f.start, a.f.arity = time.Now(), len(args)
	if timeout > 0 {
		a.f.deadline = time.Now().Add(timeout)
	}
	ctx, cancel := callContext(readSettings().ConnectTimeout)
	defer cancel()
	a.f.server = tg.server
	waiting(C.PLERL_WAIT_SEND, tg.server, tg.node, func() { a.f.p, err = b.start(ctx, tg, nil, args, kill) })
	if err != nil {
		return nil, luaError(err, a.what)
	}
	asyncOpen[a] = struct{}{}
	return a, nil
}

func (erlangHost) Await(h pl.AsyncCall, wait time.Duration) (any, error) {
	a := h.(*asyncCall)
	if _, ok := asyncOpen[a]; !ok {
		return nil, pl.Errorf(sqlstate.InvalidParameterValue, "%s: the call was cancelled when the call that made it ended", a.what)
	}
	delete(asyncOpen, a)
	f := a.f
	if wait > 0 {
		if d := time.Now().Add(wait); f.deadline.IsZero() || d.Before(f.deadline) {
			f.deadline = d
		}
	}
	res, err := f.result()
	var tr traffic
	tr.add(f.p)
	recordStat(a.t, C.PLERL_STAT_CALL, f.arity, f.start, err, tr)
	if err != nil {
		return nil, luaError(err, a.what)
	}
	return res, nil
}

func (erlangHost) Abandon(h pl.AsyncCall) {
	a := h.(*asyncCall)
	if _, ok := asyncOpen[a]; ok {
		delete(asyncOpen, a)
		a.f.p.Abandon()
	}
}
