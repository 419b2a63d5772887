// Conn: one established distribution connection, its writer, liveness timer, pending calls, mailboxes and dispatch.
package dist

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/plerl/plerl/runtime/term"
	"github.com/plerl/plerl/runtime/yield"
)

// DropPolicy says what a full mailbox does with a new message.
type DropPolicy int

const (
	// DropOldest discards the oldest queued message to make room (the
	// default: a slow receiver sees the most recent state).
	DropOldest DropPolicy = iota
	// DropNewest discards the arriving message (a slow receiver sees the
	// earliest messages in order, and misses the rest).
	DropNewest
)

// Config describes our side of every connection. The zero value of each
// optional field selects the default in brackets.
type Config struct {
	// NodeName is our node name, e.g. from NodeName(): "plerl_c1_3@127.0.0.1".
	NodeName string
	// Cookie is the shared secret. It is never logged nor put into errors.
	Cookie string
	// Creation for our pids and refs [random non-zero per connection].
	Creation uint32
	// TickTime is the peer's net_ticktime [60s]: we write a tick after
	// TickTime/4 of silence and declare the node down after TickTime
	// without a byte from it.
	TickTime time.Duration
	// MaxMessageSize caps an incoming packet; a larger one closes the
	// connection with a KindTooLarge error, without allocating it [64 MiB].
	MaxMessageSize int
	// MaxSendSize caps an outgoing message (KindTooLarge, nothing sent) [64 MiB].
	MaxSendSize int
	// MailboxSize bounds each pid's queue from NewPid [1024].
	MailboxSize int
	// MailboxDrop is what a full mailbox drops [DropOldest].
	MailboxDrop DropPolicy
	// MailboxBytes, if set, bounds the bytes of messages queued in the
	// mailboxes of every connection that shares it (a Pool's connections:
	// one budget per process). A message that does not fit is dropped
	// (DropNewest), or makes room by dropping the oldest of its own mailbox
	// (DropOldest), and is counted as a drop like a full mailbox's.
	MailboxBytes *ByteBudget
	// ReplyBytes, if set, bounds the bytes of call replies that have
	// arrived and wait to be collected (Pending.Wait) on every connection
	// that shares it: a pipeline's later replies read while it awaits an
	// earlier one. A reply is always accepted while nothing else is held;
	// one that does not fit fails its call with KindTooLarge (its bytes
	// are dropped), so a batch cannot hold more than the budget however
	// many calls it has in flight.
	ReplyBytes *ByteBudget
	// ReplaceAlive answers handshake status "alive" (our name still has a
	// connection on the peer) with "true", which makes the peer drop the old
	// connection. false answers "false" and fails with KindHandshake.
	ReplaceAlive bool
	// EpmdPort [4369].
	EpmdPort int
	// Port, if non-zero, is the peer's distribution port: epmd is skipped
	// (for nodes started with a fixed port, and for measuring the handshake
	// alone).
	Port int
	// WriteTimeout: a write blocked this long kills the connection (a
	// partially written packet cannot be abandoned) [TickTime].
	WriteTimeout time.Duration
	// TLS, when set, dials the distribution port with TLS (epmd stays plain)
	// and frames the handshake with 4-byte lengths (inet_tls_dist). If
	// ServerName is empty the peer's host part is used.
	TLS *tls.Config
	// Dialer for epmd and the distribution port. Nil (the default): plerl's
	// own sockets, which Go's netpoller does not watch (fdconn_linux.go);
	// a Dialer's connections are net.TCPConns and wait through the netpoller.
	Dialer *net.Dialer
	// Limits for decoding terms from the peer [term defaults].
	Limits term.Limits
	// OneWaiter says a pending call is awaited only by the goroutine that
	// made it, when it calls Wait (a backend: one thread makes every call,
	// and a pipeline keeps many in flight while it waits for the oldest).
	// Then a call nobody is waiting for does not need the reader goroutine:
	// a waiter reads the socket itself (dispatching the others' replies)
	// unless another goroutine is parked waiting or in Receive, and the
	// reader goroutine gives the duty up when nobody is parked, pending
	// calls or not (duty.go). Replies nobody waits for are read within
	// dutyGrace as before.
	OneWaiter bool

	// writerGoroutine selects the writer-goroutine design (tests and
	// benchmarks only, see useWriterGoroutine).
	writerGoroutine bool
	// noGoroutines leaves the read duty to the test and no liveness timer (measurement of
	// the reader hand-off only: TestMeasureReaderHandoff).
	noGoroutines bool
	// noCork: the reader goroutine never corks the writer (measurement of
	// corking: TestFakeCorkBatchesRequests).
	noCork bool

	// TickProbe: when a tick is due on an idle connection (nothing written
	// for TickTime/4, no call pending), write a probe the peer's runtime
	// answers instead, and keep its round trip (Conn.TickRTT): see
	// probeFrame. Off: plain ticks, which nobody answers.
	TickProbe bool
	// OnTickRTT, if set, is called (on the connection's timer or reader
	// goroutine, never the caller's) after each answered probe.
	OnTickRTT func(c *Conn)
}

const (
	defaultTickTime = 60 * time.Second
	defaultMaxMsg   = 64 << 20
	defaultMailbox  = 1024
	frameHdr        = 4
)

func (cfg *Config) withDefaults() (Config, error) {
	c := *cfg
	if _, _, err := splitNode(c.NodeName); err != nil {
		return c, newErr(KindConnect, "", "config", fmt.Errorf("our node name: %w", err))
	}
	if c.Cookie == "" {
		return c, newErr(KindConnect, "", "config", errors.New("cookie is empty"))
	}
	if c.TickTime <= 0 {
		c.TickTime = defaultTickTime
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = defaultMaxMsg
	}
	if c.MaxSendSize <= 0 {
		c.MaxSendSize = defaultMaxMsg
	}
	if c.MailboxSize <= 0 {
		c.MailboxSize = defaultMailbox
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = c.TickTime
	}
	return c, nil
}

