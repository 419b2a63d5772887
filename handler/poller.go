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
	"sync/atomic"
	"time"

	"github.com/plerl/plerl/runtime/pl"
)

const pollInterval = 2 * time.Millisecond

var (
	inCall    atomic.Bool
	callStart atomic.Int64 // unix nanos of the outermost call's start
	calls     atomic.Uint64
	parked    atomic.Bool
	wake      = make(chan struct{}, 1)

	// Limits, refreshed from the GUCs at each outermost call.
	timeLimit   atomic.Int64 // ns, 0 = none
	memoryLimit atomic.Uint64
)

func callStarted() {
	refreshLimits()
	callStart.Store(time.Now().UnixNano())
	calls.Add(1)
	inCall.Store(true)
	if parked.Load() && parked.CompareAndSwap(true, false) {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
}

func callFinished() { inCall.Store(false) }

func startPoller() { go poll() }

// poll runs for the life of the backend. It sleeps while no call has run
// for a while, so an idle backend costs nothing.
func poll() {
	idle := 0
	var lastCalls uint64
	for {
		time.Sleep(pollInterval)
		if inCall.Load() {
			idle = 0
			checkCall()
			continue
		}
		if n := calls.Load(); n != lastCalls {
			lastCalls, idle = n, 0
			continue
		}
		if idle++; idle > 50 {
			parked.Store(true)
			if inCall.Load() { // a call started between the checks
				parked.Store(false)
				continue
			}
			<-wake
			idle = 0
		}
	}
}

func checkCall() {
	if C.plerl_interrupt_pending() != 0 {
		engine.InterruptForQueryCancel()
		return
	}
	if lim := timeLimit.Load(); lim > 0 && time.Now().UnixNano()-callStart.Load() > lim {
		engine.InterruptForTimeLimit()
		return
	}
	if lim := memoryLimit.Load(); lim > 0 && pl.HeapBytes() > lim {
		engine.InterruptForMemory()
	}
}
