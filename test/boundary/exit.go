// Test 7: a backend that loaded Go exits cleanly on disconnect and on
// pg_terminate_backend while idle or inside a Lua loop; test 8: the server
// log shows no crash, PANIC or Go runtime failure for the whole run.
package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"
)

const exitMax = 3 * time.Second

func (s *Suite) testExit() {
	if !s.selected("7") {
		return
	}
	s.run("7a", "exit on disconnect (Terminate message)", func() (string, error) {
		return s.exitAfter(func(cn *Conn) error { return cn.Close() })
	})
	s.run("7b", "exit on disconnect (socket dropped)", func() (string, error) {
		return s.exitAfter(func(cn *Conn) error { return cn.Drop() })
	})
	s.run("7c", "pg_terminate_backend while idle", func() (string, error) {
		return s.exitAfter(func(cn *Conn) error { return s.terminate(cn.PID) })
	})
	s.run("7d", "pg_terminate_backend inside Lua loops", func() (string, error) {
		var took []time.Duration
		fns := []string{"b_loop_pure", "b_loop_guard", "b_loop_alloc"}
		for i := 0; i < 3*len(fns); i++ {
			fn := fns[i%len(fns)]
			cn, err := s.connect()
			if err != nil {
				return "", err
			}
			cn.Timeout = 10 * time.Second
			if err := cn.Send("SELECT " + fn + "()"); err != nil {
				return "", err
			}
			time.Sleep(time.Duration(20+10*i) * time.Millisecond)
			t0 := time.Now()
			if err := s.terminate(cn.PID); err != nil {
				return "", fmt.Errorf("%s: %w", fn, err)
			}
			r, err := cn.Receive()
			if err == nil || r == nil || r.Err == nil || r.Err.Code != "57P01" {
				cn.Drop()
				return "", fmt.Errorf("%s: want FATAL 57P01 and a closed connection, got %+v, %v", fn, r, err)
			}
			cn.Drop()
			if d, ok := waitGone(cn.PID, exitMax); !ok {
				return "", fmt.Errorf("%s: backend %d still there %s after terminate", fn, cn.PID, d)
			}
			took = append(took, time.Since(t0))
		}
		return fmt.Sprintf("%d backends (pure, %s, alloc loops) got FATAL 57P01 and exited; terminate -> exit %s",
			len(took), strings.TrimSuffix(s.guardLoop, " (spi absent)"), durStats(took)), nil
	})
}

// exitAfter makes a backend load Go, ends it with end, and waits for its exit.
func (s *Suite) exitAfter(end func(*Conn) error) (string, error) {
	cn, err := s.connect()
	if err != nil {
		return "", err
	}
	if err := expectValue(cn, "SELECT b_trivial(1)", "2"); err != nil {
		cn.Close()
		return "", err
	}
	n := threadCount(cn.PID)
	t0 := time.Now()
	if err := end(cn); err != nil {
		cn.Drop()
		return "", err
	}
	d, ok := waitGone(cn.PID, exitMax)
	cn.Drop()
	if !ok {
		return "", fmt.Errorf("backend %d (%d threads) still there after %s", cn.PID, n, d)
	}
	return fmt.Sprintf("backend with %d threads exited in %s", n, time.Since(t0).Round(100*time.Microsecond)), nil
}

func (s *Suite) terminate(pid int) error {
	cn, err := s.connect()
	if err != nil {
		return err
	}
	defer cn.Close()
	return expectValue(cn, fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid), "t")
}

// Lines that mean a backend crashed, the cluster restarted, or Go died.
var crashLog = regexp.MustCompile(`(?m)(terminated by signal|terminated by exception|server process .* exited with exit code|PANIC|all server processes terminated|database system was interrupted|was not properly shut down|^fatal error:|^panic:|^runtime: |SIGSEGV|SIGABRT|goroutine \d+ \[)`)

func (s *Suite) checkServerLog() (string, error) {
	b, err := os.ReadFile(s.cl.LogFile())
	if err != nil {
		return "", err
	}
	lines := strings.Count(string(b), "\n")
	var hits []string
	for _, m := range crashLog.FindAllIndex(b, 10) {
		start := strings.LastIndexByte(string(b[:m[0]]), '\n') + 1
		end := m[1] + strings.IndexByte(string(b[m[1]:])+"\n", '\n')
		hits = append(hits, strings.TrimSpace(string(b[start:end])))
	}
	if len(hits) > 0 {
		return fmt.Sprintf("%d log lines", lines), fmt.Errorf("crash signs in %s: %s", s.cl.LogFile(), strings.Join(hits, " | "))
	}
	return fmt.Sprintf("%d log lines, no crash, PANIC, signal exit or Go runtime failure", lines), nil
}
