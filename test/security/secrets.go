// secrets: setup (roles, servers and mappings made the recommended way) and
// the checks that the cookie never reaches client messages, views or the
// server log. The log itself is checked last (logcheck), after every other
// section has run with log_statement = 'all' and log_min_messages = debug1.
package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/plerl/plerl/internal/fakepeer"
	"github.com/plerl/plerl/runtime/term"
)

// fakeNames are the misbehaving nodes (internal/fakepeer), by alive name.
var fakeNames = map[string]fakepeer.Behavior{
	"plerl_fake_garbage":   {GarbageOnCall: []byte{112, 131, 0xff, 0xfe, 0xfd, 'g', 'a', 'r', 'b', 'a', 'g', 'e'}},
	"plerl_fake_oversize":  {OversizeOnCall: 0x7fffffff}, // a frame claiming 2 GB
	"plerl_fake_deep":      {RawReply: deepList(100000)},
	"plerl_fake_badutf8":   {RawReply: []byte{109, 0, 0, 0, 4, 0xff, 0xfe, 'o', 'k'}}, // a binary that is not UTF-8 (fine: tagged base64)
	"plerl_fake_badatom":   {RawReply: []byte{119, 3, 0xff, 0xfe, 0xfd}},              // an atom whose bytes are not UTF-8
	"plerl_fake_bignum":    {RawReply: hugeBignum(4 << 20)},                           // printing it is quadratic
	"plerl_fake_close":     {CloseOnCall: true},
	"plerl_fake_silent":    {SilentOnCall: true}, // ticks keep the link alive
	"plerl_fake_silenths":  {SilentHandshake: true},
	"plerl_fake_status":    {Status: "not_allowed"},
	"plerl_fake_digest":    {BadDigest: true},
	"plerl_fake_hugetuple": {RawReply: []byte{105, 0xff, 0xff, 0xff, 0xff, 106}},              // LARGE_TUPLE_EXT claiming 2^32-1 elements
	"plerl_fake_noread":    {HoldReads: holdReads},                                            // reads nothing after the handshake (a node under SIGSTOP)
	"plerl_fake_noread1":   {HoldReads: holdReads, HoldAfterCalls: 1, RawReply: noread1Pid()}, // answers one call with a pid, then reads nothing
}

// holdReads keeps the "noread" fake nodes from reading until the driver
// exits (writes.go: a node that stopped reading).
var holdReads = make(chan struct{})

// noread1Pid is the pid plerl_fake_noread1 answers its one call with.
func noread1Pid() []byte {
	b, _ := term.AppendNoVersion(nil, term.Pid{Node: "plerl_fake_noread1@127.0.0.2", ID: 1, Creation: 7})
	return b
}

// deepList encodes a list nested depth deep ([[[...]]]), beyond what the
// encoder would make.
func deepList(depth int) []byte {
	r := make([]byte, 0, depth*6+1)
	for i := 0; i < depth; i++ {
		r = append(r, 108, 0, 0, 0, 1) // LIST_EXT, 1 element
	}
	r = append(r, 106) // the innermost []
	for i := 0; i < depth; i++ {
		r = append(r, 106) // each list's tail
	}
	return r
}

// hugeBignum encodes a LARGE_BIG_EXT of n digit bytes.
func hugeBignum(n int) []byte {
	r := binary.BigEndian.AppendUint32([]byte{111}, uint32(n))
	r = append(r, 0)
	return append(r, bytes.Repeat([]byte{0x9b}, n)...)
}

