// Sandbox: which standard libraries each language opens (an allow-list).
package pl

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"
)

// maxStringBytes bounds one string made by string.rep and friends, so a
// single call cannot allocate gigabytes before any budget check runs.
const maxStringBytes = 256 << 20

func init() {
	// gopher-lua fills every array slot up to an integer key below
	// MaxArrayIndex in one uninterruptible step: `t[67108863] = 1` allocated
	// 1 GB at the default 2^26. At 2^24 the worst single step is 256 MB (the
	// default plerl.lua_memory_limit); larger keys go to the hash part. The
	// price: `#t` of a sequence longer than 16,777,215 elements stops there.
	lua.MaxArrayIndex = 1 << 24
	// No implicit Lua 5.0 `arg` table in vararg functions: it cost an
	// allocation on every call of a function without arguments. `...` works.
	lua.CompatVarArg = false
}

// openLibs opens the allow-listed libraries. Trusted (plerl): base without
// dofile, loadfile, require and collectgarbage's whole-process effects;
// string, table, math, coroutine; os.time, os.clock, os.date, os.difftime.
// Untrusted (plerlu) also gets io, os (never os.exit) and package.
func openLibs(s *State) {
	L := s.L
	open := func(name string, fn lua.LGFunction) {
		L.Push(L.NewFunction(fn))
		L.Push(lua.LString(name))
		L.Call(1, 0)
	}
	open(lua.BaseLibName, lua.OpenBase)
	open(lua.TabLibName, lua.OpenTable)
	open(lua.StringLibName, lua.OpenString)
	open(lua.MathLibName, lua.OpenMath)
	open(lua.CoroutineLibName, lua.OpenCoroutine)
	open(lua.OsLibName, lua.OpenOs)
	if !s.Trusted {
		open(lua.LoadLibName, lua.OpenPackage)
		open(lua.IoLibName, lua.OpenIo)
	}

	g := L.G.Global
	for _, name := range []string{"dofile", "loadfile", "require", "module", "newproxy"} {
		if s.Trusted || name == "newproxy" {
			g.RawSetString(name, lua.LNil)
		}
	}
	g.RawSetString("collectgarbage", L.NewFunction(luaCollectGarbage))
	// As in real Lua, setmetatable takes tables only (gopher-lua would let
	// a script give every number, boolean or function a metatable).
	setmt := g.RawGetString("setmetatable").(*lua.LFunction)
	g.RawSetString("setmetatable", L.NewFunction(func(L *lua.LState) int {
		L.CheckTable(1)
		L.Push(setmt)
		L.Push(L.Get(1))
		L.Push(L.Get(2))
		L.Call(2, 1)
		return 1
	}))
	// load/loadstring take source text only (gopher-lua has no binary
	// chunks); the loaded chunk runs in the caller's environment. Ours
	// refuse source nested too deep to compile safely (nesting.go).
	g.RawSetString("loadstring", L.NewFunction(func(L *lua.LState) int {
		return loadChunk(L, L.CheckString(1), L.OptString(2, "<string>"))
	}))
	g.RawSetString("load", L.NewFunction(luaLoad))

	osTab := L.GetGlobal("os").(*lua.LTable)
	if s.Trusted {
		safe := L.NewTable()
		for _, name := range []string{"time", "clock", "date", "difftime"} {
			safe.RawSetString(name, osTab.RawGetString(name))
		}
		L.SetGlobal("os", safe)
	} else {
		osTab.RawSetString("exit", L.NewFunction(func(L *lua.LState) int {
			L.RaiseError("os.exit is not allowed inside PostgreSQL")
			return 0
		}))
	}

	strTab := L.GetGlobal("string").(*lua.LTable)
	strTab.RawSetString("dump", lua.LNil)
	// gopher-lua's debugging aid writes raw lines to the server's stderr
	// (the log): a role could forge a FATAL line or flood the log.
	g.RawSetString("_printregs", lua.LNil)
	s.installBudget(strTab, L.GetGlobal("table").(*lua.LTable)) // budget.go
	strTab.RawSetString(concatKey, L.NewFunction(s.luaConcat))  // concat.go
	s.guardPatterns(strTab)                                     // patterns.go
	// Lua 5.0's name for gmatch: gopher-lua's copy is the unguarded original.
	strTab.RawSetString("gfind", strTab.RawGetString("gmatch"))
	// Scripts must not change the metatable every string shares.
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		mt.RawSetString("__metatable", lua.LFalse)
	}
}

// collectgarbage("count") reports an estimate; other options do nothing,
// since a full collection here would stop the whole Go runtime.
func luaCollectGarbage(L *lua.LState) int {
	opt := L.OptString(1, "collect")
	switch opt {
	case "count":
		L.Push(lua.LNumber(float64(heapBytes()) / 1024))
		return 1
	default:
		L.Push(lua.LNumber(0))
		return 1
	}
}

// loadChunk compiles src like gopher-lua's loadstring (nil and a message on
// failure), refusing source nested deeper than maxSourceDepth.
func loadChunk(L *lua.LState, src, name string) int {
	var chunk []ast.Stmt
	err := checkSource(src)
	if err == nil {
		chunk, err = parse.Parse(strings.NewReader(src), name)
	}
	if err == nil {
		err = checkNesting(chunk)
	}
	if err == nil {
		concatFix(chunk) // concat.go
	}
	var proto *lua.FunctionProto
	if err == nil {
		proto, err = lua.Compile(chunk, name)
	}
	if err != nil {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	L.Push(L.NewFunctionFromProto(proto))
	return 1
}

// luaLoad is load(reader [, chunkname]): the pieces reader returns, joined.
func luaLoad(L *lua.LState) int {
	fn := L.CheckFunction(1)
	name := L.OptString(2, "?")
	top := L.GetTop()
	var buf strings.Builder
	for {
		L.SetTop(top)
		L.Push(fn)
		L.Call(0, 1)
		ret := L.Get(-1)
		if ret == lua.LNil {
			break
		}
		if !lua.LVCanConvToString(ret) {
			L.Push(lua.LNil)
			L.Push(lua.LString("reader function must return a string"))
			return 2
		}
		piece := ret.String()
		if piece == "" {
			break
		}
		if buf.Len()+len(piece) > maxSourceBytes {
			L.Push(lua.LNil)
			L.Push(lua.LString(errSourceTooLarge{buf.Len() + len(piece)}.Error()))
			return 2
		}
		buf.WriteString(piece)
	}
	L.SetTop(top)
	return loadChunk(L, buf.String(), name)
}

// where is the Lua caller's "chunk:line: " prefix, as RaiseError makes it.
func where(L *lua.LState) string {
	if w := L.Where(1); w != "" {
		return w + " "
	}
	return ""
}
