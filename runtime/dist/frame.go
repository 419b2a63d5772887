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
	fr := frameReader{r: r, max: max}
	return fr.next()
}

// frameReader reads packets and keeps its progress across errors: a read
// interrupted by a deadline (a direct reader whose context expired, see
// duty.go) resumes where it stopped when the next holder of the read duty
// calls next again, so the stream never loses its framing.
type frameReader struct {
	r    *bufio.Reader
	max  int
	hdr  [4]byte
	hn   int    // header bytes read so far
	body []byte // packet being read (nil between packets)
	bn   int    // body bytes read so far
}

func (f *frameReader) next() ([]byte, error) {
	for f.hn < 4 {
		n, err := f.r.Read(f.hdr[f.hn:])
		f.hn += n
		if f.hn < 4 && err != nil {
			if err == io.EOF && f.hn > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	if f.body == nil {
		n := binary.BigEndian.Uint32(f.hdr[:])
		if n == 0 {
			f.hn = 0
			return nil, nil
		}
		if uint64(n) > uint64(f.max) {
			return nil, errTooLarge{int(n), f.max}
		}
		f.body, f.bn = make([]byte, n), 0
	}
	for f.bn < len(f.body) {
		n, err := f.r.Read(f.body[f.bn:])
		f.bn += n
		if f.bn < len(f.body) && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	b := f.body
	f.body, f.hn = nil, 0
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
