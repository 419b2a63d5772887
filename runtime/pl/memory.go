// Memory accounting for plerl.lua_memory_limit (gopher-lua has no allocator hook).
package pl

import "runtime/metrics"

// heapBytes is the Go heap in use (live and not yet swept objects); the
// Lua states are most of it. Cheap: no stop-the-world. Safe from any goroutine.
func heapBytes() uint64 {
	sample := [1]metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample[:])
	if sample[0].Value.Kind() == metrics.KindUint64 {
		return sample[0].Value.Uint64()
	}
	return 0
}

// HeapBytes is heapBytes for the handler's poller.
func HeapBytes() uint64 { return heapBytes() }
