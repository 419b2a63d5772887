// hostile: what an ordinary role could still do to the node, the host and
// other roles (the hardening issue): names with a NUL byte, atoms without
// bound, the allow-list under REPEATABLE READ, deferred sends in parallel
// workers, one mailbox for every role, and a mailbox outside the memory
// limit. Each check counts what reached the node (its atom table, what
// OrderDesk saw committed) or what the backend holds (its RSS), so it fails
// on a build without the fix.
package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// markers returns the values of "@@KEY value" lines in out (\echo lines,
// and Lua print's INFO lines).
func markers(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		i := strings.Index(l, "@@")
		if i < 0 {
			continue
		}
		k, v, _ := strings.Cut(l[i+2:], " ")
		m[k] = strings.TrimSpace(v)
	}
	return m
}

// atomCount is the test node's atom count (Plerl.Test.atom_count/0).
func (e *env) atomCount() int {
	v, err := e.psqlValue("postgres", "SELECT erlang_call('sec_pub', 'Elixir.Plerl.Test', 'atom_count', '[]')")
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

func (e *env) hostile() {
	// sec_h1, sec_h2: ordinary roles with plerl_caller, USAGE on sec_pub
	// (a PUBLIC mapping) and a few allow rows with no atoms listed.
	out, _ := e.psqlRun("postgres", `CREATE ROLE sec_h1 LOGIN IN ROLE plerl_caller;
CREATE ROLE sec_h2 LOGIN IN ROLE plerl_caller;
GRANT USAGE ON FOREIGN SERVER sec_pub TO sec_h1, sec_h2;
INSERT INTO plerl.allow (server, role, module, function, arity) VALUES
  ('sec_pub', NULL, 'Elixir.Plerl.Test', 'atom_count', 0),
  ('sec_pub', NULL, 'erlang', 'node', 0),
  ('sec_pub', NULL, 'Elixir.Plerl.Test', 'echo', 1),
  ('sec_pub', NULL, 'Elixir.Plerl.Test', 'flood', 3),
  ('sec_pub', NULL, 'Elixir.Plerl.Test', 'sleep', 1),
  ('sec_pub', NULL, 'binary', 'copy', 2),
  ('sec_pub', NULL, 'Elixir.OrderDesk', NULL, NULL),
  ('sec_pub', NULL, 'Elixir.OrderDesk', '!', 1),
  ('sec_pub', NULL, 'plerl_echo', '!', 1);
-- Only the casts to OrderDesk may carry their atom (a build without the
-- atoms column fails here, and its rows then allow no more than before).
UPDATE plerl.allow SET atoms = '{order_committed}' WHERE server = 'sec_pub' AND module = 'Elixir.OrderDesk' AND function = '!';
GRANT CREATE ON SCHEMA public TO sec_h1, sec_h2;
SELECT 'hostile setup done';`)
	e.check("hostile/setup", strings.Contains(out, "hostile setup done"), "%s", firstError(out))

	e.hostileNames()
	e.hostileAtoms()
	e.hostileRepeatableRead()
	e.hostileParallel()
	e.hostileMailboxRoles()
	e.hostileMailboxBytes()
	e.hostileHeldReplies()
}

// 1. A NUL byte in a name: C checked the name up to the NUL while the whole
// name went out, one new atom per call. Every name-taking function of the
// erlang module must refuse it (22023) and the node's atom table must not
// grow.
func (e *env) hostileNames() {
	before := e.atomCount()
	out, _ := e.psqlRun("sec_h1", `DO LANGUAGE plerl $$
  local states = {}
  for i = 1, 2000 do
    local ok, err = pcall(erlang.call, 'sec_pub', 'erlang', 'node\0' .. i)
    states[ok and 'ok' or err.sqlstate] = (states[ok and 'ok' or err.sqlstate] or 0) + 1
  end
  for k, v in pairs(states) do print('@@LOOP ' .. k .. '=' .. v) end
$$;`)
	after := e.atomCount()
	m := markers(out)
	e.check("hostile/names: 2000 calls of erlang:'node\\0<i>' are refused with 22023",
		m["LOOP"] == "22023=2000", "got %q %s", m["LOOP"], firstError(out))
	e.check("hostile/names: ... and the node's atom table did not grow",
		before > 0 && after >= before && after-before < 100, "atom count %d -> %d", before, after)

	// Every function of the erlang module that takes a name, and every
	// position a name can take there.
	variants := []string{
		`erlang.call('sec_pub', 'erlang', 'node\0x')`,
		`erlang.call('sec_pub', 'erlang\0x', 'node')`,
		`erlang.call('sec_pub\0x', 'erlang', 'node')`,
		`erlang.call_with({timeout = 100}, 'sec_pub', 'erlang', 'node\0x')`,
		`erlang.call_with({kill = true}, 'sec_pub', 'Elixir.Plerl.Test\0x', 'echo', 1)`,
		`erlang.send('sec_pub', 'plerl_echo\0x', 1)`,
		`erlang.send('sec_pub', erlang.atom('plerl_echo\0x'), 1)`,
		`erlang.cast('sec_pub', 'Elixir.OrderDesk\0x', 1)`,
		`erlang.cast('sec_pub', 'Elixir.OrderDesk\0x', 1, {on_commit = true})`,
		`erlang.send('sec_pub', 'plerl_echo\0x', 1, {on_commit = true})`,
		`erlang.ping('sec_pub\0x')`,
		`erlang.self('sec_pub\0x')`,
		`erlang.receive('sec_pub\0x', 0)`,
		`erlang.disconnect('sec_pub\0x')`,
		`erlang.call('sec_pub', 'erlang', 'node\255')`,
		`erlang.call('sec_pub', 'erlang', string.rep('n', 300))`,
	}
	var b strings.Builder
	b.WriteString("DO LANGUAGE plerl $$\n")
	for i, v := range variants {
		fmt.Fprintf(&b, "do local ok, err = pcall(function() return %s end); print('@@V%d ' .. (ok and 'ok' or tostring(err.sqlstate))) end\n", v, i)
	}
	b.WriteString("$$;")
	out, _ = e.psqlRun("sec_h1", b.String())
	m = markers(out)
	for i, v := range variants {
		got := m[fmt.Sprintf("V%d", i)]
		e.check("hostile/names: "+v, got == "22023", "got %q", got)
	}
	after2 := e.atomCount()
	e.check("hostile/names: the variants made no atom either", after2 >= after && after2-after < 20,
		"atom count %d -> %d", after, after2)
}

// 2. Atoms are a node-wide resource never freed: through a server, a request
// may carry only the atoms its allow row lists, however many calls a role
// makes; a row with a NULL function does not let function names create
// atoms either.
func (e *env) hostileAtoms() {
	type loop struct{ name, lua, want string }
	loops := []loop{
		{"200 calls of echo/1 with 100 new atoms each (default plerl.max_atoms)",
			`for i = 1, 200 do
    local t = {}
    for j = 1, 100 do t[j] = erlang.atom('sec_h_' .. i .. '_' .. j) end
    local ok, err = pcall(erlang.call, 'sec_pub', 'Elixir.Plerl.Test', 'echo', t)
    count(ok, err)
  end`, "42501=200"},
		{"200 casts with a new atom each",
			`for i = 1, 200 do
    local ok, err = pcall(erlang.cast, 'sec_pub', 'Elixir.OrderDesk', erlang.tuple(erlang.atom('sec_hc_' .. i), i))
    count(ok, err)
  end`, "42501=200"},
		{"200 sends to a pid with a new atom each",
			`local me = erlang.self('sec_pub')
  for i = 1, 200 do
    local ok, err = pcall(erlang.send, 'sec_pub', 'plerl_echo', erlang.tuple(me, erlang.atom('sec_hs_' .. i)))
    count(ok, err)
  end`, "42501=200"},
		{"200 deferred casts with a new atom each (refused when queued)",
			`for i = 1, 200 do
    local ok, err = pcall(erlang.cast, 'sec_pub', 'Elixir.OrderDesk', erlang.atom('sec_hd_' .. i), {on_commit = true})
    count(ok, err)
  end`, "42501=200"},
		{"500 calls of new function names through a NULL-function row",
			`for i = 1, 500 do
    local ok, err = pcall(erlang.call, 'sec_pub', 'Elixir.OrderDesk', 'sec_hf_' .. i)
    count(ok, err)
  end`, "42883=500"},
	}
	for _, l := range loops {
		before := e.atomCount()
		out, _ := e.psqlRun("sec_h1", `DO LANGUAGE plerl $$
  local states = {}
  local function count(ok, err)
    local k = ok and 'ok' or tostring(err.sqlstate)
    states[k] = (states[k] or 0) + 1
  end
  `+l.lua+`
  for k, v in pairs(states) do print('@@LOOP ' .. k .. '=' .. v) end
$$;`)
		after := e.atomCount()
		got := markers(out)["LOOP"]
		e.check("hostile/atoms: "+l.name, got == l.want && before > 0 && after >= before && after-before < 100,
			"%s (want %s); node atom count %d -> %d %s", got, l.want, before, after, firstError(out))
	}

	// From SQL: jsonb {"$atom": ...} in a loop of statements.
	before := e.atomCount()
	var b strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "SELECT erlang_call('sec_pub', 'Elixir.Plerl.Test', 'echo', '[{\"$atom\": \"sec_hj_%d\"}]');\n", i)
	}
	b.WriteString("\\echo @@LAST :SQLSTATE\n")
	out, _ := e.psqlRun("sec_h1", b.String())
	after := e.atomCount()
	n := strings.Count(out, "does not permit the atom")
	e.check("hostile/atoms: 200 erlang_call with a new {\"$atom\"} each", n == 200 && markers(out)["LAST"] == "42501" && after-before < 100,
		"%d refused, last %s; node atom count %d -> %d", n, markers(out)["LAST"], before, after)

	// What a row lists goes through (the cast the walkthrough makes).
	out, _ = e.psqlRun("sec_h1", `DO LANGUAGE plerl $$
  erlang.cast('sec_pub', 'Elixir.OrderDesk', erlang.tuple(erlang.atom('order_committed'), {id = 'sec-h-listed'}))
  print('@@CAST ok')
$$;`)
	e.check("hostile/atoms: an atom the row lists goes out", markers(out)["CAST"] == "ok", "%s", firstError(out))
}

