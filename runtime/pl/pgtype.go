// pgtype: pllua's namespace of typed values. pgtype.<date/time type> makes
// date and time values (pgtype_dt.go).
package pl

import (
	lua "github.com/yuin/gopher-lua"
)

// pgtypeDateTime are the date and time types pgtype names directly.
var pgtypeDateTime = map[string]DTKind{
	"date": DTDate, "time": DTTime, "timestamp": DTTimestamp, "timestamptz": DTTimestampTZ, "interval": DTInterval,
}

func (s *State) registerPgtype() {
	L := s.L
	pg := L.NewTable()
	for name, k := range pgtypeDateTime {
		kind := k
		pg.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			L.Push(s.NewDateTime(s.pgDTConstruct(kind, L.CheckAny(1))))
			return 1
		}))
	}
	L.SetGlobal("pgtype", pg)
}
