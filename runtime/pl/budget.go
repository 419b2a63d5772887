// Budget: the built-ins whose work or result grows with their arguments,
// checked against plerl.lua_memory_limit before they allocate, or bounded.
//
// The poller (handler/poller.go) looks at the heap every 2 ms and stops the
// call between two Lua instructions, which cannot stop one Go call that
// builds a gigabyte: table.concat({s,s,s,s,s,s}) of 200 MB strings did.
// So every built-in that builds a result of n bytes first calls reserve(n).
//
// Every function a trusted role can reach (allowlist.go), with its verdict:
//
//	base:      assert, error, getfenv, getmetatable, ipairs, next, pairs,
//	           rawequal, rawget, rawset, setfenv, setmetatable, type,
//	           tonumber, pcall, xpcall: constant work and memory.
//	           tostring: small results for numbers, booleans, tables (an
//	           address); strings are returned as they are; __tostring is Lua.
//	           print: joins its arguments: reserve (state.go).
//	           unpack: at most maxResults results, as Lua 5.1's stack limit.
//	           select: linear in its arguments, which the stack bounds.
//	           load, loadstring: source bounded by maxSourceBytes (nesting.go).
//	           collectgarbage: ours, constant.
//	string:    byte: at most maxResults results. char: one byte per
//	           argument, bounded by the stack. len, sub (a slice, no copy),
//	           find, match: constant memory (patterns.go watches their time).
//	           rep, upper, lower, reverse: reserve. format: format.go.
//	           gsub, gmatch: gsub.go. dump: removed.
//	table:     concat: reserve. sort: interruptible (sortTable). insert,
//	           remove, getn, maxn: at most one table's size of work;
//	           insert at a far index fills the array part in one step
//	           (bounded by lua.MaxArrayIndex, docs/security.md).
//	math:      constant.
//	os:        time, clock, difftime: constant. date: reserve for the
//	           longest expansion of its format.
//	coroutine: create makes a thread of fixed size (the poller counts
//	           them); resume, yield, wrap move values already on a stack.
//	`..`:      compiled into a call of concatBuiltin (concat.go).
package pl

