// Lua values <-> Erlang terms (the mapping of the erlang module; see
// docs/lua-api.md, "Erlang values in Lua").
package pl

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"github.com/plerl/plerl/runtime/sqlstate"
	"github.com/plerl/plerl/runtime/term"
)

const (
	atomMetaName  = "erlang.atom"
	tupleMetaName = "erlang.tuple"
	mapMetaName   = "erlang.map"
	termMetaName  = "erlang.term"
	maxTermDepth  = 1000
	// maxSparseKey: integer map keys up to here are taken as they come (at
	// most 64 MB of array slots); above it only where the map is dense.
	maxSparseKey = 1 << 22
)

// TermOptions are the per-call settings of the mapping.
type TermOptions struct {
	NullAtom term.Atom // what nil and erlang.null become, and become again
	MaxAtoms int       // distinct atoms one outgoing term may carry (<0: none); true/false/null are free
}

// registerErlangTypes defers the metatables of atoms, terms, tuples and
// maps (one build makes all four) to the first Erlang value (metaOf).
func registerErlangTypes(s *State) {
	build := s.buildErlangMetas
	for _, name := range []string{atomMetaName, termMetaName, tupleMetaName, mapMetaName} {
		s.lazyTypeMeta(name, build)
	}
}

func (s *State) buildErlangMetas() {
	L := s.L
	protect := func(mt *lua.LTable, name string) {
		mt.RawSetString("__name", lua.LString(name))
		mt.RawSetString("__metatable", lua.LString(name))
	}
	atomMT := newTypeMeta(L, atomMetaName, 4)
	protect(atomMT, "atom")
	atomMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(string(atomOf(L.CheckUserData(1)))))
		return 1
	}))
	atomMT.RawSetString("__concat", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(s.tostring(L.Get(1)) + s.tostring(L.Get(2))))
		return 1
	}))
	termMT := newTypeMeta(L, termMetaName, 4)
	protect(termMT, "erlang term")
	termMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		ud := L.CheckUserData(1)
		L.Push(lua.LString(describeTerm(ud.Value)))
		return 1
	}))
	termMT.RawSetString("__eq", L.NewFunction(func(L *lua.LState) int {
		a, b := L.CheckUserData(1), L.CheckUserData(2)
		L.Push(lua.LBool(term.Equal(a.Value, b.Value)))
		return 1
	}))
	tupleMT := newTypeMeta(L, tupleMetaName, 2)
	tupleMT.RawSetString("__name", lua.LString("tuple"))
	tupleMT.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		v, err := s.ToTerm(t, &TermOptions{NullAtom: "nil", MaxAtoms: math.MaxInt32})
		if err != nil {
			L.Push(lua.LString("{...}"))
			return 1
		}
		L.Push(lua.LString(describeTerm(v)))
		return 1
	}))
	mapMT := newTypeMeta(L, mapMetaName, 1)
	mapMT.RawSetString("__name", lua.LString("map"))
}

func atomOf(ud *lua.LUserData) term.Atom {
	a, _ := ud.Value.(term.Atom)
	return a
}

// Atom returns the interned atom userdata for name, so atoms compare with ==.
func (s *State) Atom(name term.Atom) *lua.LUserData {
	if ud, ok := s.atoms[name]; ok {
		return ud
	}
	ud := s.L.NewUserData()
	ud.Value = name
	ud.Metatable = s.metaOf(atomMetaName)
	if s.atoms == nil {
		s.atoms = map[term.Atom]*lua.LUserData{}
	}
	if len(s.atoms) < 100000 { // the cache is bounded; atoms beyond it still work
		s.atoms[name] = ud
	}
	return ud
}

func (s *State) wrapTerm(t any) *lua.LUserData {
	ud := s.L.NewUserData()
	ud.Value = t
	ud.Metatable = s.metaOf(termMetaName)
	return ud
}

func (s *State) isType(v lua.LValue, name string) bool {
	var mt lua.LValue
	switch x := v.(type) {
	case *lua.LUserData:
		mt = x.Metatable
	case *lua.LTable:
		mt = x.Metatable
	default:
		return false
	}
	return mt != lua.LNil && mt == s.L.GetTypeMetatable(name)
}

// termError is a conversion failure (22023 or 54000).
func termError(state, format string, args ...any) *Error {
	return Errorf(state, format, args...)
}

