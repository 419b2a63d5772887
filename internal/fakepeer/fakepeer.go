// Package fakepeer is the one scripted Erlang node of plerl's tests: a tiny epmd plus distribution acceptors that can be told to misbehave.
//
// Each peer runs the accepting side of the handshake (version 6) and
// answers rex calls, and can refuse at epmd, send a bad digest, close
// after the challenge reply, stay silent in the handshake or on a call,
// send garbage, oversized frames or hostile terms, be slow, close
// mid-call, or restart. Start gives a peer its own epmd on an ephemeral
// port (for the dist client, which can be told the port); StartEpmd
// listens as epmd on a chosen address (e.g. 127.0.0.2:4369, for a backend,
// which always asks port 4369) and serves several peers on that host.
//
// It speaks just enough of the protocol (erl_dist_protocol.md) for tests;
// it is not an Erlang node. It lives at the module root, not under
// runtime/dist/internal, so that test/security can import it too.
package fakepeer

import (
	"bufio"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

// DefaultFlags is what an OTP 25 node offers (enough for the dist client):
// the OTP 25 mandatory set plus DIST_MONITOR, DIST_MONITOR_NAME, SPAWN,
// UNLINK_ID, V4_NC.
const DefaultFlags uint64 = 0x1070F94 | 0x8 | 0x20 | 1<<32 | 0x2000000 | 1<<34

// Behavior scripts the peer. The zero value is a well-behaved node.
type Behavior struct {
	EpmdRefuse      bool          // PORT2_RESP result 1 (not registered)
	EpmdHighest     uint16        // version reported by epmd (default 6)
	Status          string        // handshake status (default "ok")
	NokTimes        int           // answer the first this many handshakes "nok" (a simultaneous connect the client lost), then Status
	Version5        bool          // send a version 5 challenge ('n')
	Flags           uint64        // flags in our challenge (default DefaultFlags)
	BadDigest       bool          // send a wrong digest in the challenge ack
	CloseAfterName  bool          // close right after send_name (name refused)
	IgnoreCookie    bool          // accept any challenge reply
	HandshakeDelay  time.Duration // sleep before answering send_name
	ReplyDelay      time.Duration // sleep before answering each rex call
	SplitReply      time.Duration // write each reply in two parts, this far apart
	SilentHandshake bool          // read send_name, then never answer (until the client gives up)
	CloseOnCall     bool          // close the connection when a rex call arrives
	SilentOnCall    bool          // never answer a rex call (ticks keep the link alive)
	RawReply        []byte        // answer each rex call with this Result: an encoded term without the version byte, for terms the encoder refuses to make
	GarbageOnCall   []byte        // send this packet (4-byte framed) instead of a reply
	OversizeOnCall  uint32        // send a packet header claiming this many bytes
	NoTicks         bool          // never send ticks (default: tick every TickEvery)
	TickEvery       time.Duration // default 200ms
	BatchReplies    int           // hold rex replies until this many, then write them in one write (not with ReplyDelay)
	NoMonitorReply  bool          // ignore MONITOR_P (default: a pid of ours gets MONITOR_P_EXIT noproc, as erts answers one that is not alive)
	// HoldReads, if set, keeps the peer from reading anything after the
	// handshake until it is closed (a node that stopped reading, e.g. under
	// SIGSTOP: our writes fill the socket buffers and block). Ticks go on.
	HoldReads chan struct{}
	// HoldAfterCalls, with HoldReads: answer this many rex calls first,
	// then stop reading (0: stop right after the handshake).
	HoldAfterCalls int
}

// Peer is a running fake node.
type Peer struct {
	Name   string // alive@host
	Cookie string

	host    string
	epmd    *Epmd
	ownEpmd bool // Start made epmd for this peer alone: Close closes it

	mu       sync.Mutex
	b        Behavior
	noks     int // handshakes answered "nok" (Behavior.NokTimes)
	distLn   net.Listener
	distPort int
	conns    map[net.Conn]bool
	closed   bool
	wg       sync.WaitGroup

	// Observations for tests.
	Received chan Event
}

// Event is something the peer saw from the client.
type Event struct {
	Kind    string // "name", "tick", "msg", "reply" (a rex reply written), "closed"
	Name    string // client node name (for "name")
	Size    int    // "msg", "reply": the frame's bytes on the wire, the 4-byte length included
	Flags   uint64
	Ctrl    term.Tuple
	Payload any
}

// Epmd is a fake epmd: it answers PORT_PLEASE2 for the peers started
// through it, all on its host.
type Epmd struct {
	host  string
	ln    net.Listener
	mu    sync.Mutex
	peers map[string]*Peer // alive -> peer
	wg    sync.WaitGroup
}

// StartEpmd listens as epmd on addr (host:port; port 0 for any).
func StartEpmd(addr string) (*Epmd, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	e := &Epmd{host: host, ln: ln, peers: map[string]*Peer{}}
	e.wg.Add(1)
	go e.loop()
	return e, nil
}

// Port is where this epmd listens (set dist.Config.EpmdPort to it).
func (e *Epmd) Port() int { return e.ln.Addr().(*net.TCPAddr).Port }

// Host is the address this epmd and its peers listen on.
func (e *Epmd) Host() string { return e.host }

// Start makes node alive@host with behaviour b, registered in e.
func (e *Epmd) Start(alive, cookie string, b Behavior) (*Peer, error) {
	p := &Peer{Name: alive + "@" + e.host, Cookie: cookie, host: e.host, epmd: e, b: b,
		conns: map[net.Conn]bool{}, Received: make(chan Event, 1024)}
	if err := p.listenDist(0); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.peers[alive] = p
	e.mu.Unlock()
	return p, nil
}

// Close closes every peer of e, then e.
func (e *Epmd) Close() {
	e.mu.Lock()
	peers := e.peers
	e.peers = map[string]*Peer{}
	e.mu.Unlock()
	for _, p := range peers {
		p.closeNode()
	}
	e.ln.Close()
	e.wg.Wait()
}

// Start listens on 127.0.0.1 (random ports, its own epmd) as node
// alive@127.0.0.1.
func Start(alive, cookie string) (*Peer, error) {
	e, err := StartEpmd("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p, err := e.Start(alive, cookie, Behavior{})
	if err != nil {
		e.Close()
		return nil, err
	}
	p.ownEpmd = true
	return p, nil
}

// EpmdPort is where the peer's epmd listens (set Config.EpmdPort to it).
func (p *Peer) EpmdPort() int { return p.epmd.Port() }

// Set replaces the behaviour for new connections and calls.
func (p *Peer) Set(b Behavior) {
	p.mu.Lock()
	p.b = b
	p.mu.Unlock()
}

func (p *Peer) behavior() Behavior {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.b
}

func (p *Peer) listenDist(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(p.host, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.distLn = ln
	p.distPort = ln.Addr().(*net.TCPAddr).Port
	p.mu.Unlock()
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return nil
}

// Stop closes the distribution listener and every connection (the node
// "dies"); epmd then reports the name as not registered.
func (p *Peer) Stop() {
	p.mu.Lock()
	ln := p.distLn
	p.distLn = nil
	cs := p.conns
	p.conns = map[net.Conn]bool{}
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for c := range cs {
		c.Close()
	}
}

// Restart stops the node and starts it again on a new port.
func (p *Peer) Restart() error {
	p.Stop()
	return p.listenDist(0)
}

// KillConns closes every established connection but keeps listening.
func (p *Peer) KillConns() {
	p.mu.Lock()
	cs := p.conns
	p.conns = map[net.Conn]bool{}
	p.mu.Unlock()
	for c := range cs {
		c.Close()
	}
}

// Close stops the node and waits for its goroutines; a peer from Start
// closes its epmd too.
func (p *Peer) Close() {
	if p.ownEpmd {
		p.epmd.Close() // closes p
		return
	}
	p.epmd.mu.Lock()
	delete(p.epmd.peers, p.Alive())
	p.epmd.mu.Unlock()
	p.closeNode()
}

func (p *Peer) closeNode() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Stop()
	p.wg.Wait()
}

func (e *Epmd) loop() {
	defer e.wg.Done()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			return
		}
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
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
			e.mu.Lock()
			p := e.peers[alive]
			e.mu.Unlock()
			if p == nil {
				c.Write([]byte{119, 1}) // not registered
				return
			}
			b := p.behavior()
			p.mu.Lock()
			port, up := p.distPort, p.distLn != nil
			p.mu.Unlock()
			if b.EpmdRefuse || !up {
				c.Write([]byte{119, 1})
				return
			}
			hi := b.EpmdHighest
			if hi == 0 {
				hi = 6
			}
			// <<119, 0, Port:16, 77, 0, Highest:16, Lowest:16, NLen:16, Name, ELen:16>>
			r := []byte{119, 0}
			r = binary.BigEndian.AppendUint16(r, uint16(port))
			r = append(r, 77, 0)
			r = binary.BigEndian.AppendUint16(r, hi)
			r = binary.BigEndian.AppendUint16(r, 5)
			r = binary.BigEndian.AppendUint16(r, uint16(len(alive)))
			r = append(r, alive...)
			r = append(r, 0, 0)
			c.Write(r)
		}()
	}
}

