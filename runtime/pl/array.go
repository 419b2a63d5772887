// array: SQL arrays of any dimension <-> nested Lua tables.
package pl

import (
	"math"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// MaxDims is PostgreSQL's MAXDIM.
const MaxDims = 6

// Array is an SQL array in row-major order; NULL elements are lua.LNil or
// the null sentinel. No dimensions means the empty array.
type Array struct {
	Dims    []int
	LBounds []int
	Elems   []lua.LValue
}

// ArrayTable builds the Lua form of an array: nested tables, one level per
// dimension, marked as arrays; NULL elements must already be the null
// sentinel. Lower bounds other than 1 are remembered by the outer table
// (ArrayFromLua restores them); Lua indexes still start at 1.
func (s *State) ArrayTable(dims, lbounds []int, elem func(i int) lua.LValue) *lua.LTable {
	return s.ArrayTableOf(0, dims, lbounds, elem)
}

// ArrayTableOf is ArrayTable for an array of the SQL type handle (see
// TypeHost): the outer table's tostring gives the array's SQL text.
func (s *State) ArrayTableOf(handle int32, dims, lbounds []int, elem func(i int) lua.LValue) *lua.LTable {
	top := s.ArrayMeta(handle)
	if len(dims) == 0 {
		t := s.L.CreateTable(0, 0)
		t.Metatable = top
		return t
	}
	next := 0
	var build func(d int) *lua.LTable
	build = func(d int) *lua.LTable {
		n := dims[d]
		t := s.L.CreateTable(n, 0)
		t.Metatable = s.arrayMT
		for i := 1; i <= n; i++ {
			if d == len(dims)-1 {
				t.RawSetInt(i, elem(next))
				next++
			} else {
				t.RawSetInt(i, build(d+1))
			}
		}
		return t
	}
	t := build(0)
	t.Metatable = top
	for _, lb := range lbounds {
		if lb != 1 {
			t.Metatable = s.lboundsMT(lbounds)
			if ts := top.RawGetString("__tostring"); ts != lua.LNil {
				t.Metatable.(*lua.LTable).RawSetString("__tostring", ts)
			}
			break
		}
	}
	return t
}

// lboundsMT is an array marker that also carries lower bounds.
func (s *State) lboundsMT(lbounds []int) *lua.LTable {
	mt := s.L.CreateTable(0, 2)
	mt.RawSetString("__array", lua.LTrue)
	lb := s.L.CreateTable(len(lbounds), 0)
	for i, v := range lbounds {
		lb.RawSetInt(i+1, lua.LNumber(v))
	}
	mt.RawSetString("__lbounds", lb)
	return mt
}

// ArrayFromLua reads a Lua table as an SQL array. isDim says whether a
// table found where an element could be is a sub-array (for scalar
// elements any table is; for row elements only sequences are; for json
// elements none is). Missing elements (holes) are NULL.
func (s *State) ArrayFromLua(t *lua.LTable, isDim func(*lua.LTable) bool) (*Array, error) {
	a := &Array{}
	// The shape comes from the first element of each level.
	for cur := t; ; {
		n, err := s.arrayLen(cur)
		if err != nil {
			return nil, err
		}
		a.Dims = append(a.Dims, n)
		if n == 0 {
			break
		}
		sub, ok := cur.RawGetInt(1).(*lua.LTable)
		if !ok || !isDim(sub) {
			break
		}
		if len(a.Dims) == MaxDims {
			return nil, Errorf(sqlstate.ProgramLimitExceeded, "number of array dimensions exceeds the maximum allowed (%d)", MaxDims)
		}
		cur = sub
	}
	total := 1
	for _, n := range a.Dims {
		total *= n
		if total > maxArrayElems {
			return nil, Errorf(sqlstate.ProgramLimitExceeded, "array size exceeds the maximum allowed (%d)", maxArrayElems)
		}
	}
	if total == 0 {
		// Any empty dimension makes the empty array.
		a.Dims, a.LBounds = nil, nil
		return a, nil
	}
	a.Elems = make([]lua.LValue, 0, total)
	var walk func(t *lua.LTable, d int) error
	walk = func(t *lua.LTable, d int) error {
		n, err := s.arrayLen(t)
		if err != nil {
			return err
		}
		if n != a.Dims[d] {
			return errArrayShape()
		}
		for i := 1; i <= n; i++ {
			e := t.RawGetInt(i)
			sub, isTable := e.(*lua.LTable)
			if d < len(a.Dims)-1 {
				if !isTable || !isDim(sub) {
					return errArrayShape()
				}
				if err := walk(sub, d+1); err != nil {
					return err
				}
				continue
			}
			if isTable && isDim(sub) && s.arrayLenOrZero(sub) > 0 {
				return errArrayShape()
			}
			a.Elems = append(a.Elems, e)
		}
		return nil
	}
	if err := walk(t, 0); err != nil {
		return nil, err
	}
	a.LBounds = make([]int, len(a.Dims))
	for i := range a.LBounds {
		a.LBounds[i] = 1
	}
	if mt, ok := t.Metatable.(*lua.LTable); ok {
		if lb, ok := mt.RawGetString("__lbounds").(*lua.LTable); ok && lb.MaxN() == len(a.Dims) {
			for i := range a.LBounds {
				if v, ok := lb.RawGetInt(i + 1).(lua.LNumber); ok && float64(v) == math.Trunc(float64(v)) &&
					math.Abs(float64(v)) < math.MaxInt32 {
					a.LBounds[i] = int(v)
				}
			}
		}
	}
	return a, nil
}

// maxArrayElems is PostgreSQL's MaxArraySize.
const maxArrayElems = (1<<30 - 1) / 8

func errArrayShape() *Error {
	return Errorf(sqlstate.ArraySubscriptError, "multidimensional arrays must have sub-arrays with matching dimensions")
}

// arrayLen is the number of elements of a table used as an array: its
// largest integer key (holes are NULLs). Other keys are refused.
func (s *State) arrayLen(t *lua.LTable) (int, error) {
	n, _, err := s.seqInfo(t, true)
	if err != nil {
		return 0, Errorf(sqlstate.ArraySubscriptError, "%s", arrayMessage(err))
	}
	return n, nil
}

func (s *State) arrayLenOrZero(t *lua.LTable) int {
	n, err := s.arrayLen(t)
	if err != nil {
		return 0
	}
	return n
}

func arrayMessage(err error) string {
	if e, ok := err.(*Error); ok {
		const p = "cannot encode as JSON: "
		if len(e.Message) > len(p) && e.Message[:len(p)] == p {
			return "cannot use a table as an SQL array: " + e.Message[len(p):]
		}
		return e.Message
	}
	return err.Error()
}

// IsSequence reports whether a table looks like a sub-array where rows
// could also be elements: marked as an array, or having t[1].
func (s *State) IsSequence(t *lua.LTable) bool {
	return s.IsArray(t) || t.RawGetInt(1) != lua.LNil
}
