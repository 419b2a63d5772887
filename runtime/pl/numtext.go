package pl

import (
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// Numbers as text, as Lua 5.1 writes them (and pllua, whose Lua uses the
// same format): tostring, print, `..`, table.concat and string.format's %s
// write a number that is not whole as C's "%.14g" (Lua's LUAI_NUMFFORMAT):
// 0.1 + 0.2 is "0.3", -51916498.765433 is "-51916498.765433", where
// gopher-lua writes Go's shortest round-trip form ("0.30000000000000004",
// "-5.1916498765433e+07"). Whole numbers within int64's range keep every
// digit (Lua 5.1 would write 2^53 as "9.007199254741e+15"): plerl's
// integers stay exact. Infinities and NaN are written as gopher-lua writes
// them ("+Inf", "-Inf", "NaN"). A number converted to an SQL value is not
// text of this kind: it keeps every digit (docs/lua-api.md, Types).
func numberText(n lua.LNumber) string {
	f := float64(n)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return n.String()
	}
	if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', 14, 64)
}

// luaText is lua.LVAsString with Lua 5.1's text of numbers.
func luaText(v lua.LValue) string {
	if n, ok := v.(lua.LNumber); ok {
		return numberText(n)
	}
	return lua.LVAsString(v)
}

// installToString replaces the base library's tostring with one that
// writes numbers as numberText; every other value goes to the original.
func (s *State) installToString() {
	L := s.L
	orig, ok := L.GetGlobal("tostring").(*lua.LFunction)
	if !ok || orig.GFunction == nil {
		return
	}
	L.SetGlobal("tostring", L.NewFunction(func(L *lua.LState) int {
		if n, ok := L.Get(1).(lua.LNumber); ok {
			L.Push(lua.LString(numberText(n)))
			return 1
		}
		return orig.GFunction(L)
	}))
}
