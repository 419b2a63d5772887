// stats: one sample per Erlang request for plerl.stat_calls, and the log
// line of a slow one (plerl.log_min_duration); docs/monitoring.md. Names
// only: never argument values or cookies.
package main

/*
#include <stdlib.h>
#include "plerl.h"
*/
import "C"

import (
	"errors"
	"strings"
	"time"
	"unsafe"

	"github.com/plerl/plerl/runtime/dist"
	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
)

// The sample and its names live in C memory: one calloc'd block per
// backend, reused, so a sample costs no allocation and passes no Go
// pointer to C (no cgo pointer check).
const (
	statNameLen   = C.PLERL_STAT_NAMELEN
	statServerLen = C.PLERL_STAT_SERVERLEN
	statBufLen    = statServerLen + 3*statNameLen
)

var (
	statSample *C.PlerlStatSample // followed by statBufLen bytes of names
	statBuf    *C.char
)

// statPut copies s (cut to fit) into statBuf at off, NUL-terminated.
func statPut(off, size int, s string) *C.char {
	if len(s) > size-1 {
		s = s[:size-1]
	}
	b := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(statBuf), off)), size)
	n := copy(b, s)
	b[n] = 0
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// statKey is what an entry of plerl.stat_calls is kept under (less the
// database, the backend's own); statCache remembers, per key, the entry
// it was last counted in (src/stats.c, stat_record's fast path).
type statKey struct {
	role                           uint32
	kind, arity                    int32
	server, node, module, function string
}

type statHandle struct {
	entry unsafe.Pointer
	gen   uint64
}

var (
	statCache   = map[statKey]statHandle{}
	statLastKey statKey // the last key and its handle: a loop of one call skips the map
	statLast    statHandle
)

const statCacheMax = 4096

// statsWanted: is there anything to do after a request (counting on, or the slow log)?
func statsWanted() bool {
	s := C.plerl_settings
	return (s.stat_record != nil && bool(s.stat_track)) || s.log_min_duration_ms >= 0
}

// traffic is what one request cost on the wire and, for sends, casts and
// the outbox, what it carried: the sizes runtime/dist wrote and read
// (dist.Pending.Bytes, Conn.RegSendBytes), nothing encoded again.
type traffic struct {
	sent, recv int64
	msgs       int64 // messages that went out (sends: per pid; outbox: acknowledged)
	redeliv    int64 // outbox: of msgs, sent before in a delivery not acknowledged
	dead       int64 // outbox: messages made dead letters
}

// add counts a call's frames (p: sent, nil: nothing went out).
func (tr *traffic) add(p *dist.Pending) {
	if p != nil {
		s, r := p.Bytes()
		tr.sent += s
		tr.recv += r
	}
}

// recordStat reports one request to t that started at start and ended
// with err. Only on the backend's goroutine (the C side takes an LWLock).
// name is the registered name for sends ("" for calls: t.module).
func recordStat(t target, kind C.int32_t, arity int, start time.Time, err error, tr traffic) {
	if !statsWanted() {
		return
	}
	outcome, state := statOutcome(err)
	recordSample(t, kind, arity, float64(time.Since(start))/float64(time.Millisecond), outcome, state, tr)
}

// recordSample is recordStat with the outcome and its SQLSTATE ("": none)
// given. Counting tries the key's cached handle first and passes the names
// only if that misses (a new key, or an entry removed since: eviction,
// reset).
func recordSample(t target, kind C.int32_t, arity int, ms float64, outcome C.int32_t, state string, tr traffic) {
	if statSample == nil {
		statSample = (*C.PlerlStatSample)(C.calloc(1, C.size_t(unsafe.Sizeof(C.PlerlStatSample{}))+statBufLen))
		statBuf = (*C.char)(unsafe.Add(unsafe.Pointer(statSample), unsafe.Sizeof(C.PlerlStatSample{})))
	}
	fn := t.function
	if kind != C.PLERL_STAT_CALL {
		fn = "!"
	}
	s := statSample
	s.role = C.uint32_t(t.role)
	s.kind = kind
	s.arity = C.int32_t(arity)
	s.outcome = outcome
	s.ms = C.double(ms)
	s.bytes_sent = C.int64_t(tr.sent)
	s.bytes_received = C.int64_t(tr.recv)
	s.messages = C.int64_t(tr.msgs)
	s.redelivered = C.int64_t(tr.redeliv)
	s.dead = C.int64_t(tr.dead)
	s.server, s.node, s.module, s.function = nil, nil, nil, nil
	named := false
	name := func() {
		if !named {
			s.server = statPut(0, statServerLen, t.server)
			s.node = statPut(statServerLen, statNameLen, t.node)
			s.module = statPut(statServerLen+statNameLen, statNameLen, t.module)
			s.function = statPut(statServerLen+2*statNameLen, statNameLen, fn)
			named = true
		}
	}
	set := C.plerl_settings
	if set.stat_record != nil && bool(set.stat_track) {
		k := statKey{uint32(t.role), int32(kind), int32(arity), t.server, t.node, t.module, fn}
		h, ok := statLast, k == statLastKey
		if !ok {
			h = statCache[k]
		}
		s.entry, s.gen = h.entry, C.uint64_t(h.gen)
		if C.plerl_stat_record(s) == 0 {
			name()
			C.plerl_stat_record(s)
		}
		nh := statHandle{s.entry, uint64(s.gen)}
		if nh != h {
			if len(statCache) >= statCacheMax {
				clear(statCache)
			}
			statCache[k] = nh
		}
		statLastKey, statLast = k, nh
	}
	if lm := set.log_min_duration_ms; lm >= 0 && ms >= float64(lm) {
		name()
		var cerr C.PlerlError
		cs := C.CString(state)
		if C.plerl_stat_log(s, cs, &cerr) != 0 {
			C.plerl_error_free(&cerr) // a stashed error stays stashed; a LOG line is not worth more
		}
		C.free(unsafe.Pointer(cs))
	}
}

