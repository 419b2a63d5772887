// Package dist is plerl's Erlang distribution client: each PostgreSQL
// backend connects to Erlang/Elixir nodes as a hidden node (a "C-node"
// written in Go), calls functions there and exchanges messages.
//
// The protocol facts it follows were verified against OTP 25 and are
// written up in docs/internals/erlang-dist.md; every wire layout in this
// package cites the section of the Erlang distribution protocol
// (erl_dist_protocol.md) or external term format (erl_ext_dist.md) it
// implements.
//
// # Files, one per protocol stage
//
//	epmd.go       PORT_PLEASE2 lookup (no ALIVE2: we only connect out)
//	handshake.go  handshake version 6, connecting side, as a state machine:
//	              send_name -> recv_status -> recv_challenge ->
//	              send_challenge_reply -> recv_challenge_ack; flags; digest
//	frame.go      <<Len:32>> packets, ticks, splitting <<112, Ctrl, Msg>>
//	control.go    control messages: encoding, a fast allocation-light
//	              decoder for simple control tuples, interpretation
//	conn.go       Conn: combining writer and cork, liveness timer, mailboxes, dispatch
//	duty.go       who reads the socket: reader goroutine or a waiting caller
//	rpc.go        Call (rex), CallKill (erpc via spawn_request), Send,
//	              RegSend, Ping, links and monitors
//	pool.go       Pool: one Conn per node, reconnect with backoff
//	errors.go     *Error with a Kind per failure class, predicates
//	names.go      NodeName: bounded-set node names for backends
//
// # What we negotiate
//
// Flags OurFlags = 0x507074FBC: libei's set (OTP 25 mandatory flags,
// MANDATORY_25_DIGEST, V4_NC, UNLINK_ID, DIST_MONITOR) plus
// DIST_MONITOR_NAME (without it the peer never sends DOWN) and SPAWN. Not
// PUBLISHED (the connection is hidden: we appear in nodes(hidden) only),
// not DIST_HDR_ATOM_CACHE and not FRAGMENTS, so every message is
// <<Len:32, 112, Ctrl, Msg>> with ordinary 131-prefixed terms. A peer must
// offer the OTP 25 mandatory set; epmd must report Highest >= 6 (OTP 23+).
//
// # Concurrency model
//
// Each Conn has one reader goroutine (started the first time it is
// needed), and it never blocks on anything but the socket: replies are routed by reference to the waiting call (pending
// map, buffered channel per call); messages to our pids go to a bounded
// mailbox per pid (Config.MailboxSize; when full, Config.MailboxDrop drops
// the oldest queued message (default) or the arriving one, and the drop is
// counted: Conn.Drops); anything that must be written in answer (tick
// answers, UNLINK_ID_ACK, DOWN noproc, kills) is queued to a short-lived
// flusher goroutine. A reader that stops reading would stall Erlang processes
// sending to us once ~1 MB is queued on the peer, so this matters.
//
// The right to read (the "read duty", duty.go) can move to a caller: a
// call whose reply is awaited while nobody else reads reads the socket
// itself, dispatching whatever arrives exactly as the reader goroutine
// would, until its own reply is in. Sequential calls thus cost no
// goroutine hand-off (with GOMAXPROCS >= 2 that hand-off cost 6-13 µs per
// call on the 2-vCPU test box). After 10 ms with nobody waiting, or as
// soon as someone parks in Receive or behind another reader, the reader
// goroutine takes the duty back. Exactly one goroutine holds it at a time;
// a half-read packet survives a change of holder.
//
// Sockets: on Linux a plain-TCP connection (and the epmd lookup) uses an
// fdConn (fdconn_linux.go), a socket Go's netpoller never watches: a caller
// holding the read duty sleeps in recv(2) on its own thread, as a C node
// does, and the kernel wakes only that thread when the reply comes
// (through the netpoller it also woke a poller thread, and for a goroutine
// locked to its thread, a backend's, handed the wake-up across threads).
// The wait looks at the caller's context every few milliseconds
// (SO_RCVTIMEO), so a cancel ends it without a timer armed per call. A
// thread asleep in recv holds its P, so a caller reads directly only while
// it is alone on the connection: when others wait it hands the duty to the
// reader goroutine and parks like them. The reader goroutine waits in Go's
// netpoller through a duplicate descriptor registered only while it holds
// the duty; Close shuts the socket down to wake every waiter. TLS connections and connections from a
// Config.Dialer stay net.Conns. Callers in a loop also call yield.Maybe so
// Go's sysmon never takes them for one long-running goroutine (see
// runtime/yield).
//
// Writes go through a combining writer (Conn.writeFrame): a goroutine that
// finds the socket idle writes its packet itself, from its own buffer, in
// one syscall; packets arriving during that write are appended to a shared
// buffer and flushed by the same writer in one syscall. An idle connection
// thus costs one write per call with no goroutine hand-off, and a busy one
// batches. (Measured against a dedicated writer goroutine, see
// bench/distbench/README.md.) The reader goroutine also corks the writer
// while it dispatches what one read brought: the callers it wakes append
// their next requests instead of writing them, and after a yield the
// reader flushes them in one write that never blocks it (whatever a full
// socket buffer does not take is finished by a goroutine). Many callers on
// one connection thus cost one write and one peer wake-up per batch, not
// per call.
//
// Waiting to write is waiting (conn.go, writeLoop): a caller waits for the
// socket under its own context. A packet not begun when that ends is
// withdrawn; one partly written is finished by a background writer under
// WriteTimeout (a peer that is only slow keeps its connection; one that
// stopped for good is cut at WriteTimeout, as the liveness rule would), and
// the caller returns at once (errPartialWrite marks that case: CallKill then
// kills what the request spawns). A caller whose packet is done never waits
// for the others' packets queued behind it: what the socket does not take
// at once goes to a background writer. The queue behind a writer is bounded
// (wbufMax); a caller over it waits for room under its context, having
// queued nothing. TLS and Dialer connections cannot resume a write cut by a
// context, so there it closes the connection.
//
// Liveness: a timer every TickTime/4 writes a tick (4 zero bytes) whenever we wrote
// nothing for TickTime/4, and declares the node down when no byte arrived
// for TickTime (4 intervals) — the same rule as erts. Socket close, read
// error or that silence fail every pending call at once with a KindNodeDown
// error (Conn.Done is closed; Conn.Err says why).
//
// Sizes: an incoming packet above Config.MaxMessageSize closes the
// connection with KindTooLarge before anything is allocated for it; an
// outgoing message above Config.MaxSendSize fails with KindTooLarge and
// nothing is sent. Term decoding is bounded by Config.Limits.
//
// # RPC
//
// Call uses gen_server:call semantics on rex: REG_SEND to rex of
// {'$gen_call', {RpcPid, Ref}, {call, M, F, A, user}}, reply {Ref, Result}.
// Replies are tagged, so one pid serves many concurrent calls; a reply that
// arrives after its caller gave up is dropped. The remote work continues
// after a timeout. Failures come back as {badrpc, ...} and become a
// *RemoteError (class error/exit; a throw is a normal return through rex).
//
// CallKill does what erpc:call does: SPAWN_REQUEST for
// erpc:execute_call/4 with a monitor; the result is the DOWN reason, with
// exact classes (error/exit/throw, stack). When ctx ends first the worker is
// killed with EXIT2 kill. Its group leader is the peer's user process
// (looked up once per Conn), so I/O goes to the peer's console as with rex.
//
// # Errors
//
// Every error is an *Error{Kind, Node, Step, Err}; use the predicates
// (IsNodeDown, IsTimeout, IsCookieRefused, ...) or KindOf. Context deadline
// → KindTimeout, cancellation → KindCancelled. The cookie never appears in
// an error, a log line or Pool.Stats.
//
// # Node names
//
// Every node name that ever connects stays in the peer's atom table for
// good; backends must use a bounded set of names: NodeName(prefix,
// clusterID, slot, host) with the backend slot, never the pid.
//
// # TLS
//
// With Config.TLS set, epmd stays plain TCP; the distribution port is
// dialled with TLS and the handshake is framed with 4-byte lengths inside
// it, as inet_tls_dist does ({packet, 4}); afterwards nothing changes.
package dist