// Conn is an established hidden-node connection to one Erlang node. All
// methods are safe for concurrent use. Whoever holds the read duty (the
// reader goroutine, or a caller waiting for its reply: duty.go) routes replies
// and messages (it never blocks on anything but the socket); writes are
// serialised by a combining writer (see writeFrame); a liveness timer
// keeps the link alive and detects a silent peer.
type Conn struct {
	cfg          Config
	node         string // peer node name
	self         term.Atom
	creation     uint32
	peerCreation uint32
	flags        uint64 // negotiated: ours & the peer's
	nc           net.Conn
	br           *bufio.Reader
	sr           *sockReader // under br: counts bytes (onTick), waits in the kernel for direct readers (sockread.go)
	fr           frameReader // used only by the holder of the read duty (duty.go)

	// read duty (duty.go)
	rmu           sync.Mutex
	duty          int
	receivers     int          // goroutines parked in Receive
	parked        atomic.Int32 // goroutines parked in wait on a call still pending (OneWaiter's "others"; pmu to change)
	dutyCh        chan struct{}
	dutyTimer     *time.Timer
	readerStarted atomic.Bool
	timerArmed    bool
	releasedAt    time.Time
	in            interner

	// combining writer
	wmu     sync.Mutex
	wwake   chan struct{} // closed when the queue is taken or the writer stops (writeRaw waits on it); nil: nobody waits
	wbuf    []byte
	wspare  []byte
	writing bool
	corked  bool        // the reader goroutine holds packets back (cork)
	held    atomic.Bool // the caller holds packets back (Hold), under wmu to change
	wdl     time.Time   // current write deadline
	wframes atomic.Uint64
	// corkable: the reader goroutine may cork (our own sockets only: its
	// flush must not block, see flushCork); rcorked: it has (its own).
	corkable, rcorked bool
	// wq, when set (tests and benchmarks only: useWriterGoroutine), sends
	// every packet through a dedicated writer goroutine instead; kept to
	// measure the combining writer against it (bench/distbench/README.md).
	wq chan []byte

	// control frames queued by the reader (tick answers, UNLINK_ID_ACK,
	// kills): written by a flusher goroutine so readers never block.
	ctlMu       sync.Mutex
	ctlQ        [][]byte
	ctlFlushing bool

	// liveness (onTick; only the timer's callback touches these)
	tickTimer            *time.Timer
	tickLastR, tickLastW uint64
	tickQuiet            int
	probeAge             int // intervals since the probe in flight went out

	// the tick probe (onTick writes it, dispatch takes its answer)
	probeK  atomic.Uint64 // its reference's key; 0: none in flight
	probeT0 atomic.Int64  // when it was written (Unix ns)
	tickRTT atomic.Int64  // the last answered probe's round trip (ns); 0: none yet
	tickAt  atomic.Int64  // when that answer came (Unix ns)

	// pending calls by reference counter
	pmu     sync.Mutex
	pending map[uint64]*call
	refSeq  uint64
	refSalt uint32

	// mailboxes by pid ID
	mmu    sync.Mutex
	boxes  map[uint32]*mailbox
	pidSeq uint32

	rpcPid term.Pid
	rexHdr []byte // pre-encoded REG_SEND to rex up to the call ref (see rpc.go)

	glMu sync.Mutex
	gl   any // group leader for spawn_request (remote user pid), nil until looked up

	done      chan struct{}
	closeOnce sync.Once
	err       error // why the connection ended; read only after done is closed

	since   time.Time
	calls   atomic.Uint64
	errs    atomic.Uint64
	lastRTT atomic.Int64
	drops   atomic.Uint64 // mailbox drops + messages for unknown pids
	late    atomic.Uint64 // replies nobody waited for
	// how waits were served (duty.go): reading directly, or parked
	directWaits, parkedWaits atomic.Uint64
}

// Dial looks the node up in epmd, connects, runs the handshake and starts
// the connection's goroutines. Every step runs under ctx.
func Dial(ctx context.Context, cfg *Config, node string) (*Conn, error) {
	conf, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	alive, host, err := splitNode(node)
	if err != nil {
		return nil, newErr(KindConnect, node, "connect", err)
	}
	port := conf.Port
	if port == 0 {
		pi, err := LookupPort(ctx, conf.Dialer, host, conf.EpmdPort, alive, node)
		if err != nil {
			return nil, err
		}
		port = int(pi.Port)
	}
	return dialPort(ctx, &conf, node, host, port)
}

