// Test 1: after the first plerl call every Go thread blocks PostgreSQL's
// asynchronous signals, and the backend's own thread still blocks SIGURG
// (boundary.md, defects 1 and 2).
package main

import (
	"fmt"
	"strings"
	"syscall"
)

// maxBackendThreads bounds the Go runtime's threads in one backend
// (GOMAXPROCS is capped at 2; boundary.md measured +5 threads).
const maxBackendThreads = 16

// checkMasks checks the signal masks of every thread of a backend that has
// loaded Go. It returns the thread count.
func checkMasks(pid int) (int, error) {
	tids, err := tasks(pid)
	if err != nil {
		return 0, err
	}
	if len(tids) < 2 {
		return len(tids), fmt.Errorf("backend %d has %d thread(s): no Go threads after a plerl call", pid, len(tids))
	}
	if len(tids) > maxBackendThreads {
		return len(tids), fmt.Errorf("backend %d has %d threads (more than %d)", pid, len(tids), maxBackendThreads)
	}
	var bad []string
	for _, tid := range tids {
		mask, err := sigBlk(pid, tid)
		if err != nil {
			continue // the thread exited between the listing and the read
		}
		if tid == pid {
			if mask&sigBit(syscall.SIGURG) == 0 {
				bad = append(bad, fmt.Sprintf("main thread %d SigBlk %016x lacks URG", tid, mask))
			}
			continue
		}
		if miss := missingSignals(mask); len(miss) > 0 {
			bad = append(bad, fmt.Sprintf("thread %d SigBlk %016x lacks %s", tid, mask, strings.Join(miss, " ")))
		}
	}
	if len(bad) > 0 {
		return len(tids), fmt.Errorf("%s", strings.Join(bad, "; "))
	}
	return len(tids), nil
}

func (s *Suite) testSignalMasks() (string, error) {
	cn, err := s.connect()
	if err != nil {
		return "", err
	}
	defer cn.Close()
	pid := cn.PID
	if err := expectValue(cn, "SELECT plerl_go_loaded()", "f"); err != nil {
		return "", err
	}
	before := threadCount(pid)
	if before != 1 {
		return "", fmt.Errorf("backend has %d threads before the first plerl call, want 1", before)
	}
	mainBefore, err := sigBlk(pid, pid)
	if err != nil {
		return "", err
	}
	if err := expectValue(cn, "SELECT b_trivial(41)", "42"); err != nil {
		return "", err
	}
	if err := expectValue(cn, "SELECT plerl_go_loaded()", "t"); err != nil {
		return "", err
	}
	first, err := checkMasks(pid)
	if err != nil {
		return "", fmt.Errorf("after the first call: %w", err)
	}
	mainAfter, err := sigBlk(pid, pid)
	if err != nil {
		return "", err
	}
	if mainAfter != mainBefore {
		return "", fmt.Errorf("main thread SigBlk changed by the load: %016x -> %016x", mainBefore, mainAfter)
	}
	// Threads the Go runtime starts later (GC workers, a thread for a
	// blocked syscall) must inherit the mask too: work it, then look again.
	if _, err := cn.MustOK("SELECT b_gc(200000), b_spin(200)"); err != nil {
		return "", err
	}
	later, err := checkMasks(pid)
	if err != nil {
		return "", fmt.Errorf("after a GC-heavy call: %w", err)
	}
	return fmt.Sprintf("threads 1 -> %d -> %d (after GC work), all Go threads block INT TERM QUIT ALRM USR1 USR2 HUP URG PIPE; main thread mask unchanged (%016x, URG blocked)",
		first, later, mainAfter), nil
}
