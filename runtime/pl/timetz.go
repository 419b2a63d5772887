// timetz values: a time of day with a UTC offset, as pllua's pgtype.timetz
// has them. A timetz is its type (the host's handle) and its ISO text as
// PostgreSQL prints it (HH:MM:SS[.ffffff]+HH[:MM[:SS]]); its fields are
// read from that text. SQL reads it back through timetz's own input, so
// round trips are exact.
package pl

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
)

const timeTZMetaName = "timetz"

// TimeTZ is a timetz value.
type TimeTZ struct {
	Handle int32
	Text   string
	parsed bool
	us     int64 // microseconds since midnight, local
	zone   int64 // seconds east of UTC
}

// SQLText is its text.
func (t *TimeTZ) SQLText() string { return t.Text }

// NewTimeTZ wraps a timetz's ISO text as a Lua value.
func (s *State) NewTimeTZ(handle int32, text string) lua.LValue {
	ud := s.L.NewUserData()
	ud.Value = &TimeTZ{Handle: handle, Text: text}
	ud.Metatable = s.L.GetTypeMetatable(timeTZMetaName)
	return ud
}

// AsTimeTZ is the timetz a Lua value holds, if it holds one.
func AsTimeTZ(v lua.LValue) (*TimeTZ, bool) {
	if ud, ok := v.(*lua.LUserData); ok {
		t, ok := ud.Value.(*TimeTZ)
		return t, ok
	}
	return nil, false
}

func (s *State) checkTimeTZ(L *lua.LState, n int) *TimeTZ {
	if t, ok := AsTimeTZ(L.Get(n)); ok {
		return t
	}
	s.raise(Errorf(sqlstate.DatatypeMismatch, "a timetz expected, got %s", s.typeName(L.Get(n))))
	return nil
}

// parse reads HH:MM:SS[.ffffff]±HH[:MM[:SS]].
func (t *TimeTZ) parse(s *State) {
	if t.parsed {
		return
	}
	bad := func() {
		s.raise(Errorf(sqlstate.InternalError, "plerl: unexpected timetz text %q", t.Text))
	}
	i := strings.LastIndexAny(t.Text, "+-")
	if i < 0 {
		bad()
	}
	clock, zone := t.Text[:i], t.Text[i+1:]
	f := strings.Split(clock, ":")
	if len(f) != 3 {
		bad()
	}
	h, err1 := strconv.ParseInt(f[0], 10, 64)
	m, err2 := strconv.ParseInt(f[1], 10, 64)
	sec, frac, _ := strings.Cut(f[2], ".")
	sc, err3 := strconv.ParseInt(sec, 10, 64)
	var us int64
	if frac != "" {
		frac = (frac + "000000")[:6]
		u, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			bad()
		}
		us = u
	}
	if err1 != nil || err2 != nil || err3 != nil {
		bad()
	}
	var z int64
	for k, p := range strings.Split(zone, ":") {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || k > 2 {
			bad()
		}
		z += n * []int64{3600, 60, 1}[k]
	}
	if t.Text[i] == '-' {
		z = -z
	}
	t.us = ((h*60+m)*60+sc)*usPerSec + us
	t.zone = z
	t.parsed = true
}

var timeTZFieldNames = []string{"hour", "min", "sec", "usec", "timezone", "epoch"}

func (s *State) timeTZField(t *TimeTZ, name string) lua.LValue {
	t.parse(s)
	switch name {
	case "hour", "min", "sec", "usec":
		return clockField(t.us, name)
	case "timezone":
		return lua.LNumber(t.zone)
	case "epoch":
		// As SQL's extract(epoch from ...): the instant's seconds of a UTC day.
		return lua.LNumber(float64(t.us-t.zone*usPerSec) / usPerSec)
	// PostgreSQL's date_part units of a timetz (pllua's fields), computed
	// here exactly as timetz_part does; the date units are its error.
	case "minute":
		return lua.LNumber(t.us / 60_000_000 % 60)
	case "second":
		return lua.LNumber(float64(t.us%60_000_000) / usPerSec)
	case "milliseconds":
		return lua.LNumber(math.RoundToEven(float64(t.us%60_000_000) / 1000))
	case "microseconds":
		return lua.LNumber(t.us % 60_000_000)
	case "epoch_usec":
		return s.IntValue(t.us - t.zone*usPerSec)
	case "epoch_msec":
		return lua.LNumber(float64(t.us-t.zone*usPerSec) / 1000)
	case "timezone_hour":
		return lua.LNumber(t.zone / 3600)
	case "timezone_minute":
		return lua.LNumber(math.RoundToEven(math.Mod(float64(t.zone)/60, 60)))
	}
	if pgUnit(name) {
		s.raise(Errorf(sqlstate.FeatureNotSupported, "unit %q not supported for type time with time zone", name))
	}
	return lua.LNil
}