// dialPort connects to a known distribution port (used by Dial and tests).
func dialPort(ctx context.Context, conf *Config, node, host string, port int) (*Conn, error) {
	yield.Maybe()
	raw, err := dialTCP(ctx, conf.Dialer, host, port, true)
	if err != nil {
		return nil, ctxErr(ctx, KindConnect, node, "connect", err)
	}
	nc := raw
	lenSize := 2
	if conf.TLS != nil {
		tcfg := conf.TLS.Clone()
		if tcfg.ServerName == "" {
			tcfg.ServerName = host
		}
		tlc := tls.Client(raw, tcfg)
		if err := tlc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, ctxErr(ctx, KindConnect, node, "connect: tls", err)
		}
		nc, lenSize = tlc, 4
	}
	stop := watchCtx(ctx, nc)
	sr := newSockReader(nc)
	c := &Conn{
		cfg:      *conf,
		node:     node,
		self:     term.Atom(conf.NodeName),
		nc:       nc,
		br:       bufio.NewReaderSize(sr, 16<<10), // bigger packets are read straight into their buffer
		sr:       sr,
		creation: conf.Creation,
		pending:  make(map[uint64]*call),
		boxes:    make(map[uint32]*mailbox),
		done:     make(chan struct{}),
	}
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		nc.Close()
		return nil, newErr(KindHandshake, node, "handshake", err)
	}
	if c.creation == 0 {
		c.creation = binary.BigEndian.Uint32(rnd[0:]) | 1 // non-zero, random per connection
	}
	c.refSalt = binary.BigEndian.Uint32(rnd[4:])
	hs := handshake{
		c:            hsConn{r: c.br, w: nc, lenSize: lenSize, buf: make([]byte, 0, 320)},
		ourName:      conf.NodeName,
		peerNode:     node,
		cookie:       conf.Cookie,
		flags:        OurFlags,
		creation:     c.creation,
		replaceAlive: conf.ReplaceAlive,
		ourChallenge: binary.BigEndian.Uint32(rnd[8:]),
	}
	sr.setDirect(ctx) // handshake reads look at ctx (fdConn; else watchCtx's deadlines do)
	err = hs.run()
	sr.setDirect(nil)
	if ok := stop(); !ok || err != nil {
		nc.Close()
		if ctx.Err() != nil {
			step := "handshake"
			var e *Error
			if errors.As(err, &e) {
				step = e.Step
			}
			return nil, ctxErr(ctx, KindHandshake, node, step, err)
		}
		var e *Error
		if errors.As(err, &e) && errors.Is(e.Err, os.ErrDeadlineExceeded) {
			e.Kind = KindTimeout
		}
		return nil, err
	}
	c.flags = OurFlags & expandFlags(hs.peer.Flags)
	c.peerCreation = hs.peer.Creation
	c.in.names = []string{conf.NodeName, node}
	c.since = time.Now()
	c.rpcPid = c.newPidLocked()
	c.rexHdr = c.buildRexHeader()
	if conf.writerGoroutine {
		c.useWriterGoroutine()
	}
	if c.corkable = sr.fc != nil && !conf.writerGoroutine && !conf.noCork; c.corkable {
		sr.beforeWait = c.flushCork // a reader about to wait flushes first
	}
	c.fr = frameReader{r: c.br, max: conf.MaxMessageSize}
	c.dutyCh = make(chan struct{}, 1)
	c.dutyTimer = time.AfterFunc(time.Hour, c.dutyTimeout)
	c.dutyTimer.Stop()
	// No goroutine is started here: the reader goroutine starts the first
	// time nobody else reads (duty.go), and liveness runs on a timer.
	if conf.noGoroutines {
		c.duty = dutyCaller // the test reads itself
	} else {
		c.rmu.Lock()
		c.freeDutyLocked()
		c.rmu.Unlock()
		c.tickLastR, c.tickLastW = c.sr.n.Load(), c.wframes.Load()
		c.tickTimer = time.AfterFunc(time.Hour, c.onTick)
		c.tickTimer.Reset(c.cfg.TickTime / 4) // after the assignment: onTick reads c.tickTimer
	}
	return c, nil
}

// dialTCP connects to host:port: an fdConn unless d is set (see
// Config.Dialer); dist: a distribution connection, not an epmd lookup.
func dialTCP(ctx context.Context, d *net.Dialer, host string, port int, dist bool) (net.Conn, error) {
	if d == nil && fdDialSupported {
		c, err := dialFd(ctx, host, port, dist)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	if d == nil {
		d = &net.Dialer{}
	}
	raw, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return raw, nil
}

// Node is the peer's node name.
func (c *Conn) Node() string { return c.node }

// Self is our node name on this connection.
func (c *Conn) Self() term.Atom { return c.self }

// Creation is the creation our pids and refs carry on this connection.
func (c *Conn) Creation() uint32 { return c.creation }

// Flags are the negotiated distribution flags (ours AND the peer's).
func (c *Conn) Flags() uint64 { return c.flags }

// Done is closed when the connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is nil while the connection is up, else why it ended (KindNodeDown,
// KindClosed, KindProtocol, KindTooLarge).
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the connection; pending calls fail with KindClosed, and
// messages queued in its mailboxes are dropped (closeAndEmpty).
func (c *Conn) Close() error {
	c.closeAndEmpty()
	return nil
}

// closeAndEmpty ends the connection (KindClosed). Unlike a connection that
// fails, a closed one also empties its mailboxes:
// whoever closes it says nothing queued there will be read, and their bytes
// go back to the MailboxBytes budget at once.
func (c *Conn) closeAndEmpty() {
	c.fail(newErr(KindClosed, c.node, "close", errors.New("connection closed")))
	c.mmu.Lock()
	boxes := c.boxes
	c.boxes = make(map[uint32]*mailbox)
	c.mmu.Unlock()
	for _, mb := range boxes {
		mb.empty(c.cfg.MailboxBytes)
	}
}

// fail ends the connection once, recording why; every waiter selects on done.
func (c *Conn) fail(err *Error) {
	c.closeOnce.Do(func() {
		c.err = err
		close(c.done)
		c.nc.Close()
		if c.dutyTimer != nil {
			c.dutyTimer.Stop()
		}
		if c.tickTimer != nil {
			c.tickTimer.Stop()
		}
		c.mmu.Lock()
		for _, mb := range c.boxes {
			mb.wake()
		}
		c.mmu.Unlock()
	})
}

func (c *Conn) downErr(step string, err error) *Error {
	return newErr(KindNodeDown, c.node, step, err)
}

// ---- writer --------------------------------------------------------------

// wbufMax bounds what callers may queue behind a write in progress. Below
// it a packet is appended and its caller returns at once (the batching of
// the combining writer); above it the caller waits, under its context,
// until it can write its packet itself or there is room: a writer blocked
// on a peer that stopped reading thus never collects an unbounded queue,
// and a caller whose context ends while it waits has queued nothing.
const wbufMax = 256 << 10

// writeFrame writes one packet. b must start with frameHdr bytes of room
// for the length, which writeFrame fills in. The combining writer: whoever
// finds the writer idle writes its own packet straight from its buffer
// (no copy, no goroutine hand-off); packets that arrive while a write is in
// progress are appended to a shared buffer (up to wbufMax) and written in
// one syscall when that write returns. Under contention (conc8) this
// batches many packets per syscall; idle it is one write per packet.
//
// Waiting to write is waiting: it ends with ctx (see writeLoop for what
// happens to a packet then). On return b may be reused. A write error or a
// write blocked for WriteTimeout kills the connection.
func (c *Conn) writeFrame(ctx context.Context, b []byte) error {
	n := len(b) - frameHdr
	if n > c.cfg.MaxSendSize {
		return newErr(KindTooLarge, c.node, "send", fmt.Errorf("message of %d bytes exceeds the %d byte limit", n, c.cfg.MaxSendSize))
	}
	binary.BigEndian.PutUint32(b, uint32(n))
	return c.writeRaw(ctx, b)
}

func (c *Conn) writeRaw(ctx context.Context, b []byte) error {
	if c.wq != nil {
		return c.writeViaGoroutine(ctx, b)
	}
	c.wmu.Lock()
	if c.held.Load() && !c.writing && !c.corked {
		select {
		case <-c.done:
			c.wmu.Unlock()
			return c.err
		default:
		}
		c.wbuf = append(c.wbuf, b...) // Hold: out with the next Release or wait
		if len(c.wbuf) < wbufMax {
			c.wmu.Unlock()
			return nil
		}
		// Full: out now, in order, without waiting (as Release).
		c.writing = true
		out := c.wbuf
		c.wbuf, c.wspare = c.wspare, nil
		c.wakeWritersLocked()
		c.writeLoop(nil, out, false, true)
		return nil
	}
	for c.writing || c.corked {
		// A cork with no write in progress is flushed by the reader as soon
		// as it has dispatched its read: no need to bound it.
		if (c.corked && !c.writing) || len(c.wbuf)+len(b) <= wbufMax {
			c.wbuf = append(c.wbuf, b...)
			c.wmu.Unlock()
			return nil
		}
		// Full: wait for the writer to take the queue or stop. b is not
		// queued, so giving up leaves nothing behind.
		if c.wwake == nil {
			c.wwake = make(chan struct{})
		}
		wake := c.wwake
		c.wmu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctxErr(ctx, KindTimeout, c.node, "write", ctx.Err())
		case <-c.done:
			return c.err
		}
		c.wmu.Lock()
	}
	select {
	case <-c.done:
		c.wmu.Unlock()
		return c.err
	default:
	}
	c.writing = true
	return c.writeLoop(ctx, b, true, false)
}

