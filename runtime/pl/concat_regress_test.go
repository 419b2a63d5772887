package pl

import "testing"

// A `..` assigned to a variable it also reads (the rewrite once clobbered it).
func TestConcatAssignToOperand(t *testing.T) {
	e := NewEngine(fakeHost{})
	for src, want := range map[string]string{
		`local function plain(s)
  local i, j = string.find(s, 'n', 1, true)
  while i do
    s = s:sub(1, i - 1) .. '<node>' .. s:sub(j + 1)
    i, j = string.find(s, 'n', i + 6, true)
  end
  return s
end
return plain('a n b n c')`: "a <node> b <node> c",
		`local s = 'ab'; s = s:upper() .. s; return s`:                           "ABab",
		`local s = 'x'; local function f() s = s .. s:rep(2) end; f(); return s`: "xxx",
		`local t = {v = 'a'}; t.v = t.v .. t.v:upper(); return t.v`:              "aA",
		`local s = 'q'; s = (s .. 'r'):rep(2) .. s; return s`:                    "qrqrq",
		`local a = {'x'}; a[1] = a[1] .. #a[1]; return a[1]`:                     "x1",
	} {
		got, err := evalLua(t, e, src)
		if err != nil || got != want {
			t.Errorf("%s\n got %q %v, want %q", src, got, err, want)
		}
	}
}
