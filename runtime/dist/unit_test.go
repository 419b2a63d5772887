// Unit tests: epmd replies, handshake messages (golden bytes), digest, flags, framing, control messages.
package dist

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

func TestPortPlease2Request(t *testing.T) {
	got := appendPortPlease2(nil, "bench")
	want := []byte{0, 6, 122, 'b', 'e', 'n', 'c', 'h'}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func TestParsePort2Resp(t *testing.T) {
	ok := []byte{119, 0, 0x9c, 0x40, 77, 0, 0, 6, 0, 5, 0, 5, 'b', 'e', 'n', 'c', 'h', 0, 2, 'x', 'y'}
	pi, err := parsePort2Resp(ok)
	if err != nil {
		t.Fatal(err)
	}
	if pi.Port != 40000 || pi.NodeType != 77 || pi.Protocol != 0 || pi.Highest != 6 || pi.Lowest != 5 || pi.Name != "bench" || string(pi.Extra) != "xy" {
		t.Fatalf("%+v", pi)
	}
	if !replyComplete(ok) || replyComplete(ok[:len(ok)-1]) || !replyComplete([]byte{119, 1}) {
		t.Fatal("replyComplete")
	}
	bad := []struct {
		b   []byte
		msg string
	}{
		{nil, "short"},
		{[]byte{119}, "short"},
		{[]byte{119, 1}, "not registered"},
		{[]byte{119, 7}, "result 7"},
		{[]byte{120, 0}, "tag 120"},
		{ok[:11], "short"},
		{ok[:14], "name length"},
		{ok[:20], "extra length"},
		{append([]byte{119, 0, 0, 0}, ok[4:]...), "port 0"},
	}
	for _, c := range bad {
		if _, err := parsePort2Resp(c.b); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: got %v, want %q", c.b, err, c.msg)
		}
	}
	if _, err := parsePort2Resp([]byte{119, 1}); !errors.Is(err, ErrNotRegistered) {
		t.Error("not registered is not ErrNotRegistered")
	}
}

func TestDigestGolden(t *testing.T) {
	// Computed on OTP 25 with erlang:md5([Cookie | integer_to_list(Challenge)]).
	cases := []struct {
		ch     uint32
		cookie string
		hex    string
	}{
		{3735928559, "benchcookie", "1BAC4C5C52D9FA5DB622AF7E1B46E19F"},
		{0, "abc", "577571BE4DE9DCCE85A041BA0410F29F"},
	}
	for _, c := range cases {
		d := Digest(c.ch, c.cookie)
		if got := strings.ToUpper(hex.EncodeToString(d[:])); got != c.hex {
			t.Errorf("Digest(%d) = %s, want %s", c.ch, got, c.hex)
		}
	}
}

func TestFlags(t *testing.T) {
	if EIFlags != 0x407074F9C {
		t.Fatalf("EIFlags = %#x, want libei's 0x407074F9C", EIFlags)
	}
	if OurFlags != 0x507074FBC {
		t.Fatalf("OurFlags = %#x", OurFlags)
	}
	if Mandatory25 != 0x1070F94 {
		t.Fatalf("Mandatory25 = %#x", Mandatory25)
	}
	if OurFlags&(FlagPublished|FlagDistHdrAtomCache|FlagFragments|FlagAtomCache|FlagNameMe|FlagAlias) != 0 {
		t.Fatal("forbidden flag in OurFlags")
	}
	if err := checkPeerFlags(Mandatory25); err != nil {
		t.Fatal(err)
	}
	if err := checkPeerFlags(FlagMandatory25Digest); err != nil {
		t.Fatal("MANDATORY_25_DIGEST must expand:", err)
	}
	if err := checkPeerFlags(Mandatory25 &^ FlagBigCreation); err == nil || !strings.Contains(err.Error(), "0x40000") {
		t.Fatalf("missing BIG_CREATION: %v", err)
	}
}

