package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

const cancelTrials = 20

// conn is this backend's row of erlang_connections() for node.
type conn struct{ state, since, calls, errors string }

func connOf(a *Session, node string) (conn, error) {
	v, err := a.Value(fmt.Sprintf(
		`SELECT state, since, calls, errors FROM erlang_connections() WHERE node = %s`, quote(node)))
	if err != nil {
		return conn{}, err
	}
	f := strings.Split(v, "|")
	if len(f) != 4 {
		return conn{}, fmt.Errorf("erlang_connections row %q", v)
	}
	return conn{f[0], f[1], f[2], f[3]}, nil
}

// waitExtension polls from observer until backend pid waits with
// wait_event_type Extension; returns the wait event seen.
func waitExtension(observer *Session, pid string, within time.Duration) (string, error) {
	deadline := time.Now().Add(within)
	last := ""
	for time.Now().Before(deadline) {
		v, err := observer.Value(fmt.Sprintf(
			`SELECT coalesce(wait_event_type, '-') || '|' || coalesce(wait_event, '-') || '|' || state
			   FROM pg_stat_activity WHERE pid = %s`, pid))
		if err != nil {
			return "", err
		}
		last = v
		if strings.HasPrefix(v, "Extension|") {
			return v, nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return "", fmt.Errorf("backend %s never showed wait_event_type Extension within %v (last: %s)", pid, within, last)
}

type stats struct{ median, max, min time.Duration }

func summarize(ds []time.Duration) stats {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return stats{median: med, max: s[n-1], min: s[0]}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// usable checks that session a is the same backend, its session with the
// test node is the one from before (same since, still connected, more
// calls), and a call works.
func (s *Suite) usable(a *Session, pid string, before conn) error {
	if p, err := a.Value(`SELECT pg_backend_pid()`); err != nil || p != pid {
		return fmt.Errorf("backend changed: pid %s, was %s (%v)", p, pid, err)
	}
	if v, err := a.Value(`SELECT erlang_call('tn', 'Elixir.String', 'upcase', '["still here"]')`); err != nil || v != `"STILL HERE"` {
		return fmt.Errorf("call after cancel: %q, %v", v, err)
	}
	after, err := connOf(a, s.testNode)
	if err != nil {
		return err
	}
	if after.since != before.since || after.state != "connected" {
		return fmt.Errorf("the Erlang session was replaced or is down: before %+v, after %+v", before, after)
	}
	if n0, n1 := atoi(before.calls), atoi(after.calls); n1 <= n0 {
		return fmt.Errorf("calls did not grow: before %+v, after %+v", before, after)
	}
	return nil
}

func (s *Suite) cancelSessions() (a, b *Session, pid string, before conn, err error) {
	if a, b, pid, err = s.watched("waiter", "observer"); err != nil {
		return
	}
	if _, err = a.Value(`SELECT erlang_call('tn', 'erlang', 'node', '[]')`); err == nil {
		before, err = connOf(a, s.testNode)
	}
	if err != nil {
		a.Close()
		b.Close()
	}
	return
}

func (s *Suite) testCancelBackend() (string, error) {
	a, b, pid, before, err := s.cancelSessions()
	if err != nil {
		return "", err
	}
	defer a.Close()
	defer b.Close()
	var lat []time.Duration
	waitEvent := ""
	for i := 0; i < cancelTrials; i++ {
		a.Start(`SELECT erlang_call('tn', 'Elixir.Plerl.Test', 'sleep', '[60000]', 0)`)
		ev, err := waitExtension(b, pid, 10*time.Second)
		if err != nil {
			a.Wait(70 * time.Second)
			return "", fmt.Errorf("trial %d: %v", i+1, err)
		}
		waitEvent = ev
		time.Sleep(time.Duration(5+i%4*10) * time.Millisecond) // well inside the wait
		t0 := time.Now()
		if v, err := b.Value(`SELECT pg_cancel_backend(` + pid + `)`); err != nil || v != "t" {
			a.Wait(70 * time.Second)
			return "", fmt.Errorf("trial %d: pg_cancel_backend: %q %v", i+1, v, err)
		}
		r := a.Wait(10 * time.Second)
		if err := r.cancelled(i + 1); err != nil {
			return "", err
		}
		lat = append(lat, r.Done.Sub(t0))
	}
	st := summarize(lat)
	note := fmt.Sprintf("cancel -> error over %d trials: median %s, max %s, min %s; wait event while waiting: %s",
		cancelTrials, ms(st.median), ms(st.max), ms(st.min), strings.Join(strings.Split(waitEvent, "|")[:2], "/"))
	if !strings.HasPrefix(waitEvent, "Extension|") {
		return note, fmt.Errorf("wait event %q", waitEvent)
	}
	if st.median > 100*time.Millisecond {
		return note, fmt.Errorf("median latency %s > 100 ms", ms(st.median))
	}
	if err := s.usable(a, pid, before); err != nil {
		return note, err
	}
	return note + "\nsame backend, same Erlang session (since " + before.since + ") afterwards", nil
}

func (s *Suite) testStatementTimeout() (string, error) {
	a, b, pid, before, err := s.cancelSessions()
	if err != nil {
		return "", err
	}
	defer a.Close()
	defer b.Close()
	const timeout = 200 * time.Millisecond
	if err := a.Must(fmt.Sprintf(`SET statement_timeout = %d`, timeout.Milliseconds())); err != nil {
		return "", err
	}
	var lat []time.Duration
	for i := 0; i < cancelTrials; i++ {
		// Both forms: plerl.call_timeout (5 s) and "until cancelled".
		q := `SELECT erlang_call('tn', 'Elixir.Plerl.Test', 'sleep', '[60000]')`
		if i%2 == 1 {
			q = `SELECT erlang_call('tn', 'Elixir.Plerl.Test', 'sleep', '[60000]', 0)`
		}
		r := a.Exec(q)
		if err := r.cancelled(i + 1); err != nil {
			return "", err
		}
		if r.Elapsed() < timeout {
			return "", fmt.Errorf("trial %d: ended after %s, before the timeout", i+1, ms(r.Elapsed()))
		}
		lat = append(lat, r.Elapsed()-timeout)
	}
	if err := a.Must(`RESET statement_timeout`); err != nil {
		return "", err
	}
	st := summarize(lat)
	note := fmt.Sprintf("statement_timeout %s -> error, beyond the timeout, over %d trials: median %s, max %s, min %s",
		ms(timeout), cancelTrials, ms(st.median), ms(st.max), ms(st.min))
	if st.median > 100*time.Millisecond {
		return note, fmt.Errorf("median latency %s > 100 ms", ms(st.median))
	}
	if err := s.usable(a, pid, before); err != nil {
		return note, err
	}
	return note + "\nsame backend, same Erlang session afterwards", nil
}

func (s *Suite) testCancelLua() (string, error) {
	a, b, pid, before, err := s.cancelSessions()
	if err != nil {
		return "", err
	}
	defer a.Close()
	defer b.Close()
	var notes []string

	// pcall does not catch a cancel: the DO block would otherwise raise its own error.
	caught := `DO LANGUAGE plerl $$
	  local ok, e = pcall(erlang.call, 'tn', 'Elixir.Plerl.Test', 'sleep', 60000)
	  error('pcall caught it: ' .. tostring(ok) .. ' ' .. tostring(e and e.sqlstate))
	$$`
	a.Start(caught)
	if _, err := waitExtension(b, pid, 10*time.Second); err != nil {
		a.Wait(70 * time.Second)
		return "", err
	}
	t0 := time.Now()
	if _, err := b.Value(`SELECT pg_cancel_backend(` + pid + `)`); err != nil {
		return "", err
	}
	r := a.Wait(10 * time.Second)
	if r.Err != nil || r.SQLState != "57014" {
		return "", fmt.Errorf("Lua call under pg_cancel_backend: %s %s %v, want 57014", r.SQLState, r.Message, r.Err)
	}
	notes = append(notes, "pg_cancel_backend during erlang.call in pcall: 57014 after "+ms(r.Done.Sub(t0)))

	if err := a.Must(`SET statement_timeout = 200`); err != nil {
		return "", err
	}
	r = a.Exec(caught)
	a.Must(`RESET statement_timeout`)
	if r.Err != nil || r.SQLState != "57014" {
		return "", fmt.Errorf("Lua call under statement_timeout: %s %s %v, want 57014", r.SQLState, r.Message, r.Err)
	}
	notes = append(notes, "statement_timeout 200 ms during erlang.call in pcall: 57014 after "+ms(r.Elapsed()))

	// call_with{kill=true}: the remote worker (registered under tag) dies with the cancel.
	tag := fmt.Sprintf("plerl_t_int_%d", os.Getpid())
	whereis := fmt.Sprintf(`SELECT erlang_call('tn', 'Elixir.Plerl.Test', 'whereis_tag', '[%q]')`, tag)
	a.Start(fmt.Sprintf(`DO LANGUAGE plerl $$
	  local ok, e = pcall(erlang.call_with, {timeout = 0, kill = true}, 'tn', 'Elixir.Plerl.Test', 'sleep_tagged', 60000, %q)
	  error('pcall caught it')
	$$`, tag))
	if _, err := waitExtension(b, pid, 10*time.Second); err != nil {
		a.Wait(70 * time.Second)
		return "", err
	}
	up := false
	for i := 0; i < 500 && !up; i++ {
		v, err := b.Value(whereis)
		if err != nil {
			a.Wait(70 * time.Second)
			return "", err
		}
		up = v == "true"
		if !up {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if !up {
		a.Wait(70 * time.Second)
		return "", fmt.Errorf("the remote worker %s never registered", tag)
	}
	t0 = time.Now()
	if _, err := b.Value(`SELECT pg_cancel_backend(` + pid + `)`); err != nil {
		return "", err
	}
	r = a.Wait(10 * time.Second)
	if r.Err != nil || r.SQLState != "57014" {
		return "", fmt.Errorf("call_with{kill=true} under pg_cancel_backend: %s %s %v, want 57014", r.SQLState, r.Message, r.Err)
	}
	lat := r.Done.Sub(t0)
	gone := time.Duration(-1)
	for time.Since(t0) < 2*time.Second {
		if v, err := b.Value(whereis); err != nil {
			return "", err
		} else if v == "false" {
			gone = time.Since(t0)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if gone < 0 {
		return "", fmt.Errorf("call_with{kill=true}: remote worker %s still alive 2 s after the cancel", tag)
	}
	notes = append(notes, fmt.Sprintf("call_with{kill=true}: 57014 after %s, remote worker gone after %s", ms(lat), ms(gone)))
	if err := s.usable(a, pid, before); err != nil {
		return strings.Join(notes, "\n"), err
	}
	return strings.Join(notes, "\n"), nil
}
