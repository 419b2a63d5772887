// waits: this backend's slot of plerl.stat_waits (what its Erlang wait
// waits for) and plerl.stat_nodes (its sessions), in plerl.so's shared
// memory (docs/monitoring.md). Only this backend writes its slot: plain
// stores through the pointer plerl_stat_backend returned once (no call into
// PostgreSQL), bracketed by changecount (odd while writing) so readers copy
// a consistent slot. Names and numbers only: never cookies or arguments.
package main

/*
#include "plerl.h"
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/plerl/plerl/runtime/dist"
)

var (
	statSlot      *C.PlerlBackendStat // nil: not preloaded
	statSlotAsked bool
	// what the slot's wait holds now (so a wait rewrites names only when they change)
	curWait waitState
	// node -> index in statSlot.nodes, and the connection last published for it
	nodeIdx  = map[string]int{}
	nodeConn = map[string]*dist.Conn{}
)

type waitState struct {
	kind         C.int32_t
	server, node string
}

func backendStat() *C.PlerlBackendStat {
	if !statSlotAsked {
		statSlotAsked = true
		statSlot = C.plerl_stat_backend()
	}
	return statSlot
}

func slotBegin(b *C.PlerlBackendStat) { atomic.AddUint32((*uint32)(unsafe.Pointer(&b.changecount)), 1) }
func slotEnd(b *C.PlerlBackendStat)   { atomic.AddUint32((*uint32)(unsafe.Pointer(&b.changecount)), 1) }

// putC copies s, cut to fit, NUL-terminated into a C char array of size bytes.
func putC(dst unsafe.Pointer, size int, s string) {
	if len(s) > size-1 {
		s = s[:size-1]
	}
	b := unsafe.Slice((*byte)(dst), size)
	b[copy(b, s)] = 0
}

// setWait publishes w as what the backend waits for (kind NONE: nothing,
// one store).
func setWait(w waitState) {
	b := backendStat()
	if b == nil {
		return
	}
	if w.kind == C.PLERL_WAIT_NONE {
		atomic.StoreInt32((*int32)(unsafe.Pointer(&b.wait_kind)), 0)
		curWait.kind = 0
		return
	}
	slotBegin(b)
	b.wait_kind = w.kind
	b.wait_since_us = C.int64_t(time.Now().UnixMicro())
	if w.server != curWait.server {
		putC(unsafe.Pointer(&b.wait_server[0]), len(b.wait_server), w.server)
	}
	if w.node != curWait.node {
		putC(unsafe.Pointer(&b.wait_node[0]), len(b.wait_node), w.node)
	}
	slotEnd(b)
	curWait = w
}

// waitOn names the node of the current wait once it is known (a group's
// member), keeping its kind and start.
func waitOn(node string) {
	if curWait.kind == C.PLERL_WAIT_NONE || curWait.node == node {
		return
	}
	b := backendStat()
	slotBegin(b)
	putC(unsafe.Pointer(&b.wait_node[0]), len(b.wait_node), node)
	slotEnd(b)
	curWait.node = node
}

// nodeSlot is node's slot (claimed if new: a free one, else one not
// connected), or nil if there is none.
func nodeSlot(b *C.PlerlBackendStat, node string) *C.PlerlNodeSlot {
	if i, ok := nodeIdx[node]; ok {
		return &b.nodes[i]
	}
	pick := -1
	for i := range b.nodes {
		if _, used := usedIdx(i); !used {
			pick = i
			break
		}
		if pick < 0 && C.GoString(&b.nodes[i].state[0]) != "connected" {
			pick = i
		}
	}
	if pick < 0 {
		return nil
	}
	if old, used := usedIdx(pick); used {
		delete(nodeIdx, old)
		forgetTicks(nodeConn[old])
		delete(nodeConn, old)
	}
	n := &b.nodes[pick]
	slotBegin(b)
	*n = C.PlerlNodeSlot{}
	n.last_rtt_ms = -1
	putC(unsafe.Pointer(&n.node[0]), len(n.node), node)
	slotEnd(b)
	nodeIdx[node] = pick
	return n
}

func usedIdx(i int) (string, bool) {
	for n, j := range nodeIdx {
		if j == i {
			return n, true
		}
	}
	return "", false
}

// nodeConnected publishes the outcome of connecting to node through server
// (the slow path of connNode): a new connection counts in connects.
func nodeConnected(server, node string, c *dist.Conn, err error) {
	b := backendStat()
	if b == nil {
		return
	}
	n := nodeSlot(b, node)
	if n == nil {
		return
	}
	now := C.int64_t(time.Now().UnixMicro())
	slotBegin(b)
	putC(unsafe.Pointer(&n.server[0]), len(n.server), server)
	if err != nil {
		putC(unsafe.Pointer(&n.state[0]), len(n.state), "down")
		putC(unsafe.Pointer(&n.last_error[0]), len(n.last_error), err.Error())
		n.last_error_us = now
		n.failures++
		n.since_us = now
		forgetTicks(nodeConn[node])
		delete(nodeConn, node)
	} else if nodeConn[node] != c {
		putC(unsafe.Pointer(&n.state[0]), len(n.state), "connected")
		n.connects++
		n.since_us = now
		forgetTicks(nodeConn[node])
		nodeConn[node] = c
		tickSlots.Store(c, n) // from now on its probes land in n (publishTickRTT)
	}
	slotEnd(b)
}

// tickSlots: connection -> the node slot its tick probes are published in.
// Set and deleted by the backend's goroutine, read by the connections'
// timer and reader goroutines (publishTickRTT): the one thing in the slot
// another thread writes, with one atomic store into tick_word, so it
// changes while the backend is idle in PostgreSQL.
var tickSlots sync.Map

// forgetTicks: c's probes are no longer this backend's business (the node
// failed, was disconnected, or its slot goes to another node); the slot's
// tick_word is cleared.
func forgetTicks(c *dist.Conn) {
	if c == nil {
		return
	}
	if v, ok := tickSlots.LoadAndDelete(c); ok {
		atomic.StoreUint64((*uint64)(unsafe.Pointer(&v.(*C.PlerlNodeSlot).tick_word)), 0)
	}
}

// publishTickRTT (dist.Config.OnTickRTT, on a connection's goroutine, never
// the backend's): the round trip of the tick probe just answered on c and
// when, into c's slot. Plain shared memory, no call into PostgreSQL. A
// probe answered while the backend hands the slot to another node could
// land there once (the backend only does that for a node not connected,
// whose connection no longer ticks); the next probe overwrites it.
func publishTickRTT(c *dist.Conn) {
	v, ok := tickSlots.Load(c)
	if !ok {
		return
	}
	rtt, at := c.TickRTT()
	if at.IsZero() {
		return
	}
	us := min(uint64(rtt.Microseconds()), 1<<C.PLERL_TICK_RTT_BITS-1)
	w := uint64(at.Unix())<<C.PLERL_TICK_RTT_BITS | us
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&v.(*C.PlerlNodeSlot).tick_word)), w)
}

// nodeDisconnected: erlang_disconnect closed this backend's session.
func nodeDisconnected(node string) {
	b := backendStat()
	if b == nil {
		return
	}
	i, ok := nodeIdx[node]
	if !ok {
		return
	}
	n := &b.nodes[i]
	slotBegin(b)
	putC(unsafe.Pointer(&n.state[0]), len(n.state), "disconnected")
	n.since_us = C.int64_t(time.Now().UnixMicro())
	slotEnd(b)
	forgetTicks(nodeConn[node])
	delete(nodeConn, node)
}

// nodeMember publishes a group member's state (up, down).
func nodeMember(server, node, state string) {
	b := backendStat()
	if b == nil {
		return
	}
	if n := nodeSlot(b, node); n != nil {
		slotBegin(b)
		putC(unsafe.Pointer(&n.server[0]), len(n.server), server)
		putC(unsafe.Pointer(&n.member_state[0]), len(n.member_state), state)
		slotEnd(b)
	}
}

// nodeRTT publishes the round trip of the last request answered on c.
func nodeRTT(c *dist.Conn) {
	b := backendStat()
	if b == nil || c == nil {
		return
	}
	if i, ok := nodeIdx[c.Node()]; ok {
		slotBegin(b)
		b.nodes[i].last_rtt_ms = C.double(float64(c.LastRTT()) / float64(time.Millisecond))
		slotEnd(b)
	}
}
