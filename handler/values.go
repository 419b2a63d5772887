// Conversions between PlerlValue (the C side's view of a Datum) and Lua.
// C -> Go values are read in place (palloc'd, valid during the call); a
// Go -> C value owns one malloc'd block: a string, or a whole tree laid out
// in one arena (plerl.h, "Ownership").
package main

/*
#include <stdlib.h>
#include <string.h>
#include "plerl.h"
*/
import "C"

import (
	"math"
	"unsafe"

	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// valueToLua converts an argument or a row field to Lua: NULL is nil (the
// null sentinel inside arrays), int8 beyond ±2^53 an int64, numeric a
// numeric, json/jsonb tables, arrays nested tables, rows tables by name.
func valueToLua(s *pl.State, v *C.PlerlValue) (lua.LValue, error) {
	switch v.kind {
	case C.PLV_NULL:
		return lua.LNil, nil
	case C.PLV_BOOL:
		return lua.LBool(v.i != 0), nil
	case C.PLV_INT:
		return s.IntValue(int64(v.i)), nil
	case C.PLV_FLOAT:
		return lua.LNumber(float64(v.f)), nil
	case C.PLV_TEXT, C.PLV_BYTES:
		return lua.LString(C.GoStringN(v.p, C.int(v.len))), nil
	case C.PLV_NUMERIC:
		return s.NumericValue(C.GoStringN(v.p, C.int(v.len)))
	case C.PLV_JSON:
		return s.DecodeJSON(C.GoStringN(v.p, C.int(v.len)))
	case C.PLV_ARRAY:
		return arrayToLua(s, v)
	case C.PLV_RECORD:
		return recordToLua(s, v)
	case C.PLV_DATE, C.PLV_TIME, C.PLV_TIMESTAMP, C.PLV_TIMESTAMPTZ, C.PLV_INTERVAL:
		return s.NewDateTime(dtFromValue(v)), nil
	case C.PLV_REFCURSOR:
		return s.RefCursor(C.GoStringN(v.p, C.int(v.len))), nil
	case C.PLV_RANGE:
		return s.NewRange(int32(v.i), C.GoStringN(v.p, C.int(v.len))), nil
	case C.PLV_TIMETZ:
		return s.NewTimeTZ(int32(v.i), C.GoStringN(v.p, C.int(v.len))), nil
	}
	return nil, pl.Errorf(sqlstate.InternalError, "plerl: unknown value kind %d", int(v.kind))
}

func arrayToLua(s *pl.State, v *C.PlerlValue) (lua.LValue, error) {
	a := (*C.PlerlArray)(unsafe.Pointer(v.p))
	n := int(v.len)
	var elems []C.PlerlValue
	if n > 0 {
		elems = unsafe.Slice(a.elems, n)
	}
	nd := int(a.ndims)
	if n == 0 {
		nd = 0
	}
	dims := make([]int, nd)
	lbs := make([]int, nd)
	for i := 0; i < nd; i++ {
		dims[i] = int(a.dims[i])
		lbs[i] = int(a.lbounds[i])
	}
	var err error
	t := s.ArrayTableOf(int32(a.type_handle), dims, lbs, func(i int) lua.LValue {
		if err != nil {
			return lua.LNil
		}
		if elems[i].kind == C.PLV_NULL {
			return s.Null()
		}
		var lv lua.LValue
		lv, err = valueToLua(s, &elems[i])
		return lv
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

func recordToLua(s *pl.State, v *C.PlerlValue) (lua.LValue, error) {
	r := (*C.PlerlRecord)(unsafe.Pointer(v.p))
	n := int(v.len)
	t := s.L.CreateTable(0, n)
	if mt := s.RowMeta(int32(r.type_handle)); mt != nil {
		t.Metatable = mt
	}
	if n == 0 {
		return t, nil
	}
	names := unsafe.Slice(r.names, n)
	fields := unsafe.Slice(r.fields, n)
	for i := range fields {
		if fields[i].kind == C.PLV_NULL || names[i] == nil {
			continue // NULL fields are absent
		}
		lv, err := valueToLua(s, &fields[i])
		if err != nil {
			return nil, err
		}
		t.RawSetString(C.GoString(names[i]), lv)
	}
	return t, nil
}

// setBytes stores a malloc'd, NUL-terminated copy of b (the C side frees it).
func setBytes(out *C.PlerlValue, kind C.int32_t, b string) {
	p := (*C.char)(C.malloc(C.size_t(len(b) + 1)))
	if len(b) > 0 {
		C.memcpy(unsafe.Pointer(p), unsafe.Pointer(unsafe.StringData(b)), C.size_t(len(b)))
	}
	*(*byte)(unsafe.Add(unsafe.Pointer(p), len(b))) = 0
	out.kind = kind
	out.p = p
	out.len = C.int64_t(len(b))
}

// luaToValue converts a value for a scalar type kind (no row or array
// type information). Strings are accepted for every type and go through
// the type's input function.
func luaToValue(s *pl.State, v lua.LValue, kind int, out *C.PlerlValue) error {
	// The common case first: a number for an integer or float result.
	if n, ok := v.(lua.LNumber); ok {
		f := float64(n)
		switch kind {
		case C.PLT_INT4:
			if f >= math.MinInt32 && f <= math.MaxInt32 && f == math.Trunc(f) {
				*out = C.PlerlValue{kind: C.PLV_INT, i: C.int64_t(f)}
				return nil
			}
		case C.PLT_INT8:
			if f > -(1<<53) && f < 1<<53 && f == math.Trunc(f) {
				*out = C.PlerlValue{kind: C.PLV_INT, i: C.int64_t(f)}
				return nil
			}
		case C.PLT_FLOAT8:
			*out = C.PlerlValue{kind: C.PLV_FLOAT, f: C.double(f)}
			return nil
		}
	}
	return luaToScalar(s, v, kind, out)
}

// luaToScalar is luaToValue past its fast path (kept apart so that the
// fast path's frame stays small).
func luaToScalar(s *pl.State, v lua.LValue, kind int, out *C.PlerlValue) error {
	*out = C.PlerlValue{}
	if kind == C.PLT_RECORD || kind == C.PLT_ARRAY {
		if str, ok := v.(lua.LString); ok {
			setBytes(out, C.PLV_TEXT, string(str))
			return nil
		}
		if v == lua.LNil || v == s.Null() {
			out.kind = C.PLV_NULL
			return nil
		}
		return pl.Errorf(sqlstate.InternalError, "plerl: a row or array result needs its type (luaToType)")
	}
	var o outVal
	if err := scalarOut(s, v, kind, &o); err != nil {
		return err
	}
	o.store(out)
	return nil
}

// luaToType converts a value for the type t describes: any type, rows and
// arrays included.
func luaToType(s *pl.State, v lua.LValue, t *C.PlerlTypeInfo, out *C.PlerlValue) error {
	if t.kind != C.PLT_RECORD && t.kind != C.PLT_ARRAY {
		return luaToValue(s, v, int(t.kind), out)
	}
	return treeOut(s, v, t, out)
}

func treeOut(s *pl.State, v lua.LValue, t *C.PlerlTypeInfo, out *C.PlerlValue) error {
	*out = C.PlerlValue{}
	c := conv{s: s}
	var o outVal
	if err := c.value(v, t, &o); err != nil {
		return err
	}
	o.store(out)
	return nil
}

// resultToValue converts what a function returned. For a row result,
// several return values fill the fields in order (OUT parameters); one
// table fills them by name.
func resultToValue(s *pl.State, rets []lua.LValue, call *C.PlerlCall) error {
	var ret lua.LValue = lua.LNil
	if len(rets) > 0 {
		ret = rets[0]
	}
	t := call.ret_type
	if t == nil {
		return luaToValue(s, ret, int(call.ret_kind), &call.ret)
	}
	if t.kind != C.PLT_RECORD && t.kind != C.PLT_ARRAY {
		return luaToValue(s, ret, int(t.kind), &call.ret)
	}
	if t.kind == C.PLT_RECORD && (len(rets) > 1 || positional(s, ret, t)) {
		return rowOut(s, rets, t, &call.ret)
	}
	if t.kind == C.PLT_ARRAY && (len(rets) > 1 || scalarForArray(s, ret)) {
		ret = elementsTable(s, rets)
	}
	return treeOut(s, ret, t, &call.ret)
}

// scalarForArray: a single value that is no array's form (no table, string,
// nil or null) is an array of one element, as in pllua.
func scalarForArray(s *pl.State, v lua.LValue) bool {
	switch v.(type) {
	case *lua.LTable, lua.LString, *lua.LNilType:
		return false
	}
	return v != s.Null()
}

// elementsTable is the array an array function's several return values
// make, in order (nil is NULL).
func elementsTable(s *pl.State, rets []lua.LValue) *lua.LTable {
	tb := s.L.CreateTable(len(rets), 0)
	for _, v := range rets {
		if v == lua.LNil {
			v = s.Null()
		}
		tb.Append(v)
	}
	return tb
}

func rowOut(s *pl.State, rets []lua.LValue, t *C.PlerlTypeInfo, out *C.PlerlValue) error {
	*out = C.PlerlValue{}
	c := conv{s: s}
	var o outVal
	if err := c.rowByPosition(rets, t, &o); err != nil {
		return err
	}
	o.store(out)
	return nil
}

// positional: a single plain value for a one-field row.
func positional(s *pl.State, v lua.LValue, t *C.PlerlTypeInfo) bool {
	switch v.(type) {
	case *lua.LTable, lua.LString, *lua.LNilType:
		return false
	}
	return v != s.Null() && t.nfields == 1
}

// outVal is a converted value before it is laid out in C memory.
type outVal struct {
	kind  C.int32_t
	i     int64
	f     float64
	str   string
	dims  []int // PLV_ARRAY
	lbs   []int
	elems []outVal // PLV_ARRAY elements, PLV_RECORD fields
	n     int64    // PLV_INTERVAL: days and months (PlerlValue.len)
}

func (o *outVal) isString() bool {
	switch o.kind {
	case C.PLV_TEXT, C.PLV_BYTES, C.PLV_NUMERIC, C.PLV_JSON:
		return true
	}
	return false
}

// store writes o into out: scalars in place, a string in its own malloc'd
// block, a tree in one arena.
func (o *outVal) store(out *C.PlerlValue) {
	switch {
	case o.isString():
		setBytes(out, o.kind, o.str)
	case o.kind == C.PLV_ARRAY || o.kind == C.PLV_RECORD:
		size := o.size()
		a := arena{base: C.malloc(C.size_t(size)), size: size}
		a.write(o, out)
	default:
		*out = C.PlerlValue{kind: o.kind, i: C.int64_t(o.i), f: C.double(o.f), len: C.int64_t(o.n)}
	}
}

func align8(n uintptr) uintptr { return (n + 7) &^ 7 }

// size is the arena bytes o needs below its PlerlValue.
func (o *outVal) size() uintptr {
	switch o.kind {
	case C.PLV_ARRAY, C.PLV_RECORD:
		hdr := uintptr(C.sizeof_PlerlArray)
		if o.kind == C.PLV_RECORD {
			hdr = uintptr(C.sizeof_PlerlRecord)
		}
		n := align8(hdr) + align8(uintptr(len(o.elems))*uintptr(C.sizeof_PlerlValue))
		for i := range o.elems {
			n += o.elems[i].size()
		}
		return n
	}
	if o.isString() {
		return align8(uintptr(len(o.str)) + 1)
	}
	return 0
}

type arena struct {
	base      unsafe.Pointer
	off, size uintptr
}

func (a *arena) alloc(n uintptr) unsafe.Pointer {
	n = align8(n)
	if a.off+n > a.size {
		panic("plerl: result arena overflow")
	}
	p := unsafe.Add(a.base, a.off)
	a.off += n
	return p
}

func (a *arena) write(o *outVal, dst *C.PlerlValue) {
	*dst = C.PlerlValue{kind: o.kind, i: C.int64_t(o.i), f: C.double(o.f), len: C.int64_t(o.n)}
	switch {
	case o.isString():
		p := a.alloc(uintptr(len(o.str)) + 1)
		b := unsafe.Slice((*byte)(p), len(o.str)+1)
		copy(b, o.str)
		b[len(o.str)] = 0
		dst.p = (*C.char)(p)
		dst.len = C.int64_t(len(o.str))
	case o.kind == C.PLV_ARRAY || o.kind == C.PLV_RECORD:
		var hdr unsafe.Pointer
		if o.kind == C.PLV_ARRAY {
			hdr = a.alloc(C.sizeof_PlerlArray)
		} else {
			hdr = a.alloc(C.sizeof_PlerlRecord)
		}
		var elems *C.PlerlValue
		if len(o.elems) > 0 {
			elems = (*C.PlerlValue)(a.alloc(uintptr(len(o.elems)) * C.sizeof_PlerlValue))
			dst := unsafe.Slice(elems, len(o.elems))
			for i := range o.elems {
				a.write(&o.elems[i], &dst[i])
			}
		}
		if o.kind == C.PLV_ARRAY {
			h := (*C.PlerlArray)(hdr)
			*h = C.PlerlArray{ndims: C.int32_t(len(o.dims)), elems: elems}
			for i := range o.dims {
				h.dims[i] = C.int32_t(o.dims[i])
				h.lbounds[i] = C.int32_t(o.lbs[i])
			}
		} else {
			*(*C.PlerlRecord)(hdr) = C.PlerlRecord{fields: elems}
		}
		dst.p = (*C.char)(hdr)
		dst.len = C.int64_t(len(o.elems))
	}
}

// scalarOut converts a value for a scalar type kind.
func scalarOut(s *pl.State, v lua.LValue, kind int, o *outVal) error {
	if kind == C.PLT_VOID {
		o.kind = C.PLV_NULL
		return nil
	}
	if v == lua.LNil {
		o.kind = C.PLV_NULL
		return nil
	}
	if v == s.Null() {
		// SQL NULL wherever an SQL value is expected (a json result too:
		// only inside a JSON value is null JSON's null).
		o.kind = C.PLV_NULL
		return nil
	}
	if name, ok := pl.CursorName(v); ok && kind != C.PLT_BYTEA {
		// A cursor object for a refcursor (or any text): its portal's name.
		o.kind = C.PLV_TEXT
		o.str = name
		return nil
	}
	if str, ok := v.(lua.LString); ok && kind != C.PLT_BYTEA {
		o.kind = C.PLV_TEXT
		o.str = string(str)
		return nil
	}
	if t, ok := pl.AsSQLText(v); ok && kind != C.PLT_BYTEA {
		// A range or timetz value: its text (the target's input function reads it).
		o.kind = C.PLV_TEXT
		o.str = t
		return nil
	}
	if d, ok := pl.AsDateTime(v); ok && kind == C.PLT_OTHER {
		// As its integers; C converts to another date/time type if needed.
		var cv C.PlerlValue
		dtToValue(d, &cv)
		o.kind, o.i, o.n = cv.kind, int64(cv.i), int64(cv.len)
		return nil
	}
	switch kind {
	case C.PLT_BOOL:
		o.kind = C.PLV_BOOL
		if pl.ToBool(v) {
			o.i = 1
		}
		return nil
	case C.PLT_INT2, C.PLT_INT4, C.PLT_INT8:
		bits := 64
		if kind == C.PLT_INT2 {
			bits = 16
		} else if kind == C.PLT_INT4 {
			bits = 32
		}
		i, err := s.ToInt(v, bits)
		if err != nil {
			return err
		}
		o.kind = C.PLV_INT
		o.i = i
		return nil
	case C.PLT_FLOAT4, C.PLT_FLOAT8:
		f, err := s.ToFloat(v)
		if err != nil {
			return err
		}
		if kind == C.PLT_FLOAT4 && !math.IsInf(f, 0) && !math.IsNaN(f) {
			f32 := float32(f)
			if math.IsInf(float64(f32), 0) {
				return pl.Errorf(sqlstate.NumericValueOutOfRange, "value out of range: overflow")
			}
			if f32 == 0 && f != 0 {
				return pl.Errorf(sqlstate.NumericValueOutOfRange, "value out of range: underflow")
			}
		}
		o.kind = C.PLV_FLOAT
		o.f = f
		return nil
	case C.PLT_NUMERIC:
		t, err := s.NumericText(v)
		if err != nil {
			return err
		}
		o.kind = C.PLV_NUMERIC
		o.str = t
		return nil
	case C.PLT_BYTEA:
		t, err := s.ToText(v)
		if err != nil {
			return err
		}
		o.kind = C.PLV_BYTES
		o.str = t
		return nil
	case C.PLT_JSON, C.PLT_JSONB:
		t, err := s.EncodeJSON(v)
		if err != nil {
			return err
		}
		o.kind = C.PLV_JSON
		o.str = t
		return nil
	}
	t, err := s.ToText(v)
	if err != nil {
		return err
	}
	o.kind = C.PLV_TEXT
	o.str = t
	return nil
}

// conv converts one result tree; it caches field names per row type.
type conv struct {
	s     *pl.State
	names map[*C.PlerlTypeInfo][]string
}

// fieldNames views the C names of a row type as Go strings (no copy: they
// are only used for lookups during the conversion).
func (c *conv) fieldNames(t *C.PlerlTypeInfo) []string {
	if n, ok := c.names[t]; ok {
		return n
	}
	n := int(t.nfields)
	out := make([]string, n)
	if n > 0 {
		for i, p := range unsafe.Slice(t.names, n) {
			out[i] = cView(p)
		}
	}
	if c.names == nil {
		c.names = map[*C.PlerlTypeInfo][]string{}
	}
	c.names[t] = out
	return out
}

// cView is a Go string over a NUL-terminated C string, without copying.
func cView(p *C.char) string {
	if p == nil {
		return ""
	}
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return unsafe.String((*byte)(unsafe.Pointer(p)), n)
}

func typeName(t *C.PlerlTypeInfo) string {
	if t.name == nil {
		return "record"
	}
	return C.GoString(t.name)
}

func (c *conv) value(v lua.LValue, t *C.PlerlTypeInfo, o *outVal) error {
	kind := int(t.kind)
	switch kind {
	case C.PLT_RECORD, C.PLT_ARRAY:
	default:
		return scalarOut(c.s, v, kind, o)
	}
	switch x := v.(type) {
	case *lua.LNilType:
		o.kind = C.PLV_NULL
		return nil
	case lua.LString:
		o.kind = C.PLV_TEXT
		o.str = string(x)
		return nil
	case *lua.LTable:
		if kind == C.PLT_RECORD {
			return c.row(x, t, o)
		}
		return c.array(x, t, o)
	}
	if v == c.s.Null() {
		o.kind = C.PLV_NULL
		return nil
	}
	what := "an array"
	if kind == C.PLT_RECORD {
		what = "a row"
	}
	return pl.Errorf(sqlstate.DatatypeMismatch, "cannot convert %s to %s (type %s): a table is expected",
		c.s.TypeName(v), what, typeName(t))
}

func (c *conv) row(tb *lua.LTable, t *C.PlerlTypeInfo, o *outVal) error {
	names := c.fieldNames(t)
	vals := make([]lua.LValue, len(names))
	if err := c.s.RecordFields(tb, typeName(t), names, vals); err != nil {
		return err
	}
	return c.fields(vals, t, o)
}

func (c *conv) fields(vals []lua.LValue, t *C.PlerlTypeInfo, o *outVal) error {
	n := int(t.nfields)
	o.kind = C.PLV_RECORD
	o.elems = make([]outVal, n)
	if n == 0 {
		return nil
	}
	types := unsafe.Slice(t.fields, n)
	for i := 0; i < n; i++ {
		var v lua.LValue = lua.LNil
		if i < len(vals) {
			v = vals[i]
		}
		if err := c.value(v, types[i], &o.elems[i]); err != nil {
			return fieldError(err, c.fieldNames(t)[i])
		}
	}
	return nil
}

// fieldError says which field a conversion error is about.
func fieldError(err error, field string) error {
	if e, ok := err.(*pl.Error); ok {
		e2 := *e
		if e2.Context == "" {
			e2.Context = "field \"" + field + "\""
		} else {
			e2.Context = "field \"" + field + "\", " + e2.Context
		}
		return &e2
	}
	return err
}

func (c *conv) rowByPosition(vals []lua.LValue, t *C.PlerlTypeInfo, o *outVal) error {
	if len(vals) > int(t.nfields) {
		return pl.Errorf(sqlstate.DatatypeMismatch, "function returned %d values, but its result row has %d fields",
			len(vals), int(t.nfields))
	}
	for i, v := range vals {
		if v == c.s.Null() {
			vals[i] = lua.LNil
		}
	}
	return c.fields(vals, t, o)
}

func (c *conv) array(tb *lua.LTable, t *C.PlerlTypeInfo, o *outVal) error {
	et := t.elem
	isDim := func(*lua.LTable) bool { return true }
	switch et.kind {
	case C.PLT_RECORD:
		isDim = c.s.IsSequence
	case C.PLT_JSON, C.PLT_JSONB:
		isDim = func(*lua.LTable) bool { return false }
	}
	a, err := c.s.ArrayFromLua(tb, isDim)
	if err != nil {
		return err
	}
	o.kind = C.PLV_ARRAY
	if len(a.Dims) == 0 {
		return nil
	}
	o.dims, o.lbs = a.Dims, a.LBounds
	o.elems = make([]outVal, len(a.Elems))
	for i, e := range a.Elems {
		if err := c.value(e, et, &o.elems[i]); err != nil {
			return err
		}
	}
	return nil
}
