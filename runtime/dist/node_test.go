// Helpers that start a real Erlang node (and epmd if none runs) for the live tests.
package dist

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/plerl/plerl/runtime/term"
)

var (
	epmdOnce sync.Once
	epmdCmd  *exec.Cmd // the epmd we started, if any (killed in TestMain)
	epmdErr  error
	nodeSeq  atomic.Int32
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, n := range allNodes {
		n.Stop()
	}
	if helperDir != "" {
		os.RemoveAll(helperDir)
	}
	if epmdCmd != nil && epmdCmd.Process != nil {
		epmdCmd.Process.Kill()
		epmdCmd.Wait()
	}
	os.Exit(code)
}

func needErl(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("erl"); err != nil {
		t.Skip("erl not installed")
	}
}

// ensureEpmd starts `epmd -address 127.0.0.1` unless one already answers.
func ensureEpmd(t testing.TB) {
	t.Helper()
	epmdOnce.Do(func() {
		if exec.Command("epmd", "-names").Run() == nil {
			return
		}
		cmd := exec.Command("epmd", "-address", "127.0.0.1")
		if err := cmd.Start(); err != nil {
			epmdErr = err
			return
		}
		epmdCmd = cmd
		for i := 0; i < 50; i++ {
			if c, err := net.Dial("tcp", "127.0.0.1:4369"); err == nil {
				c.Close()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		epmdErr = fmt.Errorf("epmd did not start")
	})
	if epmdErr != nil {
		t.Fatalf("epmd: %v", epmdErr)
	}
}

// helperErl is compiled once per test run and loaded on every test node.
const helperErl = `-module(plerl_t).
-export([sleep_reg/2, raise/2, start_echo/0, watch_stdin/0, link_unlink/1]).

%% Registers the calling process as Name, then sleeps: lets a test see
%% whether a CallKill worker is still alive.
sleep_reg(Name, Ms) -> register(Name, self()), timer:sleep(Ms), done.

%% Link to a pid of the client and unlink again (UNLINK_ID protocol).
link_unlink(Pid) -> true = link(Pid), true = unlink(Pid), ok.

raise(error, R) -> erlang:error(R);
raise(exit, R) -> erlang:exit(R);
raise(throw, R) -> erlang:throw(R).

%% Halt when stdin closes: the node dies with the test binary even if
%% the test is killed before its cleanup runs.
watch_stdin() -> spawn(fun() -> _ = io:get_line(""), erlang:halt() end), ok.

%% t_echo: {From, Tag, P} -> From ! {Tag, P}.
start_echo() -> register(t_echo, spawn(fun loop/0)), ok.
loop() -> receive {From, Tag, P} -> From ! {Tag, P}; _ -> ok end, loop().
`

var (
	helperOnce sync.Once
	helperDir  string
	helperErr  error
)

func helperBeamDir(t testing.TB) string {
	t.Helper()
	helperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "plerl-dist-test")
		if err != nil {
			helperErr = err
			return
		}
		src := dir + "/plerl_t.erl"
		if err := os.WriteFile(src, []byte(helperErl), 0o644); err != nil {
			helperErr = err
			return
		}
		if out, err := exec.Command("erlc", "-o", dir, src).CombinedOutput(); err != nil {
			helperErr = fmt.Errorf("erlc: %v: %s", err, out)
			return
		}
		helperDir = dir
	})
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	return helperDir
}

type testNode struct {
	Name   string
	Cookie string
	cmd    *exec.Cmd
	out    *bytes.Buffer
	args   []string
	dir    string
	stdin  io.Closer
	tls    *tls.Config
}

// startNode starts erl -name <unique>@127.0.0.1 and waits until epmd knows it.
func startNode(t testing.TB, extra ...string) *testNode {
	t.Helper()
	n := startNodeNoCleanup(t, extra...)
	t.Cleanup(n.Stop)
	return n
}

var (
	allNodesMu sync.Mutex
	allNodes   []*testNode // stopped in TestMain
)

func startNodeNoCleanup(t testing.TB, extra ...string) *testNode {
	t.Helper()
	needErl(t)
	ensureEpmd(t)
	name := fmt.Sprintf("plerldt%d_%d@127.0.0.1", os.Getpid(), nodeSeq.Add(1))
	n := &testNode{Name: name, Cookie: "distcookie" + fmt.Sprint(os.Getpid()), args: extra, dir: helperBeamDir(t)}
	for _, a := range extra {
		if a == "inet_tls" { // TLS distribution: dial it with TLS (throw-away certificate)
			n.tls = &tls.Config{InsecureSkipVerify: true}
		}
	}
	n.start(t)
	allNodesMu.Lock()
	allNodes = append(allNodes, n)
	allNodesMu.Unlock()
	return n
}

func (n *testNode) start(t testing.TB) {
	t.Helper()
	args := []string{"-noshell", "-name", n.Name, "-setcookie", n.Cookie, "-start_epmd", "false",
		"-kernel", "inet_dist_use_interface", "{127,0,0,1}", "-pa", n.dir, "-s", "plerl_t", "start_echo", "-s", "plerl_t", "watch_stdin"}
	args = append(args, n.args...)
	n.out = &bytes.Buffer{}
	cmd := exec.Command("erl", args...)
	cmd.Env = append(os.Environ(), "ERL_CRASH_DUMP_SECONDS=0")
	cmd.Stdout, cmd.Stderr = n.out, n.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe() // held open until the process exits; see watch_stdin
	if err != nil {
		t.Fatal(err)
	}
	n.stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatalf("start erl: %v", err)
	}
	n.cmd = cmd
	alive := strings.SplitN(n.Name, "@", 2)[0]
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := LookupPort(ctx, nil, "127.0.0.1", 0, alive, n.Name)
		cancel()
		if err == nil && n.ready() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.Stop()
	t.Fatalf("node %s did not register with epmd; output:\n%s", n.Name, n.out.String())
}

// ready reports whether the node has run its -s start_echo (epmd knows a
// node before its -s functions have run; a REG_SEND to t_echo before that
// is silently dropped).
func (n *testNode) ready() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	cfg := testConfig(n)
	c, err := Dial(ctx, cfg, n.Name)
	if err != nil {
		return false
	}
	defer c.Close()
	v, err := c.Call(ctx, "erlang", "whereis", []any{term.Atom("t_echo")})
	_, ok := v.(term.Pid)
	return err == nil && ok
}

// Stop kills the node (SIGKILL to the erl process group we created) and waits.
func (n *testNode) Stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
	n.cmd.Wait()
	n.cmd = nil
}

// Restart starts the same node name again (after Stop).
func (n *testNode) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	// epmd drops the old registration when the node's socket closes.
	time.Sleep(100 * time.Millisecond)
	n.start(t)
}

var ourSeq atomic.Int32

func testConfig(n *testNode) *Config {
	return &Config{
		NodeName: fmt.Sprintf("plerl_t%d_%d@127.0.0.1", os.Getpid(), ourSeq.Add(1)),
		Cookie:   n.Cookie,
		TLS:      n.tls,
	}
}
