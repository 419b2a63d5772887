// Fuzz targets for every decoder: epmd replies, handshake messages, framing, message splitting, control parsing, reply routing.
package dist

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/plerl/plerl/runtime/term"
)

// Seeds live in testdata/fuzz/<Name>/ as well; these keep the targets
// meaningful even without that directory.

func FuzzPort2Resp(f *testing.F) {
	f.Add([]byte{119, 0, 0x9c, 0x40, 77, 0, 0, 6, 0, 5, 0, 5, 'b', 'e', 'n', 'c', 'h', 0, 0})
	f.Add([]byte{119, 1})
	f.Add([]byte{119, 0, 0, 1, 72, 0, 0, 6, 0, 6, 0, 0, 0, 1, 'x'})
	f.Fuzz(func(t *testing.T, b []byte) {
		pi, err := parsePort2Resp(b)
		complete := replyComplete(b)
		if err == nil {
			if pi.Port == 0 || len(pi.Name) > len(b) || !complete {
				t.Fatalf("accepted %v as %+v (complete=%v)", b, pi, complete)
			}
		}
	})
}

func FuzzHandshakeStatus(f *testing.F) {
	for _, s := range []string{"sok", "sok_simultaneous", "snok", "snot_allowed", "salive", "s", "", "xok"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStatus(b)
		if err == nil && (len(b) < 2 || s != string(b[1:])) {
			t.Fatalf("%q -> %q", b, s)
		}
	})
}

func FuzzHandshakeChallenge(f *testing.F) {
	f.Add(append(appendSendName(nil, Mandatory25, 42, "a@b")[:13], 0, 0, 0, 1, 0, 3, 'a', '@', 'b'))
	f.Add([]byte{'n', 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 'x'})
	f.Add([]byte{'N'})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseChallenge(b)
		if err != nil {
			return
		}
		// Re-encode: same bytes up to the end of the name.
		re := []byte{'N'}
		re = appendU64(re, c.Flags)
		re = appendU32(re, c.Challenge)
		re = appendU32(re, c.Creation)
		re = append(re, byte(len(c.Name)>>8), byte(len(c.Name)))
		re = append(re, c.Name...)
		if !bytes.HasPrefix(b, re) {
			t.Fatalf("%v parsed as %+v", b, c)
		}
		_ = checkPeerFlags(c.Flags)
	})
}

func appendU64(b []byte, v uint64) []byte {
	return append(b, byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}
func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

func FuzzHandshakeAck(f *testing.F) {
	f.Add(append([]byte{'a'}, make([]byte, 16)...))
	f.Add([]byte{'a', 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseChallengeAck(b)
		if err == nil && !bytes.Equal(d[:], b[1:]) {
			t.Fatal(b)
		}
	})
}

// FuzzHandshake runs the whole connecting state machine against arbitrary
// peer bytes (2-byte framing): it must end with an error or success, never
// panic, and never report success unless the ack digest was right.
func FuzzHandshake(f *testing.F) {
	var in bytes.Buffer
	frame := func(m []byte) { in.Write([]byte{byte(len(m) >> 8), byte(len(m))}); in.Write(m) }
	frame([]byte("sok"))
	frame([]byte{'N', 0, 0, 0, 0, 0x01, 0x07, 0x0F, 0x94, 0, 0, 0, 42, 0, 0, 0, 1, 0, 3, 'p', '@', 'h'})
	d := Digest(77, "c")
	frame(append([]byte{'a'}, d[:]...))
	f.Add(in.Bytes())
	f.Add([]byte{0, 6, 's', 'a', 'l', 'i', 'v', 'e'})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h := handshake{
			c:       hsConn{r: bufio.NewReader(bytes.NewReader(b)), w: io.Discard, lenSize: 2, buf: make([]byte, 0, 64)},
			ourName: "me@h", peerNode: "p@h", cookie: "c", flags: OurFlags, creation: 5, ourChallenge: 77,
			replaceAlive: len(b)%2 == 0,
		}
		if err := h.run(); err == nil {
			if !bytes.Contains(b, d[:]) {
				t.Fatal("handshake succeeded without the right digest")
			}
		} else if KindOf(err) == 0 {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 2, 112, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for {
			fr, err := readFrame(r, 64)
			if err != nil {
				return
			}
			if len(fr) > 64 {
				t.Fatalf("frame of %d bytes over the cap", len(fr))
			}
		}
	})
}