import (
	"runtime"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// reserveFloor: smaller results are left to the poller, which looks every
// 2 ms; reading the heap costs about a microsecond.
const reserveFloor = 64 << 10

// maxResults bounds the values one call of unpack or string.byte pushes,
// as Lua 5.1's LUAI_MAXCSTACK does (gopher-lua grew its stack one step at a
// time: unpack({}, 1, 5e6) ran for minutes without looking at cancel).
const maxResults = 8000

// addSize adds byte counts, saturating at maxStringBytes+1 (never overflows).
func addSize(a, b int) int {
	if a < 0 || b < 0 || a > maxStringBytes || b > maxStringBytes {
		return maxStringBytes + 1
	}
	return a + b
}

// mulSize multiplies byte counts, saturating like addSize.
func mulSize(a, b int) int {
	if a < 0 || b < 0 {
		return maxStringBytes + 1
	}
	if a == 0 || b == 0 {
		return 0
	}
	if a > (maxStringBytes+1)/b {
		return maxStringBytes + 1
	}
	return a * b
}

// reserve is asked by a built-in before it builds a result of n bytes
// (what names it in the error). Over maxStringBytes is 54000; beyond the
// memory limit (after one collection, as the poller judges) the call is
// stopped for memory, so the error is the uncatchable 53200 the poller's
// verdict gives.
func (s *State) reserve(L *lua.LState, n int, what string) {
	if err := s.reserveErr(where(L)+what, n); err != nil {
		s.raise(err)
	}
}

func (s *State) reserveErr(what string, n int) *Error {
	if n < 0 || n > maxStringBytes {
		return Errorf(sqlstate.ProgramLimitExceeded, "%s: result would be larger than %d bytes", what, maxStringBytes)
	}
	lim := s.e.memLimit
	if lim == 0 || n < reserveFloor {
		return nil
	}
	if heapBytes()+uint64(n) <= lim {
		return nil
	}
	runtime.GC()
	if heapBytes()+uint64(n) <= lim {
		return nil
	}
	s.e.InterruptForMemory()
	return s.e.CancelError()
}

// Reserve is reserve for a host's built-in that makes a value of about n
// bytes of Go heap from small arguments (pgtype's A(t, d1, d2, ...)), for
// it to return instead of raising: nil when it may go on.
func (s *State) Reserve(n int, what string) error {
	if err := s.reserveErr(what, n); err != nil {
		return err
	}
	return nil
}

// Cancelled is the call's cancel error once it was cancelled (nil before),
// for a host's Go loop whose length the arguments decide.
func (s *State) Cancelled() error {
	if s.e.cancelled() {
		return s.e.CancelError()
	}
	return nil
}

// MulSize multiplies byte counts, saturating above the largest value
// Reserve accepts (never overflows).
func MulSize(a, b int) int { return mulSize(a, b) }

// checkCancel raises the call's cancel error if it was cancelled; for Go
// loops whose length the arguments decide.
func (s *State) checkCancel(L *lua.LState) {
	if s.e.cancelled() {
		s.raise(s.e.CancelError())
	}
}

// installBudget replaces the library functions that need a bound.
func (s *State) installBudget(strTab, tabTab *lua.LTable) {
	L := s.L
	g := L.G.Global
	set := func(t *lua.LTable, name string, fn lua.LGFunction) { t.RawSetString(name, L.NewFunction(fn)) }

	set(strTab, "rep", func(L *lua.LState) int {
		str := L.CheckString(1)
		n := L.CheckInt64(2)
		if n <= 0 || str == "" {
			L.Push(lua.LString(""))
			return 1
		}
		size := maxStringBytes + 1
		if n <= maxStringBytes {
			size = mulSize(len(str), int(n))
		}
		s.reserve(L, size, "string.rep")
		L.Push(lua.LString(strings.Repeat(str, int(n))))
		return 1
	})
	// Unicode case mapping, as plerl always had (gopher-lua's was Go's
	// strings.ToUpper/ToLower; PostgreSQL users expect upper('é') = 'É'),
	// but bytes that are not UTF-8 stay as they are: strings.ToUpper turns
	// each into 3 bytes of U+FFFD, a result three times its argument. A
	// rune's other case is at most 3/2 its length in UTF-8.
	caseMap := func(name string, to func(rune) rune) lua.LGFunction {
		return func(L *lua.LState) int {
			str := L.CheckString(1)
			s.reserve(L, addSize(len(str), len(str)/2), name)
			b := make([]byte, 0, len(str))
			for i := 0; i < len(str); {
				r, n := utf8.DecodeRuneInString(str[i:])
				if r == utf8.RuneError && n <= 1 {
					b = append(b, str[i])
					i++
					continue
				}
				b = utf8.AppendRune(b, to(r))
				i += n
			}
			L.Push(lua.LString(b))
			return 1
		}
	}
	set(strTab, "upper", caseMap("string.upper", unicode.ToUpper))
	set(strTab, "lower", caseMap("string.lower", unicode.ToLower))
	set(strTab, "reverse", func(L *lua.LState) int {
		str := L.CheckString(1)
		s.reserve(L, len(str), "string.reverse")
		b := make([]byte, len(str))
		for i := range b {
			b[i] = str[len(str)-1-i]
		}
		L.Push(lua.LString(b))
		return 1
	})
	set(strTab, "byte", func(L *lua.LState) int {
		str := L.CheckString(1)
		i := L.OptInt(2, 1)
		j := L.OptInt(3, i)
		l := len(str)
		if i < 0 {
			i = l + i + 1
		}
		if j < 0 {
			j = l + j + 1
		}
		i = max(i, 1)
		j = min(j, l)
		if i > j {
			return 0
		}
		if j-i >= maxResults {
			L.RaiseError("string slice too long")
		}
		for k := i; k <= j; k++ {
			L.Push(lua.LNumber(str[k-1]))
		}
		return j - i + 1
	})
	set(strTab, "format", s.luaFormat) // format.go
	s.installGsub(strTab)              // gsub.go

	set(tabTab, "concat", s.luaTableConcat)
	set(tabTab, "sort", s.luaTableSort)

	set(g, "unpack", func(L *lua.LState) int {
		t := L.CheckTable(1)
		i := L.OptInt(2, 1)
		j := L.OptInt(3, t.Len())
		if i > j {
			return 0
		}
		if j-i >= maxResults || j-i < 0 {
			L.RaiseError("too many results to unpack")
		}
		for k := i; k <= j; k++ {
			L.Push(t.RawGetInt(k))
		}
		return j - i + 1
	})

	osTab := g.RawGetString("os").(*lua.LTable)
	if date, ok := osTab.RawGetString("date").(*lua.LFunction); ok {
		set(osTab, "date", func(L *lua.LState) int {
			if f, ok := L.Get(1).(lua.LString); ok {
				// %c, the longest directive, is 24 bytes.
				s.reserve(L, addSize(len(f), mulSize(strings.Count(string(f), "%"), 32)), "os.date")
			}
			return callOriginal(L, date)
		})
	}
}

// callOriginal calls fn with the arguments of the running built-in and
// returns all its results.
func callOriginal(L *lua.LState, fn *lua.LFunction) int {
	top := L.GetTop()
	L.Push(fn)
	for i := 1; i <= top; i++ {
		L.Push(L.Get(i))
	}
	L.Call(top, lua.MultRet)
	return L.GetTop() - top
}

// luaTableConcat is table.concat(t [, sep [, i [, j]]]), with gopher-lua's
// semantics (i and j are clamped to the sequence), its size checked
// before the result is built.
func (s *State) luaTableConcat(L *lua.LState) int {
	tbl := L.CheckTable(1)
	sep := L.OptString(2, "")
	n := tbl.Len()
	i := L.OptInt(3, 1)
	j := L.OptInt(4, n)
	if L.GetTop() == 3 && (i > n || i < 1) {
		L.Push(lua.LString(""))
		return 1
	}
	i = max(min(i, n), 1)
	j = min(j, n)
	if i > j {
		L.Push(lua.LString(""))
		return 1
	}
	size := 0
	var texts map[int]string // date and time values: their SQL text
	for k := i; k <= j; k++ {
		if k&0xffff == 0 {
			s.checkCancel(L)
		}
		v := tbl.RawGetInt(k)
		if d, ok := AsDateTime(v); ok {
			// Date and time values concatenate as their SQL text (they
			// were strings before they were values).
			if texts == nil {
				texts = map[int]string{}
			}
			texts[k] = s.DateTimeText(d)
			v = lua.LString(texts[k])
		}
		if t, ok := AsSQLText(v); ok {
			// Ranges and timetz values too.
			if texts == nil {
				texts = map[int]string{}
			}
			texts[k] = t
			v = lua.LString(t)
		}
		if !lua.LVCanConvToString(v) {
			L.RaiseError("invalid value (%s) at index %d in table for concat", v.Type().String(), k)
		}
		size = addSize(size, len(luaText(v)))
		if k != j {
			size = addSize(size, len(sep))
		}
	}
	s.reserve(L, size, "table.concat")
	var b strings.Builder
	b.Grow(size)
	for k := i; k <= j; k++ {
		if t, ok := texts[k]; ok {
			b.WriteString(t)
		} else {
			b.WriteString(luaText(tbl.RawGetInt(k)))
		}
		if k != j {
			b.WriteString(sep)
		}
	}
	L.Push(lua.LString(b.String()))
	return 1
}

// luaTableSort is table.sort(t [, comp]): gopher-lua's sort.Sort never
// looks at the call's context, and sorting millions of strings took
// seconds; ours checks it every few thousand comparisons.
func (s *State) luaTableSort(L *lua.LState) int {
	tbl := L.CheckTable(1)
	var comp *lua.LFunction
	if L.GetTop() > 1 && L.Get(2) != lua.LNil {
		comp = L.CheckFunction(2)
	}
	n := tbl.Len()
	if n < 2 {
		return 0
	}
	s.reserve(L, mulSize(n, 16), "table.sort")
	vals := make([]lua.LValue, n)
	for k := range vals {
		vals[k] = tbl.RawGetInt(k + 1)
	}
	count := 0
	sort.Sort(luaSorter{vals: vals, less: func(a, b lua.LValue) bool {
		if count++; count&0xfff == 0 {
			s.checkCancel(L)
		}
		if comp == nil {
			return L.LessThan(a, b)
		}
		L.Push(comp)
		L.Push(a)
		L.Push(b)
		L.Call(2, 1)
		r := lua.LVAsBool(L.Get(-1))
		L.Pop(1)
		return r
	}})
	for k, v := range vals {
		tbl.RawSetInt(k+1, v)
	}
	return 0
}

type luaSorter struct {
	vals []lua.LValue
	less func(a, b lua.LValue) bool
}

func (t luaSorter) Len() int           { return len(t.vals) }
func (t luaSorter) Swap(i, j int)      { t.vals[i], t.vals[j] = t.vals[j], t.vals[i] }
func (t luaSorter) Less(i, j int) bool { return t.less(t.vals[i], t.vals[j]) }
