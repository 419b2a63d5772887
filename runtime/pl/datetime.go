// Date and time values: date, time, timestamp, timestamptz and interval as
// Lua userdata holding PostgreSQL's own integers (exact round trips, no
// text), with fields, arithmetic and comparison as SQL has them.
package pl

import (
	"math"
	"math/big"
	"time"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// DTKind is the SQL type of a DateTime.
type DTKind int

// The kinds (their numbers are the handler's PLV_DATE.. minus PLV_DATE - 1,
// mapped in handler/values.go).
const (
	DTDate DTKind = 1 + iota
	DTTime
	DTTimestamp
	DTTimestampTZ
	DTInterval
)

var dtNames = [...]string{"", "date", "time", "timestamp", "timestamptz", "interval"}

func (k DTKind) String() string { return dtNames[k] }

// DateTime is a date or time value as PostgreSQL stores it: V is days since
// 2000-01-01 (date), microseconds since midnight (time), since 2000-01-01
// 00:00 (timestamp; UTC for timestamptz), or an interval's microseconds
// (with its Days and Months). Infinities are PostgreSQL's: the int32
// (date) or int64 extremes.
type DateTime struct {
	Kind         DTKind
	V            int64
	Days, Months int32
}

// DateTimeHost is what a host gives date and time values: their SQL text,
// the SQL input functions, and the session time zone. Without it (tests)
// the zone is UTC and text is an approximation.
type DateTimeHost interface {
	DateTimeText(d DateTime) (string, error)
	ParseDateTime(kind DTKind, text string) (DateTime, error)
	// ZoneOffset: seconds east of UTC at instant t, or (local) for the
	// wall-clock time t, microseconds since 2000-01-01.
	ZoneOffset(t int64, local bool) (int32, error)
}

const (
	usPerSec   = 1_000_000
	usPerDay   = 86_400 * usPerSec
	unixToPG   = 946_684_800 // seconds from 1970-01-01 to 2000-01-01
	dtMetaName = "datetime"
)

func (d DateTime) infinite() int {
	switch {
	case d.Kind == DTDate && d.V == math.MinInt32, (d.Kind == DTTimestamp || d.Kind == DTTimestampTZ) && d.V == math.MinInt64:
		return -1
	case d.Kind == DTDate && d.V == math.MaxInt32, (d.Kind == DTTimestamp || d.Kind == DTTimestampTZ) && d.V == math.MaxInt64:
		return 1
	}
	return 0
}

// NewDateTime wraps d as a Lua value.
func (s *State) NewDateTime(d DateTime) lua.LValue {
	ud := s.L.NewUserData()
	ud.Value = d
	if s.dtMT != nil {
		ud.Metatable = s.dtMT // a registry lookup per value otherwise (a date column per row)
	} else {
		ud.Metatable = s.L.GetTypeMetatable(dtMetaName)
	}
	return ud
}

// AsDateTime is the DateTime a Lua value holds, if it holds one.
func AsDateTime(v lua.LValue) (DateTime, bool) {
	if ud, ok := v.(*lua.LUserData); ok {
		d, ok := ud.Value.(DateTime)
		return d, ok
	}
	return DateTime{}, false
}

func (s *State) dtHost() DateTimeHost {
	h, _ := s.e.host.(DateTimeHost)
	return h
}

func (s *State) zoneOffset(t int64, local bool) int64 {
	h := s.dtHost()
	if h == nil {
		return 0
	}
	off, err := h.ZoneOffset(t, local)
	if err != nil {
		s.raise(err)
	}
	return int64(off)
}

// DateTimeText is the SQL text of d (ISO style; timestamptz in the session zone).
func (s *State) DateTimeText(d DateTime) string {
	if h := s.dtHost(); h != nil {
		t, err := h.DateTimeText(d)
		if err != nil {
			s.raise(err)
		}
		return t
	}
	// No backend: UTC, without PostgreSQL's formatting rules for BC and intervals.
	switch d.Kind {
	case DTDate:
		return pgTime(d.V * usPerDay).Format("2006-01-02")
	case DTTime:
		return pgTime(d.V).Format("15:04:05.999999")
	case DTTimestamp:
		return pgTime(d.V).Format("2006-01-02 15:04:05.999999")
	case DTTimestampTZ:
		return pgTime(d.V).Format("2006-01-02 15:04:05.999999-07")
	}
	return lua.LNumber(d.Months).String() + " mons " + lua.LNumber(d.Days).String() + " days " + fmtNumber(float64(d.V)/usPerSec) + " s"
}

// pgTime is the UTC time of microseconds since 2000-01-01.
func pgTime(us int64) time.Time {
	return time.Unix(unixToPG, 0).UTC().Add(time.Duration(floorDiv(us, usPerDay)) * 24 * time.Hour).
		Add(time.Duration(floorMod(us, usPerDay)) * time.Microsecond)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// civil splits microseconds since 2000-01-01 into date and time fields.
type civil struct {
	year, month, day, hour, min, sec, usec, dow, doy int64
}

func toCivil(us int64) civil {
	days := floorDiv(us, usPerDay)
	tod := us - days*usPerDay
	t := time.Unix(unixToPG+days*86400, 0).UTC()
	y := int64(t.Year())
	if y <= 0 {
		y-- // 1 BC is year -1, as extract(year ...) says
	}
	return civil{y, int64(t.Month()), int64(t.Day()), tod / 3_600_000_000, tod / 60_000_000 % 60,
		tod / usPerSec % 60, tod % usPerSec, int64(t.Weekday()), int64(t.YearDay())}
}

// fromCivil: microseconds since 2000-01-01 of a date (normalized as
// time.Date does) plus microseconds of the day.
func fromCivil(y, m, d int64, tod int64) int64 {
	if y < 0 {
		y++
	}
	t := time.Date(int(y), time.Month(m), int(d), 0, 0, 0, 0, time.UTC)
	days := floorDiv(t.Unix()-unixToPG, 86400)
	return days*usPerDay + tod
}

// local is the wall-clock microseconds of a timestamp (the session zone's for timestamptz).
func (s *State) local(d DateTime) (int64, int64) {
	if d.Kind == DTTimestampTZ {
		off := s.zoneOffset(d.V, false)
		return d.V + off*usPerSec, off
	}
	if d.Kind == DTDate {
		return d.V * usPerDay, 0
	}
	return d.V, 0
}

// clockField is the hour, min, sec or usec of v microseconds: a time of
// day, or an interval's time part (whose hours are not taken mod 24).
func clockField(v int64, name string) lua.LValue {
	switch name {
	case "hour":
		return lua.LNumber(v / 3_600_000_000)
	case "min":
		return lua.LNumber(v / 60_000_000 % 60)
	case "sec":
		return lua.LNumber(float64(v%60_000_000) / usPerSec)
	}
	return lua.LNumber(v % usPerSec)
}

// fields are what d.year, d.month... and d:as_table() give.
func (s *State) dtField(d DateTime, name string) lua.LValue {
	if inf := d.infinite(); inf != 0 {
		if name == "epoch" {
			return lua.LNumber(math.Inf(inf))
		}
		if name == "isfinite" {
			return lua.LFalse
		}
		return lua.LNil
	}
	if name == "isfinite" {
		return lua.LTrue
	}
	num := func(i int64) lua.LValue { return lua.LNumber(i) }
	switch d.Kind {
	case DTInterval:
		switch name {
		case "year":
			return num(int64(d.Months / 12))
		case "month":
			return num(int64(d.Months % 12))
		case "day", "days":
			return num(int64(d.Days))
		case "months":
			return num(int64(d.Months))
		case "microseconds":
			return s.IntValue(d.V)
		case "hour", "min", "sec", "usec":
			return clockField(d.V, name)
		case "epoch":
			secs := float64(d.Months/12)*365.25*86400 + float64(d.Months%12)*30*86400 + float64(d.Days)*86400
			return lua.LNumber(secs + float64(d.V)/usPerSec)
		}
		return lua.LNil
	case DTTime:
		switch name {
		case "hour", "min", "sec", "usec":
			return clockField(d.V, name)
		case "epoch":
			return lua.LNumber(float64(d.V) / usPerSec)
		}
		return lua.LNil
	}
	switch name {
	case "epoch", "epoch_us":
		us := d.V
		if d.Kind == DTDate {
			us = d.V * usPerDay
		}
		if name == "epoch_us" {
			return s.IntValue(us + unixToPG*usPerSec)
		}
		return lua.LNumber(float64(floorDiv(us, usPerSec)+unixToPG) + float64(floorMod(us, usPerSec))/usPerSec)
	}
	l, off := s.local(d)
	c := toCivil(l)
	switch name {
	case "year":
		return num(c.year)
	case "month":
		return num(c.month)
	case "day":
		return num(c.day)
	case "dow":
		return num(c.dow)
	case "doy":
		return num(c.doy)
	case "tz_offset":
		if d.Kind == DTTimestampTZ {
			return num(off)
		}
		return lua.LNil
	}
	if d.Kind == DTDate {
		return lua.LNil
	}
	switch name {
	case "hour":
		return num(c.hour)
	case "min":
		return num(c.min)
	case "sec":
		return lua.LNumber(float64(c.sec) + float64(c.usec)/usPerSec)
	case "usec":
		return num(c.usec)
	}
	return lua.LNil
}

// pgUnit: the fields PostgreSQL's date_part gives (and pllua's
// epoch_msec, epoch_usec, isoweek) that plerl's own fields (dtField) do not
// give for a kind: d.century, d.julian, d.minute, date.hour (0), and the
// units a type lacks (time.dow), which are PostgreSQL's error.
// A switch, not a map: a package-level map is built at package init, which
// every backend pays when Go starts (docs/internals/boundary.md, What the
// load costs).
func pgUnit(name string) bool {
	switch name {
	case "century", "decade", "millennium", "quarter", "week",
		"isoweek", "isodow", "isoyear", "julian", "microseconds",
		"milliseconds", "minute", "second", "timezone",
		"timezone_hour", "timezone_minute", "epoch_msec", "epoch_usec",
		"year", "month", "day", "hour", "dow", "doy":
		return true
	}
	return false
}

// DatePartHost is date_part(unit, d) of the backend (PostgreSQL's
// float8; isnull when the unit has no value).
type DatePartHost interface {
	DatePart(d DateTime, unit string) (float64, bool, error)
}

// dtPart is field unit of a finite d as pllua gives it: PostgreSQL's
// date_part, epoch and second as numbers, epoch_msec in milliseconds,
// epoch_usec exact (an int64 beyond 2^53), the others rounded to integers.
func (s *State) dtPart(d DateTime, unit string) lua.LValue {
	if unit == "epoch_usec" || unit == "epoch_msec" {
		us, ok := epochMicros(d)
		if !ok {
			s.raise(dtRange(d.Kind.String()))
		}
		if unit == "epoch_msec" {
			return lua.LNumber(float64(us) / 1000)
		}
		return s.IntValue(us)
	}
	h, ok := s.e.host.(DatePartHost)
	if !ok {
		return lua.LNil
	}
	pu := unit
	if unit == "isoweek" {
		pu = "week"
	}
	f, isnull, err := h.DatePart(d, pu)
	if err != nil {
		s.raise(err)
	}
	if isnull {
		return lua.LNil
	}
	if unit == "second" || math.IsInf(f, 0) {
		return lua.LNumber(f)
	}
	return lua.LNumber(math.RoundToEven(f))
}

// epochMicros is d's epoch in microseconds, exactly (an interval's as
// extract counts it: a year of 365.25 days, a month of 30).
func epochMicros(d DateTime) (int64, bool) {
	var us big.Int
	switch d.Kind {
	case DTDate:
		us.Mul(big.NewInt(d.V), big.NewInt(usPerDay))
		us.Add(&us, big.NewInt(unixToPG*usPerSec))
	case DTTime:
		us.SetInt64(d.V)
	case DTInterval:
		us.Mul(big.NewInt(int64(d.Months/12)), big.NewInt(31_557_600*usPerSec))
		us.Add(&us, new(big.Int).Mul(big.NewInt(int64(d.Months%12)), big.NewInt(30*usPerDay)))
		us.Add(&us, new(big.Int).Mul(big.NewInt(int64(d.Days)), big.NewInt(usPerDay)))
		us.Add(&us, big.NewInt(d.V))
	default:
		us.SetInt64(d.V)
		us.Add(&us, big.NewInt(unixToPG*usPerSec))
	}
	return us.Int64(), us.IsInt64()
}

// dtFieldNames by kind: an array, which the linker lays out (a map would
// be built at package init).
var dtFieldNames = [...][]string{
	DTDate:        {"year", "month", "day", "dow", "doy", "epoch"},
	DTTime:        {"hour", "min", "sec", "usec", "epoch"},
	DTTimestamp:   {"year", "month", "day", "hour", "min", "sec", "usec", "dow", "doy", "epoch"},
	DTTimestampTZ: {"year", "month", "day", "hour", "min", "sec", "usec", "dow", "doy", "epoch", "tz_offset"},
	DTInterval:    {"year", "month", "day", "hour", "min", "sec", "usec", "epoch"},
}

func (s *State) checkDT(L *lua.LState, n int) DateTime {
	d, ok := AsDateTime(L.Get(n))
	if !ok {
		s.raise(Errorf(sqlstate.DatatypeMismatch, "a date or time value expected, got %s", s.typeName(L.Get(n))))
	}
	return d
}

func dtRange(what string) *Error {
	return Errorf(sqlstate.DatetimeValueOutOfRange, "%s out of range", what)
}

// registerDateTime installs the metatable and the datetime global.
func (s *State) registerDateTime() {
	L := s.L
	mt := newTypeMeta(L, dtMetaName, 16)
	s.dtMT = mt
	mt.RawSetString("__name", lua.LString("datetime"))
	mt.RawSetString("__metatable", lua.LString("datetime"))
	methods := map[string]*lua.LFunction{
		"as_table": L.NewFunction(func(L *lua.LState) int {
			d := s.checkDT(L, 1)
			t := L.NewTable()
			if z := L.Get(2); z != lua.LNil {
				// pllua's as_table(zone): a timestamptz's fields in that zone.
				if d.Kind != DTTimestampTZ {
					s.raise(Errorf(sqlstate.InvalidParameterValue,
						"%scannot specify timezone parameter for this type (%s has no time zone)", where(L), d.Kind))
				}
				if d.infinite() == 0 {
					off := s.pgZoneOffset(s.pgZoneOf(z), d.V, false, lua.LNil)
					// The same wall clock as a timestamp, with this offset.
					local := DateTime{Kind: DTTimestamp, V: d.V + off*usPerSec}
					for _, f := range dtFieldNames[DTTimestamp] {
						if f == "epoch" {
							t.RawSetString(f, s.dtField(d, f))
						} else {
							t.RawSetString(f, s.dtField(local, f))
						}
					}
					t.RawSetString("tz_offset", lua.LNumber(off))
					L.Push(t)
					return 1
				}
			}
			for _, f := range dtFieldNames[d.Kind] {
				t.RawSetString(f, s.dtField(d, f))
			}
			L.Push(t)
			return 1
		}),
		"type": L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LString(s.checkDT(L, 1).Kind.String()))
			return 1
		}),
	}
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		d := s.checkDT(L, 1)
		k := L.CheckString(2)
		if m, ok := methods[k]; ok {
			L.Push(m)
			return 1
		}
		if f := s.dtField(d, k); f != lua.LNil {
			L.Push(f)
			return 1
		}
		if pgUnit(k) && d.infinite() == 0 {
			L.Push(s.dtPart(d, k))
			return 1
		}
		// The string methods, on the SQL text (d:match(...), d:sub(1, 4)):
		// these values were strings before they were values.
		if fn, ok := L.GetField(L.GetGlobal("string"), k).(*lua.LFunction); ok {
			L.Push(L.NewFunction(func(L *lua.LState) int {
				top := L.GetTop()
				args := []lua.LValue{lua.LString(s.DateTimeText(s.checkDT(L, 1)))}
				for i := 2; i <= L.GetTop(); i++ {
					args = append(args, L.Get(i))
				}
				L.Push(fn)
				for _, a := range args {
					L.Push(a)
				}
				L.Call(len(args), lua.MultRet)
				return L.GetTop() - top
			}))
			return 1
		}
		L.Push(lua.LNil)
		return 1
	}))
	tostr := func(L *lua.LState) int {
		L.Push(lua.LString(s.DateTimeText(s.checkDT(L, 1))))
		return 1
	}
	mt.RawSetString("__tostring", L.NewFunction(tostr))
	mt.RawSetString("__concat", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(s.tostring(L.CheckAny(1)) + s.tostring(L.CheckAny(2))))
		return 1
	}))
	mt.RawSetString("__eq", L.NewFunction(func(L *lua.LState) int {
		a, ok1 := AsDateTime(L.Get(1))
		b, ok2 := AsDateTime(L.Get(2))
		L.Push(lua.LBool(ok1 && ok2 && a.Kind == b.Kind && s.dtCompare(a, b) == 0))
		return 1
	}))
	mt.RawSetString("__lt", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(s.dtCompare(s.checkDT(L, 1), s.checkDT(L, 2)) < 0))
		return 1
	}))
	mt.RawSetString("__le", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(s.dtCompare(s.checkDT(L, 1), s.checkDT(L, 2)) <= 0))
		return 1
	}))
	mt.RawSetString("__add", L.NewFunction(func(L *lua.LState) int {
		L.Push(s.dtAdd(L.CheckAny(1), L.CheckAny(2), 1))
		return 1
	}))
	mt.RawSetString("__sub", L.NewFunction(func(L *lua.LState) int {
		L.Push(s.dtAdd(L.CheckAny(1), L.CheckAny(2), -1))
		return 1
	}))
	mt.RawSetString("__mul", L.NewFunction(func(L *lua.LState) int {
		a, b := L.CheckAny(1), L.CheckAny(2)
		if _, ok := AsDateTime(a); !ok {
			a, b = b, a
		}
		d := s.checkDTArg(a)
		f, ok := b.(lua.LNumber)
		if !ok || d.Kind != DTInterval {
			s.raise(Errorf(sqlstate.UndefinedFunction, "operator does not exist: %s * %s", s.typeName(a), s.typeName(b)))
		}
		L.Push(s.NewDateTime(intervalMul(d, float64(f))))
		return 1
	}))
	mt.RawSetString("__div", L.NewFunction(func(L *lua.LState) int {
		d := s.checkDT(L, 1)
		f, ok := L.Get(2).(lua.LNumber)
		if !ok || d.Kind != DTInterval {
			s.raise(Errorf(sqlstate.UndefinedFunction, "operator does not exist: %s / %s", s.typeName(L.Get(1)), s.typeName(L.Get(2))))
		}
		if f == 0 {
			s.raise(Errorf(sqlstate.DivisionByZero, "division by zero"))
		}
		L.Push(s.NewDateTime(intervalMul(d, 1/float64(f))))
		return 1
	}))
	mt.RawSetString("__unm", L.NewFunction(func(L *lua.LState) int {
		d := s.checkDT(L, 1)
		if d.Kind != DTInterval {
			s.raise(Errorf(sqlstate.UndefinedFunction, "operator does not exist: - %s", d.Kind))
		}
		if d.V == math.MinInt64 || d.Days == math.MinInt32 || d.Months == math.MinInt32 {
			s.raise(dtRange("interval"))
		}
		L.Push(s.NewDateTime(DateTime{Kind: DTInterval, V: -d.V, Days: -d.Days, Months: -d.Months}))
		return 1
	}))

	mod := L.CreateTable(0, int(DTInterval-DTDate)+1)
	for k := DTDate; k <= DTInterval; k++ {
		kind := k
		mod.RawSetString(kind.String(), L.NewFunction(func(L *lua.LState) int {
			L.Push(s.NewDateTime(s.dtConstruct(kind, L.CheckAny(1))))
			return 1
		}))
	}
	mod.RawSetString("is", L.NewFunction(func(L *lua.LState) int {
		d, ok := AsDateTime(L.Get(1))
		if ok && L.GetTop() >= 2 {
			ok = d.Kind.String() == L.CheckString(2)
		}
		L.Push(lua.LBool(ok))
		return 1
	}))
	L.SetGlobal("datetime", mod)
}

