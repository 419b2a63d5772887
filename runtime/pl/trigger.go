// Trigger: the trigger object a trigger function receives, and what its
// result means for the row.
package pl

import (
	"strings"

	"github.com/plerl/plerl/runtime/sqlstate"
	lua "github.com/yuin/gopher-lua"
)

// TriggerData is what the backend knows about one trigger firing.
type TriggerData struct {
	IsEvent bool
	Event   string // event triggers: ddl_command_start, ...
	Tag     string // event triggers: the command tag

	Name       string
	Table      string
	Schema     string
	Relid      uint32
	When       string // BEFORE, AFTER, INSTEAD OF
	Level      string // ROW, STATEMENT
	Op         string // INSERT, UPDATE, DELETE, TRUNCATE
	Args       []string
	Old, New   *lua.LTable // nil when the operation has no such row
	ReturnsRow bool        // BEFORE or INSTEAD OF, FOR EACH ROW

	// Columns are the table's column names ("" for a dropped column) and
	// NewValues what New held for each when the function started, to see
	// which columns the function changed.
	Columns   []lua.LString
	NewValues []lua.LValue
	// ChangedBuf, if long enough, holds TriggerResult.Changed (a buffer
	// the caller reuses across rows; nil: a new slice).
	ChangedBuf []bool

	// Attributes are the relation's column names by position ("" for a
	// dropped column), for trigger.relation; AttributesID identifies
	// them (the same id, the same names).
	Attributes   []lua.LString
	AttributesID int64

	// Reuse, when not nil, holds the trigger object of this function's
	// last row at this nesting depth, for CallTrigger to refill instead
	// of making a new one; CallTrigger leaves the one it used there.
	// Only for a function whose tables cannot outlive the call
	// (Engine.RowsStay).
	Reuse *RowTables
}

// RowTables are the tables of one trigger function's last row at one
// nesting depth, kept for the next row when the function cannot keep
// them itself (Engine.RowsStay).
type RowTables struct {
	Trigger, Old, New *lua.LTable
}

// Empty drops the values the tables hold between rows.
func (r *RowTables) Empty() {
	Empty(r.Trigger)
	Empty(r.Old)
	Empty(r.New)
}

// TriggerAction says what happens to the row.
type TriggerAction int

const (
	TriggerKeep   TriggerAction = iota // go on with the row unchanged
	TriggerSkip                        // skip the row
	TriggerModify                      // go on with Row (Changed columns, or all when nil)
)

// TriggerResult is a trigger function's answer.
type TriggerResult struct {
	Action  TriggerAction
	Row     *lua.LTable
	Changed []bool
}