// 6. The allow-list under REPEATABLE READ: a row the DBA deleted must stop
// working at once, also inside an open REPEATABLE READ transaction, and must
// not come back for later transactions (a re-read with the old snapshot).
func (e *env) hostileRepeatableRead() {
	e.psqlRun("postgres", `INSERT INTO plerl.allow (server, role, module, function, arity) VALUES ('sec_pub', 'sec_h2', 'erlang', 'is_atom', 1);`)
	done := make(chan string, 1)
	go func() {
		out, _ := e.psqlRun("sec_h2", `BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT erlang_call('sec_pub', 'erlang', 'is_atom', '[1]');
\echo @@FIRST :SQLSTATE
SELECT pg_sleep(2);
CREATE TEMP TABLE sec_h_inval (x int);  -- an unrelated invalidation
SAVEPOINT s;
SELECT erlang_call('sec_pub', 'erlang', 'is_atom', '[1]');
\echo @@INSIDE :SQLSTATE
ROLLBACK TO s;
COMMIT;
SELECT erlang_call('sec_pub', 'erlang', 'is_atom', '[1]');
\echo @@AFTER1 :SQLSTATE
SELECT pg_sleep(0.5);
SELECT erlang_call('sec_pub', 'erlang', 'is_atom', '[1]');
\echo @@AFTER2 :SQLSTATE`)
		done <- out
	}()
	time.Sleep(1 * time.Second)
	e.psqlRun("postgres", `DELETE FROM plerl.allow WHERE role = 'sec_h2' AND function = 'is_atom';`)
	var out string
	select {
	case out = <-done:
	case <-time.After(30 * time.Second):
	}
	m := markers(out)
	e.check("hostile/repeatable read: the row works before it is deleted", m["FIRST"] == "00000", "%q", m["FIRST"])
	e.check("hostile/repeatable read: a deleted row stops at once inside the transaction", m["INSIDE"] == "42501", "%q", m["INSIDE"])
	e.check("hostile/repeatable read: ... and in the transactions after it", m["AFTER1"] == "42501" && m["AFTER2"] == "42501",
		"%q %q", m["AFTER1"], m["AFTER2"])

	// The COMMIT-time re-check of a deferred cast under REPEATABLE READ.
	e.psqlRun("postgres", `INSERT INTO plerl.allow (server, role, module, function, arity) VALUES ('sec_pub', 'sec_h2', 'Elixir.OrderDesk', '!', 1);
UPDATE plerl.allow SET atoms = '{order_committed}' WHERE server = 'sec_pub' AND role = 'sec_h2' AND function = '!';`)
	id := "sec-h-rr-" + randomHex(4)
	go func() {
		out, _ := e.psqlRun("sec_h2", `BEGIN ISOLATION LEVEL REPEATABLE READ;
DO LANGUAGE plerl $$
  erlang.cast('sec_pub', 'Elixir.OrderDesk', erlang.tuple(erlang.atom('order_committed'), {id = '`+id+`'}), {on_commit = true})
$$;
SELECT pg_sleep(2);
COMMIT;
\echo @@COMMIT :SQLSTATE`)
		done <- out
	}()
	time.Sleep(1 * time.Second)
	// The PUBLIC OrderDesk '!' row goes too, so no row permits the cast.
	e.psqlRun("postgres", `DELETE FROM plerl.allow WHERE server = 'sec_pub' AND module = 'Elixir.OrderDesk' AND function = '!';`)
	select {
	case out = <-done:
	case <-time.After(30 * time.Second):
	}
	time.Sleep(300 * time.Millisecond)
	sent, _ := e.psqlValue("postgres", `SELECT erlang_call('sec_pub', 'Elixir.OrderDesk', 'committed', '[]') @> '[{"id": "`+id+`"}]'`)
	e.check("hostile/repeatable read: a cast revoked before COMMIT fails the COMMIT and is not sent",
		markers(out)["COMMIT"] == "42501" && sent == "f", "COMMIT %q, delivered %q", markers(out)["COMMIT"], sent)
	e.psqlRun("postgres", `INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES ('sec_pub', NULL, 'Elixir.OrderDesk', '!', 1, '{order_committed}');`)
}

