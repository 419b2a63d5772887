// erlang: the backend's Erlang sessions (one dist.Pool per backend), the
// erlang_* SQL functions' Go half, and how their errors map to SQLSTATEs (sqlError; docs/sql-api.md has the table).
package main

/*
#include "postgres.h"
#include "fmgr.h"
#include <stdlib.h>
#include "plerl.h"
#include "utils/wait_event.h"
*/
import "C"

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/plerl/plerl/runtime/cluster"
	"github.com/plerl/plerl/runtime/dist"
	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/sqlstate"
	"github.com/plerl/plerl/runtime/term"
)

type bridge struct {
	pool      *dist.Pool
	limits    poolLimits // what pool was made with
	self      string
	rawCookie map[string]string         // node -> cookie, from erlang_connect (admins)
	groups    map[string]*cluster.Group // by groupKey: each server's members and their state

	lastCookie, lastIdent string // identOf's memo
}

var erl *bridge

// poolLimits are the settings a pool's connections are made with.
type poolLimits struct {
	maxMessageKB, maxConns, tickS C.int
}

// currentPoolLimits reads them from the GUCs: plain loads, no cgo call.
func currentPoolLimits() poolLimits {
	s := C.plerl_settings
	return poolLimits{s.max_message_kb, s.max_connections, s.tick_time_s}
}

func erlBridge() (*bridge, error) {
	if erl != nil {
		if l := currentPoolLimits(); l != erl.limits {
			// A superuser changed plerl.max_message_size, max_connections
			// or tick_time in this session: connections made under the old
			// limits must not outlive them (they reconnect on next use).
			erl.pool.CloseAll()
			erl.pool, erl.limits = newPool(erl.self, l), l
		}
		return erl, nil
	}
	s := readSettings()
	name, err := dist.NodeName(s.NodePrefix, strconv.Itoa(int(C.plerl_cluster_port())),
		int(C.plerl_backend_slot()), s.NodeHost)
	if err != nil {
		return nil, pl.Errorf(sqlstate.InvalidParameterValue, "plerl.node_prefix/plerl.node_host do not make a valid node name: %v", err)
	}
	l := currentPoolLimits()
	erl = &bridge{pool: newPool(name, l), limits: l, self: name, rawCookie: map[string]string{},
		groups: map[string]*cluster.Group{}}
	return erl, nil
}

func newPool(name string, l poolLimits) *dist.Pool {
	return dist.NewPool(dist.PoolConfig{
		Config: dist.Config{
			NodeName:       name,
			Cookie:         "-", // every connection brings its own (GetWith)
			TickTime:       time.Duration(l.tickS) * time.Second,
			MaxMessageSize: int(l.maxMessageKB) * 1024,
			MaxSendSize:    int(l.maxMessageKB) * 1024,
			ReplaceAlive:   true, // our name is our backend slot: an old session of it is stale
			MailboxBytes:   dist.NewByteBudget(mailboxBytes()),
			ReplyBytes:     dist.NewByteBudget(mailboxBytes()), // a budget of its own
			OneWaiter:      true,                               // the backend's thread awaits every call itself
			TickProbe:      true,                               // idle: plerl.stat_nodes' tick_rtt_ms (waits.go)
			OnTickRTT:      publishTickRTT,
		},
		MaxConns: int(l.maxConns),
	})
}

// mailboxBytes is what the Erlang mailboxes of this backend may hold
// together, and (a second budget of the same size) what replies that
// arrived before their call is awaited may hold (a batch's or Lua's async
// calls behind a slow earlier call): a quarter of plerl.lua_memory_limit
// (the Go heap they live in counts against that limit, and a backend whose
// mailboxes filled it could not even run erlang.receive to drain them),
// 64 MB without a limit.
func mailboxBytes() int64 {
	if lim := int64(C.plerl_settings.lua_memory_limit_kb) * 1024; lim > 0 {
		return lim / 4
	}
	return 64 << 20
}

// target is a resolved destination, copied out of C memory, with what
// plerl.allow permitted for it (see PlerlErlTarget).
type target struct {
	node, cookie, server string
	tls                  bool
	tlsCA, tlsCert       string
	tlsKey, tlsName      string

	role             uint32             // the role it was checked for: its mailbox
	module, function string             // as checked; what is sent
	atoms            map[term.Atom]bool // atoms the request may carry
	anyAtom          bool               // a row said '*'
	anyFunction      bool               // only NULL-function rows permit it

	// A group (the server's option nodes): its members and policy; and
	// the call's routing options (pl.Routed).
	members []string
	balance string
	key     string
	retry   bool

	// A call to a process by its cluster name (pl.Named): what is sent is
	// gen_server:call({global, via.Name}, Msg, viaTimeout) on the member,
	// checked as a send to via.Name (module = the name, function '!').
	via        *pl.ClusterName
	viaTimeout time.Duration
}

// CallName: the call goes to the process registered as c's :global name
// (GenServer.call), on the member the server picks (pl.Named).
func (t target) CallName(c pl.ClusterName) (pl.Target, error) {
	if !c.Global {
		return nil, pl.Errorf(sqlstate.InvalidParameterValue, "a call goes to a :global name (erlang.global), not a :pg group")
	}
	if c.Name != t.module || t.function != "!" {
		return nil, pl.Errorf(sqlstate.InternalError, "plerl: call to %q was checked as %s", c.Name, t.request())
	}
	t.via = &c
	return t, nil
}

// withTimeout: a named call carries its timeout to the member's
// gen_server:call, so the process there waiting for the reply ends with
// the caller's wait ('infinity' for 0).
func (t target) withTimeout(d time.Duration) target {
	if t.via != nil {
		t.viaTimeout = d
	}
	return t
}

