// trigger: the Go side of triggers and event triggers (trigger.c).
package main

/*
#include "plerl.h"
*/
import "C"

import (
	"unsafe"

	"github.com/plerl/plerl/runtime/pl"
	lua "github.com/yuin/gopher-lua"
)

//export plerlGoTrigger
func plerlGoTrigger(call *C.PlerlCall, tg *C.PlerlTrigger) {
	defer recoverInto(&call.err)
	outer := beginCall()
	defer endCall(outer)

	trusted := call.flags&C.PLERL_TRUSTED != 0
	s := engine.State(uint32(call.user_id), trusted)
	buf := trigBuffers(entryDepth)
	td := &buf.td
	if tg.is_event != 0 {
		td.IsEvent = true
		td.Event = cachedString(tg.event)
		td.Tag = cachedString(tg.tag)
		_, err := engine.CallTrigger(s, int64(call.fn_id), td)
		if err != nil {
			setError(&call.err, err)
		}
		return
	}
	f := lastTrig.fixed(tg)
	td.Name, td.Table, td.Schema = f.name, f.table, f.schema
	td.When, td.Level, td.Op = f.when, f.level, f.op
	td.Relid = uint32(tg.relid)
	td.ReturnsRow = tg.returns_row != 0
	if tg.nargs > 0 {
		for _, a := range unsafe.Slice(tg.args, int(tg.nargs)) {
			td.Args = append(td.Args, cachedString(a))
		}
	}
	set := columnSet(&tg.new_row)
	names, lnames := set.names, set.lnames
	td.Attributes, td.AttributesID = lnames, int64(tg.new_row.desc_id)
	if td.Level == "ROW" {
		ncols := len(names)
		sh := set.shape()
		mt := s.RowMeta(int32(tg.new_row.type_handle))
		// A function that cannot keep its tables gets last row's, refilled.
		var reuse pl.RowTables
		if engine.RowsStay(int64(call.fn_id)) && pl.RowMetaIntact(mt) {
			k := buf.kept(s, int64(call.fn_id))
			// Kept rows get a private copy of their type's metatable:
			// the shared one is reachable from any other row of the type
			// (getmetatable), and a field added to it during the call,
			// an __index say, would hand this row to Lua code.
			if mt != nil {
				if k.src != mt {
					k.src, k.mt = mt, pl.PrivateRowMeta(mt)
				}
				mt = k.mt
			}
			td.Reuse = &k.rows
			defer td.Reuse.Empty()
			reuse = *td.Reuse
		}
		var err error
		if tg.old_row.nrows > 0 {
			td.Old, err = rowToLuaInto(s, sh, unsafe.Slice(tg.old_row.values, ncols), nil, mt, reuse.Old)
			if td.Reuse != nil {
				td.Reuse.Old = td.Old
			}
			if err != nil {
				setError(&call.err, err)
				return
			}
		}
		if tg.new_row.nrows > 0 {
			if cap(td.NewValues) >= ncols {
				td.NewValues = td.NewValues[:ncols]
				clear(td.NewValues)
			} else {
				td.NewValues = make([]lua.LValue, ncols)
			}
			td.New, err = rowToLuaInto(s, sh, unsafe.Slice(tg.new_row.values, ncols), td.NewValues, mt, reuse.New)
			if td.Reuse != nil {
				td.Reuse.New = td.New
			}
			if err != nil {
				setError(&call.err, err)
				return
			}
			td.Columns = lnames
		}
	}
	res, err := engine.CallTrigger(s, int64(call.fn_id), td)
	if err != nil {
		setError(&call.err, err)
		return
	}
	if cap(res.Changed) > cap(td.ChangedBuf) {
		td.ChangedBuf = res.Changed[:0] // wider rows: keep the larger buffer
	}
	switch res.Action {
	case pl.TriggerSkip:
		tg.action = C.PLERL_TRIG_SKIP
	case pl.TriggerModify:
		if tg.result == nil {
			tg.action = C.PLERL_TRIG_KEEP
			return
		}
		ncols := len(names)
		out := unsafe.Slice(tg.result, ncols)
		replace := unsafe.Slice((*byte)(unsafe.Pointer(tg.replace)), ncols)
		for i, n := range names {
			if n != "" && (res.Changed == nil || res.Changed[i]) {
				replace[i] = 1
			}
		}
		// A changed trigger.new was checked for unknown fields already; a
		// table in its place is checked here.
		want := res.Changed
		buf.infos = infosInto(buf.infos, &tg.new_row)
		if err := rowFromLua(s, res.Row, names, buf.infos, want, out, want == nil, td.Table); err != nil {
			setError(&call.err, err)
			return
		}
		tg.action = C.PLERL_TRIG_MODIFY
	default:
		tg.action = C.PLERL_TRIG_KEEP
	}
}

