// psql: everything talks to the cluster through psql subprocesses, over the
// unix socket, with secrets passed in the environment (\getenv), never on
// a command line.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// psqlRun runs script as user and returns stdout and stderr together.
func (e *env) psqlRun(user, script string) (string, error) { return e.psqlRunEnv(user, script) }

// psqlRunEnv is psqlRun with more environment (secrets for \getenv).
func (e *env) psqlRunEnv(user, script string, extra ...string) (string, error) {
	cmd := exec.Command(e.psql, "-X", "-q", "-v", "ON_ERROR_STOP=0",
		"-h", e.host, "-p", strconv.Itoa(e.port), "-U", user, "-d", e.db, "-f", "-")
	cmd.Env = append(os.Environ(), "PLERL_TEST_COOKIE="+e.cookie, "PLERL_TEST_NODE="+e.node,
		"PLERL_SEC_WRONG_COOKIE="+e.wrongCookie, "PLERL_SEC_FAKE_COOKIE="+e.fakeCookie,
		"PGAPPNAME=plerl-security", "LC_ALL=C")
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// psqlValue runs one query as user and returns its single value (-At).
func (e *env) psqlValue(user, query string) (string, error) {
	cmd := exec.Command(e.psql, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", e.host, "-p", strconv.Itoa(e.port), "-U", user, "-d", e.db, "-c", query)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "PGAPPNAME=plerl-security")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v: %s", err, strings.TrimSpace(errb.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// waitReady waits until the server accepts connections (after a crash
// restart, for example).
func (e *env) waitReady(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if v, err := e.psqlValue("postgres", "SELECT 1"); err == nil && v == "1" {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// sqlCase is one statement with the SQLSTATEs it may end with.
type sqlCase struct {
	name string
	pre  string   // statements run first (their outcome is not checked)
	sql  string   // one statement
	want []string // acceptable SQLSTATEs; "00000" is success
	max  int      // most milliseconds it may take (0: 20000)
}

// caseResult is what running a case gave.
type caseResult struct {
	state, message string
	ms             int // how long the case took
	samePid        bool
	died           bool // the session was lost (the backend crashed)
}

// runCases runs cases in one session of user, checking after each that
// the same backend still answers. If the session dies, the case that
// killed it is marked and the rest run in a new session.
func (e *env) runCases(user, setup string, cases []sqlCase) []caseResult {
	res := make([]caseResult, len(cases))
	for start := 0; start < len(cases); {
		var b strings.Builder
		b.WriteString("\\set VERBOSITY terse\n")
		b.WriteString(setup)
		b.WriteString("\nSELECT pg_backend_pid() AS pid0 \\gset\n\\echo @@PID0 :pid0\n")
		for i := start; i < len(cases); i++ {
			c := cases[i]
			fmt.Fprintf(&b, "\\echo @@CASE %d\nRESET ALL;\n", i)
			if c.pre != "" {
				b.WriteString(c.pre + "\n")
			}
			b.WriteString("SELECT extract(epoch FROM clock_timestamp()) AS t0 \\gset\n")
			b.WriteString(c.sql + "\n")
			fmt.Fprintf(&b, "\\set st :SQLSTATE\n\\set msg :LAST_ERROR_MESSAGE\n")
			fmt.Fprintf(&b, "SELECT pg_backend_pid() AS pidn, round((extract(epoch FROM clock_timestamp()) - :t0) * 1000) AS ms \\gset\n")
			fmt.Fprintf(&b, "\\echo @@DONE %d :st :pidn :ms :msg\n", i)
		}
		out, _ := e.psqlRun(user, b.String())
		pid0 := ""
		last := start - 1
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "@@PID0 ") {
				pid0 = strings.TrimPrefix(line, "@@PID0 ")
				continue
			}
			if !strings.HasPrefix(line, "@@DONE ") {
				continue
			}
			f := strings.SplitN(strings.TrimPrefix(line, "@@DONE "), " ", 5)
			if len(f) < 4 {
				continue
			}
			i, err := strconv.Atoi(f[0])
			if err != nil || i < start || i >= len(cases) {
				continue
			}
			r := caseResult{state: f[1], samePid: f[2] == pid0}
			r.ms, _ = strconv.Atoi(f[3])
			if r.state != "00000" && len(f) == 5 {
				r.message = f[4]
			}
			res[i] = r
			last = i
		}
		if last == len(cases)-1 {
			break
		}
		// The session ended before the next case finished: that case
		// crashed the backend (or psql could not even connect).
		bad := last + 1
		msg := lastLines(out, 3)
		res[bad] = caseResult{state: "session lost", message: msg, died: true}
		e.waitReady(60 * time.Second)
		start = bad + 1
	}
	return res
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
