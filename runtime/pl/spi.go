// SPI: the spi module Lua sees: queries with bound parameters, prepared
// statements kept across calls, cursors and row iterators, commit and
// rollback.
package pl

import (
	"fmt"
	"weak"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// SPI is what the spi module needs from the backend. The handler implements
// it with the C guards of handler/spi.c. Rows come back as Lua tables made
// in the calling state, one table per row keyed by column name (a NULL
// column is absent, so it reads as nil).
type SPI interface {
	// SPIExecute runs q once with args bound by the parameter types; a
	// limit > 0 caps the rows.
	SPIExecute(s *State, q Query, args []lua.LValue, limit int64) (*Result, error)
	// SPIPrepare parses and plans sql. types gives the SQL types of the
	// first parameters; PostgreSQL infers the others from the query.
	SPIPrepare(s *State, sql string, types []string, opts PlanOptions) (Plan, error)
	// SPIOpen opens a cursor for q with args bound, named name (a name
	// PostgreSQL makes up when it is "").
	SPIOpen(s *State, q Query, args []lua.LValue, name string) (Cursor, error)
	// SPICursor is the portal of that name, open or not (a cursor made
	// this way never closes itself when Lua drops it).
	SPICursor(name string) Cursor
	// SPITransaction commits or rolls back (TxCommit or TxRollback, | TxChain).
	SPITransaction(op int) error
	// SPIAtomic reports whether transaction control is impossible here.
	SPIAtomic() bool
}

// Transaction operations for SPITransaction (mirrored by the C guard).
const (
	TxCommit   = 1
	TxRollback = 2
	TxChain    = 4
)

// Query is SQL text or a prepared plan.
type Query struct {
	SQL  string
	Plan Plan
}

// Result is what one statement returned.
type Result struct {
	Rows      *lua.LTable // rows at 1..#Rows
	Processed int64       // rows returned, or rows a DML statement affected
}

// Plan is a prepared statement.
type Plan interface {
	NumParams() int
	ParamType(i int) string // SQL name of parameter i+1's type ("": the query never uses it)
	FetchCount() int        // rows per fetch for rows() iterators
	Free() error            // idempotent
}

// Cursor is a portal, known by name.
type Cursor interface {
	Name() string
	// Fetch returns up to n rows forward (an empty table at the end).
	Fetch(s *State, n int64) (*lua.LTable, error)
	// FetchDir fetches as FETCH does in direction dir (FetchForward..).
	FetchDir(s *State, dir int, n int64) (*lua.LTable, error)
	// Move moves as MOVE does and reports the rows passed over.
	Move(dir int, n int64) (int64, error)
	// IsOpen reports whether the portal is still there.
	IsOpen() (bool, error)
	Close() error // idempotent
	// SetOwned decides whether the portal is closed when Lua drops the
	// cursor (c:own()) or left to its transaction (c:disown()).
	SetOwned(owned bool)
}

// Cursor directions (mirrored by the C guards).
const (
	FetchForward  = 0
	FetchBackward = 1
	FetchAbsolute = 2
	FetchRelative = 3
)

// PlanOptions are spi.prepare's options.
type PlanOptions struct {
	Keep        bool // outlive the call (spi.prepare always keeps)
	Scroll      bool
	NoScroll    bool // pllua's no_scroll: cursors of the plan never go backward
	Hold        bool // cursors of the plan outlive their transaction (WITH HOLD)
	FastStart   bool
	CustomPlan  bool
	GenericPlan bool
	FetchCount  int
}

// DefaultFetchCount is how many rows a rows() iterator fetches at a time.
const DefaultFetchCount = 100

const (
	planMetaName   = "spi.plan"
	cursorMetaName = "spi.cursor"
)

func (s *State) spi() SPI {
	sp, ok := s.e.host.(SPI)
	if !ok {
		s.L.RaiseError("spi is not available here")
	}
	return sp
}

func (s *State) installSPI() {
	L := s.L
	mod := L.CreateTable(0, 24)
	fns := map[string]lua.LGFunction{
		"execute":       s.spiExecute,
		"execute_count": s.spiExecuteCount,
		"prepare":       s.spiPrepare,
		"rows":          s.spiRows,
		"cursor":        s.spiCursor,
		"newcursor":     s.spiNewCursor,
		"findcursor":    s.spiFindCursor,
		"commit":        func(L *lua.LState) int { return s.spiTx(L, TxCommit) },
		"rollback":      func(L *lua.LState) int { return s.spiTx(L, TxRollback) },
		"commit_and_chain": func(L *lua.LState) int {
			return s.spiTx(L, TxCommit|TxChain)
		},
		"rollback_and_chain": func(L *lua.LState) int {
			return s.spiTx(L, TxRollback|TxChain)
		},
		"is_atomic": func(L *lua.LState) int {
			L.Push(lua.LBool(s.spi().SPIAtomic()))
			return 1
		},
	}
	for name, fn := range fns {
		mod.RawSetString(name, L.NewFunction(fn))
	}
	s.installSPIElog(mod) // spi_elog.go
	L.SetGlobal("spi", mod)
	s.lazyTypeMeta(planMetaName, s.buildPlanMeta)
	s.lazyTypeMeta(cursorMetaName, s.buildCursorMeta)
}

func (s *State) buildPlanMeta() {
	L := s.L
	pmt := newTypeMeta(L, planMetaName, 4)
	pmethods := L.CreateTable(0, 8)
	for name, fn := range map[string]lua.LGFunction{
		"execute":       s.planExecute,
		"execute_count": s.planExecuteCount,
		"rows":          s.planRows,
		"cursor":        s.planCursor,
		"getcursor":     s.planCursor, // pllua's name
		"free":          s.planFree,
		"numargs":       s.planNumArgs,
		"argtype":       s.planArgType,
	} {
		pmethods.RawSetString(name, L.NewFunction(fn))
	}
	pmt.RawSetString("__index", pmethods)
	// stmt(args...) is stmt:execute(args...), as in pllua.
	pmt.RawSetString("__call", L.NewFunction(s.planExecute))
	pmt.RawSetString("__name", lua.LString(planMetaName))
	pmt.RawSetString("__metatable", lua.LString(planMetaName))
	pmt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(planMetaName))
		return 1
	}))
}

