// The JSON lexer shared by FromJSON and the Lua json module (runtime/pl):
// whitespace, the number grammar, and string literals decoded by jsonb's
// rules, so that SQL and Lua read the same text the same way.
package term

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// JSONSyntaxError is a lexical error in JSON text: Offset is the byte
// where it was found. Callers wrap it in their own error (a *JSONError for
// the term mapping, SQLSTATE 22032 in Lua).
type JSONSyntaxError struct {
	Offset int
	Reason string
}

func (e *JSONSyntaxError) Error() string {
	return "json: " + e.Reason + " at byte " + strconv.Itoa(e.Offset)
}

// SkipJSONSpace returns the offset of the first byte at or after pos that
// is not JSON whitespace (space, tab, newline, carriage return).
func SkipJSONSpace[S ~string | ~[]byte](data S, pos int) int {
	for pos < len(data) {
		switch data[pos] {
		case ' ', '\t', '\n', '\r':
			pos++
		default:
			return pos
		}
	}
	return pos
}

// ScanJSONNumber returns the length of the JSON number (RFC 8259 grammar)
// at the start of b, 0 if there is none, and whether it has a fraction or
// an exponent. It only scans: what a number becomes is the caller's rule.
func ScanJSONNumber[S ~string | ~[]byte](b S) (n int, isFloat bool) {
	i := 0
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		isFloat = true
		i++
		if digits() == 0 {
			return 0, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isFloat = true
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, false
		}
	}
	return i, isFloat
}

// ScanJSONString reads the string literal whose opening quote is at
// data[pos] and returns the offset just past its closing quote. When the
// literal has escapes, escaped is true and text is its decoded value
// appended to buf; otherwise text is nil and the value is data[pos+1:end-1]
// unchanged (no copy).
//
// The rules are jsonb's (PostgreSQL 15, json_lex_string): control
// characters must be escaped; \u escapes of a surrogate pair are joined
// into one code point; a lone surrogate (a high one not followed by a \u
// low one, or a low one alone) is an error, as jsonb refuses it ("Unicode
// low surrogate must follow a high surrogate"). \u0000 is accepted, which
// jsonb refuses and json keeps, so that the json type and Lua strings can
// carry NUL. Raw bytes are not checked: whether text must be UTF-8 is the
// caller's rule.
func ScanJSONString[S ~string | ~[]byte](data S, pos int, buf []byte) (text []byte, escaped bool, end int, err *JSONSyntaxError) {
	pos++ // the opening quote
	start := pos
	// Fast path: no escapes.
	for pos < len(data) {
		c := data[pos]
		if c == '"' {
			return nil, false, pos + 1, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		pos++
	}
	buf = append(buf, data[start:pos]...)
	for pos < len(data) {
		c := data[pos]
		switch {
		case c == '"':
			return buf, true, pos + 1, nil
		case c < 0x20:
			return nil, false, pos, &JSONSyntaxError{pos, "control character in a string"}
		case c != '\\':
			buf = append(buf, c)
			pos++
			continue
		}
		at := pos
		pos++
		if pos >= len(data) {
			break
		}
		e := data[pos]
		pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(data, pos)
			if !ok {
				return nil, false, at, &JSONSyntaxError{at, `bad \u escape`}
			}
			pos += 4
			if utf16.IsSurrogate(r) {
				var r2 rune = -1
				if pos+1 < len(data) && data[pos] == '\\' && data[pos+1] == 'u' {
					if r2, ok = hex4(data, pos+2); !ok {
						return nil, false, pos, &JSONSyntaxError{pos, `bad \u escape`}
					}
					pos += 6
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return nil, false, at, &JSONSyntaxError{at, `lone surrogate in a \u escape (jsonb refuses it)`}
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return nil, false, at, &JSONSyntaxError{at, `bad escape \` + string(rune(e))}
		}
	}
	return nil, false, len(data), &JSONSyntaxError{len(data), "unterminated string"}
}

// hex4 reads the four hex digits of a \u escape at data[pos:].
func hex4[S ~string | ~[]byte](data S, pos int) (rune, bool) {
	if pos+4 > len(data) {
		return 0, false
	}
	var r rune
	for i := pos; i < pos+4; i++ {
		c := data[i]
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