// startFakeNodes listens as epmd on host:4369 (the backend always asks
// that port) and starts one node per entry of fakeNames there.
func startFakeNodes(host, cookie string) (*fakepeer.Epmd, error) {
	f, err := fakepeer.StartEpmd(net.JoinHostPort(host, "4369"))
	if err != nil {
		return nil, err
	}
	for alive, b := range fakeNames {
		if _, err := f.Start(alive, cookie, b); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

var fake *fakepeer.Epmd

func (e *env) setup() {
	if e.node == "" || e.cookie == "" {
		e.check("setup/test node", false, "PLERL_TEST_NODE and PLERL_TEST_COOKIE must be set (scripts/setup-elixir)")
		return
	}
	// A loopback address of our own for the fake epmd (the real one has 127.0.0.1).
	for i := 2; i < 40 && fake == nil; i++ {
		host := "127.0.0." + strconv.Itoa(i)
		if f, err := startFakeNodes(host, e.fakeCookie); err == nil {
			fake, e.fakeHost = f, host
		}
	}
	e.check("setup/fake nodes", fake != nil, "epmd on %s:4369", e.fakeHost)

	var b strings.Builder
	b.WriteString(`\getenv node PLERL_TEST_NODE
\getenv cookie PLERL_TEST_COOKIE
\getenv wrong PLERL_SEC_WRONG_COOKIE
\getenv fake PLERL_SEC_FAKE_COOKIE
CREATE EXTENSION IF NOT EXISTS plerl;
`)
	if os.Getenv("PLERL_SEC_PRIVATE_LIB") != "" {
		// A private build found through dynamic_library_path (run -lib).
		b.WriteString("UPDATE pg_proc SET probin = 'plerl' WHERE probin = '$libdir/plerl';\n")
	}
	b.WriteString(`CREATE ROLE sec_alice LOGIN IN ROLE plerl_caller;
CREATE ROLE sec_plain LOGIN;
CREATE ROLE sec_admin LOGIN IN ROLE plerl_admin;
CREATE ROLE sec_bad LOGIN IN ROLE plerl_admin;
ALTER ROLE sec_bad SET plerl.lua_memory_limit = '128MB';
ALTER ROLE sec_bad SET statement_timeout = '30s';
GRANT CREATE ON SCHEMA public TO PUBLIC;
-- The recommended way to store a cookie: with statement logging (and
-- pg_stat_statements' utility tracking, if loaded) off for these statements.
SET log_statement = 'none';
SELECT set_config('pg_stat_statements.track_utility', 'off', false)
  FROM pg_settings WHERE name = 'pg_stat_statements.track_utility';
CREATE SERVER sec_node FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE SERVER sec_wrong FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE USER MAPPING FOR sec_alice SERVER sec_node OPTIONS (cookie :'cookie');
CREATE USER MAPPING FOR sec_admin SERVER sec_node OPTIONS (cookie :'cookie');
CREATE USER MAPPING FOR sec_bad SERVER sec_node OPTIONS (cookie :'cookie');
CREATE USER MAPPING FOR sec_alice SERVER sec_wrong OPTIONS (cookie :'wrong');
CREATE SERVER sec_pub FOREIGN DATA WRAPPER plerl OPTIONS (node :'node');
CREATE USER MAPPING FOR PUBLIC SERVER sec_pub OPTIONS (cookie :'cookie');
`)
	for alive := range fakeNames {
		srv := strings.TrimPrefix(alive, "plerl_")
		b.WriteString("CREATE SERVER " + srv + " FOREIGN DATA WRAPPER plerl OPTIONS (node '" + alive + "@" + e.fakeHost + "');\n")
		b.WriteString("CREATE USER MAPPING FOR sec_bad SERVER " + srv + " OPTIONS (cookie :'fake');\n")
		b.WriteString("GRANT USAGE ON FOREIGN SERVER " + srv + " TO sec_bad;\n")
		b.WriteString("INSERT INTO plerl.allow VALUES ('" + srv + "', NULL, 'erlang', 'node', 0);\n")
	}
	b.WriteString(`RESET log_statement;
SELECT 'setup done';
GRANT USAGE ON FOREIGN SERVER sec_node TO sec_alice, sec_admin, sec_bad;
GRANT USAGE ON FOREIGN SERVER sec_wrong TO sec_alice;
GRANT plerl_caller TO sec_plain;
GRANT USAGE ON FOREIGN SERVER sec_pub TO sec_plain;
INSERT INTO plerl.allow VALUES ('sec_pub', 'sec_plain', 'Elixir.Plerl.Test', 'echo', 1);
INSERT INTO plerl.allow (server, role, module, function, arity, atoms) VALUES
  ('sec_node', NULL, 'Elixir.Plerl.Test', NULL, NULL, '{*}'),
  ('sec_node', NULL, 'Elixir.OrderDesk', '!', 1, '{*}'),
  ('sec_node', NULL, 'no_such_registered_name', '!', 1, '{*}'),
  ('sec_node', NULL, '!', '!', 1, '{*}'),
  ('sec_node', NULL, 'erlang', 'self', 0, '{*}'),
  ('sec_node', NULL, 'binary', 'copy', 2, '{*}'),
  ('sec_wrong', NULL, 'Elixir.Plerl.Test', NULL, NULL, '{*}'),
  ('sec_wrong', NULL, 'Elixir.OrderDesk', '!', 1, '{*}');
`)
	out, err := e.psqlRun("postgres", b.String())
	ok := err == nil && strings.Contains(out, "setup done") && !strings.Contains(out, "ERROR")
	e.check("setup/roles, servers, mappings, allow rows", ok, "%s", firstError(out))
	out, _ = e.psqlRun("sec_alice", "SELECT erlang_ping('sec_node') AS up;")
	e.check("setup/test node answers", strings.Contains(out, " t\n"), "%s", strings.Join(strings.Fields(out), " "))
}

func firstError(out string) string { return firstLine(out, "ERROR") }

func firstLine(out, substr string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

// secretsIn names the secrets found in s.
func (e *env) secretsIn(s string) []string {
	var found []string
	for name, v := range map[string]string{"cookie": e.cookie, "wrong cookie": e.wrongCookie,
		"fake cookie": e.fakeCookie, "TLS cookie": e.tlsCookie} {
		if v != "" && strings.Contains(s, v) {
			found = append(found, name)
		}
	}
	return found
}

func (e *env) secrets() {
	// Calls and errors of every kind, with every message sent to the client.
	script := `\set VERBOSITY verbose
SET client_min_messages = debug1;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'echo', '["ok"]');
DO LANGUAGE plerl $$ print(erlang.call('sec_node', 'Elixir.Plerl.Test', 'echo', 'from Lua'), tostring(erlang.self('sec_node'))) $$;
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'raise_error', '[]');
\echo @@STATE :SQLSTATE
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'no_such_function', '[]');
\echo @@STATE :SQLSTATE
SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'sleep', '[1000]', 50);
\echo @@STATE :SQLSTATE
SELECT erlang_call('sec_node', 'os', 'cmd', '["id"]');
\echo @@STATE :SQLSTATE
SELECT erlang_call('sec_wrong', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo @@STATE :SQLSTATE
SELECT erlang_call('sec_wrong', 'Elixir.Plerl.Test', 'echo', '["x"]');
\echo @@STATE :SQLSTATE
SELECT erlang_ping('sec_wrong') AS ping_wrong;
DO LANGUAGE plerl $$
  local ok, e = pcall(erlang.call, 'sec_wrong', 'Elixir.Plerl.Test', 'echo', 1)
  print(ok, e.sqlstate, e.message, e.detail, e.hint, tostring(e))
  ok, e = pcall(erlang.call, 'sec_node', 'Elixir.Plerl.Test', 'raise_error')
  print(ok, e.sqlstate, e.message, e.class, tostring(e.reason))
$$;
BEGIN;
DO LANGUAGE plerl $$ erlang.cast('sec_wrong', 'Elixir.OrderDesk', 'x', {on_commit = true}) $$;
COMMIT;
\echo @@STATE :SQLSTATE
SELECT * FROM erlang_connections();
`
	out, _ := e.psqlRun("sec_alice", script)
	states := []string{}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "@@STATE ") {
			states = append(states, strings.TrimPrefix(l, "@@STATE "))
		}
	}
	want := []string{"PE002", "42883", "PE001", "42501", "28000", "28000", "00000"}
	e.check("secrets/errors raised", strings.Join(states, " ") == strings.Join(want, " "),
		"SQLSTATEs %v, want %v", states, want)
	e.check("secrets/a deferred send that fails after COMMIT is a WARNING", strings.Contains(out, "was not delivered"),
		"%s", firstLine(out, "WARNING"))
	found := e.secretsIn(out)
	e.check("secrets/client messages (results, errors, DETAIL, HINT, CONTEXT, notices, debug1)", len(found) == 0,
		"found %v in what the client saw", found)

	// By SQL/MED's design the mapped user may read her own mapping's options
	// (docs/security.md: so give callers a PUBLIC mapping, which only the
	// server's owner and superusers can read).
	out, _ = e.psqlRun("sec_alice", "SELECT srvname, umoptions FROM pg_user_mappings WHERE usename = 'sec_alice';")
	e.check("secrets/a per-role mapping is readable by that role (documented)", len(e.secretsIn(out)) > 0, "%v", e.secretsIn(out))
	out, _ = e.psqlRun("sec_plain", `SELECT erlang_call('sec_pub', 'Elixir.Plerl.Test', 'echo', '["via a PUBLIC mapping"]');
SELECT srvname, usename, umoptions FROM pg_user_mappings;`)
	e.check("secrets/a PUBLIC mapping serves a caller who cannot read it", strings.Contains(out, "via a PUBLIC mapping") &&
		strings.Contains(out, "sec_pub") && len(e.secretsIn(out)) == 0, "%v %s", e.secretsIn(out), firstError(out))

	// A role with no mapping sees no options; the catalog itself is closed.
	out, _ = e.psqlRun("sec_plain", `SELECT srvname, usename, umoptions FROM pg_user_mappings;
SELECT * FROM pg_user_mapping;
\echo @@STATE :SQLSTATE
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'sec_node';
`)
	e.check("secrets/pg_user_mappings hides options from other roles", len(e.secretsIn(out)) == 0 &&
		strings.Contains(out, "sec_node"), "%v", e.secretsIn(out))
	e.check("secrets/pg_user_mapping is not readable", strings.Contains(out, "@@STATE 42501"), "%s", firstError(out))

	// pg_stat_activity while a call waits (and afterwards), seen by a superuser.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.psqlRun("sec_alice", "SELECT erlang_call('sec_node', 'Elixir.Plerl.Test', 'sleep', '[1500]');")
	}()
	seen, waitEvent := "", ""
	for i := 0; i < 50; i++ {
		time.Sleep(50 * time.Millisecond)
		v, _ := e.psqlValue("postgres", "SELECT wait_event_type || '|' || query FROM pg_stat_activity WHERE usename = 'sec_alice' AND state = 'active' AND wait_event_type IS NOT NULL")
		if v != "" {
			waitEvent, seen = strings.SplitN(v+"|", "|", 2)[0], v
			break
		}
	}
	all, _ := e.psqlValue("postgres", "SELECT string_agg(t::text, E'\\n') FROM pg_stat_activity t")
	wg.Wait()
	e.check("secrets/pg_stat_activity during a call", seen != "" && len(e.secretsIn(seen+all)) == 0,
		"wait_event_type %q; secrets %v", waitEvent, e.secretsIn(seen+all))
	e.check("secrets/waiting shows wait_event_type Extension", waitEvent == "Extension", "got %q", waitEvent)

	// pg_stat_statements, when loaded: the mappings were made with
	// track_utility off, so their text is not there.
	if v, _ := e.psqlValue("postgres", "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_stat_statements'"); v == "1" {
		out, _ := e.psqlRun("postgres", `CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
SELECT query FROM pg_stat_statements;`)
		if strings.Contains(out, "must be loaded via shared_preload_libraries") {
			e.check("secrets/pg_stat_statements", true, "not preloaded: nothing to check")
		} else {
			e.check("secrets/pg_stat_statements holds no cookie", len(e.secretsIn(out)) == 0 && strings.Contains(out, "erlang_call"),
				"%v", e.secretsIn(out))
		}
	}

	// The compatibility path, erlang_connect(node, cookie), puts the cookie
	// in the query text: it reaches the log with log_statement = 'all'
	// (docs/security.md says so). Its error message still does not carry it.
	compat := "plerl-sec-compat-" + randomHex(8)
	out, _ = e.psqlRun("sec_admin", "\\set VERBOSITY verbose\nSELECT erlang_connect('"+e.node+"', '"+compat+"');\n\\echo @@STATE :SQLSTATE\n")
	e.check("secrets/erlang_connect with a wrong cookie: 28000", strings.Contains(out, "@@STATE 28000"), "%s", firstError(out))
	msg := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "ERROR") || strings.Contains(l, "DETAIL") || strings.Contains(l, "HINT") {
			msg += l
		}
	}
	e.check("secrets/erlang_connect's error does not echo the cookie", !strings.Contains(msg, compat), "%s", msg)
	e.compatSecret = compat
}

// logcheck greps the server log for the secrets, last.
func (e *env) logcheck() {
	if e.logPath == "" {
		e.check("log/available", false, "no -log")
		return
	}
	b, err := os.ReadFile(e.logPath)
	if err != nil {
		e.check("log/readable", false, "%v", err)
		return
	}
	log := string(b)
	e.check("log/statements were logged (the check is not vacuous)",
		strings.Contains(log, "statement: SELECT erlang_call") && strings.Contains(log, "DEBUG:"),
		"log_statement = all and log_min_messages = debug1 in effect")
	found := e.secretsIn(log)
	e.check("log/no cookie in the server log", len(found) == 0, "found %v", found)
	if e.compatSecret != "" {
		e.check("log/the compatibility path does log its cookie (documented)", strings.Contains(log, e.compatSecret),
			"erlang_connect(node, cookie) is query text")
	}
}