func (s *State) buildCursorMeta() {
	L := s.L
	cmt := newTypeMeta(L, cursorMetaName, 4)
	cmethods := L.CreateTable(0, 8)
	for name, fn := range map[string]lua.LGFunction{
		"fetch":  s.cursorFetch,
		"move":   s.cursorMove,
		"open":   s.cursorOpen,
		"isopen": s.cursorIsOpen,
		"close":  s.cursorClose,
		"name":   s.cursorName,
		"rows":   s.cursorRows,
		"own":    func(L *lua.LState) int { return s.cursorOwn(L, true) },
		"disown": func(L *lua.LState) int { return s.cursorOwn(L, false) },
	} {
		cmethods.RawSetString(name, L.NewFunction(fn))
	}
	cmt.RawSetString("__index", cmethods)
	cmt.RawSetString("__name", lua.LString(cursorMetaName))
	cmt.RawSetString("__metatable", lua.LString(cursorMetaName))
	cmt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		c := s.checkCursor(L, 1)
		L.Push(lua.LString(cursorMetaName + " " + c.name))
		return 1
	}))
}

type planBox struct {
	p     Plan
	freed bool
}

// cursorBox is a Lua cursor: c is nil until it is opened (spi.newcursor)
// or when it names a portal it did not open (spi.findcursor, a refcursor).
type cursorBox struct {
	c      Cursor
	name   string
	closed bool // by c:close()
	// owned: what c:own() or c:disown() said before the cursor was
	// opened (0: nothing, 1: own, -1: disown), applied when it opens.
	owned int8
}

func (s *State) checkPlan(L *lua.LState, n int) *planBox {
	ud := L.CheckUserData(n)
	pb, ok := ud.Value.(*planBox)
	if !ok {
		L.ArgError(n, "spi.plan expected")
	}
	if pb.freed {
		L.ArgError(n, "the plan was freed")
	}
	return pb
}

func (s *State) checkCursor(L *lua.LState, n int) *cursorBox {
	ud := L.CheckUserData(n)
	cb, ok := ud.Value.(*cursorBox)
	if !ok {
		L.ArgError(n, "spi.cursor expected")
	}
	return cb
}