// timeTZText is the text timetz's input reads for pllua's table forms:
// {hour=, min=, sec=, usec=, timezone=} or {epoch=, timezone=} (epoch:
// seconds of the local day, taken modulo a day); timezone in seconds east
// of UTC, absent for the session's zone.
func (s *State) timeTZText(tbl *lua.LTable) string {
	num := func(k string) (float64, bool) {
		switch v := tbl.RawGetString(k).(type) {
		case *lua.LNilType:
			return 0, false
		case lua.LNumber:
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: invalid value in field '%s'", k))
			}
			return f, true
		default:
			if k == "timezone" {
				s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: non-numeric timezones not supported for 'timetz'"))
			}
			s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: invalid value in field '%s'", k))
		}
		return 0, false
	}
	var us int64
	if e, ok := num("epoch"); ok {
		for _, k := range []string{"hour", "min", "sec", "usec"} {
			if _, ok := num(k); ok {
				s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: field '%s' not allowed with 'epoch'", k))
			}
		}
		us = int64(math.Round(math.Mod(e, 86400) * usPerSec))
		if us < 0 {
			us += usPerDay
		}
	} else {
		h, _ := num("hour")
		m, _ := num("min")
		sec, _ := num("sec")
		u, _ := num("usec")
		for k, v := range map[string]float64{"hour": h, "min": m, "usec": u} {
			if v != math.Trunc(v) || math.Abs(v) > 1e12 {
				s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: invalid value in field '%s'", k))
			}
		}
		if math.Abs(sec) > 1e12 {
			s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: invalid value in field 'sec'"))
		}
		us = int64(h)*3_600_000_000 + int64(m)*60_000_000 + int64(math.Round(sec*usPerSec)) + int64(u)
		if us < 0 || us > usPerDay {
			s.raise(Errorf(sqlstate.DatetimeValueOutOfRange, "time out of range"))
		}
	}
	text := fmt.Sprintf("%02d:%02d:%02d.%06d", us/3_600_000_000, us/60_000_000%60, us/usPerSec%60, us%usPerSec)
	if z, ok := num("timezone"); ok {
		if z != math.Trunc(z) || math.Abs(z) > 15*3600+59*60+59 {
			s.raise(Errorf(sqlstate.InvalidParameterValue, "plerl: invalid value in field 'timezone'"))
		}
		sign, a := "+", int64(z)
		if a < 0 {
			sign, a = "-", -a
		}
		text += fmt.Sprintf("%s%02d:%02d:%02d", sign, a/3600, a/60%60, a%60)
	}
	return text
}

// stringMethod is the string library's function name applied to a
// value's text (r:match(...), t:sub(1, 2)), or nil.
func (s *State) stringMethod(L *lua.LState, name string) lua.LValue {
	fn, ok := L.GetField(L.GetGlobal("string"), name).(*lua.LFunction)
	if !ok {
		return lua.LNil
	}
	return L.NewFunction(func(L *lua.LState) int {
		top := L.GetTop()
		text, ok := AsSQLText(L.Get(1))
		if !ok {
			s.raise(Errorf(sqlstate.DatatypeMismatch, "bad argument #1 to '%s' (a value expected, got %s)", name, s.typeName(L.Get(1))))
		}
		L.Push(fn)
		L.Push(lua.LString(text))
		for i := 2; i <= top; i++ {
			L.Push(L.Get(i))
		}
		L.Call(top, lua.MultRet)
		return L.GetTop() - top
	})
}

func (s *State) registerTimeTZ() {
	L := s.L
	mt := s.textTypeMeta(timeTZMetaName, "timetz", func(L *lua.LState) string { return s.checkTimeTZ(L, 1).Text })
	mt.RawSetString("__eq", L.NewFunction(func(L *lua.LState) int {
		a, b := s.checkTimeTZ(L, 1), s.checkTimeTZ(L, 2)
		a.parse(s)
		b.parse(s)
		L.Push(lua.LBool(a.us == b.us && a.zone == b.zone))
		return 1
	}))
	methods := map[string]*lua.LFunction{
		"as_table": L.NewFunction(func(L *lua.LState) int {
			t := s.checkTimeTZ(L, 1)
			if L.GetTop() > 1 {
				s.raise(Errorf(sqlstate.InvalidParameterValue, "cannot specify timezone parameter for this type"))
			}
			tbl := L.CreateTable(0, len(timeTZFieldNames))
			for _, f := range timeTZFieldNames {
				tbl.RawSetString(f, s.timeTZField(t, f))
			}
			L.Push(tbl)
			return 1
		}),
		"type": L.NewFunction(func(L *lua.LState) int {
			s.checkTimeTZ(L, 1)
			L.Push(lua.LString("timetz"))
			return 1
		}),
	}
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		t := s.checkTimeTZ(L, 1)
		k := L.CheckString(2)
		if m, ok := methods[k]; ok {
			L.Push(m)
			return 1
		}
		if f := s.timeTZField(t, k); f != lua.LNil {
			L.Push(f)
			return 1
		}
		L.Push(s.stringMethod(L, k))
		return 1
	}))
}
