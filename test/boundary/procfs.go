// procfs: what /proc says about a backend: its threads, each thread's
// blocked signals, its resident memory.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// PostgreSQL's asynchronous signals that must stay blocked on Go threads
// (boundary.md, defect 2). SIGCHLD is left out: Go unblocks it whatever we do.
var pgSignals = []struct {
	name string
	sig  syscall.Signal
}{
	{"INT", syscall.SIGINT}, {"TERM", syscall.SIGTERM}, {"QUIT", syscall.SIGQUIT},
	{"ALRM", syscall.SIGALRM}, {"USR1", syscall.SIGUSR1}, {"USR2", syscall.SIGUSR2},
	{"HUP", syscall.SIGHUP}, {"URG", syscall.SIGURG}, {"PIPE", syscall.SIGPIPE},
}

func sigBit(s syscall.Signal) uint64 { return 1 << (uint(s) - 1) }

// tasks lists the thread ids of a process.
func tasks(pid int) ([]int, error) {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return nil, err
	}
	var tids []int
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, n)
		}
	}
	sort.Ints(tids)
	return tids, nil
}

func threadCount(pid int) int {
	t, err := tasks(pid)
	if err != nil {
		return -1
	}
	return len(t)
}

// statusField returns one field of a /proc status file.
func statusField(path, key string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s: no %s", path, key)
}

// sigBlk is the blocked-signal mask of one thread.
func sigBlk(pid, tid int) (uint64, error) {
	v, err := statusField(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid), "SigBlk")
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(v, 16, 64)
}

// missingSignals names the PostgreSQL signals not blocked in mask.
func missingSignals(mask uint64) []string {
	var miss []string
	for _, s := range pgSignals {
		if mask&sigBit(s.sig) == 0 {
			miss = append(miss, s.name)
		}
	}
	return miss
}

// rssKB is VmRSS of a process in kB.
func rssKB(pid int) (int, error) {
	v, err := statusField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSuffix(v, " kB"))
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, err := statusField(fmt.Sprintf("/proc/%d/status", pid), "State")
	if err != nil {
		return false
	}
	return !strings.HasPrefix(st, "Z")
}

// waitGone waits until pid has exited.
func waitGone(pid int, max time.Duration) (time.Duration, bool) {
	t0 := time.Now()
	for time.Since(t0) < max {
		if !alive(pid) {
			return time.Since(t0), true
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(t0), false
}

// comm is the process name (for messages).
func comm(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	return strings.TrimSpace(string(b))
}
