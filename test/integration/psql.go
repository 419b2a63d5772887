package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// Session is one psql process, so one backend, driven through its stdin:
// each statement is followed by \echo of a marker with :SQLSTATE, and the
// answer is everything psql printed on stdout before the marker. Statements
// run one at a time; Start/Wait lets a second session act meanwhile.
type Session struct {
	name   string
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *lockedBuffer
	seq    int
	busy   chan Result // the statement in flight (Start)
}

// Result is what one statement gave.
type Result struct {
	Rows     []string // unaligned, tuples only, fields separated by |
	SQLState string   // 00000 on success
	Message  string   // the error message (LAST_ERROR_MESSAGE) when SQLState != 00000
	Sent     time.Time
	Done     time.Time // when the marker arrived
	Err      error     // the session itself failed (psql died, timeout)
}

func (r Result) Elapsed() time.Duration { return r.Done.Sub(r.Sent) }

// OK reports a successful statement.
func (r Result) OK() bool { return r.Err == nil && r.SQLState == "00000" }

// cancelled: nil if the statement ended with 57014 (query_canceled), else
// what it ended with; trial (from 1) names the attempt.
func (r Result) cancelled(trial int) error {
	if r.Err != nil {
		return fmt.Errorf("trial %d: %v", trial, r.Err)
	}
	if r.SQLState != "57014" {
		return fmt.Errorf("trial %d: SQLSTATE %s (%s), want 57014", trial, r.SQLState, r.Message)
	}
	return nil
}

// One returns the only row (or "" and an error).
func (r Result) One() (string, error) {
	if err := r.Error(); err != nil {
		return "", err
	}
	if len(r.Rows) != 1 {
		return "", fmt.Errorf("expected one row, got %d: %q", len(r.Rows), r.Rows)
	}
	return r.Rows[0], nil
}

// Error is nil for a successful statement.
func (r Result) Error() error {
	if r.Err != nil {
		return r.Err
	}
	if r.SQLState != "00000" {
		return fmt.Errorf("SQLSTATE %s: %s", r.SQLState, r.Message)
	}
	return nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Connect starts psql for database db (connection from PGHOST/PGPORT/PGUSER).
func Connect(name, db string) (*Session, error) {
	// stdbuf: psql's stdout is a pipe, which stdio would buffer fully.
	args := []string{"-oL", "psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=0", "-d", db}
	cmd := exec.Command("stdbuf", args...)
	cmd.Env = append(os.Environ(), "PGAPPNAME=plerl-integration-"+name, "PGOPTIONS=-c client_min_messages=warning")
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	s := &Session{name: name, cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20), stderr: &lockedBuffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if r := s.Exec(`SELECT 1`); r.Error() != nil {
		s.Close()
		return nil, fmt.Errorf("psql session %s: %v (stderr: %s)", name, r.Error(), strings.TrimSpace(s.stderr.String()))
	}
	return s, nil
}

// Start sends one statement (a complete SQL statement or psql command,
// without the trailing semicolon or with it) and returns at once.
func (s *Session) Start(sql string) {
	if s.busy != nil {
		panic("session " + s.name + ": statement already in flight")
	}
	s.seq++
	marker := fmt.Sprintf("__plerl_int_%d__", s.seq)
	sql = strings.TrimSpace(sql)
	if !strings.HasPrefix(sql, `\`) && !strings.HasSuffix(sql, ";") {
		sql += ";"
	}
	ch := make(chan Result, 1)
	s.busy = ch
	sent := time.Now()
	// A second marker ends a message that spans lines.
	_, werr := fmt.Fprintf(s.in, "%s\n\\echo %s :SQLSTATE :LAST_ERROR_MESSAGE\n\\echo %s_end\n", sql, marker, marker)
	go func() {
		r := Result{Sent: sent}
		if werr != nil {
			r.Err = werr
			ch <- r
			return
		}
		for {
			line, err := s.out.ReadString('\n')
			if err != nil {
				r.Err = fmt.Errorf("psql session %s ended: %v (stderr: %s)", s.name, err, lastLines(s.stderr.String(), 5))
				r.Done = time.Now()
				ch <- r
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == marker+"_end" {
				if r.SQLState == "00000" {
					r.Message = ""
				}
				ch <- r
				return
			}
			if r.SQLState != "" { // a message that spans lines
				r.Message += "\n" + line
				continue
			}
			if rest, ok := strings.CutPrefix(line, marker+" "); ok {
				r.Done = time.Now()
				r.SQLState, r.Message, _ = strings.Cut(rest, " ")
				continue
			}
			r.Rows = append(r.Rows, line)
		}
	}()
}

// Wait returns the result of the statement in flight, failing after timeout.
func (s *Session) Wait(timeout time.Duration) Result {
	ch := s.busy
	if ch == nil {
		return Result{Err: errors.New("nothing in flight")}
	}
	select {
	case r := <-ch:
		s.busy = nil
		return r
	case <-time.After(timeout):
		// The reader goroutine still owns the session: it is unusable now.
		return Result{Err: fmt.Errorf("session %s: no answer within %v", s.name, timeout)}
	}
}

// Exec runs one statement and waits for it (at most two minutes).
func (s *Session) Exec(sql string) Result {
	s.Start(sql)
	return s.Wait(2 * time.Minute)
}

// Query runs a statement that must succeed and returns its rows.
func (s *Session) Query(sql string) ([]string, error) {
	r := s.Exec(sql)
	if err := r.Error(); err != nil {
		return nil, fmt.Errorf("%s: %w", abbrev(sql), err)
	}
	return r.Rows, nil
}

// Value runs a statement that must return one row.
func (s *Session) Value(sql string) (string, error) {
	r := s.Exec(sql)
	v, err := r.One()
	if err != nil {
		return "", fmt.Errorf("%s: %w", abbrev(sql), err)
	}
	return v, nil
}

// Must runs statements that must all succeed.
func (s *Session) Must(sqls ...string) error {
	for _, q := range sqls {
		if _, err := s.Query(q); err != nil {
			return err
		}
	}
	return nil
}

// Close ends psql (and so its backend).
func (s *Session) Close() {
	if s == nil || s.cmd == nil {
		return
	}
	s.in.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill() // our own psql, by PID
		<-done
	}
	s.cmd = nil
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " / ")
}

// quote is a SQL string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
