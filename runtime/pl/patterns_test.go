package pl

import (
	"strings"
	"testing"
	"time"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// A catastrophic pattern match gives way to the call's cancellation, and
// results are those of the library functions.
func TestPatternGuard(t *testing.T) {
	e := NewEngine(fakeHost{})
	run := func(src string) (string, error) {
		id, err := e.Compile("p", src, nil, true, false)
		if err != nil {
			t.Fatal(err)
		}
		e.Enter()
		defer e.Leave()
		rets, err := e.Call(id, 1, true, nil)
		if err != nil || len(rets) == 0 {
			return "", err
		}
		return rets[0].String(), nil
	}
	for src, want := range map[string]string{
		`return (string.find('hello world', 'o w'))`:                                                    "5",
		`return select(3, string.find('key=val', '(%w+)=(%w+)'))`:                                       "key",
		`return string.match('  trim me  ', '^%s*(.-)%s*$')`:                                            "trim me",
		`return (string.gsub(string.rep('ab', 3000), 'a', 'x', 2))`:                                     "xbxb" + strings.Repeat("ab", 2998),
		`local n = 0 for w in string.gmatch(string.rep('a b ', 5000), '%a+') do n = n + 1 end return n`: "10000",
		`return string.match(string.rep('a', 2000), '(a+)', -3)`:                                        "aaa",
		`return (string.find(string.rep('a', 2000) .. 'b', 'a-b', 1500))`:                               "1500",
		`return #string.match(string.rep('(', 3000) .. string.rep(')', 3000), '%b()')`:                  "6000",
	} {
		got, err := run(src)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", src, got, err, want)
		}
	}
	time.AfterFunc(200*time.Millisecond, e.InterruptForQueryCancel)
	t0 := time.Now()
	_, err := run(`return string.find(string.rep('a', 3000), 'a*a*a*b')`)
	if err == nil || time.Since(t0) > 5*time.Second {
		t.Fatalf("catastrophic match: err %v after %v", err, time.Since(t0))
	}
	if pe, ok := err.(*Error); !ok || pe.SQLState != sqlstate.QueryCanceled {
		t.Errorf("want a 57014 cancel, got %#v", err)
	}
}
