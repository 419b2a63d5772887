// Command lockcall isolates one cost of calling Erlang from a backend: the
// goroutine that waits for a reply is locked to its OS thread (in a backend
// it is the cgo callback goroutine on the backend's main thread), so every
// reply handed over by the connection's reader goroutine must wake that
// particular thread. It times runtime/dist's Conn.Call(erlang:node()) with
// the same client in three ways, interleaved per round:
//
//	free      the calling goroutine is not locked (bench/distbench's setting)
//	locked    the calling goroutine did runtime.LockOSThread (a backend's case)
//	locked1   locked, and GOMAXPROCS=1
//
// and prints lines in cnode_bench's format ("go-<mode> node n=.. median_us=..
// p99_us=.. per_s=..") plus the context switches per call of the whole
// process (from /proc/self/status and /proc/self/task/*/status).
//
// Usage: lockcall [-p peer] [-c cookie] [-n calls] [-r rounds] [-procs 2] [-timeout 5s]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/plerl/plerl/runtime/dist"
	"github.com/plerl/plerl/runtime/term"
)

var (
	peer       = flag.String("p", "bench@127.0.0.1", "peer node")
	cookie     = flag.String("c", "benchcookie", "cookie")
	nCalls     = flag.Int("n", 20000, "timed calls per measurement")
	rounds     = flag.Int("r", 3, "rounds")
	procs      = flag.Int("procs", 2, "GOMAXPROCS for free and locked (plerl.go_max_procs defaults to 2)")
	yieldEvery = flag.Duration("yield", 0, "call runtime.Gosched when this long has passed since the last one (0: never)")
	only       = flag.String("modes", "free,locked,locked1", "which modes to run, in this order")
	tmo        = flag.Duration("timeout", 5*time.Second, "each call gets context.WithTimeout(this), as a backend's calls get plerl.call_timeout (0: context.Background)")
)

func die(what string, err error) {
	fmt.Fprintf(os.Stderr, "lockcall: %s: %v\n", what, err)
	os.Exit(1)
}

// switches sums voluntary+nonvoluntary context switches over our threads.
func switches() int64 {
	var n int64
	files, _ := filepath.Glob("/proc/self/task/*/status")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "voluntary_ctxt_switches:") || strings.HasPrefix(line, "nonvoluntary_ctxt_switches:") {
				v, _ := strconv.ParseInt(strings.TrimSpace(line[strings.IndexByte(line, ':')+1:]), 10, 64)
				n += v
			}
		}
	}
	return n
}

func measure(c *dist.Conn, mode string) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if mode != "free" {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		ctx := context.Background()
		for i := 0; i < 1000; i++ {
			if _, err := c.Call(ctx, "erlang", "node", nil); err != nil {
				die("warm-up", err)
			}
		}
		lat := make([]time.Duration, *nCalls)
		var lastYield time.Time
		cs0 := switches()
		w0 := time.Now()
		for i := range lat {
			t0 := time.Now()
			cctx, cancel := ctx, context.CancelFunc(nil)
			if *tmo > 0 {
				cctx, cancel = context.WithTimeout(ctx, *tmo)
			}
			if *yieldEvery > 0 && t0.Sub(lastYield) > *yieldEvery {
				runtime.Gosched()
				lastYield = t0
			}
			v, err := c.Call(cctx, "erlang", "node", nil)
			if cancel != nil {
				cancel()
			}
			lat[i] = time.Since(t0)
			if err != nil {
				die(mode, err)
			}
			if i == 0 && v != term.Atom(*peer) {
				die(mode, fmt.Errorf("bad reply %v", v))
			}
		}
		wall := time.Since(w0)
		cs := switches() - cs0
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		n := len(lat)
		q := func(f float64) float64 { return float64(lat[int(float64(n-1)*f)]) / 1e3 }
		fmt.Printf("go-%s node n=%d median_us=%.1f p99_us=%.1f per_s=%.0f cs_per_call=%.2f p90_us=%.1f p95_us=%.1f\n", mode, n,
			q(0.5), q(0.99), float64(n)/wall.Seconds(), float64(cs)/float64(n), q(0.9), q(0.95))
	}()
	<-done
}

func main() {
	flag.Parse()
	runtime.GOMAXPROCS(*procs)
	cfg := &dist.Config{NodeName: fmt.Sprintf("lockcall%d@127.0.0.1", os.Getpid()), Cookie: *cookie,
		Creation: uint32(time.Now().Unix()&0x0fffffff) + 1}
	c, err := dist.Dial(context.Background(), cfg, *peer)
	if err != nil {
		die("dial", err)
	}
	defer c.Close()
	modes := strings.Split(*only, ",")
	for r := 0; r < *rounds; r++ {
		for k := range modes {
			m := modes[(k+r)%len(modes)]
			if m == "locked1" {
				runtime.GOMAXPROCS(1)
			}
			measure(c, m)
			runtime.GOMAXPROCS(*procs)
		}
	}
}
