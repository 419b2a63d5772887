// Command distbench runs the workloads of shared/bench/erlang (cnode_bench's
// tests) with the plerl Go distribution client and prints one line per test
// in that harness's format:
//
//	go <test> n=<calls> median_us=<..> p99_us=<..> per_s=<..>
//
// Usage: distbench [-p peer] [-c cookie] [-n calls] [-s setups] [-t goroutines]
//
//	[-k calls_per_goroutine] [-impl label] [test...]
//
// Tests: setup node seq bin10k echo conc (default: all). Defaults:
// bench@127.0.0.1 benchcookie 20000 200 8 5000. Only 127.0.0.1 is used.
// conc8_node runs 8 goroutines over ONE multiplexed connection (cnode uses
// 8 connections).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/plerl/plerl/runtime/dist"
	"github.com/plerl/plerl/runtime/term"
)

var (
	peer     = flag.String("p", "bench@127.0.0.1", "peer node")
	cookie   = flag.String("c", "benchcookie", "cookie")
	nCalls   = flag.Int("n", 20000, "timed calls per sequential test")
	nSetups  = flag.Int("s", 200, "connection setups")
	nThreads = flag.Int("t", 8, "goroutines for conc")
	kPer     = flag.Int("k", 5000, "calls per goroutine for conc")
	impl     = flag.String("impl", "go", "label printed first on each line")
	cpuProf  = flag.String("cpuprofile", "", "write a CPU profile to this file")
	killMode = flag.Bool("erpc", false, "use CallKill (spawn_request) instead of rex for node/seq/bin10k (printed as erpc_<test>)")
)

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "distbench: %s: %v\n", what, err)
	os.Exit(1)
}

func report(test string, lat []time.Duration, wall time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	n := len(lat)
	fmt.Printf("%s %s n=%d median_us=%.1f p99_us=%.1f per_s=%.0f\n", *impl, test, n,
		float64(lat[n/2])/1e3, float64(lat[int(float64(n-1)*0.99)])/1e3, float64(n)/wall.Seconds())
}

var creationBase = uint32(time.Now().Unix()&0x0fffffff) + 1

func config(alive string) *dist.Config {
	creationBase++
	return &dist.Config{NodeName: alive + "@127.0.0.1", Cookie: *cookie, Creation: creationBase}
}