// 7. Parallel workers: XACT_EVENT_PARALLEL_COMMIT is the worker finishing,
// not the transaction committing. A PARALLEL SAFE function that casts at
// COMMIT, run in a worker of a transaction that rolls back, must not
// deliver; Erlang is refused in workers with a clear error.
func (e *env) hostileParallel() {
	id := "sec-h-par-" + randomHex(4)
	out, _ := e.psqlRun("postgres", `CREATE OR REPLACE FUNCTION public.sec_h_par(id text) RETURNS int LANGUAGE plerl PARALLEL SAFE AS $$
  erlang.cast('sec_pub', 'Elixir.OrderDesk', erlang.tuple(erlang.atom('order_committed'), {id = id}), {on_commit = true})
  return 1
$$;
GRANT EXECUTE ON FUNCTION public.sec_h_par(text) TO sec_h1;
SET ROLE sec_h1;
SET force_parallel_mode = on;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
BEGIN;
EXPLAIN (COSTS OFF) SELECT public.sec_h_par('`+id+`');
SELECT public.sec_h_par('`+id+`');
\echo @@PAR :SQLSTATE
ROLLBACK;`)
	time.Sleep(300 * time.Millisecond)
	sent, _ := e.psqlValue("postgres", `SELECT erlang_call('sec_pub', 'Elixir.OrderDesk', 'committed', '[]') @> '[{"id": "`+id+`"}]'`)
	e.check("hostile/parallel: a cast from a parallel worker of a rolled-back transaction is not delivered", sent == "f",
		"delivered %q", sent)
	e.check("hostile/parallel: Erlang in a parallel worker is refused with 0A000", markers(out)["PAR"] == "0A000" &&
		strings.Contains(out, "parallel worker"), "%q %s", markers(out)["PAR"], firstError(out))
}

