// fakenode: misbehaving Erlang nodes for the bad-input cases. A tiny epmd
// on <host>:4369 (a loopback address other than the real epmd's 127.0.0.1)
// maps each alive name to a distribution listener that completes the
// handshake (version 6, accepting side) and then answers rex calls the way
// its behaviour says: garbage, an oversized frame, a deeply nested or
// otherwise hostile term, a closed socket, or silence. Adapted from
// runtime/dist/internal/fakepeer (which is internal to runtime/dist and
// listens on an ephemeral epmd port the backend cannot be told about).
package main

import (
	"bufio"
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

// fakeFlags is what an OTP 25 node offers (as fakepeer.DefaultFlags).
const fakeFlags uint64 = 0x1070F94 | 0x8 | 0x20 | 1<<32 | 0x2000000 | 1<<34

type behavior int

const (
	bhGarbage        behavior = iota // a garbage packet instead of a reply
	bhOversize                       // a frame header claiming 2 GB
	bhDeep                           // a reply nested 100000 lists deep
	bhBadUTF8Bin                     // a binary that is not UTF-8 (fine: tagged base64)
	bhBadAtom                        // an atom whose bytes are not UTF-8
	bhHugeBignum                     // a bignum of 4 MB (printing it is quadratic)
	bhClose                          // close the socket when the call arrives
	bhSilentCall                     // never answer (ticks keep the link alive)
	bhSilentHS                       // accept TCP, never answer the handshake
	bhBadStatus                      // refuse the handshake ("not_allowed")
	bhBadDigest                      // a wrong digest in the challenge ack
	bhHugeTuple                      // a reply claiming a tuple of 2^32-1 elements
	bhNoRead                         // read nothing after the handshake (a node under SIGSTOP; ticks go on)
	bhNoReadAfterOne                 // answer one rex call with a pid (erlang:whereis(user)), then read nothing
)

type fakeNode struct {
	host   string // e.g. 127.0.0.2
	cookie string
	epmd   net.Listener
	mu     sync.Mutex
	ports  map[string]int // alive -> dist port
	lns    []net.Listener
	conns  map[net.Conn]bool
	closed bool
}

// startFakeNodes listens as epmd on host:4369 and makes one node per
// behaviour, named <prefix>_<n>@host.
func startFakeNodes(host, cookie string, names map[string]behavior) (*fakeNode, error) {
	f := &fakeNode{host: host, cookie: cookie, ports: map[string]int{}, conns: map[net.Conn]bool{}}
	var err error
	if f.epmd, err = net.Listen("tcp", net.JoinHostPort(host, "4369")); err != nil {
		return nil, err
	}
	go f.epmdLoop()
	for alive, b := range names {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			f.Close()
			return nil, err
		}
		f.lns = append(f.lns, ln)
		f.ports[alive] = ln.Addr().(*net.TCPAddr).Port
		go f.acceptLoop(ln, alive, b)
	}
	return f, nil
}

func (f *fakeNode) Close() {
	f.mu.Lock()
	f.closed = true
	conns := f.conns
	f.conns = map[net.Conn]bool{}
	f.mu.Unlock()
	f.epmd.Close()
	for _, ln := range f.lns {
		ln.Close()
	}
	for c := range conns {
		c.Close()
	}
}

func (f *fakeNode) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = true
	return true
}

func (f *fakeNode) epmdLoop() {
	for {
		c, err := f.epmd.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			var hdr [2]byte
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			req := make([]byte, binary.BigEndian.Uint16(hdr[:]))
			if _, err := io.ReadFull(c, req); err != nil || len(req) == 0 || req[0] != 122 {
				return
			}
			alive := string(req[1:])
			f.mu.Lock()
			port, ok := f.ports[alive]
			f.mu.Unlock()
			if !ok {
				c.Write([]byte{119, 1}) // not registered
				return
			}
			// <<119, 0, Port:16, 77, 0, Highest:16, Lowest:16, NLen:16, Name, ELen:16>>
			r := []byte{119, 0}
			r = binary.BigEndian.AppendUint16(r, uint16(port))
			r = append(r, 77, 0, 0, 6, 0, 5)
			r = binary.BigEndian.AppendUint16(r, uint16(len(alive)))
			r = append(r, alive...)
			r = append(r, 0, 0)
			c.Write(r)
		}()
	}
}

func (f *fakeNode) acceptLoop(ln net.Listener, alive string, b behavior) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if !f.track(c) {
			c.Close()
			return
		}
		go func() {
			defer c.Close()
			f.serve(c, alive+"@"+f.host, b)
		}()
	}
}

func fakeDigest(challenge uint32, cookie string) [16]byte {
	return md5.Sum([]byte(cookie + strconv.FormatUint(uint64(challenge), 10)))
}

func write16(w io.Writer, m []byte) error {
	_, err := w.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(m))), m...))
	return err
}

func read16(r io.Reader) ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	m := make([]byte, binary.BigEndian.Uint16(h[:]))
	_, err := io.ReadFull(r, m)
	return m, err
}