// wakeWritersLocked wakes callers waiting for room (writeRaw). Called with
// wmu held whenever the queue is taken or the writer stops.
func (c *Conn) wakeWritersLocked() {
	if c.wwake != nil {
		close(c.wwake)
		c.wwake = nil
	}
}

// writeLoop writes out, then whatever packets were appended to wbuf
// meanwhile, until wbuf is empty. Called with wmu held and c.writing set;
// returns with wmu released. own says out is the caller's buffer (else it is
// a batch buffer, kept for reuse).
//
// ctx is the caller's (nil: a background writer, bounded by WriteTimeout
// only). A caller waits for its own packet under ctx, never for others':
// once its packet is out, what the others queued is written with what the
// socket takes now and the rest is finished by a background writer (on our
// own sockets; a net.Conn's caller writes it under its ctx). nowait (the
// reader goroutine's flush): write only what the socket takes now.
//
// When ctx ends during the write: if nothing of the packet was written, it
// is withdrawn and the caller gets ctx's error; if part of it is on the
// wire, the stream cannot be resumed without the rest, so a background
// writer finishes it (a copy: the caller reuses its buffer) under
// WriteTimeout while the caller returns ctx's error at once. Why not close
// the connection instead: a peer that is only slow (a busy node, a full
// window) keeps its connection and the other callers' pending calls, and a
// peer that stopped for good is cut at WriteTimeout (= TickTime) as before,
// which is also when the liveness timer would declare it down. A net.Conn
// (TLS, a Config.Dialer) cannot resume an interrupted write (crypto/tls
// breaks the stream on a write timeout), so there the connection is closed.
func (c *Conn) writeLoop(ctx context.Context, out []byte, own, nowait bool) error {
	fc := c.ownSocket()
	for {
		c.refreshWriteDeadline()
		c.wmu.Unlock()
		var n int
		var err error
		if nowait {
			n, err = fc.writeNoWait(out)
			if err == nil && n < len(out) {
				c.wframes.Add(1)
				go c.finishWrite(out[n:]) // a batch buffer: not reused by anyone
				return nil
			}
		} else {
			n, err = c.writeOut(ctx, out)
		}
		c.wframes.Add(1)
		c.wmu.Lock()
		if err != nil {
			if ctx != nil && ctx.Err() != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				return c.abandonWriteLocked(ctx, out, n, own)
			}
			c.writing = false
			c.wbuf = c.wbuf[:0]
			c.wakeWritersLocked()
			c.wmu.Unlock()
			e := c.downErr("write", err)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				e = c.downErr("write", fmt.Errorf("write blocked for more than %v", c.cfg.WriteTimeout))
			}
			c.fail(e)
			return c.Err()
		}
		if !own && cap(out) <= 1<<20 { // keep a modest batch buffer
			c.wspare = out[:0]
		}
		if len(c.wbuf) == 0 {
			break
		}
		// Swap the accumulated packets out and write them in one go.
		out, c.wbuf = c.wbuf, c.wspare
		c.wspare = nil
		own = false
		c.wakeWritersLocked()
		if ctx != nil && fc != nil {
			nowait = true // others' packets: never wait for them (see above)
		}
	}
	c.writing = false
	c.wakeWritersLocked()
	c.wmu.Unlock()
	return nil
}

// abandonWriteLocked is writeLoop's end when ctx ended during a write of
// out of which n bytes went out (see writeLoop). Called with wmu held and
// c.writing set; releases wmu.
func (c *Conn) abandonWriteLocked(ctx context.Context, out []byte, n int, own bool) error {
	e := ctxErr(ctx, KindTimeout, c.node, "write", ctx.Err())
	if c.ownSocket() == nil {
		c.writing = false
		c.wbuf = c.wbuf[:0]
		c.wakeWritersLocked()
		c.wmu.Unlock()
		c.fail(c.downErr("write", fmt.Errorf("a write was abandoned half-done (%v): this connection cannot resume it", ctx.Err())))
		return e
	}
	var rest []byte
	if n > 0 || !own {
		rest = out[n:] // on the wire in part: must be finished
		if own {
			rest = append([]byte(nil), rest...)
			e.Err = fmt.Errorf("%w (%w)", e.Err, errPartialWrite)
		}
	} else if len(c.wbuf) > 0 { // ours is withdrawn; the queue still goes out
		rest, c.wbuf = c.wbuf, c.wspare
		c.wspare = nil
		c.wakeWritersLocked()
	}
	if rest == nil {
		c.writing = false
		c.wakeWritersLocked()
		c.wmu.Unlock()
		return e
	}
	c.wmu.Unlock()
	go c.finishWrite(rest)
	return e
}

