// Typed errors of the distribution client: one *Error type with a Kind the SQL layer maps to a SQLSTATE.
package dist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Kind classifies an error for callers (and for the SQL layer, which maps
// each Kind to one SQLSTATE: Epmd/Connect 08001, Handshake/CookieRefused
// 28000, NodeDown 08006, Timeout its own code, Remote, Protocol, TooLarge
// 22023, ...).
type Kind int

const (
	KindEpmd          Kind = iota + 1 // epmd unreachable, name not registered, bad reply
	KindConnect                       // TCP/TLS connect to the distribution port failed
	KindHandshake                     // handshake failed (status nok/not_allowed/alive, flags, version, framing)
	KindCookieRefused                 // the peer closed after our challenge reply, or its digest did not match ours
	KindNodeDown                      // an established connection went away
	KindTimeout                       // a context deadline passed (context.DeadlineExceeded)
	KindCancelled                     // the context was cancelled (context.Canceled)
	KindRemote                        // the remote call raised (see *RemoteError)
	KindProtocol                      // the peer sent something we cannot accept
	KindTooLarge                      // a message exceeded Config.MaxMessageSize / MaxSendSize
	KindClosed                        // Close or Pool.CloseAll was called
)

var kindNames = [...]string{
	KindEpmd: "epmd", KindConnect: "connect", KindHandshake: "handshake",
	KindCookieRefused: "cookie refused", KindNodeDown: "node down",
	KindTimeout: "timeout", KindCancelled: "cancelled", KindRemote: "remote",
	KindProtocol: "protocol", KindTooLarge: "too large", KindClosed: "closed",
}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is every error this package returns (a *RemoteError is wrapped in an
// *Error of KindRemote). Node is the peer node name, Step the protocol step
// ("epmd", "send_name", "recv_challenge_ack", "rpc erlang:node/0", ...).
// It never contains the cookie: no code path formats Config.Cookie.
type Error struct {
	Kind Kind
	Node string
	Step string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Step != "" {
		b.WriteString(e.Step)
	} else {
		b.WriteString(e.Kind.String())
	}
	if e.Node != "" {
		b.WriteString(" (")
		b.WriteString(e.Node)
		b.WriteString(")")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, &Error{Kind: KindNodeDown}) match by kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Node == "" && t.Step == "" && t.Err == nil
}

// KindOf returns the Kind of the first *Error in err's chain, or 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func IsEpmd(err error) bool          { return KindOf(err) == KindEpmd }
func IsConnect(err error) bool       { return KindOf(err) == KindConnect }
func IsHandshake(err error) bool     { return KindOf(err) == KindHandshake }
func IsCookieRefused(err error) bool { return KindOf(err) == KindCookieRefused }
func IsNodeDown(err error) bool      { return KindOf(err) == KindNodeDown }
func IsTimeout(err error) bool       { return KindOf(err) == KindTimeout }
func IsCancelled(err error) bool     { return KindOf(err) == KindCancelled }
func IsRemote(err error) bool        { return KindOf(err) == KindRemote }
func IsProtocol(err error) bool      { return KindOf(err) == KindProtocol }
func IsTooLarge(err error) bool      { return KindOf(err) == KindTooLarge }
func IsClosed(err error) bool        { return KindOf(err) == KindClosed }

// IsUndef reports whether err is a remote call that failed with undef
// (module or function not found on the peer).
func IsUndef(err error) bool {
	var re *RemoteError
	if !errors.As(err, &re) {
		return false
	}
	return re.IsUndef()
}

func newErr(kind Kind, node, step string, err error) *Error {
	return &Error{Kind: kind, Node: node, Step: step, Err: err}
}

func protoErr(node, step, format string, args ...any) *Error {
	return newErr(KindProtocol, node, step, fmt.Errorf(format, args...))
}

// ctxErr classifies an I/O failure that happened while ctx may have expired:
// a deadline becomes KindTimeout and a cancel KindCancelled, whatever the
// socket reported (we abort sockets by moving their deadline). Otherwise it
// returns an error of kind def.
func ctxErr(ctx context.Context, def Kind, node, step string, err error) *Error {
	if ce := ctx.Err(); ce != nil {
		if errors.Is(ce, context.DeadlineExceeded) || errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			return newErr(KindTimeout, node, step, ce)
		}
		return newErr(KindCancelled, node, step, ce)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return newErr(KindTimeout, node, step, err)
	}
	if errors.Is(err, context.Canceled) {
		return newErr(KindCancelled, node, step, err)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// A socket deadline we set from a context that has not (yet)
		// reported Done: still a timeout from the caller's point of view.
		return newErr(KindTimeout, node, step, err)
	}
	return newErr(def, node, step, err)
}
