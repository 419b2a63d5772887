// Patterns: string.find, match, gmatch and gsub run gopher-lua's matcher,
// a backtracking machine with no step limit that never looks at the call's
// context. string.find(string.rep('a', 3000), 'a*a*a*b') runs for hours,
// and the backend ignores statement_timeout, pg_cancel_backend and
// pg_terminate_backend all that time. So a match that could be long runs
// first on a goroutine of its own while the call waits for it or for its
// cancellation; once it finished in time, the library function runs as
// before (matching once more: at most twice the work, and only for
// matches big enough to need the guard).
package pl

import (
	"math"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/pm"
)

// patternGuardWork is the estimated work below which a match runs directly.
const patternGuardWork = 1e6

// patternSlot admits one guarded match at a time per backend: a match
// abandoned by a cancelled call keeps running until it ends, and the next
// guarded match waits (cancellably) rather than adding a second one.
var patternSlot = make(chan struct{}, 1)

// guardPatterns wraps the pattern functions of the string table.
func (s *State) guardPatterns(strTab *lua.LTable) {
	for _, name := range []string{"find", "match", "gmatch", "gsub"} {
		orig, ok := strTab.RawGetString(name).(*lua.LFunction)
		if !ok || !orig.IsG {
			continue
		}
		// The library function runs in our frame (same arguments, same
		// name in its error messages), with its upvalues (gmatch has one).
		name, gfn := name, orig.GFunction
		upvalues := make([]lua.LValue, len(orig.Upvalues))
		for i, uv := range orig.Upvalues {
			upvalues[i] = uv.Value()
		}
		strTab.RawSetString(name, s.L.NewClosure(func(L *lua.LState) int {
			s.prematch(L, name)
			return gfn(L)
		}, upvalues...))
	}
}

// prematch runs the match of string.<name>(args...) on another goroutine
// when its estimated work is large, and returns once it has finished; if
// the call is cancelled first, it raises (the context is cancelled, so
// the error is the call's cancel error and pcall cannot catch it).
func (s *State) prematch(L *lua.LState, name string) {
	str, ok1 := L.Get(1).(lua.LString)
	pat, ok2 := L.Get(2).(lua.LString)
	if !ok1 || !ok2 || len(pat) == 0 {
		return // the library function reports bad arguments itself
	}
	offset, limit := 0, -1
	switch name {
	case "find":
		if lua.LVAsBool(L.Get(4)) {
			return // plain
		}
		offset, limit = startIndex(len(str), L.Get(3)), 1
	case "match":
		offset, limit = startIndex(len(str), L.Get(3)), 1
	case "gsub":
		if n, ok := L.Get(4).(lua.LNumber); ok {
			limit = int(n)
		}
	}
	if offset > len(str) || patternWork(len(str)-offset, string(pat)) < patternGuardWork {
		return
	}
	ctx := s.e.ctx
	select {
	case patternSlot <- struct{}{}:
	case <-ctx.Done():
		L.RaiseError("canceled")
	}
	done := make(chan struct{})
	go func() {
		defer func() {
			recover() // pm panics only with its own errors; the real call reports them
			<-patternSlot
			close(done)
		}()
		// A batch at a time (findEach), so a scan of many matches neither
		// holds them all nor outlives its call by more than a batch.
		findEach(string(pat), readOnlyBytes(string(str)), offset, limit, func(*pm.MatchData) bool {
			return ctx.Err() == nil
		})
	}()
	select {
	case <-done:
	case <-ctx.Done():
		L.RaiseError("canceled")
	}
}

// startIndex is the 0-based start of find/match for Lua's init argument.
func startIndex(n int, v lua.LValue) int {
	i := 1
	if x, ok := v.(lua.LNumber); ok {
		i = int(x)
	}
	if i > 0 {
		return i - 1
	}
	if i < 0 {
		i = n + i
	}
	return max(i, 0)
}

// patternWork over-estimates the steps of matching pat against n bytes:
// every start position, times n per quantified item or %b (at most 4
// counted).
func patternWork(n int, pat string) float64 {
	q := 0
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '%':
			if i+1 < len(pat) && pat[i+1] == 'b' { // %bxy scans to its match
				q++
			}
			i++
		case '*', '+', '-', '?':
			q++
		}
	}
	return math.Pow(float64(n)+1, float64(min(q, 4)+1))
}