func main() {
	flag.Parse()
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			die("cpuprofile", err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	tests := flag.Args()
	if len(tests) == 0 {
		tests = []string{"setup", "node", "seq", "bin10k", "echo", "conc"}
	}
	ctx := context.Background()
	pid := os.Getpid()
	c, err := dist.Dial(ctx, config(fmt.Sprintf("gb_m%d", pid)), *peer)
	if err != nil {
		die("dial", err)
	}
	defer c.Close()
	for _, t := range tests {
		switch t {
		case "setup":
			testSetup(ctx, pid)
		case "node", "seq", "bin10k":
			testRPC(ctx, c, t)
		case "echo":
			testEcho(ctx, c)
		case "conc":
			testConc(ctx, c)
		default:
			fmt.Fprintf(os.Stderr, "unknown test %s\n", t)
			os.Exit(2)
		}
	}
}

func testSetup(ctx context.Context, pid int) {
	alive, host, _ := strings.Cut(*peer, "@")
	lat := make([]time.Duration, *nSetups)
	var port dist.PortInfo
	var err error
	w0 := time.Now()
	for i := range lat {
		t0 := time.Now()
		port, err = dist.LookupPort(ctx, nil, host, 0, alive, *peer)
		lat[i] = time.Since(t0)
		if err != nil {
			die("epmd", err)
		}
	}
	report("setup_epmd", lat, time.Since(w0))

	// Fresh names each time, like cnode_bench (a reused name may get
	// status alive while the peer has not yet noticed the previous close).
	w0 = time.Now()
	for i := range lat {
		cfg := config(fmt.Sprintf("gb_h%d_%d", pid, i))
		cfg.Port = int(port.Port)
		t0 := time.Now()
		c, err := dist.Dial(ctx, cfg, *peer)
		lat[i] = time.Since(t0)
		if err != nil {
			die("handshake", err)
		}
		c.Close()
	}
	report("setup_handshake", lat, time.Since(w0))

	w0 = time.Now()
	for i := range lat {
		cfg := config(fmt.Sprintf("gb_s%d_%d", pid, i))
		t0 := time.Now()
		c, err := dist.Dial(ctx, cfg, *peer)
		lat[i] = time.Since(t0)
		if err != nil {
			die("connect", err)
		}
		c.Close()
	}
	report("setup_full", lat, time.Since(w0))
}

type workload struct {
	mod, fun string
	args     []any
	check    func(any) bool
}

func mkWorkload(name string) workload {
	switch name {
	case "node":
		return workload{"erlang", "node", nil, func(v any) bool { return v == term.Atom(*peer) }}
	case "seq":
		return workload{"lists", "seq", []any{1, 100}, func(v any) bool { l, ok := v.(term.List); return ok && len(l) == 100 }}
	}
	bin := term.Binary(bytes.Repeat([]byte{'x'}, 10240))
	return workload{"erlang", "iolist_to_binary", []any{bin}, func(v any) bool { b, ok := v.(term.Binary); return ok && len(b) == 10240 }}
}

func (w workload) call(ctx context.Context, c *dist.Conn) (any, error) {
	if *killMode {
		return c.CallKill(ctx, w.mod, w.fun, w.args)
	}
	return c.Call(ctx, w.mod, w.fun, w.args)
}

func testRPC(ctx context.Context, c *dist.Conn, name string) {
	w := mkWorkload(name)
	var v any
	var err error
	for i := 0; i < 1000; i++ {
		if v, err = w.call(ctx, c); err != nil {
			die(name, err)
		}
	}
	if !w.check(v) {
		die(name, fmt.Errorf("bad reply %v", v))
	}
	lat := make([]time.Duration, *nCalls)
	w0 := time.Now()
	for i := range lat {
		t0 := time.Now()
		if _, err := w.call(ctx, c); err != nil {
			die(name, err)
		}
		lat[i] = time.Since(t0)
	}
	label := name
	if *killMode {
		label = "erpc_" + name
	}
	report(label, lat, time.Since(w0))
}

// echo: REG_SEND {self(), N, ok} to bench_echo; {N, ok} comes back as SEND.
func testEcho(ctx context.Context, c *dist.Conn) {
	me := c.NewPid()
	defer c.ClosePid(me)
	lat := make([]time.Duration, *nCalls)
	var w0 time.Time
	for i := -1000; i < *nCalls; i++ {
		if i == 0 {
			w0 = time.Now()
		}
		t0 := time.Now()
		if err := c.RegSend(ctx, me, "bench_echo", term.Tuple{me, int64(i), term.Atom("ok")}); err != nil {
			die("echo send", err)
		}
		v, err := c.Receive(ctx, me)
		if err != nil {
			die("echo receive", err)
		}
		if i == -1000 {
			if t, ok := v.(term.Tuple); !ok || len(t) != 2 || t[0] != int64(i) {
				die("echo", fmt.Errorf("bad reply %v", v))
			}
		}
		if i >= 0 {
			lat[i] = time.Since(t0)
		}
	}
	report("echo", lat, time.Since(w0))
}

// conc: T goroutines over the one connection, K erlang:node() calls each.
func testConc(ctx context.Context, c *dist.Conn) {
	w := mkWorkload("node")
	all := make([]time.Duration, *nThreads**kPer)
	var ready, start sync.WaitGroup
	ready.Add(*nThreads)
	start.Add(1)
	ends := make([]time.Time, *nThreads)
	var done sync.WaitGroup
	done.Add(*nThreads)
	for g := 0; g < *nThreads; g++ {
		go func(g int) {
			defer done.Done()
			for i := 0; i < 200; i++ {
				if _, err := w.call(ctx, c); err != nil {
					die("conc warm-up", err)
				}
			}
			ready.Done()
			start.Wait()
			lat := all[g**kPer : (g+1)**kPer]
			for i := range lat {
				t0 := time.Now()
				if _, err := w.call(ctx, c); err != nil {
					die("conc", err)
				}
				lat[i] = time.Since(t0)
			}
			ends[g] = time.Now()
		}(g)
	}
	ready.Wait()
	t0 := time.Now()
	start.Done()
	done.Wait()
	var end time.Time
	for _, e := range ends {
		if e.After(end) {
			end = e
		}
	}
	label := fmt.Sprintf("conc%d_node", *nThreads)
	if *killMode {
		label = "erpc_" + label
	}
	report(label, all, end.Sub(t0))
}