// ToTerm converts a Lua value to an Erlang term.
func (s *State) ToTerm(v lua.LValue, opt *TermOptions) (any, error) {
	atoms := map[term.Atom]struct{}{}
	return s.toTerm(v, opt, 0, atoms)
}

func (s *State) countAtom(a term.Atom, opt *TermOptions, atoms map[term.Atom]struct{}) error {
	if a == "true" || a == "false" || a == opt.NullAtom {
		return nil
	}
	if _, ok := atoms[a]; ok {
		return nil
	}
	atoms[a] = struct{}{}
	if opt.MaxAtoms < 0 || len(atoms) > opt.MaxAtoms {
		return termError(sqlstate.ProgramLimitExceeded, "a term may carry at most %d distinct atoms (plerl.max_atoms)", max(opt.MaxAtoms, 0))
	}
	return nil
}

func (s *State) toTerm(v lua.LValue, opt *TermOptions, depth int, atoms map[term.Atom]struct{}) (any, error) {
	if depth > maxTermDepth {
		return nil, termError(sqlstate.ProgramLimitExceeded, "value nested deeper than %d levels (or a table that contains itself)", maxTermDepth)
	}
	switch x := v.(type) {
	case *lua.LNilType:
		return opt.NullAtom, nil
	case lua.LBool:
		if x {
			return term.Atom("true"), nil
		}
		return term.Atom("false"), nil
	case lua.LNumber:
		f := float64(x)
		// -0.0 stays a float: there is no integer -0, and the sign is
		// what the value says.
		if f == math.Trunc(f) && math.Abs(f) <= maxExact && !(f == 0 && math.Signbit(f)) {
			return int64(f), nil
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, termError(sqlstate.InvalidParameterValue, "Erlang has no float %v", f)
		}
		return f, nil
	case lua.LString:
		return term.Binary(x), nil
	case *lua.LUserData:
		switch {
		case x == s.null:
			return opt.NullAtom, nil
		case s.isType(x, atomMetaName):
			a := atomOf(x)
			if err := s.countAtom(a, opt, atoms); err != nil {
				return nil, err
			}
			return a, nil
		case s.isType(x, termMetaName):
			return x.Value, nil
		}
		if i, ok := x.Value.(int64); ok {
			return i, nil
		}
		if d, ok := x.Value.(DateTime); ok {
			return dateTimeTerm(d)
		}
		if r, ok := x.Value.(textValue); ok {
			// A range or timetz is its SQL text, a binary (as before they were values).
			return term.Binary(r.SQLText()), nil
		}
		if n, ok := s.exactInteger(x); ok {
			return n, nil
		}
		return nil, termError(sqlstate.InvalidParameterValue, "cannot send %s to Erlang", s.typeName(x))
	case *lua.LTable:
		return s.tableToTerm(x, opt, depth, atoms)
	}
	return nil, termError(sqlstate.InvalidParameterValue, "cannot send a Lua %s to Erlang", v.Type().String())
}

// exactInteger accepts other exact-number userdata (numeric) whose text is an integer.
func (s *State) exactInteger(ud *lua.LUserData) (any, bool) {
	if s.L.GetMetaField(ud, "__tostring") == lua.LNil {
		return nil, false
	}
	str := s.tostring(ud)
	n, ok := new(big.Int).SetString(str, 10)
	if !ok {
		return nil, false
	}
	if n.IsInt64() {
		return n.Int64(), true
	}
	return n, true
}

