// timetz values read their fields from PostgreSQL's ISO text.
package pl

import "testing"

func TestTimeTZFields(t *testing.T) {
	s := newValuesState(t)
	for text, want := range map[string]string{
		"23:59:59.5-03:30":   "23 59 59.5 500000 -12600 98999.5",
		"00:00:00+00":        "0 0 0 0 0 0",
		"24:00:00+14":        "24 0 0 0 50400 36000",
		"10:00:00+05:30:15":  "10 0 0 0 19815 16185",
		"01:02:03.000004-01": "1 2 3.000004 4 -3600 7323.000004",
	} {
		s.L.SetGlobal("t", s.NewTimeTZ(1, text))
		got := luaResult(t, s, `return table.concat({ t.hour, t.min, t.sec, t.usec, t.timezone, t.epoch }, ' ')`)
		if got != want {
			t.Errorf("%s: %q, want %q", text, got, want)
		}
		if got := luaResult(t, s, `return tostring(t) .. '|' .. json.encode(t)`); got != text+`|"`+text+`"` {
			t.Errorf("%s: text %q", text, got)
		}
	}
	s.L.SetGlobal("t", s.NewTimeTZ(1, "garbage"))
	if got := luaResult(t, s, `return t.hour`); got != `error: plerl: unexpected timetz text "garbage"` {
		t.Errorf("garbage: %q", got)
	}
}
