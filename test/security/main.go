// Command security is the driver of test/security/run: the checks that need
// the server log, files or misbehaving peers, against a cluster that run
// made for it. Sections:
//
//	secrets   the cookie never reaches the log, client messages, views
//	limits    timeouts and limits that need a peer of our own
//	badinput  a table of hostile inputs; the backend survives each one
//	tls       TLS distribution with a throw-away CA
//	hostile   what an ordinary role could still do to the node, the host
//	          and other roles (names, atoms, REPEATABLE READ, parallel
//	          workers, mailboxes)
//	luabudget Lua built-ins against the memory limit and cancel
//	writes    writes to a node that stopped reading end with the call's
//	          timeout, statement_timeout, cancel and terminate (also at COMMIT)
//
// It prints one line per check ("ok ..." or "FAIL ..."), and
// "N passed, N failed" last; the exit status is 1 if anything failed.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

type env struct {
	host, db, logPath, dir string
	port                   int
	psql, erl              string
	node, cookie           string
	wrongCookie            string // a second secret: a mapping with a wrong cookie
	fakeCookie             string // the fake nodes' cookie
	fakeHost               string // loopback address of the fake epmd ("" if none)
	compatSecret           string // the cookie given to erlang_connect (logged, as documented)
	tlsCookie              string // the TLS node's cookie
	pass, fail             int
}

func (e *env) check(name string, ok bool, format string, args ...any) {
	detail := fmt.Sprintf(format, args...)
	if ok {
		e.pass++
		if detail != "" {
			fmt.Printf("ok   %s: %s\n", name, detail)
		} else {
			fmt.Printf("ok   %s\n", name)
		}
		return
	}
	e.fail++
	fmt.Printf("FAIL %s: %s\n", name, detail)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func main() {
	e := &env{}
	flag.StringVar(&e.host, "host", "", "socket directory of the cluster")
	flag.IntVar(&e.port, "port", 54460, "port of the cluster")
	flag.StringVar(&e.db, "db", "plerl_security", "database")
	flag.StringVar(&e.logPath, "log", "", "the server log (stderr of the postmaster)")
	flag.StringVar(&e.dir, "dir", "", "a scratch directory (certificates)")
	flag.StringVar(&e.psql, "psql", "psql", "psql")
	only := flag.String("only", "", "comma-separated sections to run (default all)")
	flag.Parse()
	e.node = os.Getenv("PLERL_TEST_NODE")
	e.cookie = os.Getenv("PLERL_TEST_COOKIE")
	e.wrongCookie = "plerl-sec-wrong-" + randomHex(12)
	e.fakeCookie = "plerl-sec-fake-" + randomHex(12)
	e.erl, _ = exec.LookPath("erl")

	sections := []struct {
		name string
		run  func(*env)
	}{
		{"setup", (*env).setup},
		{"secrets", (*env).secrets},
		{"limits", (*env).limits},
		{"badinput", (*env).badinput},
		{"tls", (*env).tls},
		{"hostile", (*env).hostile},
		{"luabudget", (*env).luabudget},
		{"writes", (*env).writes},
		{"logcheck", (*env).logcheck},
	}
	want := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		if s != "" {
			want[s] = true
		}
	}
	for _, s := range sections {
		if len(want) > 0 && !want[s.name] && s.name != "setup" && s.name != "logcheck" {
			continue
		}
		fmt.Printf("# %s\n", s.name)
		s.run(e)
	}
	fmt.Printf("%d passed, %d failed\n", e.pass, e.fail)
	if e.fail > 0 {
		os.Exit(1)
	}
}
