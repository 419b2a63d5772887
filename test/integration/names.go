package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Names in the cluster across two real nodes: a server whose only node is
// A (the group nodes' c1) reaches a :global name and :pg members that live
// on B (c2), A and B connected in one Erlang cluster. The processes are
// sleepers (erlang:spawn(timer, sleep, [infinity])) that never read their
// mailbox, so erlang:process_info(P, message_queue_len) counts exactly
// what arrived; and B's rex (a gen_server) answers GenServer.call.

const (
	relayName   = "plerl_i13_relay_cl" // a :global name of a sleeper on B
	relayRex    = "plerl_i13_rexb_cl"  // a :global name of B's rex
	relayGroup  = "plerl_i13_group_cl" // a :pg group: a sleeper on A, one on B
	relayRows   = "'erlang', 'spawn', 3|'erlang', 'process_info', 2|'erlang', 'exit', 2|'erlang', 'whereis', 1|'erlang', 'node', 0|'global', 're_register_name', 2|'global', 'whereis_name', 1|'pg', 'start', 1|'pg', 'join', 3|'pg', 'get_members', 2|'net_kernel', 'connect_node', 1"
	relaySleepA = `[{"$atom": "timer"}, {"$atom": "sleep"}, [{"$atom": "infinity"}]]`
)

func atomJSON(a string) string { return `jsonb_build_object('$atom', ` + quote(a) + `)` }

// relayNodes makes the servers n_a (node A) and n_b (node B) and connects
// A to B (once per run).
func (s *Suite) relayNodes() (a, b *Node, err error) {
	ns, err := s.groupNodes()
	if err != nil {
		return nil, nil, err
	}
	a, b = ns[0], ns[1]
	if v, _ := s.admin.Value(`SELECT count(*) FROM pg_foreign_server WHERE srvname = 'n_a'`); v != "1" {
		for _, sv := range []struct{ name, node string }{{"n_a", a.Name}, {"n_b", b.Name}} {
			if err := s.admin.Must(
				`SET log_statement = 'none'`,
				fmt.Sprintf(`CREATE SERVER %s FOREIGN DATA WRAPPER plerl OPTIONS (node %s)`, sv.name, quote(sv.node)),
				fmt.Sprintf(`CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (cookie %s)`, sv.name, quote(a.Cookie)),
				`RESET log_statement`); err != nil {
				return nil, nil, err
			}
			rows := strings.Split(relayRows, "|")
			for _, n := range []string{relayName, relayRex, relayGroup} {
				rows = append(rows, quote(n)+", '!', 1")
			}
			if err := s.allow(sv.name, rows...); err != nil {
				return nil, nil, err
			}
		}
	}
	v, err := s.admin.Value(`SELECT erlang_call('n_a', 'net_kernel', 'connect_node', jsonb_build_array(` + atomJSON(b.Name) + `))`)
	if err != nil {
		return nil, nil, err
	}
	if v != "true" {
		return nil, nil, fmt.Errorf("net_kernel:connect_node(%s) on %s: %s", b.Name, a.Name, v)
	}
	return a, b, nil
}

// sleeper spawns a process on server's node that never reads its mailbox;
// the pid as jsonb text.
func (s *Suite) sleeper(server string) (string, error) {
	return s.admin.Value(fmt.Sprintf(`SELECT erlang_call(%s, 'erlang', 'spawn', %s)`, quote(server), quote(relaySleepA)))
}