func (p *Peer) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed || p.distLn != ln {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			p.serve(c)
			p.mu.Lock()
			delete(p.conns, c)
			p.mu.Unlock()
		}()
	}
}

func (p *Peer) event(e Event) {
	select {
	case p.Received <- e:
	default:
	}
}

func digest(challenge uint32, cookie string) [16]byte {
	return md5.Sum([]byte(cookie + strconv.FormatUint(uint64(challenge), 10)))
}

func write16(w io.Writer, m []byte) error {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(m)))
	_, err := w.Write(append(b, m...))
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

// serve runs the accepting handshake, then answers messages.
func (p *Peer) serve(c net.Conn) {
	b := p.behavior()
	br := bufio.NewReader(c)
	// recv_name: <<$N, Flags:64, Creation:32, NLen:16, Name>>
	m, err := read16(br)
	if err != nil || len(m) < 15 || m[0] != 'N' {
		return
	}
	clientFlags := binary.BigEndian.Uint64(m[1:])
	nlen := int(binary.BigEndian.Uint16(m[13:]))
	if len(m) < 15+nlen {
		return
	}
	clientName := string(m[15 : 15+nlen])
	p.event(Event{Kind: "name", Name: clientName, Flags: clientFlags})
	if b.CloseAfterName {
		return
	}
	if b.SilentHandshake {
		io.Copy(io.Discard, br) // until the client gives up
		return
	}
	if b.HandshakeDelay > 0 {
		time.Sleep(b.HandshakeDelay)
	}
	status := b.Status
	if status == "" {
		status = "ok"
	}
	if b.NokTimes > 0 {
		p.mu.Lock()
		if p.noks < b.NokTimes {
			p.noks++
			status = "nok"
		}
		p.mu.Unlock()
	}
	if write16(c, append([]byte{'s'}, status...)) != nil {
		return
	}
	switch status {
	case "ok", "ok_simultaneous":
	case "alive":
		ans, err := read16(br)
		if err != nil || string(ans) != "strue" {
			return
		}
	default:
		return
	}
	flags := b.Flags
	if flags == 0 {
		flags = DefaultFlags
	}
	const ourChallenge = 0xdeadbeef
	if b.Version5 {
		// <<$n, Version:16, Flags:32, Challenge:32, Name>>
		ch := []byte{'n', 0, 5}
		ch = binary.BigEndian.AppendUint32(ch, uint32(flags))
		ch = binary.BigEndian.AppendUint32(ch, ourChallenge)
		write16(c, append(ch, p.Name...))
		return
	}
	// send_challenge: <<$N, Flags:64, Challenge:32, Creation:32, NLen:16, Name>>
	ch := []byte{'N'}
	ch = binary.BigEndian.AppendUint64(ch, flags)
	ch = binary.BigEndian.AppendUint32(ch, ourChallenge)
	ch = binary.BigEndian.AppendUint32(ch, 7)
	ch = binary.BigEndian.AppendUint16(ch, uint16(len(p.Name)))
	ch = append(ch, p.Name...)
	if write16(c, ch) != nil {
		return
	}
	// recv_challenge_reply: <<$r, Challenge:32, Digest:16>>
	r, err := read16(br)
	if err != nil || len(r) != 21 || r[0] != 'r' {
		return
	}
	want := digest(ourChallenge, p.Cookie)
	if !b.IgnoreCookie && string(r[5:]) != string(want[:]) {
		return // like dist_util: close on a bad reply
	}
	ack := digest(binary.BigEndian.Uint32(r[1:]), p.Cookie)
	if b.BadDigest {
		ack[0] ^= 0xff
	}
	if write16(c, append([]byte{'a'}, ack[:]...)) != nil {
		return
	}
	p.connected(c, br, clientName)
}

