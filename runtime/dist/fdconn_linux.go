// fdConn: a TCP socket that Go's netpoller never sees; every wait is a
// ppoll(2) on the waiting goroutine's own thread.
package dist

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// Why not a net.TCPConn: Go registers every socket with its netpoller
// (epoll, edge-triggered, read and write interest). Even when the caller
// waits for its reply in ppoll on its own thread (sockReader), each packet
// arriving also wakes the netpoller thread that sleeps in epoll_pwait:
// strace of bench/erlsql/lockcall shows one epoll_pwait return per reply,
// a second context switch per call on top of the one a C node pays. A
// socket created here is not registered, so the only thread the kernel
// wakes for a reply is the one waiting for it.
//
// Deadlines (SetDeadline and friends) apply to waits that start after they
// are set: nothing here interrupts a wait already in progress except Close
// (shutdown(2) wakes every waiter). That is all Conn needs: the reader
// goroutine has no deadline, a direct reader bounds its wait by its
// context (readCtx), and a writer sets its own deadline before it writes.
type fdConn struct {
	fd       int
	mu       sync.RWMutex // shared: an I/O in progress; exclusive: Close closing fd
	closed   atomic.Bool
	rdl, wdl atomic.Int64 // deadlines, Unix ns; 0 = none
	raddr    net.Addr
	blocking bool // O_NONBLOCK cleared and SO_RCVTIMEO set (connectFd)
	lone     bool // one goroutine only (epmd): Close need not wake anyone

	// The reader goroutine's view of the socket, registered with Go's
	// netpoller while it reads (pollerRead, dropPoller).
	pmu sync.Mutex
	pf  *os.File
	prc syscall.RawConn
}

const (
	pollIn  = 0x1
	pollOut = 0x4
)

// fdDialSupported: Dial uses dialFd unless the Config names a Dialer.
const fdDialSupported = true