// errPartialWrite marks a caller's ctx error after part of its packet went
// out: the packet will still reach the peer (CallKill must then be ready
// to kill what it spawns).
var errPartialWrite = errors.New("part of the packet was written; the rest follows in the background")

// finishWrite is a background writer: it stays the writer, writes rest and
// then the queue, bounded by WriteTimeout only.
func (c *Conn) finishWrite(rest []byte) {
	c.wmu.Lock()
	c.writeLoop(nil, rest, true, false)
}

// ownSocket is the connection's fdConn, nil for a net.Conn (TLS, Dialer,
// tests).
func (c *Conn) ownSocket() *fdConn {
	if c.sr == nil {
		return nil
	}
	return c.sr.fc
}

// writeOut writes all of out, waiting for the socket under ctx (nil: the
// write deadline only). n is how much went out.
func (c *Conn) writeOut(ctx context.Context, out []byte) (int, error) {
	if fc := c.ownSocket(); fc != nil {
		return fc.writeCtx(ctx, out)
	}
	if ctx == nil || ctx.Done() == nil {
		return c.nc.Write(out)
	}
	// A net.Conn's write is interrupted by moving its deadline.
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.nc.SetWriteDeadline(time.Unix(1, 0))
		close(fired)
	})
	n, err := c.nc.Write(out)
	if !stop() {
		<-fired
		c.wmu.Lock()
		c.wdl = time.Time{} // the next refreshWriteDeadline sets it again
		c.wmu.Unlock()
	}
	return n, err
}

// Corking (the reader goroutine only). Measured in conc8 (bench/distbench):
// the reader wakes several callers with one read; each then wrote its next
// request with its own sendto, one system call and one TCP segment per
// request on both sides (and a wake-up of the peer per segment). Instead,
// from the first packet of a read the reader corks the writer: packets are
// appended to wbuf, not written; when the reader has dispatched what it read
// (or must wait for more) it yields once, so the callers it woke run and
// queue their requests, then flushes them with one write. A lone caller
// reading its own replies (duty.go) never meets a cork.
func (c *Conn) cork() {
	c.rcorked = true
	c.wmu.Lock()
	c.corked = true
	c.wmu.Unlock()
}

// flushCork ends a cork (no-op if none): yield, then write what the woken
// callers queued. The reader must never block on a write (the peer may be
// blocked writing to us), so it writes only what the socket takes now.
func (c *Conn) flushCork() {
	if !c.rcorked {
		return
	}
	c.rcorked = false
	runtime.Gosched()
	c.wmu.Lock()
	c.corked = false
	if c.writing || len(c.wbuf) == 0 {
		c.wakeWritersLocked() // a caller waiting for room may now write itself
		c.wmu.Unlock()        // a writer in progress takes wbuf with it
		return
	}
	c.writeQueuedLocked()
}

// Hold makes the packets written from now on wait in the write queue
// (until it holds wbufMax bytes) instead of going out one system call each:
// a pipeline sending many requests in a row holds them, and they go out
// together with Release, which any wait for a reply does first (a caller
// never waits for a reply to a request still held). Our own sockets only
// (Release must not block); elsewhere Hold does nothing.
func (c *Conn) Hold() {
	if c.ownSocket() == nil || c.wq != nil || !c.corkable {
		return
	}
	c.wmu.Lock()
	c.held.Store(true)
	c.wmu.Unlock()
}

// Release ends a Hold and writes what it held, without waiting for the
// socket: what it does not take now a background writer finishes (as the
// reader's flushCork does). A no-op without a Hold.
func (c *Conn) Release() {
	if !c.held.Load() {
		return
	}
	c.wmu.Lock()
	c.held.Store(false)
	if c.writing || c.corked || len(c.wbuf) == 0 {
		c.wmu.Unlock() // a writer in progress or the reader's cork takes wbuf
		return
	}
	c.writeQueuedLocked()
}

// writeQueuedLocked becomes the writer of what wbuf holds and writes it
// without waiting for the socket (what it does not take now a background
// writer finishes). Called with wmu held and no write in progress; returns
// with wmu released.
func (c *Conn) writeQueuedLocked() {
	select {
	case <-c.done:
		c.wmu.Unlock()
		return
	default:
	}
	c.writing = true
	out := c.wbuf
	c.wbuf, c.wspare = c.wspare, nil
	c.wakeWritersLocked()
	c.writeLoop(nil, out, false, true)
}

// useWriterGoroutine switches c to the writer-goroutine design (for
// measurement only).
func (c *Conn) useWriterGoroutine() {
	c.wq = make(chan []byte, 256)
	go func() {
		var bufs net.Buffers
		for {
			select {
			case <-c.done:
				return
			case b := <-c.wq:
				bufs = append(bufs[:0], b)
			more:
				for len(bufs) < 64 {
					select {
					case b := <-c.wq:
						bufs = append(bufs, b)
					default:
						break more
					}
				}
				c.wmu.Lock()
				c.refreshWriteDeadline()
				c.wmu.Unlock()
				if _, err := bufs.WriteTo(c.nc); err != nil {
					c.fail(c.downErr("write", err))
					return
				}
				c.wframes.Add(1)
			}
		}
	}()
}

func (c *Conn) writeViaGoroutine(ctx context.Context, b []byte) error {
	cp := append([]byte(nil), b...) // the caller reuses b
	select {
	case c.wq <- cp:
		return nil
	case <-ctx.Done():
		return ctxErr(ctx, KindTimeout, c.node, "write", ctx.Err())
	case <-c.done:
		return c.err
	}
}

