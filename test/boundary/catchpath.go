// Test 4: the catch path 10,000 times (boundary.md, defect 4): Lua errors,
// PostgreSQL errors and Go panics, caught by pcall or raised to SQL, leave
// RSS and the thread count flat and the backend usable.
package main

import (
	"fmt"
	"strings"
)

// catchIters is the iterations per variant (3,000 with PLERL_SLOW=0).
var catchIters = 10000

const (
	catchWarm        = 1000
	catchMaxGrowKB   = 4096 // RSS growth allowed from iteration 1,000 to the last
	catchBatch       = 50   // queries sent before reading their results
	catchThreadSlack = 2
)

type catchVariant struct {
	id, name string
	iters    int // 0: catchIters
	sql      string
	wantErr  bool   // the statement must fail with an ERROR (not FATAL)
	wantCode string // SQLSTATE when wantErr ("" = any)
	pending  string // non-empty: skip with this reason
}

func (s *Suite) testCatchPath() {
	if !s.selected("4") {
		return
	}
	noPanic := ""
	if !s.hasPanic {
		noPanic = "plerlu has no plerl.internal_panic yet (no way to raise a Go panic from Lua)"
	}
	noSPI := ""
	if !s.hasSPI {
		noSPI = "spi is not available yet"
	}
	variants := []catchVariant{
		{id: "4a", name: "catch path: Lua error caught by pcall", sql: "SELECT b_catch_lua()"},
		// 25,000: the naive build overflowed the Lua stack after 20,000
		// errors raised through Go frames (boundary.md, defect 4).
		{id: "4b", name: "catch path: Lua error raised to SQL", sql: "SELECT b_fail()", wantErr: true, iters: 25000},
		{id: "4c", name: "catch path: PG error caught by pcall, " + s.pgCatchVariant, sql: "SELECT b_catch_pg()"},
		{id: "4d", name: "catch path: PG error raised to SQL through spi (stash, ReThrowError)", sql: "SELECT b_spi_fail()",
			wantErr: true, wantCode: "22012", pending: noSPI},
		{id: "4e", name: "catch path: Go panic caught by pcall", sql: "SELECT b_catch_panic()", pending: noPanic},
		{id: "4f", name: "catch path: Go panic raised to SQL", sql: "SELECT b_raise_panic()", wantErr: true, wantCode: "XX000", pending: noPanic},
	}
	var cn *Conn
	var connErr error
	cn, connErr = s.connect()
	if cn != nil {
		defer cn.Close()
		// Let the Go runtime start the threads it keeps for good (GC
		// workers, sysmon, the poller's timer): later growth is a leak.
		_, connErr = cn.MustOK("SELECT b_gc(200000)")
	}
	for _, v := range variants {
		v := v
		s.run(v.id, v.name, func() (string, error) {
			if connErr != nil {
				return "", connErr
			}
			if v.pending != "" {
				return "", skip("%s", v.pending)
			}
			return catchLoop(cn, v)
		})
	}
	s.run("4g", "catch path: backend usable afterwards", func() (string, error) {
		if connErr != nil {
			return "", connErr
		}
		if err := samePID(cn); err != nil {
			return "", err
		}
		if err := expectValue(cn, "SELECT b_trivial(41)", "42"); err != nil {
			return "", err
		}
		if err := expectValue(cn, "SELECT count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid()", "1"); err != nil {
			return "", err
		}
		return fmt.Sprintf("pid %d answers, plerl calls work, %d threads, RSS %d kB", cn.PID, threadCount(cn.PID), must(rssKB(cn.PID))), nil
	})
}

func must(v int, _ error) int { return v }

// catchLoop runs v catchIters times in batches and checks each result.
func catchLoop(cn *Conn, v catchVariant) (string, error) {
	var rssWarm, thrWarm int
	var bad []string
	firstMsg := ""
	iters := v.iters
	if iters == 0 || quick {
		iters = catchIters
	}
	for done := 0; done < iters; {
		n := catchBatch
		for i := 0; i < n; i++ {
			if err := cn.Send(v.sql); err != nil {
				return "", err
			}
		}
		for i := 0; i < n; i++ {
			r, err := cn.Receive()
			if err != nil {
				return fmt.Sprintf("after %d iterations", done+i), fmt.Errorf("connection lost: %w", err)
			}
			switch {
			case v.wantErr && r.Err == nil:
				bad = append(bad, fmt.Sprintf("#%d: no error", done+i))
			case v.wantErr && r.Err.Severity != "ERROR":
				bad = append(bad, fmt.Sprintf("#%d: %v", done+i, r.Err))
			case v.wantErr && v.wantCode != "" && r.Err.Code != v.wantCode:
				bad = append(bad, fmt.Sprintf("#%d: %v", done+i, r.Err))
			case !v.wantErr && r.Err != nil:
				bad = append(bad, fmt.Sprintf("#%d: %v", done+i, r.Err))
			case !v.wantErr && r.Value() != "1":
				bad = append(bad, fmt.Sprintf("#%d: returned %q", done+i, r.Value()))
			}
			if r.Err != nil && firstMsg == "" {
				firstMsg = r.Err.Code + " " + r.Err.Message
			}
		}
		done += n
		if done == catchWarm {
			rssWarm, thrWarm = must(rssKB(cn.PID)), threadCount(cn.PID)
		}
		if len(bad) > 5 {
			break
		}
	}
	rss, thr := must(rssKB(cn.PID)), threadCount(cn.PID)
	msg := fmt.Sprintf("%d iterations, RSS at iteration 1000 -> %d: %d -> %d kB (%+d kB), threads %d -> %d",
		iters, iters, rssWarm, rss, rss-rssWarm, thrWarm, thr)
	if v.wantErr {
		msg += fmt.Sprintf(", error %q", firstMsg)
	}
	if len(bad) > 0 {
		return msg, fmt.Errorf("unexpected results: %s", strings.Join(bad, "; "))
	}
	if rss-rssWarm > catchMaxGrowKB {
		return msg, fmt.Errorf("RSS grew by %d kB (limit %d kB)", rss-rssWarm, catchMaxGrowKB)
	}
	// Go never gives threads back, so a leak per iteration would show up as
	// thousands; allow the odd thread Go starts late (a GC worker).
	if thr > thrWarm+catchThreadSlack || thr > maxBackendThreads {
		return msg, fmt.Errorf("thread count grew from %d to %d", thrWarm, thr)
	}
	if err := samePID(cn); err != nil {
		return msg, err
	}
	return msg, nil
}