func (s *State) checkDTArg(v lua.LValue) DateTime {
	d, ok := AsDateTime(v)
	if !ok {
		s.raise(Errorf(sqlstate.DatatypeMismatch, "a date or time value expected, got %s", s.typeName(v)))
	}
	return d
}

// dtCompare orders two values of one kind (intervals by their span, a
// month as 30 days, as SQL compares them).
func (s *State) dtCompare(a, b DateTime) int {
	if a.Kind != b.Kind {
		s.raise(Errorf(sqlstate.UndefinedFunction, "cannot compare %s with %s", a.Kind, b.Kind))
	}
	if a.Kind == DTInterval {
		return intervalSpan(a).Cmp(intervalSpan(b))
	}
	switch {
	case a.V < b.V:
		return -1
	case a.V > b.V:
		return 1
	}
	return 0
}

func intervalSpan(d DateTime) *big.Int {
	n := big.NewInt(int64(d.Months)*30 + int64(d.Days))
	n.Mul(n, big.NewInt(usPerDay))
	return n.Add(n, big.NewInt(d.V))
}

func addInt64(a, b int64) (int64, bool) {
	c := a + b
	return c, (c > a) == (b > 0)
}

func addInt32(a, b int32) (int32, bool) {
	c := int64(a) + int64(b)
	return int32(c), c >= math.MinInt32 && c <= math.MaxInt32
}