// refreshWriteDeadline keeps a write deadline between 3/4 and 1 WriteTimeout
// ahead without touching the socket's timer on every write. Called with wmu held.
func (c *Conn) refreshWriteDeadline() {
	now := time.Now()
	if c.wdl.Sub(now) < c.cfg.WriteTimeout*3/4 {
		c.wdl = now.Add(c.cfg.WriteTimeout)
		c.nc.SetWriteDeadline(c.wdl)
	}
}

// queueControl hands a packet to a short-lived flusher goroutine (for
// readers, which must never block on a write). Rare: tick answers,
// UNLINK_ID_ACK, DOWN noproc, kills.
func (c *Conn) queueControl(b []byte) {
	c.ctlMu.Lock()
	c.ctlQ = append(c.ctlQ, b)
	start := !c.ctlFlushing
	c.ctlFlushing = true
	c.ctlMu.Unlock()
	if start {
		go c.flushControl()
	}
}

func (c *Conn) flushControl() {
	for {
		c.ctlMu.Lock()
		q := c.ctlQ
		c.ctlQ = nil
		if len(q) == 0 {
			c.ctlFlushing = false
			c.ctlMu.Unlock()
			return
		}
		c.ctlMu.Unlock()
		for _, b := range q {
			if c.writeRaw(context.Background(), b) != nil { // a flusher goroutine: WriteTimeout bounds it
				c.ctlMu.Lock()
				c.ctlQ, c.ctlFlushing = nil, false
				c.ctlMu.Unlock()
				return
			}
		}
	}
}

var tickPacket = []byte{0, 0, 0, 0}

// onTick runs every TickTime/4 (a timer, not a goroutine: starting
// goroutines in Dial cost ~100 µs of setup time at GOMAXPROCS=2): write a
// tick if we wrote nothing in the last interval, and declare the node down
// after 4 intervals without a byte from it — the rule erts applies
// (net_kernel ticks every ticktime/4, dist_util counts intervals without
// input).
func (c *Conn) onTick() {
	select {
	case <-c.done:
		return
	default:
	}
	if r := c.sr.n.Load(); r == c.tickLastR {
		c.tickQuiet++
		if c.tickQuiet >= 4 {
			c.fail(c.downErr("tick", fmt.Errorf("no data from the peer for more than %v (net_ticktime)", c.cfg.TickTime)))
			return
		}
	} else {
		c.tickQuiet, c.tickLastR = 0, r
	}
	if c.wframes.Load() == c.tickLastW {
		pkt := tickPacket
		if c.cfg.TickProbe && c.probeDue() {
			pkt = c.probeFrame()
		}
		if c.writeRaw(context.Background(), pkt) != nil { // the timer's goroutine: WriteTimeout bounds it
			return
		}
	}
	c.tickLastW = c.wframes.Load()
	c.tickTimer.Reset(c.cfg.TickTime / 4)
}

// ---- the tick probe -------------------------------------------------------
//
// Ticks are one-way: a peer reads them and answers nothing, so they say
// nothing about the link's round trip. The probe is the cheapest request
// the peer's runtime itself answers, with no process and no user code
// involved and no atom created: MONITOR_P {19, RpcPid, Ghost, Ref}, where
// Ghost is a pid of the peer's node with a creation that is not the
// peer's (an "old incarnation" of it, which can never be alive). erts
// (dist.c, DOP_MONITOR_P) answers such a pid at once from the distribution
// entry with MONITOR_P_EXIT {21, Ghost, RpcPid, Ref, noproc}, creating no
// monitor. Its atoms are the two node names (the connection has them) and
// noproc. Creation 0 is avoided: erts takes a pid of its own node with
// creation 0 for a current one.

// probeDue: a tick is due and the connection is idle (no call pending);
// one probe at a time, given up after 4 intervals without an answer.
func (c *Conn) probeDue() bool {
	if c.peerCreation == 0 {
		return false // no handshake v6: the peer's creation is not known
	}
	if c.probeK.Load() != 0 {
		if c.probeAge++; c.probeAge < 4 {
			return false
		}
	}
	c.pmu.Lock()
	idle := len(c.pending) == 0
	c.pmu.Unlock()
	return idle
}

// probeFrame builds the probe and marks it in flight.
func (c *Conn) probeFrame() []byte {
	cr := c.peerCreation + 1
	if cr == 0 {
		cr = 1
	}
	ghost := term.Pid{Node: term.Atom(c.node), ID: 0, Serial: 0, Creation: cr}
	k := c.newRefKey()
	b := make([]byte, frameHdr, 160)
	b = append(b, passThrough, versionMagic)
	b = appendTupleHeader(b, 4)
	b = appendInt(b, OpMonitorP)
	b = appendPid(b, c.rpcPid)
	b = appendPid(b, ghost)
	b = c.appendOurRef(b, k)
	binary.BigEndian.PutUint32(b, uint32(len(b)-frameHdr))
	c.probeAge = 0
	c.probeT0.Store(time.Now().UnixNano())
	c.probeK.Store(k)
	return b
}

// probeAnswered takes the answer to the probe in flight (k: the answer's
// reference key); false: not the probe's.
func (c *Conn) probeAnswered(k uint64) bool {
	if k == 0 || !c.probeK.CompareAndSwap(k, 0) {
		return false
	}
	now := time.Now().UnixNano()
	c.tickRTT.Store(max(now-c.probeT0.Load(), 1))
	c.tickAt.Store(now)
	if f := c.cfg.OnTickRTT; f != nil {
		f(c)
	}
	return true
}

// TickRTT is the round trip of the last answered tick probe and when its
// answer came (0 and the zero time: none yet; Config.TickProbe).
func (c *Conn) TickRTT() (time.Duration, time.Time) {
	at := c.tickAt.Load()
	if at == 0 {
		return 0, time.Time{}
	}
	return time.Duration(c.tickRTT.Load()), time.Unix(0, at)
}

// ---- reader --------------------------------------------------------------

func isConnReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// dispatch routes one message. Only protocol violations return an error
// (which closes the connection); unknown ops and messages for unknown pids
// are dropped and counted.
func (c *Conn) dispatch(frame []byte) *Error {
	// Fast path: SEND {2, '', rpcPid} + {Ref, Result}, a rex reply.
	if c.fastReply(frame) {
		return nil
	}
	t, payload, err := splitMessage(frame, &c.cfg.Limits, &c.in)
	if err != nil {
		return newErr(KindProtocol, c.node, "read", err)
	}
	ctl, err := parseControl(t, payload, &c.cfg.Limits)
	if err != nil {
		return newErr(KindProtocol, c.node, "read", err)
	}
	switch ctl.Op {
	case OpSend, OpSendSender:
		c.deliverMsg(ctl.To, payload, int64(len(frame)+frameHdr))
	case OpExit, OpPayloadExit, OpExit2, OpPayloadExit2:
		kind := "exit"
		if ctl.Op == OpExit2 || ctl.Op == OpPayloadExit2 {
			kind = "exit2"
		}
		c.deliverSignal(ctl.To, Exit{From: ctl.From, Reason: ctl.Reason, Kind: kind})
	case OpMonitorPExit, OpPayloadMonitorPExit:
		if r, ok := ctl.Ref.(term.Ref); ok {
			if k, ok := c.ourRefKey(r); ok && c.probeAnswered(k) {
				return nil
			}
			if k, ok := c.ourRefKey(r); ok && c.routeSignal(k, ctl, int64(len(frame)+frameHdr)) {
				return nil
			}
		}
		c.deliverSignal(ctl.To, Down{Ref: ctl.Ref, Proc: ctl.From, Reason: ctl.Reason})
	case OpSpawnReply:
		if r, ok := ctl.Ref.(term.Ref); ok {
			if k, ok := c.ourRefKey(r); ok && c.routeSignal(k, ctl, int64(len(frame)+frameHdr)) {
				return nil
			}
		}
		c.late.Add(1)
	case OpUnlinkID:
		// New link protocol (mandatory in OTP 26): acknowledge at once.
		// UNLINK_ID_ACK {36, Id, FromPid, ToPid} comes from the unlinked side.
		b, err := appendControl(make([]byte, frameHdr, 64), term.Tuple{int64(OpUnlinkIDAck), ctl.ID, ctl.To, ctl.From}, nil, false)
		if err == nil {
			binary.BigEndian.PutUint32(b, uint32(len(b)-frameHdr))
			c.queueControl(b)
		}
	case OpMonitorP:
		// Someone monitors one of our pids. If it does not exist, answer
		// at once with DOWN noproc, as erts would.
		if p, ok := ctl.To.(term.Pid); ok && !c.pidExists(p) {
			b, err := appendControl(make([]byte, frameHdr, 128), term.Tuple{int64(OpMonitorPExit), ctl.To, ctl.From, ctl.Ref, term.Atom("noproc")}, nil, false)
			if err == nil {
				binary.BigEndian.PutUint32(b, uint32(len(b)-frameHdr))
				c.queueControl(b)
			}
		}
	default:
		// REG_SEND to a name (we register none), LINK, GROUP_LEADER,
		// DEMONITOR_P, UNLINK_ID_ACK, ALIAS_SEND, unknown future ops.
		c.drops.Add(1)
	}
	return nil
}

// ---- pids, refs, mailboxes ------------------------------------------------

// Exit is an exit signal delivered to one of our pids by Receive
// (EXIT/PAYLOAD_EXIT after a link, Kind "exit"; EXIT2, Kind "exit2").
type Exit struct {
	From   any
	Reason any
	Kind   string
}

// Down is a monitor DOWN message delivered by Receive (MONITOR_P_EXIT).
type Down struct {
	Ref    any
	Proc   any
	Reason any
}

type mail struct {
	payload []byte // raw message (decoded by Receive) ...
	sig     any    // ... or an Exit / Down
}

// ByteBudget is a number of bytes that several mailboxes draw on together
// (Config.MailboxBytes). Safe for concurrent use.
type ByteBudget struct {
	limit int64
	used  atomic.Int64
}

// NewByteBudget makes a budget of limit bytes (at least 1).
func NewByteBudget(limit int64) *ByteBudget { return &ByteBudget{limit: max(limit, 1)} }

// Used is the number of bytes held now.
func (b *ByteBudget) Used() int64 { return b.used.Load() }

// Limit is the budget's size.
func (b *ByteBudget) Limit() int64 { return b.limit }

func (b *ByteBudget) take(n int64) bool {
	if b == nil {
		return true
	}
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// takeHeld is take for held replies: a reply always fits while nothing
// else is held, so no single call fails for the budget alone (its size is
// bounded by MaxMessageSize).
func (b *ByteBudget) takeHeld(n int64) bool {
	if b == nil {
		return true
	}
	for {
		u := b.used.Load()
		if u > 0 && u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *ByteBudget) give(n int64) {
	if b != nil && n != 0 {
		b.used.Add(-n)
	}
}

// mailbox is a bounded ring of messages for one of our pids.
type mailbox struct {
	mu     sync.Mutex
	q      []mail
	head   int
	n      int
	drops  uint64
	notify chan struct{}
}

func (mb *mailbox) wake() {
	select {
	case mb.notify <- struct{}{}:
	default:
	}
}

// put enqueues m, applying the drop policy to a full mailbox and to a
// budget m's bytes do not fit in; reports whether something was dropped.
func (mb *mailbox) put(m mail, policy DropPolicy, budget *ByteBudget) bool {
	size := int64(len(m.payload))
	mb.mu.Lock()
	dropped := false
	for mb.n == len(mb.q) || !budget.take(size) {
		dropped = true
		mb.drops++
		if policy == DropNewest || mb.n == 0 {
			// Nothing of ours left to drop: the new message goes.
			mb.mu.Unlock()
			return true
		}
		budget.give(int64(len(mb.q[mb.head].payload)))
		mb.q[mb.head] = mail{}
		mb.head = (mb.head + 1) % len(mb.q)
		mb.n--
	}
	mb.q[(mb.head+mb.n)%len(mb.q)] = m
	mb.n++
	mb.mu.Unlock()
	mb.wake()
	return dropped
}

// empty drops every queued message, giving its bytes back to budget.
func (mb *mailbox) empty(budget *ByteBudget) {
	mb.mu.Lock()
	for mb.n > 0 {
		budget.give(int64(len(mb.q[mb.head].payload)))
		mb.q[mb.head] = mail{}
		mb.head = (mb.head + 1) % len(mb.q)
		mb.n--
	}
	mb.mu.Unlock()
	mb.wake()
}

func (mb *mailbox) len() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.n
}

func (mb *mailbox) take(budget *ByteBudget) (mail, bool) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if mb.n == 0 {
		return mail{}, false
	}
	m := mb.q[mb.head]
	mb.q[mb.head] = mail{}
	mb.head = (mb.head + 1) % len(mb.q)
	mb.n--
	budget.give(int64(len(m.payload)))
	return m, true
}