// outboxSent: ids of outbox messages this worker sent in a delivery that
// was not acknowledged (for redeliveries; bounded, forgotten at restart).
var outboxSent = map[int64]struct{}{}

const outboxSentMax = 1 << 16

// recordOutbox counts the outbox worker's deliveries of one round (kind
// outbox, one request per destination's batch), on the worker's own
// goroutine after the delivering goroutines are done: messages
// acknowledged, those among them sent before (redeliveries), dead letters.
func recordOutbox(batches []*outboxBatch) {
	if !statsWanted() {
		return
	}
	for _, ob := range batches {
		tr := ob.tr
		outcome, state := C.int32_t(C.PLERL_STAT_OK), ""
		switch {
		case ob.callErr != nil:
			outcome, state = statOutcome(ob.callErr)
		case ob.status == C.PLERL_OUTBOX_UNREACHABLE:
			outcome, state = C.PLERL_STAT_NODE_DOWN, string(sqlstate.ConnectionFailure)
		case ob.status == C.PLERL_OUTBOX_DEAD_ONE:
			outcome, state = C.PLERL_STAT_REFUSED, string(sqlstate.InsufficientPrivilege)
		case ob.status != C.PLERL_OUTBOX_ACKED: // replied, but not ok
			outcome, state = C.PLERL_STAT_REMOTE, string(sqlstate.PlerlRemoteError)
		}
		switch ob.status {
		case C.PLERL_OUTBOX_ACKED:
			tr.msgs = int64(len(ob.ids))
			for _, id := range ob.ids {
				if _, ok := outboxSent[id]; ok {
					tr.redeliv++
					delete(outboxSent, id)
				}
			}
		case C.PLERL_OUTBOX_DEAD:
			tr.dead = int64(len(ob.ids))
			for _, id := range ob.ids {
				delete(outboxSent, id)
			}
		case C.PLERL_OUTBOX_DEAD_ONE:
			tr.dead = 1
			delete(outboxSent, ob.ids[ob.bad])
		default:
			if tr.sent > 0 {
				for _, id := range ob.ids {
					if len(outboxSent) < outboxSentMax {
						outboxSent[id] = struct{}{}
					}
				}
			}
		}
		recordSample(ob.t, C.PLERL_STAT_OUTBOX, -1, float64(ob.took)/float64(time.Millisecond), outcome, state, tr)
	}
}

// statOutcome classifies a request's error by its SQLSTATE (sqlError's table).
func statOutcome(err error) (C.int32_t, string) {
	if err == nil {
		return C.PLERL_STAT_OK, ""
	}
	var pe *pl.Error
	if !errors.As(sqlError(err, ""), &pe) {
		return C.PLERL_STAT_OTHER, string(sqlstate.InternalError)
	}
	st := string(pe.SQLState)
	switch {
	case pe.Kind == pl.KindCancel || st == string(sqlstate.QueryCanceled):
		return C.PLERL_STAT_CANCELLED, st
	case st == string(sqlstate.PlerlCallTimeout):
		return C.PLERL_STAT_TIMEOUT, st
	case strings.HasPrefix(st, sqlstate.ConnectionException[:2]): // class 08
		return C.PLERL_STAT_NODE_DOWN, st
	case st == string(sqlstate.PlerlRemoteError) || st == string(sqlstate.UndefinedFunction):
		return C.PLERL_STAT_REMOTE, st
	case st == string(sqlstate.InsufficientPrivilege) || st == string(sqlstate.InvalidAuthorizationSpecification):
		return C.PLERL_STAT_REFUSED, st
	}
	return C.PLERL_STAT_OTHER, st
}
