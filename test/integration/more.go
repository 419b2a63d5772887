package main

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// silentEpmd accepts connections on addr:4369 and never answers: a peer
// whose host is up but whose epmd (or node) hangs.
type silentEpmd struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startSilentEpmd(host string) (*silentEpmd, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "4369"))
	if err != nil {
		return nil, err
	}
	s := &silentEpmd{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns = append(s.conns, c)
			s.mu.Unlock()
		}
	}()
	return s, nil
}

func (s *silentEpmd) Close() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
}

// Connecting waits too (epmd lookup, TCP, handshake): a cancel ends it at
// once, and plerl.connect_timeout bounds it with 08001.
func (s *Suite) testConnectHang() (string, error) {
	host := fmt.Sprintf("127.77.%d.%d", os.Getpid()%250+1, os.Getpid()/250%250+1)
	ep, err := startSilentEpmd(host)
	if err != nil {
		return "", skipError{fmt.Sprintf("cannot listen on %s:4369: %v", host, err)}
	}
	defer ep.Close()
	if err := s.addServer("int_hang", "hang@"+host, "no-cookie-needed"); err != nil {
		return "", err
	}
	if err := s.allow("int_hang", "'erlang', 'node', 0"); err != nil {
		return "", err
	}
	a, b, pid, err := s.watched("hang-a", "hang-b")
	if err != nil {
		return "", err
	}
	defer a.Close()
	defer b.Close()
	const trials = 10
	var lat []time.Duration
	for i := 0; i < trials; i++ {
		q := `SELECT erlang_call('int_hang', 'erlang', 'node', '[]', 0)`
		if i%2 == 1 {
			q = `DO LANGUAGE plerl $$ pcall(erlang.call_with, {timeout = 0}, 'int_hang', 'erlang', 'node') error('caught') $$`
		}
		a.Start(q)
		if _, err := waitExtension(b, pid, 10*time.Second); err != nil {
			a.Wait(30 * time.Second)
			return "", fmt.Errorf("trial %d: %v", i+1, err)
		}
		time.Sleep(20 * time.Millisecond)
		t0 := time.Now()
		if _, err := b.Value(`SELECT pg_cancel_backend(` + pid + `)`); err != nil {
			return "", err
		}
		r := a.Wait(10 * time.Second)
		if err := r.cancelled(i + 1); err != nil {
			return "", err
		}
		lat = append(lat, r.Done.Sub(t0))
	}
	st := summarize(lat)
	note := fmt.Sprintf("pg_cancel_backend while connecting (SQL and Lua), %d trials: median %s, max %s", trials, ms(st.median), ms(st.max))
	if st.median > 100*time.Millisecond {
		return note, fmt.Errorf("median latency %s > 100 ms", ms(st.median))
	}
	r := a.Exec(`SET plerl.connect_timeout = '300ms'`)
	if r.Error() != nil {
		return note, r.Error()
	}
	r = a.Exec(`SELECT erlang_call('int_hang', 'erlang', 'node', '[]')`)
	note += fmt.Sprintf("\nplerl.connect_timeout 300 ms: %s after %s", r.SQLState, ms(r.Elapsed()))
	if r.SQLState != "08001" || r.Elapsed() < 300*time.Millisecond || r.Elapsed() > time.Second {
		return note, fmt.Errorf("want 08001 after about 300 ms: %s", r.Message)
	}
	if p, err := a.Value(`SELECT pg_backend_pid()`); err != nil || p != pid {
		return note, fmt.Errorf("backend changed: %q %v", p, err)
	}
	return note, nil
}

// Sends must not pile up per-send state: 20000 from SQL and 20000 from Lua
// in one session stay within a small Go heap.
func (s *Suite) testManySends() (string, error) {
	a, err := s.session("sends")
	if err != nil {
		return "", err
	}
	defer a.Close()
	const n = 20000
	if v, err := a.Value(fmt.Sprintf(`SELECT count(*) FILTER (WHERE erlang_send('tn', 'plerl_echo', '"x"')) FROM generate_series(1, %d)`, n)); err != nil || v != fmt.Sprint(n) {
		return "", fmt.Errorf("SQL sends: %q %v", v, err)
	}
	if err := a.Must(`CREATE FUNCTION pg_temp.lua_sends(n int) RETURNS float8 LANGUAGE plerl AS $$
	  for i = 1, n do erlang.send('tn', 'plerl_echo', erlang.tuple('not a pid', i)) end
	  return collectgarbage('count') / 1024
	$$`); err != nil {
		return "", err
	}
	v, err := a.Value(fmt.Sprintf(`SELECT round(pg_temp.lua_sends(%d))`, n))
	if err != nil {
		return "", err
	}
	note := fmt.Sprintf("%d sends from SQL, then %d from Lua: Go heap %s MB afterwards", n, n, v)
	if atoi(strings.TrimSuffix(v, ".0")) > 128 {
		return note, fmt.Errorf("heap grew with the number of sends")
	}
	return note, nil
}
