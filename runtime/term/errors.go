// Typed errors of the codec and the JSON mapping, classified by Kind.
package term

import (
	"errors"
	"strconv"

	"github.com/plerl/plerl/runtime/sqlstate"
)

// Kind classifies an error so the SQL layer can pick a SQLSTATE in one table.
type Kind uint8

const (
	// KindMalformed: the input is not a valid encoding or JSON value, or a
	// Go value is not a term (suggested SQLSTATE 22023 invalid_parameter_value).
	KindMalformed Kind = iota + 1
	// KindTooLarge: a configured limit (depth, items, size, atoms) was
	// exceeded (54000 program_limit_exceeded).
	KindTooLarge
	// KindOutOfRange: a number cannot be represented on the other side, e.g.
	// a JSON float that overflows float64 or an integer beyond what numeric
	// holds (22003 numeric_value_out_of_range).
	KindOutOfRange
)

func (k Kind) String() string {
	switch k {
	case KindMalformed:
		return "malformed"
	case KindTooLarge:
		return "too large"
	case KindOutOfRange:
		return "out of range"
	}
	return "unknown"
}

// SQLState returns the SQLSTATE suggested for k (see docs/mapping.md).
func (k Kind) SQLState() string {
	switch k {
	case KindTooLarge:
		return sqlstate.ProgramLimitExceeded
	case KindOutOfRange:
		return sqlstate.NumericValueOutOfRange
	}
	return sqlstate.InvalidParameterValue
}

// DecodeError reports why Decode rejected its input.
type DecodeError struct {
	Offset int // byte offset in the input (in the inflated data if Compressed)
	Kind   Kind
	Reason string
	// Compressed is set when the error lies inside the inflated payload of
	// a compressed term; Offset then counts from the start of that payload.
	Compressed bool
}

func (e *DecodeError) Error() string {
	s := "term: decode: " + e.Reason + " at offset " + strconv.Itoa(e.Offset)
	if e.Compressed {
		s += " of the inflated data"
	}
	return s
}

// EncodeError reports why Append rejected a value.
type EncodeError struct {
	Kind   Kind
	Reason string
}

func (e *EncodeError) Error() string { return "term: encode: " + e.Reason }

// KindOf returns the Kind of the first *DecodeError, *EncodeError or
// *JSONError in err's chain, or 0 if there is none.
func KindOf(err error) Kind {
	var de *DecodeError
	if errors.As(err, &de) {
		return de.Kind
	}
	var ee *EncodeError
	if errors.As(err, &ee) {
		return ee.Kind
	}
	var je *JSONError
	if errors.As(err, &je) {
		return je.Kind
	}
	return 0
}

// JSONError reports why a JSON value could not become a term, or a term
// could not become JSON. Path names the offending value in JSONPath style
// ($ is the whole value, $[2].items[0] an element of a member).
type JSONError struct {
	Kind   Kind
	Path   string
	Reason string
}

func (e *JSONError) Error() string { return "term: json: " + e.Path + ": " + e.Reason }