// serve runs the accepting handshake, then answers rex calls.
func (f *fakeNode) serve(c net.Conn, self string, b behavior) {
	br := bufio.NewReader(c)
	m, err := read16(br) // <<$N, Flags:64, Creation:32, NLen:16, Name>>
	if err != nil || len(m) < 15 || m[0] != 'N' {
		return
	}
	if b == bhSilentHS {
		io.Copy(io.Discard, br) // until the client gives up
		return
	}
	if b == bhBadStatus {
		write16(c, []byte("snot_allowed"))
		return
	}
	if write16(c, []byte("sok")) != nil {
		return
	}
	const challenge = 0x5eed1e55
	ch := []byte{'N'}
	ch = binary.BigEndian.AppendUint64(ch, fakeFlags)
	ch = binary.BigEndian.AppendUint32(ch, challenge)
	ch = binary.BigEndian.AppendUint32(ch, 7)
	ch = binary.BigEndian.AppendUint16(ch, uint16(len(self)))
	ch = append(ch, self...)
	if write16(c, ch) != nil {
		return
	}
	r, err := read16(br) // <<$r, Challenge:32, Digest:16>>
	if err != nil || len(r) != 21 || r[0] != 'r' {
		return
	}
	if want := fakeDigest(challenge, f.cookie); string(r[5:]) != string(want[:]) {
		return // a wrong cookie: close, as dist_util does
	}
	ack := fakeDigest(binary.BigEndian.Uint32(r[1:]), f.cookie)
	if b == bhBadDigest {
		ack[0] ^= 0xff
	}
	if write16(c, append([]byte{'a'}, ack[:]...)) != nil {
		return
	}
	f.connected(c, br, b)
}

func (f *fakeNode) connected(c net.Conn, br *bufio.Reader, b behavior) {
	var wmu sync.Mutex
	write := func(pkt []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(pkt))), pkt...))
		return err
	}
	done := make(chan struct{})
	defer close(done)
	go func() { // ticks
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if write(nil) != nil {
					return
				}
			}
		}
	}()
	stopReading := func() {
		for {
			f.mu.Lock()
			closed := f.closed
			f.mu.Unlock()
			if closed {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if b == bhNoRead {
		stopReading()
		return
	}
	for {
		var h [4]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(h[:])
		if n == 0 {
			continue
		}
		if n > 256<<20 {
			return
		}
		pkt := make([]byte, n)
		if _, err := io.ReadFull(br, pkt); err != nil || pkt[0] != 112 {
			return
		}
		ctl, k, err := term.Decode(pkt[1:], nil)
		if err != nil {
			return
		}
		t, _ := ctl.(term.Tuple)
		if len(t) != 4 || t[0] != int64(6) || t[3] != term.Atom("rex") {
			continue
		}
		payload, _, _ := term.Decode(pkt[1+k:], nil)
		call, _ := payload.(term.Tuple) // {'$gen_call', {From, Ref}, {call, M, F, A, _}}
		if len(call) != 3 {
			continue
		}
		from, _ := call[1].(term.Tuple)
		if len(from) != 2 {
			continue
		}
		if !f.answer(c, write, b, from) {
			return
		}
		if b == bhNoReadAfterOne {
			stopReading()
			return
		}
	}
}

// answer replies to one rex call as b says; false closes the connection.
func (f *fakeNode) answer(c net.Conn, write func([]byte) error, b behavior, from term.Tuple) bool {
	// A reply is <<112, {2, '', Pid}, {Ref, Result}>>; result is Result's
	// encoding without the version byte.
	reply := func(result []byte) {
		pkt := []byte{112}
		pkt, _ = term.Append(pkt, term.Tuple{int64(2), term.Atom(""), from[0]})
		pkt = append(pkt, 131, 104, 2)
		pkt, _ = term.AppendNoVersion(pkt, from[1])
		write(append(pkt, result...))
	}
	switch b {
	case bhGarbage:
		write([]byte{112, 131, 0xff, 0xfe, 0xfd, 'g', 'a', 'r', 'b', 'a', 'g', 'e'})
	case bhOversize:
		c.Write([]byte{0x7f, 0xff, 0xff, 0xff, 112, 131})
		return false
	case bhDeep:
		const depth = 100000
		r := make([]byte, 0, depth*6+1)
		for i := 0; i < depth; i++ {
			r = append(r, 108, 0, 0, 0, 1) // LIST_EXT, 1 element
		}
		r = append(r, 106) // the innermost []
		for i := 0; i < depth; i++ {
			r = append(r, 106) // each list's tail
		}
		reply(r)
	case bhBadUTF8Bin:
		reply([]byte{109, 0, 0, 0, 4, 0xff, 0xfe, 'o', 'k'}) // BINARY_EXT
	case bhBadAtom:
		reply([]byte{119, 3, 0xff, 0xfe, 0xfd}) // SMALL_ATOM_UTF8_EXT
	case bhHugeBignum:
		const n = 4 << 20
		r := []byte{111} // LARGE_BIG_EXT
		r = binary.BigEndian.AppendUint32(r, n)
		r = append(r, 0)
		for i := 0; i < n; i++ {
			r = append(r, 0x9b)
		}
		reply(r)
	case bhHugeTuple:
		reply([]byte{105, 0xff, 0xff, 0xff, 0xff, 106}) // LARGE_TUPLE_EXT claiming 2^32-1
	case bhClose:
		return false
	case bhSilentCall:
	case bhNoReadAfterOne:
		r, _ := term.AppendNoVersion(nil, term.Pid{Node: term.Atom("plerl_fake_noread1@" + f.host), ID: 1, Creation: 7})
		reply(r)
	}
	return true
}

func (b behavior) String() string {
	return fmt.Sprintf("behavior %d", int(b))
}
