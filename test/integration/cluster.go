package main

import (
	"fmt"
	"os"
	"path/filepath"

	"strings"
	"time"
)

// groupNodes starts three nodes of our own sharing one cookie (a group's
// cookie is the server's user mapping's) and makes the servers over them:
// g_rr (round_robin), g_aff (affinity), g_first (c3 first: primary, then
// standbys).
func (s *Suite) groupNodes() ([]*Node, error) {
	if s.group != nil {
		for _, n := range s.group {
			if !n.Running() {
				if err := n.Start(); err != nil {
					return nil, err
				}
			}
		}
		return s.group, nil
	}
	var ns []*Node
	for i := 1; i <= 3; i++ {
		n, err := NewNode(s.dir, fmt.Sprintf("plerl_int_%d_c%d%s", os.Getpid(), i, nodeSuffix))
		if err != nil {
			return nil, err
		}
		if i > 1 { // the first node's cookie for all three
			f := filepath.Join(n.home, ".erlang.cookie")
			if err := os.Chmod(f, 0o600); err != nil {
				return nil, err
			}
			if err := os.WriteFile(f, []byte(ns[0].Cookie), 0o400); err != nil {
				return nil, err
			}
			n.Cookie = ns[0].Cookie
		}
		s.nodes = append(s.nodes, n)
		if err := n.Start(); err != nil {
			return nil, err
		}
		ns = append(ns, n)
	}
	mk := func(name, nodes, balance string) error {
		err := s.admin.Must(
			`SET log_statement = 'none'`,
			fmt.Sprintf(`CREATE SERVER %s FOREIGN DATA WRAPPER plerl OPTIONS (nodes %s, balance %s)`, name, quote(nodes), quote(balance)),
			fmt.Sprintf(`CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (cookie %s)`, name, quote(ns[0].Cookie)),
			`RESET log_statement`)
		if err != nil {
			return err
		}
		return s.allow(name, "'erlang', 'node', 0", "'timer', 'sleep', 1")
	}
	all := ns[0].Name + ", " + ns[1].Name + ", " + ns[2].Name
	if err := mk("g_rr", all, "round_robin"); err != nil {
		return nil, err
	}
	if err := mk("g_aff", all, "affinity"); err != nil {
		return nil, err
	}
	if err := mk("g_first", ns[2].Name+", "+ns[0].Name+", "+ns[1].Name, "first"); err != nil {
		return nil, err
	}
	if err := s.admin.Must(`CREATE FUNCTION load(server text, retry bool, n int, ms int) RETURNS text LANGUAGE plpgsql AS $$
DECLARE ok int := 0; lost int := 0; other text := '';
BEGIN
  FOR i IN 1..n LOOP
    BEGIN
      PERFORM erlang_call(server, 'timer', 'sleep', jsonb_build_array(ms), NULL, jsonb_build_object('retry', retry));
      ok := ok + 1;
    EXCEPTION WHEN connection_failure THEN lost := lost + 1;
      WHEN others THEN other := other || ' ' || SQLSTATE || ': ' || SQLERRM;
    END;
  END LOOP;
  RETURN ok || ' ' || lost || other;
END $$`); err != nil {
		return nil, err
	}
	s.group = ns
	return ns, nil
}

// spread is how many of n calls (in one statement) each member took.
func spread(a *Session, server string, n int, nodes []*Node) ([]int, error) {
	rows, err := a.Query(fmt.Sprintf(`SELECT erlang_call(%s, 'erlang', 'node', '[]')->>'$atom' FROM generate_series(1, %d)`, quote(server), n))
	if err != nil {
		return nil, err
	}
	return perMember(rows, nodes, "a call answered from")
}

