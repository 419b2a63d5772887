// string.format: Lua 5.1's directives only, its result size checked before it is built.
//
// gopher-lua handed the format to Go's fmt.Sprintf: `%#v`, `%p` and `%T`
// printed Go structures, code addresses and the internals of a pid, and a
// `%s` of big strings or a wide width built any size in one call. Here a
// directive is what Lua 5.1's scanformat accepts (flags "-+ #0", width and
// precision of at most 2 digits, one of c d i o u x X e E f g G q s, or %%);
// anything else is Lua's "invalid option" error.
package pl

import (
	"fmt"
	"math"
	"strconv"

	lua "github.com/yuin/gopher-lua"
)

// formatSpec is one parsed directive.
type formatSpec struct {
	flags       string
	width, prec int // prec -1: none
	conv        byte
}

// luaFormat is string.format(fmt, ...).
func (s *State) luaFormat(L *lua.LState) int {
	f := L.CheckString(1)
	// %s arguments are converted once (a __tostring runs once), then the
	// result is measured, reserved and built.
	strs := make([]string, L.GetTop()+1)
	size := s.formatPass(L, f, strs, nil)
	s.reserve(L, size, "string.format")
	out := make([]byte, 0, size)
	s.formatPass(L, f, strs, &out)
	L.Push(lua.LString(out))
	return 1
}

// formatPass walks the format. With out nil it only measures (and reports
// every error); otherwise it appends the result to *out. It returns the
// result's length (saturated as addSize does).
func (s *State) formatPass(L *lua.LState, f string, strs []string, out *[]byte) int {
	size := 0
	arg := 1
	var scratch []byte
	emit := func(b []byte) {
		size = addSize(size, len(b))
		if out != nil {
			*out = append(*out, b...)
		}
	}
	emitStr := func(str string) {
		size = addSize(size, len(str))
		if out != nil {
			*out = append(*out, str...)
		}
	}
	for i := 0; i < len(f); {
		j := i
		for j < len(f) && f[j] != '%' {
			j++
		}
		if j > i {
			emitStr(f[i:j])
		}
		if j >= len(f) {
			break
		}
		j++ // past '%'
		if j < len(f) && f[j] == '%' {
			emitStr("%")
			i = j + 1
			continue
		}
		spec, next := scanFormat(L, f, j)
		i = next
		arg++
		switch spec.conv {
		case 's':
			if out == nil {
				strs[arg] = s.formatString(L, arg)
			}
			str := strs[arg]
			if spec.prec >= 0 && len(str) > spec.prec {
				str = str[:spec.prec]
			}
			pad := spec.width - len(str)
			left := containsByte(spec.flags, '-')
			if pad > 0 && !left {
				emitStr(spaces(pad))
			}
			emitStr(str)
			if pad > 0 && left {
				emitStr(spaces(pad))
			}
		case 'q':
			if out == nil {
				strs[arg] = L.CheckString(arg)
				size = addSize(size, quotedLen(strs[arg]))
			} else {
				*out = appendQuoted(*out, strs[arg])
			}
		default:
			scratch = formatNumber(L, scratch[:0], spec, arg)
			emit(scratch)
		}
	}
	return size
}

// scanFormat parses the directive starting at f[i] (after the '%'), as
// Lua 5.1's scanformat, and returns it and the index after it.
func scanFormat(L *lua.LState, f string, i int) (formatSpec, int) {
	spec := formatSpec{prec: -1}
	start := i
	for i < len(f) && containsByte("-+ #0", f[i]) {
		i++
	}
	if i-start >= 6 {
		L.RaiseError("invalid format (repeated flags)")
	}
	spec.flags = f[start:i]
	digits := func() int {
		n, k := 0, 0
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			if k == 2 {
				L.RaiseError("invalid format (width or precision too long)")
			}
			n = n*10 + int(f[i]-'0')
			i++
			k++
		}
		return n
	}
	spec.width = digits()
	if i < len(f) && f[i] == '.' {
		i++
		spec.prec = digits()
	}
	if i >= len(f) {
		L.RaiseError("invalid option '%%' to 'format'")
	}
	c := f[i]
	if !containsByte("cdiouxXeEfgGqs", c) {
		L.RaiseError("invalid option '%%%c' to 'format'", c)
	}
	spec.conv = c
	return spec, i + 1
}

