// Read duty: who reads the socket — the reader goroutine, or a caller waiting for its own reply.
package dist

import (
	"context"
	"errors"
	"io"
	"os"
	"time"

	"github.com/plerl/plerl/runtime/yield"
)

// Why: handing every reply from the reader goroutine to the waiting
// caller wakes a parked goroutine, and with GOMAXPROCS >= 2 that wake-up
// also starts an idle P on another CPU; measured on the 2-vCPU box that
// added 6-13 µs to a 20 µs call (TestMeasureReaderHandoff). So the right to
// read the socket (the "read duty") moves:
//
//   - A caller waiting for a reply takes the duty if nobody holds it and
//     reads packets itself — dispatching everyone's replies and messages the
//     same way the reader goroutine does — until its own reply is in; then
//     it releases the duty.
//   - Released with nobody else waiting, the duty stays free for
//     dutyGrace, so a caller making calls in a row reads every reply itself
//     with no goroutine hand-off; after dutyGrace of idleness the reader
//     goroutine takes it back (so ticks, messages for our pids and late
//     replies keep being read: the reader never stalls for longer than that).
//   - While the reader goroutine holds the duty (and is blocked reading),
//     callers wait for it as before; it gives the duty up as soon as no
//     call is pending and nobody waits in Receive.
//
// Exactly one goroutine holds the duty at a time (state under rmu), so the
// bufio.Reader and the frameReader's partial progress pass between them
// safely. A direct reader whose context ends stops waiting (on an fdConn it
// looks at the context every directSlice; on a net.Conn a socket read
// deadline interrupts it); the frameReader keeps any half-read packet for
// the next holder.
const dutyGrace = 10 * time.Millisecond

const (
	dutyFree = iota
	dutyReader
	dutyCaller
)

// tryTakeDuty makes the calling goroutine the reader if the duty is free.
func (c *Conn) tryTakeDuty() bool {
	c.rmu.Lock()
	if c.duty != dutyFree {
		c.rmu.Unlock()
		return false
	}
	c.duty = dutyCaller
	c.rmu.Unlock()
	return true
}

// releaseDuty ends a caller's turn: the duty goes to the reader goroutine
// if anyone else waits (a pending call, a receiver), else it stays free
// for dutyGrace.
func (c *Conn) releaseDuty() {
	c.rmu.Lock()
	if c.othersWaitingLocked() {
		c.duty = dutyReader
		c.rmu.Unlock()
		c.wakeReader()
		return
	}
	c.freeDutyLocked()
	c.rmu.Unlock()
}

// freeDutyLocked frees the duty and makes sure the grace timer will look
// at it. The timer is armed at most once per grace period (a Reset per call
// would cost a timer-heap update on every call).
func (c *Conn) freeDutyLocked() {
	c.duty = dutyFree
	c.releasedAt = time.Now()
	if !c.timerArmed {
		c.timerArmed = true
		c.dutyTimer.Reset(dutyGrace)
	}
}

// readerMayRelease is called by the reader goroutine between packets: it
// gives up the duty when nothing is buffered and nobody waits.
func (c *Conn) readerMayRelease() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if c.othersWaitingLocked() {
		return false
	}
	c.freeDutyLocked()
	c.sr.dropPoller() // the next reader is likely a caller, reading directly
	return true
}

// othersWaitingLocked: pending calls or Receive waiters (OneWaiter:
// goroutines parked in wait or Receive). Lock order: rmu, then pmu.
func (c *Conn) othersWaitingLocked() bool {
	if c.receivers > 0 {
		return true
	}
	if c.cfg.OneWaiter {
		return c.parked.Load() > 0
	}
	c.pmu.Lock()
	n := len(c.pending)
	c.pmu.Unlock()
	return n > 0
}

// dutyTimeout runs dutyGrace after a release: a free duty goes back to
// the reader goroutine.
func (c *Conn) dutyTimeout() {
	c.rmu.Lock()
	c.timerArmed = false
	if c.duty != dutyFree {
		c.rmu.Unlock()
		return
	}
	if left := dutyGrace - time.Since(c.releasedAt); left > 0 {
		c.timerArmed = true // freed again since: wait for the rest
		c.dutyTimer.Reset(left)
		c.rmu.Unlock()
		return
	}
	c.duty = dutyReader
	c.rmu.Unlock()
	c.wakeReader()
}

// ensureReader makes sure someone reads (used before parking in Receive).
func (c *Conn) ensureReader() {
	c.rmu.Lock()
	if c.duty != dutyFree {
		c.rmu.Unlock()
		return
	}
	c.duty = dutyReader
	c.rmu.Unlock()
	c.wakeReader()
}

func (c *Conn) wakeReader() {
	if !c.readerStarted.Load() && c.readerStarted.CompareAndSwap(false, true) {
		go c.readLoop()
	}
	select {
	case c.dutyCh <- struct{}{}:
	default:
	}
}

// readLoop is the reader goroutine: it reads whenever it holds the duty.
func (c *Conn) readLoop() {
	for {
		select {
		case <-c.dutyCh:
		case <-c.done:
			return
		}
		for {
			frame, err := c.fr.next()
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) && c.Err() == nil {
					// A deadline left by a direct reader: not ours.
					c.nc.SetReadDeadline(time.Time{})
					continue
				}
				c.readFailed(err)
				return
			}
			if c.corkable && !c.rcorked {
				c.cork() // until what this read brought is dispatched (conn.go)
			}
			if err := c.handleFrame(frame); err != nil {
				return
			}
			if c.br.Buffered() == 0 {
				c.flushCork()
			}
			if c.readerMayRelease() {
				break
			}
		}
	}
}

