package pl

import (
	"strings"
	"testing"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// evalLua runs src as a trusted DO-style body and returns its first result
// as a string, or the error.
func evalLua(t *testing.T, e *Engine, src string) (string, *Error) {
	t.Helper()
	id, err := e.Compile("t", src, nil, true, false)
	if err != nil {
		t.Fatalf("compile %s: %v", src, err)
	}
	e.Enter()
	defer e.Leave()
	rets, err := e.Call(id, 1, true, nil)
	if err != nil {
		return "", err.(*Error)
	}
	if len(rets) == 0 {
		return "", nil
	}
	return rets[0].String(), nil
}

// Ordinary results are Lua 5.1's (checked against lua5.1 by hand).
func TestBudgetSemantics(t *testing.T) {
	e := NewEngine(fakeHost{})
	e.SetMemoryLimit(256 << 20)
	for src, want := range map[string]string{
		`return string.format('%5.2f|%-5d|%05d|%+d', 3.14159, 42, 42, 7)`:                                                     " 3.14|42   |00042|+7",
		`return string.format('%x %X %o', -1, 255, 8)`:                                                                        "ffffffffffffffff FF 10",
		`return string.format('%#x %#o %u', 255, 8, -1)`:                                                                      "0xff 010 18446744073709551615",
		`return string.format('%q', 'a"b\\c\n\r' .. string.char(0))`:                                                          "\"a\\\"b\\\\c\\\n\\r\\000\"",
		`return string.format('%g %g %g %e', 100000, 1e20, 0.1, 12.5)`:                                                        "100000 1e+20 0.1 1.250000e+01",
		`return string.format('%5s|%-5s|%.2s|%s', 'ab', 'ab', 'abc', 1.5)`:                                                    "   ab|ab   |ab|1.5",
		`return string.format('%d %i %c%c', 3.9, -3.9, 72, 105)`:                                                              "3 -3 Hi",
		`return string.format('%f %5.1f %G', 1/0, -1/0, 0/0)`:                                                                 "inf  -inf NAN",
		`return string.format('100%% %s', true)`:                                                                              "100% true",
		`return 'a' .. 1 .. 'b' .. 2.5`:                                                                                       "a1b2.5",
		`local t = setmetatable({}, {__concat = function(a, b) return 'T' end}) return 'x' .. t .. 'y'`:                       "xT",
		`local t = setmetatable({}, {__concat = function(a, b) return type(a) .. '+' .. type(b) end}) return t .. 'y' .. 'z'`: "table+string",
		`return table.concat({1, 'b', 3}, ', ')`:                                                                              "1, b, 3",
		`return table.concat({'a', 'b', 'c'}, '', 2, 3)`:                                                                      "bc",
		`return (string.gsub('hello world', '(o)', '[%1]'))`:                                                                  "hell[o] w[o]rld",
		`return (string.gsub('abc', '%w', '%0%0'))`:                                                                           "aabbcc",
		`return (string.gsub('abc', 'b', '%%'))`:                                                                              "a%c",
		`return select(2, string.gsub('aaa', 'a', 'b', 2))`:                                                                   "2",
		`return (string.gsub('$a $b', '%$(%w)', {a = 'A'}))`:                                                                  "A $b",
		`return (string.gsub('x y', '%w', function(c) return c:upper() end))`:                                                 "X Y",
		`return (string.gsub('abc', '^a', 'z'))`:                                                                              "zbc",
		`return (string.gsub('abc', '', '-'))`:                                                                                "-a-b-c-",
		`local n = 0 for a, b in string.gmatch('k=v, x=y', '(%w+)=(%w+)') do n = n + 1 end return n`:                          "2",
		`local t = {} for w in string.gmatch(string.rep('ab ', 1000), '%a+') do t[#t+1] = w end return #t`:                    "1000",
		`return string.upper('abcé') .. string.lower('ABC') .. string.reverse('abc')`:                                         "ABCÉ" + "abc" + "cba",
		`return select('#', string.byte('abc', 1, -1)) .. string.byte('abc') .. select('#', string.byte('abc'))`:              "3971",
		`return select('#', unpack({1, 2, 3}))`:                                                                               "3",
		`local t = {5, 3, 9, 1} table.sort(t) return table.concat(t, ',')`:                                                    "1,3,5,9",
		`local t = {5, 3, 9, 1} table.sort(t, function(a, b) return a > b end) return table.concat(t, ',')`:                   "9,5,3,1",
		`return #string.rep('ab', 3)`:                                                                                         "6",
		`local f = loadstring('return "a" .. "b"') return f()`:                                                                "ab",
		`setfenv(1, {}) return 'a' .. 'b'`:                                                                                    "ab",
	} {
		got, err := evalLua(t, e, src)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", src, got, err, want)
		}
	}
}

