package term

import (
	"testing"

	erlang "github.com/okeuday/erlang_go/v2/erlang"
)

// Benchmarks of the per-RPC work: a '$gen_call' request to rex and a reply
// carrying a small Elixir-style map. The erlang_go benchmarks encode and
// decode the same terms (its map keys must be atoms, so the reply uses atom
// keys for both) as a reference.

var (
	benchPid = Pid{Node: "plerl_1@127.0.0.1", ID: 1, Serial: 0, Creation: 1700000000}
	benchRef = Ref{Node: "plerl_1@127.0.0.1", Creation: 1700000000, IDs: []uint32{1, 2, 3}}
	// {'$gen_call', {Pid, Ref}, {call, 'Elixir.MyApp.Repo', get, [<<"users">>, 42], user}}
	benchRequest = Tuple{Atom("$gen_call"), Tuple{benchPid, benchRef},
		Tuple{Atom("call"), Atom("Elixir.MyApp.Repo"), Atom("get"), List{Binary("users"), int64(42)}, Atom("user")}}
	// {Ref, {ok, #{id => 42, name => <<"Ada">>, email => ..., tags => [...], score => 9.5, active => true}}}
	benchReply = Tuple{benchRef, Tuple{Atom("ok"), Map{
		{Atom("id"), int64(42)}, {Atom("name"), Binary("Ada Lovelace")},
		{Atom("email"), Binary("ada@example.com")}, {Atom("tags"), List{Binary("math"), Binary("engines")}},
		{Atom("score"), 9.5}, {Atom("active"), Atom("true")}, {Atom("inserted_at"), int64(1700000000123)},
	}}}
)

func BenchmarkAppendRequest(b *testing.B) {
	var req any = benchRequest // boxed once, as a caller holding an any would
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = Append(buf[:0], req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeReply(b *testing.B) {
	enc, _ := Append(nil, benchReply)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(enc, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	enc, _ := Append(nil, benchRequest)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(enc, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendReply(b *testing.B) {
	var reply any = benchReply
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = Append(buf[:0], reply); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkErlangGoEncodeRequest(b *testing.B) {
	o := toOracle(benchRequest)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := erlang.TermToBinary(o, -1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkErlangGoDecodeReply(b *testing.B) {
	enc, _ := Append(nil, benchReply)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := erlang.BinaryToTerm(enc); err != nil {
			b.Fatal(err)
		}
	}
}
