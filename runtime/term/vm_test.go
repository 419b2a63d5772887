package term

import (
	"bufio"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Round trips through a real Erlang VM: testdata/plerl_term_echo.erl runs as
// a port program on our stdin/stdout with 4-byte length frames.

type vmEcho struct {
	t   *testing.T
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startVM(t *testing.T) *vmEcho {
	t.Helper()
	if _, err := exec.LookPath("erl"); err != nil {
		t.Skip("erl not on PATH")
	}
	dir := t.TempDir()
	if out, err := exec.Command("erlc", "-o", dir, filepath.Join("testdata", "plerl_term_echo.erl")).CombinedOutput(); err != nil {
		t.Fatalf("erlc: %v\n%s", err, out)
	}
	cmd := exec.Command("erl", "-noinput", "-pa", dir, "-s", "plerl_term_echo", "main")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	vm := &vmEcho{t: t, cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		in.Close() // the VM halts on eof
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() // only the process this test started
			<-done
		}
	})
	return vm
}

func (vm *vmEcho) call(req []byte) []byte {
	vm.t.Helper()
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(req)))
	if _, err := vm.in.Write(append(frame, req...)); err != nil {
		vm.t.Fatalf("write to VM: %v", err)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(vm.out, hdr[:]); err != nil {
		vm.t.Fatalf("read from VM: %v", err)
	}
	resp := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(vm.out, resp); err != nil {
		vm.t.Fatalf("read from VM: %v", err)
	}
	return resp
}

// echo sends t through binary_to_term/term_to_binary in the VM and returns
// what comes back, decoded.
func (vm *vmEcho) echo(op byte, t any) any {
	vm.t.Helper()
	enc, err := Append([]byte{op}, t)
	if err != nil {
		vm.t.Fatalf("Append(%#v): %v", t, err)
	}
	resp := vm.call(enc)
	if string(resp[:2]) != "ok" {
		if c := vm.culprit(t); c != nil {
			enc, _ := Append(nil, c)
			vm.t.Fatalf("VM rejects %#v encoded as %v", c, enc)
		}
		vm.t.Fatalf("VM rejected our encoding (%s) of %#v (%v)", resp[2:], t, enc[1:])
	}
	got, n, err := Decode(resp[2:], nil)
	if err != nil || n != len(resp)-2 {
		vm.t.Fatalf("Decode(VM's %v) = %d, %v", resp[2:], n, err)
	}
	return got
}

func TestVMRoundTrip(t *testing.T) {
	vm := startVM(t)
	r := rand.New(rand.NewPCG(3, 4))
	n := 2000
	if testing.Short() {
		n = 200
	}
	for i := range n {
		term := genTerm(r, 0, genOpts{maxDepth: 5})
		op := byte('E')
		if i%5 == 0 {
			op = 'Z'
		}
		if got := vm.echo(op, term); !Equal(got, term) {
			t.Fatalf("#%d VM returned %#v for %#v", i, got, term)
		}
	}
}