// formatString is the text of a %s argument: strings and numbers as Lua
// converts them, other values through tostring (with __tostring).
func (s *State) formatString(L *lua.LState, arg int) string {
	v := L.CheckAny(arg)
	switch x := v.(type) {
	case lua.LString:
		return string(x)
	case lua.LNumber:
		return numberText(x) // numtext.go
	}
	return s.tostring(v)
}

// formatNumber appends the numeric directive's text for argument arg, as
// C's printf does for Lua 5.1 (integers go through a C long).
func formatNumber(L *lua.LState, b []byte, spec formatSpec, arg int) []byte {
	v := float64(L.CheckNumber(arg))
	flags := spec.flags
	goSpec := func(verb byte, flags string) string {
		sp := "%" + flags
		if spec.width > 0 {
			sp += strconv.Itoa(spec.width)
		}
		if spec.prec >= 0 {
			sp += "." + strconv.Itoa(spec.prec)
		}
		return sp + string(verb)
	}
	switch spec.conv {
	case 'c':
		return fmt.Appendf(b, goSpec('s', removeBytes(flags, "0+ #")), string([]byte{byte(toCLong(v))}))
	case 'd', 'i':
		return fmt.Appendf(b, goSpec('d', removeBytes(flags, "#")), toCLong(v))
	case 'o', 'u', 'x', 'X':
		u := uint64(toCLong(v))
		flags = removeBytes(flags, "+ ")
		if u == 0 {
			flags = removeBytes(flags, "#") // C prints "0", not "0x0"
		}
		verb := spec.conv
		if verb == 'u' {
			verb = 'd'
		}
		return fmt.Appendf(b, goSpec(verb, flags), u)
	}
	// e E f g G
	if math.IsInf(v, 0) || math.IsNaN(v) {
		text := "inf"
		if math.IsNaN(v) {
			text = "nan"
		}
		if spec.conv == 'E' || spec.conv == 'G' {
			text = "INF"
			if math.IsNaN(v) {
				text = "NAN"
			}
		}
		switch {
		case math.Signbit(v) && !math.IsNaN(v):
			text = "-" + text
		case containsByte(flags, '+'):
			text = "+" + text
		case containsByte(flags, ' '):
			text = " " + text
		}
		spec.prec = -1 // a precision would cut the word
		return fmt.Appendf(b, goSpec('s', removeBytes(flags, "0+ #")), text)
	}
	if spec.prec < 0 {
		spec.prec = 6 // C's default; Go's %g would print the shortest form
	}
	return fmt.Appendf(b, goSpec(spec.conv, flags), v)
}

// toCLong converts like C's (long) cast on x86-64: truncation toward zero,
// and LONG_MIN for NaN and values out of range.
func toCLong(v float64) int64 {
	if math.IsNaN(v) || v >= 9223372036854775807 || v < -9223372036854775808 {
		return math.MinInt64
	}
	return int64(v)
}

// quotedLen is the length of %q of str (Lua 5.1's addquoted).
func quotedLen(str string) int {
	n := 2
	for i := 0; i < len(str); i++ {
		switch str[i] {
		case '"', '\\', '\n', '\r':
			n += 2
		case 0:
			n += 4
		default:
			n++
		}
		if n > maxStringBytes {
			return maxStringBytes + 1
		}
	}
	return n
}

func appendQuoted(b []byte, str string) []byte {
	b = append(b, '"')
	for i := 0; i < len(str); i++ {
		switch c := str[i]; c {
		case '"', '\\', '\n':
			b = append(b, '\\', c)
		case '\r':
			b = append(b, '\\', 'r')
		case 0:
			b = append(b, '\\', '0', '0', '0')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

func containsByte(s string, c byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return true
		}
	}
	return false
}

func removeBytes(s, drop string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if !containsByte(drop, s[i]) {
			out = append(out, s[i])
		}
	}
	return string(out)
}

// spaces is n spaces (n is at most 99: a width has two digits).
func spaces(n int) string {
	const sp = "                                                                                                    "
	return sp[:n]
}
