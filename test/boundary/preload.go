// Test 3: with plerl in shared_preload_libraries the postmaster never starts
// Go (it keeps one thread), and backends still run GC-heavy, timer-using and
// cancellable workloads (boundary.md, defect 3).
package main

import (
	"fmt"
	"strings"
	"time"
)

func (s *Suite) testPreload() {
	if !s.selected("3") {
		return
	}
	var pmPID int
	var err error
	started := false
	s.run("3a", "preload: postmaster keeps one thread", func() (string, error) {
		if err = s.cl.Stop(); err != nil {
			return "", err
		}
		if err = s.cl.Start(true); err != nil {
			return "", err
		}
		if pmPID, err = s.cl.PostmasterPID(); err != nil {
			return "", err
		}
		started = true
		cn, err2 := s.connect()
		if err = err2; err != nil {
			return "", err
		}
		defer cn.Close()
		if err = expectValue(cn, "SHOW shared_preload_libraries", "plerl"); err != nil {
			return "", err
		}
		if n := threadCount(pmPID); n != 1 {
			err = fmt.Errorf("postmaster %d has %d threads, want 1", pmPID, n)
			return "", err
		}
		// A fresh backend inherited plerl.so, not Go.
		if n := threadCount(cn.PID); n != 1 {
			err = fmt.Errorf("fresh backend %d has %d threads before any plerl call", cn.PID, n)
			return "", err
		}
		if err = expectValue(cn, "SELECT plerl_go_loaded()", "f"); err != nil {
			return "", err
		}
		n, err2 := func() (int, error) {
			if _, err := cn.MustOK("SELECT b_trivial(1)"); err != nil {
				return 0, err
			}
			return checkMasks(cn.PID)
		}()
		if err = err2; err != nil {
			return "", err
		}
		return fmt.Sprintf("postmaster %d: 1 thread; fresh backend 1 thread, Go not loaded; after a call %d threads with masks ok", pmPID, n), nil
	})
	if !started {
		return
	}
	// Go on after a failed 3a: the workloads show what a Go runtime in
	// the postmaster does to backends.
	work := func(id, name string, f func(cn *Conn) (string, error)) {
		s.run(id, "preload: "+name, func() (string, error) {
			cn, err := s.connect()
			if err != nil {
				return "", err
			}
			defer cn.Close()
			cn.Timeout = 20 * time.Second // a hung backend (the defect) fails here
			if _, err := cn.MustOK("SET statement_timeout = '15s'"); err != nil {
				return "", err
			}
			msg, err := f(cn)
			if err == nil {
				err = samePID(cn)
			}
			return msg, err
		})
	}
	work("3b", "GC-heavy workload", func(cn *Conn) (string, error) {
		t0 := time.Now()
		for i := 0; i < 3; i++ {
			if err := expectValue(cn, "SELECT b_gc(200000)", "200000"); err != nil {
				return "", err
			}
		}
		n, err := checkMasks(cn.PID)
		return fmt.Sprintf("3 x 200,000 tables in %s, %d threads, masks ok", time.Since(t0).Round(time.Millisecond), n), err
	})
	work("3c", "timer-using workload", func(cn *Conn) (string, error) {
		r, err := cn.MustOK("SELECT b_spin(300)")
		if err != nil {
			return "", err
		}
		spin := r.Took
		// plerl.lua_time_limit is enforced by a Go timer alone.
		if _, err := cn.MustOK("SET plerl.lua_time_limit = '100ms'"); err != nil {
			return "", err
		}
		r, err = cn.Exec("SELECT b_loop_pure()")
		if err != nil {
			return "", err
		}
		if r.Err == nil || !strings.Contains(r.Err.Message, "lua_time_limit") {
			return "", fmt.Errorf("lua_time_limit did not stop the loop: %+v", r.Err)
		}
		if r.Took > 2*time.Second {
			return "", fmt.Errorf("lua_time_limit of 100ms stopped the loop after %s", r.Took)
		}
		cn.MustOK("RESET plerl.lua_time_limit")
		return fmt.Sprintf("300 ms poller-driven loop took %s; lua_time_limit 100ms stopped a loop after %s (%s)",
			spin.Round(time.Millisecond), r.Took.Round(time.Millisecond), r.Err.Code), nil
	})
	work("3d", "cancellable workload", func(cn *Conn) (string, error) {
		canceller, err := s.connect()
		if err != nil {
			return "", err
		}
		defer canceller.Close()
		var parts []string
		for _, fn := range []string{"b_loop_pure", "b_loop_guard", "b_loop_alloc"} {
			if err := setRetry(cn, "SET statement_timeout = '50ms'"); err != nil {
				return "", err
			}
			for i := 0; i < 10; i++ {
				r, err := cn.Exec("SELECT " + fn + "()")
				if err != nil {
					return "", err
				}
				if r.Err == nil || r.Err.Code != "57014" || r.Took > cancelMaxLat {
					return "", fmt.Errorf("%s: statement_timeout 50ms: %+v after %s", fn, r.Err, r.Took)
				}
			}
			if err := setRetry(cn, "SET statement_timeout = '15s'"); err != nil {
				return "", err
			}
			for i := 0; i < 10; i++ {
				if err := cn.Send("SELECT " + fn + "()"); err != nil {
					return "", err
				}
				time.Sleep(10 * time.Millisecond)
				if _, err := cancelActive(canceller, cn.PID); err != nil {
					return "", err
				}
				r, err := cn.Receive()
				if err != nil {
					return "", err
				}
				if r.Err == nil || r.Err.Code != "57014" || !strings.Contains(r.Err.Message, "user request") {
					return "", fmt.Errorf("%s: pg_cancel_backend: %+v", fn, r.Err)
				}
			}
			parts = append(parts, fn)
		}
		return fmt.Sprintf("statement_timeout and pg_cancel_backend stopped %s 10 times each (57014)", strings.Join(parts, ", ")), nil
	})
	s.run("3e", "preload: pg_terminate_backend inside a Lua loop", func() (string, error) {
		cn, err := s.connect()
		if err != nil {
			return "", err
		}
		cn.Timeout = 10 * time.Second
		defer cn.Drop()
		if err := cn.Send("SELECT b_loop_alloc()"); err != nil {
			return "", err
		}
		time.Sleep(100 * time.Millisecond)
		t0 := time.Now()
		if err := s.terminate(cn.PID); err != nil {
			return "", err
		}
		r, err := cn.Receive()
		if err == nil || r == nil || r.Err == nil || r.Err.Code != "57P01" {
			return "", fmt.Errorf("want FATAL 57P01, got %+v, %v", r, err)
		}
		if d, ok := waitGone(cn.PID, exitMax); !ok {
			return "", fmt.Errorf("backend %d still there %s after terminate", cn.PID, d)
		}
		return fmt.Sprintf("backend exited %s after pg_terminate_backend", time.Since(t0).Round(100*time.Microsecond)), nil
	})
	s.run("3f", "preload: postmaster still one thread, never restarted", func() (string, error) {
		now, err := s.cl.PostmasterPID()
		if err != nil {
			return "", err
		}
		if now != pmPID {
			return "", fmt.Errorf("postmaster pid changed %d -> %d", pmPID, now)
		}
		if n := threadCount(pmPID); n != 1 {
			return "", fmt.Errorf("postmaster %d has %d threads, want 1", pmPID, n)
		}
		// A crash-restart would show up as a new startup or checkpointer process, too.
		return fmt.Sprintf("postmaster %d (%s): 1 thread", pmPID, comm(pmPID)), nil
	})
}
