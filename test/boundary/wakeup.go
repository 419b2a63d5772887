// Test 2: lost latch wakeups (boundary.md, defect 1). A backend that used
// plerl and then hit an ERROR waits on a row lock; the holder commits after
// deadlock_timeout has fired in the waiter; the waiter must wake at once.
package main

import (
	"fmt"
	"time"
)

var wakeTrials = 32 // 12 with PLERL_SLOW=0

const (
	wakeHold = 300 * time.Millisecond // > deadlock_timeout (100ms)
	// A lost wakeup is not a slow one: the waiter sleeps on its latch until
	// statement_timeout (5 s). A miss is a waiter still asleep 1 s after the
	// holder's COMMIT returned; wakes later than wakeSlow are counted and
	// printed (they come from a loaded machine, not from the defect).
	wakeMaxLag   = time.Second
	wakeSlow     = 200 * time.Millisecond
	wakeFailSafe = "5s" // statement_timeout of the waiter
)

func (s *Suite) testLostWakeup() (string, error) {
	holder, err := s.connect()
	if err != nil {
		return "", err
	}
	defer holder.Close()
	if _, err := holder.MustOK("SET deadlock_timeout = '100ms'"); err != nil {
		return "", err
	}
	var lags []time.Duration
	var misses []string
	for i := 0; i < wakeTrials; i++ {
		lag, err := s.wakeTrial(holder, i)
		if err != nil {
			misses = append(misses, fmt.Sprintf("trial %d: %v", i+1, err))
			if len(misses) > 3 {
				break
			}
			continue
		}
		lags = append(lags, lag)
	}
	slow := 0
	for _, l := range lags {
		if l > wakeSlow {
			slow++
		}
	}
	msg := fmt.Sprintf("%d/%d woke (%d later than %s), lag after COMMIT %s", len(lags), wakeTrials, slow, wakeSlow, durStats(lags))
	if len(misses) > 0 {
		return msg, fmt.Errorf("%d miss(es): %v", len(misses), misses)
	}
	return msg, nil
}

func (s *Suite) wakeTrial(holder *Conn, i int) (time.Duration, error) {
	waiter, err := s.connect()
	if err != nil {
		return 0, err
	}
	defer waiter.Close()
	waiter.Timeout = 10 * time.Second
	for _, q := range []string{
		"SET deadlock_timeout = '100ms'",
		"SET statement_timeout = '" + wakeFailSafe + "'",
		"SELECT b_trivial(1)",
	} {
		if _, err := waiter.MustOK(q); err != nil {
			return 0, err
		}
	}
	// Any ERROR after Go has started: a Lua error, a plain SQL one, or
	// (with spi) a PostgreSQL error re-raised from inside Lua.
	failing := []string{"SELECT b_fail()", "SELECT 1/0", "SELECT b_spi_fail()"}[i%3]
	if !s.hasSPI && i%3 == 2 {
		failing = "SELECT b_fail()"
	}
	r, err := waiter.Exec(failing)
	if err != nil {
		return 0, err
	}
	if r.Err == nil {
		return 0, fmt.Errorf("%s did not fail", failing)
	}
	if _, err := holder.MustOK("BEGIN"); err != nil {
		return 0, err
	}
	if _, err := holder.MustOK("SELECT v FROM b_lock WHERE id = 1 FOR UPDATE"); err != nil {
		holder.Exec("ROLLBACK")
		return 0, err
	}
	if err := waiter.Send("UPDATE b_lock SET v = v + 1 WHERE id = 1"); err != nil {
		holder.Exec("ROLLBACK")
		return 0, err
	}
	time.Sleep(wakeHold)
	// The waiter must be waiting on the lock now (else the trial proves nothing).
	st, err := holder.MustOK(fmt.Sprintf("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %d", waiter.PID))
	if err != nil {
		holder.Exec("ROLLBACK")
		return 0, err
	}
	if st.Value() != "Lock" {
		holder.Exec("ROLLBACK")
		return 0, fmt.Errorf("waiter not waiting on a lock (wait_event_type %q)", st.Value())
	}
	c, err := holder.MustOK("COMMIT")
	if err != nil {
		return 0, err
	}
	res, err := waiter.Receive()
	if err != nil {
		return 0, err
	}
	lag := res.Done.Sub(c.Done) // may be < 0: the waiter's answer came first
	if lag < 0 {
		lag = 0
	}
	if res.Err != nil {
		return lag, fmt.Errorf("waiter not woken: %v after %s", res.Err, lag.Round(time.Millisecond))
	}
	if lag > wakeMaxLag {
		return lag, fmt.Errorf("waiter woke %s after COMMIT", lag.Round(time.Millisecond))
	}
	return lag, nil
}
