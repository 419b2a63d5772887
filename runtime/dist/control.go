// Control messages (erl_dist_protocol.md "Protocol between connected nodes"): encoding, the fast decoder, and interpretation.
package dist

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/plerl/plerl/runtime/term"
)

// Control message operations (first element of the control tuple).
const (
	OpLink                = 1  // {1, FromPid, ToPid}
	OpSend                = 2  // {2, Unused, ToPid} + Msg
	OpExit                = 3  // {3, FromPid, ToPid, Reason}
	OpUnlink              = 4  // {4, FromPid, ToPid} (old protocol, never sent by OTP 26+)
	OpRegSend             = 6  // {6, FromPid, Unused, ToName} + Msg
	OpGroupLeader         = 7  // {7, FromPid, ToPid}
	OpExit2               = 8  // {8, FromPid, ToPid, Reason}
	OpMonitorP            = 19 // {19, FromPid, ToProc, Ref}
	OpDemonitorP          = 20 // {20, FromPid, ToProc, Ref}
	OpMonitorPExit        = 21 // {21, FromProc, ToPid, Ref, Reason}
	OpSendSender          = 22 // {22, FromPid, ToPid} + Msg
	OpPayloadExit         = 24 // {24, FromPid, ToPid} + Reason
	OpPayloadExit2        = 26 // {26, FromPid, ToPid} + Reason
	OpPayloadMonitorPExit = 28 // {28, FromProc, ToPid, Ref} + Reason
	OpSpawnRequest        = 29 // {29, ReqId, From, GroupLeader, {M, F, Arity}, OptList} + ArgList
	OpSpawnReply          = 31 // {31, ReqId, To, Flags, Result}
	OpAliasSend           = 33 // {33, FromPid, Alias} + Msg
	OpUnlinkID            = 35 // {35, Id, FromPid, ToPid}
	OpUnlinkIDAck         = 36 // {36, Id, FromPid, ToPid}
)

// ctrlArity is the tuple size of each op we interpret, and whether a
// payload term follows the control term.
var ctrlShape = map[int64]struct {
	arity   int
	payload bool
}{
	OpLink: {3, false}, OpSend: {3, true}, OpExit: {4, false}, OpUnlink: {3, false},
	OpRegSend: {4, true}, OpGroupLeader: {3, false}, OpExit2: {4, false},
	OpMonitorP: {4, false}, OpDemonitorP: {4, false}, OpMonitorPExit: {5, false},
	OpSendSender: {3, true}, OpPayloadExit: {3, true}, OpPayloadExit2: {3, true},
	OpPayloadMonitorPExit: {4, true}, OpSpawnRequest: {6, true}, OpSpawnReply: {5, false},
	OpAliasSend: {3, true}, OpUnlinkID: {4, false}, OpUnlinkIDAck: {4, false},
}

// Control is one decoded control message. Fields not used by Op are zero.
type Control struct {
	Op     int64
	From   any // term.Pid, or a term.Atom for a registered-name monitor
	To     any // term.Pid, or term.Atom (REG_SEND name, monitored name)
	Ref    any // term.Ref: monitor ref, spawn ReqId, alias
	ID     uint64
	Flags  int64 // SPAWN_REPLY flags
	Reason any   // EXIT/EXIT2/MONITOR_P_EXIT reason (payload variants: decoded payload), SPAWN_REPLY result
	MFA    term.Tuple
	Opts   any
	GL     any
	// Payload is the raw payload term (with its 131 byte) when the op has one.
	Payload []byte
}

