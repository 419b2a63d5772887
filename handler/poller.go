// poller: the goroutine that notices query cancel, statement_timeout and
// plerl's own limits while Lua runs, and cancels the Lua context. It only
// reads flags (plerl_interrupt_pending reads volatile sig_atomic_t values);
// the backend's own thread raises the ERROR after Go returns.
package main

/*
#include "plerl.h"
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"time"

	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/yield"
)

const pollInterval = 2 * time.Millisecond

var (
	// calls counts outermost call starts and ends: odd while a call runs,
	// and its value names that call. One atomic add on each side is all the
	// hot path pays (it used to be an add and two stores).
	calls  atomic.Uint64
	parked atomic.Bool
	// entries counts entries for yield.Owned (backend goroutine only).
	entries uint32
	wake    = make(chan struct{}, 1)

	// Limits, refreshed from the GUCs at each outermost call.
	timeLimit   atomic.Int64 // ns, 0 = none
	memoryLimit atomic.Uint64
)

func callStarted() {
	// Hot path (once per outermost call): no clock reads, no cgo calls.
	// The time limit is measured by the poller from the first tick that
	// sees this call (callSeen), which is within pollInterval of its start.
	refreshLimits()
	markStarted()
}

func markStarted() {
	calls.Add(1)
	if parked.Load() && parked.CompareAndSwap(true, false) {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

// commitStarted marks the sends deferred to COMMIT (plerlGoXact) as a
// call, so the poller looks at cancel and terminate while they wait; end
// it with callFinished. No Lua runs there, so plerl's Lua time and memory
// limits are off for it (the next callStarted sets them again).
func commitStarted() {
	timeLimit.Store(0)
	memoryLimit.Store(0)
	markStarted()
}

func callFinished() { calls.Add(1) }

// inCall reports whether an outermost call runs (calls is odd).
func inCall() bool { return calls.Load()&1 == 1 }

// beginCall and endCall bracket every entry from the backend: the engine's
// nesting, and for the outermost call the poller's view of it.
func beginCall() bool {
	// Every call into plerl_go.so is a cgo callback on the backend's
	// locked thread that never goes through Go's scheduler: without an
	// occasional yield sysmon takes it for one long-running goroutine
	// (runtime/yield).
	yield.Owned(&entries)
	entryDepth++
	outer := engine.Enter()
	if outer {
		callStarted()
	}
	return outer
}

func endCall(outer bool) {
	if len(asyncOpen) > 0 {
		abandonAsync(entryDepth) // erlang.async handles this call made and did not await
	}
	entryDepth--
	engine.Leave()
	if outer {
		callFinished()
	}
}

func startPoller() { go poll() }

// poll runs for the life of the backend. It sleeps while no call has run
// for a while, so an idle backend costs nothing.
func poll() {
	idle := 0
	var lastCalls, seenCall uint64
	var seenAt time.Time
	for {
		time.Sleep(pollInterval)
		if inCall() {
			idle = 0
			if n := calls.Load(); n != seenCall {
				seenCall, seenAt = n, time.Now()
			}
			checkCall(seenCall, seenAt)
			continue
		}
		if n := calls.Load(); n != lastCalls {
			lastCalls, idle = n, 0
			continue
		}
		if idle++; idle > 50 {
			parked.Store(true)
			if inCall() { // a call started between the checks
				parked.Store(false)
				continue
			}
			<-wake
			idle = 0
		}
	}
}

// Forced collections before a memory verdict (poller goroutine only).
var (
	gcForCall uint64
	gcAt      time.Time
)

func checkCall(call uint64, start time.Time) {
	if C.plerl_interrupt_pending() != 0 {
		// The backend may have consumed the cancel itself (in SPI, or after
		// Go returned) and started its next statement meanwhile: cancel only
		// if the same call still runs and the flag is still up, so a stale
		// reading never cancels the next statement (found by the boundary
		// tests with an injected stall). The window left is a few loads.
		if inCall() && calls.Load() == call && C.plerl_interrupt_pending() != 0 {
			engine.InterruptForQueryCancel()
		}
		return
	}
	if lim := timeLimit.Load(); lim > 0 && time.Since(start) > time.Duration(lim) {
		engine.InterruptForTimeLimit()
		return
	}
	if lim := memoryLimit.Load(); lim > 0 && pl.HeapBytes() > lim {
		// The heap counts garbage not yet collected (up to as much again as
		// the live heap at GC percent 100, and a call stopped by this limit leaves its
		// garbage behind for the next call): collect before judging, once
		// per call and then at most every 50ms, so the verdict is about
		// live memory.
		if call != gcForCall || time.Since(gcAt) > 50*time.Millisecond {
			gcForCall = call
			runtime.GC()
			gcAt = time.Now()
			if pl.HeapBytes() <= lim {
				return
			}
		}
		engine.InterruptForMemory()
	}
}
