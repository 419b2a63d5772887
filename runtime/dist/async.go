// Calls in flight: Conn.Go sends a call (rex, or erpc that can be killed)
// and returns at once; Pending.Wait awaits its result, Pending.Abandon gives
// it up. Call and CallKill are Go followed by Wait: there is one way a call
// is sent and awaited, however many are in flight on a connection.
package dist

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

// Pending is a call sent and not yet awaited. It belongs to one goroutine
// (the one that awaits or abandons it); after Wait or Abandon it is spent.
type Pending struct {
	c        *Conn
	k, resK  uint64 // pending-map key; erpc: the result ref's key
	cl       *call
	t0       time.Time
	mod, fun string
	arity    int
	kill     bool // erpc: the worker is killed when the call is abandoned
	spent    bool
	sent     int64 // the request's frame, length header included
	recv     int64 // the reply's frames (erpc: SPAWN_REPLY and DOWN), once Wait has it
}

// Bytes is what the call cost on the wire, as written and read (the
// frames' 4-byte length headers included, before TLS): the request, and
// the reply once Wait returned it (0 before, and if none came).
func (p *Pending) Bytes() (sent, received int64) { return p.sent, p.recv }

// Go sends mod:fun(args...) and returns without waiting for the reply.
// kill selects erpc (CallKill: a fresh process on the peer, killed if the
// call is abandoned) over rex (Call: the remote work runs on regardless).
// ctx bounds only what sending needs (erpc: the group leader lookup on a
// new connection; waiting for the socket when the peer reads slowly). Every Pending must be awaited or abandoned: until then
// its slot stays in the connection's pending map.
func (c *Conn) Go(ctx context.Context, mod, fun string, args []any, kill bool) (*Pending, error) {
	if kill {
		return c.goKill(ctx, mod, fun, args)
	}
	if err := c.precheck(ctx, "rpc", mod, fun, args); err != nil {
		return nil, err
	}
	t0 := time.Now()
	k := c.newRefKey()
	bp := getBuf()
	b := append((*bp)[:0], c.rexHdr...)
	b = c.appendOurRef(b, k)
	b = append(b, tagSmallTuple, 5, tagSmallAtomUTF8, 4, 'c', 'a', 'l', 'l')
	b = appendAtom(b, mod)
	b = appendAtom(b, fun)
	b, err := appendArgs(b, args)
	if err != nil {
		putBuf(bp, b)
		return nil, c.countErr(newErr(KindProtocol, c.node, "rpc "+mfaString(mod, fun, len(args)), fmt.Errorf("encode arguments: %w", err)))
	}
	b = append(b, tagSmallAtomUTF8, 4, 'u', 's', 'e', 'r')
	sent := int64(len(b))
	cl := c.register(k, false)
	err = c.writeFrame(ctx, b)
	putBuf(bp, b)
	if err != nil {
		c.abandon(k, cl)
		return nil, c.countErr(c.stepErr(err, "rpc", mod, fun, len(args)))
	}
	return &Pending{c: c, k: k, cl: cl, t0: t0, mod: mod, fun: fun, arity: len(args), sent: sent}, nil
}

func (c *Conn) goKill(ctx context.Context, mod, fun string, args []any) (*Pending, error) {
	if err := c.precheck(ctx, "erpc", mod, fun, args); err != nil {
		return nil, err
	}
	step := "erpc " + mfaString(mod, fun, len(args))
	need := FlagSpawn | FlagDistMonitor | FlagDistMonitorName
	if c.flags&need != need {
		return nil, c.countErr(newErr(KindProtocol, c.node, step, fmt.Errorf("peer did not negotiate SPAWN, DIST_MONITOR and DIST_MONITOR_NAME (flags %#x)", c.flags)))
	}
	gl, err := c.groupLeader(ctx)
	if err != nil {
		return nil, c.countErr(err)
	}
	t0 := time.Now()
	k := c.newRefKey()
	resK := c.newRefKey()
	ctrl := term.Tuple{int64(OpSpawnRequest), c.refOf(k), c.rpcPid, gl,
		term.Tuple{term.Atom("erpc"), term.Atom("execute_call"), int64(4)}, term.List{term.Atom("monitor")}}
	bp := getBuf()
	b := append((*bp)[:0], 0, 0, 0, 0)
	b, err = appendControl(b, ctrl, nil, false)
	if err == nil {
		// The argument list [ResRef, M, F, Args].
		b = append(b, versionMagic, tagList, 0, 0, 0, 4)
		b = c.appendOurRef(b, resK)
		b = appendAtom(b, mod)
		b = appendAtom(b, fun)
		b, err = appendArgs(b, args)
		b = append(b, tagNil)
	}
	if err != nil {
		putBuf(bp, b)
		return nil, c.countErr(newErr(KindProtocol, c.node, step, fmt.Errorf("encode: %w", err)))
	}
	sent := int64(len(b))
	cl := c.register(k, true)
	err = c.writeFrame(ctx, b)
	putBuf(bp, b)
	if err != nil && errors.Is(err, errPartialWrite) {
		// The request will reach the peer after all: whatever it spawns is
		// killed when its SPAWN_REPLY comes (routeSignal).
		c.pmu.Lock()
		cl.cancelled = true
		c.pmu.Unlock()
		return nil, c.countErr(c.stepErr(err, "erpc", mod, fun, len(args)))
	}
	if err != nil {
		c.abandon(k, cl)
		return nil, c.countErr(c.stepErr(err, "erpc", mod, fun, len(args)))
	}
	return &Pending{c: c, k: k, resK: resK, cl: cl, t0: t0, mod: mod, fun: fun, arity: len(args), kill: true, sent: sent}, nil
}

