package main

import (
	"fmt"
	"strings"
	"syscall"
	"time"
)

// downNode is the node the failure tests kill and restart (server int_down).
func (s *Suite) downNode() (*Node, error) {
	for _, n := range s.nodes {
		if strings.HasSuffix(n.Short, "_down"+nodeSuffix) {
			if n.Running() {
				return n, nil
			}
			return n, n.Start()
		}
	}
	n, err := s.startNode("down")
	if err != nil {
		return nil, err
	}
	if err := s.addServer("int_down", n.Name, n.Cookie); err != nil {
		return nil, err
	}
	return n, s.allow("int_down", "'timer', 'sleep', 1", "'erlang', 'node', 0")
}

// killDuring starts stmt on a, waits until a waits on Erlang, kills node n
// by PID and returns a's result with the time from the kill to the answer.
func killDuring(a, b *Session, pid string, n *Node, stmt string) (Result, time.Duration, error) {
	a.Start(stmt)
	if _, err := waitExtension(b, pid, 10*time.Second); err != nil {
		a.Wait(30 * time.Second)
		return Result{}, 0, err
	}
	time.Sleep(200 * time.Millisecond) // the call is on the node now
	t0 := time.Now()
	n.Signal(syscall.SIGKILL)
	r := a.Wait(15 * time.Second)
	if r.Err != nil {
		return r, 0, r.Err
	}
	n.Kill() // reap it, and wait until epmd forgets the name
	return r, r.Done.Sub(t0), nil
}