// perMember counts the node names in rows per member of nodes; a name that
// is no member is an error (what says what the row was).
func perMember(rows []string, nodes []*Node, what string) ([]int, error) {
	out := make([]int, len(nodes))
	for _, r := range rows {
		found := false
		for i, nd := range nodes {
			if r == nd.Name {
				out[i]++
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("%s %q, not a member", what, r)
		}
	}
	return out, nil
}

func (s *Suite) testGroupRoundRobin() (string, error) {
	ns, err := s.groupNodes()
	if err != nil {
		return "", err
	}
	a, err := s.session("grp-rr")
	if err != nil {
		return "", err
	}
	defer a.Close()
	c, err := spread(a, "g_rr", 3000, ns)
	if err != nil {
		return "", err
	}
	for i, k := range c {
		if k < 900 || k > 1100 {
			return "", fmt.Errorf("member %s took %d of 3000 calls (want 1000 +/- 10%%): %v", ns[i].Name, k, c)
		}
	}
	share, err := a.Query(`SELECT node || '=' || calls || '/' || round(share::numeric, 3) FROM erlang_group_members() WHERE server = 'g_rr' ORDER BY node`)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("3000 calls: %v; erlang_group_members: %s", c, strings.Join(share, " ")), nil
}

func (s *Suite) testGroupAffinity() (string, error) {
	ns, err := s.groupNodes()
	if err != nil {
		return "", err
	}
	var maps []map[string]string
	for i := 0; i < 2; i++ { // two sessions: the key's member is the same in both
		a, err := s.session(fmt.Sprintf("grp-aff%d", i))
		if err != nil {
			return "", err
		}
		rows, err := a.Query(`SELECT k || ' ' || (erlang_call('g_aff', 'erlang', 'node', '[]', NULL, jsonb_build_object('key', 'customer-' || k))->>'$atom')
			FROM generate_series(1, 300) k, generate_series(1, 3) r`)
		a.Close()
		if err != nil {
			return "", err
		}
		m := map[string]string{}
		for _, r := range rows {
			k, node, _ := strings.Cut(r, " ")
			if old, ok := m[k]; ok && old != node {
				return "", fmt.Errorf("key customer-%s went to %s and to %s", k, old, node)
			}
			m[k] = node
		}
		maps = append(maps, m)
	}
	per := map[string]int{}
	for k, node := range maps[0] {
		if maps[1][k] != node {
			return "", fmt.Errorf("key customer-%s: %s in one session, %s in another", k, node, maps[1][k])
		}
		per[node]++
	}
	if len(per) != len(ns) {
		return "", fmt.Errorf("300 keys reached %d of 3 members: %v", len(per), per)
	}
	return fmt.Sprintf("300 keys x 3 calls x 2 sessions, each key on one member; keys per member %v", per), nil
}

// retryArg is what the retryable sessions of testGroupKill pass
// (PLERL_INT_NO_RETRY=1: false, to see the test fail).
var retryArg = map[bool]string{false: "true", true: "false"}[os.Getenv("PLERL_INT_NO_RETRY") == "1"]

// testGroupKill: 8 sessions under load; c3 is killed. Sessions 1-4 call
// with retry, 1-2 on g_first (c3 first: their call in flight dies with
// it), 3-4 on g_rr: none may fail. Sessions 5-8 call g_first without
// retry: the call in flight on c3 fails with 08006, the rest go on to c1
// without the caller noticing.
func (s *Suite) testGroupKill() (string, error) {
	ns, err := s.groupNodes()
	if err != nil {
		return "", err
	}
	var ss []*Session
	defer func() {
		for _, a := range ss {
			a.Close()
		}
	}()
	for i := 0; i < 8; i++ {
		a, err := s.session(fmt.Sprintf("grp-kill%d", i))
		if err != nil {
			return "", err
		}
		ss = append(ss, a)
	}
	const n, ms = 40, 50
	for i, a := range ss {
		switch {
		case i < 2: // their call in flight is on c3 when it dies: retried elsewhere
			a.Start(fmt.Sprintf(`SELECT load('g_first', %s, %d, %d)`, retryArg, n, ms))
		case i < 4:
			a.Start(fmt.Sprintf(`SELECT load('g_rr', %s, %d, %d)`, retryArg, n, ms))
		default:
			a.Start(fmt.Sprintf(`SELECT load('g_first', false, %d, %d)`, n, ms))
		}
	}
	time.Sleep(700 * time.Millisecond)
	ns[2].Kill()
	lostTotal := 0
	var notes []string
	for i, a := range ss {
		r := a.Wait(60 * time.Second)
		v, err := r.One()
		if err != nil {
			return "", fmt.Errorf("session %d: %v", i+1, err)
		}
		f := strings.Fields(v)
		ok, lost := atoi(f[0]), atoi(f[1])
		if len(f) > 2 {
			return "", fmt.Errorf("session %d: errors other than 08006: %s", i+1, v)
		}
		if i < 4 && (ok != n || lost != 0) {
			return "", fmt.Errorf("retryable session %d: %d ok, %d failed with 08006", i+1, ok, lost)
		}
		if i >= 4 {
			if ok+lost != n || lost > 1 {
				return "", fmt.Errorf("session %d: %d ok, %d lost (want at most the 1 in flight)", i+1, ok, lost)
			}
			lostTotal += lost
		}
		notes = append(notes, fmt.Sprintf("s%d %d/%d", i+1, ok, n))
	}
	if lostTotal == 0 {
		return "", fmt.Errorf("no call was in flight on the killed member: the test did not test")
	}
	return fmt.Sprintf("retry sessions: 4 x %d calls, 0 failed; no-retry sessions: %d clean 08006 (the calls in flight), every other call ok (%s)",
		n, lostTotal, strings.Join(notes, ", ")), nil
}

// testGroupRefused: a member that is not there (c3, killed) is skipped
// within 100 ms by a session that never saw it; then it comes back and
// takes calls again within the backoff maximum (10 s).
func (s *Suite) testGroupRefused() (string, error) {
	ns, err := s.groupNodes()
	if err != nil {
		return "", err
	}
	ns[2].Kill()
	a, err := s.session("grp-refused")
	if err != nil {
		return "", err
	}
	defer a.Close()
	// Warm the connections to c1 (g_first's first standby) so only the skip is timed.
	if r := a.Exec(`SELECT erlang_call('g_rr', 'erlang', 'node', '[]') FROM generate_series(1, 3)`); r.Error() != nil {
		return "", r.Error()
	}
	r := a.Exec(`SELECT erlang_call('g_first', 'erlang', 'node', '[]')->>'$atom'`)
	v, err := r.One()
	if err != nil {
		return "", err
	}
	if v != ns[0].Name || r.Elapsed() > 100*time.Millisecond {
		return "", fmt.Errorf("g_first with c3 gone: answered by %s in %v (want %s within 100 ms)", v, r.Elapsed(), ns[0].Name)
	}
	skip := r.Elapsed()
	// Keep calling while c3 is away (its backoff grows), then restart it.
	for i := 0; i < 20; i++ {
		if r := a.Exec(`SELECT erlang_call('g_rr', 'erlang', 'node', '[]')`); r.Error() != nil {
			return "", fmt.Errorf("g_rr with c3 gone: %v", r.Error())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := ns[2].Start(); err != nil {
		return "", err
	}
	t0 := time.Now()
	for {
		c, err := spread(a, "g_rr", 3, ns)
		if err != nil {
			return "", err
		}
		if c[2] > 0 {
			break
		}
		if time.Since(t0) > 10*time.Second {
			return "", fmt.Errorf("c3 took no call within 10 s of its restart")
		}
		time.Sleep(50 * time.Millisecond)
	}
	back := time.Since(t0)
	state, _ := a.Value(`SELECT state FROM erlang_group_members() WHERE server = 'g_rr' AND node = ` + quote(ns[2].Name))
	return fmt.Sprintf("skip of the missing member: %s; back in rotation %s after its restart (state %s)", ms(skip), ms(back), state), nil
}

// batchSpread counts, per member of nodes, the results of a batch on
// server: erlang_call_many of erlang:node/0 (n items), Lua's
// erlang.call_many (n items) and n erlang.async handles, each in one
// statement of session a. It also checks that an erlang_call_many of
// erlang:abs/1 over the group gives every item its own result, in order.
func batchSpread(a *Session, server string, n int, nodes []*Node, kinds ...string) (map[string][]int, error) {
	count := func(rows []string) ([]int, error) { return perMember(rows, nodes, "an item answered") }
	res := map[string][]int{}
	queries := map[string]string{
		"erlang_call_many": fmt.Sprintf(`SELECT coalesce(result->>'$atom', sqlstate || ': ' || message) FROM erlang_call_many(%s, 'erlang', 'node', 'SELECT ''[]''::jsonb FROM generate_series(1, %d)')`, quote(server), n),
		"call_many":        fmt.Sprintf(`SELECT unnest(pg_temp.lua_many(%s, %d))`, quote(server), n),
		"async":            fmt.Sprintf(`SELECT unnest(pg_temp.lua_async(%s, %d))`, quote(server), n),
	}
	for _, kind := range kinds {
		rows, err := a.Query(queries[kind])
		if err != nil {
			return nil, err
		}
		if len(rows) != n {
			return nil, fmt.Errorf("%s: %d results for %d items", kind, len(rows), n)
		}
		c, err := count(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", kind, err)
		}
		res[kind] = c
	}
	if res["erlang_call_many"] == nil {
		return res, nil
	}
	v, err := a.Value(fmt.Sprintf(`SELECT count(*) FILTER (WHERE result = to_jsonb(item)) || '/' || count(*)
		FROM erlang_call_many(%s, 'erlang', 'abs', 'SELECT jsonb_build_array(-i) FROM generate_series(1, %d) i')`, quote(server), n))
	if err != nil {
		return nil, err
	}
	if v != fmt.Sprintf("%d/%d", n, n) {
		return nil, fmt.Errorf("erlang_call_many of erlang:abs: %s items answered their own argument in order", v)
	}
	return res, nil
}

// batchFunctions makes the Lua halves of batchSpread in session a.
func batchFunctions(a *Session) error {
	return a.Must(`CREATE FUNCTION pg_temp.lua_many(server text, n int) RETURNS text[] LANGUAGE plerl AS $$
		local items = {}
		for i = 1, n do items[i] = {} end
		local out = {}
		for i, o in ipairs(erlang.call_many(server, 'erlang', 'node', items)) do
		  out[i] = o.ok and tostring(o.value) or (o.error.sqlstate .. ': ' .. o.error.message)
		end
		return out
	$$`, `CREATE FUNCTION pg_temp.lua_async(server text, n int) RETURNS text[] LANGUAGE plerl AS $$
		local hs = {}
		for i = 1, n do hs[i] = erlang.async(server, 'erlang', 'node') end
		local out = {}
		for i, v in ipairs(erlang.await_all(hs)) do out[i] = tostring(v) end
		return out
	$$`)
}

// testGroupBatch: batches and async calls on a round_robin group spread
// over its members: erlang_call_many (3000 items), erlang.call_many (3000)
// and 60 erlang.async handles (plerl.max_in_flight is 64), each member
// taking exactly its third; results stay in input order.
func (s *Suite) testGroupBatch() (string, error) {
	ns, err := s.groupNodes()
	if err != nil {
		return "", err
	}
	if err := s.allow("g_rr", "'erlang', 'abs', 1"); err != nil {
		return "", err
	}
	a, err := s.session("grp-batch")
	if err != nil {
		return "", err
	}
	defer a.Close()
	if err := batchFunctions(a); err != nil {
		return "", err
	}
	var notes []string
	for _, run := range []struct {
		n     int
		kinds []string
	}{{3000, []string{"erlang_call_many", "call_many"}}, {60, []string{"async"}}} {
		c, err := batchSpread(a, "g_rr", run.n, ns, run.kinds...)
		if err != nil {
			return "", err
		}
		for _, kind := range run.kinds {
			for i, k := range c[kind] {
				if k != run.n/3 {
					return "", fmt.Errorf("%s of %d items on g_rr: member %s took %d (want %d): %v", kind, run.n, ns[i].Short, k, run.n/3, c[kind])
				}
			}
			notes = append(notes, fmt.Sprintf("%s %d items: %v", kind, run.n, c[kind]))
		}
	}
	return strings.Join(notes, "; ") + "; erlang:abs results in input order", nil
}

// testGroupBatchDown: a member killed before the batch starts (c3; the
// session never saw it) is skipped: every item is answered by c1 or c2,
// none fails, results in input order. c3 comes back for the tests after.
func (s *Suite) testGroupBatchDown() (string, error) {
	ns, err := s.groupNodes()
	if err != nil {
		return "", err
	}
	ns[2].Kill()
	a, err := s.session("grp-batch-down")
	if err != nil {
		return "", err
	}
	defer a.Close()
	if err := batchFunctions(a); err != nil {
		return "", err
	}
	c, err := batchSpread(a, "g_rr", 3000, ns, "erlang_call_many", "call_many")
	if err != nil {
		return "", err
	}
	ca, err := batchSpread(a, "g_rr", 60, ns, "async")
	if err != nil {
		return "", err
	}
	c["async"] = ca["async"]
	var notes []string
	for _, kind := range []string{"erlang_call_many", "call_many", "async"} {
		k := c[kind]
		n := map[bool]int{true: 60, false: 3000}[kind == "async"]
		if k[2] != 0 || k[0]+k[1] != n || k[0] < n/4 || k[1] < n/4 {
			return "", fmt.Errorf("%s with c3 down: %v (want c3 0, c1 and c2 sharing %d)", kind, k, n)
		}
		notes = append(notes, fmt.Sprintf("%s %v", kind, k))
	}
	state, _ := a.Value(`SELECT state FROM erlang_group_members() WHERE server = 'g_rr' AND node = ` + quote(ns[2].Name))
	if err := ns[2].Start(); err != nil {
		return "", err
	}
	return fmt.Sprintf("c3 down (%s): %s", state, strings.Join(notes, "; ")), nil
}

// testGroupBatchAffinity: on an affinity group, erlang_call_many's column
// key, erlang.call_many's keys and erlang.async_with's key send each item
// to its key's member: the member a single erlang_call with that key
// reaches, for 300 keys (each 3 times), over all three members.
func (s *Suite) testGroupBatchAffinity() (string, error) {
	ns, err := s.groupNodes()
	if err != nil {
		return "", err
	}
	a, err := s.session("grp-batch-aff")
	if err != nil {
		return "", err
	}
	defer a.Close()
	single := map[string]string{}
	rows, err := a.Query(`SELECT k || ' ' || (erlang_call('g_aff', 'erlang', 'node', '[]', NULL, jsonb_build_object('key', 'customer-' || k))->>'$atom') FROM generate_series(1, 300) k`)
	if err != nil {
		return "", err
	}
	per := map[string]int{}
	for _, r := range rows {
		k, node, _ := strings.Cut(r, " ")
		single[k] = node
		per[node]++
	}
	if len(per) != len(ns) {
		return "", fmt.Errorf("300 keys reached %d of 3 members: %v", len(per), per)
	}
	if err := a.Must(`CREATE FUNCTION pg_temp.lua_keyed(n int) RETURNS text[] LANGUAGE plerl AS $$
		local items, keys, out = {}, {}, {}
		for r = 1, 3 do
		  for k = 1, n do items[#items + 1] = {}; keys[#keys + 1] = 'customer-' .. k end
		end
		for i, o in ipairs(erlang.call_many('g_aff', 'erlang', 'node', items, {keys = keys})) do
		  out[i] = string.sub(keys[i], 10) .. ' ' .. (o.ok and tostring(o.value) or o.error.message)
		end
		local hs = {}
		for k = 1, 50 do hs[k] = erlang.async_with({key = 'customer-' .. k}, 'g_aff', 'erlang', 'node') end
		for k, v in ipairs(erlang.await_all(hs)) do out[#out + 1] = k .. ' ' .. tostring(v) end
		return out
	$$`); err != nil {
		return "", err
	}
	checks := map[string]string{
		"erlang_call_many": `SELECT (item - 1) % 300 + 1 || ' ' || coalesce(result->>'$atom', message) FROM erlang_call_many('g_aff', 'erlang', 'node',
			'SELECT ''[]''::jsonb AS args, ''customer-'' || k AS key FROM generate_series(1, 3) r, generate_series(1, 300) k ORDER BY r, k')`,
		"erlang.call_many, erlang.async_with": `SELECT unnest(pg_temp.lua_keyed(300))`,
	}
	var notes []string
	for _, kind := range []string{"erlang_call_many", "erlang.call_many, erlang.async_with"} {
		rows, err := a.Query(checks[kind])
		if err != nil {
			return "", err
		}
		bad := 0
		for _, r := range rows {
			k, node, _ := strings.Cut(r, " ")
			if single[k] != node {
				bad++
			}
		}
		if bad > 0 || len(rows) < 900 {
			return "", fmt.Errorf("%s: %d of %d items went elsewhere than their key's member", kind, bad, len(rows))
		}
		notes = append(notes, fmt.Sprintf("%s: %d items, each on its key's member", kind, len(rows)))
	}
	return fmt.Sprintf("keys per member %v; %s", per, strings.Join(notes, "; ")), nil
}
