// spi.error, spi.elog and the other levels: pllua's spelling of elog.*.
package pl

import (
	"fmt"
	"strings"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// plluaLevels are the severities spi.elog takes, by name.
var plluaLevels = map[string]int{
	"debug": LevelDebug, "log": LevelLog, "info": LevelInfo,
	"notice": LevelNotice, "warning": LevelWarning, "error": 0,
}

func (s *State) installSPIElog(mod *lua.LTable) {
	L := s.L
	for name, level := range plluaLevels {
		lv := level
		mod.RawSetString(name, L.NewFunction(func(L *lua.LState) int { return s.plluaElog(L, lv, 1) }))
	}
	mod.RawSetString("elog", L.NewFunction(func(L *lua.LState) int {
		name := strings.ToLower(L.CheckString(1))
		lv, ok := plluaLevels[name]
		if !ok {
			s.badArg(L, 1, "elog", "unknown severity \""+name+"\": debug, log, info, notice, warning or error")
		}
		return s.plluaElog(L, lv, 2)
	}))
}

// badArg raises 22023 for argument i of spi.fn.
func (s *State) badArg(L *lua.LState, i int, fn, msg string) {
	s.raise(&Error{Kind: KindError, SQLState: sqlstate.InvalidParameterValue,
		Message: fmt.Sprintf("%sbad argument #%d to spi.%s (%s)", where(L), i, fn, msg)})
}

// plluaElog reports or (level 0) raises, from pllua's arguments starting
// at index i: (message), (sqlstate, message [, detail [, hint]]) or one
// table {sqlstate =, message =, detail =, hint =}. A sqlstate is five
// characters or a condition name ("division_by_zero"); below error it
// is checked but not sent (the message goes out with its level only).
func (s *State) plluaElog(L *lua.LState, level, i int) int {
	fn := "elog"
	if i == 1 {
		fn = "error"
		for name, lv := range plluaLevels {
			if lv == level {
				fn = name
			}
		}
	}
	var code, msg, detail, hint lua.LValue = lua.LNil, lua.LNil, lua.LNil, lua.LNil
	if t, ok := L.Get(i).(*lua.LTable); ok && L.GetTop() == i {
		t.ForEach(func(k, v lua.LValue) {
			switch k {
			case lua.LString("sqlstate"):
				code = v
			case lua.LString("message"):
				msg = v
			case lua.LString("detail"):
				detail = v
			case lua.LString("hint"):
				hint = v
			default:
				s.badArg(L, i, fn, "unknown field "+s.tostring(k)+": sqlstate, message, detail or hint")
			}
		})
	} else if L.GetTop() <= i {
		msg = L.CheckAny(i)
	} else {
		code, msg, detail, hint = L.Get(i), L.Get(i+1), L.Get(i+2), L.Get(i+3)
	}
	e := &Error{Kind: KindError, SQLState: sqlstate.RaiseException}
	if msg == lua.LNil {
		s.badArg(L, i, fn, "message expected")
	}
	e.Message = s.tostring(msg)
	if code != lua.LNil {
		c, ok := code.(lua.LString)
		st := string(c)
		if ok && !validSQLState(st) {
			st = sqlstate.Code(strings.ToLower(st))
		}
		if !ok || st == "" {
			s.badArg(L, i, fn, "sqlstate must be 5 characters of 0-9 and A-Z or a condition name, not "+s.tostring(code))
		}
		e.SQLState = st
	}
	if detail != lua.LNil {
		e.Detail = s.tostring(detail)
	}
	if hint != lua.LNil {
		e.Hint = s.tostring(hint)
	}
	if level == 0 {
		L.Error(newErrorObject(L, e), 0)
		return 0
	}
	if err := s.e.host.Elog(level, e.Message, e.Detail, e.Hint); err != nil {
		s.raise(err)
	}
	return 0
}