// TestVMSpecials: pids, references, a port and funs made by the VM come back
// identical (=:= in the VM) after our Decode and Append.
func TestVMSpecials(t *testing.T) {
	vm := startVM(t)
	resp := vm.call([]byte("S"))
	specials, n, err := Decode(resp, nil)
	if err != nil || n != len(resp) {
		t.Fatalf("Decode(specials) = %v, %d, %v", specials, n, err)
	}
	tup, ok := specials.(Tuple)
	if !ok || len(tup) != 15 {
		t.Fatalf("specials = %#v", specials)
	}
	want := []func(any) bool{
		func(x any) bool { _, ok := x.(Pid); return ok },
		func(x any) bool { r, ok := x.(Ref); return ok && len(r.IDs) >= 3 },
		func(x any) bool { _, ok := x.(Port); return ok },
		func(x any) bool { f, ok := x.(Fun); return ok && f.Raw[0] == tagExport },
		func(x any) bool { f, ok := x.(Fun); return ok && f.Raw[0] == tagNewFun },
		func(x any) bool { _, ok := x.(Ref); return ok },
		func(x any) bool { _, ok := x.(Ref); return ok },
		func(x any) bool { _, ok := x.(Pid); return ok },
	}
	for i, w := range want {
		if !w(tup[i]) {
			t.Errorf("specials[%d] = %#v", i, tup[i])
		}
	}
	if !Equal(tup[8], Atom("héllo")) || !Equal(tup[9], BitBinary{Bytes: []byte{0x20}, Bits: 3}) ||
		!Equal(tup[13], List{int64('c'), int64('h'), int64('a'), int64('r'), int64('l'), int64('i'), int64('s'), int64('t')}) {
		t.Errorf("specials scalars = %#v", tup[8:])
	}
	enc, err := Append([]byte("C"), specials)
	if err != nil {
		t.Fatal(err)
	}
	same, _, err := Decode(vm.call(enc), nil)
	if err != nil || !Equal(same, Atom("true")) {
		t.Fatalf("VM says our re-encoding of its specials is not =:= the original: %v %v", same, err)
	}
	// And the VM's own re-encoding of our re-encoding is still the same term.
	if got := vm.echo('E', specials); !Equal(got, specials) {
		t.Fatalf("echo of specials changed them: %#v", got)
	}
}

// culprit returns the smallest part of t that the VM rejects, or nil.
func (vm *vmEcho) culprit(t any) any {
	enc, err := Append([]byte{'E'}, t)
	if err != nil {
		return nil
	}
	if resp := vm.call(enc); string(resp[:2]) == "ok" {
		return nil
	}
	var parts []any
	switch v := t.(type) {
	case Tuple:
		parts = v
	case List:
		parts = v
	case ImproperList:
		parts = append(append(parts, v.Elems...), v.Tail)
	case Map:
		for _, p := range v {
			parts = append(parts, p.Key, p.Value)
		}
	}
	for _, p := range parts {
		if c := vm.culprit(p); c != nil {
			return c
		}
	}
	return t
}

// TestVMJSON: JSON text made by ToJSON (exact mode) becomes, through
// FromJSON, a term the VM accepts and returns unchanged: ToJSON of the VM's
// answer is the same text. And the VM's own pids, refs, port and funs
// survive term -> JSON -> term.
func TestVMJSON(t *testing.T) {
	vm := startVM(t)
	opt := &JSONOptions{AtomKeys: AtomKeysTagged, MaxAtoms: 1 << 20}
	r := rand.New(rand.NewPCG(9, 10))
	n := 1000
	if testing.Short() {
		n = 100
	}
	for i := range n {
		js, err := ToJSON(genTerm(r, 0, genOpts{maxDepth: 4}), opt)
		if err != nil {
			t.Fatal(err)
		}
		term, err := FromJSON(js, opt)
		if err != nil {
			t.Fatalf("#%d FromJSON: %v", i, err)
		}
		back, err := ToJSON(vm.echo('E', term), opt)
		if err != nil || string(back) != string(js) {
			t.Fatalf("#%d through the VM %.2000s became %.2000s (%v)", i, js, back, err)
		}
	}

	specials, _, err := Decode(vm.call([]byte("S")), nil)
	if err != nil {
		t.Fatal(err)
	}
	js, err := ToJSON(specials, opt)
	if err != nil {
		t.Fatal(err)
	}
	term, err := FromJSON(js, opt)
	if err != nil {
		t.Fatalf("FromJSON(%s): %v", js, err)
	}
	enc, err := Append([]byte("C"), term)
	if err != nil {
		t.Fatal(err)
	}
	if same, _, err := Decode(vm.call(enc), nil); err != nil || !Equal(same, Atom("true")) {
		t.Fatalf("specials via JSON %s are not =:= the VM's: %v %v", js, same, err)
	}
}
