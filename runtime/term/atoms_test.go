package term

import (
	"errors"
	"math/big"
	"reflect"
	"testing"
)

func TestEachAtom(t *testing.T) {
	fun, err := Encode(Tuple{Atom("m"), Atom("f")}) // a stand-in encoding with atoms
	if err != nil {
		t.Fatal(err)
	}
	in := List{
		Atom("a"), true, false, int64(1), big.NewInt(2), 1.5, Binary("x"), "s",
		Tuple{Atom("b"), List{Atom("c")}},
		ImproperList{Elems: []any{Atom("d")}, Tail: Atom("e")},
		Map{{Key: Atom("k"), Value: Atom("v")}},
		Pid{Node: "n1@h"}, Ref{Node: "n2@h"}, Port{Node: "n3@h"},
		Fun{Raw: fun[1:]},
		[]any{Atom("g")},
	}
	var got []string
	if err := EachAtom(in, func(a Atom) error { got = append(got, string(a)); return nil }); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"a": true, "true": true, "false": true, "b": true, "c": true, "d": true,
		"e": true, "k": true, "v": true, "n1@h": true, "n2@h": true, "n3@h": true, "m": true, "f": true, "g": true}
	seen := map[string]bool{}
	for _, a := range got {
		seen[a] = true
	}
	if !reflect.DeepEqual(seen, want) {
		t.Fatalf("atoms %v, want %v", seen, want)
	}
	stop := errors.New("stop")
	n := 0
	if err := EachAtom(in, func(Atom) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("the first error stops the walk: %v after %d", err, n)
	}
}