// parseControl interprets a split message. Unknown ops are returned with
// only Op set (callers ignore them); a known op with the wrong shape is an
// error. Payload-carrying reasons (PAYLOAD_*) are decoded here.
func parseControl(t term.Tuple, payload []byte, lim *term.Limits) (Control, error) {
	var c Control
	op, ok := asInt(t[0])
	if !ok {
		return c, fmt.Errorf("control tuple op is %T, want an integer", t[0])
	}
	c.Op = op
	shape, known := ctrlShape[op]
	if !known {
		return c, nil
	}
	if len(t) != shape.arity {
		return c, fmt.Errorf("control op %d: tuple arity %d, want %d", op, len(t), shape.arity)
	}
	if shape.payload && len(payload) == 0 {
		return c, fmt.Errorf("control op %d: missing payload", op)
	}
	if !shape.payload && len(payload) != 0 {
		return c, fmt.Errorf("control op %d: %d unexpected bytes after the control term", op, len(payload))
	}
	switch op {
	case OpLink, OpUnlink, OpGroupLeader, OpSendSender, OpAliasSend:
		c.From, c.To = t[1], t[2]
	case OpSend:
		c.To = t[2]
	case OpExit, OpExit2:
		c.From, c.To, c.Reason = t[1], t[2], t[3]
	case OpRegSend:
		c.From, c.To = t[1], t[3]
	case OpMonitorP, OpDemonitorP:
		c.From, c.To, c.Ref = t[1], t[2], t[3]
	case OpMonitorPExit:
		c.From, c.To, c.Ref, c.Reason = t[1], t[2], t[3], t[4]
	case OpPayloadExit, OpPayloadExit2:
		c.From, c.To = t[1], t[2]
	case OpPayloadMonitorPExit:
		c.From, c.To, c.Ref = t[1], t[2], t[3]
	case OpSpawnRequest:
		c.Ref, c.From, c.GL, c.Opts = t[1], t[2], t[3], t[5]
		mfa, _ := t[4].(term.Tuple)
		c.MFA = mfa
	case OpSpawnReply:
		c.Ref, c.To, c.Reason = t[1], t[2], t[4]
		f, ok := asInt(t[3])
		if !ok {
			return c, fmt.Errorf("SPAWN_REPLY flags is %T", t[3])
		}
		c.Flags = f
	case OpUnlinkID, OpUnlinkIDAck:
		id, ok := asUint(t[1])
		if !ok {
			return c, fmt.Errorf("UNLINK_ID id is %T", t[1])
		}
		c.ID, c.From, c.To = id, t[2], t[3]
	}
	if shape.payload {
		c.Payload = payload
		switch op {
		case OpPayloadExit, OpPayloadExit2, OpPayloadMonitorPExit:
			r, n, err := term.Decode(payload, lim)
			if err != nil {
				return c, fmt.Errorf("control op %d: reason: %w", op, err)
			}
			if n != len(payload) {
				return c, fmt.Errorf("control op %d: %d bytes after the reason", op, len(payload)-n)
			}
			c.Reason = r
		}
	}
	return c, nil
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}

func asUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case int64:
		if x >= 0 {
			return uint64(x), true
		}
	case int:
		if x >= 0 {
			return uint64(x), true
		}
	case term.BigInt:
		if x.Sign() >= 0 && x.IsUint64() {
			return x.Uint64(), true
		}
	}
	return 0, false
}

// ---- encoding (external term format, erl_ext_dist.md) -------------------

const (
	tagSmallInt      = 97
	tagInt           = 98
	tagSmallTuple    = 104
	tagLargeTuple    = 105
	tagNil           = 106
	tagList          = 108
	tagSmallBig      = 110
	tagNewPid        = 88
	tagNewerRef      = 90
	tagAtomUTF8      = 118
	tagSmallAtomUTF8 = 119
	tagAtom          = 100 // ATOM_EXT (latin-1), decode only
	tagSmallAtom     = 115 // SMALL_ATOM_EXT (latin-1), decode only
	tagPid           = 103 // PID_EXT, decode only
	tagNewRef        = 114 // NEW_REFERENCE_EXT, decode only
)

func appendAtom(b []byte, a string) []byte {
	if len(a) < 256 {
		b = append(b, tagSmallAtomUTF8, byte(len(a)))
	} else {
		b = append(b, tagAtomUTF8)
		b = binary.BigEndian.AppendUint16(b, uint16(len(a)))
	}
	return append(b, a...)
}

func appendInt(b []byte, v int64) []byte {
	switch {
	case v >= 0 && v <= 255:
		return append(b, tagSmallInt, byte(v))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		b = append(b, tagInt)
		return binary.BigEndian.AppendUint32(b, uint32(int32(v)))
	}
	sign := byte(0)
	u := uint64(v)
	if v < 0 {
		sign, u = 1, uint64(-v)
	}
	return appendBig(b, sign, u)
}

func appendUint(b []byte, u uint64) []byte {
	if u <= math.MaxInt32 {
		return appendInt(b, int64(u))
	}
	return appendBig(b, 0, u)
}

// appendBig: SMALL_BIG_EXT <<110, N, Sign, Digits:N/little>>.
func appendBig(b []byte, sign byte, u uint64) []byte {
	n := 0
	for x := u; x > 0; x >>= 8 {
		n++
	}
	b = append(b, tagSmallBig, byte(n), sign)
	for ; u > 0; u >>= 8 {
		b = append(b, byte(u))
	}
	return b
}

func appendTupleHeader(b []byte, n int) []byte {
	if n < 256 {
		return append(b, tagSmallTuple, byte(n))
	}
	b = append(b, tagLargeTuple)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// appendPid: NEW_PID_EXT <<88, Node, ID:32, Serial:32, Creation:32>>.
func appendPid(b []byte, p term.Pid) []byte {
	b = append(b, tagNewPid)
	b = appendAtom(b, string(p.Node))
	b = binary.BigEndian.AppendUint32(b, p.ID)
	b = binary.BigEndian.AppendUint32(b, p.Serial)
	return binary.BigEndian.AppendUint32(b, p.Creation)
}

// appendRef: NEWER_REFERENCE_EXT <<90, Len:16, Node, Creation:32, ID:Len*32>>.
func appendRef(b []byte, r term.Ref) []byte {
	b = append(b, tagNewerRef)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.IDs)))
	b = appendAtom(b, string(r.Node))
	b = binary.BigEndian.AppendUint32(b, r.Creation)
	for _, id := range r.IDs {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	return b
}