// 9. Mailboxes must not cross roles: a connection is shared by every role
// of the backend, but after SET ROLE another role neither receives the
// first role's messages nor gets its pid.
func (e *env) hostileMailboxRoles() {
	out, _ := e.psqlRun("postgres", `SET ROLE sec_h1;
DO LANGUAGE plerl $$
  local me = erlang.self('sec_pub')
  erlang.send('sec_pub', 'plerl_echo', erlang.tuple(me, 'for sec_h1 only'))
  print('@@H1PID ' .. tostring(me))
$$;
SELECT pg_sleep(0.3);
RESET ROLE;
SET ROLE sec_h2;
DO LANGUAGE plerl $$
  print('@@H2PID ' .. tostring(erlang.self('sec_pub')))
  print('@@H2GOT ' .. tostring(erlang.receive('sec_pub', 200)))
$$;
RESET ROLE;
SET ROLE sec_h1;
DO LANGUAGE plerl $$ print('@@H1GOT ' .. tostring(erlang.receive('sec_pub', 1000))) $$;
RESET ROLE;`)
	m := markers(out)
	e.check("hostile/mailbox roles: another role has another pid", m["H1PID"] != "" && m["H2PID"] != "" && m["H1PID"] != m["H2PID"],
		"%q vs %q %s", m["H1PID"], m["H2PID"], firstError(out))
	e.check("hostile/mailbox roles: another role does not receive the first role's message", m["H2GOT"] == "nil", "%q", m["H2GOT"])
	e.check("hostile/mailbox roles: the role it was for does", m["H1GOT"] == "for sec_h1 only", "%q", m["H1GOT"])
}

