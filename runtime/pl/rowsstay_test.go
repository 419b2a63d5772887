package pl

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// The check of rowsstay.go on small trigger bodies: stay means the
// function provably keeps none of trigger, old, new (and what it reads of
// them) past the call.
func TestRowsStay(t *testing.T) {
	cases := []struct {
		body string
		stay bool
	}{
		{`trigger.new.y = trigger.new.x + 1`, true},
		{`new.d2 = new.d + 7`, true},
		{`if trigger.new.x < 0 then error('negative') end`, true},
		{`local n = trigger.new; n.a, n.b = n.b, n.a; return n`, true},
		{`if new.x == nil then return 'SKIP' end; new.y = nil; return trigger.new`, true},
		{`local r = trigger.row; if trigger.op == 'DELETE' then r = old end; r.x = 1`, true},
		{`for i = 1, 3 do new.x = new.x + i end`, true},
		{`local t = {}; t.x = new.x; print(t.x, trigger.name, ...)`, true},
		{`return trigger.old`, true},
		{`print(old and old.b, new.x)`, true}, // `and` passes on a false or nil, never the table
		{`g = trigger.old and trigger.old.id or 0`, true},
		{`if not old then print(old) end`, true},
		{`local a = {1, 2, new.x}; new.y = #a`, true},
		{`new.y = -new.x + #trigger.args`, true},
		{`if new == trigger.new and old ~= new then return end`, true},
		{`local k = 'x'; new[k] = new[k] + 1`, true},
		{`new.x = new.x .. '!' .. trigger.name`, true},    // .. is a call (concat.go) of plain values
		{`local n = trigger.new; n = {}; print(n)`, true}, // n no longer holds the row when printed

		{`saved = new`, false},
		{`saved = trigger.new`, false},
		{`_G.saved = trigger.row`, false},
		{`keep = {}; keep[1] = old`, false},
		{`local t = {new}`, false},
		{`local t = {}; t[new] = 1`, false},
		{`print(new)`, false},
		{`print(trigger)`, false},
		{`setmetatable(new, {})`, false},
		{`rawset(trigger.new, 'x', 1)`, false},
		{`pcall(function() new.x = 1 end)`, false},
		{`local f = function() return trigger end`, false},
		{`local n = trigger.new; local f = function() return n end`, false},
		{`coroutine.wrap(function() print(new) end)()`, false},
		{`new:foo()`, false},
		{`for k, v in pairs(new) do end`, false},
		{`local k = 'new'; saved = trigger[k]`, false},
		{`local n = trigger.new; if n then x = n end`, false},
		{`local x = 1; local n; if x then n = new end; g = n`, false},
		{`local t = {}; t.row = trigger.row; return t`, false},
		{`error(new)`, false},
		{`print(old or new)`, false},
		{`local t = {}; local x = t[new]`, false},
		{`local t = {}; local x = t + new`, false},
		{`local t = {}; local x = trigger.old - t`, false},
		{`local t = {}; t:f(new)`, false},
		{`if old then print(old) end`, false},
		// a value read from the trigger object under a run-time key may be
		// a row table; a row's fields are column values
		{`local k = 'new'; print(trigger[k])`, false},
		{`local k = 'x'; new[k] = new[k] .. '!'`, true},
		{`local t = trigger; local r = old or new; print(r.x, r[t.name], t.args)`, true},
		{`local t = new; print(t.new)`, true},
		{`return print(old)`, false},
		{`local s = new; while true do keep = s; break end`, false},
		// a closure made before its upvalue's register holds a row reads
		// the row when it runs (the open upvalue is the register)
		{`local x; local function get() return x end; saved = get; x = new`, false},
		{`local x; g = function() return x end; x = trigger`, false},
		{`local x; g = function() return x end; for i = 1, 2 do x = trigger.row end`, false},
		{`local x; g = function() return x end; x = new.id`, true}, // a column value
		{`local x; local f = function() x = 1 end; f(); new.y = x`, true},
	}
	for _, c := range cases {
		e := NewEngine(fakeHost{})
		id, err := e.CompileTrigger("trg", c.body, true, false)
		if err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		if got := e.RowsStay(id); got != c.stay {
			t.Errorf("%s: RowsStay = %v, want %v", c.body, got, c.stay)
		}
	}
}

// pllua's form (a function body that ends early) and the chunk form are
// not checked: never reused.
func TestRowsStayOtherForms(t *testing.T) {
	e := NewEngine(fakeHost{})
	id, err := e.CompileTrigger("trg", "new.x = 1 end local y = 2 do", true, false)
	if err != nil {
		t.Fatal(err)
	}
	if e.RowsStay(id) {
		t.Error("pllua form: RowsStay = true")
	}
	if e.RowsStay(12345) {
		t.Error("unknown function: RowsStay = true")
	}
}

// Refill takes back only a table that is still of the shape.
func TestRefill(t *testing.T) {
	if !fastTables {
		t.Skip("gopher-lua's LTable is not the mirrored one")
	}
	L := lua.NewState()
	defer L.Close()
	sh := NewTableShape([]string{"a", "", "b"})
	mt := L.NewTable()
	fresh := func() *lua.LTable {
		r := sh.New(L, mt)
		sh.Set(r, "a", lua.LNumber(1))
		sh.Set(r, "b", lua.LString("x"))
		return r
	}
	r := fresh()
	r.RawSetString("a", lua.LNil) // a deleted key keeps its place
	if !sh.Refill(r, mt) {
		t.Fatal("Refill refused an unchanged table")
	}
	if r.RawGetString("b") != lua.LNil || r.Len() != 0 {
		t.Error("Refill left a value")
	}
	n := 0
	r.ForEach(func(lua.LValue, lua.LValue) { n++ })
	if n != 0 {
		t.Errorf("a refilled table has %d entries", n)
	}
	for name, spoil := range map[string]func(*lua.LTable){
		"new key":    func(r *lua.LTable) { r.RawSetString("c", lua.LTrue) },
		"array":      func(r *lua.LTable) { r.RawSetInt(1, lua.LTrue) },
		"other key":  func(r *lua.LTable) { r.RawSet(lua.LTrue, lua.LTrue) },
		"metatable":  func(r *lua.LTable) { r.Metatable = L.NewTable() },
		"nil meta":   func(r *lua.LTable) { r.Metatable = lua.LNil },
		"emptied":    func(r *lua.LTable) { Empty(r); r.RawSetInt(1, lua.LTrue); Empty(r) },
		"other make": nil,
	} {
		r := fresh()
		if spoil == nil {
			r = L.NewTable()
			r.Metatable = mt
		} else {
			spoil(r)
		}
		if sh.Refill(r, mt) {
			t.Errorf("%s: Refill took the table", name)
		}
	}
	if sh.Refill(nil, mt) {
		t.Error("Refill(nil)")
	}
}