// trigBufs: the TriggerData of each nesting depth (a trigger's SQL may
// fire another trigger), reused from row to row with its slices
// (NewValues, the changed columns, Args, the column types): nothing of it
// reaches Lua, and a firing is done with it when plerlGoTrigger returns.
// keep holds Lua tables, the trigger object and rows of functions that
// cannot keep them (runtime/pl/rowsstay.go): refilled for their next row
// at this depth, emptied in between.
type trigBuf struct {
	td    pl.TriggerData
	infos []*C.PlerlTypeInfo
	keep  []keptRows
}

// keptRows: the tables of a function whose tables cannot outlive its
// call (pl.Engine.RowsStay), from its last row at this depth. A few
// functions per depth (several triggers on one table fire in turn).
type keptRows struct {
	s       *pl.State
	fn      int64
	rows    pl.RowTables
	src, mt *lua.LTable // the row type's shared metatable, and the rows' private copy of it
}

const maxKept = 4

// kept returns the kept tables of function fn in state s at this depth.
func (b *trigBuf) kept(s *pl.State, fn int64) *keptRows {
	for i := range b.keep {
		if k := &b.keep[i]; k.s == s && k.fn == fn {
			return k
		}
	}
	if len(b.keep) >= maxKept {
		copy(b.keep, b.keep[1:])
		b.keep = b.keep[:maxKept-1]
	}
	b.keep = append(b.keep, keptRows{s: s, fn: fn})
	return &b.keep[len(b.keep)-1]
}

var trigBufs []*trigBuf

func trigBuffers(depth int) *trigBuf {
	for len(trigBufs) <= depth {
		trigBufs = append(trigBufs, &trigBuf{})
	}
	b := trigBufs[depth]
	td := &b.td
	*td = pl.TriggerData{Args: td.Args[:0], NewValues: td.NewValues[:0], ChangedBuf: td.ChangedBuf}
	if cap(td.ChangedBuf) < 16 {
		td.ChangedBuf = make([]bool, 0, 64)
	}
	return b
}

// trigFixed holds the fixed strings of one trigger firing and the C
// pointers they were read from.
type trigFixed struct {
	p                                    [6]*C.char
	name, table, schema, when, level, op string
}

// lastTrig: a statement fires the same trigger for every row; its strings
// come from the same C memory each time. Reused only when every pointer is
// the same and every string still reads the same (memory can be reused),
// which costs a few byte compares instead of six map lookups (hashing).
var lastTrig trigFixed

func (f *trigFixed) fixed(tg *C.PlerlTrigger) *trigFixed {
	p := [6]*C.char{tg.name, tg.table_name, tg.table_schema, tg.when, tg.level, tg.op}
	if p == f.p && cView(p[0]) == f.name && cView(p[1]) == f.table && cView(p[2]) == f.schema &&
		cView(p[3]) == f.when && cView(p[4]) == f.level && cView(p[5]) == f.op {
		return f
	}
	*f = trigFixed{p: p, name: cachedString(p[0]), table: cachedString(p[1]), schema: cachedString(p[2]),
		when: cachedString(p[3]), level: cachedString(p[4]), op: cachedString(p[5])}
	return f
}

// C strings a trigger repeats on every row, read once: a lookup through a
// view of the C bytes does not allocate.
var cstrCache = map[string]string{}

func cachedString(p *C.char) string {
	if p == nil {
		return ""
	}
	if str, ok := cstrCache[cView(p)]; ok {
		return str
	}
	str := C.GoString(p)
	if len(cstrCache) >= 4096 {
		clear(cstrCache)
	}
	cstrCache[str] = str
	return str
}
