// Package term holds plerl's Go representation of Erlang terms, the external
// term format codec used on the wire (Decode, Append), term equality and
// order (Equal, Compare), and the jsonb mapping used by SQL (json.go).
//
// # Why our own codec, and how erlang_go is used
//
// The product brief says terms are encoded with github.com/okeuday/erlang_go.
// We do not use it at run time, for three reasons found in v2.0.7:
//
//   - its OtpErlangMap is a Go map, so a map whose keys are binaries, tuples
//     or lists (every Elixir map with string keys) fails to decode with
//     "map key not comparable";
//   - BinaryToTerm rejects trailing bytes and cannot report how many bytes it
//     consumed, which splitting a distribution message <<112, Ctrl, Msg>>
//     needs;
//   - it reads through bytes.Reader and encoding/binary.Read (reflection),
//     allocates for every field of a pid or reference, maps the atoms
//     true/false/undefined to Go bool/nil (so they do not round-trip), and
//     its NEW_FUN_EXT decoder reads 4 bytes too many (it treats Size as
//     excluding itself).
//
// erlang_go is used only in this package's tests, as an independent oracle
// (oracle_test.go): for every term kind it supports, our encoding must
// decode with erlang.BinaryToTerm to the same term, and erlang.TermToBinary's
// output must decode with Decode to the same term. The comparison converts
// between its types and ours (its bool/nil atoms, its int kinds) in one
// place. Funs and maps with non-comparable keys are outside what it can
// check; those are covered by golden bytes and by the round trip through a
// real Erlang VM (vm_test.go).
//
// # Types
//
// Decode produces: int64 or *big.Int (only when the value does not fit in
// int64), float64, Atom, Binary, BitBinary, Tuple, List, ImproperList, Map,
// Pid, Ref, Port, Fun. Append accepts these plus Go conveniences listed on
// Append. Atoms true and false decode as Atom; mapping layers decide what
// they become.
package term