func (p *Peer) connected(c net.Conn, br *bufio.Reader, client string) {
	var wmu sync.Mutex
	write := func(pkt []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		h := binary.BigEndian.AppendUint32(nil, uint32(len(pkt)))
		if b := p.behavior(); b.SplitReply > 0 && len(pkt) > 0 {
			// Header and half the packet, a pause, then the rest (ticks
			// wait: they must not land inside the packet).
			full := append(h, pkt...)
			if _, err := c.Write(full[:len(full)/2]); err != nil {
				return err
			}
			time.Sleep(b.SplitReply)
			_, err := c.Write(full[len(full)/2:])
			return err
		}
		_, err := c.Write(append(h, pkt...))
		return err
	}
	replyWrite := write
	if n := p.behavior().BatchReplies; n > 0 {
		var held []byte
		count := 0
		replyWrite = func(pkt []byte) error {
			held = binary.BigEndian.AppendUint32(held, uint32(len(pkt)))
			held = append(held, pkt...)
			if count++; count < n {
				return nil
			}
			wmu.Lock()
			defer wmu.Unlock()
			_, err := c.Write(held)
			held, count = held[:0], 0
			return err
		}
	}
	done := make(chan struct{})
	defer close(done)
	if b := p.behavior(); !b.NoTicks {
		every := b.TickEvery
		if every == 0 {
			every = 200 * time.Millisecond
		}
		go func() {
			t := time.NewTicker(every)
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
	}
	hold := p.behavior().HoldReads
	if hold != nil && p.behavior().HoldAfterCalls == 0 {
		// No smaller receive buffer: with a tiny window and delayed ACKs
		// the test's 32 MB would take minutes once released.
		<-hold
	}
	answered := 0
	for {
		var h [4]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			p.event(Event{Kind: "closed"})
			return
		}
		n := binary.BigEndian.Uint32(h[:])
		if n == 0 {
			p.event(Event{Kind: "tick"})
			continue
		}
		if n > 256<<20 {
			return
		}
		pkt := make([]byte, n)
		if _, err := io.ReadFull(br, pkt); err != nil {
			return
		}
		if pkt[0] != 112 {
			return
		}
		ctl, k, err := term.Decode(pkt[1:], nil)
		if err != nil {
			return
		}
		t, _ := ctl.(term.Tuple)
		var payload any
		if rest := pkt[1+k:]; len(rest) > 0 {
			payload, _, _ = term.Decode(rest, nil)
		}
		p.event(Event{Kind: "msg", Ctrl: t, Payload: payload, Size: 4 + int(n)})
		if len(t) == 4 && t[0] == int64(19) && !p.behavior().NoMonitorReply {
			// No process of ours is alive (we have none): noproc at once.
			if to, ok := t[2].(term.Pid); ok && string(to.Node) == p.Name {
				if write(Control(term.Tuple{int64(21), to, t[1], t[3], term.Atom("noproc")}, nil)) != nil {
					return
				}
			}
		}
		if len(t) == 4 && t[0] == int64(6) && t[3] == term.Atom("rex") {
			if !p.rexCall(c, replyWrite, payload) {
				return
			}
			if answered++; hold != nil && answered == p.behavior().HoldAfterCalls {
				<-hold
			}
		}
	}
}

