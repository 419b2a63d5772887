// EPMD client: PORT_PLEASE2 lookup of a node's distribution port.
package dist

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/plerl/plerl/runtime/yield"
)

// Erlang distribution protocol, section "EPMD Protocol" (erl_dist_protocol.md).
const (
	epmdPortPlease2Req = 122 // 'z'
	epmdPort2Resp      = 119 // 'w'
	// DefaultEpmdPort is where epmd listens unless ERL_EPMD_PORT says otherwise.
	DefaultEpmdPort = 4369
	// maxEpmdReply bounds what we read from epmd: 12 fixed bytes plus two
	// 16-bit-length strings (name <= 255 in practice, extra usually empty).
	maxEpmdReply = 12 + 2*65535
)

// PortInfo is a PORT2_RESP: where a node listens and which versions it speaks.
type PortInfo struct {
	Port     uint16
	NodeType byte // 77 'M' normal node, 72 'H' hidden
	Protocol byte // 0 = TCP (also reported for TLS distribution)
	Highest  uint16
	Lowest   uint16
	Name     string
	Extra    []byte
}

// ErrNotRegistered is the Err of a KindEpmd error when epmd does not know
// the node (PORT2_RESP result 1).
var ErrNotRegistered = errors.New("name not registered with epmd")

// appendPortPlease2 builds PORT_PLEASE2_REQ:
//
//	<<Len:16, 122, AliveName/binary>>   Len = 1 + len(AliveName)
func appendPortPlease2(buf []byte, alive string) []byte {
	buf = binary.BigEndian.AppendUint16(buf, uint16(1+len(alive)))
	buf = append(buf, epmdPortPlease2Req)
	return append(buf, alive...)
}

// parsePort2Resp parses a complete PORT2_RESP (epmd closes the socket after
// it, so the caller reads to EOF):
//
//	<<119, 0, PortNo:16, NodeType, Protocol, Highest:16, Lowest:16,
//	  NLen:16, NodeName:NLen/binary, ELen:16, Extra:ELen/binary>>
//	<<119, Result>>  with Result > 0 on error (1 = not registered)
func parsePort2Resp(b []byte) (PortInfo, error) {
	var pi PortInfo
	if len(b) < 2 {
		return pi, fmt.Errorf("short PORT2_RESP (%d bytes)", len(b))
	}
	if b[0] != epmdPort2Resp {
		return pi, fmt.Errorf("unexpected epmd reply tag %d", b[0])
	}
	if b[1] != 0 {
		if b[1] == 1 {
			return pi, ErrNotRegistered
		}
		return pi, fmt.Errorf("epmd PORT2_RESP result %d", b[1])
	}
	// Fixed part: tag, result, port(2), type, proto, highest(2), lowest(2), nlen(2) = 12.
	if len(b) < 12 {
		return pi, fmt.Errorf("short PORT2_RESP (%d bytes)", len(b))
	}
	pi.Port = binary.BigEndian.Uint16(b[2:])
	pi.NodeType = b[4]
	pi.Protocol = b[5]
	pi.Highest = binary.BigEndian.Uint16(b[6:])
	pi.Lowest = binary.BigEndian.Uint16(b[8:])
	nlen := int(binary.BigEndian.Uint16(b[10:]))
	rest := b[12:]
	if len(rest) < nlen+2 {
		return pi, fmt.Errorf("PORT2_RESP name length %d exceeds reply", nlen)
	}
	pi.Name = string(rest[:nlen])
	rest = rest[nlen:]
	elen := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) < elen {
		return pi, fmt.Errorf("PORT2_RESP extra length %d exceeds reply", elen)
	}
	if elen > 0 {
		pi.Extra = append([]byte(nil), rest[:elen]...)
	}
	if pi.Port == 0 {
		return pi, fmt.Errorf("PORT2_RESP port 0")
	}
	return pi, nil
}

// LookupPort asks epmd on host:epmdPort for the distribution port of alive.
// It checks the node speaks handshake version 6 (Highest >= 6; Lowest is
// ignored: OTP 25.2.3 still registers 5). Errors are KindEpmd (or
// KindTimeout/KindCancelled) and name the node.
func LookupPort(ctx context.Context, d *net.Dialer, host string, epmdPort int, alive string, node string) (PortInfo, error) {
	if epmdPort == 0 {
		epmdPort = DefaultEpmdPort
	}
	yield.Maybe()
	c, err := dialTCP(ctx, d, host, epmdPort, false)
	if err != nil {
		return PortInfo{}, ctxErr(ctx, KindEpmd, node, "epmd: connect", err)
	}
	defer c.Close()
	stop := watchCtx(ctx, c)
	defer stop()
	var req [3 + 255]byte
	if _, err := c.Write(appendPortPlease2(req[:0], alive)); err != nil {
		return PortInfo{}, ctxErr(ctx, KindEpmd, node, "epmd: send PORT_PLEASE2", err)
	}
	// epmd writes the reply and closes: read to EOF, bounded.
	read := c.Read
	if fc, ok := c.(*fdConn); ok {
		// An fdConn's wait does not see watchCtx move the deadline; it
		// watches ctx itself.
		read = func(p []byte) (int, error) { return fc.readCtx(ctx, false, p) }
	}
	buf := make([]byte, 0, 64)
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxEpmdReply {
				return PortInfo{}, newErr(KindEpmd, node, "epmd: PORT2_RESP", fmt.Errorf("reply longer than %d bytes", maxEpmdReply))
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return PortInfo{}, ctxErr(ctx, KindEpmd, node, "epmd: read PORT2_RESP", err)
		}
		// Stop early once a complete reply is in: saves waiting for the close.
		if replyComplete(buf) {
			break
		}
	}
	pi, err := parsePort2Resp(buf)
	if err != nil {
		return pi, newErr(KindEpmd, node, "epmd: PORT2_RESP", err)
	}
	if pi.Highest < 6 {
		return pi, newErr(KindEpmd, node, "epmd: PORT2_RESP",
			fmt.Errorf("node speaks distribution versions %d..%d; version 6 (OTP 23+) is required", pi.Lowest, pi.Highest))
	}
	return pi, nil
}

// replyComplete reports whether b holds a whole PORT2_RESP.
func replyComplete(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	if b[0] != epmdPort2Resp || b[1] != 0 {
		return true // error reply (2 bytes) or garbage: let the parser decide
	}
	if len(b) < 12 {
		return false
	}
	nlen := int(binary.BigEndian.Uint16(b[10:]))
	if len(b) < 12+nlen+2 {
		return false
	}
	elen := int(binary.BigEndian.Uint16(b[12+nlen:]))
	return len(b) >= 12+nlen+2+elen
}

// watchCtx makes blocking I/O on c return when ctx is done: the context's
// deadline becomes the socket deadline, and a cancel moves the deadline to
// the past. The returned stop must be called when the I/O is over; it
// reports false if the context fired (the socket is then unusable).
func watchCtx(ctx context.Context, c net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if ctx.Done() == nil {
		return func() bool { c.SetDeadline(time.Time{}); return true }
	}
	fired := make(chan struct{})
	s := context.AfterFunc(ctx, func() {
		c.SetDeadline(time.Unix(1, 0))
		close(fired)
	})
	return func() bool {
		if !s() {
			<-fired // never reset the deadline under a running callback
			return false
		}
		c.SetDeadline(time.Time{})
		return true
	}
}