// query reads argument n: SQL text or a plan.
func (s *State) query(L *lua.LState, n int) Query {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return Query{SQL: string(v)}
	case *lua.LUserData:
		if pb, ok := v.Value.(*planBox); ok {
			if pb.freed {
				L.ArgError(n, "the plan was freed")
			}
			return Query{Plan: pb.p}
		}
	}
	L.ArgError(n, "SQL text or spi.plan expected")
	return Query{}
}

// args collects the values from index n to the top (nils included).
func args(L *lua.LState, n int) []lua.LValue {
	top := L.GetTop()
	if top < n {
		return nil
	}
	out := make([]lua.LValue, 0, top-n+1)
	for i := n; i <= top; i++ {
		out = append(out, L.Get(i))
	}
	return out
}

func (s *State) checkArgCount(L *lua.LState, q Query, got int) {
	if q.Plan != nil && q.Plan.NumParams() != got {
		L.RaiseError("the statement takes %d arguments, %d given", q.Plan.NumParams(), got)
	}
}

// execute runs q and returns its rows table with n set.
func (s *State) execute(L *lua.LState, q Query, a []lua.LValue, limit int64) int {
	s.checkArgCount(L, q, len(a))
	res, err := s.spi().SPIExecute(s, q, a, limit)
	if err != nil {
		s.raise(err)
	}
	rows := res.Rows
	if rows == nil {
		rows = L.CreateTable(0, 1) // for rows.n (NewTable would size 32+32)
	}
	rows.RawSetString("n", lua.LNumber(res.Processed))
	L.Push(rows)
	return 1
}

// spi.execute(sql_or_plan, args...) -> rows (rows[i] by column name, rows.n)
func (s *State) spiExecute(L *lua.LState) int {
	return s.execute(L, s.query(L, 1), args(L, 2), 0)
}

// spi.execute_count(sql_or_plan, maxrows, args...)
func (s *State) spiExecuteCount(L *lua.LState) int {
	q := s.query(L, 1)
	n := L.CheckInt64(2)
	if n < 0 {
		L.ArgError(2, "maxrows must not be negative")
	}
	return s.execute(L, q, args(L, 3), n)
}

// prepareOptions are the options spi.prepare knows, with their types.
var prepareOptions = map[string]lua.LValueType{"scroll": lua.LTBool, "no_scroll": lua.LTBool, "fast_start": lua.LTBool,
	"custom_plan": lua.LTBool, "generic_plan": lua.LTBool, "fetch_count": lua.LTNumber, "hold": lua.LTBool}

// spi.prepare(sql [, {types}] [, {options}]) -> plan
func (s *State) spiPrepare(L *lua.LState) int {
	sql := L.CheckString(1)
	var types []string
	if t, ok := L.Get(2).(*lua.LTable); ok {
		n := t.Len()
		for i := 1; i <= n; i++ {
			e := t.RawGetInt(i)
			if ud, ok := e.(*lua.LUserData); ok {
				if pt, ok := ud.Value.(pgType); ok { // pgtype's type objects name their type
					types = append(types, s.pgTypeName(pt))
					continue
				}
			}
			v, ok := e.(lua.LString)
			if !ok {
				L.ArgError(2, "type names must be strings or pgtype types")
			}
			types = append(types, string(v))
		}
	} else if L.Get(2) != lua.LNil {
		L.ArgError(2, "a table of type names expected")
	}
	opts := PlanOptions{Keep: true, FetchCount: DefaultFetchCount}
	if o, ok := L.Get(3).(*lua.LTable); ok {
		if bad := optionsError(s, o, prepareOptions); bad != nil {
			s.raise(&Error{Kind: KindError, SQLState: sqlstate.InvalidParameterValue,
				Message: fmt.Sprintf("%sbad argument #3 to spi.prepare (%v)", where(L), bad)})
		}
		opts.Scroll = lua.LVAsBool(o.RawGetString("scroll"))
		// scroll = false is no_scroll, as in pllua (neither lets PostgreSQL choose).
		opts.NoScroll = lua.LVAsBool(o.RawGetString("no_scroll")) || o.RawGetString("scroll") == lua.LFalse
		if opts.Scroll && opts.NoScroll {
			s.badArg(L, 3, "prepare", "scroll and no_scroll exclude each other")
		}
		opts.FastStart = lua.LVAsBool(o.RawGetString("fast_start"))
		opts.CustomPlan = lua.LVAsBool(o.RawGetString("custom_plan"))
		opts.GenericPlan = lua.LVAsBool(o.RawGetString("generic_plan"))
		opts.Hold = lua.LVAsBool(o.RawGetString("hold"))
		if fc, ok := o.RawGetString("fetch_count").(lua.LNumber); ok {
			if fc < 1 || fc != lua.LNumber(int(fc)) {
				s.badArg(L, 3, "prepare", "fetch_count must be at least 1 (and whole)")
			}
			opts.FetchCount = int(fc)
		}
	} else if L.Get(3) != lua.LNil {
		L.ArgError(3, "a table of options expected")
	}
	p, err := s.spi().SPIPrepare(s, sql, types, opts)
	if err != nil {
		s.raise(err)
	}
	ud := L.NewUserData()
	ud.Value = &planBox{p: p}
	L.SetMetatable(ud, s.metaOf(planMetaName))
	L.Push(ud)
	return 1
}

