// protocol: compile-time checks that Go's mirrors of the C-Go protocol's
// ids (handler/plerl.h, plerl_shared.h) are the same numbers. runtime/pl
// cannot import "C", so it keeps its own constants (pl.Op*, pl.Level*);
// a mismatch here fails the build, not a call.
package main

/*
#include "plerl.h"
*/
import "C"

import "github.com/plerl/plerl/runtime/pl"

// same is indexable only at 0: same[a-b] compiles only when a == b.
var same [1]struct{}

var (
	_ = same[pl.OpConnect-C.PLERL_ERL_CONNECT]
	_ = same[pl.OpCall-C.PLERL_ERL_CALL]
	_ = same[pl.OpDisconnect-C.PLERL_ERL_DISCONNECT]
	_ = same[pl.OpSend-C.PLERL_ERL_SEND]
	_ = same[pl.OpPing-C.PLERL_ERL_PING]
	_ = same[pl.OpCast-C.PLERL_ERL_CAST]
	_ = same[pl.OpCallMany-C.PLERL_ERL_CALL_MANY]

	_ = same[pl.LevelDebug-C.PLERL_DEBUG]
	_ = same[pl.LevelLog-C.PLERL_LOG]
	_ = same[pl.LevelInfo-C.PLERL_INFO]
	_ = same[pl.LevelNotice-C.PLERL_NOTICE]
	_ = same[pl.LevelWarning-C.PLERL_WARNING]
)
