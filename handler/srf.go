// srf: the Go side of set-returning functions (srf.c): one coroutine per
// call of the function, resumed once per row.
package main

/*
#include "plerl.h"
*/
import "C"

import (
	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

type srfEntry struct {
	r       *pl.SRF
	subxact uint32
}

// Running set-returning functions by handle. Closed when the function is
// done, when the executor stops early (srf.c's shutdown callback), and at
// the end of the (sub)transaction they started in, for queries that
// failed or never ended.
var (
	srfs    = map[int64]*srfEntry{}
	nextSRF int64
)

//export plerlGoSrfNext
func plerlGoSrfNext(call *C.PlerlCall, srf *C.PlerlSrf) {
	defer recoverInto(&call.err)
	outer := beginCall()
	defer endCall(outer)

	id := int64(srf.srf_id)
	ent := srfs[id]
	if id == 0 {
		trusted := call.flags&C.PLERL_TRUSTED != 0
		s := engine.State(uint32(call.user_id), trusted)
		args, err := callArgs(s, call, nil)
		if err != nil {
			setError(&call.err, err)
			return
		}
		r, err := engine.StartSRF(s, int64(call.fn_id), args)
		if err != nil {
			setError(&call.err, err)
			return
		}
		ent = &srfEntry{r: r, subxact: uint32(srf.subxact)}
		nextSRF++
		id = nextSRF
		srfs[id] = ent
		srf.srf_id = C.int64_t(id)
	} else if ent == nil {
		srf.srf_id = 0
		setError(&call.err, pl.Errorf(sqlstate.InternalError, "plerl: set-returning function state %d is gone", id))
		return
	}

	vals, done, err := ent.r.Next()
	if err != nil || done {
		closeSRF(id)
		srf.srf_id = 0
		if err != nil {
			setError(&call.err, err)
		} else {
			srf.done = 1
		}
		return
	}
	if err = srfRow(ent.r.State(), vals, call.ret_type, &call.ret); err != nil {
		closeSRF(id)
		srf.srf_id = 0
		setError(&call.err, err)
	}
}

// srfRow converts what one coroutine.yield gave (or one row of a returned
// table). For a row type, one table is the row by column name; anything
// else (several values, or one value that is not a table) fills the
// columns in order. For other types, the first value is the row.
func srfRow(s *pl.State, vals []lua.LValue, t *C.PlerlTypeInfo, out *C.PlerlValue) error {
	var v lua.LValue = lua.LNil
	if len(vals) > 0 {
		v = vals[0]
	}
	if t.kind == C.PLT_RECORD {
		if _, ok := v.(*lua.LTable); !ok || len(vals) > 1 {
			return rowOut(s, vals, t, out)
		}
	}
	return luaToType(s, v, t, out)
}

func closeSRF(id int64) {
	if ent := srfs[id]; ent != nil {
		ent.r.Close()
		delete(srfs, id)
	}
}

//export plerlGoSrfClose
func plerlGoSrfClose(id C.int64_t) {
	defer reportPanics("plerlGoSrfClose")
	closeSRF(int64(id))
}

//export plerlGoXactEnd
func plerlGoXactEnd(aborted C.int) {
	defer reportPanics("plerlGoXactEnd")
	cursorsXactEnd(aborted != 0) // spi.go
	if len(srfs) == 0 {
		return
	}
	for id := range srfs {
		closeSRF(id)
	}
}

//export plerlGoSubxactAbort
func plerlGoSubxactAbort(subxact C.uint32_t) {
	defer reportPanics("plerlGoSubxactAbort")
	cursorsSubxactAbort(uint32(subxact)) // spi.go
	for id, ent := range srfs {
		if ent.subxact >= uint32(subxact) {
			closeSRF(id)
		}
	}
}