// CallTrigger runs trigger function id in state s with the trigger object
// as its one argument (named trigger in the body).
//
// For BEFORE and INSTEAD OF row triggers, the result decides the row:
// nothing, nil, "OK" or "MODIFY" goes on with trigger.new as the function
// left it (changed fields and all; for DELETE, with the old row); "SKIP"
// or false skips the row; a table goes on with that table as the new row.
// Setting trigger.new to nil skips the row too. Other results are ignored.
func (e *Engine) CallTrigger(s *State, id int64, td *TriggerData) (TriggerResult, error) {
	L := s.L
	// The fixed fields come from a per-trigger prototype through the
	// metatable: a table of a dozen fields per row was most of the cost.
	// The per-row fields: a table of a fixed shape.
	mt := s.triggerMeta(td)
	var t *lua.LTable
	if td.Reuse != nil && triggerShape.Refill(td.Reuse.Trigger, mt) {
		t = td.Reuse.Trigger
	} else {
		t = triggerShape.New(L, mt)
		if td.Reuse != nil {
			td.Reuse.Trigger = t
		}
	}
	if len(td.Args) > 0 {
		// Per call: a function may change its copy. (No arguments: the
		// prototype's empty, read-only table.)
		args := L.CreateTable(len(td.Args), 0)
		for _, a := range td.Args {
			args.Append(lua.LString(a))
		}
		triggerShape.Set(t, "args", args)
	}
	if td.Old != nil {
		triggerShape.Set(t, "old", td.Old)
	}
	if td.New != nil {
		triggerShape.Set(t, "new", td.New)
	}
	// trigger.row: the row the operation acts on (pllua's name).
	row := td.New
	if td.Op == "DELETE" {
		row = td.Old
	}
	if row != nil {
		triggerShape.Set(t, "row", row)
	}
	var argsBuf [8]lua.LValue // CallIn only reads its arguments
	var args []lua.LValue
	if td.IsEvent {
		args = append(argsBuf[:0], t)
	} else {
		// pllua's parameters: trigger, old, new, then the arguments.
		args = append(argsBuf[:0], t, lua.LNil, lua.LNil)
		if td.Old != nil {
			args[1] = td.Old
		}
		if td.New != nil {
			args[2] = td.New
		}
		for _, a := range td.Args {
			args = append(args, lua.LString(a))
		}
	}
	rets, err := e.CallIn(s, id, args)
	if err != nil || !td.ReturnsRow {
		return TriggerResult{}, err
	}
	// trigger.row assigned: nil skips the row, a table replaces it.
	if cur := t.RawGetString("row"); row != nil && cur != lua.LValue(row) {
		switch r := cur.(type) {
		case *lua.LNilType:
			return TriggerResult{Action: TriggerSkip}, nil
		case *lua.LTable:
			if td.Op == "DELETE" {
				return TriggerResult{Action: TriggerKeep}, nil
			}
			if len(rets) == 0 || rets[0] == lua.LNil || rets[0] == lua.LValue(td.New) {
				return TriggerResult{Action: TriggerModify, Row: r}, nil
			}
		default:
			return TriggerResult{}, Errorf(sqlstate.DatatypeMismatch, "trigger.row must be a table, not %s", s.typeName(cur))
		}
	}
	var ret lua.LValue = lua.LNil
	if len(rets) > 0 {
		ret = rets[0]
	}
	switch r := ret.(type) {
	case lua.LString:
		switch r {
		case "SKIP":
			return TriggerResult{Action: TriggerSkip}, nil
		case "OK", "MODIFY":
		default:
			return TriggerResult{}, Errorf(sqlstate.InvalidParameterValue,
				"trigger function %q returned %q: return nil, a row table, \"SKIP\" or false", td.Name, string(r))
		}
	case lua.LBool:
		if !r {
			return TriggerResult{Action: TriggerSkip}, nil
		}
		return TriggerResult{}, Errorf(sqlstate.InvalidParameterValue,
			"trigger function %q returned true: return nil, a row table, \"SKIP\" or false", td.Name)
	case *lua.LTable:
		if r != td.New || td.Op == "DELETE" {
			if td.Op == "DELETE" {
				return TriggerResult{Action: TriggerKeep}, nil
			}
			return TriggerResult{Action: TriggerModify, Row: r}, nil
		}
	case *lua.LNilType:
	default:
		return TriggerResult{}, Errorf(sqlstate.InvalidParameterValue,
			"trigger function %q returned %s: return nil, a row table, \"SKIP\" or false", td.Name, s.typeName(ret))
	}
	if td.Op == "DELETE" {
		return TriggerResult{Action: TriggerKeep}, nil
	}
	cur := t.RawGetString("new")
	switch n := cur.(type) {
	case *lua.LNilType:
		return TriggerResult{Action: TriggerSkip}, nil
	case *lua.LTable:
		if n != td.New {
			return TriggerResult{Action: TriggerModify, Row: n}, nil
		}
	default:
		return TriggerResult{}, Errorf(sqlstate.DatatypeMismatch, "trigger.new must be a table, not %s", s.typeName(cur))
	}
	changed, any, unknown := rowChanges(td.New, td.Columns, td.NewValues, td.ChangedBuf)
	if unknown != "" {
		return TriggerResult{}, Errorf(sqlstate.UndefinedColumn,
			"column %q of relation %q does not exist", unknown, td.Table)
	}
	if !any {
		return TriggerResult{Action: TriggerKeep}, nil
	}
	return TriggerResult{Action: TriggerModify, Row: td.New, Changed: changed}, nil
}

