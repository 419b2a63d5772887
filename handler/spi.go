// spi: pl.SPI for the backend (the guards of spi.c), and rows crossing the
// boundary in both directions (SPI results, trigger rows, set-returning
// rows).
package main

/*
#include <stdlib.h>
#include "plerl.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// spiPlan is a prepared statement (a C PlerlPlan) Lua holds.
type spiPlan struct {
	p       *C.PlerlPlan
	hold    bool // its cursors are holdable (spi.prepare's hold option)
	nparams int
	infos   []*C.PlerlTypeInfo // parameter types, for luaToType (C memory)
	types   []string
	fetch   int
	cleanup runtime.Cleanup
	kept    bool
	isCall  bool
	cached  bool // in planCache (plancache.go)
	busy    int  // executions of a cached plan under way
}

func (p *spiPlan) NumParams() int         { return p.nparams }
func (p *spiPlan) ParamType(i int) string { return p.types[i] }
func (p *spiPlan) FetchCount() int        { return p.fetch }

func (p *spiPlan) Free() error {
	if p.p == nil {
		return nil
	}
	if p.kept {
		p.cleanup.Stop()
	}
	cp := p.p
	p.p = nil
	var cerr C.PlerlError
	if C.plerl_spi_plan_free(cp, &cerr) != 0 {
		return guardError(&cerr)
	}
	return nil
}

// spiCursor is a portal, known by name: the portal may be gone (closed
// at the end of its transaction) and a name cannot dangle. An owned
// cursor (one Lua opened) closes its portal when Lua drops it; a cursor
// found by name (spi.findcursor, a refcursor) never does.
type spiCursor struct {
	name    string
	closed  bool
	owned   bool
	cleanup runtime.Cleanup
	// seen: plerl_state_epoch when the portal was last known open (0:
	// never). While the epoch has not moved, nothing can have closed it,
	// so IsOpen answers without a call (a rows() loop asks before each
	// row it had fetched ahead).
	seen uint64
	// gen: plerl_xact_generation when Lua opened a portal that is not
	// holdable (0: holdable, or found by name). Under another generation
	// that portal is gone, and a portal of its name is someone else's:
	// the cursor is closed, and dropping it closes nothing.
	gen uint64
	// life: for a portal Lua opened, whether a rollback dropped it (nil:
	// found by name). A rollback drops the portals its (sub)transaction
	// created, holdable ones too, while the generation may stay.
	life *cursorLife
}

// cursorLife: what the cursor's cleanup and the transaction events share
// (never the cursor itself, so that Lua can drop it).
type cursorLife struct {
	gen   uint64
	subid uint32 // the subtransaction that created the portal
	dead  bool   // a rollback dropped the portal
}

func (l *cursorLife) gone() bool {
	return l.dead || (l.gen != 0 && l.gen != xactGeneration())
}

// liveCursors: the portals Lua opened in this transaction and has not
// closed; a rollback of the subtransaction that created one (or of an
// enclosing one) marks it dead. Touched on the backend's goroutine only.
var liveCursors = map[*cursorLife]struct{}{}

// cursorsSubxactAbort: subtransaction subid rolled back, and with it the
// portals created in it or in the subtransactions it enclosed (their ids
// are the later ones: any begun since subid began ended inside it).
func cursorsSubxactAbort(subid uint32) {
	for l := range liveCursors {
		if l.subid >= subid {
			l.dead = true
			delete(liveCursors, l)
		}
	}
}

// cursorsXactEnd: a rollback dropped every portal the transaction
// created; after a commit the holdable ones live on, no longer the
// transaction's (a later rollback leaves them).
func cursorsXactEnd(aborted bool) {
	if len(liveCursors) == 0 {
		return
	}
	for l := range liveCursors {
		if aborted {
			l.dead = true
		}
		delete(liveCursors, l)
	}
}

// xactGeneration is plerl_xact_generation (plerl.h).
func xactGeneration() uint64 { return uint64(C.plerl_xact_generation) }

// stale: the portal this cursor opened ended with its transaction.
func (c *spiCursor) stale() bool {
	return (c.gen != 0 && c.gen != xactGeneration()) || (c.life != nil && c.life.dead)
}

// errStaleCursor is what a cursor whose portal ended with its
// transaction answers to a fetch or a move.
func (c *spiCursor) errStale() error {
	if c.life != nil && c.life.dead {
		return pl.Errorf(sqlstate.InvalidCursorName, "cursor %q was closed by the rollback of the transaction that opened it", c.name)
	}
	return pl.Errorf(sqlstate.InvalidCursorName, "cursor %q was closed at the end of its transaction", c.name)
}

// stateEpoch is plerl_state_epoch (plerl.h): read on the backend's goroutine.
func stateEpoch() uint64 { return uint64(C.plerl_state_epoch) }

func (c *spiCursor) Name() string { return c.name }

func (c *spiCursor) Fetch(s *pl.State, n int64) (*lua.LTable, error) {
	return c.FetchDir(s, pl.FetchForward, n)
}

func (c *spiCursor) FetchDir(s *pl.State, dir int, n int64) (*lua.LTable, error) {
	drainPending()
	if c.stale() {
		return nil, c.errStale()
	}
	cname, err := cText("cursor name", c.name)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cname))
	var rows C.PlerlRows
	var cerr C.PlerlError
	if C.plerl_spi_cursor_fetch(cname, C.int32_t(dir), C.int64_t(n), &rows, &cerr) != 0 {
		return nil, guardError(&cerr)
	}
	c.seen = stateEpoch()
	return takeRows(s, &rows)
}

func (c *spiCursor) Move(dir int, n int64) (int64, error) {
	drainPending()
	if c.stale() {
		return 0, c.errStale()
	}
	cname, err := cText("cursor name", c.name)
	if err != nil {
		return 0, err
	}
	defer C.free(unsafe.Pointer(cname))
	var moved C.int64_t
	var cerr C.PlerlError
	if C.plerl_spi_cursor_move(cname, C.int32_t(dir), C.int64_t(n), &moved, &cerr) != 0 {
		return 0, guardError(&cerr)
	}
	c.seen = stateEpoch()
	return int64(moved), nil
}

func (c *spiCursor) IsOpen() (bool, error) {
	if c.closed || c.stale() {
		return false, nil
	}
	if c.seen != 0 && c.seen == stateEpoch() {
		return true, nil
	}
	cname, err := cText("cursor name", c.name)
	if err != nil {
		return false, err
	}
	defer C.free(unsafe.Pointer(cname))
	var exists C.int32_t
	var cerr C.PlerlError
	if C.plerl_spi_cursor_exists(cname, &exists, &cerr) != 0 {
		return false, guardError(&cerr)
	}
	if exists != 0 {
		c.seen = stateEpoch()
	}
	return exists != 0, nil
}

func (c *spiCursor) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.owned {
		c.cleanup.Stop()
	}
	if c.life != nil {
		delete(liveCursors, c.life)
	}
	if c.stale() {
		return nil // gone with its transaction; the name may be another's now
	}
	cname, err := cText("cursor name", c.name)
	if err != nil {
		return err
	}
	defer C.free(unsafe.Pointer(cname))
	var cerr C.PlerlError
	if C.plerl_spi_cursor_close(cname, &cerr) != 0 {
		return guardError(&cerr)
	}
	return nil
}

// SetOwned: an owned cursor's portal is closed when Lua drops it (its
// cleanup queues the close); a disowned one's lives until it is closed or
// its transaction ends.
func (c *spiCursor) SetOwned(owned bool) {
	if c.closed || owned == c.owned {
		return
	}
	c.owned = owned
	if owned {
		c.cleanup = runtime.AddCleanup(c, queueCursor, c.pending())
	} else {
		c.cleanup.Stop()
	}
}

func (host) SPICursor(name string) pl.Cursor { return &spiCursor{name: name} }

// Plans and cursors Lua dropped without freeing or closing them. Go's
// cleanups run on another goroutine, which must not touch PostgreSQL:
// they queue the work, and the next SPI call does it.
var (
	pendingMu      sync.Mutex
	pendingAny     atomic.Bool
	pendingPlans   []*C.PlerlPlan
	pendingCursors []pendingCursor
)

func queuePlan(p *C.PlerlPlan) {
	pendingMu.Lock()
	pendingPlans = append(pendingPlans, p)
	pendingMu.Unlock()
	pendingAny.Store(true)
}

// pendingCursor: a dropped owned cursor's portal name, and the
// generation it was opened under (spiCursor.gen), or its life.
type pendingCursor struct {
	name string
	gen  uint64
	life *cursorLife
}

func (c *spiCursor) pending() pendingCursor { return pendingCursor{c.name, c.gen, c.life} }

func queueCursor(pc pendingCursor) {
	pendingMu.Lock()
	pendingCursors = append(pendingCursors, pc)
	pendingMu.Unlock()
	pendingAny.Store(true)
}

func drainPending() {
	if !pendingAny.Load() {
		return
	}
	pendingMu.Lock()
	plans, cursors := pendingPlans, pendingCursors
	pendingPlans, pendingCursors = nil, nil
	pendingAny.Store(false)
	pendingMu.Unlock()
	var cerr C.PlerlError
	for _, p := range plans {
		if C.plerl_spi_plan_free(p, &cerr) != 0 {
			C.plerl_error_free(&cerr)
		}
	}
	for _, pc := range cursors {
		if pc.life != nil {
			delete(liveCursors, pc.life)
			if pc.life.gone() {
				continue // a rollback dropped its portal; the name may be another's now
			}
		}
		if pc.gen != 0 && pc.gen != xactGeneration() {
			continue // its portal ended with its transaction; the name may be another's now
		}
		cname := C.CString(pc.name)
		if C.plerl_spi_cursor_close(cname, &cerr) != 0 {
			C.plerl_error_free(&cerr)
		}
		C.free(unsafe.Pointer(cname))
	}
}

func (host) SPIAtomic() bool { return C.plerl_spi_is_atomic() != 0 }

func (host) SPITransaction(op int) error {
	var cerr C.PlerlError
	if C.plerl_spi_transaction(C.int32_t(op), &cerr) != 0 {
		return guardError(&cerr)
	}
	return nil
}

func (host) SPIPrepare(s *pl.State, sql string, types []string, opts pl.PlanOptions) (pl.Plan, error) {
	drainPending()
	flags := 0
	if opts.Keep {
		flags |= C.PLERL_PLAN_KEEP
	}
	if opts.Scroll {
		flags |= C.PLERL_PLAN_SCROLL
	}
	if opts.FastStart {
		flags |= C.PLERL_PLAN_FAST_START
	}
	if opts.CustomPlan {
		flags |= C.PLERL_PLAN_CUSTOM
	}
	if opts.GenericPlan {
		flags |= C.PLERL_PLAN_GENERIC
	}
	if opts.NoScroll {
		flags |= C.PLERL_PLAN_NO_SCROLL
	}
	if opts.Hold {
		flags |= C.PLERL_PLAN_HOLD
	}
	p, err := prepare(sql, types, flags)
	if err != nil {
		return nil, err
	}
	p.hold = opts.Hold
	p.fetch = opts.FetchCount
	if p.fetch <= 0 {
		p.fetch = pl.DefaultFetchCount
	}
	return p, nil
}

func prepare(sql string, types []string, flags int) (*spiPlan, error) {
	csql, err := cText("query", sql)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(csql))
	var ctypes **C.char
	if len(types) > 0 {
		for _, t := range types {
			if err := checkText("type name", t); err != nil {
				return nil, err
			}
		}
		arr := unsafe.Slice((**C.char)(C.malloc(C.size_t(len(types))*C.size_t(unsafe.Sizeof(uintptr(0))))), len(types))
		for i, t := range types {
			arr[i] = C.CString(t)
		}
		defer func() {
			for _, p := range arr {
				C.free(unsafe.Pointer(p))
			}
			C.free(unsafe.Pointer(&arr[0]))
		}()
		ctypes = &arr[0]
	}
	var cp *C.PlerlPlan
	var cerr C.PlerlError
	if C.plerl_spi_prepare(csql, C.int32_t(len(types)), ctypes, C.int32_t(flags), &cp, &cerr) != 0 {
		return nil, guardError(&cerr)
	}
	p := &spiPlan{p: cp, nparams: int(cp.nparams), kept: flags&C.PLERL_PLAN_KEEP != 0, isCall: cp.is_call != 0}
	if p.nparams > 0 {
		infos := unsafe.Slice(cp.types, p.nparams)
		names := unsafe.Slice(cp.typenames, p.nparams)
		p.infos = make([]*C.PlerlTypeInfo, p.nparams)
		p.types = make([]string, p.nparams)
		for i := range infos {
			p.infos[i] = (*C.PlerlTypeInfo)(unsafe.Pointer(infos[i]))
			if names[i] != nil { // nil: a parameter the query never uses
				p.types[i] = C.GoString(names[i])
			}
		}
	}
	if p.kept {
		p.cleanup = runtime.AddCleanup(p, queuePlan, cp)
	}
	return p, nil
}

// bind converts the arguments for the plan's parameter types. The values
// hold malloc'd memory that the C guard consumes.
func bind(s *pl.State, p *spiPlan, args []lua.LValue) ([]C.PlerlValue, error) {
	if len(args) == 0 {
		return nil, nil
	}
	vals := make([]C.PlerlValue, len(args))
	for i, a := range args {
		if p.infos[i] == nil {
			continue // a parameter the query never uses: NULL, whatever a is
		}
		if err := luaToType(s, a, p.infos[i], &vals[i]); err != nil {
			freeValues(vals[:i+1])
			return nil, pl.Errorf(sqlstate.DatatypeMismatch, "argument %d of the query (%s): %s", i+1, p.types[i], err.Error())
		}
	}
	return vals, nil
}

func freeValues(vals []C.PlerlValue) {
	for i := range vals {
		C.plerl_value_free(&vals[i])
	}
}

// planFor returns q's plan, or prepares a one-shot plan for its SQL (to be
// freed by the caller: its parameter types are inferred, its values bound).
func planFor(q pl.Query) (*spiPlan, bool, error) {
	if q.Plan != nil {
		p := q.Plan.(*spiPlan)
		if p.p == nil {
			return nil, false, pl.Errorf(sqlstate.InvalidParameterValue, "the plan was freed")
		}
		return p, false, nil
	}
	p, err := prepare(q.SQL, nil, 0)
	return p, true, err
}

func (host) SPIExecute(s *pl.State, q pl.Query, args []lua.LValue, limit int64) (*pl.Result, error) {
	drainPending()
	var rows C.PlerlRows
	var cerr C.PlerlError
	if q.Plan == nil && len(args) == 0 {
		// No parameters: SPI_execute, which also runs several statements.
		csql, err := cText("query", q.SQL)
		if err != nil {
			return nil, err
		}
		rc := C.plerl_spi_execute(nil, csql, nil, 0, C.int64_t(limit), &rows, &cerr)
		C.free(unsafe.Pointer(csql))
		if rc != 0 {
			return nil, guardError(&cerr)
		}
	} else {
		var p *spiPlan
		var done func() error
		if q.Plan != nil {
			var err error
			if p, _, err = planFor(q); err != nil {
				return nil, err
			}
			done = func() error { return nil }
		} else {
			// Text with arguments: a saved plan from the backend's cache.
			var err error
			if p, done, err = cachedPlan(q.SQL); err != nil {
				return nil, err
			}
		}
		if len(args) != p.nparams {
			done()
			return nil, pl.Errorf(sqlstate.InvalidParameterValue, "the query has %d parameters, %d values given", p.nparams, len(args))
		}
		vals, err := bind(s, p, args)
		if err != nil {
			done()
			return nil, err
		}
		var vp *C.PlerlValue
		if len(vals) > 0 {
			vp = &vals[0]
		}
		rc := C.plerl_spi_execute(p.p, nil, vp, C.int32_t(len(vals)), C.int64_t(limit), &rows, &cerr)
		runtime.KeepAlive(vals)
		if ferr := done(); ferr != nil && rc == 0 {
			freeRows(&rows)
			return nil, ferr
		}
		if rc != 0 {
			return nil, guardError(&cerr)
		}
	}
	processed := int64(rows.processed)
	t, err := takeRows(s, &rows)
	if err != nil {
		return nil, err
	}
	return &pl.Result{Rows: t, Processed: processed}, nil
}

func (host) SPIOpen(s *pl.State, q pl.Query, args []lua.LValue, name string) (pl.Cursor, error) {
	drainPending()
	p, oneshot, err := planFor(q)
	if err != nil {
		return nil, err
	}
	if oneshot {
		// The portal keeps its own copy of an unkept plan.
		defer p.Free()
	}
	if len(args) != p.nparams {
		return nil, pl.Errorf(sqlstate.InvalidParameterValue, "the query has %d parameters, %d values given", p.nparams, len(args))
	}
	vals, err := bind(s, p, args)
	if err != nil {
		return nil, err
	}
	var vp *C.PlerlValue
	if len(vals) > 0 {
		vp = &vals[0]
	}
	var want *C.char
	if name != "" {
		if want, err = cText("cursor name", name); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(want))
	}
	var cname *C.char
	var subid C.uint32_t
	var cerr C.PlerlError
	rc := C.plerl_spi_cursor_open(p.p, vp, C.int32_t(len(vals)), want, &cname, &subid, &cerr)
	runtime.KeepAlive(vals)
	if rc != 0 {
		return nil, guardError(&cerr)
	}
	c := &spiCursor{name: C.GoString(cname), owned: true, seen: stateEpoch()}
	if !p.hold {
		c.gen = xactGeneration()
	}
	C.free(unsafe.Pointer(cname))
	c.life = &cursorLife{gen: c.gen, subid: uint32(subid)}
	liveCursors[c.life] = struct{}{}
	c.cleanup = runtime.AddCleanup(c, queueCursor, c.pending())
	return c, nil
}

// takeRows converts SPI rows to a Lua table of row tables and frees them.
func takeRows(s *pl.State, rows *C.PlerlRows) (*lua.LTable, error) {
	t, err := rowsToLua(s, rows)
	if ferr := freeRows(rows); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

func freeRows(rows *C.PlerlRows) error {
	var cerr C.PlerlError
	if C.plerl_spi_rows_free(rows, &cerr) != 0 {
		return guardError(&cerr)
	}
	return nil
}

// Column names by descriptor id: a trigger's table keeps its id across
// calls, so its names are read from C once. Only the backend's goroutine
// uses this.
type colNameSet struct {
	names  []string
	lnames []lua.LString
	sh     *pl.TableShape // the row tables' shape, made on first use
}

// shape is the shape of row tables of these columns.
func (set *colNameSet) shape() *pl.TableShape {
	if set.sh == nil {
		set.sh = pl.NewTableShape(set.names)
	}
	return set.sh
}

var colNames = map[int64]*colNameSet{}

func columnNames(r *C.PlerlRows) []string {
	names, _ := columnNamesL(r)
	return names
}

// columnNamesL also gives the names as Lua strings.
func columnNamesL(r *C.PlerlRows) ([]string, []lua.LString) {
	set := columnSet(r)
	return set.names, set.lnames
}

// columnSet: the column names of rows (cached by descriptor id).
func columnSet(r *C.PlerlRows) *colNameSet {
	n := int(r.ncols)
	id := int64(r.desc_id)
	if set, ok := colNames[id]; ok && id != 0 && len(set.names) == n {
		return set
	}
	set := &colNameSet{names: make([]string, n), lnames: make([]lua.LString, n)}
	if n > 0 {
		for i, p := range unsafe.Slice(r.names, n) {
			if p != nil {
				set.names[i] = C.GoString(p)
				set.lnames[i] = lua.LString(set.names[i])
			}
		}
	}
	if id != 0 {
		if len(colNames) > 512 {
			clear(colNames)
		}
		colNames[id] = set
	}
	return set
}

// rowsToLua makes a table of rows, each a table by column name (a NULL
// column is absent).
func rowsToLua(s *pl.State, r *C.PlerlRows) (*lua.LTable, error) {
	n := int(r.nrows)
	// One string key: rows.n. Unsized, gopher-lua's first RawSetString
	// makes a map for 32 keys (about 2 kB to allocate and clear), which
	// was a tenth of a one-row spi.execute.
	out := s.L.CreateTable(n, 1)
	if n == 0 || r.ncols == 0 {
		return out, nil
	}
	set := columnSet(r)
	names, sh := set.names, set.shape()
	nc := len(names)
	vals := unsafe.Slice(r.values, n*nc)
	mt := s.RowMeta(int32(r.type_handle))
	for i := 0; i < n; i++ {
		row, err := rowToLua(s, sh, vals[i*nc:(i+1)*nc], nil, mt)
		if err != nil {
			return nil, err
		}
		out.RawSetInt(i+1, row)
	}
	return out, nil
}

// rowToLua makes one row table; orig, if not nil, receives each column's
// Lua value; mt, if not nil, is its metatable (pl.State.RowMeta: shared
// by the rows of one type).
// sh is the shape of the row tables of these columns (colNameSet.shape).
func rowToLua(s *pl.State, sh *pl.TableShape, vals []C.PlerlValue, orig []lua.LValue, mt *lua.LTable) (*lua.LTable, error) {
	return rowToLuaInto(s, sh, vals, orig, mt, nil)
}

// rowToLuaInto is rowToLua filling reuse (a table this shape made for an
// earlier row that nothing else refers to) when it is still of the shape
// (TableShape.Refill), else a new table.
func rowToLuaInto(s *pl.State, sh *pl.TableShape, vals []C.PlerlValue, orig []lua.LValue, mt *lua.LTable,
	reuse *lua.LTable) (*lua.LTable, error) {
	row := reuse
	if !sh.Refill(reuse, mt) {
		row = sh.New(s.L, mt)
	}
	for c, name := range sh.Names {
		if name == "" {
			continue
		}
		v := &vals[c]
		if v.kind == C.PLV_NULL {
			if orig != nil {
				orig[c] = lua.LNil
			}
			continue
		}
		lv, err := valueToLua(s, v)
		if err != nil {
			return nil, pl.Errorf(sqlstate.DatatypeMismatch, "column %q: %s", name, err.Error())
		}
		sh.Set(row, name, lv)
		if orig != nil {
			orig[c] = lv
		}
	}
	return row, nil
}

// rowFromLua fills out[] (one value per column) from a row table by column
// name. strict refuses fields that are no column (a typo in a trigger
// would otherwise vanish silently). Only columns with want[c] (all when
// nil) are converted.
func rowFromLua(s *pl.State, t *lua.LTable, names []string, types []*C.PlerlTypeInfo, want []bool,
	out []C.PlerlValue, strict bool, relname string) error {
	L := s.L
	plain := L.GetMetatable(t) == lua.LNil
	for c, name := range names {
		if name == "" || (want != nil && !want[c]) {
			continue
		}
		var v lua.LValue
		if plain {
			v = t.RawGetString(name)
		} else {
			v = L.GetField(t, name)
		}
		if v == s.Null() {
			v = lua.LNil
		}
		if err := luaToType(s, v, types[c], &out[c]); err != nil {
			freeValues(out[:c+1])
			return columnError(err, name)
		}
	}
	if strict {
		var bad string
		t.ForEach(func(k, _ lua.LValue) {
			if bad != "" {
				return
			}
			ks, ok := k.(lua.LString)
			if !ok {
				bad = k.String()
				return
			}
			for _, name := range names {
				if name != "" && name == string(ks) {
					return
				}
			}
			bad = string(ks)
		})
		if bad != "" {
			freeValues(out)
			return pl.Errorf(sqlstate.UndefinedColumn, "column %q of relation %q does not exist", bad, relname)
		}
	}
	return nil
}

// columnError says which column a conversion error is about.
func columnError(err error, name string) error {
	if e, ok := err.(*pl.Error); ok {
		e2 := *e
		e2.Message = fmt.Sprintf("column %q: %s", name, e.Message)
		return &e2
	}
	return pl.Errorf(sqlstate.DatatypeMismatch, "column %q: %s", name, err.Error())
}

// infosOf views the column types of rows (C memory, valid for the call).
func infosOf(r *C.PlerlRows) []*C.PlerlTypeInfo { return infosInto(nil, r) }

// infosInto is infosOf into buf when it is long enough.
func infosInto(buf []*C.PlerlTypeInfo, r *C.PlerlRows) []*C.PlerlTypeInfo {
	n := int(r.ncols)
	var out []*C.PlerlTypeInfo
	if cap(buf) >= n {
		out = buf[:n]
		clear(out)
	} else {
		out = make([]*C.PlerlTypeInfo, n)
	}
	if n > 0 && r.types != nil {
		for i, t := range unsafe.Slice(r.types, n) {
			out[i] = (*C.PlerlTypeInfo)(unsafe.Pointer(t))
		}
	}
	return out
}