// newPidLocked allocates a pid of our node. IDs stay within 15 bits and
// serials within 13 (what pre-V4_NC peers accept); wrapping reuses numbers
// only after 2^28 pids.
func (c *Conn) newPidLocked() term.Pid {
	n := c.pidSeq
	c.pidSeq++
	return term.Pid{Node: c.self, ID: n & 0x7fff, Serial: (n >> 15) & 0x1fff, Creation: c.creation}
}

// NewPid creates a pid of ours with a bounded mailbox (Config.MailboxSize,
// Config.MailboxDrop). Messages sent to it are read with Receive; release
// it with ClosePid.
func (c *Conn) NewPid() term.Pid {
	c.mmu.Lock()
	p := c.newPidLocked()
	c.boxes[pidKey(p)] = &mailbox{q: make([]mail, c.cfg.MailboxSize), notify: make(chan struct{}, 1)}
	c.mmu.Unlock()
	return p
}

// ClosePid drops p's mailbox and what it holds; later messages to p are
// discarded.
func (c *Conn) ClosePid(p term.Pid) {
	c.mmu.Lock()
	mb := c.boxes[pidKey(p)]
	delete(c.boxes, pidKey(p))
	c.mmu.Unlock()
	if mb != nil {
		mb.empty(c.cfg.MailboxBytes)
	}
}

// Drops returns how many messages p's mailbox dropped because it was full.
func (c *Conn) Drops(p term.Pid) uint64 {
	mb := c.box(p)
	if mb == nil {
		return 0
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return mb.drops
}

func pidKey(p term.Pid) uint32 { return p.ID | p.Serial<<15 }

func (c *Conn) ours(p term.Pid) bool { return p.Node == c.self && p.Creation == c.creation }

func (c *Conn) box(p term.Pid) *mailbox {
	if !c.ours(p) {
		return nil
	}
	c.mmu.Lock()
	mb := c.boxes[pidKey(p)]
	c.mmu.Unlock()
	return mb
}

func (c *Conn) pidExists(p term.Pid) bool {
	return c.ours(p) && (p == c.rpcPid || c.box(p) != nil)
}

func (c *Conn) deliverMsg(to any, payload []byte, n int64) {
	p, ok := to.(term.Pid)
	if !ok {
		c.drops.Add(1)
		return
	}
	if p == c.rpcPid && c.ours(p) {
		c.rpcPidMessage(payload, n)
		return
	}
	mb := c.box(p)
	if mb == nil {
		c.drops.Add(1)
		return
	}
	if mb.put(mail{payload: payload}, c.cfg.MailboxDrop, c.cfg.MailboxBytes) {
		c.drops.Add(1)
	}
}

func (c *Conn) deliverSignal(to any, sig any) {
	p, ok := to.(term.Pid)
	if !ok {
		c.drops.Add(1)
		return
	}
	mb := c.box(p)
	if mb == nil {
		c.drops.Add(1)
		return
	}
	if mb.put(mail{sig: sig}, c.cfg.MailboxDrop, nil) {
		c.drops.Add(1)
	}
}

// Receive returns the next message for p (a decoded term, or an Exit or
// Down value), waiting until ctx is done. Messages queued before the
// connection ended are still returned; after that it fails with the
// connection's error.
func (c *Conn) Receive(ctx context.Context, p term.Pid) (any, error) {
	c.Release() // never wait for a message in answer to a packet still held (Hold)
	mb := c.box(p)
	if mb == nil {
		return nil, newErr(KindProtocol, c.node, "receive", fmt.Errorf("pid <%d.%d> has no mailbox on this connection", p.ID, p.Serial))
	}
	dead := false
	for {
		if m, ok := mb.take(c.cfg.MailboxBytes); ok {
			if m.sig != nil {
				return m.sig, nil
			}
			v, n, err := term.Decode(m.payload, &c.cfg.Limits)
			if err != nil {
				return nil, newErr(KindProtocol, c.node, "receive", err)
			}
			if n != len(m.payload) {
				return nil, protoErr(c.node, "receive", "%d bytes after the message term", len(m.payload)-n)
			}
			return v, nil
		}
		if dead {
			return nil, c.err
		}
		if !c.othersPending(nil) && c.tryTakeDuty() {
			// Nobody reads: read ourselves until a message is here.
			err := c.readDirect(ctx, nil, mb)
			c.releaseDuty()
			if err != errHandOff {
				if err != nil {
					if ctx.Err() != nil {
						return nil, ctxErr(ctx, KindTimeout, c.node, "receive", ctx.Err())
					}
					dead = true // one more look: messages queued before the end
				}
				continue
			}
			// others came: park like them (below)
		}
		c.rmu.Lock()
		c.receivers++
		c.rmu.Unlock()
		c.ensureReader()
		var err error
		select {
		case <-mb.notify:
		case <-ctx.Done():
			err = ctxErr(ctx, KindTimeout, c.node, "receive", ctx.Err())
		case <-c.done:
			dead = true // one more look: a last delivery may have raced
		}
		c.rmu.Lock()
		c.receivers--
		c.rmu.Unlock()
		if err != nil {
			return nil, err
		}
	}
}

// LastRTT is the round trip of the last request answered on c (0: none yet).
func (c *Conn) LastRTT() time.Duration { return time.Duration(c.lastRTT.Load()) }
