// Package pl is plerl's Lua engine: per-role sandboxed Lua states, a cache
// of compiled function bodies, the built-ins Lua sees (print, elog, pcall as
// a subtransaction, spi, erlang), and the conversions between Lua values and
// what the backend passes in and out.
//
// It is pure Go: the backend reaches it through the Host interface, which
// the cgo handler implements with C guards and tests implement with fakes.
// Nothing here is safe for concurrent use: only the goroutine that entered
// from the backend thread calls an Engine.
package pl
