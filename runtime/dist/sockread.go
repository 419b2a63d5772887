// sockReader: the bytes under the connection's bufio.Reader, read either
// through Go's netpoller or, for a caller holding the read duty, by
// sleeping in the kernel on the caller's own thread.
package dist

import (
	"context"
	"net"
	"sync/atomic"
	"time"
)

// Why the second way: a caller that holds the read duty (duty.go) and finds
// no data parks in Go's netpoller; when the reply comes, a netpoller thread
// sees it and must wake the caller's goroutine. When that goroutine is
// locked to its OS thread (a PostgreSQL backend's goroutine always is: it
// is the cgo callback on the backend's thread) the wake-up is a hand-off
// between two OS threads, measured at ~7 µs and ~1.8 extra context switches
// per 20 µs call (bench/erlsql/README.md). A C node just sleeps in read(2)
// and the kernel wakes that thread. So while a caller reads directly, it
// sleeps in recv(2) on a blocking socket on its own thread, like a C node:
// the kernel wakes the thread that waits. The socket is an fdConn
// (fdconn_linux.go), which Go's netpoller does not watch, so no other
// thread is woken by the same packet.
//
// The wait is bounded by short slices (directSlice, the socket's
// SO_RCVTIMEO) so that the caller's context is looked at regularly: a
// cancelled context ends the wait within directSlice, with no timer, no
// AfterFunc and no socket deadline armed per call. Go's scheduler sees an
// ordinary blocking system call (the P stays with the thread while other
// Ps are idle, as with any short syscall); since the thread holds its P
// while it sleeps, a caller reads directly only while it is alone on the
// connection (duty.go, errHandOff).
//
// TLS connections keep the netpoller path (crypto/tls reads a net.Conn
// with deadlines), as do connections made with a Config's own Dialer.
const directSlice = 4 * time.Millisecond

// Slices of other waits that must look at a context (fdConn.wait: connect,
// and reads by a non-direct reader with a context).
const (
	pollSliceMin = time.Millisecond
	pollSliceMax = 8 * time.Millisecond
)

// sockReader counts bytes read (onTick uses the count to tell a silent
// peer) and implements the direct wait. ctx is set only by the holder of
// the read duty, around its reads (setDirect), and read only by whoever
// reads, which is that same holder: no lock needed.
type sockReader struct {
	nc     net.Conn
	fc     *fdConn // nil: no direct wait (TLS, or a socket from a Config's Dialer)
	n      atomic.Uint64
	ctx    context.Context // the direct reader's context (may be nil)
	direct bool            // a caller holding the read duty reads (setDirect)
	// beforeWait, if set, runs before each read by the reader goroutine
	// (Conn.flushCork: nothing stays corked while it waits).
	beforeWait func()
}

func newSockReader(nc net.Conn) *sockReader {
	r := &sockReader{nc: nc}
	r.fc, _ = nc.(*fdConn)
	return r
}

// setDirect switches the direct wait on (ctx non-nil) or off. It reports
// whether the direct wait is available; if not, the caller must bound its
// reads with socket deadlines instead.
func (r *sockReader) setDirect(ctx context.Context) bool {
	if r.fc == nil {
		return false
	}
	r.ctx, r.direct = ctx, ctx != nil
	return true
}

func (r *sockReader) Read(p []byte) (n int, err error) {
	switch {
	case r.fc != nil && r.direct:
		n, err = r.fc.readCtx(r.ctx, true, p)
	case r.fc != nil:
		if r.beforeWait != nil {
			r.beforeWait()
		}
		n, err = r.fc.pollerRead(p) // the reader goroutine
	default:
		n, err = r.nc.Read(p)
	}
	r.n.Add(uint64(n))
	return n, err
}

// dropPoller: the reader goroutine gave up the duty (fdConn.pollerRead).
func (r *sockReader) dropPoller() {
	if r.fc != nil {
		r.fc.dropPoller()
	}
}
