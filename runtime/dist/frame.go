// Framing after the handshake: <<Len:32, Data>> packets, ticks, and splitting a message into control term and payload.
package dist

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/plerl/plerl/runtime/term"
)

// passThrough is the first byte of every message when DIST_HDR_ATOM_CACHE
// was not negotiated: <<Len:32, 112, CtrlExt, MsgExt>>, each term with its
// own 131 version byte (erl_dist_protocol.md "Protocol between connected
// nodes"; erl_ext_dist.md "Distribution Header" is not used).
const passThrough = 112

// versionMagic is the external term format version byte.
const versionMagic = 131

// errTooLarge is returned by readFrame for a packet above the cap; the
// connection must then be closed (the stream cannot be resynchronised
// without reading the packet, and we refuse to allocate it).
type errTooLarge struct{ n, max int }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("incoming packet of %d bytes exceeds the %d byte limit", e.n, e.max)
}

// readFrame reads one <<Len:32, Data:Len>> packet. A tick (Len = 0) returns
// (nil, nil). The length is checked against max before anything is allocated.
func readFrame(r *bufio.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return nil, nil
	}
	if uint64(n) > uint64(max) {
		return nil, errTooLarge{int(n), max}
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return b, nil
}

// splitMessage splits a pass-through message <<112, Ctrl, Msg>> into the
// control term (decoded) and the raw payload (starting at its 131 byte, or
// empty when the control message carries none). The control term's length
// is known only by decoding it: fast path for the common all-simple control
// tuples (decodeControlFast), else term.Decode's consumed count.
func splitMessage(frame []byte, lim *term.Limits, in *interner) (ctrl term.Tuple, payload []byte, err error) {
	if len(frame) < 2 || frame[0] != passThrough {
		if len(frame) == 0 {
			return nil, nil, fmt.Errorf("empty message")
		}
		return nil, nil, fmt.Errorf("message starts with %d, want 112 (pass-through)", frame[0])
	}
	body := frame[1:]
	if t, n, ok := decodeControlFast(body, in); ok {
		return t, body[n:], nil
	}
	v, n, err := term.Decode(body, lim)
	if err != nil {
		return nil, nil, fmt.Errorf("control term: %w", err)
	}
	if n <= 0 || n > len(body) {
		return nil, nil, fmt.Errorf("control term: decoder consumed %d of %d bytes", n, len(body))
	}
	t, ok := v.(term.Tuple)
	if !ok || len(t) == 0 {
		return nil, nil, fmt.Errorf("control message is not a non-empty tuple")
	}
	return t, body[n:], nil
}
