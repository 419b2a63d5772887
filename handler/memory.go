package main

import (
	"crypto/fips140"
	"runtime"
	"strings"
	"syscall"
	"unsafe"
)

// fipsScratch is Go 1.26's crypto/internal/fips140/drbg.memory: a 32 MB
// buffer in the library's BSS that only the FIPS 140-3 entropy source
// touches. BSS is private writable memory, so the kernel charges all 32 MB to
// every backend's commit (Committed_AS) when plerl_go.so is loaded, touched or
// not: a third of what a backend commits for plerl, and what fails first
// under vm.overcommit_memory = 2 (docs/internals/boundary.md, "Memory").
// Linking to it needs -checklinkname=0 (Makefile).
//
//go:linkname fipsScratch crypto/internal/fips140/drbg.memory
var fipsScratch [1 << 25]byte

// releaseFIPSScratch replaces the pages of fipsScratch with an inaccessible
// mapping that is not charged to the commit. Outside FIPS mode nothing reads
// or writes the buffer (drbg.Read uses the OS generator), so nothing can
// fault on it. Only for the Go release whose layout was checked; in FIPS
// mode (which needs GODEBUG at link time: the environment is invisible to a
// backend) it leaves the buffer alone.
func releaseFIPSScratch() {
	if fips140.Enabled() || !strings.HasPrefix(runtime.Version(), "go1.26") {
		return
	}
	const page = 4096
	start := (uintptr(unsafe.Pointer(&fipsScratch)) + page - 1) &^ (page - 1)
	end := (uintptr(unsafe.Pointer(&fipsScratch)) + unsafe.Sizeof(fipsScratch)) &^ (page - 1)
	if end <= start {
		return
	}
	// Best effort: if the kernel refuses, the pages stay as they were.
	_, _, _ = syscall.Syscall6(syscall.SYS_MMAP, start, end-start, syscall.PROT_NONE,
		syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS|syscall.MAP_FIXED|syscall.MAP_NORESERVE, ^uintptr(0), 0)
}