// viaArgs are the arguments of gen_server:call/3 for a named call of msg.
func (t target) viaArgs(args []any) ([]any, error) {
	if len(args) != 1 {
		return nil, pl.Errorf(sqlstate.InvalidParameterValue, "a call to the :global name %s takes one message, not %d arguments", t.via.Name, len(args))
	}
	var timeout any = term.Atom("infinity")
	if t.viaTimeout > 0 {
		timeout = int64((t.viaTimeout + time.Millisecond - 1) / time.Millisecond)
	}
	return []any{term.Tuple{term.Atom("global"), term.Atom(t.via.Name)}, args[0], timeout}, nil
}

// WithRoute: the affinity key and retry option of one call (pl.Routed).
func (t target) WithRoute(key string, retry bool) pl.Target {
	t.key, t.retry = key, retry
	return t
}

func targetFromC(t *C.PlerlErlTarget) target {
	tg := target{
		node: goStr(t.node), cookie: goStr(t.cookie), server: goStr(t.server),
		tls: t.tls != 0, tlsCA: goStr(t.tls_ca), tlsCert: goStr(t.tls_cert),
		tlsKey: goStr(t.tls_key), tlsName: goStr(t.tls_server_name),
		module: goStr(t.module), function: goStr(t.function), role: uint32(t.role),
		anyAtom: t.any_atom != 0, anyFunction: t.any_function != 0,
	}
	if t.nmembers > 0 {
		for _, m := range unsafe.Slice(t.members, int(t.nmembers)) {
			tg.members = append(tg.members, C.GoString(m))
		}
		tg.balance = goStr(t.balance)
	}
	if t.natoms > 0 {
		tg.atoms = make(map[term.Atom]bool, int(t.natoms))
		for _, a := range unsafe.Slice(t.atoms, int(t.natoms)) {
			tg.atoms[term.Atom(C.GoString(a))] = true
		}
	}
	return tg
}

// checkName refuses a name that crosses to C (server, node, module,
// function, registered name) unless C sees all of it: a NUL byte would end
// C's copy early, so C would check one name while Go sent another (and a
// new atom per distinct tail). Names are atoms on the node: valid UTF-8 of
// at most 255 characters.
func checkName(what, s string) error {
	bad := ""
	switch {
	case strings.IndexByte(s, 0) >= 0:
		bad = "contains a NUL byte"
	case !utf8.ValidString(s):
		bad = "is not valid UTF-8"
	case utf8.RuneCountInString(s) > 255:
		bad = "is longer than 255 characters"
	}
	if bad == "" {
		return nil
	}
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return pl.Errorf(sqlstate.InvalidParameterValue, "invalid %s name %q: it %s", what, s, bad)
}