func (s *State) tableToTerm(t *lua.LTable, opt *TermOptions, depth int, atoms map[term.Atom]struct{}) (any, error) {
	if s.isType(t, tupleMetaName) {
		n := t.Len()
		out := make(term.Tuple, n)
		for i := 1; i <= n; i++ {
			e, err := s.toTerm(t.RawGetInt(i), opt, depth+1, atoms)
			if err != nil {
				return nil, err
			}
			out[i-1] = e
		}
		return out, nil
	}
	asMap := s.isType(t, mapMetaName)
	n := t.Len()
	count := 0
	t.ForEach(func(lua.LValue, lua.LValue) { count++ })
	// A sequence has exactly the keys 1..n. The length operator gives any
	// border, so check: {[5] = x, a = 1, b = 2, c = 3, d = 4} has five
	// keys and may have length 5, and is no list.
	seq := !asMap && count == n
	for i := 1; seq && i <= n; i++ {
		seq = t.RawGetInt(i) != lua.LNil
	}
	if seq {
		out := make(term.List, n)
		for i := 1; i <= n; i++ {
			e, err := s.toTerm(t.RawGetInt(i), opt, depth+1, atoms)
			if err != nil {
				return nil, err
			}
			out[i-1] = e
		}
		return out, nil
	}
	out := make(term.Map, 0, count)
	var ferr error
	t.ForEach(func(k, v lua.LValue) {
		if ferr != nil {
			return
		}
		kt, err := s.toTerm(k, opt, depth+1, atoms)
		if err != nil {
			ferr = err
			return
		}
		vt, err := s.toTerm(v, opt, depth+1, atoms)
		if err != nil {
			ferr = err
			return
		}
		out = append(out, term.Pair{Key: kt, Value: vt})
	})
	if ferr != nil {
		return nil, ferr
	}
	// Deterministic order (Lua's iteration order is not).
	sort.Slice(out, func(i, j int) bool { return term.Compare(out[i].Key, out[j].Key) < 0 })
	// Two Lua keys can be one Erlang term (two tables or two int64 values
	// with the same contents). A map with a duplicate key is not a term: the
	// peer would drop the whole connection on receiving it.
	for i := 1; i < len(out); i++ {
		if term.Compare(out[i-1].Key, out[i].Key) == 0 {
			k := describeTerm(out[i].Key)
			if len(k) > 60 {
				k = strings.ToValidUTF8(k[:60], "") + "..."
			}
			return nil, termError(sqlstate.InvalidParameterValue, "a table has two keys that are the same Erlang term %s", k)
		}
	}
	return out, nil
}

// FromTerm converts an Erlang term to a Lua value. At the top level the
// null atom becomes nil; inside containers it becomes erlang.null.
func (s *State) FromTerm(t any, opt *TermOptions) (lua.LValue, error) {
	if a, ok := t.(term.Atom); ok && a == opt.NullAtom {
		return lua.LNil, nil
	}
	return s.fromTerm(t, opt, 0)
}

func (s *State) fromTerm(t any, opt *TermOptions, depth int) (lua.LValue, error) {
	if depth > maxTermDepth {
		return nil, termError(sqlstate.ProgramLimitExceeded, "term nested deeper than %d levels", maxTermDepth)
	}
	L := s.L
	switch x := t.(type) {
	case term.Atom:
		switch x {
		case "true":
			return lua.LTrue, nil
		case "false":
			return lua.LFalse, nil
		case opt.NullAtom:
			return s.null, nil
		}
		return s.Atom(x), nil
	case int64:
		return s.IntValue(x), nil
	case int:
		return s.IntValue(int64(x)), nil
	case *big.Int:
		if x.IsInt64() {
			return s.IntValue(x.Int64()), nil
		}
		return s.wrapTerm(x), nil
	case float64:
		return lua.LNumber(x), nil
	case term.Binary:
		return lua.LString(x), nil
	case term.Tuple:
		tb := L.CreateTable(len(x), 0)
		for i, e := range x {
			lv, err := s.fromTerm(e, opt, depth+1)
			if err != nil {
				return nil, err
			}
			tb.RawSetInt(i+1, lv)
		}
		L.SetMetatable(tb, s.metaOf(tupleMetaName))
		return tb, nil
	case term.List:
		tb := L.CreateTable(len(x), 0)
		for i, e := range x {
			lv, err := s.fromTerm(e, opt, depth+1)
			if err != nil {
				return nil, err
			}
			tb.RawSetInt(i+1, lv)
		}
		return tb, nil
	case term.Map:
		tb := L.CreateTable(0, len(x))
		for _, p := range x {
			var k lua.LValue
			switch kk := p.Key.(type) {
			case term.Binary:
				k = lua.LString(kk)
			case term.Atom:
				// Elixir structs and atom-keyed maps read naturally; the
				// key comes back as a binary unless wrapped in erlang.atom.
				k = lua.LString(kk)
			default:
				lv, err := s.fromTerm(kk, opt, depth+1)
				if err != nil {
					return nil, err
				}
				k = lv
			}
			if n, ok := k.(lua.LNumber); ok && float64(n) > maxSparseKey && float64(n) == math.Trunc(float64(n)) &&
				float64(n) < float64(lua.MaxArrayIndex) && float64(n) > 2*float64(len(x)) {
				// gopher-lua stores every integer key below MaxArrayIndex
				// in the array part and fills the slots before it: one
				// key 67108863 in a 20-byte reply would take a gigabyte.
				return nil, termError(sqlstate.ProgramLimitExceeded,
					"a map key of %d would make a Lua table of that many slots (sparse integer keys above %d are refused)",
					int64(n), int64(maxSparseKey))
			}
			v, err := s.fromTerm(p.Value, opt, depth+1)
			if err != nil {
				return nil, err
			}
			tb.RawSet(k, v)
		}
		return tb, nil
	case nil:
		return lua.LNil, nil
	}
	// Pids, refs, ports, funs, bit binaries, improper lists, bignums: opaque
	// values that go back exactly as they came.
	return s.wrapTerm(t), nil
}

