// pgwire: a minimal PostgreSQL client (simple query protocol over the unix
// socket, trust auth, cancel requests), so the driver needs no module
// dependency and can time a statement's end to the millisecond.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PGError is an ErrorResponse or NoticeResponse.
type PGError struct {
	Severity string // S (localized) / V
	Code     string // C: SQLSTATE
	Message  string // M
	Detail   string // D
	Hint     string // H
	Where    string // F:L R, where the server raised it (file, line, routine)
}

func (e *PGError) Error() string { return e.Severity + " " + e.Code + ": " + e.Message }

// Result is what one simple Query produced.
type Result struct {
	Rows    [][]string // NULL is "<NULL>"
	Err     *PGError   // the statement's ERROR (or FATAL), if any
	Notices []PGError
	Took    time.Duration // from sending Query to ReadyForQuery
	Done    time.Time     // when the error or ReadyForQuery arrived
}

// Value is the first column of the first row, or "" if none.
func (r *Result) Value() string {
	if len(r.Rows) == 0 || len(r.Rows[0]) == 0 {
		return ""
	}
	return r.Rows[0][0]
}

// Conn is one backend session.
type Conn struct {
	c       net.Conn
	r       *bufio.Reader
	PID     int
	secret  uint32
	sock    string
	Timeout time.Duration // bound on any one Exec (0: 60s)
}

func socketPath(dir string, port int) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

// Connect opens a session as user on database db.
func Connect(sock, user, db string) (*Conn, error) {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return nil, err
	}
	cn := &Conn{c: c, r: bufio.NewReaderSize(c, 64<<10), sock: sock}
	var b []byte
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, 196608) // protocol 3.0
	for _, kv := range [][2]string{{"user", user}, {"database", db}, {"application_name", "boundary"}} {
		b = append(b, kv[0]...)
		b = append(b, 0)
		b = append(b, kv[1]...)
		b = append(b, 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(b); err != nil {
		c.Close()
		return nil, err
	}
	for {
		t, body, err := cn.readMsg()
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("startup: %w", err)
		}
		switch t {
		case 'R':
			if code := binary.BigEndian.Uint32(body); code != 0 {
				c.Close()
				return nil, fmt.Errorf("startup: authentication method %d requested (cluster must use trust)", code)
			}
		case 'K':
			cn.PID = int(binary.BigEndian.Uint32(body))
			cn.secret = binary.BigEndian.Uint32(body[4:])
		case 'E':
			c.Close()
			return nil, parseErr(body)
		case 'Z':
			c.SetDeadline(time.Time{})
			return cn, nil
		}
	}
}

func (cn *Conn) readMsg() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(cn.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[1:])) - 4
	if n < 0 || n > 1<<30 {
		return 0, nil, fmt.Errorf("bad message length %d", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(cn.r, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}

func parseErr(body []byte) *PGError {
	e := &PGError{}
	for len(body) > 0 && body[0] != 0 {
		f := body[0]
		i := 1
		for i < len(body) && body[i] != 0 {
			i++
		}
		v := string(body[1:i])
		if i < len(body) {
			i++
		}
		body = body[i:]
		switch f {
		case 'V':
			e.Severity = v
		case 'S':
			if e.Severity == "" {
				e.Severity = v
			}
		case 'C':
			e.Code = v
		case 'M':
			e.Message = v
		case 'D':
			e.Detail = v
		case 'H':
			e.Hint = v
		case 'F':
			e.Where = v + e.Where
		case 'L':
			e.Where += ":" + v
		case 'R':
			e.Where += " " + v
		}
	}
	return e
}

// Send writes a Query message without waiting for its result.
func (cn *Conn) Send(sql string) error {
	b := make([]byte, 5, 6+len(sql))
	b[0] = 'Q'
	b = append(b, sql...)
	b = append(b, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	cn.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := cn.c.Write(b)
	return err
}

// Receive reads the results of one Query up to ReadyForQuery. A returned
// error means the connection is broken (closed, timed out, protocol).
func (cn *Conn) Receive() (*Result, error) {
	to := cn.Timeout
	if to == 0 {
		to = 60 * time.Second
	}
	cn.c.SetReadDeadline(time.Now().Add(to))
	res := &Result{}
	for {
		t, body, err := cn.readMsg()
		if err != nil {
			if res.Err != nil && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)) {
				return res, fmt.Errorf("connection closed after %s", res.Err) // FATAL
			}
			return res, err
		}
		switch t {
		case 'D':
			nc := int(binary.BigEndian.Uint16(body))
			p := body[2:]
			row := make([]string, nc)
			for i := 0; i < nc; i++ {
				l := int(int32(binary.BigEndian.Uint32(p)))
				p = p[4:]
				if l < 0 {
					row[i] = "<NULL>"
					continue
				}
				row[i] = string(p[:l])
				p = p[l:]
			}
			res.Rows = append(res.Rows, row)
		case 'E':
			if res.Err == nil {
				res.Err = parseErr(body)
				res.Done = time.Now()
			}
		case 'N':
			res.Notices = append(res.Notices, *parseErr(body))
		case 'Z':
			if res.Done.IsZero() {
				res.Done = time.Now()
			}
			return res, nil
		}
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// Exec runs sql and waits for its result.
func (cn *Conn) Exec(sql string) (*Result, error) {
	t0 := time.Now()
	if err := cn.Send(sql); err != nil {
		return nil, err
	}
	res, err := cn.Receive()
	if res != nil {
		res.Took = time.Since(t0)
	}
	return res, err
}

// MustOK runs sql and fails unless it succeeded.
func (cn *Conn) MustOK(sql string) (*Result, error) {
	res, err := cn.Exec(sql)
	if err != nil {
		return res, fmt.Errorf("%.60q: %w", sql, err)
	}
	if res.Err != nil {
		return res, fmt.Errorf("%.60q: %v", sql, res.Err)
	}
	return res, nil
}

// Cancel sends a CancelRequest for this session (what libpq's PQcancel does).
func (cn *Conn) Cancel() error {
	c, err := net.DialTimeout("unix", cn.sock, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	var b [16]byte
	binary.BigEndian.PutUint32(b[0:], 16)
	binary.BigEndian.PutUint32(b[4:], 80877102)
	binary.BigEndian.PutUint32(b[8:], uint32(cn.PID))
	binary.BigEndian.PutUint32(b[12:], cn.secret)
	_, err = c.Write(b[:])
	return err
}

// Close ends the session politely (Terminate).
func (cn *Conn) Close() error {
	cn.c.SetWriteDeadline(time.Now().Add(time.Second))
	cn.c.Write([]byte{'X', 0, 0, 0, 4})
	return cn.c.Close()
}

// Drop closes the socket without Terminate (a client that vanished).
func (cn *Conn) Drop() error { return cn.c.Close() }
