package pl

import (
	"testing"

	lua "github.com/yuin/gopher-lua"
)

type fakeHost struct{}

func (fakeHost) Elog(level int, msg, detail, hint string) error { return nil }
func (fakeHost) SubxactBegin() error                            { return nil }
func (fakeHost) SubxactCommit() error                           { return nil }
func (fakeHost) SubxactAbort() error                            { return nil }
func (fakeHost) Poisoned() bool                                 { return false }

func triggerFor(t *testing.T, body string) (*Engine, *State, int64) {
	t.Helper()
	e := NewEngine(fakeHost{})
	id, err := e.Compile("trg", body, []string{"trigger"}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	return e, e.State(1, true), id
}

func newRow(s *State, cols []string, vals []lua.LValue) (*lua.LTable, []lua.LValue, []lua.LString) {
	t := s.L.NewTable()
	orig := make([]lua.LValue, len(cols))
	names := make([]lua.LString, len(cols))
	for i, c := range cols {
		names[i] = lua.LString(c)
		orig[i] = vals[i]
		if vals[i] != lua.LNil {
			t.RawSetString(c, vals[i])
		}
	}
	return t, orig, names
}

func TestTriggerResults(t *testing.T) {
	cases := []struct {
		body    string
		action  TriggerAction
		changed []bool
		errPart string
	}{
		{"", TriggerKeep, nil, ""},
		{"return nil", TriggerKeep, nil, ""},
		{"return 'OK'", TriggerKeep, nil, ""},
		{"return 'SKIP'", TriggerSkip, nil, ""},
		{"return false", TriggerSkip, nil, ""},
		{"trigger.new = nil", TriggerSkip, nil, ""},
		{"trigger.new.b = 'x'", TriggerModify, []bool{false, true}, ""},
		{"trigger.new.b = trigger.new.b", TriggerKeep, nil, ""},
		{"trigger.new.a = nil return 'MODIFY'", TriggerModify, []bool{true, false}, ""},
		{"return {a = 1}", TriggerModify, nil, ""},
		{"trigger.new.nmae = 1", TriggerKeep, nil, "does not exist"},
		{"return 42", TriggerKeep, nil, "returned a Lua number"},
		{"return true", TriggerKeep, nil, "returned true"},
	}
	for _, c := range cases {
		e, s, id := triggerFor(t, c.body)
		row, orig, names := newRow(s, []string{"a", "b"}, []lua.LValue{lua.LNumber(1), lua.LString("b")})
		res, err := e.CallTrigger(s, id, &TriggerData{Name: "t", Table: "tab", When: "BEFORE", Level: "ROW",
			Op: "UPDATE", ReturnsRow: true, New: row, Columns: names, NewValues: orig})
		if c.errPart != "" {
			if err == nil || !contains(err.Error(), c.errPart) {
				t.Errorf("%q: error %v, want %q", c.body, err, c.errPart)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.body, err)
			continue
		}
		if res.Action != c.action {
			t.Errorf("%q: action %v, want %v", c.body, res.Action, c.action)
		}
		if len(res.Changed) != len(c.changed) {
			t.Errorf("%q: changed %v, want %v", c.body, res.Changed, c.changed)
			continue
		}
		for i := range c.changed {
			if res.Changed[i] != c.changed[i] {
				t.Errorf("%q: changed %v, want %v", c.body, res.Changed, c.changed)
			}
		}
	}
}

func contains(s, part string) bool {
	for i := 0; i+len(part) <= len(s); i++ {
		if s[i:i+len(part)] == part {
			return true
		}
	}
	return false
}