// maxPrintBits: bignums up to 131072 decimal digits (as many as a numeric
// may have before its decimal point) are printed in full; larger ones, whose
// printing would take seconds to hours, by their size.
const maxPrintBits = 435412

// describeTerm renders a term in Erlang-like syntax for tostring and errors.
func describeTerm(t any) string {
	switch x := t.(type) {
	case term.Atom:
		return string(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case *big.Int:
		if x.BitLen() > maxPrintBits {
			// Decimal printing is quadratic and cannot be interrupted.
			return fmt.Sprintf("#Bignum<%d bits>", x.BitLen())
		}
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case term.Binary:
		return fmt.Sprintf("<<%q>>", string(x))
	case term.Pid:
		return fmt.Sprintf("#Pid<%s.%d.%d>", x.Node, x.ID, x.Serial)
	case term.Ref:
		return fmt.Sprintf("#Ref<%s.%v>", x.Node, x.IDs)
	case term.Port:
		return fmt.Sprintf("#Port<%s.%d>", x.Node, x.ID)
	case term.Fun:
		return "#Fun<>"
	case term.Tuple:
		s := "{"
		for i, e := range x {
			if i > 0 {
				s += ", "
			}
			s += describeTerm(e)
		}
		return s + "}"
	case term.List:
		s := "["
		for i, e := range x {
			if i > 0 {
				s += ", "
			}
			s += describeTerm(e)
		}
		return s + "]"
	case term.ImproperList:
		s := "["
		for i, e := range x.Elems {
			if i > 0 {
				s += ", "
			}
			s += describeTerm(e)
		}
		return s + " | " + describeTerm(x.Tail) + "]"
	case term.Map:
		s := "#{"
		for i, p := range x {
			if i > 0 {
				s += ", "
			}
			s += describeTerm(p.Key) + " => " + describeTerm(p.Value)
		}
		return s + "}"
	}
	return fmt.Sprintf("%v", t)
}

// dateTimeTerm: a date or time value as a tagged tuple of integers, exact
// and without atoms (docs/lua-api.md, "Dates and times"): {<<"date">>,
// {Y, M, D}}, {<<"time">>, {H, Mi, S}, Us}, {<<"timestamp">>, {{Y, M, D},
// {H, Mi, S}}, Us}, {<<"timestamptz">>, UnixMicroseconds} (UTC),
// {<<"interval">>, Months, Days, Microseconds}.
func dateTimeTerm(d DateTime) (any, error) {
	if d.infinite() != 0 {
		return nil, termError(sqlstate.InvalidParameterValue, "cannot send an infinite %s to Erlang", d.Kind)
	}
	ymd := func(c civil) term.Tuple { return term.Tuple{c.year, c.month, c.day} }
	hms := func(c civil) term.Tuple { return term.Tuple{c.hour, c.min, c.sec} }
	switch d.Kind {
	case DTDate:
		return term.Tuple{term.Binary("date"), ymd(toCivil(d.V * usPerDay))}, nil
	case DTTime:
		c := toCivil(d.V)
		if d.V == usPerDay {
			c = civil{hour: 24}
		}
		return term.Tuple{term.Binary("time"), hms(c), c.usec}, nil
	case DTTimestamp:
		c := toCivil(d.V)
		return term.Tuple{term.Binary("timestamp"), term.Tuple{ymd(c), hms(c)}, c.usec}, nil
	case DTTimestampTZ:
		return term.Tuple{term.Binary("timestamptz"), d.V + unixToPG*usPerSec}, nil
	}
	return term.Tuple{term.Binary("interval"), int64(d.Months), int64(d.Days), d.V}, nil
}
