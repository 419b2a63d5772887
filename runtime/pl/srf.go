// SRF: a set-returning function's body run as a coroutine, one row per
// coroutine.yield, resumed once per row by the backend.
package pl

import (
	lua "github.com/yuin/gopher-lua"
)

// SRF is one running call of a set-returning function.
type SRF struct {
	s       *State
	th      *lua.LState
	fn      *lua.LFunction
	args    []lua.LValue
	started bool
	done    bool

	// Rows of a table the body returned, handed out one per Next.
	rest     *lua.LTable
	restNext int
	restLen  int
	one      [1]lua.LValue
	live     bool // counted in liveSRFs
}

// liveSRFs counts coroutines of set-returning functions not yet finished
// or closed (plerl.internal_stats, for leak tests).
var liveSRFs int

// StartSRF prepares the coroutine of function id in state s; nothing runs
// until the first Next.
func (e *Engine) StartSRF(s *State, id int64, args []lua.LValue) (*SRF, error) {
	f, err := e.lookup(s, id)
	if err != nil {
		return nil, err
	}
	fn, err := s.instance(f)
	if err != nil {
		return nil, err
	}
	r := &SRF{s: s, fn: fn, th: s.newThread(s.L), live: true}
	liveSRFs++
	if len(args) > 0 {
		r.args = append([]lua.LValue(nil), args...)
	}
	return r, nil
}

// Next resumes the body until it yields a row (the values it yielded),
// returns (done), or fails. A table returned by the body is a list of
// rows, handed out one per Next after the yielded ones; any other value
// but nil is one last row.
func (r *SRF) Next() ([]lua.LValue, bool, error) {
	if r.rest != nil {
		if r.restNext < r.restLen {
			r.restNext++
			r.one[0] = r.rest.RawGetInt(r.restNext)
			return r.one[:], false, nil
		}
		r.rest = nil
		r.done = true
	}
	if r.done {
		return nil, true, nil
	}
	s := r.s
	L := s.L
	e := s.e
	if L.Context() != e.lctx {
		L.SetContext(e.lctx)
	}
	if r.th.Context() != e.lctx {
		r.th.SetContext(e.lctx)
	}
	// Resume from Go: keep the running-thread bookkeeping of whatever Lua
	// code (maybe a coroutine) is below us on the stack.
	cur := L.G.CurrentThread
	var st lua.ResumeState
	var err error
	var vals []lua.LValue
	if !r.started {
		r.started = true
		st, err, vals = L.Resume(r.th, r.fn, r.args...)
		r.args = nil
	} else {
		st, err, vals = L.Resume(r.th, nil)
	}
	L.G.CurrentThread = cur
	switch st {
	case lua.ResumeYield:
		return vals, false, nil
	case lua.ResumeOK:
		r.finish()
		var ret lua.LValue = lua.LNil
		if len(vals) > 0 {
			ret = vals[0]
		}
		switch x := ret.(type) {
		case *lua.LTable:
			r.rest, r.restNext, r.restLen = x, 0, x.Len()
			r.done = false
			return r.Next()
		case *lua.LNilType:
			return nil, true, nil
		}
		// Any other value (a string, number, userdata...) is one last
		// row, as in pllua: the values returned, like those yielded.
		return vals, false, nil
	default:
		r.finish()
		return nil, false, e.fromLuaError(err)
	}
}

func (r *SRF) finish() {
	if r.live {
		r.live = false
		liveSRFs--
	}
	r.done = true
	r.th = nil
	r.fn = nil
}

// Close drops the coroutine (the query stopped early or failed).
func (r *SRF) Close() {
	r.finish()
	r.rest = nil
}

// State is the state the function runs in.
func (r *SRF) State() *State { return r.s }
