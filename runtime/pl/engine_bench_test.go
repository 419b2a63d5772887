package pl

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

type nopHost struct{}

func (nopHost) Elog(int, string, string, string) error { return nil }
func (nopHost) SubxactBegin() error                    { return nil }
func (nopHost) SubxactCommit() error                   { return nil }
func (nopHost) SubxactAbort() error                    { return nil }
func (nopHost) Poisoned() bool                         { return false }

// BenchmarkCallTrivial is the Go side of `SELECT f(i)` for f = return x + 1,
// without the cgo crossing: what the engine costs per call.
func BenchmarkCallTrivial(b *testing.B) {
	e := NewEngine(nopHost{})
	id, err := e.Compile("f", "return x + 1", []string{"x"}, true, false)
	if err != nil {
		b.Fatal(err)
	}
	s := e.State(10, true)
	args := []lua.LValue{lua.LNumber(1)}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Enter()
		args[0] = lua.LNumber(i)
		r, err := e.CallIn(s, id, args)
		e.Leave()
		if err != nil || len(r) != 1 {
			b.Fatal(err)
		}
	}
}

// BenchmarkConcatLoop is a tight `..` loop (compiled into luaConcat calls).
func BenchmarkConcatLoop(b *testing.B) {
	e := NewEngine(nopHost{})
	id, err := e.Compile("f", "local s = '' for i = 1, 100 do s = 'ab' .. x end return s", []string{"x"}, true, false)
	if err != nil {
		b.Fatal(err)
	}
	s := e.State(10, true)
	args := []lua.LValue{lua.LString("cd")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.Enter()
		_, err := e.CallIn(s, id, args)
		e.Leave()
		if err != nil {
			b.Fatal(err)
		}
	}
}
