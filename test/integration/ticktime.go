package main

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A node with net_ticktime 4 drops a connection that stays silent for 4 to
// 5 s. The backend's session must tick on its own while the backend sleeps
// (pg_sleep) and while it idles between statements.
func (s *Suite) testTicktime() (string, error) {
	n, err := s.startNode("tick", "-kernel", "net_ticktime", "4")
	if err != nil {
		return "", err
	}
	defer n.Kill()
	if err := s.addServer("int_tick", n.Name, n.Cookie); err != nil {
		return "", err
	}
	if err := s.allow("int_tick", "'net_kernel', 'get_net_ticktime', 0", "'erlang', 'node', 0", "'erlang', 'nodes', 1"); err != nil {
		return "", err
	}
	a, err := s.session("tick")
	if err != nil {
		return "", err
	}
	defer a.Close()
	if v, err := a.Value(`SELECT erlang_call('int_tick', 'net_kernel', 'get_net_ticktime', '[]')`); err != nil || v != "4" {
		return "", fmt.Errorf("the peer's net_ticktime: %q %v", v, err)
	}
	hidden := `SELECT count(*) FROM jsonb_array_elements(erlang_call('int_tick', 'erlang', 'nodes', '[{"$atom": "hidden"}]'))`
	if v, err := a.Value(hidden); err != nil || v != "1" {
		return "", fmt.Errorf("the peer's hidden nodes: %q %v", v, err)
	}
	c0, err := connOf(a, n.Name)
	if err != nil {
		return "", err
	}
	sleep, idle := 10*time.Second, 5*time.Second
	if !s.slow {
		sleep, idle = 6*time.Second, 0
	}
	t0 := time.Now()
	if err := a.Must(fmt.Sprintf(`SELECT pg_sleep(%g)`, sleep.Seconds())); err != nil {
		return "", err
	}
	time.Sleep(idle) // idle in the session: no statement running
	silent := time.Since(t0)
	note := fmt.Sprintf("peer net_ticktime 4 s; %s of pg_sleep + %s idle between statements", sleep, idle)
	if v, err := a.Value(`SELECT erlang_call('int_tick', 'erlang', 'node', '[]')`); err != nil || v != fmt.Sprintf(`{"$atom": "%s"}`, n.Name) {
		return note, fmt.Errorf("call after %s idle: %q %v", silent.Round(time.Second), v, err)
	}
	c1, err := connOf(a, n.Name)
	if err != nil {
		return note, err
	}
	if c1.since != c0.since || c1.state != "connected" || c1.errors != c0.errors {
		return note, fmt.Errorf("the session did not survive: before %+v, after %+v", c0, c1)
	}
	if v, err := a.Value(hidden); err != nil || v != "1" {
		return note, fmt.Errorf("the peer's hidden nodes afterwards: %q %v", v, err)
	}
	if strings.Contains(n.Log(20), "net_tick") {
		return note, fmt.Errorf("the peer logged a tick timeout: %s", n.Log(5))
	}
	note += "; same session (since " + c0.since + ") afterwards"
	if !s.slow {
		return note, nil
	}

	// Control: a backend that cannot answer (stopped) loses the session, so
	// the peer really enforces its ticktime; the next calls reconnect.
	pid, err := a.Value(`SELECT pg_backend_pid()`)
	if err != nil {
		return note, err
	}
	p, _ := strconv.Atoi(pid)
	if err := syscall.Kill(p, syscall.SIGSTOP); err != nil {
		return note, fmt.Errorf("SIGSTOP to our backend %d: %v", p, err)
	}
	time.Sleep(7 * time.Second)
	if err := syscall.Kill(p, syscall.SIGCONT); err != nil {
		return note, fmt.Errorf("SIGCONT to our backend %d: %v", p, err)
	}
	first := a.Exec(`SELECT erlang_call('int_tick', 'erlang', 'node', '[]')`)
	took, seen, err := reconnect(a, `SELECT erlang_call('int_tick', 'erlang', 'node', '[]')`, 10*time.Second)
	if err != nil {
		return note, err
	}
	c2, err := connOf(a, n.Name)
	if err != nil {
		return note, err
	}
	note += fmt.Sprintf("\ncontrol: backend stopped 7 s (SIGSTOP): first call after SIGCONT %s, then %s; ok after %s more",
		first.SQLState, seen, ms(took))
	if c2.since == c0.since {
		return note, fmt.Errorf("control: the session survived 7 s without ticks, so this peer does not enforce its ticktime and the test shows nothing")
	}
	return note + ", new session", nil
}
