// pllua's table forms of date and time values (pgtype.timestamptz{...} and
// its siblings): the same values as datetime.*, built from fields the way
// pllua reads them (astronomical years, msec, epoch_msec/epoch_usec, a
// time zone per value, isdst for an ambiguous local time).
package pl

import (
	"math"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// DateTimeZoneHost is what a host gives for a named time zone: the offset
// in seconds east of UTC (and whether it is daylight-saving time) at the
// instant t, or (local) for the wall-clock time t, microseconds since
// 2000-01-01. Zone names are the tz database's, or numeric ('+03').
type DateTimeZoneHost interface {
	ZoneOffsetIn(zone string, t int64, local bool) (int32, bool, error)
}

// PostgreSQL's range of timestamps, microseconds since 2000-01-01
// (MIN_TIMESTAMP, END_TIMESTAMP), and of dates, days since 2000-01-01.
const (
	minTimestamp = -211813488000000000
	endTimestamp = 9223371331200000000
	minDate      = -2451545
	endDate      = 2147483494
)

func pgFieldError(f string) *Error {
	return Errorf(sqlstate.InvalidParameterValue, "plerl: invalid value in field '%s'", f)
}

// pgZone is a value's time zone: none, a fixed offset (seconds east), or a name.
type pgZone struct {
	set   bool
	fixed bool
	off   int64
	name  string
}

func (s *State) pgZoneOf(v lua.LValue) pgZone {
	switch x := v.(type) {
	case lua.LNumber:
		f := float64(x)
		if f != math.Trunc(f) || math.Abs(f) > 16*3600 {
			s.raise(pgFieldError("timezone"))
		}
		return pgZone{set: true, fixed: true, off: int64(f)}
	case lua.LString:
		return pgZone{set: true, name: string(x)}
	}
	s.raise(pgFieldError("timezone"))
	return pgZone{}
}

// offset of zone z at the instant t, or for the wall-clock time t (local;
// isdst, when given, picks between the two readings of an ambiguous time).
func (s *State) pgZoneOffset(z pgZone, t int64, local bool, isdst lua.LValue) int64 {
	if z.fixed {
		return z.off
	}
	at := func(t int64, local bool) (int64, bool) {
		if z.name == "" {
			return s.zoneOffset(t, local), false
		}
		h, ok := s.e.host.(DateTimeZoneHost)
		if !ok {
			s.raise(Errorf(sqlstate.FeatureNotSupported, "named time zones need a backend"))
		}
		off, dst, err := h.ZoneOffsetIn(z.name, t, local)
		if err != nil {
			s.raise(err)
		}
		return int64(off), dst
	}
	if !local {
		off, _ := at(t, false)
		return off
	}
	off, _ := at(t, true)
	want, ok := isdst.(lua.LBool)
	if !ok {
		return off
	}
	// The readings of t: the offsets in force a day before and after, each
	// kept when the instant it gives has that offset.
	for _, probe := range []int64{t - usPerDay, t + usPerDay} {
		o, _ := at(probe, false)
		got, dst := at(t-o*usPerSec, false)
		if got == o && dst == bool(want) {
			return o
		}
	}
	return off
}

// pgNum reads field name of t: absent (false), or a number, integral
// unless frac; NaN and non-numbers are refused.
func (s *State) pgNum(t *lua.LTable, name string, frac bool) (float64, bool) {
	v := t.RawGetString(name)
	if v == lua.LNil {
		return 0, false
	}
	var f float64
	switch x := v.(type) {
	case lua.LNumber:
		f = float64(x)
	default:
		i, err := s.ToInt(v, 64)
		if _, isStr := v.(lua.LString); err != nil || isStr {
			s.raise(pgFieldError(name))
		}
		f = float64(i)
	}
	if math.IsNaN(f) || (!frac && !math.IsInf(f, 0) && f != math.Trunc(f)) {
		s.raise(pgFieldError(name))
	}
	return f, true
}

// pgMicros is f units of unit microseconds, rounded to the microsecond.
func (s *State) pgMicros(name string, f float64, unit int64) int64 {
	if math.IsInf(f, 0) || math.Abs(f)*float64(unit) >= 9e18 {
		s.raise(pgFieldError(name))
	}
	i := math.Trunc(f)
	return int64(i)*unit + int64(math.RoundToEven((f-i)*float64(unit)))
}

// pgDTFromTable is pgtype.<kind>{...}.
func (s *State) pgDTFromTable(kind DTKind, t *lua.LTable) DateTime {
	has := func(n string) bool { return t.RawGetString(n) != lua.LNil }
	nEpoch := 0
	for _, n := range []string{"epoch", "epoch_msec", "epoch_usec"} {
		if has(n) {
			nEpoch++
		}
	}
	if nEpoch > 1 {
		s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: cannot specify multiple epoch fields"))
	}
	hasDate := has("year") || has("month") || has("day")
	hasTime := has("hour") || has("min") || has("sec")
	if nEpoch == 1 && hasDate {
		s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: cannot specify both epoch and date fields"))
	}
	if nEpoch == 1 && hasTime {
		s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: cannot specify both epoch and time fields"))
	}
	var zone pgZone
	if zv := t.RawGetString("timezone"); zv != lua.LNil {
		if kind == DTTime || kind == DTInterval || (kind != DTTimestampTZ && nEpoch == 0) {
			s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: cannot specify timezone for this type"))
		}
		zone = s.pgZoneOf(zv)
	}
	isdst := t.RawGetString("isdst")

	if kind == DTInterval {
		var iv DateTime
		iv.Kind = DTInterval
		get := func(n string, frac bool) float64 {
			f, _ := s.pgNum(t, n, frac)
			if math.IsInf(f, 0) {
				s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: infinite values not permitted for this type"))
			}
			return f
		}
		m := get("year", false)*12 + get("month", false)
		d := get("day", false)
		if math.Abs(m) > math.MaxInt32 || math.Abs(d) > math.MaxInt32 {
			s.raise(dtRange("interval"))
		}
		iv.Months, iv.Days = int32(m), int32(d)
		var us int64
		for _, f := range []struct {
			n    string
			unit int64
		}{{"epoch", usPerSec}, {"epoch_msec", 1000}, {"epoch_usec", 1}, {"hour", 3600 * usPerSec},
			{"min", 60 * usPerSec}, {"sec", usPerSec}, {"msec", 1000}, {"usec", 1}} {
			frac := f.n == "sec" || f.n == "epoch"
			us += s.pgMicros(f.n, get(f.n, frac), f.unit)
		}
		iv.V = us
		return iv
	}

	// msec and usec adjust whatever else is given.
	adj := int64(0)
	if f, ok := s.pgNum(t, "msec", false); ok {
		adj += s.pgMicros("msec", f, 1000)
	}
	if f, ok := s.pgNum(t, "usec", false); ok {
		adj += s.pgMicros("usec", f, 1)
	}

	if nEpoch == 1 {
		var us int64
		var name string
		var f float64
		var unit int64
		switch {
		case has("epoch"):
			name, unit = "epoch", usPerSec
			f, _ = s.pgNum(t, name, true)
		case has("epoch_msec"):
			name, unit = "epoch_msec", 1000
			f, _ = s.pgNum(t, name, true)
		default:
			name, unit = "epoch_usec", 1
			f, _ = s.pgNum(t, name, false)
		}
		if math.IsInf(f, 0) && kind != DTTime {
			inf := 1
			if f < 0 {
				inf = -1
			}
			return s.dtConvert(DateTime{Kind: DTTimestamp, V: map[int]int64{-1: math.MinInt64, 1: math.MaxInt64}[inf]}, kind)
		}
		us = s.pgMicros(name, f, unit) + adj - unixToPG*usPerSec // since 2000-01-01 UTC
		if kind == DTTimestampTZ {
			if zone.set { // the zone does not change the instant, but must exist
				s.pgZoneOffset(zone, us, false, lua.LNil)
			}
			return s.pgCheckTS(DateTime{Kind: DTTimestampTZ, V: us})
		}
		if zone.set {
			us += s.pgZoneOffset(zone, us, false, lua.LNil) * usPerSec
		}
		switch kind {
		case DTDate:
			return s.pgCheckDate(floorDiv(us, usPerDay))
		case DTTime:
			return DateTime{Kind: DTTime, V: floorMod(us, usPerDay)}
		}
		return s.pgCheckTS(DateTime{Kind: DTTimestamp, V: us})
	}

	// Fields: each one needs the ones before it.
	need := func(n string) {
		s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: missing datetime field '%s'", n))
	}
	tod := adj
	hour, hasHour := s.pgNum(t, "hour", false)
	min, hasMin := s.pgNum(t, "min", false)
	sec, hasSec := s.pgNum(t, "sec", true)
	if kind == DTTime && !hasHour {
		need("hour")
	}
	if (hasSec || hasMin) && !hasHour {
		need("hour")
	}
	if hasSec && !hasMin {
		need("min")
	}
	tod += s.pgMicros("hour", hour, 3600*usPerSec) + s.pgMicros("min", min, 60*usPerSec) + s.pgMicros("sec", sec, usPerSec)
	if kind == DTTime {
		return DateTime{Kind: DTTime, V: floorMod(tod, usPerDay)}
	}
	year, hasYear := s.pgNum(t, "year", false)
	month, hasMonth := s.pgNum(t, "month", false)
	day, hasDay := s.pgNum(t, "day", false)
	switch {
	case !hasYear:
		need("year")
	case !hasMonth:
		need("mon")
	case !hasDay:
		need("day")
	}
	if math.IsInf(year, 0) && !math.IsInf(month, 0) && !math.IsInf(day, 0) {
		v := DateTime{Kind: DTTimestamp, V: math.MaxInt64}
		if year < 0 {
			v.V = math.MinInt64
		}
		return s.dtConvert(v, kind)
	}
	for _, f := range []struct {
		n string
		v float64
	}{{"month", month}, {"day", day}, {"year", year}} { // pllua names month or day before year
		if math.IsInf(f.v, 0) {
			s.raise(pgFieldError(f.n))
		}
	}
	if math.Abs(year+month/12+day/366+float64(tod)/usPerDay/366) > 290000 {
		if kind == DTDate {
			s.raise(dtRange("date"))
		}
		s.raise(Errorf(sqlstate.DatetimeValueOutOfRange, "could not convert to timestamp"))
	}
	// Astronomical years (0 is 1 BC); fromCivil counts BC years.
	y := int64(year)
	if y <= 0 {
		y--
	}
	if kind == DTDate {
		days := floorDiv(fromCivil(y, int64(month), int64(day), 0), usPerDay)
		if tod < 0 || tod > usPerDay {
			days += floorDiv(tod, usPerDay)
		}
		return s.pgCheckDate(days)
	}
	l := fromCivil(y, int64(month), int64(day), tod)
	if l < minTimestamp || l >= endTimestamp {
		s.raise(Errorf(sqlstate.DatetimeValueOutOfRange, "could not convert to timestamp"))
	}
	if kind == DTTimestampTZ {
		l -= s.pgZoneOffset(zone, l, true, isdst) * usPerSec
		return s.pgCheckTS(DateTime{Kind: DTTimestampTZ, V: l})
	}
	return s.pgCheckTS(DateTime{Kind: DTTimestamp, V: l})
}

func (s *State) pgCheckTS(d DateTime) DateTime {
	if d.V < minTimestamp || d.V >= endTimestamp {
		s.raise(dtRange("timestamp"))
	}
	return d
}

func (s *State) pgCheckDate(days int64) DateTime {
	if days < minDate || days >= endDate {
		s.raise(dtRange("date"))
	}
	return DateTime{Kind: DTDate, V: days}
}

// pgDTConstruct is pgtype.<kind>(v): a table in pllua's field form, else as datetime.<kind>.
func (s *State) pgDTConstruct(kind DTKind, v lua.LValue) DateTime {
	if t, ok := v.(*lua.LTable); ok {
		return s.pgDTFromTable(kind, t)
	}
	return s.dtConstruct(kind, v)
}
