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
// Usage: lockcall [-p peer] [-c cookie] [-n calls] [-r rounds] [-procs 2]
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
	peer   = flag.String("p", "bench@127.0.0.1", "peer node")
	cookie = flag.String("c", "benchcookie", "cookie")
	nCalls = flag.Int("n", 20000, "timed calls per measurement")
	rounds = flag.Int("r", 3, "rounds")
	procs  = flag.Int("procs", 2, "GOMAXPROCS for free and locked (plerl.go_max_procs defaults to 2)")
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
		cs0 := switches()
		w0 := time.Now()
		for i := range lat {
			t0 := time.Now()
			v, err := c.Call(ctx, "erlang", "node", nil)
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
		fmt.Printf("go-%s node n=%d median_us=%.1f p99_us=%.1f per_s=%.0f cs_per_call=%.2f\n", mode, n,
			float64(lat[n/2])/1e3, float64(lat[int(float64(n-1)*0.99)])/1e3, float64(n)/wall.Seconds(),
			float64(cs)/float64(n))
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
	modes := []string{"free", "locked", "locked1"}
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
