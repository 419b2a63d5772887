// Conversions between PlerlValue (the C side's view of a Datum) and Lua.
package main

/*
#include <stdlib.h>
#include <string.h>
#include "plerl.h"
*/
import "C"

import (
	"unsafe"

	"github.com/plerl/plerl/runtime/pl"
	lua "github.com/yuin/gopher-lua"
)

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
	case C.PLV_TEXT, C.PLV_BYTES, C.PLV_NUMERIC, C.PLV_JSON:
		return lua.LString(C.GoStringN(v.p, C.int(v.len))), nil
	}
	return nil, pl.Errorf(pl.StateInternal, "plerl: unknown value kind %d", int(v.kind))
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

// luaToValue converts a function's result to what the C side expects for
// the result type kind. Strings are accepted for every scalar type and go
// through the type's input function.
func luaToValue(s *pl.State, v lua.LValue, kind int, out *C.PlerlValue) error {
	*out = C.PlerlValue{}
	if kind == C.PLT_VOID {
		return nil
	}
	if v == lua.LNil {
		out.kind = C.PLV_NULL
		return nil
	}
	if str, ok := v.(lua.LString); ok && kind != C.PLT_BYTEA {
		setBytes(out, C.PLV_TEXT, string(str))
		return nil
	}
	switch kind {
	case C.PLT_BOOL:
		out.kind = C.PLV_BOOL
		if pl.ToBool(v) {
			out.i = 1
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
		out.kind = C.PLV_INT
		out.i = C.int64_t(i)
		return nil
	case C.PLT_FLOAT4, C.PLT_FLOAT8:
		f, err := s.ToFloat(v)
		if err != nil {
			return err
		}
		out.kind = C.PLV_FLOAT
		out.f = C.double(f)
		return nil
	case C.PLT_BYTEA:
		t, err := s.ToText(v)
		if err != nil {
			return err
		}
		setBytes(out, C.PLV_BYTES, t)
		return nil
	}
	t, err := s.ToText(v)
	if err != nil {
		return err
	}
	setBytes(out, C.PLV_TEXT, t)
	return nil
}