// appendTerm encodes t without a version byte. Control-tuple element types
// are encoded here (no allocation); anything else goes through term.Append.
func appendTerm(b []byte, t any) ([]byte, error) {
	switch x := t.(type) {
	case term.Atom:
		return appendAtom(b, string(x)), nil
	case term.Pid:
		return appendPid(b, x), nil
	case term.Ref:
		return appendRef(b, x), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case uint64:
		return appendUint(b, x), nil
	case term.Tuple:
		b = appendTupleHeader(b, len(x))
		var err error
		for _, e := range x {
			if b, err = appendTerm(b, e); err != nil {
				return b, err
			}
		}
		return b, nil
	case term.List:
		if len(x) == 0 {
			return append(b, tagNil), nil
		}
		b = append(b, tagList)
		b = binary.BigEndian.AppendUint32(b, uint32(len(x)))
		var err error
		for _, e := range x {
			if b, err = appendTerm(b, e); err != nil {
				return b, err
			}
		}
		return append(b, tagNil), nil
	}
	return appendForeign(b, t)
}

// appendForeign encodes any other value with the term codec.
func appendForeign(b []byte, t any) ([]byte, error) {
	return term.AppendNoVersion(b, t)
}

// appendVersioned appends 131 and the encoding of t.
func appendVersioned(b []byte, t any) ([]byte, error) {
	return appendTerm(append(b, versionMagic), t)
}

// appendControl appends a complete pass-through message body
// <<112, 131, Ctrl [, 131, Payload]>> (without the 4-byte length).
func appendControl(b []byte, ctrl term.Tuple, payload any, hasPayload bool) ([]byte, error) {
	b = append(b, passThrough)
	b, err := appendVersioned(b, ctrl)
	if err != nil {
		return b, err
	}
	if hasPayload {
		b, err = appendVersioned(b, payload)
	}
	return b, err
}

// EncodeControl builds the message body for c (what a frame carries after
// its 4-byte length). Exposed for tests and tools.
func EncodeControl(c Control, payload any) ([]byte, error) {
	var t term.Tuple
	hasPayload := false
	switch c.Op {
	case OpLink, OpUnlink, OpGroupLeader:
		t = term.Tuple{c.Op, c.From, c.To}
	case OpSend:
		t, hasPayload = term.Tuple{c.Op, term.Atom(""), c.To}, true
	case OpSendSender, OpAliasSend:
		t, hasPayload = term.Tuple{c.Op, c.From, c.To}, true
	case OpExit, OpExit2:
		t = term.Tuple{c.Op, c.From, c.To, c.Reason}
	case OpPayloadExit, OpPayloadExit2:
		t, hasPayload, payload = term.Tuple{c.Op, c.From, c.To}, true, c.Reason
	case OpRegSend:
		t, hasPayload = term.Tuple{c.Op, c.From, term.Atom(""), c.To}, true
	case OpMonitorP, OpDemonitorP:
		t = term.Tuple{c.Op, c.From, c.To, c.Ref}
	case OpMonitorPExit:
		t = term.Tuple{c.Op, c.From, c.To, c.Ref, c.Reason}
	case OpPayloadMonitorPExit:
		t, hasPayload, payload = term.Tuple{c.Op, c.From, c.To, c.Ref}, true, c.Reason
	case OpSpawnRequest:
		t, hasPayload = term.Tuple{c.Op, c.Ref, c.From, c.GL, c.MFA, c.Opts}, true
	case OpSpawnReply:
		t = term.Tuple{c.Op, c.Ref, c.To, c.Flags, c.Reason}
	case OpUnlinkID, OpUnlinkIDAck:
		t = term.Tuple{c.Op, c.ID, c.From, c.To}
	default:
		return nil, fmt.Errorf("dist: cannot encode control op %d", c.Op)
	}
	return appendControl(nil, t, payload, hasPayload)
}

// ---- fast decoding -------------------------------------------------------

// interner returns shared strings for the node atoms we see all the time
// (ours and the peer's), so decoding a pid or ref does not allocate.
type interner struct {
	names []string
}

func (in *interner) atom(b []byte) term.Atom {
	if in != nil {
		for _, s := range in.names {
			if s == string(b) { // no allocation: compiler-optimised comparison
				return term.Atom(s)
			}
		}
	}
	return term.Atom(b)
}

