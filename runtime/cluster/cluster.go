// Package cluster picks the member of a node group (a plerl server with the
// option nodes) for each request: the balancing policies, members marked
// down with a backoff, and affinity by rendezvous hashing. Pure Go: it
// knows node names only, never connections; the handler connects through
// the dist.Pool and reports back (Up, Down).
package cluster

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand"
	"strings"
	"sync"
	"time"
)

// Policy is a server's option balance.
type Policy int

const (
	RoundRobin Policy = iota // each request to the next live member
	Random                   // a live member at random
	First                    // the first live member in the order given (primary, then standbys)
	Affinity                 // by the request's key: the same key, the same live member
)

// ParsePolicy reads the option balance ("" is round_robin).
func ParsePolicy(s string) (Policy, error) {
	switch s {
	case "", "round_robin":
		return RoundRobin, nil
	case "random":
		return Random, nil
	case "first":
		return First, nil
	case "affinity":
		return Affinity, nil
	}
	return 0, fmt.Errorf("unknown balance policy %q (round_robin, random, first, affinity)", s)
}

func (p Policy) String() string {
	return [...]string{"round_robin", "random", "first", "affinity"}[p]
}

// Config holds a group's backoff: the first wait after a member failed is
// BackoffMin [100ms], doubled per consecutive failure up to BackoffMax [10s].
type Config struct {
	BackoffMin, BackoffMax time.Duration
	Now                    func() time.Time // [time.Now]; tests step it
}

type member struct {
	name      string
	hash      uint64 // of name, for rendezvous hashing
	failures  int
	downUntil time.Time // zero: up
	lastErr   string
	since     time.Time // of the last change of state
	picks     uint64    // requests sent to it
	fails     uint64    // times marked down
}

// Group is one server's members and their state, shared by every request
// of a backend to that server. Safe for concurrent use.
type Group struct {
	policy Policy
	cfg    Config
	mu     sync.Mutex
	ms     []member
	next   uint64
	rnd    *rand.Rand
}

// New makes a group of members (distinct, in the order given: First's
// preference) under policy.
func New(members []string, policy Policy, cfg Config) *Group {
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(10*time.Second, cfg.BackoffMin)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Group{policy: policy, cfg: cfg, rnd: rand.New(rand.NewSource(time.Now().UnixNano()))}
	for _, m := range members {
		g.ms = append(g.ms, member{name: m, hash: hash64(m)})
	}
	return g
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return mix(h.Sum64())
}

// mix is splitmix64's finaliser: FNV alone spreads similar names poorly.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Members are the member names in the order given.
func (g *Group) Members() []string {
	out := make([]string, len(g.ms))
	for i := range g.ms {
		out[i] = g.ms[i].name
	}
	return out
}

// Policy is the group's balance policy.
func (g *Group) Policy() Policy { return g.policy }

// Order is the members to try for one request, best first: every member
// not in its backoff window, in the policy's order (key matters to
// Affinity only). Members whose window has passed are in it again: the
// request itself is the probe. Empty: every member is down (AllDown says
// so). The first member of the order counts as picked.
func (g *Group) Order(key string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.Now()
	live := make([]int, 0, len(g.ms))
	for i := range g.ms {
		if !now.Before(g.ms[i].downUntil) {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		return nil
	}
	switch g.policy {
	case RoundRobin:
		k := int(g.next % uint64(len(live)))
		g.next++
		live = append(live[k:], live[:k]...)
	case Random:
		g.rnd.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	case Affinity:
		// Rendezvous (highest random weight) hashing: each member scores
		// the key; the highest live scorer wins, so a key moves only when
		// its member is down, and comes back when it is up again.
		kh := hash64(key)
		score := func(i int) uint64 { return mix(kh ^ g.ms[i].hash) }
		for i := 1; i < len(live); i++ { // insertion sort, descending score
			for j := i; j > 0 && score(live[j]) > score(live[j-1]); j-- {
				live[j], live[j-1] = live[j-1], live[j]
			}
		}
	}
	out := make([]string, len(live))
	for i, m := range live {
		out[i] = g.ms[m].name
	}
	return out
}

func (g *Group) find(name string) *member {
	for i := range g.ms {
		if g.ms[i].name == name {
			return &g.ms[i]
		}
	}
	return nil
}

// Picked counts a request sent to name (its share of calls).
func (g *Group) Picked(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m := g.find(name); m != nil {
		m.picks++
	}
}

// Up records that name answered: its failures are forgotten.
func (g *Group) Up(name string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if m := g.find(name); m != nil && (m.failures > 0 || !m.downUntil.IsZero()) {
		m.failures, m.downUntil, m.since = 0, time.Time{}, g.cfg.Now()
	}
}

// Down marks name down after err: it is left out of Order until its
// backoff has passed (BackoffMin, doubling per consecutive failure, at most
// BackoffMax). Returns the end of the window.
func (g *Group) Down(name string, err error) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := g.find(name)
	if m == nil {
		return time.Time{}
	}
	m.failures++
	m.fails++
	back := g.cfg.BackoffMin << (m.failures - 1)
	if m.failures > 20 || back > g.cfg.BackoffMax || back <= 0 {
		back = g.cfg.BackoffMax
	}
	now := g.cfg.Now()
	m.downUntil, m.since = now.Add(back), now
	if err != nil {
		m.lastErr = err.Error()
	}
	return m.downUntil
}

// MemberInfo is one member's state, for erlang_group_members().
type MemberInfo struct {
	Node      string
	State     string    // "up", "down" (in its backoff window), "retrying" (window passed, not yet answered)
	DownUntil time.Time // zero unless down
	Since     time.Time // of the last change of state (zero: never changed)
	LastError string
	Picks     uint64 // requests sent to it
	Failures  uint64 // times marked down
	Share     float64
}

// Stats describes every member, in the order given.
func (g *Group) Stats() []MemberInfo {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.Now()
	var total uint64
	for i := range g.ms {
		total += g.ms[i].picks
	}
	out := make([]MemberInfo, len(g.ms))
	for i, m := range g.ms {
		mi := MemberInfo{Node: m.name, State: "up", Since: m.since, LastError: m.lastErr, Picks: m.picks, Failures: m.fails}
		switch {
		case now.Before(m.downUntil):
			mi.State, mi.DownUntil = "down", m.downUntil
		case m.failures > 0:
			mi.State = "retrying"
		}
		if total > 0 {
			mi.Share = float64(m.picks) / float64(total)
		}
		out[i] = mi
	}
	return out
}

// AllDownError: no member of a group could take a request.
type AllDownError struct {
	Members []MemberInfo
}

func (e *AllDownError) Error() string {
	parts := make([]string, len(e.Members))
	for i, m := range e.Members {
		s := m.Node
		if !m.DownUntil.IsZero() {
			s += fmt.Sprintf(" (down for another %v", time.Until(m.DownUntil).Round(time.Millisecond))
			if m.LastError != "" {
				s += ": " + m.LastError
			}
			s += ")"
		} else if m.LastError != "" {
			s += " (" + m.LastError + ")"
		}
		parts[i] = s
	}
	return "every member is down: " + strings.Join(parts, "; ")
}

// AllDown is the error naming every member and why it is down.
func (g *Group) AllDown() error { return &AllDownError{Members: g.Stats()} }

// IsAllDown reports whether err is an AllDownError.
func IsAllDown(err error) bool {
	var e *AllDownError
	return errors.As(err, &e)
}
