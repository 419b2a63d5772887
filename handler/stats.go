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

	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
)

// Where the sample's names are copied for C: one malloc'd buffer per
// backend, reused, so a sample costs no allocation.
const (
	statNameLen   = C.PLERL_STAT_NAMELEN
	statServerLen = C.PLERL_STAT_SERVERLEN
	statBufLen    = statServerLen + 3*statNameLen
)

var statBuf *C.char

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

// statsWanted: is there anything to do after a request (counting on, or the slow log)?
func statsWanted() bool {
	s := C.plerl_settings
	return (s.stat_record != nil && bool(s.stat_track)) || s.log_min_duration_ms >= 0
}

// recordStat reports one request to t that started at start and ended
// with err. Only on the backend's goroutine (the C side takes an LWLock).
// name is the registered name for sends ("" for calls: t.module).
func recordStat(t target, kind C.int32_t, arity int, start time.Time, err error) {
	if !statsWanted() {
		return
	}
	ms := float64(time.Since(start)) / float64(time.Millisecond)
	if statBuf == nil {
		statBuf = (*C.char)(C.calloc(1, statBufLen))
	}
	outcome, state := statOutcome(err)
	var s C.PlerlStatSample
	s.role = C.uint32_t(t.role)
	s.kind = kind
	s.arity = C.int32_t(arity)
	s.outcome = outcome
	s.ms = C.double(ms)
	s.server = statPut(0, statServerLen, t.server)
	s.node = statPut(statServerLen, statNameLen, t.node)
	s.module = statPut(statServerLen+statNameLen, statNameLen, t.module)
	fn := t.function
	if kind != C.PLERL_STAT_CALL {
		fn = "!"
	}
	s.function = statPut(statServerLen+2*statNameLen, statNameLen, fn)
	set := C.plerl_settings
	if set.stat_record != nil && bool(set.stat_track) {
		C.plerl_stat_record(&s)
	}
	if lm := set.log_min_duration_ms; lm >= 0 && ms >= float64(lm) {
		var cerr C.PlerlError
		cs := C.CString(state)
		if C.plerl_stat_log(&s, cs, &cerr) != 0 {
			C.plerl_error_free(&cerr) // a stashed error stays stashed; a LOG line is not worth more
		}
		C.free(unsafe.Pointer(cs))
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
