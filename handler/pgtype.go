// Typed values: the SQL text of rows and arrays that remember their type
// (pl.TypeHost) through the guards of pgtype.c.
package main

/*
#include <stdlib.h>
#include "plerl.h"
*/
import "C"

import (
	"unsafe"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/pl"
)

func (host) TypeText(s *pl.State, handle int32, v lua.LValue) (string, error) {
	var cerr C.PlerlError
	var info *C.PlerlTypeInfo
	if C.plerl_type_info(C.int32_t(handle), &info, &cerr) != 0 {
		return "", guardError(&cerr)
	}
	var cv C.PlerlValue
	if err := luaToType(s, v, info, &cv); err != nil {
		return "", err
	}
	var out *C.char
	if C.plerl_type_text(C.int32_t(handle), &cv, &out, &cerr) != 0 {
		return "", guardError(&cerr)
	}
	if out == nil {
		return "", nil
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoString(out), nil
}