// dialFd resolves host (an IP literal needs no lookup) and connects to the
// first address that answers, under ctx. A distribution connection (dist)
// gets TCP_NODELAY and the blocking mode of direct reads; an epmd lookup
// (one request, one reply, one goroutine) needs neither.
func dialFd(ctx context.Context, host string, port int, dist bool) (*fdConn, error) {
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	var first error
	for _, ip := range ips {
		c, err := connectFd(ctx, ip, port, dist)
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

func connectFd(ctx context.Context, ip net.IP, port int, dist bool) (*fdConn, error) {
	raddr := &net.TCPAddr{IP: ip, Port: port}
	opErr := func(call string, err error) error {
		if errno, ok := err.(syscall.Errno); ok {
			err = os.NewSyscallError(call, errno)
		}
		return &net.OpError{Op: "dial", Net: "tcp", Addr: raddr, Err: err}
	}
	family := syscall.AF_INET
	var sa syscall.Sockaddr
	if ip4 := ip.To4(); ip4 != nil {
		s := &syscall.SockaddrInet4{Port: port}
		copy(s.Addr[:], ip4)
		sa = s
	} else {
		family = syscall.AF_INET6
		s := &syscall.SockaddrInet6{Port: port}
		copy(s.Addr[:], ip.To16())
		sa = s
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, syscall.IPPROTO_TCP)
	if err != nil {
		return nil, opErr("socket", err)
	}
	c := &fdConn{fd: fd, raddr: raddr}
	err = syscall.Connect(fd, sa)
	if err == syscall.EINPROGRESS || err == syscall.EINTR {
		if err = c.wait(ctx, pollOut, 0); err == nil {
			var soerr int
			soerr, err = syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
			if err == nil && soerr != 0 {
				err = syscall.Errno(soerr)
			}
		}
	}
	if err != nil {
		syscall.Close(fd)
		if err == os.ErrDeadlineExceeded && ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, opErr("connect", err)
	}
	if !dist {
		c.lone = true
		return c, nil
	}
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	// From here on the descriptor blocks: a direct reader sleeps in recv(2)
	// itself, woken by SO_RCVTIMEO every directSlice (readCtx); everything
	// else passes MSG_DONTWAIT.
	tv := syscall.NsecToTimeval(int64(directSlice))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err == nil {
		if err := syscall.SetNonblock(fd, false); err == nil {
			c.blocking = true
		}
	}
	return c, nil
}

// wait blocks until fd is ready for events, or: the connection is closed
// (net.ErrClosed), the deadline dl (Unix ns, 0 = none) passes, or ctx (may
// be nil) ends (both os.ErrDeadlineExceeded). With a ctx the wait is cut
// into slices (pollSliceMin doubling up to pollSliceMax) so a cancel is
// seen without arming anything per call; without one it sleeps until the
// deadline or for ever (Close wakes it).
func (c *fdConn) wait(ctx context.Context, events int16, dl int64) error {
	if ctx != nil && ctx.Done() == nil {
		ctx = nil // never ends: no need to look at it
	}
	slice := pollSliceMin
	for {
		if c.closed.Load() {
			return net.ErrClosed
		}
		d := time.Duration(-1)
		if ctx != nil {
			if ctx.Err() != nil {
				return os.ErrDeadlineExceeded
			}
			d = slice
			if cdl, ok := ctx.Deadline(); ok {
				// Wake at the context's deadline (at least 50 µs from now:
				// its own timer ends it at the same moment).
				d = min(d, max(time.Until(cdl), 50*time.Microsecond))
			}
		}
		if dl != 0 {
			left := time.Duration(dl - time.Now().UnixNano())
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			if d < 0 || left < d {
				d = left
			}
		}
		ready, err := ppoll(c.fd, events, d)
		if err != nil {
			return err
		}
		if ready {
			return nil
		}
		if slice < pollSliceMax {
			slice *= 2
		}
	}
}

// ppoll waits up to d (d < 0: no limit) for events on fd. Errors and
// hang-ups count as ready: the read or write that follows reports them. A
// signal (the backend's SIGINT for a cancel, say) ends the wait early as
// not ready: the caller looks at its context again.
func ppoll(fd int, events int16, d time.Duration) (bool, error) {
	pfd := struct {
		fd      int32
		events  int16
		revents int16
	}{fd: int32(fd), events: events}
	var tsp unsafe.Pointer
	var ts syscall.Timespec
	if d >= 0 {
		ts = syscall.NsecToTimespec(int64(d))
		tsp = unsafe.Pointer(&ts)
	}
	n, _, errno := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(tsp), 0, 0, 0)
	switch {
	case errno == syscall.EINTR:
		return false, nil
	case errno != 0:
		return false, os.NewSyscallError("ppoll", errno)
	}
	return n > 0, nil
}

func (c *fdConn) Read(p []byte) (int, error) { return c.readCtx(nil, false, p) }

// readCtx reads once, waiting for data first. A direct reader (direct:
// the caller waiting for its own reply, duty.go) sleeps in recv(2) itself,
// one system call where poll-then-read takes two; the socket's SO_RCVTIMEO
// wakes it every directSlice to look at ctx and the deadline. Anyone else
// (the reader goroutine: no context, no deadline, possibly idle for hours)
// waits in ppoll (see wait) and reads with MSG_DONTWAIT.
func (c *fdConn) readCtx(ctx context.Context, direct bool, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if direct && c.blocking {
		if ctx != nil && ctx.Done() == nil {
			ctx = nil
		}
		for {
			if c.closed.Load() {
				return 0, c.opErr("read", net.ErrClosed)
			}
			if ctx != nil && ctx.Err() != nil {
				return 0, os.ErrDeadlineExceeded
			}
			if dl := c.rdl.Load(); dl != 0 && time.Now().UnixNano() >= dl {
				return 0, os.ErrDeadlineExceeded
			}
			// again: SO_RCVTIMEO, or a signal: look at ctx again
			if n, again, err := c.recvResult(recv(c.fd, p, 0)); !again {
				return n, err
			}
		}
	}
	for {
		if err := c.wait(ctx, pollIn, c.rdl.Load()); err != nil {
			return 0, c.opErr("read", err)
		}
		// again: readable was a false alarm
		if n, again, err := c.recvResult(recv(c.fd, p, syscall.MSG_DONTWAIT)); !again {
			return n, err
		}
	}
}

// recvResult turns one recv into a Read result; again: nothing was read
// (EAGAIN or EINTR) and the caller waits and tries again.
func (c *fdConn) recvResult(n int, err error) (int, bool, error) {
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return 0, true, nil
	case err != nil:
		return 0, false, c.opErr("read", os.NewSyscallError("recvfrom", err))
	case n == 0:
		return 0, false, io.EOF
	}
	return n, false, nil
}

// pollerRead is how the reader goroutine reads: through Go's netpoller, so
// that while it waits it holds no P. A goroutine blocked in a system call
// keeps its P until sysmon takes it, which with runnable goroutines behind
// it and sysmon asleep (runtime/yield keeps it asleep) can take
// milliseconds: with 8 callers on one connection and GOMAXPROCS=1 the p99
// was 18 ms. Direct readers, alone by definition, keep waiting in recv.
//
// The registration is a duplicate descriptor opened as an os.File (Go
// registers a descriptor it finds non-blocking, so the flag is set around
// os.NewFile and cleared again: our descriptor's waits rely on it being
// clear, and every read here passes MSG_DONTWAIT). While it exists every
// arriving packet also wakes the netpoller, so the reader drops it when it
// gives up the read duty (dropPoller).
func (c *fdConn) pollerRead(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return 0, c.opErr("read", net.ErrClosed)
	}
	rc, err := c.poller()
	if err != nil {
		return c.readCtx(nil, false, p) // no registration: wait in ppoll instead
	}
	var n int
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = recv(int(fd), p, syscall.MSG_DONTWAIT)
			if rerr != syscall.EINTR {
				return rerr != syscall.EAGAIN // EAGAIN: wait in the netpoller
			}
		}
	})
	if err != nil { // the wait failed: closed under us, or the descriptor's poller
		if c.closed.Load() {
			return 0, c.opErr("read", net.ErrClosed)
		}
		return 0, c.opErr("read", err)
	}
	n, _, err = c.recvResult(n, rerr) // not EAGAIN or EINTR here
	return n, err
}