// dtAdd is a + b (sign 1) or a - b (sign -1) with SQL's rules.
func (s *State) dtAdd(av, bv lua.LValue, sign int64) lua.LValue {
	a, aok := AsDateTime(av)
	b, bok := AsDateTime(bv)
	bad := func() lua.LValue {
		op := "+"
		if sign < 0 {
			op = "-"
		}
		an, bn := s.typeName(av), s.typeName(bv)
		if aok {
			an = a.Kind.String()
		}
		if bok {
			bn = b.Kind.String()
		}
		s.raise(Errorf(sqlstate.UndefinedFunction, "operator does not exist: %s %s %s", an, op, bn))
		return nil
	}
	if !aok {
		// number + date, interval + timestamp: commutative forms only.
		if sign < 0 {
			return bad()
		}
		if n, ok := av.(lua.LNumber); ok && b.Kind == DTDate {
			return s.dateAddDays(b, n, 1)
		}
		if b.Kind != DTInterval {
			return s.dtAdd(bv, av, 1)
		}
		return bad()
	}
	if !bok {
		if n, ok := bv.(lua.LNumber); ok && a.Kind == DTDate {
			return s.dateAddDays(a, n, sign)
		}
		return bad()
	}
	if b.Kind == DTInterval && a.Kind != DTInterval {
		iv := b
		if sign < 0 {
			iv = DateTime{Kind: DTInterval, V: -b.V, Days: -b.Days, Months: -b.Months}
		}
		switch a.Kind {
		case DTTimestamp, DTTimestampTZ:
			return s.NewDateTime(s.tsAddInterval(a, iv))
		case DTDate:
			return s.NewDateTime(s.tsAddInterval(DateTime{Kind: DTTimestamp, V: a.V * usPerDay}, iv))
		case DTTime:
			return s.NewDateTime(DateTime{Kind: DTTime, V: floorMod(a.V+floorMod(iv.V, usPerDay), usPerDay)})
		}
	}
	if a.Kind == DTInterval && b.Kind != DTInterval {
		if sign < 0 {
			return bad()
		}
		return s.dtAdd(bv, av, 1)
	}
	switch {
	case a.Kind == DTInterval && b.Kind == DTInterval:
		v, ok1 := addInt64(a.V, sign*b.V)
		d, ok2 := addInt32(a.Days, int32(sign)*b.Days)
		m, ok3 := addInt32(a.Months, int32(sign)*b.Months)
		if !ok1 || !ok2 || !ok3 {
			s.raise(dtRange("interval"))
		}
		return s.NewDateTime(DateTime{Kind: DTInterval, V: v, Days: d, Months: m})
	case sign < 0 && a.Kind == b.Kind && (a.Kind == DTTimestamp || a.Kind == DTTimestampTZ):
		if a.infinite() != 0 || b.infinite() != 0 {
			s.raise(Errorf(sqlstate.DatetimeValueOutOfRange, "cannot subtract infinite timestamps"))
		}
		us := a.V - b.V
		return s.NewDateTime(DateTime{Kind: DTInterval, Days: int32(us / usPerDay), V: us % usPerDay})
	case sign < 0 && a.Kind == DTDate && b.Kind == DTDate:
		if a.infinite() != 0 || b.infinite() != 0 {
			s.raise(Errorf(sqlstate.DatetimeValueOutOfRange, "cannot subtract infinite dates"))
		}
		return lua.LNumber(a.V - b.V)
	case sign < 0 && a.Kind == DTTime && b.Kind == DTTime:
		return s.NewDateTime(DateTime{Kind: DTInterval, V: a.V - b.V})
	case sign > 0 && (a.Kind == DTDate && b.Kind == DTTime || a.Kind == DTTime && b.Kind == DTDate):
		if a.Kind == DTTime {
			a, b = b, a
		}
		if a.infinite() != 0 {
			return s.NewDateTime(DateTime{Kind: DTTimestamp, V: map[int]int64{-1: math.MinInt64, 1: math.MaxInt64}[a.infinite()]})
		}
		return s.NewDateTime(DateTime{Kind: DTTimestamp, V: a.V*usPerDay + b.V})
	}
	return bad()
}