// Each error is the one Lua 5.1 gives (or ours for a size).
func TestBudgetErrors(t *testing.T) {
	e := NewEngine(fakeHost{})
	e.SetMemoryLimit(256 << 20)
	for src, want := range map[string]string{
		`return string.format('%#v', 1)`:                   "invalid option '%v' to 'format'",
		`return string.format('%p', print)`:                "invalid option '%p' to 'format'",
		`return string.format('%T', 1)`:                    "invalid option '%T' to 'format'",
		`return string.format('%100d', 1)`:                 "width or precision too long",
		`return string.format('%.100f', 1)`:                "width or precision too long",
		`return string.format('%------d', 1)`:              "repeated flags",
		`return string.format('%d', 'x')`:                  "number expected",
		`return 'a' .. nil`:                                "attempt to concatenate a nil value",
		`return {} .. 'a'`:                                 "attempt to concatenate a table value",
		`return unpack({}, 1, 5e6)`:                        "too many results to unpack",
		`return string.byte(string.rep('x', 9000), 1, -1)`: "string slice too long",
		`return table.concat({1, {}, 3})`:                  "invalid value (table) at index 2",
		`return (string.gsub('abc', '(a)', '%2'))`:         "invalid capture index",
		`return (string.gsub('abc', 'a', {a = {}}))`:       "invalid replacement value (a table)",
	} {
		_, err := evalLua(t, e, src)
		if err == nil || !strings.Contains(err.Message, want) {
			t.Errorf("%s: got %v; want %q", src, err, want)
		}
	}
}

// Results past the memory limit or maxStringBytes fail before they are
// built: 53200 (the limit) or 54000 (one result too large).
func TestBudgetSizes(t *testing.T) {
	e := NewEngine(fakeHost{})
	e.SetMemoryLimit(64 << 20)
	for src, want := range map[string]string{
		`local s = string.rep('x', 20e6) return #table.concat({s, s, s, s})`:                                       sqlstate.OutOfMemory,
		`local s = string.rep('x', 20e6) return #(s .. s .. s .. s)`:                                               sqlstate.OutOfMemory,
		`local s = string.rep('x', 20e6) local t = s for i = 1, 4 do t = t .. s end return #t`:                     sqlstate.OutOfMemory,
		`local s = string.rep('x', 20e6) return #string.format('%s%s%s%s', s, s, s, s)`:                            sqlstate.OutOfMemory,
		`local s = string.rep('x', 20e6) return #string.format('%q', s .. s)`:                                      sqlstate.OutOfMemory,
		`return #string.format(string.rep('%99d', 1e6), unpack({}))`:                                               sqlstate.InternalError, // no value: argument error
		`local s = string.rep('x', 1e6) return #(string.gsub(s, 'x', string.rep('y', 100)))`:                       sqlstate.OutOfMemory,
		`local s = string.rep('x', 1e6) return #(string.gsub(s, 'x', function() return string.rep('y', 100) end))`: sqlstate.OutOfMemory,
		`return #string.rep('x', 100e6)`:                                                                           sqlstate.OutOfMemory,
		`return #string.rep('x', 1e12)`:                                                                            sqlstate.ProgramLimitExceeded,
		`local s = string.rep('x', 40e6) return #string.upper(s) + #string.lower(s)`:                               sqlstate.OutOfMemory,
		`local s = string.rep('x', 40e6) return #string.reverse(s) + #string.reverse(s)`:                           sqlstate.OutOfMemory,
		`return #os.date(string.rep('%c', 4e6))`:                                                                   sqlstate.OutOfMemory,
		`local s = string.rep('x', 20e6) print(s, s, s, s)`:                                                        sqlstate.OutOfMemory,
		`local s = string.rep('x', 20e6) local ok = pcall(table.concat, {s, s, s, s}) return ok`:                   sqlstate.OutOfMemory,
	} {
		_, err := evalLua(t, e, src)
		if err == nil || err.SQLState != want {
			t.Errorf("%s: got %v; want %s", src, err, want)
		}
	}
}
