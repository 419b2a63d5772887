// External term format codec: Decode (reports bytes consumed) and Append.
package term

import "errors"

// Limits bound what Decode accepts from an untrusted peer. Zero means the default.
type Limits struct {
	MaxDepth int // nesting depth of containers (default 1000)
	MaxItems int // total number of terms in one message (default 10,000,000)
}

// ErrNotImplemented marks the stub until the codec lands.
var ErrNotImplemented = errors.New("term: codec not implemented")

// Decode decodes one term from data, which starts with the version byte 131.
// It returns the term and the number of bytes consumed (version byte
// included), so a distribution message <<112, Ctrl, Msg>> can be split.
func Decode(data []byte, lim *Limits) (any, int, error) { return nil, 0, ErrNotImplemented }

// Append appends 131 and the encoding of t to buf.
func Append(buf []byte, t any) ([]byte, error) { return buf, ErrNotImplemented }
