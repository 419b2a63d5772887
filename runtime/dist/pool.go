// Pool: one Conn per peer node, connected on first use, reconnected with bounded backoff.
package dist

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// PoolConfig configures a Pool. Zero values select the defaults in brackets.
type PoolConfig struct {
	Config
	// MaxConns bounds the number of peer nodes connected at once [16].
	MaxConns int
	// BackoffMin is the wait after the first failed connect [100ms]; it
	// doubles per consecutive failure up to BackoffMax [10s].
	BackoffMin time.Duration
	BackoffMax time.Duration
}

// ConnInfo describes one pool entry (never the cookie).
type ConnInfo struct {
	Node    string
	State   string // "connected", "connecting", "down", "backoff"
	Since   time.Time
	Calls   uint64
	Errors  uint64
	LastRTT time.Duration
	// LastError is the most recent connect or node-down error, if any.
	LastError string
}

// NodeConfig is what may differ per node: the cookie and TLS settings.
type NodeConfig struct {
	Cookie string
	TLS    *tls.Config
	Ident  string // names Cookie+TLS for reuse decisions; never the cookie itself
}

type poolEntry struct {
	mu        sync.Mutex // held while dialling: one dial per node at a time
	ident     string     // NodeConfig.Ident of conn
	failIdent string     // NodeConfig.Ident of the last failed connect (backoff applies to it only)
	conn      *Conn
	lastErr   error
	failures  int
	retryAt   time.Time
	since     time.Time
	calls     uint64 // totals of earlier connections
	errs      uint64
}

// Pool keeps one multiplexed Conn per node. Get connects on first use and
// reuses the connection; a connection that went down (seen at once through
// Conn.Done) is replaced on the next use. After a failed connect the node
// is not retried until its backoff window has passed: calls within the
// window fail at once with the last error, saying so.
type Pool struct {
	cfg     PoolConfig
	mu      sync.Mutex
	entries map[string]*poolEntry
	closed  bool
}

// NewPool makes an empty pool. cfg.Config is validated on first connect.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 16
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 10 * time.Second
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = cfg.BackoffMin
	}
	return &Pool{cfg: cfg, entries: make(map[string]*poolEntry)}
}

func alive(c *Conn) bool {
	if c == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// Get returns a live connection to node, connecting if needed.
func (p *Pool) Get(ctx context.Context, node string) (*Conn, error) {
	return p.GetWith(ctx, node, nil)
}

// Lookup returns the live connection to node made under ident, or nil: the
// fast path of GetWith for a caller that has one (no context, no config).
func (p *Pool) Lookup(node, ident string) *Conn {
	p.mu.Lock()
	e := p.entries[node]
	p.mu.Unlock()
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if alive(e.conn) && e.ident == ident {
		return e.conn
	}
	return nil
}

// GetWith is Get with a per-node configuration (cookie, TLS) instead of
// the pool's; ident names that configuration without revealing it (e.g. a
// hash of the cookie): a live connection made under another ident is
// closed and replaced, so a changed cookie never rides on an old session.
// Our node name, limits and timeouts still come from the pool's Config.
func (p *Pool) GetWith(ctx context.Context, node string, with *NodeConfig) (*Conn, error) {
	cfg := &p.cfg.Config
	ident := ""
	if with != nil {
		c := p.cfg.Config
		c.Cookie = with.Cookie
		c.TLS = with.TLS
		cfg, ident = &c, with.Ident
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, newErr(KindClosed, node, "pool", errors.New("pool is closed"))
	}
	e := p.entries[node]
	if e == nil {
		if n := p.liveLocked(); n >= p.cfg.MaxConns {
			p.mu.Unlock()
			return nil, newErr(KindConnect, node, "pool", fmt.Errorf("pool already holds %d connections (MaxConns)", n))
		}
		e = &poolEntry{}
		p.entries[node] = e
	}
	p.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if alive(e.conn) && e.ident == ident {
		return e.conn, nil
	}
	if e.ident != ident {
		// Another configuration (cookie, TLS) deserves its own try now: the
		// old connection and the old failures say nothing about it.
		if e.conn != nil {
			e.conn.Close()
		}
		e.failures, e.retryAt = 0, time.Time{}
		e.ident = ident
	}
	if e.conn != nil { // went down: keep its counters and why
		e.calls += e.conn.calls.Load()
		e.errs += e.conn.errs.Load()
		e.lastErr = e.conn.err
		e.since = time.Now()
		e.conn = nil
	}
	if e.failIdent != ident {
		e.retryAt = time.Time{} // the backoff was earned by another configuration
	}
	if now := time.Now(); now.Before(e.retryAt) {
		return nil, &Error{Kind: KindOf(e.lastErr), Node: node, Step: "pool",
			Err: fmt.Errorf("not retrying for another %v after %d failed connect(s): %w",
				e.retryAt.Sub(now).Round(time.Millisecond), e.failures, e.lastErr)}
	}
	c, err := dialNok(ctx, cfg, node)
	if err != nil {
		// A cancelled or expired caller context says nothing about the node.
		if !IsCancelled(err) {
			e.failures++
			back := p.cfg.BackoffMin << (e.failures - 1)
			if e.failures > 20 || back > p.cfg.BackoffMax || back <= 0 {
				back = p.cfg.BackoffMax
			}
			e.retryAt = time.Now().Add(back)
		}
		e.lastErr = err
		e.failIdent = ident
		e.since = time.Now()
		return nil, err
	}
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		c.Close()
		return nil, newErr(KindClosed, node, "pool", errors.New("pool is closed"))
	}
	e.conn, e.failures, e.retryAt, e.lastErr, e.ident = c, 0, time.Time{}, nil, ident
	e.since = c.since
	return c, nil
}