func (s *State) planExecute(L *lua.LState) int {
	pb := s.checkPlan(L, 1)
	return s.execute(L, Query{Plan: pb.p}, args(L, 2), 0)
}

func (s *State) planExecuteCount(L *lua.LState) int {
	pb := s.checkPlan(L, 1)
	n := L.CheckInt64(2)
	if n < 0 {
		L.ArgError(2, "maxrows must not be negative")
	}
	return s.execute(L, Query{Plan: pb.p}, args(L, 3), n)
}

func (s *State) planFree(L *lua.LState) int {
	ud := L.CheckUserData(1)
	pb, ok := ud.Value.(*planBox)
	if !ok {
		L.ArgError(1, "spi.plan expected")
	}
	if !pb.freed {
		pb.freed = true
		if err := pb.p.Free(); err != nil {
			s.raise(err)
		}
	}
	return 0
}

func (s *State) planNumArgs(L *lua.LState) int {
	L.Push(lua.LNumber(s.checkPlan(L, 1).p.NumParams()))
	return 1
}

func (s *State) planArgType(L *lua.LState) int {
	pb := s.checkPlan(L, 1)
	i := L.CheckInt(2)
	if i < 1 || i > pb.p.NumParams() {
		L.ArgError(2, "no such argument")
	}
	if t := pb.p.ParamType(i - 1); t != "" {
		L.Push(lua.LString(t))
	} else {
		L.Push(lua.LNil) // a parameter the query never uses has no type
	}
	return 1
}

func (s *State) open(L *lua.LState, q Query, a []lua.LValue, name string) Cursor {
	s.checkArgCount(L, q, len(a))
	c, err := s.spi().SPIOpen(s, q, a, name)
	if err != nil {
		s.raise(err)
	}
	return c
}

func (s *State) pushCursor(L *lua.LState, c Cursor, name string) int {
	ud := s.cursorValue(c, name)
	if c != nil {
		s.cursorObjs.remember(name, ud)
	}
	L.Push(ud)
	return 1
}

// cursorObjects are the Lua objects of the cursors Lua opened or found,
// by portal name, so spi.findcursor and spi.newcursor give the object
// already there (rawequal), as in pllua. The references are weak: an
// object Lua dropped is collected (and its owned portal closed) as
// before. An entry whose object is gone or closed is dropped when looked
// up, and all such entries when the table has doubled since the last
// sweep. A portal is known by name: an object whose portal closed (with
// its transaction) stands for a later portal of the same name, as any
// cursor object does.
type cursorObjects struct {
	m     map[string]weak.Pointer[lua.LUserData]
	sweep int // the size at which to sweep next
}

func (co *cursorObjects) remember(name string, ud *lua.LUserData) {
	if name == "" {
		return
	}
	if co.m == nil {
		co.m = make(map[string]weak.Pointer[lua.LUserData])
	}
	if len(co.m) >= co.sweep {
		for n, wp := range co.m {
			if liveCursor(wp.Value()) == nil {
				delete(co.m, n)
			}
		}
		co.sweep = max(64, 2*len(co.m))
	}
	co.m[name] = weak.Make(ud)
}

