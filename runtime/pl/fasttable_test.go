package pl

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// Tests that build tables without an engine take the fast path too.
func init() { checkFastTables() }

func TestFastTablesMirror(t *testing.T) {
	if !fastTables {
		t.Fatal("tableFields no longer mirrors gopher-lua's LTable: row tables take the slow path")
	}
}

// A table of a shape behaves as one built by RawSetString: pairs sees
// exactly its values, a nil key set later shows up, and a key one table
// gains is not seen by another of the same shape.
func TestTableShape(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	sh := NewTableShape([]string{"a", "", "b", "c", "a"})
	t1 := sh.New(L, nil)
	sh.Set(t1, "a", lua.LNumber(1))
	sh.Set(t1, "c", lua.LString("x"))
	sh.Set(t1, "b", lua.LNil)
	t2 := sh.New(L, nil)
	sh.Set(t2, "b", lua.LNumber(2))
	L.SetGlobal("t1", t1)
	L.SetGlobal("t2", t2)
	code := `
local function keys(t) local r = {} for k, v in pairs(t) do r[#r + 1] = k .. "=" .. tostring(v) end table.sort(r) return table.concat(r, ",") end
assert(keys(t1) == "a=1,c=x", keys(t1))
assert(keys(t2) == "b=2", keys(t2))
t1.zz = 5; t1.b = 7; t1.a = nil
assert(keys(t1) == "b=7,c=x,zz=5", keys(t1))
assert(keys(t2) == "b=2", keys(t2))
t2.zz = 6
assert(keys(t2) == "b=2,zz=6", keys(t2))
assert(keys(t1) == "b=7,c=x,zz=5", keys(t1))
local k = next(t2); assert(k ~= nil)
local e = {} for k in pairs(t2) do e[k] = (e[k] or 0) + 1 end
assert(e.b == 1 and e.zz == 1)
`
	if err := L.DoString(code); err != nil {
		t.Fatal(err)
	}
	if n, ok := stringKeyCount(t1); !ok || n != 3 {
		t.Fatalf("stringKeyCount(t1) = %d, %v", n, ok)
	}
	t3 := sh.New(L, nil)
	t3.RawSetInt(1, lua.LTrue)
	if _, ok := stringKeyCount(t3); ok {
		t.Fatal("stringKeyCount of a table with an array value")
	}
	t3.RawSetInt(1, lua.LNil)
	if n, ok := stringKeyCount(t3); !ok || n != 0 {
		t.Fatalf("stringKeyCount(t3) = %d, %v", n, ok)
	}
	// An empty shape: an ordinary empty table.
	e := NewTableShape(nil).New(L, nil)
	e.RawSetString("q", lua.LNumber(1))
	if e.RawGetString("q") != lua.LNumber(1) {
		t.Fatal("empty shape")
	}
}

func TestRowChangesUnknown(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	cols := []lua.LString{"x", "", "y"}
	sh := NewTableShape([]string{"x", "", "y"})
	row := sh.New(L, nil)
	sh.Set(row, "x", lua.LNumber(1))
	orig := []lua.LValue{lua.LNumber(1), lua.LNil, lua.LNil}
	buf := make([]bool, 0, 8)
	ch, any, unk := rowChanges(row, cols, orig, buf)
	if any || unk != "" || len(ch) != 3 {
		t.Fatal(ch, any, unk)
	}
	row.RawSetString("y", lua.LNumber(2))
	ch, any, unk = rowChanges(row, cols, orig, buf)
	if !any || unk != "" || !ch[2] || ch[0] {
		t.Fatal(ch, any, unk)
	}
	row.RawSetString("", lua.LNumber(2))
	if _, _, unk = rowChanges(row, cols, orig, buf); unk != "" { // as before: a "" key is not reported
		t.Fatal(unk)
	}
	row.RawSetString("", lua.LNil)
	row.RawSetString("z", lua.LNumber(2))
	if _, _, unk = rowChanges(row, cols, orig, buf); unk != "z" {
		t.Fatal(unk)
	}
	row.RawSetString("z", lua.LNil)
	row.RawSetInt(3, lua.LTrue)
	if _, _, unk = rowChanges(row, cols, orig, buf); unk != "3" {
		t.Fatal(unk)
	}
}
