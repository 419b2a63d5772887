// erlang: the backend's Erlang sessions (one dist.Pool per backend), the
// erlang_* SQL functions' Go half, and the SQLSTATE table for their errors.
package main

/*
#include "postgres.h"
#include "fmgr.h"
#include <stdlib.h>
#include "plerl.h"
#include "plerl_shared.h"
#include "utils/wait_event.h"
extern int plerl_backend_slot(void);
extern int plerl_cluster_port(void);
extern const PlerlSettings *plerl_settings;
*/
import "C"

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/plerl/plerl/runtime/dist"
	"github.com/plerl/plerl/runtime/pl"
	"github.com/plerl/plerl/runtime/term"
)

// SQLSTATEs of Erlang errors (docs/sql-api.md has the table).
const (
	stateCannotConnect = "08001" // epmd, TCP connect
	stateAuth          = "28000" // handshake or cookie refused
	stateNodeDown      = "08006" // connection lost during a call
	stateProtocol      = "08P01" // the peer broke the protocol
	stateCallTimeout   = "PE001" // plerl.call_timeout (ours, not statement_timeout)
	stateRemote        = "PE002" // remote error/exit/throw: class and reason in DETAIL
	stateNoSession     = "08003" // raw node without erlang_connect in this session
	stateUndefFunction = "42883" // undef on the remote node
	stateBadArgs       = "22023" // malformed arguments
	stateTooLarge      = "54000" // message or term limits
	stateOutOfRange    = "22003"
)

type bridge struct {
	pool      *dist.Pool
	limits    poolLimits // what pool was made with
	self      string
	rawCookie map[string]string // node -> cookie, from erlang_connect (admins)

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
		return nil, pl.Errorf(stateBadArgs, "plerl.node_prefix/plerl.node_host do not make a valid node name: %v", err)
	}
	l := currentPoolLimits()
	erl = &bridge{pool: newPool(name, l), limits: l, self: name, rawCookie: map[string]string{}}
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
		},
		MaxConns: int(l.maxConns),
	})
}

// target is a resolved destination, copied out of C memory.
type target struct {
	node, cookie, server string
	tls                  bool
	tlsCA, tlsCert       string
	tlsKey, tlsName      string
}

func targetFromC(t *C.PlerlErlTarget) target {
	return target{
		node: goStr(t.node), cookie: goStr(t.cookie), server: goStr(t.server),
		tls: t.tls != 0, tlsCA: goStr(t.tls_ca), tlsCert: goStr(t.tls_cert),
		tlsKey: goStr(t.tls_key), tlsName: goStr(t.tls_server_name),
	}
}

// name is how messages name the target: the server the user named, or the raw node.
func (t target) name() string {
	if t.server != "" {
		return "server " + t.server
	}
	return t.node
}

// conn returns the session for a target, connecting if needed.
func (b *bridge) conn(ctx context.Context, t target) (*dist.Conn, error) {
	cookie := t.cookie
	if t.server == "" {
		c, ok := b.rawCookie[t.node]
		if !ok {
			return nil, pl.Errorf(stateNoSession, "no session with node %s: call erlang_connect(node, cookie) first, or name a plerl foreign server", t.node)
		}
		cookie = c
	}
	ident := b.identOf(cookie)
	if !t.tls {
		// The common case, once connected: no context, no config.
		if c := b.pool.Lookup(t.node, ident); c != nil {
			return c, nil
		}
	}
	nc := &dist.NodeConfig{Cookie: cookie, Ident: ident}
	if t.tls {
		tc, err := tlsConfig(t)
		if err != nil {
			return nil, err
		}
		nc.TLS = tc
		nc.Ident += "/tls/" + t.tlsCA + "/" + t.tlsCert
	}
	s := readSettings()
	cctx, cancel := context.WithTimeout(ctx, s.ConnectTimeout)
	defer cancel()
	c, err := b.pool.GetWith(cctx, t.node, nc)
	if err != nil && dist.IsTimeout(err) && ctx.Err() == nil {
		// plerl.connect_timeout ran out (now, or at the failed connect
		// the pool is backing off from), not the call's own timeout.
		return nil, &pl.Error{Kind: pl.KindError, SQLState: stateCannotConnect,
			Message: fmt.Sprintf("cannot connect to %s: %v", t.name(), err),
			Hint:    "The limit of connecting (epmd lookup, TCP connect, handshake) is plerl.connect_timeout."}
	}
	return c, err
}