// rowChanges compares a row table with the values it started with. Tables
// and userdata count as changed (their insides may have been), scalars are
// compared by value; a column set to a value of another type is changed.
// A field that is no column is reported (a typo would otherwise vanish).
// changed is buf (cleared) when it is long enough.
func rowChanges(t *lua.LTable, cols []lua.LString, orig []lua.LValue, buf []bool) ([]bool, bool, string) {
	var changed []bool
	if cap(buf) >= len(cols) {
		changed = buf[:len(cols)]
		clear(changed)
	} else {
		changed = make([]bool, len(cols))
	}
	any := false
	found := 0
	for i, name := range cols {
		if name == "" {
			continue
		}
		v := t.RawGetString(string(name))
		if v != lua.LNil {
			found++
		}
		o := orig[i]
		same := false
		switch x := v.(type) {
		case lua.LString, lua.LBool, *lua.LNilType:
			same = v == o
		case lua.LNumber:
			if y, ok := o.(lua.LNumber); ok {
				same = x == y
			}
		}
		if !same {
			changed[i] = true
			any = true
		}
	}
	// Every key a column (the usual case) when the table holds as many
	// string keys as columns found, and no other keys; else find the one
	// that is not.
	if n, ok := stringKeyCount(t); !ok || n != found {
		unknown := ""
		t.ForEach(func(k, _ lua.LValue) {
			if unknown != "" {
				return
			}
			if ks, ok := k.(lua.LString); ok && ks != "" {
				for _, c := range cols {
					if c == ks {
						return
					}
				}
			}
			unknown = k.String()
		})
		if unknown != "" {
			return nil, false, unknown
		}
	}
	return changed, any, ""
}

// triggerShape: the per-row fields of a trigger object.
var triggerShape = NewTableShape([]string{"args", "old", "new", "row"})

// triggerKey identifies what a trigger object's fixed fields hold.
type triggerKey struct {
	event, tag, name, table, schema, when, level, op, args string
	relid                                                  uint32
	attrs                                                  int64
}

// triggerMeta returns the metatable whose __index holds the fixed fields
// of this trigger firing (one per trigger, table and operation, per state).
func (s *State) triggerMeta(td *TriggerData) *lua.LTable {
	k := triggerKey{event: td.Event, tag: td.Tag, name: td.Name, table: td.Table, schema: td.Schema,
		when: td.When, level: td.Level, op: td.Op, relid: td.Relid, attrs: td.AttributesID}
	if len(td.Args) > 0 {
		k.args = strings.Join(td.Args, "\x00")
	}
	if s.lastTrigger.mt != nil && s.lastTrigger.key == k {
		return s.lastTrigger.mt
	}
	if mt, ok := s.triggerMetas[k]; ok {
		s.lastTrigger.key, s.lastTrigger.mt = k, mt
		return mt
	}
	L := s.L
	f := L.CreateTable(0, 12)
	if td.IsEvent {
		f.RawSetString("event", lua.LString(td.Event))
		f.RawSetString("tag", lua.LString(td.Tag))
	} else {
		f.RawSetString("name", lua.LString(td.Name))
		f.RawSetString("table_name", lua.LString(td.Table))
		f.RawSetString("table_schema", lua.LString(td.Schema))
		f.RawSetString("relid", lua.LNumber(td.Relid))
		f.RawSetString("when", lua.LString(td.When))
		f.RawSetString("level", lua.LString(td.Level))
		f.RawSetString("op", lua.LString(td.Op))
		f.RawSetString("operation", lua.LString(td.Op))
		// pllua's trigger.relation.
		attrs := L.CreateTable(0, len(td.Attributes))
		for i, a := range td.Attributes {
			if a != "" {
				attrs.RawSet(a, lua.LNumber(i+1))
			}
		}
		rel := L.CreateTable(0, 4)
		rel.RawSetString("name", lua.LString(td.Table))
		rel.RawSetString("namespace", lua.LString(td.Schema))
		rel.RawSetString("oid", lua.LNumber(td.Relid))
		rel.RawSetString("attributes", attrs)
		f.RawSetString("relation", rel)
		noArgs := L.CreateTable(0, 0)
		L.SetMetatable(noArgs, readOnly(L))
		f.RawSetString("args", noArgs)
	}
	mt := L.CreateTable(0, 2)
	mt.RawSetString("__index", f)
	mt.RawSetString("__metatable", lua.LString("trigger"))
	if s.triggerMetas == nil || len(s.triggerMetas) >= 1024 {
		s.triggerMetas = map[triggerKey]*lua.LTable{}
	}
	s.triggerMetas[k] = mt
	s.lastTrigger.key, s.lastTrigger.mt = k, mt
	return mt
}

// readOnly is the metatable of the shared empty trigger.args.
func readOnly(L *lua.LState) *lua.LTable {
	mt := L.CreateTable(0, 2)
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("trigger.args is read-only")
		return 0
	}))
	mt.RawSetString("__metatable", lua.LString("trigger.args"))
	return mt
}

// lastTrigger is a one-entry cache in front of State.triggerMetas (a bulk
// statement fires the same trigger for every row).
type lastTrigger struct {
	key triggerKey
	mt  *lua.LTable
}
