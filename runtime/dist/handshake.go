// Distribution handshake (version 6) as the connecting side, as a small state machine.
package dist

import (
	"bufio"
	"crypto/md5"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Distribution flags (erl_dist_protocol.md, "Distribution Flags").
const (
	FlagPublished          uint64 = 0x1
	FlagAtomCache          uint64 = 0x2
	FlagExtendedReferences uint64 = 0x4
	FlagDistMonitor        uint64 = 0x8
	FlagFunTags            uint64 = 0x10
	FlagDistMonitorName    uint64 = 0x20
	FlagHiddenAtomCache    uint64 = 0x40
	FlagNewFunTags         uint64 = 0x80
	FlagExtendedPidsPorts  uint64 = 0x100
	FlagExportPtrTag       uint64 = 0x200
	FlagBitBinaries        uint64 = 0x400
	FlagNewFloats          uint64 = 0x800
	FlagUnicodeIO          uint64 = 0x1000
	FlagDistHdrAtomCache   uint64 = 0x2000
	FlagSmallAtomTags      uint64 = 0x4000
	FlagUTF8Atoms          uint64 = 0x10000
	FlagMapTag             uint64 = 0x20000
	FlagBigCreation        uint64 = 0x40000
	FlagSendSender         uint64 = 0x80000
	FlagBigSeqtraceLabels  uint64 = 0x100000
	FlagExitPayload        uint64 = 0x400000
	FlagFragments          uint64 = 0x800000
	FlagHandshake23        uint64 = 0x1000000
	FlagUnlinkID           uint64 = 0x2000000
	FlagMandatory25Digest  uint64 = 0x4000000
	FlagSpawn              uint64 = 1 << 32
	FlagNameMe             uint64 = 1 << 33
	FlagV4NC               uint64 = 1 << 34
	FlagAlias              uint64 = 1 << 35
)

// Mandatory25 is the set an OTP 25 peer insists on (erts_internal:get_dflags()
// on 25.2.3 = 0x1070F94); MANDATORY_25_DIGEST stands for all of it.
const Mandatory25 = FlagExtendedReferences | FlagFunTags | FlagNewFunTags |
	FlagExtendedPidsPorts | FlagExportPtrTag | FlagBitBinaries | FlagNewFloats |
	FlagUTF8Atoms | FlagMapTag | FlagBigCreation | FlagHandshake23

// EIFlags is what libei (erl_interface 5.3) sends: 0x407074F9C.
const EIFlags = Mandatory25 | FlagMandatory25Digest | FlagV4NC | FlagUnlinkID |
	FlagDistMonitor | FlagSmallAtomTags

// OurFlags is what we send: libei's set plus DIST_MONITOR_NAME (without it
// the peer never sends DOWN) and SPAWN (for CallKill). No PUBLISHED (we stay
// hidden), no DIST_HDR_ATOM_CACHE and no FRAGMENTS (every message is then
// <<Len:32, 112, Ctrl, Msg>>). = 0x507074FBC.
const OurFlags = EIFlags | FlagDistMonitorName | FlagSpawn

// handshake message tags (erl_dist_protocol.md, "Distribution Handshake").
const (
	tagNameV6     = 'N' // send_name (v6) and challenge (v6)
	tagNameV5     = 'n' // v5 send_name / challenge: refused
	tagStatus     = 's'
	tagReply      = 'r'
	tagAck        = 'a'
	maxHandshakeM = 65535 // a handshake message never needs more (name <= 255 bytes)
)

// expandFlags replaces MANDATORY_25_DIGEST by the set it stands for, as
// dist_util:expand_mandatory_25_flag does.
func expandFlags(f uint64) uint64 {
	if f&FlagMandatory25Digest != 0 {
		f |= Mandatory25
	}
	return f
}

// checkPeerFlags refuses a peer lacking a flag we depend on: the OTP 25
// mandatory set (which we also rely on for the term format).
func checkPeerFlags(f uint64) error {
	f = expandFlags(f)
	if missing := Mandatory25 &^ f; missing != 0 {
		return fmt.Errorf("peer lacks mandatory distribution flags %#x", missing)
	}
	return nil
}

// Digest is MD5(Cookie ++ decimal(Challenge)): cookie first, then the
// challenge as an unsigned decimal string (dist_util:gen_digest/2).
func Digest(challenge uint32, cookie string) [16]byte {
	var b [64]byte
	buf := append(b[:0], cookie...)
	buf = strconv.AppendUint(buf, uint64(challenge), 10)
	return md5.Sum(buf)
}

// appendSendName: <<$N, Flags:64, Creation:32, NLen:16, Name/binary>>
// (send_name, version 6). Without the length prefix.
func appendSendName(buf []byte, flags uint64, creation uint32, name string) []byte {
	buf = append(buf, tagNameV6)
	buf = binary.BigEndian.AppendUint64(buf, flags)
	buf = binary.BigEndian.AppendUint32(buf, creation)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(name)))
	return append(buf, name...)
}

