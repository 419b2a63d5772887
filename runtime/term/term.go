// Go representation of Erlang terms: one type per kind of term.
package term

import "math/big"

// Atom is an Erlang atom. Atoms are only ever created when a caller asks
// for one: strings travel as Binary.
type Atom string

// Binary is a byte-aligned binary (BINARY_EXT).
type Binary []byte

// BitBinary is a binary whose last byte holds Bits (1..7) significant bits.
type BitBinary struct {
	Bytes []byte
	Bits  uint8
}

// Integers decode to int64 when they fit and to *big.Int otherwise; encoders
// accept int, int32, int64, uint64 and *big.Int.
type BigInt = *big.Int

// Tuple is an Erlang tuple.
type Tuple []any

// List is a proper list; a nil or empty List is [] (NIL_EXT).
type List []any

// ImproperList is [E1, E2, ... | Tail] where Tail is not a list.
type ImproperList struct {
	Elems []any
	Tail  any
}

// Pair is one key/value association of a Map.
type Pair struct {
	Key, Value any
}

// Map is an Erlang map as an ordered list of pairs, so any term can be a key.
type Map []Pair

// Pid is a process identifier (NEW_PID_EXT).
type Pid struct {
	Node     Atom
	ID       uint32
	Serial   uint32
	Creation uint32
}

// Ref is a reference (NEWER_REFERENCE_EXT); IDs has 1 to 5 words.
type Ref struct {
	Node     Atom
	Creation uint32
	IDs      []uint32
}

// Port is a port identifier (V4_PORT_EXT / NEW_PORT_EXT).
type Port struct {
	Node     Atom
	ID       uint64
	Creation uint32
}

// Fun is a fun (NEW_FUN_EXT or EXPORT_EXT) kept as its raw encoding (without
// the version byte), so it can be passed back unchanged.
type Fun struct {
	Raw []byte
}