func TestHandshakeMessagesGolden(t *testing.T) {
	got := appendSendName(nil, OurFlags, 0x01020304, "a@b")
	want := []byte{'N', 0, 0, 0, 0x05, 0x07, 0x07, 0x4F, 0xBC, 1, 2, 3, 4, 0, 3, 'a', '@', 'b'}
	if !bytes.Equal(got, want) {
		t.Fatalf("send_name\n got %v\nwant %v", got, want)
	}
	var d [16]byte
	for i := range d {
		d[i] = byte(i)
	}
	got = appendChallengeReply(nil, 0xdeadbeef, d)
	want = append([]byte{'r', 0xde, 0xad, 0xbe, 0xef}, d[:]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("challenge reply %v", got)
	}

	if s, err := parseStatus([]byte("sok")); err != nil || s != "ok" {
		t.Fatal(s, err)
	}
	if _, err := parseStatus([]byte("s")); err == nil {
		t.Fatal("empty status accepted")
	}
	if _, err := parseStatus([]byte("xok")); err == nil {
		t.Fatal("bad tag accepted")
	}

	ch := []byte{'N', 0, 0, 0, 0, 0x01, 0x07, 0x0F, 0x94, 0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 9, 0, 3, 'x', '@', 'y', 0xff}
	c, err := parseChallenge(ch) // trailing byte ignored
	if err != nil || c.Flags != 0x1070F94 || c.Challenge != 0xcafebabe || c.Creation != 9 || c.Name != "x@y" {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := parseChallenge(ch[:20]); err == nil || !strings.Contains(err.Error(), "name length") {
		t.Fatalf("short name: %v", err)
	}
	if _, err := parseChallenge(ch[:18]); err == nil {
		t.Fatal("short challenge accepted")
	}
	if _, err := parseChallenge([]byte{'n', 0, 5}); err == nil || !strings.Contains(err.Error(), "version 5") {
		t.Fatalf("v5: %v", err)
	}

	ack := append([]byte{'a'}, d[:]...)
	if got, err := parseChallengeAck(ack); err != nil || got != d {
		t.Fatal(err)
	}
	if _, err := parseChallengeAck(ack[:16]); err == nil {
		t.Fatal("short ack accepted")
	}
	if _, err := parseChallengeAck(append(ack, 0)); err == nil {
		t.Fatal("long ack accepted")
	}
}

// A complete handshake against canned peer bytes, checking what we write.
func TestHandshakeStateMachine(t *testing.T) {
	const cookie = "c00kie"
	peerChallenge := uint32(42)
	ourChallenge := uint32(77)
	var in bytes.Buffer
	frame := func(m []byte) { in.Write([]byte{byte(len(m) >> 8), byte(len(m))}); in.Write(m) }
	frame([]byte("sok"))
	ch := []byte{'N'}
	ch = append(ch, 0, 0, 0, 0x05, 0x07, 0x07, 0x4F, 0xBC, 0, 0, 0, byte(peerChallenge), 0, 0, 0, 1, 0, 3, 'p', '@', 'h')
	frame(ch)
	ack := Digest(ourChallenge, cookie)
	frame(append([]byte{'a'}, ack[:]...))

	var out bytes.Buffer
	h := handshake{
		c:       hsConn{r: bufio.NewReader(&in), w: &out, lenSize: 2, buf: make([]byte, 0, 64)},
		ourName: "me@h", peerNode: "p@h", cookie: cookie, flags: OurFlags, creation: 5, ourChallenge: ourChallenge,
	}
	if err := h.run(); err != nil {
		t.Fatal(err)
	}
	wantName := append([]byte{0, 19}, appendSendName(nil, OurFlags, 5, "me@h")...)
	d := Digest(peerChallenge, cookie)
	wantReply := append([]byte{0, 21}, appendChallengeReply(nil, ourChallenge, d)...)
	if !bytes.Equal(out.Bytes(), append(wantName, wantReply...)) {
		t.Fatalf("wrote %v", out.Bytes())
	}
	if h.peer.Name != "p@h" || h.peer.Creation != 1 {
		t.Fatalf("%+v", h.peer)
	}

	// Same with 4-byte framing (TLS) and a wrong ack digest.
	in.Reset()
	frame4 := func(m []byte) { in.Write([]byte{0, 0, byte(len(m) >> 8), byte(len(m))}); in.Write(m) }
	frame4([]byte("sok"))
	frame4(ch)
	frame4(append([]byte{'a'}, make([]byte, 16)...))
	out.Reset()
	h.c = hsConn{r: bufio.NewReader(&in), w: &out, lenSize: 4, buf: make([]byte, 0, 64)}
	err := h.run()
	if !IsCookieRefused(err) || err.Error() != "handshake: recv_challenge_ack (p@h): digest mismatch" {
		t.Fatalf("got %v", err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte{0, 0, 0, 19, 'N'}) {
		t.Fatalf("4-byte framing: %v", out.Bytes()[:8])
	}
	// The peer answers with another name.
	in.Reset()
	frame([]byte("sok"))
	frame(ch)
	h.c = hsConn{r: bufio.NewReader(&in), w: io.Discard, lenSize: 2, buf: make([]byte, 0, 64)}
	h.peerNode = "q@h"
	if err := h.run(); !IsHandshake(err) || !strings.Contains(err.Error(), `peer calls itself "p@h"`) {
		t.Fatalf("got %v", err)
	}
	// A zero-length or oversized handshake frame.
	h.c = hsConn{r: bufio.NewReader(bytes.NewReader([]byte{0, 0})), w: io.Discard, lenSize: 2, buf: make([]byte, 0, 64)}
	if err := h.run(); !IsHandshake(err) || !strings.Contains(err.Error(), "out of range") {
		t.Fatalf("got %v", err)
	}
}

// Bytes produced by OTP 25's term_to_binary (atoms as ATOM_EXT, pids as
// NEW_PID_EXT, refs as NEWER_REFERENCE_EXT).
var (
	erlSend    = []byte{131, 104, 3, 97, 2, 100, 0, 0, 88, 100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0}
	erlRegSend = []byte{131, 104, 4, 97, 6, 88, 100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 100, 0, 3, 114, 101, 120}
	erlMonitor = []byte{131, 104, 4, 97, 19, 88, 100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 3, 102, 111, 111, 90, 0, 3, 100, 0, 13, 110, 111, 110, 111, 100, 101, 64, 110, 111, 104, 111, 115, 116, 0, 0, 0, 0, 0, 3, 84, 190, 234, 80, 0, 1, 12, 244, 150, 75}
)

func TestSplitMessage(t *testing.T) {
	nonode := term.Pid{Node: "nonode@nohost", ID: 5}
	payload := []byte{131, 100, 0, 2, 'h', 'i'}
	cases := []struct {
		name string
		ctrl []byte
		want term.Tuple
	}{
		{"SEND", erlSend, term.Tuple{int64(2), term.Atom(""), term.Pid{Node: "nonode@nohost", ID: 1, Serial: 2}}},
		{"REG_SEND", erlRegSend, term.Tuple{int64(6), nonode, term.Atom(""), term.Atom("rex")}},
		{"MONITOR_P", erlMonitor, term.Tuple{int64(19), nonode, term.Atom("foo"), term.Ref{Node: "nonode@nohost", IDs: []uint32{218302, 3924819969, 217306187}}}},
	}
	for _, c := range cases {
		for _, withPayload := range []bool{false, true} {
			frame := append([]byte{112}, c.ctrl...)
			if withPayload {
				frame = append(frame, payload...)
			}
			got, rest, err := splitMessage(frame, nil, nil)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if c.name != "MONITOR_P" && !term.Equal(got, c.want) {
				t.Fatalf("%s: got %#v", c.name, got)
			}
			if withPayload != (len(rest) > 0) || (withPayload && !bytes.Equal(rest, payload)) {
				t.Fatalf("%s: payload %v", c.name, rest)
			}
			// The fast path and term.Decode agree on the split.
			v, n, err := term.Decode(c.ctrl, nil)
			if err != nil || n != len(c.ctrl) || !term.Equal(v, got) {
				t.Fatalf("%s: term.Decode %v %d %v", c.name, v, n, err)
			}
		}
	}
	// A control term the fast path does not take (a reason that is a
	// tuple) is split by term.Decode's consumed count.
	ctrl, _ := term.Append(nil, term.Tuple{int64(3), nonode, nonode, term.Tuple{term.Atom("shutdown"), term.Binary("x")}})
	if _, _, ok := decodeControlFast(ctrl, nil); ok {
		t.Fatal("fast path took a nested tuple")
	}
	got, rest, err := splitMessage(append(append([]byte{112}, ctrl...), payload...), nil, nil)
	if err != nil || len(got) != 4 || !bytes.Equal(rest, payload) {
		t.Fatalf("slow split: %v %v %v", got, rest, err)
	}
	for _, bad := range [][]byte{nil, {112}, {113, 131, 106}, {112, 131}, {112, 131, 104, 2, 97}} {
		if _, _, err := splitMessage(bad, nil, nil); err == nil {
			t.Errorf("split accepted %v", bad)
		}
	}
}

func TestControlRoundTrip(t *testing.T) {
	us := term.Pid{Node: "us@h", ID: 1, Serial: 0, Creation: 9}
	them := term.Pid{Node: "them@h", ID: 70000, Serial: 3, Creation: 1 << 31}
	ref := term.Ref{Node: "us@h", Creation: 9, IDs: []uint32{1, 2, 3}}
	cases := []struct {
		c       Control
		payload any
	}{
		{Control{Op: OpLink, From: us, To: them}, nil},
		{Control{Op: OpSend, To: them}, term.Tuple{term.Atom("hello"), int64(1)}},
		{Control{Op: OpSendSender, From: us, To: them}, term.Binary("x")},
		{Control{Op: OpRegSend, From: us, To: term.Atom("rex")}, term.List{int64(1), int64(2)}},
		{Control{Op: OpExit, From: us, To: them, Reason: term.Atom("normal")}, nil},
		{Control{Op: OpExit2, From: us, To: them, Reason: term.Atom("kill")}, nil},
		{Control{Op: OpPayloadExit, From: us, To: them, Reason: term.Tuple{term.Atom("a"), int64(-1)}}, nil},
		{Control{Op: OpPayloadExit2, From: us, To: them, Reason: term.Atom("b")}, nil},
		{Control{Op: OpMonitorP, From: us, To: term.Atom("rex"), Ref: ref}, nil},
		{Control{Op: OpDemonitorP, From: us, To: them, Ref: ref}, nil},
		{Control{Op: OpMonitorPExit, From: them, To: us, Ref: ref, Reason: term.Atom("noproc")}, nil},
		{Control{Op: OpPayloadMonitorPExit, From: them, To: us, Ref: ref, Reason: term.Binary("why")}, nil},
		{Control{Op: OpUnlinkID, ID: 1 << 40, From: us, To: them}, nil},
		{Control{Op: OpUnlinkIDAck, ID: 5, From: them, To: us}, nil},
		{Control{Op: OpSpawnRequest, Ref: ref, From: us, GL: us, MFA: term.Tuple{term.Atom("erpc"), term.Atom("execute_call"), int64(4)}, Opts: term.List{term.Atom("monitor")}}, term.List{ref, term.Atom("m"), term.Atom("f"), term.List{}}},
		{Control{Op: OpSpawnReply, Ref: ref, To: us, Flags: 2, Reason: them}, nil},
	}
	for _, tc := range cases {
		body, err := EncodeControl(tc.c, tc.payload)
		if err != nil {
			t.Fatalf("op %d: %v", tc.c.Op, err)
		}
		tup, payload, err := splitMessage(body, nil, nil)
		if err != nil {
			t.Fatalf("op %d: split: %v", tc.c.Op, err)
		}
		got, err := parseControl(tup, payload, nil)
		if err != nil {
			t.Fatalf("op %d: parse: %v", tc.c.Op, err)
		}
		if got.Op != tc.c.Op || !term.Equal(orNil(got.From), orNil(tc.c.From)) || !term.Equal(orNil(got.To), orNil(tc.c.To)) ||
			!term.Equal(orNil(got.Ref), orNil(tc.c.Ref)) || !term.Equal(orNil(got.Reason), orNil(tc.c.Reason)) ||
			got.ID != tc.c.ID || got.Flags != tc.c.Flags {
			t.Fatalf("op %d: got %+v want %+v", tc.c.Op, got, tc.c)
		}
		if tc.payload != nil {
			v, _, err := term.Decode(got.Payload, nil)
			if err != nil || !term.Equal(v, tc.payload) {
				t.Fatalf("op %d: payload %v %v", tc.c.Op, v, err)
			}
		}
	}
	// Golden: our REG_SEND header equals what Erlang encodes modulo atom tags.
	body, _ := EncodeControl(Control{Op: OpRegSend, From: term.Pid{Node: "nonode@nohost", ID: 5}, To: term.Atom("rex")}, term.Atom("x"))
	want := []byte{112, 131, 104, 4, 97, 6, 88, 119, 13, 'n', 'o', 'n', 'o', 'd', 'e', '@', 'n', 'o', 'h', 'o', 's', 't', 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 119, 0, 119, 3, 'r', 'e', 'x', 131, 119, 1, 'x'}
	if !bytes.Equal(body, want) {
		t.Fatalf("REG_SEND golden\n got %v\nwant %v", body, want)
	}
	if _, err := EncodeControl(Control{Op: 99}, nil); err == nil {
		t.Fatal("unknown op encoded")
	}
	// Shape errors.
	for _, tup := range []term.Tuple{
		{int64(OpLink), us},                                  // arity
		{term.Atom("x"), us, them},                           // op type
		{int64(OpSpawnReply), ref, us, term.Atom("x"), them}, // flags type
		{int64(OpUnlinkID), int64(-1), us, them},             // negative id
	} {
		if _, err := parseControl(tup, nil, nil); err == nil {
			t.Errorf("accepted %v", tup)
		}
	}
	if _, err := parseControl(term.Tuple{int64(OpSend), term.Atom(""), us}, nil, nil); err == nil {
		t.Error("SEND without payload accepted")
	}
	if c, err := parseControl(term.Tuple{int64(77), us}, nil, nil); err != nil || c.Op != 77 {
		t.Error("unknown op must be returned, not refused")
	}
}

func orNil(v any) any {
	if v == nil {
		return term.Atom("<nil>")
	}
	return v
}

func TestIntEncoding(t *testing.T) {
	for _, v := range []int64{0, 255, 256, -1, 1 << 31, -(1 << 31), 1<<31 - 1, 1 << 40, -(1 << 40), -1 << 63, 1<<63 - 1} {
		b := appendInt([]byte{131}, v)
		got, n, err := term.Decode(b, nil)
		if err != nil || n != len(b) || !term.Equal(got, v) {
			t.Errorf("%d: %v %v", v, got, err)
		}
	}
	b := appendUint([]byte{131}, 1<<64-1)
	if got, _, err := term.Decode(b, nil); err != nil || got.(term.BigInt).String() != "18446744073709551615" {
		t.Errorf("uint64 max: %v %v", got, err)
	}
}

func TestReadFrame(t *testing.T) {
	r := bufio.NewReader(bytes.NewReader([]byte{0, 0, 0, 0, 0, 0, 0, 2, 112, 1, 0, 0, 1, 0}))
	if f, err := readFrame(r, 100); f != nil || err != nil {
		t.Fatal("tick", f, err)
	}
	if f, err := readFrame(r, 100); err != nil || !bytes.Equal(f, []byte{112, 1}) {
		t.Fatal(f, err)
	}
	var tl errTooLarge
	if _, err := readFrame(r, 100); !errors.As(err, &tl) || tl.n != 256 {
		t.Fatal("oversize:", err)
	}
	if _, err := readFrame(bufio.NewReader(bytes.NewReader([]byte{0, 0, 0, 5, 1})), 100); err != io.ErrUnexpectedEOF {
		t.Fatal("truncated:", err)
	}
}

func TestNodeName(t *testing.T) {
	n, err := NodeName("plerl", "c1", 3, "127.0.0.1")
	if err != nil || n != "plerl_c1_3@127.0.0.1" {
		t.Fatal(n, err)
	}
	for _, bad := range [][4]string{
		{"", "c", "1", "h"}, {"p", "", "1", "h"}, {"p", "c", "-1", "h"}, {"p", "c", "1", ""},
		{"p@", "c", "1", "h"}, {"p", "c.d", "1", "h"}, {"p", "c", "1", "h@x"}, {"p", "c", "1", "h x"},
		{strings.Repeat("p", 300), "c", "1", "h"},
	} {
		slot := 1
		if bad[2] == "-1" {
			slot = -1
		}
		if _, err := NodeName(bad[0], bad[1], slot, bad[3]); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
	for _, bad := range []string{"", "a", "a@", "@b", "a@b@c"} {
		if _, _, err := splitNode(bad); err == nil {
			t.Errorf("splitNode accepted %q", bad)
		}
	}
}

func TestErrors(t *testing.T) {
	e := newErr(KindNodeDown, "n@h", "read", io.EOF)
	if !IsNodeDown(e) || !errors.Is(e, io.EOF) || !errors.Is(e, &Error{Kind: KindNodeDown}) || errors.Is(e, &Error{Kind: KindTimeout}) {
		t.Fatal("predicates")
	}
	wrapped := errors.Join(errors.New("ctx"), e)
	if !IsNodeDown(wrapped) || KindOf(errors.New("x")) != 0 {
		t.Fatal("wrapping")
	}
	if e.Error() != "read (n@h): EOF" {
		t.Fatal(e.Error())
	}
	re := &RemoteError{Class: "error", Reason: term.Atom("undef"), MFA: "m:f/0"}
	if !IsUndef(newErr(KindRemote, "n", "rpc", re)) || IsUndef(e) {
		t.Fatal("IsUndef")
	}
	if KindTooLarge.String() != "too large" || Kind(99).String() != "Kind(99)" {
		t.Fatal("Kind.String")
	}
	// Config validation names no cookie.
	if _, err := (&Config{NodeName: "x@y"}).withDefaults(); err == nil || !strings.Contains(err.Error(), "cookie is empty") {
		t.Fatal(err)
	}
	if _, err := (&Config{NodeName: "bad", Cookie: "secret"}).withDefaults(); err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatal(err)
	}
}

func TestRexErrorShapes(t *testing.T) {
	a := func(s string) term.Atom { return term.Atom(s) }
	stack := term.List{term.Tuple{a("m"), a("f"), int64(0), term.List{}}}
	cases := []struct {
		v     any
		class string
		ok    bool
	}{
		{a("ok"), "", true},
		{term.Tuple{a("badrpc"), term.Tuple{a("EXIT"), term.Tuple{a("undef"), stack}}}, "error", false},
		{term.Tuple{a("badrpc"), term.Tuple{a("EXIT"), a("bye")}}, "exit", false},
		{term.Tuple{a("badrpc"), term.Tuple{a("EXIT"), term.Tuple{a("x"), a("notastack")}}}, "exit", false},
		{term.Tuple{a("badrpc"), a("nodedown")}, "exit", false},
	}
	for _, c := range cases {
		re := rexError(c.v, "m:f/0")
		if (re == nil) != c.ok || (re != nil && re.Class != c.class) {
			t.Errorf("%v: %+v", c.v, re)
		}
	}
	ref := term.Ref{Node: "n", IDs: []uint32{1}}
	if v, re := erpcResult(term.Tuple{ref, a("return"), int64(5)}, ref, ""); re != nil || v != int64(5) {
		t.Fatal("return")
	}
	if _, re := erpcResult(term.Tuple{ref, a("error"), term.Tuple{a("erpc"), a("badarg")}}, ref, ""); re == nil || re.Class != "error" {
		t.Fatal("erpc error")
	}
	if _, re := erpcResult(a("killed"), ref, ""); re == nil || re.Class != "exit" || re.Reason != a("killed") {
		t.Fatal("killed")
	}
}

// testConn builds a Conn with no peer behind it, for dispatch tests and fuzzing.
func testConn() *Conn {
	a, b := net.Pipe()
	b.Close()
	c := &Conn{
		cfg:      Config{MailboxSize: 4, MaxMessageSize: 1 << 20, MaxSendSize: 1 << 20, WriteTimeout: 1e9},
		node:     "peer@h",
		self:     "us@h",
		creation: 9,
		refSalt:  0xabcdef,
		nc:       a,
		pending:  map[uint64]*call{},
		boxes:    map[uint32]*mailbox{},
		done:     make(chan struct{}),
		// no flusher goroutine: tests inspect ctlQ
		ctlFlushing: true,
	}
	c.in.names = []string{"us@h", "peer@h"}
	c.rpcPid = c.newPidLocked()
	c.rexHdr = c.buildRexHeader()
	return c
}

func TestFastReplyRouting(t *testing.T) {
	c := testConn()
	k := c.newRefKey()
	cl := c.register(k, false)
	body, _ := appendControl(nil, term.Tuple{int64(OpSend), term.Atom(""), c.rpcPid}, term.Tuple{c.refOf(k), term.Binary("result")}, true)
	if !c.fastReply(body) {
		t.Fatal("fast path not taken")
	}
	r := <-cl.ch
	v, n, err := term.Decode(r.buf, nil)
	if err != nil || n != len(r.buf) || !term.Equal(v, term.Binary("result")) {
		t.Fatal(v, err)
	}
	// The same reply again is late: dropped and counted.
	body, _ = appendControl(nil, term.Tuple{int64(OpSend), term.Atom(""), c.rpcPid}, term.Tuple{c.refOf(k), term.Binary("result")}, true)
	if !c.fastReply(body) || c.late.Load() != 1 {
		t.Fatal("late reply")
	}
	// A reply whose ref uses another salt is not ours: slow path, dropped.
	other := c.refOf(k)
	other.IDs[2]++
	body, _ = appendControl(nil, term.Tuple{int64(OpSend), term.Atom(""), c.rpcPid}, term.Tuple{other, int64(1)}, true)
	if c.fastReply(body) {
		t.Fatal("foreign ref taken")
	}
	if err := c.dispatch(body); err != nil {
		t.Fatal(err)
	}
	// The pre-encoded rex header decodes as the control message it claims.
	hdr := append([]byte(nil), c.rexHdr[frameHdr:]...)
	tup, rest, err := splitMessage(hdr, nil, nil)
	if err != nil || !term.Equal(tup, term.Tuple{int64(OpRegSend), c.rpcPid, term.Atom(""), term.Atom("rex")}) || rest[0] != 131 {
		t.Fatal(tup, err)
	}
}

// CallKill cancelled before SPAWN_REPLY: the reader kills the worker as
// soon as the reply brings its pid.
func TestCancelledSpawnIsKilledOnReply(t *testing.T) {
	c := testConn()
	k := c.newRefKey()
	cl := c.register(k, true)
	cl.cancelled = true
	worker := term.Pid{Node: "peer@h", ID: 77, Creation: 3}
	body, _ := EncodeControl(Control{Op: OpSpawnReply, Ref: c.refOf(k), To: c.rpcPid, Flags: 2, Reason: worker}, nil)
	if err := c.dispatch(body); err != nil {
		t.Fatal(err)
	}
	if len(c.pending) != 0 {
		t.Fatal("cancelled spawn still pending")
	}
	if len(c.ctlQ) != 1 {
		t.Fatalf("queued %d control packets, want the kill", len(c.ctlQ))
	}
	tup, _, err := splitMessage(c.ctlQ[0][frameHdr:], nil, nil)
	if err != nil || !term.Equal(tup, term.Tuple{int64(OpExit2), c.rpcPid, worker, term.Atom("kill")}) {
		t.Fatalf("queued %v %v", tup, err)
	}
	// The DOWN that follows finds no pending call and is dropped.
	down, _ := EncodeControl(Control{Op: OpMonitorPExit, From: worker, To: c.rpcPid, Ref: c.refOf(k), Reason: term.Atom("killed")}, nil)
	if err := c.dispatch(down); err != nil || len(cl.ch) != 0 {
		t.Fatal("DOWN after kill delivered")
	}
}

// A running spawn's SPAWN_REPLY records the pid without waking the caller
// (CallKill needs only the DOWN); a failed one is delivered and final.
func TestSpawnReplyWakesOnlyOnFailure(t *testing.T) {
	c := testConn()
	k := c.newRefKey()
	cl := c.register(k, true)
	worker := term.Pid{Node: "peer@h", ID: 78, Creation: 3}
	body, _ := EncodeControl(Control{Op: OpSpawnReply, Ref: c.refOf(k), To: c.rpcPid, Flags: 2, Reason: worker}, nil)
	if err := c.dispatch(body); err != nil {
		t.Fatal(err)
	}
	if len(cl.ch) != 0 || !cl.havePid || !term.Equal(cl.pid, worker) || c.pending[k] != cl {
		t.Fatalf("after SPAWN_REPLY: %d queued, havePid %v, pending %v", len(cl.ch), cl.havePid, c.pending[k] == cl)
	}
	down, _ := EncodeControl(Control{Op: OpMonitorPExit, From: worker, To: c.rpcPid, Ref: c.refOf(k), Reason: term.Atom("done")}, nil)
	if err := c.dispatch(down); err != nil || len(cl.ch) != 1 || len(c.pending) != 0 {
		t.Fatalf("DOWN: err %v, %d queued, %d pending", err, len(cl.ch), len(c.pending))
	}
	if r := <-cl.ch; r.ctl.Op != OpMonitorPExit {
		t.Fatalf("delivered %v", r.ctl.Op)
	}

	k = c.newRefKey()
	cl = c.register(k, true)
	failed, _ := EncodeControl(Control{Op: OpSpawnReply, Ref: c.refOf(k), To: c.rpcPid, Reason: term.Atom("badarg")}, nil)
	if err := c.dispatch(failed); err != nil || len(cl.ch) != 1 || len(c.pending) != 0 {
		t.Fatalf("failed spawn: err %v, %d queued, %d pending", err, len(cl.ch), len(c.pending))
	}
}

// The reader goroutine's flush never blocks: what a full socket buffer does
// not take is finished by a goroutine that may wait, which stays the
// writer (packets written meanwhile follow in order).
func TestFlushCorkDoesNotBlock(t *testing.T) {
	if !fdDialSupported {
		t.Skip("own sockets only on Linux")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fc, err := dialFd(context.Background(), "127.0.0.1", ln.Addr().(*net.TCPAddr).Port, true)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ln.Accept() // and read nothing yet
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	c := testConn()
	c.nc, c.sr, c.corkable = fc, newSockReader(fc), true
	c.cfg.WriteTimeout = time.Minute
	defer fc.Close()

	big := make([]byte, 32<<20) // far more than loopback socket buffers hold
	for i := range big {
		big[i] = byte(i)
	}
	c.cork()
	if err := c.writeRaw(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.flushCork(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("flushCork blocked on a full socket")
	}
	c.wmu.Lock()
	writing := c.writing
	c.wmu.Unlock()
	if !writing {
		t.Fatal("32 MiB went into the socket at once: the test shows nothing")
	}
	tail := []byte("tail")
	if err := c.writeRaw(context.Background(), tail); err != nil { // joins the writer in progress
		t.Fatal(err)
	}
	got := make([]byte, len(big)+len(tail))
	peer.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(big)], big) || string(got[len(big):]) != "tail" {
		t.Fatal("bytes arrived out of order")
	}
	waitFor(t, func() bool { c.wmu.Lock(); defer c.wmu.Unlock(); return !c.writing })
}
