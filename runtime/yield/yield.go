// Package yield keeps Go's system monitor from preempting a goroutine that
// enters the kernel or C many times a second but never reschedules.
//
// Go's sysmon judges a P by its scheduling tick, which advances only when
// the scheduler switches goroutines. A goroutine that runs a loop of
// blocking system calls or cgo calls (a backend's goroutine calling Erlang
// or PostgreSQL thousands of times in a row, the cgo callback that is every
// call into plerl_go.so) keeps one tick for ever. After 10 ms sysmon takes
// it for a long-running goroutine: it marks it for preemption and takes its
// P away whenever it is in a system call, and since the tick still does not
// move, it does so again on every one of its wake-ups, which it now makes
// every 20 µs. Each of those costs the goroutine a slow return from the
// call and a forced yield; a goroutine locked to its OS thread (all of a
// backend's) yields by handing its P to another thread and sleeping until
// that thread hands it back. Measured (bench/erlsql/lockcall, one CPU):
// 10-15% of 20 µs Erlang calls took 40-50 µs, and sysmon ran every ~100 µs.
//
// Maybe yields voluntarily, once per Interval of activity: the tick moves,
// sysmon sees a goroutine that reschedules, backs off to its 10 ms sleep and
// never takes the P. A voluntary yield costs what one forced one does, but
// at most once per Interval instead of once per sysmon wake-up.
package yield

import (
	"runtime"
	"sync/atomic"
	"time"
)

// Interval between voluntary yields; well under sysmon's 10 ms.
const Interval = 2 * time.Millisecond

var (
	start = time.Now()
	calls atomic.Uint32
	last  atomic.Int64 // time since start of the last yield, ns
)

// Maybe is called on hot paths that enter the kernel or C: it reads the
// clock once every 16 calls and yields if Interval has passed since the
// last yield (by any goroutine).
func Maybe() {
	if calls.Add(1)&15 != 0 {
		return
	}
	due()
}

// Owned is Maybe for a caller that owns its counter and is its only user
// (a backend's goroutine, the only one that enters plerl_go.so): a plain
// increment instead of an atomic one on every call.
func Owned(n *uint32) {
	if *n++; *n&15 != 0 {
		return
	}
	due()
}

func due() {
	now := int64(time.Since(start))
	if l := last.Load(); now-l < int64(Interval) || !last.CompareAndSwap(l, now) {
		return
	}
	runtime.Gosched()
}