// handleFrame processes one packet; a protocol error ends the connection.
func (c *Conn) handleFrame(frame []byte) error {
	if frame == nil {
		// A tick. The peer only needs *some* bytes from us; answering
		// each tick (as libei does) keeps that true even if our own
		// ticker is starved.
		c.queueControl(tickPacket)
		return nil
	}
	if err := c.dispatch(frame); err != nil {
		c.fail(err)
		return err
	}
	return nil
}

func (c *Conn) readFailed(err error) {
	var tl errTooLarge
	switch {
	case errors.As(err, &tl):
		c.fail(newErr(KindTooLarge, c.node, "read", err))
	case c.Err() != nil:
		// closed by us: keep the recorded reason
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err):
		c.fail(c.downErr("read", errors.New("connection closed by peer")))
	default:
		c.fail(c.downErr("read", err))
	}
}

// wait returns the next reply for cl: read directly when the duty is free,
// else park until the reader goroutine delivers it.
func (c *Conn) wait(ctx context.Context, cl *call) (reply, error) {
	yield.Maybe() // a caller in a loop of calls must not look long-running to sysmon (runtime/yield)
	c.Release()   // never wait for a reply to a request still held (Hold)
	select {
	case r := <-cl.ch:
		return r, nil
	default:
	}
	if !c.othersPending(cl) && c.tryTakeDuty() {
		c.directWaits.Add(1)
		err := c.readDirect(ctx, cl, nil)
		c.releaseDuty() // to the reader goroutine if anyone else waits
		if err == nil {
			return <-cl.ch, nil // readDirect saw it there
		}
		if err != errHandOff {
			return reply{}, err
		}
	}
	// Counted (while cl is still pending: unpendLocked uncounts it as its
	// reply is taken, so a reader goroutine that just dispatched it does
	// not keep the duty for us) before the reader is made sure of: a reader
	// that looks for waiters (OneWaiter) either sees us or has freed the
	// duty, which ensureReader then hands back to it.
	c.pmu.Lock()
	if !cl.unpended {
		cl.parked = true
		c.parked.Add(1)
	}
	c.pmu.Unlock()
	defer func() {
		c.pmu.Lock()
		if cl.parked {
			cl.parked = false
			c.parked.Add(-1)
		}
		c.pmu.Unlock()
	}()
	c.ensureReader()
	c.parkedWaits.Add(1)
	select {
	case r := <-cl.ch:
		return r, nil
	case <-ctx.Done():
		return reply{}, ctx.Err()
	case <-c.done:
		return reply{}, c.err
	}
}

// readDirect reads and dispatches packets until cl has a reply or mb a
// message (nil), the context ends (its error), or the connection fails
// (c.err). The caller holds the read duty.
func (c *Conn) readDirect(ctx context.Context, cl *call, mb *mailbox) error {
	if c.sr.setDirect(ctx) {
		// Wait in the kernel on this thread, looking at ctx (sockread.go).
		defer c.sr.setDirect(nil)
	} else if ctx.Done() != nil {
		// Interrupt our read when ctx ends: its deadline, or a cancel.
		if dl, ok := ctx.Deadline(); ok {
			c.nc.SetReadDeadline(dl)
		}
		fired := make(chan struct{})
		s := context.AfterFunc(ctx, func() {
			c.nc.SetReadDeadline(time.Unix(1, 0))
			close(fired)
		})
		defer func() {
			if !s() {
				<-fired
			}
			c.nc.SetReadDeadline(time.Time{})
		}()
	}
	for {
		// OneWaiter: the packets already buffered are dispatched too (the
		// replies of a pipeline's other calls: they are then Ready).
		if cl != nil && len(cl.ch) > 0 && !(c.cfg.OneWaiter && c.br.Buffered() > 0) {
			return nil
		}
		if mb != nil && mb.len() > 0 {
			return nil
		}
		frame, err := c.fr.next()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && c.Err() == nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue // not our deadline (cannot happen: we hold the duty)
			}
			c.readFailed(err)
			return c.err
		}
		if err := c.handleFrame(frame); err != nil {
			return c.err
		}
		if (cl == nil || len(cl.ch) == 0) && (mb == nil || mb.len() == 0) && c.othersPending(cl) {
			return errHandOff
		}
	}
}

// errHandOff: a direct reader stops because others wait on the connection.
// A direct reader may be sleeping in recv(2) on its own thread (fdConn),
// holding its P: goroutines it wakes for their replies would wait for that
// P until its own reply came or sysmon took the P (up to 10 ms), so with
// company the reading goes to the reader goroutine, which waits in the
// netpoller, and the caller parks like the others.
var errHandOff = errors.New("dist: read duty handed to the reader goroutine")

// othersPending reports calls other than cl waiting for replies, or
// goroutines parked in Receive (OneWaiter: goroutines parked in wait or
// Receive; the other pending calls are the caller's own).
func (c *Conn) othersPending(cl *call) bool {
	if c.cfg.OneWaiter {
		if c.parked.Load() > 0 {
			return true
		}
		c.rmu.Lock()
		r := c.receivers
		c.rmu.Unlock()
		return r > 0
	}
	c.pmu.Lock()
	n := len(c.pending)
	c.pmu.Unlock()
	if cl != nil {
		n-- // cl is pending until its reply is in
	}
	if n > 0 {
		return true
	}
	c.rmu.Lock()
	r := c.receivers
	c.rmu.Unlock()
	return r > 0
}