// appendChallengeReply: <<$r, Challenge:32, Digest:16/binary>>.
func appendChallengeReply(buf []byte, challenge uint32, digest [16]byte) []byte {
	buf = append(buf, tagReply)
	buf = binary.BigEndian.AppendUint32(buf, challenge)
	return append(buf, digest[:]...)
}

// parseStatus: <<$s, Status/binary>>.
func parseStatus(m []byte) (string, error) {
	if len(m) < 2 || m[0] != tagStatus {
		return "", fmt.Errorf("expected status message ('s'), got %s", describeMsg(m))
	}
	return string(m[1:]), nil
}

// challenge is the peer's recv_challenge message.
type challenge struct {
	Flags     uint64
	Challenge uint32
	Creation  uint32
	Name      string
}

// parseChallenge: <<$N, Flags:64, Challenge:32, Creation:32, NLen:16,
// Name:NLen/binary, _/binary>> (trailing bytes ignored, as the doc says).
// A version 5 challenge (<<$n, Version:16, Flags:32, Challenge:32, Name>>)
// means a pre-OTP 23 peer and is refused.
func parseChallenge(m []byte) (challenge, error) {
	var c challenge
	if len(m) >= 1 && m[0] == tagNameV5 {
		return c, errors.New("peer sent a version 5 challenge ('n'): handshake version 6 (OTP 23+) is required")
	}
	if len(m) < 19 || m[0] != tagNameV6 {
		return c, fmt.Errorf("expected challenge ('N', >= 19 bytes), got %s", describeMsg(m))
	}
	c.Flags = binary.BigEndian.Uint64(m[1:])
	c.Challenge = binary.BigEndian.Uint32(m[9:])
	c.Creation = binary.BigEndian.Uint32(m[13:])
	nlen := int(binary.BigEndian.Uint16(m[17:]))
	if len(m) < 19+nlen {
		return c, fmt.Errorf("challenge name length %d exceeds message (%d bytes)", nlen, len(m))
	}
	c.Name = string(m[19 : 19+nlen])
	return c, nil
}

// parseChallengeAck: <<$a, Digest:16/binary>>.
func parseChallengeAck(m []byte) ([16]byte, error) {
	var d [16]byte
	if len(m) != 17 || m[0] != tagAck {
		return d, fmt.Errorf("expected challenge ack ('a', 17 bytes), got %s", describeMsg(m))
	}
	copy(d[:], m[1:])
	return d, nil
}

func describeMsg(m []byte) string {
	if len(m) == 0 {
		return "empty message"
	}
	return fmt.Sprintf("tag %d, %d bytes", m[0], len(m))
}

// hsConn frames handshake messages: <<Len:16, Msg>> over TCP, <<Len:32, Msg>>
// inside TLS (inet_tls_dist sets {packet, 4} before the handshake).
type hsConn struct {
	r       *bufio.Reader
	w       io.Writer
	lenSize int // 2 or 4
	buf     []byte
}

// begin returns an empty message buffer with room for the length prefix.
func (h *hsConn) begin() []byte { return h.buf[:h.lenSize] }

// send fills in the length prefix of a buffer from begin and writes it.
func (h *hsConn) send(b []byte) error {
	n := len(b) - h.lenSize
	if h.lenSize == 2 {
		binary.BigEndian.PutUint16(b, uint16(n))
	} else {
		binary.BigEndian.PutUint32(b, uint32(n))
	}
	h.buf = b[:0]
	_, err := h.w.Write(b)
	return err
}

// recv reads one framed handshake message. EOF is returned as io.EOF so
// the caller can tell "peer closed" (cookie refused after our reply) apart.
func (h *hsConn) recv() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(h.r, hdr[:h.lenSize]); err != nil {
		return nil, err
	}
	var n int
	if h.lenSize == 2 {
		n = int(binary.BigEndian.Uint16(hdr[:]))
	} else {
		n = int(binary.BigEndian.Uint32(hdr[:]))
	}
	if n == 0 || n > maxHandshakeM {
		return nil, fmt.Errorf("handshake message length %d out of range 1..%d", n, maxHandshakeM)
	}
	m := make([]byte, n)
	if _, err := io.ReadFull(h.r, m); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return m, nil
}

type hsState int

