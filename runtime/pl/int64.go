// int64 userdata: integers beyond 2^53 that a Lua number would round.
package pl

import (
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

const int64MetaName = "int64"

// NewInt64 boxes an int64. Values within ±2^53 should be plain numbers;
// IntValue decides.
func (s *State) NewInt64(i int64) *lua.LUserData {
	ud := s.L.NewUserData()
	ud.Value = i
	ud.Metatable = s.L.GetTypeMetatable(int64MetaName)
	return ud
}

// CheckInt64Value unboxes an int64 userdata.
func (s *State) CheckInt64Value(ud *lua.LUserData) (int64, bool) {
	i, ok := ud.Value.(int64)
	return i, ok
}

func registerInt64(L *lua.LState) {
	mt := L.NewTypeMetatable(int64MetaName)
	mt.RawSetString("__name", lua.LString("int64"))
	mt.RawSetString("__metatable", lua.LString("int64"))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		ud := L.CheckUserData(1)
		i, _ := ud.Value.(int64)
		L.Push(lua.LString(strconv.FormatInt(i, 10)))
		return 1
	}))
}