// rexCall answers {'$gen_call', {From, Ref}, {call, M, F, A, _}} with
// {Ref, Result}: erlang:node() gives our name, anything else {M, F, A}.
func (p *Peer) rexCall(c net.Conn, write func([]byte) error, payload any) bool {
	b := p.behavior()
	t, ok := payload.(term.Tuple)
	if !ok || len(t) != 3 || t[0] != term.Atom("$gen_call") {
		return true
	}
	from, _ := t[1].(term.Tuple)
	req, _ := t[2].(term.Tuple)
	if len(from) != 2 || len(req) != 5 {
		return true
	}
	if b.CloseOnCall {
		return false
	}
	if b.SilentOnCall {
		return true
	}
	if b.GarbageOnCall != nil {
		write(b.GarbageOnCall)
		return true
	}
	if b.OversizeOnCall > 0 {
		h := binary.BigEndian.AppendUint32(nil, b.OversizeOnCall)
		c.Write(append(h, 112, 131))
		return true
	}
	var result any = term.Tuple{req[1], req[2], req[3]}
	if req[1] == term.Atom("erlang") && req[2] == term.Atom("node") {
		result = term.Atom(p.Name)
	}
	reply := func() {
		pkt := []byte{112}
		pkt, _ = term.Append(pkt, term.Tuple{int64(2), term.Atom(""), from[0]})
		if b.RawReply != nil {
			// {Ref, Result} by hand: SMALL_TUPLE_EXT of 2, Ref, the raw Result.
			pkt = append(pkt, 131, 104, 2)
			pkt, _ = term.AppendNoVersion(pkt, from[1])
			pkt = append(pkt, b.RawReply...)
			write(pkt)
			p.event(Event{Kind: "reply", Size: 4 + len(pkt)})
			return
		}
		pkt, _ = term.Append(pkt, term.Tuple{from[1], result})
		write(pkt)
		p.event(Event{Kind: "reply", Size: 4 + len(pkt)})
	}
	if b.ReplyDelay > 0 {
		go func() { time.Sleep(b.ReplyDelay); reply() }()
	} else {
		reply()
	}
	return true
}

// SendTo sends a raw packet body (e.g. <<112, Ctrl, Msg>>) to every
// connected client.
func (p *Peer) SendTo(pkt []byte) error {
	p.mu.Lock()
	cs := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		cs = append(cs, c)
	}
	p.mu.Unlock()
	if len(cs) == 0 {
		return errors.New("fakepeer: no connection")
	}
	for _, c := range cs {
		h := binary.BigEndian.AppendUint32(nil, uint32(len(pkt)))
		if _, err := c.Write(append(h, pkt...)); err != nil {
			return err
		}
	}
	return nil
}

// Control encodes <<112, Ctrl [, Msg]>> for SendTo.
func Control(ctrl term.Tuple, msg any) []byte {
	pkt := []byte{112}
	pkt, err := term.Append(pkt, ctrl)
	if err != nil {
		panic(fmt.Sprint("fakepeer: ", err))
	}
	if msg != nil {
		if pkt, err = term.Append(pkt, msg); err != nil {
			panic(fmt.Sprint("fakepeer: ", err))
		}
	}
	return pkt
}

// Alive returns the part of Name before '@'.
func (p *Peer) Alive() string { return strings.SplitN(p.Name, "@", 2)[0] }
