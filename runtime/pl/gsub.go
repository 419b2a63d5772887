// gsub and gmatch: matches found a batch at a time, results grown under the budget.
//
// gopher-lua's gsub collected every match first (a few dozen bytes each:
// gigabytes for a pattern that matches each byte of a large string), then
// rebuilt the whole string once per match (quadratic), and gmatch copied
// its subject and collected every match before the first iteration. Here
// matching goes in batches of findBatch, the call's cancellation is
// checked between batches, and gsub's result grows only after reserve.
package pl

import (
	"unsafe"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// findBatch is how many matches pm.Find returns at a time.
const findBatch = 256

// readOnlyBytes views str as bytes without copying; pm only reads them.
func readOnlyBytes(str string) []byte {
	if str == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(str), len(str))
}

// findEach calls fn for each match of pat in src from offset, at most limit
// of them (limit < 0: all), as pm.Find would find them, until fn returns
// false. Only findBatch matches exist at a time.
func findEach(pat string, src []byte, offset, limit int, fn func(md *pm.MatchData) bool) error {
	anchored := len(pat) > 0 && pat[0] == '^' // pm tries such a pattern at offset only
	count := 0
	for offset <= len(src) {
		batch := findBatch
		if limit >= 0 {
			batch = min(batch, limit-count)
			if batch <= 0 {
				return nil
			}
		}
		mds, err := pm.Find(pat, src, offset, batch)
		if err != nil {
			return err
		}
		for _, md := range mds {
			count++
			if !fn(md) {
				return nil
			}
		}
		if len(mds) < batch || anchored {
			return nil
		}
		// Where pm.Find would have gone on: past the match, and at least
		// one byte further than its start (an empty match).
		last := mds[len(mds)-1]
		offset = max(last.Capture(0)+1, last.Capture(1))
	}
	return nil
}

// installGsub replaces gsub and gmatch; guardPatterns wraps them later.
func (s *State) installGsub(strTab *lua.LTable) {
	strTab.RawSetString("gsub", s.L.NewFunction(s.luaGsub))
	strTab.RawSetString("gmatch", s.L.NewFunction(s.luaGmatch))
}

// capture returns capture k (1-based) of md as a Lua value; k 0, or 1 when
// the pattern has no captures, is the whole match.
func capture(L *lua.LState, md *pm.MatchData, str string, k int) lua.LValue {
	idx := 2 * k
	if k == 0 || (k == 1 && md.CaptureLength() == 2) {
		idx = 0
	} else if idx >= md.CaptureLength() {
		L.RaiseError("invalid capture index")
	}
	if md.IsPosCapture(idx) {
		return lua.LNumber(md.Capture(idx))
	}
	return lua.LString(str[md.Capture(idx):md.Capture(idx+1)])
}

// luaGsub is string.gsub(s, pattern, repl [, n]) with Lua 5.1's semantics.
func (s *State) luaGsub(L *lua.LState) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	L.CheckTypes(3, lua.LTString, lua.LTTable, lua.LTFunction)
	repl := L.Get(3)
	limit := -1
	if L.Get(4) != lua.LNil {
		limit = max(L.CheckInt(4), 0)
	}
	buf := budgetBuffer{s: s, L: L}
	last, n, batch := 0, 0, 0
	err := findEach(pat, readOnlyBytes(str), 0, limit, func(md *pm.MatchData) bool {
		if batch++; batch == findBatch {
			batch = 0
			s.checkCancel(L)
		}
		n++
		start, end := md.Capture(0), md.Capture(1)
		buf.appendString(str[last:start])
		whole := str[start:end]
		var v lua.LValue
		switch r := repl.(type) {
		case lua.LString:
			buf.appendRepl(L, md, str, string(r))
			last = end
			return true
		case *lua.LTable:
			v = L.GetTable(r, capture(L, md, str, 1))
		case *lua.LFunction:
			L.Push(r)
			nargs := 1
			if md.CaptureLength() > 2 {
				nargs = md.CaptureLength()/2 - 1
			}
			for k := 1; k <= nargs; k++ {
				L.Push(capture(L, md, str, k))
			}
			L.Call(nargs, 1)
			v = L.Get(-1)
			L.Pop(1)
		}
		switch x := v.(type) {
		case lua.LString, lua.LNumber:
			buf.appendString(lua.LVAsString(x))
		default:
			if lua.LVIsFalse(v) {
				buf.appendString(whole) // keep the original match
			} else {
				L.RaiseError("invalid replacement value (a %s)", v.Type().String())
			}
		}
		last = end
		return true
	})
	if err != nil {
		L.RaiseError("%s", err.Error())
	}
	if n == 0 {
		L.Push(lua.LString(str))
	} else {
		buf.appendString(str[last:])
		L.Push(lua.LString(buf.b))
	}
	L.Push(lua.LNumber(n))
	return 2
}

// luaGmatch is string.gmatch(s, pattern): an iterator that finds the
// matches a batch at a time.
func (s *State) luaGmatch(L *lua.LState) int {
	str := L.CheckString(1)
	pat := L.CheckString(2)
	src := readOnlyBytes(str)
	offset, done := 0, false
	var batch []*pm.MatchData
	L.Push(L.NewFunction(func(L *lua.LState) int {
		if len(batch) == 0 {
			if done {
				return 0
			}
			var err error
			batch, err = pm.Find(pat, src, offset, findBatch)
			if err != nil {
				L.RaiseError("%s", err.Error())
			}
			if len(batch) < findBatch || (len(pat) > 0 && pat[0] == '^') {
				done = true
			} else {
				last := batch[len(batch)-1]
				offset = max(last.Capture(0)+1, last.Capture(1))
			}
			if len(batch) == 0 {
				return 0
			}
		}
		md := batch[0]
		batch = batch[1:]
		if md.CaptureLength() == 2 {
			L.Push(capture(L, md, str, 0))
			return 1
		}
		n := md.CaptureLength()/2 - 1
		for k := 1; k <= n; k++ {
			L.Push(capture(L, md, str, k))
		}
		return n
	}))
	return 1
}

// budgetBuffer is a byte buffer that asks reserve before each growth.
type budgetBuffer struct {
	s *State
	L *lua.LState
	b []byte
}

func (bb *budgetBuffer) grow(n int) {
	need := addSize(len(bb.b), n)
	if need <= cap(bb.b) {
		return
	}
	newCap := max(need, min(2*cap(bb.b), maxStringBytes))
	bb.s.reserve(bb.L, need, "string.gsub")
	bb.s.reserve(bb.L, newCap, "string.gsub")
	nb := make([]byte, len(bb.b), newCap)
	copy(nb, bb.b)
	bb.b = nb
}

func (bb *budgetBuffer) appendString(str string) {
	bb.grow(len(str))
	bb.b = append(bb.b, str...)
}

// appendRepl appends a string replacement: %0-%9 are captures, % before
// any other character is that character (Lua 5.1's add_s).
func (bb *budgetBuffer) appendRepl(L *lua.LState, md *pm.MatchData, str, repl string) {
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '%' || i+1 >= len(repl) {
			bb.grow(1)
			bb.b = append(bb.b, c)
			continue
		}
		i++
		c = repl[i]
		if c < '0' || c > '9' {
			bb.grow(1)
			bb.b = append(bb.b, c)
			continue
		}
		bb.appendString(lua.LVAsString(capture(L, md, str, int(c-'0'))))
	}
}