// queueLen is the number of messages in pid's mailbox (pid: jsonb text).
func (s *Suite) queueLen(server, pid string) (int, error) {
	v, err := s.admin.Value(fmt.Sprintf(`SELECT erlang_call(%s, 'erlang', 'process_info', jsonb_build_array(%s::jsonb, %s))->'$tuple'->>1`,
		quote(server), quote(pid), atomJSON("message_queue_len")))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// settle waits until pid's mailbox holds want messages (or 10 s pass), then
// a further 300 ms for any extra one, and returns what it holds.
func (s *Suite) settle(server, pid string, want int) (int, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := s.queueLen(server, pid)
		if err != nil || n > want {
			return n, err
		}
		if n == want || time.Now().After(deadline) {
			time.Sleep(300 * time.Millisecond)
			return s.queueLen(server, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Suite) kill(server, pid string) {
	s.admin.Exec(fmt.Sprintf(`SELECT erlang_call(%s, 'erlang', 'exit', jsonb_build_array(%s::jsonb, %s))`, quote(server), quote(pid), atomJSON("kill")))
}

// waitVisible polls query on A until it returns want (global and pg
// propagate between nodes asynchronously).
func (s *Suite) waitVisible(query, want string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := s.admin.Value(query)
		if err != nil {
			return err
		}
		if v == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s after 10 s, want %s", abbrev(query), v, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testNamesGlobalRelay: a :global name registered on B, reached through a
// server whose node is A: 300 sends from SQL and 300 from Lua all arrive
// (counted in the receiver's mailbox, exactly), and 200 GenServer.calls to
// B's rex registered globally all answer from B; the calling session never
// connects to B.
func (s *Suite) testNamesGlobalRelay() (string, error) {
	a, b, err := s.relayNodes()
	if err != nil {
		return "", err
	}
	pb, err := s.sleeper("n_b")
	if err != nil {
		return "", err
	}
	defer s.kill("n_b", pb)
	rex, err := s.admin.Value(`SELECT erlang_call('n_b', 'erlang', 'whereis', jsonb_build_array(` + atomJSON("rex") + `))`)
	if err != nil {
		return "", err
	}
	for _, reg := range []struct{ name, pid string }{{relayName, pb}, {relayRex, rex}} {
		if err := s.admin.Must(fmt.Sprintf(`SELECT erlang_call('n_b', 'global', 're_register_name', jsonb_build_array(%s, %s::jsonb))`,
			atomJSON(reg.name), quote(reg.pid))); err != nil {
			return "", err
		}
		if err := s.waitVisible(fmt.Sprintf(`SELECT erlang_call('n_a', 'global', 'whereis_name', jsonb_build_array(%s))::text`, atomJSON(reg.name)), reg.pid); err != nil {
			return "", err
		}
	}
	t, err := s.session("names-global")
	if err != nil {
		return "", err
	}
	defer t.Close()
	const nSQL, nLua, nCall = 300, 300, 200
	if v, err := t.Value(fmt.Sprintf(`SELECT count(*) FROM generate_series(1, %d) i
		WHERE erlang_send('n_a', %s, to_jsonb(i), '{"cluster": "global"}')`, nSQL, quote(relayName))); err != nil || v != strconv.Itoa(nSQL) {
		return "", fmt.Errorf("sends from SQL: %v %v", v, err)
	}
	if err := t.Must(`CREATE FUNCTION pg_temp.lua_sends(n int, name text) RETURNS int LANGUAGE plerl AS $$
		for i = 1, n do erlang.send('n_a', erlang.global(name), i) end
		return n
	$$`, fmt.Sprintf(`SELECT pg_temp.lua_sends(%d, %s)`, nLua, quote(relayName))); err != nil {
		return "", err
	}
	got, err := s.settle("n_b", pb, nSQL+nLua)
	if err != nil {
		return "", err
	}
	if got != nSQL+nLua {
		return "", fmt.Errorf("the process on B got %d messages, want %d", got, nSQL+nLua)
	}
	if err := t.Must(`CREATE FUNCTION pg_temp.lua_calls(n int, name text, node text) RETURNS int LANGUAGE plerl AS $$
		local A = erlang.atom
		local k = 0
		for i = 1, n do
		  local r = erlang.call('n_a', erlang.global(name), erlang.tuple(A('call'), A('erlang'), A('node'), {}, A('user')))
		  if r == A(node) then k = k + 1 end
		end
		return k
	$$`); err != nil {
		return "", err
	}
	calls, err := t.Value(fmt.Sprintf(`SELECT pg_temp.lua_calls(%d, %s, %s)`, nCall, quote(relayRex), quote(b.Name)))
	if err != nil {
		return "", err
	}
	if calls != strconv.Itoa(nCall) {
		return "", fmt.Errorf("%s of %d calls answered from %s", calls, nCall, b.Name)
	}
	conns, err := t.Query(`SELECT node FROM erlang_connections() ORDER BY node`)
	if err != nil {
		return "", err
	}
	for _, c := range conns {
		if c == b.Name {
			return "", fmt.Errorf("the session connected to B itself: %v", conns)
		}
	}
	return fmt.Sprintf("through %s: %d + %d sends arrived on %s exactly, %d/%d calls answered by %s; the session's connections: %v",
		a.Short, nSQL, nLua, b.Short, nCall, nCall, b.Short, conns), nil
}

// testNamesPgAll: a :pg group with a member on A and one on B, reached
// through A: 200 sends with all = true reach each member exactly 200
// times; 200 sends without it reach one member each (400 + 200 in all).
func (s *Suite) testNamesPgAll() (string, error) {
	if _, _, err := s.relayNodes(); err != nil {
		return "", err
	}
	var pids []string
	servers := []string{"n_a", "n_b"}
	for _, sv := range servers {
		// {ok, Pid} or {error, {already_started, Pid}}: either way it runs.
		if err := s.admin.Must(fmt.Sprintf(`SELECT erlang_call(%s, 'pg', 'start', jsonb_build_array(%s))`, quote(sv), atomJSON("pg"))); err != nil {
			return "", err
		}
		p, err := s.sleeper(sv)
		if err != nil {
			return "", err
		}
		defer s.kill(sv, p)
		pids = append(pids, p)
		// pg:join takes processes of the node it runs on.
		if err := s.admin.Must(fmt.Sprintf(`SELECT erlang_call(%s, 'pg', 'join', jsonb_build_array(%s, %s, %s::jsonb))`,
			quote(sv), atomJSON("pg"), atomJSON(relayGroup), quote(p))); err != nil {
			return "", err
		}
	}
	if err := s.waitVisible(fmt.Sprintf(`SELECT jsonb_array_length(erlang_call('n_a', 'pg', 'get_members', jsonb_build_array(%s, %s)))`,
		atomJSON("pg"), atomJSON(relayGroup)), "2"); err != nil {
		return "", err
	}
	t, err := s.session("names-pg")
	if err != nil {
		return "", err
	}
	defer t.Close()
	const nAll, nOne = 200, 200
	if v, err := t.Value(fmt.Sprintf(`SELECT count(*) FROM generate_series(1, %d) i
		WHERE erlang_send('n_a', %s, to_jsonb(i), '{"cluster": "pg", "all": true}')`, nAll, quote(relayGroup))); err != nil || v != strconv.Itoa(nAll) {
		return "", fmt.Errorf("sends to all: %v %v", v, err)
	}
	var each []int
	for i, sv := range servers {
		n, err := s.settle(sv, pids[i], nAll)
		if err != nil {
			return "", err
		}
		each = append(each, n)
	}
	if each[0] != nAll || each[1] != nAll {
		return "", fmt.Errorf("all = true: the members on A and B got %v, want %d each", each, nAll)
	}
	if err := t.Must(fmt.Sprintf(`DO LANGUAGE plerl $$
		for i = 1, %d do erlang.send('n_a', erlang.pg(%s), i) end
	$$`, nOne, quote(relayGroup))); err != nil {
		return "", err
	}
	deadline := time.Now().Add(10 * time.Second)
	var total int
	for {
		total = 0
		each = each[:0]
		for i, sv := range servers {
			n, err := s.queueLen(sv, pids[i])
			if err != nil {
				return "", err
			}
			each = append(each, n)
			total += n
		}
		if total >= 2*nAll+nOne || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if n0, _ := s.queueLen("n_a", pids[0]); n0 != each[0] {
		total += n0 - each[0]
	}
	if n1, _ := s.queueLen("n_b", pids[1]); n1 != each[1] {
		total += n1 - each[1]
	}
	if total != 2*nAll+nOne {
		return "", fmt.Errorf("after %d sends to all and %d to one: %d messages in all (%v), want %d", nAll, nOne, total, each, 2*nAll+nOne)
	}
	return fmt.Sprintf("all = true: %d to each of the members on A and B; one at random: %d more, split %d/%d", nAll, nOne, each[0]-nAll, each[1]-nAll), nil
}
