package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Node is an Erlang node this driver started (and only ever stops by its
// own PID). Its cookie is in $HOME/.erlang.cookie of a private HOME, as
// scripts/setup-elixir does for the test node: never on a command line.
type Node struct {
	Name   string // short@127.0.0.1
	Short  string
	Cookie string
	home   string
	extra  []string
	log    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser // held open for the node's life
	exited chan struct{}
}

// NewNode prepares (does not start) a node with a unique name and cookie.
func NewNode(dir, short string, extra ...string) (*Node, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	home := filepath.Join(dir, short)
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	n := &Node{Name: short + "@127.0.0.1", Short: short, Cookie: hex.EncodeToString(b),
		home: home, extra: extra, log: filepath.Join(home, "node.log")}
	if err := os.WriteFile(filepath.Join(home, ".erlang.cookie"), []byte(n.Cookie), 0o400); err != nil {
		return nil, err
	}
	return n, nil
}

// Start boots the node (plain erl: it needs only kernel and stdlib) and
// waits until epmd lists it.
func (n *Node) Start() error {
	if n.Running() {
		return fmt.Errorf("node %s already running", n.Name)
	}
	args := append([]string{"-noshell", "-name", n.Name, "-start_epmd", "false",
		"-kernel", "inet_dist_use_interface", "{127,0,0,1}"}, n.extra...)
	cmd := exec.Command("erl", args...)
	cmd.Env = append(os.Environ(), "HOME="+n.home, "ERL_EPMD_ADDRESS=127.0.0.1")
	logf, err := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a terminal's ^C does not reach it first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe() // held open: -noshell nodes do not read it
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	n.cmd, n.stdin = cmd, stdin
	n.exited = make(chan struct{})
	go func() { cmd.Wait(); close(n.exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if !n.Running() {
			return fmt.Errorf("node %s exited during startup: %s", n.Name, n.Log(5))
		}
		if registered(n.Short) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	n.Kill()
	return fmt.Errorf("node %s did not register with epmd within 30 s: %s", n.Name, n.Log(5))
}

// PID of the running node (erl execs into beam.smp, so it is the VM).
func (n *Node) PID() int {
	if n.cmd == nil || n.cmd.Process == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Running reports whether the node we started is still alive.
func (n *Node) Running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL to the node's PID (no goodbye on the wire: the kernel
// closes its sockets) and waits for it to be gone.
func (n *Node) Kill() {
	if !n.Running() {
		return
	}
	n.Signal(syscall.SIGKILL)
	select {
	case <-n.exited:
	case <-time.After(10 * time.Second):
	}
	// epmd drops the name when the node's epmd connection closes.
	for i := 0; i < 100 && registered(n.Short); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

// Signal sends sig to the node's PID, if it is still ours and alive.
func (n *Node) Signal(sig syscall.Signal) {
	if n.Running() {
		_ = n.cmd.Process.Signal(sig)
	}
}

// Log returns the last lines of the node's output.
func (n *Node) Log(lines int) string {
	b, _ := os.ReadFile(n.log)
	return lastLines(string(b), lines)
}

// registered asks epmd whether a node of that short name is up.
func registered(short string) bool {
	out, err := exec.Command("epmd", "-names").Output()
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "name "+short+" at port ") {
			return true
		}
	}
	return false
}