// 10. The mailbox is bounded in bytes within the memory limit: 40 messages
// of 25 MB to a backend's pid must not leave it holding a gigabyte, and
// erlang.receive must still work (no 53200).
func (e *env) hostileMailboxBytes() {
	out, _ := e.psqlRun("postgres", `SET ROLE sec_h1;
DO LANGUAGE plerl $$
  local me = erlang.self('sec_pub')
  erlang.call('sec_pub', 'Elixir.Plerl.Test', 'flood', me, 40, 25000000)
$$;
SELECT pg_sleep(3);
DO LANGUAGE plerl $$
  local n = 0
  while true do
    local ok, m = pcall(erlang.receive, 'sec_pub', 500)
    if not ok then print('@@RECVERR ' .. tostring(m.sqlstate)) break end
    if m == nil then break end
    n = n + 1
  end
  print('@@RECEIVED ' .. n)
$$;
RESET ROLE;
`+peakAndDisconnect)
	m := markers(out)
	n, _ := strconv.Atoi(m["RECEIVED"])
	hwm, _ := strconv.Atoi(m["HWMKB"])
	e.check("hostile/mailbox bytes: erlang.receive still works after a flood of 40 x 25 MB", m["RECVERR"] == "" && m["RECEIVED"] != "",
		"received %q, error %q %s", m["RECEIVED"], m["RECVERR"], firstError(out))
	e.check("hostile/mailbox bytes: the mailbox kept at most a quarter of plerl.lua_memory_limit (2 of 40)", n >= 1 && n <= 3,
		"received %d", n)
	e.check("hostile/mailbox bytes: the backend's peak RSS stayed far below 1 GB", hwm > 0 && hwm < 600*1024,
		"VmHWM %d kB", hwm)
}

// peakAndDisconnect ends a hostile script: the backend's peak RSS as
// @@HWMKB, and the connection to sec_pub closed.
const peakAndDisconnect = `SELECT (regexp_match(pg_read_file('/proc/' || pg_backend_pid() || '/status'), 'VmHWM:\s+(\d+)'))[1] AS hwm \gset
\echo @@HWMKB :hwm
SELECT erlang_disconnect('sec_pub');`

// 11. Replies held while an earlier call is awaited are bounded in bytes
// too: behind one slow call, 32 calls in flight each answering 8 MB must
// not all be held. The replies beyond the budget (a quarter of
// plerl.lua_memory_limit: 64 MB here) fail their own calls with 54000; the
// slow call and the replies that fitted (at most 8) succeed.
func (e *env) hostileHeldReplies() {
	out, _ := e.psqlRun("postgres", `SET ROLE sec_h1;
DO LANGUAGE plerl $$
  local slow = erlang.async('sec_pub', 'Elixir.Plerl.Test', 'sleep', 3000)
  local hs = {}
  for i = 1, 32 do hs[i] = erlang.async('sec_pub', 'binary', 'copy', 'x', 8000000) end
  print('@@SLOW ' .. tostring(erlang.await(slow)))
  local ok, over, other = 0, 0, ''
  for i = 1, 32 do
    local good, r = pcall(erlang.await, hs[i])
    if good and #r == 8000000 then ok = ok + 1
    elseif not good and r.sqlstate == '54000' then over = over + 1
    else other = other .. ' ' .. tostring(good and #r or r.sqlstate) end
  end
  print('@@HELD ' .. ok .. ' ' .. over .. ' [' .. other .. ']')
$$;
RESET ROLE;
`+peakAndDisconnect)
	m := markers(out)
	var ok, over int
	var other string
	fmt.Sscanf(m["HELD"], "%d %d %s", &ok, &over, &other)
	hwm, _ := strconv.Atoi(m["HWMKB"])
	e.check("hostile/held replies: the slow call still succeeds", m["SLOW"] != "", "%q %s", m["SLOW"], firstError(out))
	e.check("hostile/held replies: at most a quarter of plerl.lua_memory_limit held (1-8 of 32 replies of 8 MB), the others 54000",
		ok >= 1 && ok <= 8 && ok+over == 32 && strings.HasSuffix(m["HELD"], "[]"), "%q", m["HELD"])
	e.check("hostile/held replies: the backend's peak RSS stayed well below the 256 MB of all replies", hwm > 0 && hwm < 230*1024,
		"VmHWM %d kB", hwm)
}