// FuzzSplitMessage: the split never panics, the fast path agrees with
// term.Decode (same tuple, same consumed count), and parseControl accepts
// or rejects without panicking.
func FuzzSplitMessage(f *testing.F) {
	f.Add(append([]byte{112}, erlSend...))
	f.Add(append(append([]byte{112}, erlRegSend...), 131, 106))
	f.Add(append([]byte{112}, erlMonitor...))
	us := term.Pid{Node: "us@h", ID: 1, Creation: 9}
	ref := term.Ref{Node: "us@h", Creation: 9, IDs: []uint32{1, 2, 3}}
	for _, c := range []Control{
		{Op: OpExit, From: us, To: us, Reason: term.Tuple{term.Atom("x"), term.Binary("y")}},
		{Op: OpPayloadMonitorPExit, From: us, To: us, Ref: ref, Reason: term.Atom("normal")},
		{Op: OpSpawnReply, Ref: ref, To: us, Flags: 2, Reason: us},
		{Op: OpUnlinkID, ID: 7, From: us, To: us},
	} {
		b, _ := EncodeControl(c, nil)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		in := &interner{names: []string{"us@h"}}
		if len(frame) > 1 && frame[0] == passThrough {
			if ft, n, ok := decodeControlFast(frame[1:], in); ok {
				v, m, err := term.Decode(frame[1:], nil)
				if err != nil || m != n || !term.Equal(v, ft) {
					t.Fatalf("fast path %v/%d disagrees with term.Decode %v/%d/%v", ft, n, v, m, err)
				}
			}
		}
		tup, payload, err := splitMessage(frame, nil, in)
		if err != nil {
			return
		}
		if len(tup) == 0 || len(payload) > len(frame) {
			t.Fatal("bad split")
		}
		_, _ = parseControl(tup, payload, nil)
	})
}

// FuzzDispatch feeds arbitrary messages to a Conn's router (fast reply
// path included): no panic, and only typed errors.
func FuzzDispatch(f *testing.F) {
	c := testConn()
	k := c.newRefKey()
	reply, _ := appendControl(nil, term.Tuple{int64(OpSend), term.Atom(""), c.rpcPid}, term.Tuple{c.refOf(k), term.Atom("ok")}, true)
	f.Add(reply)
	io, _ := appendControl(nil, term.Tuple{int64(OpSend), term.Atom(""), c.rpcPid},
		term.Tuple{term.Atom("io_request"), c.rpcPid, term.Atom("x"), term.Atom("y")}, true)
	f.Add(io)
	down, _ := EncodeControl(Control{Op: OpMonitorPExit, From: c.rpcPid, To: c.rpcPid, Ref: c.refOf(k), Reason: term.Atom("x")}, nil)
	f.Add(down)
	sr, _ := EncodeControl(Control{Op: OpSpawnReply, Ref: c.refOf(k), To: c.rpcPid, Flags: 2, Reason: c.rpcPid}, nil)
	f.Add(sr)
	f.Fuzz(func(t *testing.T, frame []byte) {
		c := testConn()
		c.NewPid()
		k := c.newRefKey()
		c.register(k, len(frame)%2 == 0)
		if err := c.dispatch(append([]byte(nil), frame...)); err != nil && err.Kind != KindProtocol {
			t.Fatalf("kind %v: %v", err.Kind, err)
		}
	})
}

// flakyReader returns an error (like a read deadline) before every read
// whose index is in cuts, and reads at most step bytes at a time.
type flakyReader struct {
	data []byte
	cuts map[int]bool
	n    int
	step int
}

var errFlaky = errors.New("interrupted")

func (r *flakyReader) Read(p []byte) (int, error) {
	r.n++
	if r.cuts[r.n] {
		return 0, errFlaky
	}
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.step, len(r.data))
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

// FuzzFrameReaderResume: reading a stream with interruptions at arbitrary
// points yields exactly the packets of an uninterrupted read (the read
// duty can change hands mid-packet).
func FuzzFrameReaderResume(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 2, 112, 1, 0, 0, 0, 3, 1, 2, 3}, []byte{1, 3, 4}, uint8(1))
	f.Add([]byte{0, 0, 0, 5, 1, 2}, []byte{2}, uint8(3))
	f.Fuzz(func(t *testing.T, data, cuts []byte, step uint8) {
		want := [][]byte{}
		r := bufio.NewReaderSize(bytes.NewReader(data), 16)
		var wantErr error
		for {
			fr, err := readFrame(r, 64)
			if err != nil {
				wantErr = err
				break
			}
			want = append(want, fr)
		}
		cm := map[int]bool{}
		for _, c := range cuts {
			cm[int(c)] = true
		}
		fl := &flakyReader{data: data, cuts: cm, step: int(step)%7 + 1}
		fr := frameReader{r: bufio.NewReaderSize(fl, 16), max: 64}
		var got [][]byte
		var gotErr error
		for tries := 0; tries < 10000; tries++ {
			p, err := fr.next()
			if err == errFlaky {
				continue
			}
			if err != nil {
				gotErr = err
				break
			}
			got = append(got, p)
		}
		if len(got) != len(want) {
			t.Fatalf("got %d packets, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("packet %d differs", i)
			}
		}
		if (gotErr == io.EOF) != (wantErr == io.EOF) {
			t.Fatalf("end: got %v, want %v", gotErr, wantErr)
		}
	})
}