const (
	stSendName hsState = iota
	stRecvStatus
	stRecvChallenge
	stSendChallengeReply
	stRecvChallengeAck
	stDone
)

var hsStepNames = [...]string{
	stSendName:           "send_name",
	stRecvStatus:         "recv_status",
	stRecvChallenge:      "recv_challenge",
	stSendChallengeReply: "send_challenge_reply",
	stRecvChallengeAck:   "recv_challenge_ack",
}

// handshake holds the state of one connecting handshake (version 6 only).
type handshake struct {
	c            hsConn
	ourName      string
	peerNode     string
	cookie       string
	flags        uint64
	creation     uint32
	replaceAlive bool
	ourChallenge uint32

	// results
	peer challenge
}

// run drives the states until done. The caller owns deadlines (the socket
// carries the context deadline). Errors are *Error with the step named.
func (h *handshake) run() error {
	st := stSendName
	for st != stDone {
		next, err := h.step(st)
		if err != nil {
			return err
		}
		st = next
	}
	return nil
}

func (h *handshake) fail(kind Kind, st hsState, err error) *Error {
	return newErr(kind, h.peerNode, "handshake: "+hsStepNames[st], err)
}

func (h *handshake) step(st hsState) (hsState, error) {
	switch st {
	case stSendName:
		b := appendSendName(h.c.begin(), h.flags, h.creation, h.ourName)
		if err := h.c.send(b); err != nil {
			return st, h.fail(KindHandshake, st, err)
		}
		return stRecvStatus, nil

	case stRecvStatus:
		m, err := h.c.recv()
		if err != nil {
			if err == io.EOF {
				// The peer refused our name (e.g. "raw@" or no '@').
				err = errors.New("peer closed the connection after send_name (name refused?)")
			}
			return st, h.fail(KindHandshake, st, err)
		}
		status, err := parseStatus(m)
		if err != nil {
			return st, h.fail(KindHandshake, st, err)
		}
		switch status {
		case "ok", "ok_simultaneous":
			return stRecvChallenge, nil
		case "alive":
			// Another connection under our name is still up on the peer.
			// "true" makes the peer drop it and go on; "false" gives up.
			ans := "false"
			if h.replaceAlive {
				ans = "true"
			}
			b := append(append(h.c.begin(), tagStatus), ans...)
			if err := h.c.send(b); err != nil {
				return st, h.fail(KindHandshake, st, err)
			}
			if !h.replaceAlive {
				return st, h.fail(KindHandshake, st, fmt.Errorf("status alive: node name %s is already connected to the peer (Config.ReplaceAlive is false)", h.ourName))
			}
			return stRecvChallenge, nil
		case "nok":
			return st, h.fail(KindHandshake, st, errSimultaneous)
		case "not_allowed":
			return st, h.fail(KindHandshake, st, errors.New("status not_allowed (flags or name refused by the peer)"))
		default:
			if len(status) > 64 {
				status = status[:64]
			}
			return st, h.fail(KindHandshake, st, fmt.Errorf("unexpected status %q", status))
		}

	case stRecvChallenge:
		m, err := h.c.recv()
		if err != nil {
			return st, h.fail(KindHandshake, st, err)
		}
		c, err := parseChallenge(m)
		if err != nil {
			return st, h.fail(KindHandshake, st, err)
		}
		if err := checkPeerFlags(c.Flags); err != nil {
			return st, h.fail(KindHandshake, st, err)
		}
		if c.Name != h.peerNode {
			return st, h.fail(KindHandshake, st, fmt.Errorf("peer calls itself %q", c.Name))
		}
		h.peer = c
		return stSendChallengeReply, nil

	case stSendChallengeReply:
		d := Digest(h.peer.Challenge, h.cookie)
		b := appendChallengeReply(h.c.begin(), h.ourChallenge, d)
		if err := h.c.send(b); err != nil {
			return st, h.fail(KindHandshake, st, err)
		}
		return stRecvChallengeAck, nil

	case stRecvChallengeAck:
		m, err := h.c.recv()
		if err != nil {
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err) {
				// The peer closes right after our reply when our digest is
				// wrong (it logs "Invalid challenge reply").
				return st, h.fail(KindCookieRefused, st, errors.New("peer closed the connection after our challenge reply: cookie refused"))
			}
			return st, h.fail(KindHandshake, st, err)
		}
		got, err := parseChallengeAck(m)
		if err != nil {
			return st, h.fail(KindHandshake, st, err)
		}
		want := Digest(h.ourChallenge, h.cookie)
		if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			return st, h.fail(KindCookieRefused, st, errors.New("digest mismatch"))
		}
		return stDone, nil
	}
	return st, fmt.Errorf("handshake: bad state %d", st)
}