func tlsConfig(t target) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.tlsName}
	if t.tlsCA != "" {
		pem, err := os.ReadFile(t.tlsCA)
		if err != nil {
			return nil, pl.Errorf("58P01", "cannot read tls_ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, pl.Errorf(stateBadArgs, "tls_ca %s holds no PEM certificate", t.tlsCA)
		}
		tc.RootCAs = pool
	}
	if t.tlsCert != "" || t.tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(t.tlsCert, t.tlsKey)
		if err != nil {
			return nil, pl.Errorf("58P01", "cannot load tls_cert/tls_key: %v", err)
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
		e := &pl.Error{Kind: pl.KindError, SQLState: stateRemote,
			Message: fmt.Sprintf("%s failed on the remote node: %s", re.MFA, re.Class),
			Detail:  fmt.Sprintf("class: %s\nreason: %s", re.Class, termText(re.Reason))}
		if re.Stack != nil {
			e.Detail += "\nstacktrace: " + termText(re.Stack)
		}
		if re.IsUndef() {
			e.SQLState = stateUndefFunction
			e.Message = fmt.Sprintf("function %s is not defined on the remote node", re.MFA)
		}
		return e
	}
	var de *term.DecodeError
	if errors.As(err, &de) && de.Kind == term.KindMalformed {
		// Only what a peer sent is decoded: it broke the protocol (not 22023,
		// which would blame the caller's arguments).
		return &pl.Error{Kind: pl.KindError, SQLState: stateProtocol, Message: what + ": " + err.Error()}
	}
	if k := term.KindOf(err); k != 0 {
		return &pl.Error{Kind: pl.KindError, SQLState: k.SQLState(), Message: what + ": " + err.Error()}
	}
	state := pl.StateInternal
	switch dist.KindOf(err) {
	case dist.KindEpmd, dist.KindConnect:
		state = stateCannotConnect
	case dist.KindHandshake, dist.KindCookieRefused:
		state = stateAuth
	case dist.KindNodeDown, dist.KindClosed:
		state = stateNodeDown
	case dist.KindTimeout:
		return &pl.Error{Kind: pl.KindError, SQLState: stateCallTimeout,
			Message: what + ": timed out",
			Hint:    "The limit is plerl.call_timeout, or the timeout_ms argument (0: wait until the statement is cancelled)."}
	case dist.KindCancelled:
		return &pl.Error{Kind: pl.KindCancel, SQLState: pl.StateQueryCanceled, Message: "canceling statement due to user request"}
	case dist.KindProtocol:
		state = stateProtocol
	case dist.KindTooLarge:
		state = stateTooLarge
	}
	return &pl.Error{Kind: pl.KindError, SQLState: state, Message: what + ": " + err.Error()}
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

// waiting marks the backend as waiting (pg_stat_activity wait_event) around f.
//
// pgstat_report_wait_start/end are inline stores to *my_wait_event_info
// (never raising); doing the same store from Go saves two cgo calls per
// request. The pointer is read each time: PostgreSQL moves it to shared
// memory once the backend's PGPROC is set up.
func waiting(f func()) {
	if p := C.my_wait_event_info; p != nil {
		atomic.StoreUint32((*uint32)(unsafe.Pointer(p)), uint32(C.PG_WAIT_EXTENSION))
		defer atomic.StoreUint32((*uint32)(unsafe.Pointer(p)), 0)
	}
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
		return pl.Errorf(stateBadArgs, "plerl.null_atom must be nil, undefined or null, not %q", a)
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
			return pl.Errorf(stateAuth, "cookie must not be empty")
		}
		if t.server == "" {
			b.rawCookie[t.node] = cookie
		}
		ctx, cancel := callContext(0)
		defer cancel()
		var cerr error
		waiting(func() { _, cerr = b.conn(ctx, t) })
		if cerr != nil {
			if t.server == "" {
				delete(b.rawCookie, t.node)
			}
			return sqlError(cerr, "connect to "+t.node)
		}
		setBool(&req.result, true)
	case C.PLERL_ERL_DISCONNECT:
		delete(b.rawCookie, t.node)
		setBool(&req.result, b.pool.Disconnect(t.node))
	case C.PLERL_ERL_PING:
		ctx, cancel := callContext(timeoutOf(req.timeout_ms))
		defer cancel()
		var perr error
		waiting(func() {
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
		mod, fun := goStr(req.module), goStr(req.function)
		ctx, cancel := callContext(timeoutOf(req.timeout_ms))
		defer cancel()
		var res any
		var cerr error
		waiting(func() {
			var c *dist.Conn
			if c, cerr = b.conn(ctx, t); cerr == nil {
				res, cerr = c.Call(ctx, mod, fun, args)
			}
		})
		if cerr != nil {
			return sqlError(cerr, fmt.Sprintf("erlang_call %s:%s/%d on %s", mod, fun, len(args), t.name()))
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
		if req.op == C.PLERL_ERL_CAST {
			msg = term.Tuple{term.Atom("$gen_cast"), msg}
		}
		if err := b.send(nil, t, goStr(req.name), msg); err != nil {
			return err
		}
		setBool(&req.result, true)
	default:
		return pl.Errorf(pl.StateInternal, "plerl: unknown Erlang request %d", int(req.op))
	}
	return nil
}

// send delivers msg to a registered name (string) or a pid on t, under
// parent (nil: the engine's context) and plerl.call_timeout. Waiting for a
// peer that stopped reading is waiting like any other: it ends with them.
func (b *bridge) send(parent context.Context, t target, to any, msg any) error {
	ctx, cancel := callContextFrom(parent, readSettings().CallTimeout)
	defer cancel()
	var err error
	waiting(func() {
		var c *dist.Conn
		if c, err = b.conn(ctx, t); err != nil {
			return
		}
		switch dst := to.(type) {
		case string:
			// From our one pid on c: a new pid per send would keep a
			// mailbox (MailboxSize slots) for the connection's life.
			err = c.RegSend(ctx, selfPid(c), dst, msg)
		case term.Pid:
			err = c.Send(ctx, dst, msg)
		default:
			err = pl.Errorf(stateBadArgs, "cannot send to a %T", to)
		}
	})
	return sqlError(err, "send to "+t.name())
}

func setBool(v *C.PlerlValue, b bool) {
	v.kind = C.PLV_BOOL
	if b {
		v.i = 1
	}
}

//export plerlGoErlangConnections
func plerlGoErlangConnections(rows **C.PlerlConnRow, n *C.int) {
	defer func() { recover() }()
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

//export plerlGoShutdown
func plerlGoShutdown() {
	defer func() { recover() }()
	if erl != nil {
		erl.pool.CloseAll()
	}
}
