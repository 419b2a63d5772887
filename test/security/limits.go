// limits: the timeouts, measured against peers that never answer (the
// regression area security covers the rest: sizes, atoms, connections,
// the Lua memory and time budgets).
package main

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// timed runs script as user and returns its @@STATE line and how long it took.
func (e *env) timed(user, script string) (string, time.Duration, string) {
	t0 := time.Now()
	out, _ := e.psqlRun(user, script+"\n\\echo @@STATE :SQLSTATE\n")
	d := time.Since(t0)
	st := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "@@STATE ") {
			st = strings.TrimPrefix(l, "@@STATE ")
		}
	}
	return st, d, out
}

func (e *env) limits() {
	if e.fakeHost == "" {
		e.check("limits/fake nodes", false, "no loopback address for the fake epmd")
		return
	}
	// plerl.connect_timeout: a node that accepts TCP and never answers the handshake.
	st, d, out := e.timed("sec_bad", "SET plerl.connect_timeout = '300ms';\nSELECT erlang_call('fake_silenths', 'erlang', 'node', '[]');")
	e.check("limits/connect_timeout (handshake never answered)", st == "08001" && d < 3*time.Second,
		"%s after %v %s", st, d.Round(time.Millisecond), firstError(out))

	// ... and an epmd that accepts and never answers.
	var ln net.Listener
	host := ""
	for i := 40; i < 80 && ln == nil; i++ {
		h := "127.0.0." + strconv.Itoa(i)
		if l, err := net.Listen("tcp", net.JoinHostPort(h, "4369")); err == nil {
			ln, host = l, h
		}
	}
	if ln != nil {
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() { time.Sleep(10 * time.Second); c.Close() }()
			}
		}()
		e.psqlRun("postgres", `SET log_statement = 'none';
CREATE SERVER sec_mute FOREIGN DATA WRAPPER plerl OPTIONS (node 'mute@`+host+`');
CREATE USER MAPPING FOR sec_bad SERVER sec_mute OPTIONS (cookie 'not-a-secret');
RESET log_statement;
GRANT USAGE ON FOREIGN SERVER sec_mute TO sec_bad;
INSERT INTO plerl.allow VALUES ('sec_mute', NULL, 'erlang', 'node', 0);`)
		st, d, out = e.timed("sec_bad", "SET plerl.connect_timeout = '300ms';\nSELECT erlang_call('sec_mute', 'erlang', 'node', '[]');")
		e.check("limits/connect_timeout (epmd never answers)", st == "08001" && d < 3*time.Second,
			"%s after %v %s", st, d.Round(time.Millisecond), firstError(out))
	}

	// plerl.call_timeout and the per-call timeout: PE001, on time.
	st, d, out = e.timed("sec_bad", "SET plerl.call_timeout = '300ms';\nSELECT erlang_call('fake_silent', 'erlang', 'node', '[]');")
	e.check("limits/call_timeout", st == "PE001" && d < 3*time.Second, "%s after %v %s", st, d.Round(time.Millisecond), firstError(out))
	st, d, out = e.timed("sec_bad", "SELECT erlang_call('fake_silent', 'erlang', 'node', '[]', 300);")
	e.check("limits/timeout_ms argument", st == "PE001" && d < 3*time.Second, "%s after %v %s", st, d.Round(time.Millisecond), firstError(out))

	// No timeout of its own (0): statement_timeout still ends it, with 57014,
	// and the same backend goes on.
	st, d, out = e.timed("sec_bad", `SELECT pg_backend_pid() AS p0 \gset
SET statement_timeout = '400ms';
SELECT erlang_call('fake_silent', 'erlang', 'node', '[]', 0);
\set st :SQLSTATE
RESET statement_timeout;
SELECT pg_backend_pid() = :p0 AS same_backend, erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["after"]');
\echo @@FIRST :st`)
	e.check("limits/statement_timeout while waiting (timeout_ms 0)", strings.Contains(out, "@@FIRST 57014") && d < 4*time.Second &&
		strings.Contains(out, "t            | \"after\""), "after %v: %s", d.Round(time.Millisecond), strings.Join(strings.Fields(out), " "))

	// pg_cancel_backend while waiting: 57014 at once.
	done := make(chan string, 1)
	go func() {
		out, _ := e.psqlRun("sec_bad", "SELECT erlang_call('fake_silent', 'erlang', 'node', '[]', 0);\n\\echo @@STATE :SQLSTATE\n")
		done <- out
	}()
	var cancelled string
	for i := 0; i < 100 && cancelled != "t"; i++ {
		time.Sleep(50 * time.Millisecond)
		cancelled, _ = e.psqlValue("postgres", "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'sec_bad' AND wait_event_type = 'Extension'")
	}
	select {
	case out := <-done:
		e.check("limits/pg_cancel_backend while waiting", strings.Contains(out, "@@STATE 57014"), "%s", firstError(out))
	case <-time.After(10 * time.Second):
		e.check("limits/pg_cancel_backend while waiting", false, "still waiting 10 s after the cancel")
	}
}
