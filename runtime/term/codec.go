// External term format codec: entry points (Decode, Append), tags and limits.
//
// The byte layouts follow the Erlang "External Term Format" chapter of the
// ERTS user's guide (erl_ext_dist); each layout is repeated in a comment
// beside the code that checks its lengths (decode.go, encode.go).
package term

// Tags of the external term format (erl_ext_dist, section per tag name).
const (
	tagVersion       = 131
	tagCompressed    = 80  // 'P': <<80, UncompressedSize:32, ZlibData>>
	tagNewFloat      = 70  // NEW_FLOAT_EXT
	tagBitBinary     = 77  // BIT_BINARY_EXT
	tagAtomCacheRef  = 82  // ATOM_CACHE_REF (only with DIST_HDR_ATOM_CACHE: unsupported)
	tagNewPid        = 88  // NEW_PID_EXT
	tagNewPort       = 89  // NEW_PORT_EXT
	tagNewerRef      = 90  // NEWER_REFERENCE_EXT
	tagSmallInt      = 97  // SMALL_INTEGER_EXT
	tagInt           = 98  // INTEGER_EXT
	tagFloat         = 99  // FLOAT_EXT (old, textual)
	tagAtom          = 100 // ATOM_EXT (Latin-1, deprecated)
	tagRef           = 101 // REFERENCE_EXT (old)
	tagPort          = 102 // PORT_EXT (old)
	tagPid           = 103 // PID_EXT (old)
	tagSmallTuple    = 104 // SMALL_TUPLE_EXT
	tagLargeTuple    = 105 // LARGE_TUPLE_EXT
	tagNil           = 106 // NIL_EXT
	tagString        = 107 // STRING_EXT
	tagList          = 108 // LIST_EXT
	tagBinary        = 109 // BINARY_EXT
	tagSmallBig      = 110 // SMALL_BIG_EXT
	tagLargeBig      = 111 // LARGE_BIG_EXT
	tagNewFun        = 112 // NEW_FUN_EXT
	tagExport        = 113 // EXPORT_EXT
	tagNewRef        = 114 // NEW_REFERENCE_EXT
	tagSmallAtom     = 115 // SMALL_ATOM_EXT (Latin-1, deprecated)
	tagMap           = 116 // MAP_EXT
	tagFun           = 117 // FUN_EXT (removed in OTP 23: unsupported)
	tagAtomUTF8      = 118 // ATOM_UTF8_EXT
	tagSmallAtomUTF8 = 119 // SMALL_ATOM_UTF8_EXT
	tagV4Port        = 120 // V4_PORT_EXT
	tagLocal         = 121 // LOCAL_EXT (node-local, opaque: unsupported)
)

// Default limits used when a Limits field is zero (or lim is nil).
const (
	DefaultMaxDepth        = 1000
	DefaultMaxItems        = 10_000_000
	DefaultMaxUncompressed = 64 << 20
)

// Limits bound what Decode accepts from an untrusted peer. Zero means the default.
type Limits struct {
	MaxDepth        int // nesting depth of containers (default 1000)
	MaxItems        int // total number of terms in one message (default 10,000,000)
	MaxUncompressed int // bytes a compressed term (tag 80) may inflate to (default 64 MiB)
}

// Decode decodes one term from data, which starts with the version byte 131.
// It returns the term and the number of bytes consumed (version byte
// included), so a distribution message <<112, Ctrl, Msg>> can be split.
//
// Decoded Go types: int64 (or *big.Int when the value does not fit), float64,
// Atom (true, false and nil stay atoms), Binary, BitBinary, Tuple, List (also
// for STRING_EXT, whose bytes become int64 elements), ImproperList, Map, Pid,
// Ref, Port and Fun. Fun.Raw is re-encoded in a canonical form (UTF-8
// atoms, smallest integers), which the VM reads as the same fun, so equal
// funs have equal Raw. Binaries and atoms are copied: the result never
// aliases data. Errors are *DecodeError; no input makes Decode panic, and the memory
// it allocates is bounded by a small multiple of len(data) (or of
// MaxUncompressed for a compressed term).
func Decode(data []byte, lim *Limits) (any, int, error) {
	d := decoder{data: data}
	d.setLimits(lim)
	if len(data) == 0 {
		return nil, 0, d.malformed("empty input")
	}
	if data[0] != tagVersion {
		return nil, 0, d.malformed("no version byte 131")
	}
	d.pos = 1
	if len(data) > 1 && data[1] == tagCompressed {
		return d.compressed()
	}
	t, err := d.term(0)
	if err != nil {
		return nil, 0, err
	}
	return t, d.pos, nil
}

// Append appends 131 and the encoding of t to buf. On error it returns buf
// unchanged (same length) and an *EncodeError.
//
// Accepted Go values: the types of this package; int, int8, int16, int32,
// int64, uint, uint8, uint16, uint32, uint64 and *big.Int (smallest integer
// encoding); float32 and float64 (NEW_FLOAT_EXT; NaN and infinities are
// errors, Erlang has none); bool (atoms true/false); string and []byte
// (BINARY_EXT: a string is never a charlist); []any (a proper list).
//
// A Go nil is an error, not an atom: Erlang has no nil value, and whether
// the caller means nil (Elixir), undefined or null is its decision, so it
// must say Atom("nil") or Atom("undefined"). Other Go types (maps, structs,
// pointers) are errors as well.
func Append(buf []byte, t any) ([]byte, error) {
	out, err := appendTerm(append(buf, tagVersion), t, 0)
	if err != nil {
		return buf, err
	}
	return out, nil
}

// AppendNoVersion appends the encoding of t without the version byte, for
// callers that build their own framing (e.g. a term nested in a larger
// encoding). Same rules as Append.
func AppendNoVersion(buf []byte, t any) ([]byte, error) {
	out, err := appendTerm(buf, t, 0)
	if err != nil {
		return buf, err
	}
	return out, nil
}

// Encode returns the encoding of t with the version byte (Append to nil).
func Encode(t any) ([]byte, error) { return Append(nil, t) }