func (s *State) dateAddDays(a DateTime, n lua.LNumber, sign int64) lua.LValue {
	f := float64(n)
	if f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		s.raise(Errorf(sqlstate.InvalidParameterValue, "a date moves by a whole number of days, not %s", fmtNumber(f)))
	}
	if a.infinite() != 0 {
		return s.NewDateTime(a)
	}
	v := a.V + sign*int64(f)
	if v < -2451545 || v > 2147483494-2451545 {
		s.raise(dtRange("date"))
	}
	return s.NewDateTime(DateTime{Kind: DTDate, V: v})
}

// tsAddInterval: months, then days on the wall clock (the session zone's
// for timestamptz), then the microseconds, as timestamp + interval does.
func (s *State) tsAddInterval(a DateTime, iv DateTime) DateTime {
	if a.infinite() != 0 {
		return a
	}
	v := a.V
	if iv.Months != 0 || iv.Days != 0 {
		l, _ := s.local(a)
		c := toCivil(l)
		tod := l - floorDiv(l, usPerDay)*usPerDay
		if iv.Months != 0 {
			y, m := c.year, c.month
			if y < 0 {
				y++
			}
			total := y*12 + (m - 1) + int64(iv.Months)
			y, m = floorDiv(total, 12), floorMod(total, 12)+1
			last := int64(time.Date(int(y), time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day())
			day := c.day
			if day > last {
				day = last
			}
			if y <= 0 {
				y--
			}
			c.year, c.month, c.day = y, m, day
		}
		l = fromCivil(c.year, c.month, c.day, tod) + int64(iv.Days)*usPerDay
		if a.Kind == DTTimestampTZ {
			l -= s.zoneOffset(l, true) * usPerSec
		}
		v = l
	}
	v, ok := addInt64(v, iv.V)
	// PostgreSQL's range: 4714-11-24 BC to 294276 AD.
	if !ok || v < -211813488000000000 || v >= 9223371331200000000 {
		s.raise(dtRange("timestamp"))
	}
	return DateTime{Kind: a.Kind, V: v}
}

// intervalMul is interval * factor as PostgreSQL computes it (fractions of
// months cascade to days at 30 a month, of days to seconds).
func intervalMul(d DateTime, f float64) DateTime {
	monthD := float64(d.Months) * f
	months := int32(monthD)
	monthRemDays := (float64(d.Months)*f - float64(months)) * 30
	days := int32(float64(d.Days) * f)
	secRem := (float64(d.Days)*f - float64(days) + monthRemDays - math.Trunc(monthRemDays)) * 86400
	secRem = math.RoundToEven(secRem*usPerSec) / usPerSec
	if math.Abs(secRem) >= 86400 {
		days += int32(secRem / 86400)
		secRem -= math.Trunc(secRem/86400) * 86400
	}
	days += int32(monthRemDays)
	us := math.RoundToEven(float64(d.V)*f + secRem*usPerSec)
	return DateTime{Kind: DTInterval, V: int64(us), Days: days, Months: months}
}

// dtConstruct builds a value of kind from a string (SQL input), a table of
// fields, a number of seconds (since 1970 for dates and timestamps, since
// midnight for a time, a length for an interval), or another date/time value.
func (s *State) dtConstruct(kind DTKind, v lua.LValue) DateTime {
	switch x := v.(type) {
	case lua.LString:
		if h := s.dtHost(); h != nil {
			d, err := h.ParseDateTime(kind, string(x))
			if err != nil {
				s.raise(err)
			}
			return d
		}
		s.raise(Errorf(sqlstate.FeatureNotSupported, "datetime.%s from text needs a backend", kind))
	case lua.LNumber, *lua.LUserData:
		if d, ok := AsDateTime(v); ok {
			return s.dtConvert(d, kind)
		}
		us := s.secondsToMicros(v)
		switch kind {
		case DTDate:
			return DateTime{Kind: DTDate, V: floorDiv(us-unixToPG*usPerSec, usPerDay)}
		case DTTime:
			if us < 0 || us > usPerDay {
				s.raise(dtRange("time"))
			}
			return DateTime{Kind: DTTime, V: us}
		case DTInterval:
			return DateTime{Kind: DTInterval, V: us}
		}
		return DateTime{Kind: kind, V: us - unixToPG*usPerSec}
	case *lua.LTable:
		return s.dtFromTable(kind, x)
	}
	s.raise(Errorf(sqlstate.DatatypeMismatch, "cannot make a %s of %s", kind, s.typeName(v)))
	return DateTime{}
}

// secondsToMicros: exact for integers (numbers below 2^53, int64); a
// fraction of a second only where a double still holds microseconds.
func (s *State) secondsToMicros(v lua.LValue) int64 {
	if n, ok := v.(lua.LNumber); ok {
		f := float64(n)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			s.raise(dtRange("timestamp"))
		}
		if f == math.Trunc(f) && math.Abs(f) < maxExact {
			i := int64(f)
			if i > math.MaxInt64/usPerSec || i < math.MinInt64/usPerSec {
				s.raise(dtRange("timestamp"))
			}
			return i * usPerSec
		}
		us := f * usPerSec
		if math.Abs(us) >= maxExact {
			s.raise(Errorf(sqlstate.DatetimeValueOutOfRange,
				"%s seconds cannot be held to the microsecond by a Lua number", fmtNumber(f)))
		}
		return int64(math.RoundToEven(us))
	}
	i, err := s.ToInt(v, 64)
	if err != nil {
		s.raise(err)
	}
	if i > math.MaxInt64/usPerSec || i < math.MinInt64/usPerSec {
		s.raise(dtRange("timestamp"))
	}
	return i * usPerSec
}

