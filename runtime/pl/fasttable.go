// Fast tables of a known set of string keys (row tables, the trigger
// object): the per-row cost of a trigger was mostly gopher-lua building a
// table key by key (RawSetString grows the key list by append and fills an
// unsized key-to-index map, boxing each key again).
//
// A TableShape holds, once per set of keys, the key list and key-to-index
// map a table of those keys ends up with. A table of that shape gets a
// shared, full (len == cap) key list, which gopher-lua only ever appends
// to (append copies a full slice, so a table that gains a key gets its own
// list and the others do not see it), and a clone of the map, which
// gopher-lua writes in place when a table gains a key. Keys whose value is
// nil (a NULL column) are in the list and the map but not in the values:
// the state gopher-lua itself leaves a table in after t.k = nil; next()
// and pairs() skip them, and setting one later keeps its place. Values are
// written straight into the string map, as RawSetString does.
//
// gopher-lua's LTable fields are not exported: tableFields mirrors them and
// the first NewEngine checks, field by field (name, type, offset), that the
// mirror matches the LTable this binary was built with. If it does not
// (another gopher-lua), or before that check, fastTables is false and
// everything goes through RawSetString as before.
package pl

import (
	"maps"
	"reflect"
	"sync"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

// tableFields mirrors lua.LTable (gopher-lua v1.1.2, table.go).
type tableFields struct {
	Metatable lua.LValue

	array   []lua.LValue
	dict    map[lua.LValue]lua.LValue
	strdict map[string]lua.LValue
	keys    []lua.LValue
	k2i     map[lua.LValue]int
}

// fastTables is set once by checkFastTables, which NewEngine calls: not at
// package init, which every backend pays when Go starts, reflection
// included (docs/internals/boundary.md, What the load costs). A plain bool,
// read on every row.
var (
	fastTables     bool
	fastTablesOnce sync.Once
)

func checkFastTables() {
	fastTablesOnce.Do(func() {
		fastTables = mirrorMatches(reflect.TypeOf(lua.LTable{}), reflect.TypeOf(tableFields{}))
	})
}

// mirrorMatches: the same fields, in the same order, of the same types at
// the same offsets, and the same size.
func mirrorMatches(real, mirror reflect.Type) bool {
	if real.Size() != mirror.Size() || real.NumField() != mirror.NumField() {
		return false
	}
	for i := 0; i < real.NumField(); i++ {
		a, b := real.Field(i), mirror.Field(i)
		if a.Name != b.Name || a.Type != b.Type || a.Offset != b.Offset {
			return false
		}
	}
	return true
}

func fieldsOf(t *lua.LTable) *tableFields { return (*tableFields)(unsafe.Pointer(t)) }

// TableShape is the key list and key-to-index map of a table whose keys
// are Names (in that order; "" entries are skipped).
type TableShape struct {
	Names []string
	n     int // non-empty names
	keys  []lua.LValue
	k2i   map[lua.LValue]int
}

// NewTableShape makes the shape of tables keyed by names ("" skipped).
func NewTableShape(names []string) *TableShape {
	sh := &TableShape{Names: names, k2i: map[lua.LValue]int{}}
	for _, n := range names {
		if n == "" {
			continue
		}
		k := lua.LValue(lua.LString(n))
		if _, dup := sh.k2i[k]; dup {
			continue
		}
		sh.k2i[k] = len(sh.keys)
		sh.keys = append(sh.keys, k)
	}
	sh.n = len(sh.keys)
	sh.keys = sh.keys[:sh.n:sh.n]
	return sh
}

// New makes an empty table of this shape with metatable mt (nil: none).
// Fill it with Set.
func (sh *TableShape) New(L *lua.LState, mt *lua.LTable) *lua.LTable {
	t := L.CreateTable(0, sh.n)
	if mt != nil {
		t.Metatable = mt
	}
	if fastTables && sh.n > 0 {
		f := fieldsOf(t)
		f.keys = sh.keys
		f.k2i = maps.Clone(sh.k2i)
	}
	return t
}

// Set is t.RawSetString(name, v) for a table made by New, name one of the
// shape's names: straight into the string map when the table has the
// shape's keys already. v nil: nothing (a New table has no value yet).
func (sh *TableShape) Set(t *lua.LTable, name string, v lua.LValue) {
	if v == lua.LNil {
		return
	}
	if fastTables {
		f := fieldsOf(t)
		if f.strdict != nil && f.k2i != nil {
			f.strdict[name] = v
			return
		}
	}
	t.RawSetString(name, v)
}

// stringKeyCount is the number of values of t under string keys, when t
// has no others (gopher-lua deletes a string or hash key set to nil, so
// every entry of those maps holds a value; the array part may hold nils).
// ok is false when t has other keys or that cannot be told cheaply.
func stringKeyCount(t *lua.LTable) (n int, ok bool) {
	if !fastTables {
		return 0, false
	}
	f := fieldsOf(t)
	if len(f.dict) != 0 {
		return 0, false
	}
	for _, v := range f.array {
		if v != lua.LNil {
			return 0, false
		}
	}
	return len(f.strdict), true
}

// Refill empties t for reuse as a table of this shape with metatable mt
// (nil: none) and reports true, when t is exactly what New made and Set
// filled: the shape's own key list (no key added), no array or other
// keys, the same metatable. Otherwise it leaves t alone and reports false
// (make a new table). Refilling everything after Refill is the caller's
// job: no value of the table's last use is left.
func (sh *TableShape) Refill(t *lua.LTable, mt *lua.LTable) bool {
	if t == nil || !fastTables || sh.n == 0 {
		return false
	}
	if mt == nil {
		if t.Metatable != lua.LNil {
			return false
		}
	} else if t.Metatable != lua.LValue(mt) {
		return false
	}
	f := fieldsOf(t)
	if f.strdict == nil || len(f.array) != 0 || len(f.dict) != 0 ||
		len(f.keys) != sh.n || &f.keys[0] != &sh.keys[0] || len(f.k2i) != sh.n {
		return false
	}
	clear(f.strdict)
	return true
}

// Empty drops the values a kept table holds (so that it keeps no row's
// values alive between uses). Only for tables nothing else refers to.
func Empty(t *lua.LTable) {
	if t == nil || !fastTables {
		return
	}
	f := fieldsOf(t)
	clear(f.strdict)
	clear(f.dict)
	clear(f.array) // nils: the length stays, so Refill refuses the table
}