// find is the object remembered for name, if it is still there and not
// closed (whether its portal is open is the caller's question).
func (co *cursorObjects) find(name string) (*lua.LUserData, Cursor) {
	wp, ok := co.m[name]
	if !ok {
		return nil, nil
	}
	ud := wp.Value()
	cb := liveCursor(ud)
	if cb == nil || cb.name != name {
		delete(co.m, name)
		return nil, nil
	}
	return ud, cb.c
}

func liveCursor(ud *lua.LUserData) *cursorBox {
	if ud == nil {
		return nil
	}
	cb, ok := ud.Value.(*cursorBox)
	if !ok || cb.c == nil || cb.closed {
		return nil
	}
	return cb
}

// openCursorObject is the object of the open portal name: the one Lua
// already holds, or a new one (nil when no such portal is open).
func (s *State) openCursorObject(name string) *lua.LUserData {
	if ud, c := s.cursorObjs.find(name); ud != nil {
		open, err := c.IsOpen()
		if err != nil {
			s.raise(err)
		}
		if open {
			return ud
		}
	}
	c := s.spi().SPICursor(name)
	open, err := c.IsOpen()
	if err != nil {
		s.raise(err)
	}
	if !open {
		return nil
	}
	ud := s.cursorValue(c, name)
	s.cursorObjs.remember(name, ud)
	return ud
}

func (s *State) cursorValue(c Cursor, name string) *lua.LUserData {
	ud := s.L.NewUserData()
	ud.Value = &cursorBox{c: c, name: name}
	s.L.SetMetatable(ud, s.metaOf(cursorMetaName))
	return ud
}

// RefCursor is a refcursor value in Lua: a cursor object for the portal of
// that name, open or not.
func (s *State) RefCursor(name string) lua.LValue {
	return s.cursorValue(s.spi().SPICursor(name), name)
}

// CursorName is the portal name of a cursor object (ok false for anything
// else, or for a cursor never opened and never named).
func CursorName(v lua.LValue) (string, bool) {
	ud, ok := v.(*lua.LUserData)
	if !ok {
		return "", false
	}
	cb, ok := ud.Value.(*cursorBox)
	if !ok || cb.name == "" {
		return "", false
	}
	return cb.name, true
}

// spi.cursor(sql_or_plan, args...) -> an open cursor
func (s *State) spiCursor(L *lua.LState) int {
	q := s.query(L, 1)
	c := s.open(L, q, args(L, 2), "")
	return s.pushCursor(L, c, c.Name())
}

func (s *State) planCursor(L *lua.LState) int {
	pb := s.checkPlan(L, 1)
	c := s.open(L, Query{Plan: pb.p}, args(L, 2), "")
	return s.pushCursor(L, c, c.Name())
}

// spi.newcursor([name]) -> the cursor of that name if a portal is open,
// else a cursor to open with c:open(...)
func (s *State) spiNewCursor(L *lua.LState) int {
	name := L.OptString(1, "")
	if name != "" {
		if ud := s.openCursorObject(name); ud != nil {
			L.Push(ud)
			return 1
		}
	}
	return s.pushCursor(L, nil, name)
}

// spi.findcursor(name) -> the cursor of an open portal, or nil
func (s *State) spiFindCursor(L *lua.LState) int {
	name := L.CheckString(1)
	if ud := s.openCursorObject(name); ud != nil {
		L.Push(ud)
	} else {
		L.Push(lua.LNil)
	}
	return 1
}

// c:open(sql_or_plan, args...) -> c
func (s *State) cursorOpen(L *lua.LState) int {
	cb := s.checkCursor(L, 1)
	q := s.query(L, 2)
	if cb.c != nil && !cb.closed {
		if open, err := cb.c.IsOpen(); err != nil {
			s.raise(err)
		} else if open {
			s.raise(&Error{Kind: KindError, SQLState: sqlstate.DuplicateCursor,
				Message: fmt.Sprintf("cursor %q is already open", cb.name)})
		}
	}
	c := s.open(L, q, args(L, 3), cb.name)
	if cb.owned != 0 {
		c.SetOwned(cb.owned > 0)
	}
	cb.c, cb.name, cb.closed = c, c.Name(), false
	s.cursorObjs.remember(cb.name, L.CheckUserData(1))
	L.Push(L.Get(1))
	return 1
}

