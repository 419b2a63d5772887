// Date and time values: PlerlValue's PLV_DATE..PLV_INTERVAL <-> pl.DateTime,
// and pl.DateTimeHost through the guards of datetime.c.
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

func dtFromValue(v *C.PlerlValue) pl.DateTime {
	d := pl.DateTime{Kind: pl.DTKind(v.kind - C.PLV_DATE + 1), V: int64(v.i)}
	if v.kind == C.PLV_INTERVAL {
		n := uint64(v.len)
		d.Days = int32(uint32(n >> 32))
		d.Months = int32(uint32(n))
	}
	return d
}

func dtToValue(d pl.DateTime, v *C.PlerlValue) {
	*v = C.PlerlValue{kind: C.int32_t(int(d.Kind) - 1 + C.PLV_DATE), i: C.int64_t(d.V)}
	if d.Kind == pl.DTInterval {
		v.len = C.int64_t(int64(uint64(uint32(d.Days))<<32 | uint64(uint32(d.Months))))
	}
}

func (host) DateTimeText(d pl.DateTime) (string, error) {
	var cerr C.PlerlError
	var v C.PlerlValue
	var out *C.char
	dtToValue(d, &v)
	if C.plerl_dt_text(&v, &out, &cerr) != 0 {
		return "", guardError(&cerr)
	}
	defer C.free(unsafe.Pointer(out))
	return C.GoString(out), nil
}

func (host) ParseDateTime(kind pl.DTKind, text string) (pl.DateTime, error) {
	var cerr C.PlerlError
	var v C.PlerlValue
	ct, err := cText(kind.String()+" text", text)
	if err != nil {
		return pl.DateTime{}, err
	}
	defer C.free(unsafe.Pointer(ct))
	if C.plerl_dt_parse(C.int32_t(int(kind)-1+C.PLV_DATE), ct, &v, &cerr) != 0 {
		return pl.DateTime{}, guardError(&cerr)
	}
	return dtFromValue(&v), nil
}

func (host) ZoneOffset(t int64, local bool) (int32, error) {
	var cerr C.PlerlError
	var off C.int32_t
	l := C.int32_t(0)
	if local {
		l = 1
	}
	if C.plerl_dt_zone(C.int64_t(t), l, &off, &cerr) != 0 {
		return 0, guardError(&cerr)
	}
	return int32(off), nil
}

func (host) ZoneOffsetIn(zone string, t int64, local bool) (int32, bool, error) {
	var cerr C.PlerlError
	var off, dst C.int32_t
	cz, err := cText("time zone", zone)
	if err != nil {
		return 0, false, err
	}
	defer C.free(unsafe.Pointer(cz))
	l := C.int32_t(0)
	if local {
		l = 1
	}
	if C.plerl_dt_zone_named(cz, C.int64_t(t), l, &off, &dst, &cerr) != 0 {
		return 0, false, guardError(&cerr)
	}
	return int32(off), dst != 0, nil
}

func (host) DatePart(d pl.DateTime, unit string) (float64, bool, error) {
	var cerr C.PlerlError
	var v C.PlerlValue
	var out C.double
	var isnull C.int32_t
	cu, err := cText("unit", unit)
	if err != nil {
		return 0, false, err
	}
	defer C.free(unsafe.Pointer(cu))
	dtToValue(d, &v)
	if C.plerl_dt_part(&v, cu, &out, &isnull, &cerr) != 0 {
		return 0, false, guardError(&cerr)
	}
	return float64(out), isnull != 0, nil
}
