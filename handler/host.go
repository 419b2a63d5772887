// host: pl.Host for the backend, each method one C guard.
package main

/*
#include <stdlib.h>
#include "plerl.h"
*/
import "C"

import (
	"unsafe"

	"github.com/plerl/plerl/runtime/pl"
)

type host struct{}

// guardError converts a guard's error record (and frees it).
func guardError(cerr *C.PlerlError) error {
	e := &pl.Error{
		SQLState: C.GoStringN(&cerr.sqlstate[0], 5),
		Message:  goStr(cerr.message),
		Detail:   goStr(cerr.detail),
		Hint:     goStr(cerr.hint),
		Context:  goStr(cerr.context),
	}
	switch cerr.kind {
	case C.PLERL_ERR_RETHROW:
		e.Kind = pl.KindRethrow
	case C.PLERL_ERR_CANCEL:
		e.Kind = pl.KindCancel
	}
	C.plerl_error_free(cerr)
	return e
}

func goStr(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}

func (host) Elog(level int, msg, detail, hint string) error {
	var cerr C.PlerlError
	cmsg := C.CString(msg)
	defer C.free(unsafe.Pointer(cmsg))
	var cdetail, chint *C.char
	if detail != "" {
		cdetail = C.CString(detail)
		defer C.free(unsafe.Pointer(cdetail))
	}
	if hint != "" {
		chint = C.CString(hint)
		defer C.free(unsafe.Pointer(chint))
	}
	if C.plerl_elog(C.int(level), cmsg, cdetail, chint, &cerr) != 0 {
		return guardError(&cerr)
	}
	return nil
}

func (host) SubxactBegin() error {
	var cerr C.PlerlError
	// SPI must belong to the call, not to the subtransaction, which would
	// take it along when it ends (plerl_frame.h).
	if C.plerl_spi_connect(&cerr) != 0 {
		return guardError(&cerr)
	}
	if C.plerl_subxact_begin(&cerr) != 0 {
		return guardError(&cerr)
	}
	return nil
}

func (host) SubxactCommit() error {
	var cerr C.PlerlError
	if C.plerl_subxact_commit(&cerr) != 0 {
		return guardError(&cerr)
	}
	return nil
}

func (host) SubxactAbort() error {
	var cerr C.PlerlError
	if C.plerl_subxact_abort(&cerr) != 0 {
		return guardError(&cerr)
	}
	return nil
}

func (host) Poisoned() bool { return bool(C.plerl_has_stash()) }
