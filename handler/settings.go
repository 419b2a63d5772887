// settings: plerl's GUCs as Go reads them (owned by plerl.so).
package main

/*
#include "postgres.h"
#include "fmgr.h"
#include "plerl_shared.h"
extern const PlerlSettings *plerl_get_settings(void);
extern const PlerlSettings *plerl_settings;
*/
import "C"

import "time"

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

func readSettings() settingsSnapshot {
	s := C.plerl_get_settings()
	return settingsSnapshot{
		CallTimeout:    time.Duration(s.call_timeout_ms) * time.Millisecond,
		ConnectTimeout: time.Duration(s.connect_timeout_ms) * time.Millisecond,
		MaxMessage:     int(s.max_message_kb) * 1024,
		MaxConnections: int(s.max_connections),
		MaxAtoms:       int(s.max_atoms),
		LuaMemoryLimit: uint64(s.lua_memory_limit_kb) * 1024,
		LuaTimeLimit:   time.Duration(s.lua_time_limit_ms) * time.Millisecond,
		TickTime:       time.Duration(s.tick_time_s) * time.Second,
		NodePrefix:     C.GoString(s.node_prefix),
		NodeHost:       C.GoString(s.node_host),
		NullAtom:       C.GoString(s.null_atom),
	}
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
	}
}