// Ready reports whether the result is in (Wait will not block). A result
// arrives only while someone reads the connection: Wait does, or the
// reader goroutine while other calls wait.
func (p *Pending) Ready() bool { return !p.spent && len(p.cl.ch) > 0 }

// Conn is the connection the call went out on.
func (p *Pending) Conn() *Conn { return p.c }

// Wait returns the call's result. If ctx ends first the call is abandoned
// (erpc: its worker killed) and the error is ctx's, as for Call.
func (p *Pending) Wait(ctx context.Context) (any, error) {
	if p.spent {
		return nil, newErr(KindProtocol, p.c.node, "rpc "+mfaString(p.mod, p.fun, p.arity), fmt.Errorf("result already taken"))
	}
	c := p.c
	if !p.kill {
		p.spent = true
		return c.awaitReply(ctx, p.k, p.cl, p.t0, p.mod, p.fun, p.arity, true, &p.recv)
	}
	step := "erpc " + mfaString(p.mod, p.fun, p.arity)
	r, err := c.wait(ctx, p.cl)
	switch {
	case err == nil:
		p.spent = true
		p.recv = r.n
		ctl := r.ctl
		// The call is final (routeSignal removed it from the map) and the
		// channel drained: it may be reused.
		callPool.Put(p.cl)
		c.collected(r)
		if r.over > 0 {
			return nil, c.countErr(c.overErr(r, step))
		}
		if ctl.Op == OpSpawnReply { // the spawn failed (routeSignal keeps a pid to itself)
			return nil, c.countErr(newErr(KindRemote, c.node, step, &RemoteError{Class: "error", Reason: ctl.Reason, MFA: mfaString(p.mod, p.fun, p.arity)}))
		}
		c.lastRTT.Store(int64(time.Since(p.t0)))
		v, re := erpcResult(ctl.Reason, c.refOf(p.resK), mfaString(p.mod, p.fun, p.arity))
		if re != nil {
			return nil, c.countErr(newErr(KindRemote, c.node, step, re))
		}
		return v, nil
	case ctx.Err() != nil:
		p.Abandon()
		return nil, c.countErr(ctxErr(ctx, KindTimeout, c.node, step, ctx.Err()))
	default:
		p.spent = true
		c.abandon(p.k, p.cl)
		return nil, c.countErr(c.stepErr(c.err, "erpc", p.mod, p.fun, p.arity))
	}
}

// Abandon gives the call up: a reply arriving later is dropped, and an
// erpc worker is killed (EXIT2 kill at once if its pid is known, else by
// the reader when SPAWN_REPLY brings it). Abandoning a spent call does
// nothing.
func (p *Pending) Abandon() {
	if p.spent {
		return
	}
	p.spent = true
	c := p.c
	if !p.kill {
		c.abandon(p.k, p.cl)
		return
	}
	c.pmu.Lock()
	var kill *term.Pid
	if c.pending[p.k] == p.cl {
		if p.cl.havePid {
			c.unpendLocked(p.k, p.cl)
			pid := p.cl.pid
			kill = &pid
		} else {
			p.cl.cancelled = true // the reader kills it when SPAWN_REPLY comes
		}
	} else {
		c.dropHeldLocked(p.cl) // its DOWN came: nothing to kill
	}
	c.pmu.Unlock()
	if kill != nil {
		c.queueKill(*kill) // abandoning never waits for the socket
	} else {
		// Someone must read the SPAWN_REPLY that brings the pid to kill.
		c.ensureReader()
	}
}