func (s *State) dtFromTable(kind DTKind, t *lua.LTable) DateTime {
	get := func(name string, def int64) int64 {
		v := t.RawGetString(name)
		if v == lua.LNil {
			return def
		}
		i, err := s.ToInt(v, 64)
		if err != nil {
			s.raise(Errorf(sqlstate.InvalidParameterValue, "datetime field %s: %s", name, err.Error()))
		}
		return i
	}
	if e := t.RawGetString("epoch"); e != lua.LNil && kind != DTInterval {
		return s.dtConstruct(kind, e)
	}
	// sec may have a fraction (to the microsecond); usec adds microseconds.
	secUS := int64(0)
	if sv := t.RawGetString("sec"); sv != lua.LNil {
		if n, ok := sv.(lua.LNumber); ok && float64(n) != math.Trunc(float64(n)) {
			secUS = int64(math.RoundToEven(float64(n) * usPerSec))
		} else {
			secUS = get("sec", 0) * usPerSec
		}
	}
	tod := get("hour", 0)*3_600_000_000 + get("min", 0)*60_000_000 + secUS + get("usec", 0)
	switch kind {
	case DTInterval:
		m := get("year", 0)*12 + get("month", 0)
		d := get("day", 0)
		if m > math.MaxInt32 || m < math.MinInt32 || d > math.MaxInt32 || d < math.MinInt32 {
			s.raise(dtRange("interval"))
		}
		return DateTime{Kind: DTInterval, V: tod, Days: int32(d), Months: int32(m)}
	case DTTime:
		if tod < 0 || tod > usPerDay {
			s.raise(dtRange("time"))
		}
		return DateTime{Kind: DTTime, V: tod}
	}
	y := t.RawGetString("year")
	if y == lua.LNil {
		s.raise(Errorf(sqlstate.InvalidParameterValue, "datetime.%s needs a year (or an epoch)", kind))
	}
	year, month, day := get("year", 0), get("month", 1), get("day", 1)
	if year == 0 || year > 294276 || year < -4713 {
		s.raise(dtRange(kind.String()))
	}
	l := fromCivil(year, month, day, tod)
	switch kind {
	case DTDate:
		return DateTime{Kind: DTDate, V: floorDiv(l, usPerDay)}
	case DTTimestampTZ:
		return DateTime{Kind: DTTimestampTZ, V: l - s.zoneOffset(l, true)*usPerSec}
	}
	return DateTime{Kind: DTTimestamp, V: l}
}