// c:own(), c:disown() -> c: whether dropping c closes its portal. A
// cursor Lua opened is owned; one found by name is not. A disowned
// portal lives until it is closed or its transaction ends, so a function
// can return it as a refcursor.
func (s *State) cursorOwn(L *lua.LState, owned bool) int {
	cb := s.checkCursor(L, 1)
	if L.GetTop() > 1 {
		s.badArg(L, 2, map[bool]string{true: "cursor:own", false: "cursor:disown"}[owned], "no argument expected")
	}
	cb.owned = -1
	if owned {
		cb.owned = 1
	}
	if cb.c != nil && !cb.closed {
		cb.c.SetOwned(owned)
	}
	L.Push(L.Get(1))
	return 1
}

// c:rows() -> an iterator over the rows left in the cursor, fetched one
// at a time so the cursor is on the loop's row (UPDATE ... WHERE CURRENT
// OF works); the cursor stays open when they run out (c:move can go back).
func (s *State) cursorRows(L *lua.LState) int {
	cb := s.checkCursor(L, 1)
	c := s.openCursor(L, cb)
	if L.GetTop() > 1 {
		s.badArg(L, 2, "cursor:rows", "no argument expected")
	}
	return s.iterateOpen(L, c, 1, false)
}

// openCursor is cb's cursor, or an error if it was never opened.
func (s *State) openCursor(L *lua.LState, cb *cursorBox) Cursor {
	if cb.c == nil || cb.closed {
		s.raise(&Error{Kind: KindError, SQLState: sqlstate.InvalidCursorName,
			Message: "the cursor is closed"})
	}
	return cb.c
}

// directions are pllua's fetch and move directions: the SQL direction and
// whether the count applies (first and last take one row; next and prior
// are forward and backward, as in pllua).
var directions = map[string]struct {
	dir   int
	count int64 // the fixed count, or 0: the argument
	fixed bool
}{
	"next":     {FetchForward, 0, false},
	"prior":    {FetchBackward, 0, false},
	"first":    {FetchAbsolute, 1, true},
	"last":     {FetchAbsolute, -1, true},
	"forward":  {FetchForward, 0, false},
	"backward": {FetchBackward, 0, false},
	"absolute": {FetchAbsolute, 0, false},
	"relative": {FetchRelative, 0, false},
}

// direction reads (n, dir) at arguments 2 and 3.
func (s *State) direction(L *lua.LState, fn string) (int, int64) {
	n := L.OptInt64(2, 1)
	name := L.OptString(3, "forward")
	d, ok := directions[name]
	if !ok {
		s.badArg(L, 3, fn, fmt.Sprintf("unknown direction %q (next, prior, first, last, forward, backward, absolute, relative)", name))
	}
	if d.fixed {
		return d.dir, d.count
	}
	if (d.dir == FetchForward || d.dir == FetchBackward) && n < 0 {
		s.badArg(L, 2, fn, "count must not be negative")
	}
	return d.dir, n
}

// c:fetch([n [, direction]]) -> rows (forward 1 by default)
func (s *State) cursorFetch(L *lua.LState) int {
	cb := s.checkCursor(L, 1)
	c := s.openCursor(L, cb)
	dir, n := s.direction(L, "cursor:fetch")
	rows, err := c.FetchDir(s, dir, n)
	if err != nil {
		s.raise(err)
	}
	L.Push(rows)
	return 1
}

// c:move([n [, direction]]) -> rows passed over
func (s *State) cursorMove(L *lua.LState) int {
	cb := s.checkCursor(L, 1)
	c := s.openCursor(L, cb)
	dir, n := s.direction(L, "cursor:move")
	moved, err := c.Move(dir, n)
	if err != nil {
		s.raise(err)
	}
	L.Push(lua.LNumber(moved))
	return 1
}