func (c *fdConn) poller() (syscall.RawConn, error) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.prc != nil {
		return c.prc, nil
	}
	dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(c.fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, errno
	}
	if c.blocking {
		syscall.SetNonblock(int(dup), true)
	}
	f := os.NewFile(dup, "plerl-dist")
	if c.blocking {
		syscall.SetNonblock(c.fd, false)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	c.pf, c.prc = f, rc
	return rc, nil
}

// dropPoller ends the netpoller registration (see pollerRead).
func (c *fdConn) dropPoller() {
	c.pmu.Lock()
	f := c.pf
	c.pf, c.prc = nil, nil
	c.pmu.Unlock()
	if f != nil {
		f.Close()
	}
}

func recv(fd int, p []byte, flags int) (int, error) {
	n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), uintptr(flags), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// Write writes all of p (MSG_NOSIGNAL: a dead peer is EPIPE, never a
// SIGPIPE; MSG_DONTWAIT: a full socket buffer is waited for in ppoll), up
// to the write deadline.
func (c *fdConn) Write(p []byte) (int, error) { return c.writeCtx(nil, p) }

// writeCtx is Write whose waits for room also end with ctx (nil: none),
// looked at every few milliseconds as in wait (os.ErrDeadlineExceeded; the
// caller tells ctx from the deadline). n says how much of p went out: a
// caller must know whether a packet was touched at all. The first send
// costs nothing extra: ctx is looked at only once the socket is full.
func (c *fdConn) writeCtx(ctx context.Context, p []byte) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	done := 0
	for {
		n, err := c.send(p[done:])
		done += n
		if err != nil || done == len(p) {
			return done, err
		}
		if err := c.wait(ctx, pollOut, c.wdl.Load()); err != nil {
			return done, c.opErr("write", err)
		}
	}
}

// writeNoWait writes as much of p as the socket buffer takes now.
func (c *fdConn) writeNoWait(p []byte) (int, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.send(p)
}

// send writes until p is written or the socket buffer is full. Called with
// mu shared.
func (c *fdConn) send(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		if c.closed.Load() {
			return done, c.opErr("write", net.ErrClosed)
		}
		b := p[done:]
		n, _, errno := syscall.Syscall6(syscall.SYS_SENDTO, uintptr(c.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MSG_NOSIGNAL|syscall.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			done += int(n)
		case syscall.EINTR:
		case syscall.EAGAIN:
			return done, nil
		default:
			return done, c.opErr("write", os.NewSyscallError("write", errno))
		}
	}
	return done, nil
}

func (c *fdConn) opErr(op string, err error) error {
	if err == os.ErrDeadlineExceeded {
		return err // callers test it with errors.Is; keep it bare, as net does inside OpError
	}
	return &net.OpError{Op: op, Net: "tcp", Addr: c.raddr, Err: err}
}

// Close wakes every waiter (shutdown), waits for them to leave, then
// closes the descriptor: it is never closed under a running syscall, so
// its number cannot be reused under one.
func (c *fdConn) Close() error {
	if c.closed.Swap(true) {
		return net.ErrClosed
	}
	if !c.lone {
		syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
	}
	c.dropPoller()
	c.mu.Lock()
	err := syscall.Close(c.fd)
	c.mu.Unlock()
	if err != nil {
		return os.NewSyscallError("close", err)
	}
	return nil
}

// LocalAddr asks the kernel (only messages need it; not done per connect).
func (c *fdConn) LocalAddr() net.Addr {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed.Load() {
		return nil
	}
	if lsa, err := syscall.Getsockname(c.fd); err == nil {
		switch a := lsa.(type) {
		case *syscall.SockaddrInet4:
			return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
		case *syscall.SockaddrInet6:
			return &net.TCPAddr{IP: append(net.IP(nil), a.Addr[:]...), Port: a.Port}
		}
	}
	return nil
}
func (c *fdConn) RemoteAddr() net.Addr { return c.raddr }

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func (c *fdConn) SetDeadline(t time.Time) error {
	c.rdl.Store(unixNano(t))
	c.wdl.Store(unixNano(t))
	return nil
}
func (c *fdConn) SetReadDeadline(t time.Time) error  { c.rdl.Store(unixNano(t)); return nil }
func (c *fdConn) SetWriteDeadline(t time.Time) error { c.wdl.Store(unixNano(t)); return nil }