// dtConvert is a cast between kinds (timestamptz <-> timestamp in the session zone).
func (s *State) dtConvert(d DateTime, kind DTKind) DateTime {
	if d.Kind == kind {
		return d
	}
	bad := func() DateTime {
		s.raise(Errorf(sqlstate.CannotCoerce, "cannot cast %s to %s", d.Kind, kind))
		return DateTime{}
	}
	if inf := d.infinite(); inf != 0 {
		switch kind {
		case DTTimestamp, DTTimestampTZ:
			return DateTime{Kind: kind, V: map[int]int64{-1: math.MinInt64, 1: math.MaxInt64}[inf]}
		case DTDate:
			return DateTime{Kind: kind, V: map[int]int64{-1: math.MinInt32, 1: math.MaxInt32}[inf]}
		}
		return bad()
	}
	switch d.Kind {
	case DTDate, DTTimestamp, DTTimestampTZ:
		l, _ := s.local(d)
		switch kind {
		case DTDate:
			return DateTime{Kind: DTDate, V: floorDiv(l, usPerDay)}
		case DTTime:
			return DateTime{Kind: DTTime, V: floorMod(l, usPerDay)}
		case DTTimestamp:
			return DateTime{Kind: DTTimestamp, V: l}
		case DTTimestampTZ:
			return DateTime{Kind: DTTimestampTZ, V: l - s.zoneOffset(l, true)*usPerSec}
		}
	case DTTime:
		if kind == DTInterval {
			return DateTime{Kind: DTInterval, V: d.V}
		}
	case DTInterval:
		if kind == DTTime {
			return DateTime{Kind: DTTime, V: floorMod(d.V, usPerDay)}
		}
	}
	return bad()
}