func (p *Pool) liveLocked() int {
	n := 0
	for _, e := range p.entries {
		if e.mu.TryLock() {
			if alive(e.conn) {
				n++
			}
			e.mu.Unlock()
		} else {
			n++ // dialling
		}
	}
	return n
}

// Call is Get followed by Conn.Call.
func (p *Pool) Call(ctx context.Context, node, mod, fun string, args []any) (any, error) {
	c, err := p.Get(ctx, node)
	if err != nil {
		return nil, err
	}
	return c.Call(ctx, mod, fun, args)
}

// Disconnect closes the connection to node (if any) and forgets its
// backoff; reports whether there was a live connection.
func (p *Pool) Disconnect(node string) bool {
	p.mu.Lock()
	e := p.entries[node]
	delete(p.entries, node)
	p.mu.Unlock()
	if e == nil {
		return false
	}
	e.mu.Lock()
	c := e.conn
	e.mu.Unlock()
	was := alive(c)
	if c != nil {
		c.Close()
	}
	return was
}

// CloseAll closes every connection; later Gets fail with KindClosed.
func (p *Pool) CloseAll() {
	p.mu.Lock()
	p.closed = true
	es := p.entries
	p.entries = make(map[string]*poolEntry)
	p.mu.Unlock()
	for _, e := range es {
		e.mu.Lock()
		if e.conn != nil {
			e.conn.Close()
		}
		e.mu.Unlock()
	}
}

// Stats describes every node the pool knows, sorted by node name.
func (p *Pool) Stats() []ConnInfo {
	p.mu.Lock()
	nodes := make([]string, 0, len(p.entries))
	es := make(map[string]*poolEntry, len(p.entries))
	for n, e := range p.entries {
		nodes = append(nodes, n)
		es[n] = e
	}
	p.mu.Unlock()
	sort.Strings(nodes)
	out := make([]ConnInfo, 0, len(nodes))
	for _, n := range nodes {
		e := es[n]
		if !e.mu.TryLock() {
			out = append(out, ConnInfo{Node: n, State: "connecting"})
			continue
		}
		ci := ConnInfo{Node: n, Since: e.since, Calls: e.calls, Errors: e.errs}
		if c := e.conn; c != nil {
			ci.Calls += c.calls.Load()
			ci.Errors += c.errs.Load()
			ci.LastRTT = time.Duration(c.lastRTT.Load())
			if alive(c) {
				ci.State = "connected"
			} else {
				ci.State = "down"
				ci.LastError = c.err.Error()
			}
		} else if time.Now().Before(e.retryAt) {
			ci.State = "backoff"
		} else {
			ci.State = "down"
		}
		if ci.LastError == "" && e.lastErr != nil {
			ci.LastError = e.lastErr.Error()
		}
		e.mu.Unlock()
		out = append(out, ci)
	}
	return out
}

// errSimultaneous is the handshake status "nok": the peer is connecting to
// us at the same moment and its attempt won. A node sets one up when it
// sends to a pid of ours after our connection went away (a late reply, a
// DOWN); as we listen for no one, its attempt fails at once.
var errSimultaneous = errors.New("status nok (simultaneous connect lost)")

// dialNok is Dial, tried again after a short pause while the peer answers
// "nok" (its own attempt to reach us is under way and will fail), up to
// five times within ctx, instead of failing the caller and putting the
// node in backoff for a race that says nothing about it.
func dialNok(ctx context.Context, cfg *Config, node string) (*Conn, error) {
	pause := 5 * time.Millisecond
	for try := 1; ; try++ {
		c, err := Dial(ctx, cfg, node)
		if err == nil || try == 5 || !errors.Is(err, errSimultaneous) {
			return c, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		pause *= 2
	}
}
