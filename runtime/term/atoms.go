// Atoms: every atom an outgoing term would make on the node that decodes it.
package term

import "math/big"

// EachAtom calls visit for every atom a node decoding t would look up or
// create: atoms and booleans, the node names of pids, references and ports,
// and every atom inside a fun's encoding (its module, function and free
// variables). Atoms are visited once per occurrence; visit's first error
// stops the walk and is returned. Go strings and []byte are binaries and
// carry no atom.
//
// The walk is iterative (no recursion on nesting) and costs O(size of t):
// callers use it on every outgoing request to hold atoms to what a DBA
// allowed, since a node never frees an atom.
func EachAtom(t any, visit func(Atom) error) error {
	stack := []any{t}
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch v := x.(type) {
		case Atom:
			if err := visit(v); err != nil {
				return err
			}
		case bool:
			a := Atom("false")
			if v {
				a = "true"
			}
			if err := visit(a); err != nil {
				return err
			}
		case Tuple:
			stack = append(stack, v...)
		case List:
			stack = append(stack, v...)
		case []any:
			stack = append(stack, v...)
		case ImproperList:
			stack = append(stack, v.Elems...)
			stack = append(stack, v.Tail)
		case Map:
			for _, p := range v {
				stack = append(stack, p.Key, p.Value)
			}
		case Pid:
			if err := visit(v.Node); err != nil {
				return err
			}
		case Ref:
			if err := visit(v.Node); err != nil {
				return err
			}
		case Port:
			if err := visit(v.Node); err != nil {
				return err
			}
		case Fun:
			if err := funAtoms(v.Raw, visit); err != nil {
				return err
			}
		case int64, int, float64, *big.Int, Binary, BitBinary, string, []byte, nil:
		}
	}
	return nil
}

// funAtoms visits the atoms inside a fun's external encoding (no version byte).
func funAtoms(raw []byte, visit func(Atom) error) error {
	var err error
	d := decoder{data: raw}
	d.setLimits(nil)
	d.onAtom = func(a Atom) {
		if err == nil {
			err = visit(a)
		}
	}
	if _, derr := d.term(0); derr != nil && err == nil {
		return derr
	}
	return err
}