// reconnect retries stmt on a every 100 ms until it succeeds (at most
// within); returns how long that took and the SQLSTATEs seen meanwhile.
func reconnect(a *Session, stmt string, within time.Duration) (time.Duration, []string, error) {
	t0 := time.Now()
	var seen []string
	for {
		r := a.Exec(stmt)
		if r.Err != nil {
			return 0, seen, r.Err
		}
		if r.OK() {
			return time.Since(t0), seen, nil
		}
		if len(seen) == 0 || seen[len(seen)-1] != r.SQLState {
			seen = append(seen, r.SQLState)
		}
		if time.Since(t0) > within {
			return 0, seen, fmt.Errorf("no successful call within %v after the restart; last: %s %s", within, r.SQLState, r.Message)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Suite) testNodeFailure() (string, error) {
	n, err := s.downNode()
	if err != nil {
		return "", err
	}
	a, b, pid, err := s.watched("down-a", "down-b")
	if err != nil {
		return "", err
	}
	defer a.Close()
	defer b.Close()
	nodeCall := `SELECT erlang_call('int_down', 'erlang', 'node', '[]')`
	if v, err := a.Value(nodeCall); err != nil || v != fmt.Sprintf(`{"$atom": "%s"}`, n.Name) {
		return "", fmt.Errorf("first call: %q %v", v, err)
	}
	c0, err := connOf(a, n.Name)
	if err != nil {
		return "", err
	}
	var notes []string

	r, took, err := killDuring(a, b, pid, n,
		`SELECT erlang_call('int_down', 'timer', 'sleep', '[10000]', 20000)`)
	if err != nil {
		return "", err
	}
	notes = append(notes, fmt.Sprintf("kill -9 during timer:sleep(10000): %s after %s (%s)", r.SQLState, ms(took), r.Message))
	if r.SQLState != "08006" {
		return strings.Join(notes, "\n"), fmt.Errorf("SQLSTATE %s, want 08006", r.SQLState)
	}
	if took > time.Second {
		return strings.Join(notes, "\n"), fmt.Errorf("the error took %s, more than 1 s", ms(took))
	}
	if p, err := a.Value(`SELECT pg_backend_pid()`); err != nil || p != pid {
		return strings.Join(notes, "\n"), fmt.Errorf("backend gone: %q %v", p, err)
	}
	if c, err := connOf(a, n.Name); err == nil {
		notes = append(notes, fmt.Sprintf("erlang_connections() meanwhile: state %s", c.state))
		if c.state == "connected" {
			return strings.Join(notes, "\n"), fmt.Errorf("erlang_connections() still says connected")
		}
	}
	// While it is down: a clean error at once, not a hang.
	r = a.Exec(nodeCall)
	notes = append(notes, fmt.Sprintf("a call while the node is down: %s after %s", r.SQLState, ms(r.Elapsed())))
	if r.SQLState != "08001" && r.SQLState != "08006" {
		return strings.Join(notes, "\n"), fmt.Errorf("call while down: SQLSTATE %s (%s), want 08001", r.SQLState, r.Message)
	}

	if err := n.Start(); err != nil {
		return strings.Join(notes, "\n"), err
	}
	took, seen, err := reconnect(a, nodeCall, 15*time.Second)
	if err != nil {
		return strings.Join(notes, "\n"), err
	}
	notes = append(notes, fmt.Sprintf("node restarted: the same backend's call succeeded %s after the node was back (errors meanwhile: %v)", ms(took), seen))
	c1, err := connOf(a, n.Name)
	if err != nil {
		return strings.Join(notes, "\n"), err
	}
	if c1.state != "connected" || c1.since == c0.since {
		return strings.Join(notes, "\n"), fmt.Errorf("after reconnect: %+v (before: %+v)", c1, c0)
	}
	if p, err := a.Value(`SELECT pg_backend_pid()`); err != nil || p != pid {
		return strings.Join(notes, "\n"), fmt.Errorf("backend changed: %q %v", p, err)
	}
	return strings.Join(notes, "\n"), nil
}

func (s *Suite) testNodeFailureLua() (string, error) {
	n, err := s.downNode()
	if err != nil {
		return "", err
	}
	if err := s.admin.Must(`CREATE OR REPLACE FUNCTION int_down_lua(ms int) RETURNS text LANGUAGE plerl AS $$
	  local ok, e = pcall(erlang.call_with, {timeout = 20000}, 'int_down', 'timer', 'sleep', ms)
	  if ok then return 'returned ' .. tostring(e) end
	  return 'caught ' .. tostring(e.sqlstate) .. ': ' .. tostring(e.message)
	$$`, `CREATE OR REPLACE FUNCTION int_down_node() RETURNS text LANGUAGE plerl AS $$
	  return tostring(erlang.call('int_down', 'erlang', 'node'))
	$$`); err != nil {
		return "", err
	}
	a, b, pid, err := s.watched("down-lua-a", "down-lua-b")
	if err != nil {
		return "", err
	}
	defer a.Close()
	defer b.Close()
	// Connected (the node may have just been restarted: retry).
	if _, _, err := reconnect(a, `SELECT int_down_node()`, 15*time.Second); err != nil {
		return "", err
	}
	if v, err := a.Value(`SELECT int_down_lua(0)`); err != nil || v != "returned ok" {
		return "", fmt.Errorf("int_down_lua(0): %q %v", v, err)
	}
	r, took, err := killDuring(a, b, pid, n, `SELECT int_down_lua(10000)`)
	if err != nil {
		return "", err
	}
	v, err := r.One()
	note := fmt.Sprintf("kill -9 during erlang.call_with in pcall: %q after %s", v, ms(took))
	if err != nil {
		return note, err
	}
	if !strings.HasPrefix(v, "caught 08006") || took > time.Second {
		return note, fmt.Errorf("want 'caught 08006' within 1 s")
	}
	if p, err := a.Value(`SELECT pg_backend_pid()`); err != nil || p != pid {
		return note, fmt.Errorf("backend gone: %q %v", p, err)
	}
	if err := n.Start(); err != nil {
		return note, err
	}
	took, _, err = reconnect(a, `SELECT int_down_node()`, 15*time.Second)
	if err != nil {
		return note, err
	}
	if v, err := a.Value(`SELECT int_down_lua(0)`); err != nil || v != "returned ok" {
		return note, fmt.Errorf("after restart: %q %v", v, err)
	}
	return note + fmt.Sprintf("\nrestarted: erlang.call from the same backend works again after %s", ms(took)), nil
}