func (s *State) cursorIsOpen(L *lua.LState) int {
	cb := s.checkCursor(L, 1)
	open := false
	if cb.c != nil && !cb.closed {
		var err error
		if open, err = cb.c.IsOpen(); err != nil {
			s.raise(err)
		}
	}
	L.Push(lua.LBool(open))
	return 1
}

func (s *State) cursorClose(L *lua.LState) int {
	cb := s.checkCursor(L, 1)
	if cb.c != nil && !cb.closed {
		cb.closed = true
		if err := cb.c.Close(); err != nil {
			s.raise(err)
		}
	}
	return 0
}

func (s *State) cursorName(L *lua.LState) int {
	cb := s.checkCursor(L, 1)
	if cb.name == "" {
		L.Push(lua.LNil)
	} else {
		L.Push(lua.LString(cb.name))
	}
	return 1
}

// rowIter feeds a generic for loop from a cursor, one batch at a time, so
// a large result never sits in memory whole. The cursor closes when the
// rows run out; a loop left early leaves it to the handler's cleanup (or
// the end of the transaction). A row fetched ahead is handed out only
// while the cursor is still open: the loop's body may have closed it
// (spi.commit, spi.rollback, c:close(), CLOSE in SQL), and what a loop
// sees must not depend on the batch size.
type rowIter struct {
	c     Cursor
	batch *lua.LTable
	next  int
	n     int
	fetch int64
	done  bool
	ahead bool // a row was handed out since the last fetch
}

// closedCursorError is what a loop over a cursor that was closed under it
// says (pllua's words, 34000 as any use of a closed cursor).
func closedCursorError(L *lua.LState) *Error {
	return &Error{Kind: KindError, SQLState: sqlstate.InvalidCursorName,
		Message: where(L) + "cannot iterate a closed cursor",
		Hint:    "A commit or rollback closes the cursors its transaction opened, unless the plan was prepared with {hold = true}."}
}

func (s *State) iterate(L *lua.LState, c Cursor, fetch int) int {
	return s.iterateOpen(L, c, fetch, true)
}

// iterateOpen is iterate; closeAtEnd false leaves the cursor open when the
// rows run out.
func (s *State) iterateOpen(L *lua.LState, c Cursor, fetch int, closeAtEnd bool) int {
	it := &rowIter{c: c, fetch: int64(fetch)}
	L.Push(L.NewFunction(func(L *lua.LState) int {
		for {
			if it.done {
				L.Push(lua.LNil)
				return 1
			}
			// Every row but the first after a fetch: is the cursor
			// still open? (Asked before a refill too, so the loop says
			// the same whatever the batch size; an error of the fetch
			// itself could not be caught by pcall.)
			if it.ahead {
				open, err := it.c.IsOpen()
				if err == nil && !open {
					err = closedCursorError(L)
				}
				if err != nil {
					it.done, it.batch = true, nil
					s.raise(err)
				}
			}
			if it.next < it.n {
				it.ahead = true
				it.next++
				L.Push(it.batch.RawGetInt(it.next))
				return 1
			}
			rows, err := it.c.Fetch(s, it.fetch)
			if err != nil {
				it.done = true
				s.raise(err)
			}
			it.batch, it.next, it.n, it.ahead = rows, 0, rows.Len(), false
			if it.n == 0 {
				it.done = true
				it.batch = nil
				if !closeAtEnd {
					continue
				}
				if err := it.c.Close(); err != nil {
					s.raise(err)
				}
			}
		}
	}))
	return 1
}

// spi.rows(sql_or_plan, args...) -> iterator over rows
func (s *State) spiRows(L *lua.LState) int {
	q := s.query(L, 1)
	fetch := DefaultFetchCount
	if q.Plan != nil {
		fetch = q.Plan.FetchCount()
	}
	return s.iterate(L, s.open(L, q, args(L, 2), ""), fetch)
}

func (s *State) planRows(L *lua.LState) int {
	pb := s.checkPlan(L, 1)
	c := s.open(L, Query{Plan: pb.p}, args(L, 2), "")
	return s.iterate(L, c, pb.p.FetchCount())
}

func (s *State) spiTx(L *lua.LState, op int) int {
	if err := s.spi().SPITransaction(op); err != nil {
		s.raise(err)
	}
	return 0
}