// checkAtoms holds what a request carries to what plerl.allow permits: a
// node never frees an atom, so through a server every atom in args must be
// listed in the atoms column of a row that permits the request (or the row
// says '*'). true, false, the null atom, '$gen_cast', the target's own node
// name and our own node name are always there. Raw node names (admins) are bounded by
// plerl.max_atoms per request only, at conversion.
func (b *bridge) checkAtoms(t target, terms ...any) error {
	if t.server == "" || t.anyAtom {
		return nil
	}
	null := term.Atom(readSettings().NullAtom)
	for _, x := range terms {
		err := term.EachAtom(x, func(a term.Atom) error {
			switch {
			case a == "true" || a == "false" || a == null || t.atoms[a]:
				return nil
			case a == "$gen_cast": // what a cast is wrapped in, by plerl; gen_server has it
				return nil
			case string(a) == t.node || string(a) == b.self || t.isMember(string(a)):
				return nil
			}
			shown := strings.ToValidUTF8(string(a), "?")
			if len(shown) > 64 {
				shown = shown[:64] + "..."
			}
			return &pl.Error{Kind: pl.KindError, SQLState: sqlstate.InsufficientPrivilege,
				Message: fmt.Sprintf("plerl.allow does not permit the atom %q in %s on server %q", shown, t.request(), t.server),
				Hint:    "An atom is never freed on the node: list the atoms a request may carry in the atoms column of its plerl.allow row."}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// request names what t permits, for messages: mod:fun/N or a send to a name.
func (t target) request() string {
	if t.via != nil {
		return "a call to the :global name " + t.module
	}
	if t.function == "!" {
		if t.module == "!" {
			return "a send to a pid"
		}
		return "a send to " + t.module
	}
	return t.module + ":" + t.function
}

// name is how messages name the target: the server the user named, or the raw node.
func (t target) name() string {
	if t.server != "" {
		return "server " + t.server
	}
	return t.node
}

func (t target) isMember(node string) bool {
	for _, m := range t.members {
		if m == node {
			return true
		}
	}
	return false
}

// group is the state of t's group, made on first use. A group is named by
// its server, policy and members: ALTER SERVER makes a new one.
func (b *bridge) group(t target) *cluster.Group {
	k := t.server + "\x00" + t.balance + "\x00" + strings.Join(t.members, ",")
	g := b.groups[k]
	if g == nil {
		p, _ := cluster.ParsePolicy(t.balance) // fdw.c validated it
		g = cluster.New(t.members, p, cluster.Config{})
		b.groups[k] = g
	}
	return g
}

// memberLost: err (from a member's connection) means the member is gone or
// unreachable, not that the caller gave up or the request was refused.
func memberLost(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	var pe *pl.Error
	if errors.As(err, &pe) {
		return pe.SQLState == sqlstate.SQLClientUnableToEstablishSQLConnection // connect_timeout
	}
	switch dist.KindOf(err) {
	case dist.KindEpmd, dist.KindConnect, dist.KindHandshake, dist.KindCookieRefused,
		dist.KindNodeDown, dist.KindClosed, dist.KindTimeout:
		return true
	}
	return false
}

// conn returns the session for a target, connecting if needed. For a group
// it is the first member in the policy's order that connects: a member that
// cannot be reached (epmd, TCP, handshake, its connection found dead and
// not remade) is marked down and skipped; when none is left the error
// (08001) names every member and why it is down.
func (b *bridge) conn(ctx context.Context, t target) (*dist.Conn, error) {
	if len(t.members) == 0 {
		return b.connNode(ctx, t, t.node)
	}
	g := b.group(t)
	for _, m := range g.Order(t.key) {
		c, err := b.connNode(ctx, t, m)
		if err == nil {
			g.Up(m)
			nodeMember(t.server, m, "up")
			return c, nil
		}
		if !memberLost(ctx, err) {
			return nil, err
		}
		g.Down(m, err)
		nodeMember(t.server, m, "down")
	}
	return nil, &pl.Error{Kind: pl.KindError, SQLState: sqlstate.SQLClientUnableToEstablishSQLConnection,
		Message: fmt.Sprintf("cannot reach %s: %v", t.name(), g.AllDown()),
		Hint:    "A member is tried again when its backoff has passed (100 ms, doubling per failure, at most 10 s); erlang_group_members() shows each member's state."}
}

// connNode returns the session with one node of t, connecting if needed.
func (b *bridge) connNode(ctx context.Context, t target, node string) (*dist.Conn, error) {
	cookie := t.cookie
	if t.server == "" {
		c, ok := b.rawCookie[node]
		if !ok {
			return nil, pl.Errorf(sqlstate.ConnectionDoesNotExist, "no session with node %s: call erlang_connect(node, cookie) first, or name a plerl foreign server", node)
		}
		cookie = c
	}
	ident := b.identOf(cookie)
	if !t.tls {
		// The common case, once connected: no context, no config.
		if c := b.pool.Lookup(node, ident); c != nil {
			waitOn(node)
			return c, nil
		}
	}
	nc, err := nodeConfig(t, cookie, ident)
	if err != nil {
		return nil, err
	}
	s := readSettings()
	cctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	defer cancel()
	prev := curWait
	if prev.kind != C.PLERL_WAIT_NONE {
		setWait(waitState{C.PLERL_WAIT_CONNECT, t.server, node})
	}
	c, err := b.pool.GetWith(cctx, node, nc)
	if prev.kind != C.PLERL_WAIT_NONE {
		setWait(prev)
		waitOn(node)
	}
	if err == nil || !dist.IsCancelled(err) {
		nodeConnected(t.server, node, c, err)
	}
	if err != nil && dist.IsTimeout(err) && ctx.Err() == nil {
		// plerl.connect_timeout ran out (now, or at the failed connect
		// the pool is backing off from), not the call's own timeout.
		return nil, &pl.Error{Kind: pl.KindError, SQLState: sqlstate.SQLClientUnableToEstablishSQLConnection,
			Message: fmt.Sprintf("cannot connect to %s: %v", node, err),
			Hint:    "The limit of connecting (epmd lookup, TCP connect, handshake) is plerl.connect_timeout."}
	}
	return c, err
}

// nodeConfig is how the pool connects to t's node: the cookie, and TLS
// (with the files in the connection's identity, so a changed tls_ca or
// tls_cert makes a new connection).
func nodeConfig(t target, cookie, ident string) (*dist.NodeConfig, error) {
	nc := &dist.NodeConfig{Cookie: cookie, Ident: ident}
	if t.tls {
		tc, err := tlsConfig(t)
		if err != nil {
			return nil, err
		}
		nc.TLS = tc
		nc.Ident += "/tls/" + t.tlsCA + "/" + t.tlsCert
	}
	return nc, nil
}

func tlsConfig(t target) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.tlsName}
	if t.tlsCA != "" {
		pem, err := os.ReadFile(t.tlsCA)
		if err != nil {
			return nil, pl.Errorf(sqlstate.UndefinedFile, "cannot read tls_ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, pl.Errorf(sqlstate.InvalidParameterValue, "tls_ca %s holds no PEM certificate", t.tlsCA)
		}
		tc.RootCAs = pool
	}
	if t.tlsCert != "" || t.tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(t.tlsCert, t.tlsKey)
		if err != nil {
			return nil, pl.Errorf(sqlstate.UndefinedFile, "cannot load tls_cert/tls_key: %v", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// identOf names a cookie in the pool (a connection made with another
// cookie is not reused) without keeping it: a hash, remembered for the last
// cookie seen so a run of calls hashes once.
func (b *bridge) identOf(cookie string) string {
	if cookie != b.lastCookie || b.lastIdent == "" {
		h := sha256.Sum256([]byte(cookie))
		b.lastCookie, b.lastIdent = cookie, hex.EncodeToString(h[:8])
	}
	return b.lastIdent
}

// callContext bounds one request by the statement (query cancel through
// the engine's context) and by timeout (0: none).
func callContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	return callContextFrom(nil, timeout)
}

// callContextFrom is callContext under parent (nil: the engine's context).
func callContextFrom(parent context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if parent == nil {
		parent = engine.Context()
	}
	if timeout > 0 {
		return context.WithTimeout(parent, timeout)
	}
	return context.WithCancel(parent)
}

// sqlError maps an Erlang-side error to its SQLSTATE (one table).
func sqlError(err error, what string) error {
	if err == nil {
		return nil
	}
	var pe *pl.Error
	if errors.As(err, &pe) {
		return pe
	}
	if engine.Context().Err() != nil {
		return engine.CancelError() // a cancel, statement_timeout or a plerl limit
	}
	var re *dist.RemoteError
	if errors.As(err, &re) {
		if e := namedCallError(re); e != nil {
			return e
		}
		e := &pl.Error{Kind: pl.KindError, SQLState: sqlstate.PlerlRemoteError,
			Message: fmt.Sprintf("%s failed on the remote node: %s", re.MFA, re.Class),
			Detail:  fmt.Sprintf("class: %s\nreason: %s", re.Class, termText(re.Reason))}
		if re.Stack != nil {
			e.Detail += "\nstacktrace: " + termText(re.Stack)
		}
		if re.IsUndef() {
			e.SQLState = sqlstate.UndefinedFunction
			e.Message = fmt.Sprintf("function %s is not defined on the remote node", re.MFA)
		}
		return e
	}
	var de *term.DecodeError
	if errors.As(err, &de) && de.Kind == term.KindMalformed {
		// Only what a peer sent is decoded: it broke the protocol (not 22023,
		// which would blame the caller's arguments).
		return &pl.Error{Kind: pl.KindError, SQLState: sqlstate.ProtocolViolation, Message: what + ": " + err.Error()}
	}
	if k := term.KindOf(err); k != 0 {
		return &pl.Error{Kind: pl.KindError, SQLState: k.SQLState(), Message: what + ": " + err.Error()}
	}
	state := sqlstate.InternalError
	switch dist.KindOf(err) {
	case dist.KindEpmd, dist.KindConnect:
		state = sqlstate.SQLClientUnableToEstablishSQLConnection
	case dist.KindHandshake, dist.KindCookieRefused:
		state = sqlstate.InvalidAuthorizationSpecification
	case dist.KindNodeDown, dist.KindClosed:
		state = sqlstate.ConnectionFailure
	case dist.KindTimeout:
		return &pl.Error{Kind: pl.KindError, SQLState: sqlstate.PlerlCallTimeout,
			Message: what + ": timed out",
			Hint:    "The limit is plerl.call_timeout, or the timeout_ms argument (0: wait until the statement is cancelled)."}
	case dist.KindCancelled:
		return &pl.Error{Kind: pl.KindCancel, SQLState: sqlstate.QueryCanceled, Message: "canceling statement due to user request"}
	case dist.KindProtocol:
		state = sqlstate.ProtocolViolation
	case dist.KindTooLarge:
		state = sqlstate.ProgramLimitExceeded
	}
	return &pl.Error{Kind: pl.KindError, SQLState: state, Message: what + ": " + err.Error()}
}

// namedCallError maps how gen_server:call({global, Name}, ...) exits on
// the member as a plain call's errors are: nobody registered (noproc) is
// PE003, as for a send; its own timeout is the call timeout (PE001). nil:
// another error.
func namedCallError(re *dist.RemoteError) error {
	if re.Class != "exit" || !strings.HasPrefix(re.MFA, "gen_server:call/") {
		return nil
	}
	r, ok := re.Reason.(term.Tuple)
	if !ok || len(r) != 2 {
		return nil
	}
	where, ok := r[1].(term.Tuple) // {gen_server, call, [{global, Name}, Msg, Timeout]}
	if !ok || len(where) != 3 {
		return nil
	}
	args, _ := where[2].(term.List)
	if len(args) == 0 {
		return nil
	}
	dst, ok := args[0].(term.Tuple)
	if !ok || len(dst) != 2 || dst[0] != term.Atom("global") {
		return nil
	}
	name, _ := dst[1].(term.Atom)
	switch r[0] {
	case term.Atom("noproc"):
		return &pl.Error{Kind: pl.KindError, SQLState: sqlstate.PlerlNoSuchName,
			Message: fmt.Sprintf("no process is registered as the :global name %s", strings.ToValidUTF8(string(name), "?"))}
	case term.Atom("timeout"):
		return &pl.Error{Kind: pl.KindError, SQLState: sqlstate.PlerlCallTimeout,
			Message: fmt.Sprintf("the call to the :global name %s timed out", strings.ToValidUTF8(string(name), "?")),
			Hint:    "The limit is plerl.call_timeout, or the timeout_ms argument (0: wait until the statement is cancelled)."}
	}
	return nil
}

func termText(t any) string {
	b, err := term.ToJSON(t, nil)
	if err != nil {
		// Not fmt.Sprint(t): a huge bignum would print for minutes.
		return "(" + err.Error() + ")"
	}
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

func (b *bridge) jsonOptions() *term.JSONOptions {
	s := readSettings()
	max := s.MaxAtoms
	if max == 0 {
		max = -1
	}
	return &term.JSONOptions{NullAtom: term.Atom(s.NullAtom), MaxAtoms: max, MaxBytes: s.MaxMessage}
}

func timeoutOf(ms C.int32_t) time.Duration {
	if ms < 0 {
		return readSettings().CallTimeout
	}
	return time.Duration(ms) * time.Millisecond
}

// waiting marks the backend as waiting (pg_stat_activity wait_event) around
// f, and publishes what for (kind, server, node) in plerl.stat_waits.
//
// pgstat_report_wait_start/end are inline stores to *my_wait_event_info
// (never raising); doing the same store from Go saves two cgo calls per
// request. The pointer is read each time: PostgreSQL moves it to shared
// memory once the backend's PGPROC is set up.
func waiting(kind C.int32_t, server, node string, f func()) {
	if p := C.my_wait_event_info; p != nil {
		atomic.StoreUint32((*uint32)(unsafe.Pointer(p)), uint32(C.PG_WAIT_EXTENSION))
		defer atomic.StoreUint32((*uint32)(unsafe.Pointer(p)), 0)
	}
	prev := curWait
	setWait(waitState{kind, server, node})
	defer setWait(prev)
	f()
}

//export plerlGoErlang
func plerlGoErlang(req *C.PlerlErlReq) {
	defer recoverInto(&req.err)
	outer := beginCall()
	defer endCall(outer)
	if err := erlRequest(req); err != nil {
		setError(&req.err, err)
	}
}

// checkNullAtom refuses a plerl.null_atom other than the atoms Elixir and
// Erlang use for "no value". Any role may SET it, and it goes out with
// every null without counting against plerl.max_atoms: any other value
// would let a caller create one atom on the peer per SET, and exhaust its
// atom table (which crashes the node).
func checkNullAtom() error {
	switch a := readSettings().NullAtom; a {
	case "nil", "undefined", "null":
		return nil
	default:
		return pl.Errorf(sqlstate.InvalidParameterValue, "plerl.null_atom must be nil, undefined or null, not %q", a)
	}
}

func erlRequest(req *C.PlerlErlReq) error {
	if err := checkNullAtom(); err != nil {
		return err
	}
	b, err := erlBridge()
	if err != nil {
		return err
	}
	t := targetFromC(&req.target)
	switch req.op {
	case C.PLERL_ERL_CONNECT:
		cookie := goStr(req.name)
		if cookie == "" {
			return pl.Errorf(sqlstate.InvalidAuthorizationSpecification, "cookie must not be empty")
		}
		if t.server == "" {
			b.rawCookie[t.node] = cookie
		}
		ctx, cancel := callContext(0)
		defer cancel()
		var cerr error
		waiting(C.PLERL_WAIT_CONNECT, t.server, t.node, func() { _, cerr = b.conn(ctx, t) })
		if cerr != nil {
			if t.server == "" {
				delete(b.rawCookie, t.node)
			}
			return sqlError(cerr, "connect to "+t.node)
		}
		setBool(&req.result, true)
	case C.PLERL_ERL_DISCONNECT:
		delete(b.rawCookie, t.node)
		// A group's server: C passes its nodes option whole.
		was := false
		for _, n := range strings.Split(t.node, ",") {
			if b.disconnect(strings.TrimSpace(n)) {
				was = true
			}
		}
		setBool(&req.result, was)
	case C.PLERL_ERL_PING:
		ctx, cancel := callContext(timeoutOf(req.timeout_ms))
		defer cancel()
		var perr error
		waiting(C.PLERL_WAIT_PING, t.server, t.node, func() {
			var c *dist.Conn
			if c, perr = b.conn(ctx, t); perr == nil {
				perr = c.Ping(ctx)
			}
		})
		setBool(&req.result, perr == nil)
		if perr != nil && engine.Context().Err() != nil {
			return sqlError(perr, "ping")
		}
	case C.PLERL_ERL_CALL:
		opts := b.jsonOptions()
		args, err := term.ArgsFromJSON(C.GoBytes(unsafe.Pointer(req.json), C.int(req.jsonlen)), opts)
		if err != nil {
			return sqlError(err, "erlang_call arguments")
		}
		if req.options != nil {
			if t, err = callOptions(t, C.GoString(req.options)); err != nil {
				return err
			}
		}
		ctx, cancel := callContext(timeoutOf(req.timeout_ms))
		defer cancel()
		res, cerr := b.call(ctx, t, args, false)
		if cerr != nil {
			return sqlError(cerr, fmt.Sprintf("erlang_call %s:%s/%d on %s", t.module, t.function, len(args), t.name()))
		}
		out, err := term.ToJSON(res, opts)
		if err != nil {
			return sqlError(err, "erlang_call result")
		}
		setBytes(&req.result, C.PLV_JSON, string(out))
	case C.PLERL_ERL_SEND, C.PLERL_ERL_CAST:
		opts := b.jsonOptions()
		msg, err := term.FromJSON(C.GoBytes(unsafe.Pointer(req.json), C.int(req.jsonlen)), opts)
		if err != nil {
			return sqlError(err, "message")
		}
		var to any = t.module
		if req.options != nil {
			if to, err = sendOptions(t.module, C.GoString(req.options), req.op == C.PLERL_ERL_CAST); err != nil {
				return err
			}
		}
		if req.op == C.PLERL_ERL_CAST {
			msg = term.Tuple{term.Atom("$gen_cast"), msg}
		}
		if err := b.send(nil, t, to, msg); err != nil {
			return err
		}
		setBool(&req.result, true)
	case C.PLERL_ERL_ENQUEUE:
		// plerl.enqueue: C checked the caller; the atoms are checked and
		// the message encoded here, C writes the row (erlang.c erl_enqueue).
		msg, err := term.FromJSON(C.GoBytes(unsafe.Pointer(req.json), C.int(req.jsonlen)), b.jsonOptions())
		if err != nil {
			return sqlError(err, "message")
		}
		data, err := encodeDurable(t, msg)
		if err != nil {
			return err
		}
		setBytes(&req.result, C.PLV_BYTES, string(data))
	default:
		return pl.Errorf(sqlstate.InternalError, "plerl: unknown Erlang request %d", int(req.op))
	}
	return nil
}

// call makes the call t permits, t.module:t.function(args...): the one path
// every Erlang call takes (SQL and Lua, single, async and batched), so what
// is sent is by construction what C checked: the names come from the
// resolved target, never from the caller (checkTarget), and the atoms in
// args are held to the allow-list (start). A call is start + its wait.
func (b *bridge) call(ctx context.Context, t target, args []any, kill bool) (any, error) {
	start := time.Now()
	if err := checkTarget(t); err != nil {
		recordStat(t, C.PLERL_STAT_CALL, len(args), start, err, traffic{})
		return nil, err
	}
	var res any
	var err error
	var tr traffic
	defer func() { recordStat(t, C.PLERL_STAT_CALL, len(args), start, err, tr) }()
	waiting(C.PLERL_WAIT_CALL, t.server, t.node, func() {
		for tries := 0; ; tries++ {
			var p *dist.Pending
			if p, err = b.start(ctx, t, nil, args, kill); err != nil {
				return
			}
			res, err = p.Wait(ctx)
			tr.add(p)
			nodeRTT(p.Conn())
			if len(t.members) == 0 || !memberLost(ctx, err) || dist.KindOf(err) == dist.KindTimeout {
				return
			}
			// Its member died with the call in flight: 08006, unless the
			// caller said the call may run again (retry), and there is
			// another member to run it.
			b.group(t).Down(p.Conn().Node(), err)
			if !t.retry || tries+1 >= len(t.members) {
				return
			}
		}
	})
	return res, err
}

// checkTarget: what is the same for every request to t, checked once per
// call, batch or async target.
func checkTarget(t target) error {
	if err := checkName("module", t.module); err != nil {
		return err
	}
	return checkName("function", t.function)
}

// start sends one request to t (checked by checkTarget) without waiting:
// the atoms of args against the allow-list, the connection (c, if the
// caller has it already), a new function name asked about once, then
// dist.Conn.Go. The caller must Wait or Abandon what it returns.
func (b *bridge) start(ctx context.Context, t target, c *dist.Conn, args []any, kill bool) (*dist.Pending, error) {
	if err := b.checkAtoms(t, args); err != nil {
		return nil, err
	}
	mod, fun := t.module, t.function
	if t.via != nil {
		// The message's atoms are checked above; the name is the one the
		// row permits, gen_server, call, global and infinity exist.
		var err error
		if args, err = t.viaArgs(args); err != nil {
			return nil, err
		}
		mod, fun = "gen_server", "call"
	}
	for tries := 0; ; tries++ {
		var err error
		if c == nil || isDone(c) {
			if c, err = b.conn(ctx, t); err != nil {
				return nil, err
			}
		}
		var p *dist.Pending
		if t.via != nil {
			p, err = c.Go(ctx, mod, fun, args, kill)
		} else if err = b.functionExists(ctx, c, t, len(args)); err == nil {
			p, err = c.Go(ctx, mod, fun, args, kill)
		}
		if len(t.members) == 0 {
			return p, err
		}
		g := b.group(t)
		if err == nil {
			g.Picked(c.Node())
			return p, nil
		}
		// Not written: a member whose connection failed under the write
		// (or the name check) is skipped without the caller noticing.
		if !memberLost(ctx, err) || dist.KindOf(err) == dist.KindTimeout || tries+1 >= len(t.members) {
			return nil, err
		}
		g.Down(c.Node(), err)
		c = nil
	}
}

// knownFuncs: per connection, function names that exist as atoms on its
// node (functionExists); dropped with the connection.
var knownFuncs = map[*dist.Conn]map[string]bool{}

// functionExists: a row with a NULL function permits any function name,
// and a call names its function as an atom, which the node creates on
// decoding and never frees: looping over names would fill the node's atom
// table. So the first call of a name through such a row asks the node
// whether the atom exists already (erlang:binary_to_existing_atom/2 creates
// none); if not, no such function can exist and the call fails with 42883
// without reaching the node.
func (b *bridge) functionExists(ctx context.Context, c *dist.Conn, t target, arity int) error {
	if t.server == "" || !t.anyFunction {
		return nil
	}
	if knownFuncs[c][t.function] {
		return nil
	}
	_, err := c.Call(ctx, "erlang", "binary_to_existing_atom", []any{term.Binary(t.function), term.Atom("utf8")})
	var re *dist.RemoteError
	if errors.As(err, &re) && re.Class == "error" && re.Reason == term.Atom("badarg") {
		// What the node would have raised, had the call gone out.
		return &dist.RemoteError{Class: "error", Reason: term.Atom("undef"),
			MFA: fmt.Sprintf("%s:%s/%d", t.module, t.function, arity)}
	}
	if err != nil {
		return err
	}
	for old := range knownFuncs { // connections that went away
		if isDone(old) {
			delete(knownFuncs, old)
		}
	}
	m := knownFuncs[c]
	if m == nil {
		m = map[string]bool{}
		knownFuncs[c] = m
	}
	if len(m) < 4096 {
		m[t.function] = true
	}
	return nil
}

func isDone(c *dist.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

// send delivers msg to a registered name (string) or a pid on t: the one
// path every send and cast takes. A registered name must be the one C
// checked (t.module), a pid needs the '!' row; the atoms of msg (and of a
// pid's node name) are held to the allow-list. The sender is the pid of the
// role t was resolved for, so replies reach that role's mailbox only. It
// waits under parent (nil: the engine's context) and plerl.call_timeout:
// waiting for a peer that stopped reading ends with them like any wait.
func (b *bridge) send(parent context.Context, t target, to any, msg any) (err error) {
	start := time.Now()
	var tr traffic
	defer func() { recordStat(t, sendKind(parent, msg), -1, start, err, tr) }()
	switch dst := to.(type) {
	case string:
		if err := checkName("registered", dst); err != nil {
			return err
		}
		if dst != t.module {
			return pl.Errorf(sqlstate.InternalError, "plerl: send to %q was checked as %q", dst, t.module)
		}
	case term.Pid:
		if t.server != "" && t.module != "!" {
			return pl.Errorf(sqlstate.InternalError, "plerl: a send to a pid was checked as a send to %q", t.module)
		}
	case pl.ClusterName:
		if err := checkName("registered", dst.Name); err != nil {
			return err
		}
		if err := checkName("scope", dst.Scope); err != nil {
			return err
		}
		if dst.Name != t.module {
			return pl.Errorf(sqlstate.InternalError, "plerl: send to %q was checked as %q", dst.Name, t.module)
		}
	default:
		return pl.Errorf(sqlstate.InvalidParameterValue, "cannot send to a %T", to)
	}
	if err := b.checkAtoms(t, atomsOfDestination(to), msg); err != nil {
		return err
	}
	ctx, cancel := callContextFrom(parent, readSettings().CallTimeout)
	defer cancel()
	waiting(C.PLERL_WAIT_SEND, t.server, t.node, func() {
		var c *dist.Conn
		if c, err = b.conn(ctx, t); err != nil {
			return
		}
		var n int64
		switch dst := to.(type) {
		case string:
			// From the role's one pid on c: a new pid per send would keep
			// a mailbox (MailboxSize slots) for the connection's life.
			n, err = c.RegSendBytes(ctx, selfPid(c, t.role), dst, msg)
			tr.sent, tr.msgs = n, min(n, 1)
		case term.Pid:
			n, err = c.SendBytes(ctx, dst, msg)
			tr.sent, tr.msgs = n, min(n, 1)
		case pl.ClusterName:
			err = sendCluster(ctx, c, t, dst, msg, &tr)
		}
	})
	return sqlError(err, "send to "+t.name())
}

// atomsOfDestination: what a destination adds to a request's atoms beyond
// the name plerl.allow permitted (the row's module): a :pg scope other
// than pg must be listed in the row's atoms, as any atom a request carries.
func atomsOfDestination(to any) any {
	if c, ok := to.(pl.ClusterName); ok {
		if !c.Global && c.Scope != "pg" {
			return term.Atom(c.Scope)
		}
		return nil
	}
	return to
}

// sendCluster resolves a cluster name on the member c and sends msg to
// what it names: global:whereis_name/1 for a :global name, pg:get_members/2
// for a :pg group (one member at random, or all). A pid on c's node gets the
// message directly; one elsewhere in the cluster through erlang:send/2 on c
// (a node delivers a distribution message only to its own processes).
// Nothing registered, no members: PE003.
func sendCluster(ctx context.Context, c *dist.Conn, t target, dst pl.ClusterName, msg any, tr *traffic) error {
	var pids []term.Pid
	if dst.Global {
		res, err := callCounted(ctx, c, "global", "whereis_name", []any{term.Atom(dst.Name)}, tr)
		if err != nil {
			return err
		}
		if p, ok := res.(term.Pid); ok {
			pids = append(pids, p)
		} else {
			return &pl.Error{Kind: pl.KindError, SQLState: sqlstate.PlerlNoSuchName,
				Message: fmt.Sprintf("no process is registered as the :global name %s (asked %s of %s)", dst.Name, c.Node(), t.name())}
		}
	} else {
		res, err := callCounted(ctx, c, "pg", "get_members", []any{term.Atom(dst.Scope), term.Atom(dst.Name)}, tr)
		if err != nil {
			return err
		}
		if l, ok := res.(term.List); ok {
			for _, x := range l {
				if p, ok := x.(term.Pid); ok {
					pids = append(pids, p)
				}
			}
		}
		if len(pids) == 0 {
			return &pl.Error{Kind: pl.KindError, SQLState: sqlstate.PlerlNoSuchName,
				Message: fmt.Sprintf("the :pg group %s (scope %s) has no members (asked %s of %s)", dst.Name, dst.Scope, c.Node(), t.name())}
		}
		if !dst.All {
			pids = []term.Pid{pids[rand.IntN(len(pids))]}
		}
	}
	for _, p := range pids {
		var err error
		if string(p.Node) == c.Node() {
			var n int64
			n, err = c.SendBytes(ctx, p, msg)
			tr.sent += n
		} else {
			_, err = callCounted(ctx, c, "erlang", "send", []any{p, msg}, tr)
		}
		if err != nil {
			return err
		}
		tr.msgs++
	}
	return nil
}

// callCounted is c.Call, its frames added to tr.
func callCounted(ctx context.Context, c *dist.Conn, mod, fun string, args []any, tr *traffic) (any, error) {
	p, err := c.Go(ctx, mod, fun, args, false)
	if err != nil {
		return nil, err
	}
	res, err := p.Wait(ctx)
	tr.add(p)
	return res, err
}

// sendKind: for statistics, a send deferred to COMMIT (it goes out under
// the flush's parent context), a cast (wrapped as gen_server does), or a send.
func sendKind(parent context.Context, msg any) C.int32_t {
	if parent != nil {
		return C.PLERL_STAT_ON_COMMIT
	}
	if tu, ok := msg.(term.Tuple); ok && len(tu) == 2 && tu[0] == term.Atom("$gen_cast") {
		return C.PLERL_STAT_CAST
	}
	return C.PLERL_STAT_SEND
}

func setBool(v *C.PlerlValue, b bool) {
	v.kind = C.PLV_BOOL
	if b {
		v.i = 1
	}
}

//export plerlGoErlangConnections
func plerlGoErlangConnections(rows **C.PlerlConnRow, n *C.int) {
	defer reportPanics("erlang_connections")
	*rows, *n = nil, 0
	if erl == nil {
		return
	}
	stats := erl.pool.Stats()
	if len(stats) == 0 {
		return
	}
	size := C.size_t(unsafe.Sizeof(C.PlerlConnRow{})) * C.size_t(len(stats))
	arr := (*C.PlerlConnRow)(C.calloc(1, size))
	out := unsafe.Slice(arr, len(stats))
	for i, s := range stats {
		out[i].node = C.CString(s.Node)
		out[i].state = C.CString(s.State)
		if s.LastError != "" {
			out[i].last_error = C.CString(s.LastError)
		}
		if !s.Since.IsZero() {
			out[i].since_unix_us = C.int64_t(s.Since.UnixMicro())
		}
		out[i].calls = C.int64_t(s.Calls)
		out[i].errors = C.int64_t(s.Errors)
		out[i].last_rtt_ms = C.double(float64(s.LastRTT) / float64(time.Millisecond))
	}
	*rows, *n = arr, C.int(len(stats))
}

// callOptions reads erlang_call's options object: retry (boolean), key (string).
func callOptions(t target, js string) (target, error) {
	var o map[string]any
	if err := json.Unmarshal([]byte(js), &o); err != nil {
		return t, pl.Errorf(sqlstate.InvalidParameterValue, "erlang_call options: %v", err)
	}
	for k, v := range o {
		switch k {
		case "retry":
			b, ok := v.(bool)
			if !ok {
				return t, pl.Errorf(sqlstate.InvalidParameterValue, "erlang_call option retry must be a boolean")
			}
			t.retry = b
		case "key":
			s, ok := v.(string)
			if !ok {
				return t, pl.Errorf(sqlstate.InvalidParameterValue, "erlang_call option key must be a string")
			}
			t.key = s
		default:
			return t, pl.Errorf(sqlstate.InvalidParameterValue, "unknown erlang_call option %q (known: key, retry)", k)
		}
	}
	return t, nil
}

// sendOptions reads erlang_send's and erlang_cast's options object: the
// destination name in the cluster, {"cluster": "global"} or
// {"cluster": "pg", "scope": "s", "all": true} (pl.ClusterName, as Lua's
// erlang.global and erlang.pg); without cluster, name is a registered name.
func sendOptions(name, js string, cast bool) (any, error) {
	fn := "erlang_send"
	if cast {
		fn = "erlang_cast"
	}
	var o map[string]any
	if err := json.Unmarshal([]byte(js), &o); err != nil {
		return nil, pl.Errorf(sqlstate.InvalidParameterValue, "%s options: %v", fn, err)
	}
	c := pl.ClusterName{Name: name, Scope: "pg"}
	cluster, scoped, all := "", false, false
	for k, v := range o {
		switch k {
		case "cluster":
			s, ok := v.(string)
			if !ok || (s != "global" && s != "pg") {
				return nil, pl.Errorf(sqlstate.InvalidParameterValue, "%s option cluster must be \"global\" or \"pg\"", fn)
			}
			cluster = s
		case "scope":
			s, ok := v.(string)
			if !ok || s == "" {
				return nil, pl.Errorf(sqlstate.InvalidParameterValue, "%s option scope must be a non-empty string", fn)
			}
			c.Scope, scoped = s, true
		case "all":
			b, ok := v.(bool)
			if !ok {
				return nil, pl.Errorf(sqlstate.InvalidParameterValue, "%s option all must be a boolean", fn)
			}
			all = b
		default:
			return nil, pl.Errorf(sqlstate.InvalidParameterValue, "unknown %s option %q (known: all, cluster, scope)", fn, k)
		}
	}
	switch {
	case cluster == "" && (scoped || all):
		return nil, pl.Errorf(sqlstate.InvalidParameterValue, "%s options scope and all are for {\"cluster\": \"pg\"}", fn)
	case cluster == "":
		return name, nil
	case cluster == "global" && (scoped || all):
		return nil, pl.Errorf(sqlstate.InvalidParameterValue, "%s options scope and all are for a :pg group, not a :global name", fn)
	}
	c.Global, c.All = cluster == "global", all
	return c, nil
}

//export plerlGoGroupMembers
func plerlGoGroupMembers(rows **C.PlerlMemberRow, n *C.int) {
	defer reportPanics("erlang_group_members")
	*rows, *n = nil, 0
	if erl == nil || len(erl.groups) == 0 {
		return
	}
	keys := make([]string, 0, len(erl.groups))
	for k := range erl.groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type row struct {
		server string
		m      cluster.MemberInfo
	}
	var all []row
	for _, k := range keys {
		server, _, _ := strings.Cut(k, "\x00")
		for _, m := range erl.groups[k].Stats() {
			all = append(all, row{server, m})
		}
	}
	size := C.size_t(unsafe.Sizeof(C.PlerlMemberRow{})) * C.size_t(len(all))
	arr := (*C.PlerlMemberRow)(C.calloc(1, size))
	out := unsafe.Slice(arr, len(all))
	for i, r := range all {
		out[i].server = C.CString(r.server)
		out[i].node = C.CString(r.m.Node)
		out[i].state = C.CString(r.m.State)
		if !r.m.DownUntil.IsZero() {
			out[i].down_until_unix_us = C.int64_t(r.m.DownUntil.UnixMicro())
		}
		out[i].failures = C.int64_t(r.m.Failures)
		if r.m.LastError != "" {
			out[i].last_error = C.CString(r.m.LastError)
		}
		out[i].calls = C.int64_t(r.m.Picks)
		out[i].share = C.double(r.m.Share)
	}
	*rows, *n = arr, C.int(len(all))
}

//export plerlGoShutdown
func plerlGoShutdown() {
	defer reportPanics("plerlGoShutdown")
	if erl != nil {
		erl.pool.CloseAll()
	}
}