// wire is a cursor over an encoded term (no version byte).
type wire struct {
	b  []byte
	i  int
	in *interner
}

func (w *wire) u8() (byte, bool) {
	if w.i >= len(w.b) {
		return 0, false
	}
	w.i++
	return w.b[w.i-1], true
}

func (w *wire) u16() (uint16, bool) {
	if len(w.b)-w.i < 2 {
		return 0, false
	}
	w.i += 2
	return binary.BigEndian.Uint16(w.b[w.i-2:]), true
}

func (w *wire) u32() (uint32, bool) {
	if len(w.b)-w.i < 4 {
		return 0, false
	}
	w.i += 4
	return binary.BigEndian.Uint32(w.b[w.i-4:]), true
}

// atomBytes reads any of the four atom encodings.
func (w *wire) atomBytes() ([]byte, bool) {
	tag, ok := w.u8()
	if !ok {
		return nil, false
	}
	var n int
	switch tag {
	case tagSmallAtomUTF8, tagSmallAtom:
		l, ok := w.u8()
		if !ok {
			return nil, false
		}
		n = int(l)
	case tagAtomUTF8, tagAtom:
		l, ok := w.u16()
		if !ok {
			return nil, false
		}
		n = int(l)
	default:
		return nil, false
	}
	if len(w.b)-w.i < n {
		return nil, false
	}
	w.i += n
	a := w.b[w.i-n : w.i]
	// Anything unusual (long atoms, latin-1 beyond ASCII) is left to the
	// full decoder, which applies the same rules as the VM; invalid UTF-8
	// is refused there too, so the two decoders always agree.
	if n > 255 {
		return nil, false
	}
	if tag == tagAtom || tag == tagSmallAtom {
		for _, c := range a {
			if c >= 0x80 {
				return nil, false
			}
		}
	} else if !utf8.Valid(a) {
		return nil, false
	}
	return a, true
}

// simple decodes one control-tuple element of a simple type: small
// integer, integer, atom, pid, reference. Anything else reports !ok and the
// caller falls back to term.Decode.
func (w *wire) simple() (any, bool) {
	if w.i >= len(w.b) {
		return nil, false
	}
	switch w.b[w.i] {
	case tagSmallInt:
		w.i++
		v, ok := w.u8()
		return int64(v), ok
	case tagInt:
		w.i++
		v, ok := w.u32()
		return int64(int32(v)), ok
	case tagSmallAtomUTF8, tagSmallAtom, tagAtomUTF8, tagAtom:
		a, ok := w.atomBytes()
		if !ok {
			return nil, false
		}
		return w.in.atom(a), true
	case tagNewPid, tagPid:
		return w.pid()
	case tagNewerRef, tagNewRef:
		return w.ref()
	}
	return nil, false
}

func (w *wire) pid() (term.Pid, bool) {
	var p term.Pid
	tag, _ := w.u8()
	node, ok := w.atomBytes()
	if !ok {
		return p, false
	}
	p.Node = w.in.atom(node)
	if p.ID, ok = w.u32(); !ok {
		return p, false
	}
	if p.Serial, ok = w.u32(); !ok {
		return p, false
	}
	if tag == tagPid {
		c, ok := w.u8()
		p.Creation = uint32(c)
		return p, ok
	}
	p.Creation, ok = w.u32()
	return p, ok
}

func (w *wire) ref() (term.Ref, bool) {
	var r term.Ref
	tag, _ := w.u8()
	n, ok := w.u16()
	if !ok || n == 0 || n > 5 {
		return r, false
	}
	node, ok := w.atomBytes()
	if !ok {
		return r, false
	}
	r.Node = w.in.atom(node)
	if tag == tagNewRef {
		c, ok := w.u8()
		if !ok {
			return r, false
		}
		r.Creation = uint32(c)
	} else if r.Creation, ok = w.u32(); !ok {
		return r, false
	}
	if len(w.b)-w.i < 4*int(n) {
		return r, false
	}
	r.IDs = make([]uint32, n)
	for k := range r.IDs {
		r.IDs[k], _ = w.u32()
	}
	return r, true
}

// decodeControlFast decodes a control term <<131, 104, N, Elems...>> whose
// elements are all simple; it returns the tuple and the bytes consumed.
func decodeControlFast(b []byte, in *interner) (term.Tuple, int, bool) {
	if len(b) < 3 || b[0] != versionMagic || b[1] != tagSmallTuple || b[2] == 0 || b[2] > 6 {
		return nil, 0, false
	}
	w := wire{b: b, i: 3, in: in}
	t := make(term.Tuple, b[2])
	for k := range t {
		v, ok := w.simple()
		if !ok {
			return nil, 0, false
		}
		t[k] = v
	}
	return t, w.i, true
}
