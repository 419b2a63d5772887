// settings: plerl's GUCs as Go reads them (owned by plerl.so).
package main

/*
#include "plerl.h"
*/
import "C"

import (
	"time"
	"unsafe"
)

// settings is a snapshot of the GUCs; read only on the backend's goroutine.
type settingsSnapshot struct {
	CallTimeout    time.Duration
	ConnectTimeout time.Duration
	MaxMessage     int
	MaxConnections int
	MaxAtoms       int
	LuaMemoryLimit uint64
	LuaTimeLimit   time.Duration
	TickTime       time.Duration
	NodePrefix     string
	NodeHost       string
	NullAtom       string
}

// readSettings reads plerl.so's settings struct directly (no cgo call); the
// strings are converted only when they change, so a snapshot per request
// costs a few loads.
func readSettings() settingsSnapshot {
	s := C.plerl_settings
	return settingsSnapshot{
		CallTimeout:    time.Duration(s.call_timeout_ms) * time.Millisecond,
		ConnectTimeout: time.Duration(s.connect_timeout_ms) * time.Millisecond,
		MaxMessage:     int(s.max_message_kb) * 1024,
		MaxConnections: int(s.max_connections),
		MaxAtoms:       int(s.max_atoms),
		LuaMemoryLimit: uint64(s.lua_memory_limit_kb) * 1024,
		LuaTimeLimit:   time.Duration(s.lua_time_limit_ms) * time.Millisecond,
		TickTime:       time.Duration(s.tick_time_s) * time.Second,
		NodePrefix:     settingStrings[gucNodePrefix].get(s.node_prefix),
		NodeHost:       settingStrings[gucNodeHost].get(s.node_host),
		NullAtom:       settingStrings[gucNullAtom].get(s.null_atom),
	}
}

// gucString holds the Go copy of one string GUC.
type gucString struct {
	p *C.char
	s string
}

// The string GUCs, each with its Go copy.
const (
	gucNodePrefix = iota
	gucNodeHost
	gucNullAtom
	nGucStrings
)

var settingStrings [nGucStrings]gucString

// get returns p as a Go string, reusing the last copy when p is the same
// pointer and still holds the same bytes (a SET may free and reuse it).
func (c *gucString) get(p *C.char) string {
	if p == nil {
		return ""
	}
	if p == c.p && cstrEquals(p, c.s) {
		return c.s
	}
	c.p, c.s = p, C.GoString(p)
	return c.s
}

// cstrEquals compares a NUL-terminated C string with s, reading no byte
// past the terminator.
func cstrEquals(p *C.char, s string) bool {
	for i := 0; i < len(s); i++ {
		if b := *(*byte)(unsafe.Add(unsafe.Pointer(p), i)); b != s[i] {
			return false // also stops at the terminator: s holds no NUL
		}
	}
	return *(*byte)(unsafe.Add(unsafe.Pointer(p), len(s))) == 0
}

// refreshLimits copies the Lua limits for the poller: plain loads of C
// memory, no cgo call (this runs once per outermost call).
func refreshLimits() {
	s := C.plerl_settings
	// Loads are plain MOVs; store only on change (a store is a locked XCHG).
	if t := int64(s.lua_time_limit_ms) * int64(time.Millisecond); timeLimit.Load() != t {
		timeLimit.Store(t)
	}
	if m := uint64(s.lua_memory_limit_kb) * 1024; memoryLimit.Load() != m {
		memoryLimit.Store(m)
		engine.SetMemoryLimit(m)
	}
}
