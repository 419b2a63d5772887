// Upvalues of the frames a caught error does not unwind.
//
// gopher-lua closes every open upvalue of the thread when an error is
// raised (LState.raiseError and Error call closeAllUpvalues): also those
// of the frames below the pcall, which go on running. A closure and the
// local it shares then drift apart:
//
//	local n = 0
//	local function inc() n = n + 1 end
//	pcall(error, 'x')
//	inc()
//	return n          -- 0 in gopher-lua, 1 in Lua
//
// plerl's pcall, xpcall and lpcall (and State.call: a plerl call nested
// in another's SQL runs on the same thread, and SQL may catch its error)
// note the open upvalues before the call
// (they belong to the frames below it) and, after a caught error that
// closed them, open them again as they were: no Lua code ran in between,
// so each register still holds the value its closed copy took. Those the
// failed call opened stay closed, as Lua closes the frames an error
// unwinds. Reaching the list takes unexported fields (LState.uvcache,
// Upvalue.next and Upvalue.closed); their offsets come from reflection,
// checked once by name and type. Without them (another gopher-lua) the
// calls go on as gopher-lua makes them.
package pl

import (
	"reflect"
	"sync"
	"unsafe"

	lua "github.com/yuin/gopher-lua"
)

var uvMirror struct {
	once    sync.Once
	ok      bool
	uvcache uintptr // offset in LState
	next    uintptr // offsets in Upvalue
	closed  uintptr
}

func checkUpvalueMirror() {
	uvMirror.once.Do(func() {
		uvp := reflect.TypeOf((*lua.Upvalue)(nil))
		c, ok1 := reflect.TypeOf(lua.LState{}).FieldByName("uvcache")
		n, ok2 := reflect.TypeOf(lua.Upvalue{}).FieldByName("next")
		d, ok3 := reflect.TypeOf(lua.Upvalue{}).FieldByName("closed")
		if !ok1 || !ok2 || !ok3 || c.Type != uvp || n.Type != uvp || d.Type.Kind() != reflect.Bool {
			return
		}
		uvMirror.uvcache, uvMirror.next, uvMirror.closed = c.Offset, n.Offset, d.Offset
		uvMirror.ok = true
	})
}

func uvHead(L *lua.LState) **lua.Upvalue {
	return (**lua.Upvalue)(unsafe.Add(unsafe.Pointer(L), uvMirror.uvcache))
}

func uvNext(uv *lua.Upvalue) **lua.Upvalue {
	return (**lua.Upvalue)(unsafe.Add(unsafe.Pointer(uv), uvMirror.next))
}

func uvClosed(uv *lua.Upvalue) *bool {
	return (*bool)(unsafe.Add(unsafe.Pointer(uv), uvMirror.closed))
}

// markUpvalues appends the open upvalues of L to s.uvOpen and returns
// where they start there (-1: the mirror is not usable).
func (s *State) markUpvalues(L *lua.LState) int {
	if !uvMirror.ok {
		return -1
	}
	start := len(s.uvOpen)
	for uv := *uvHead(L); uv != nil; uv = *uvNext(uv) {
		s.uvOpen = append(s.uvOpen, uv)
	}
	return start
}

// restoreUpvalues, after the protected call marked at start: on an error
// that closed the upvalues open before it, open them again, in their
// order; then drop the mark.
func (s *State) restoreUpvalues(L *lua.LState, start int, failed bool) {
	if start < 0 {
		return
	}
	open := s.uvOpen[start:]
	if failed && len(open) > 0 {
		all := true
		for _, uv := range open {
			all = all && *uvClosed(uv)
		}
		// All closed: closeAllUpvalues ran (a Go panic closes none, and
		// then the list is left as it is).
		if all && *uvHead(L) == nil {
			for i, uv := range open {
				*uvClosed(uv) = false
				if i+1 < len(open) {
					*uvNext(uv) = open[i+1]
				} else {
					*uvNext(uv) = nil
				}
			}
			*uvHead(L) = open[0]
		} else if !all {
			closeAfter(L, open)
		}
	} else if failed && *uvHead(L) != nil {
		closeAfter(L, open)
	}
	clear(open)
	s.uvOpen = s.uvOpen[:start]
}

// closeAfter, after a Go panic the protected call recovered (gopher-lua
// closes nothing then): close the upvalues the failed call opened, which
// follow those open before it (open, still first in the list, in order),
// as Lua closes the frames an error unwinds. Left open, they pointed at
// registers the next calls reuse: a closure made in the failed call read
// another call's local, and a later call's closure could share it. PCall
// has emptied those registers by now, so such a closure sees nil.
func closeAfter(L *lua.LState, open []*lua.Upvalue) {
	link := uvHead(L)
	for _, uv := range open {
		if *link != uv || *uvClosed(uv) {
			return // not as noted: leave the list as it is
		}
		link = uvNext(uv)
	}
	uv := *link
	*link = nil
	for uv != nil {
		next := *uvNext(uv)
		uv.Close()
		if uv.Value() == nil {
			// PCall already emptied the registers (Go nil): the value
			// is lost; nil, not another call's local, and no Go nil.
			uv.SetValue(lua.LNil)
		}
		*uvNext(uv) = nil
		uv = next
	}
}
