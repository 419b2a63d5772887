// modules: the built-in Lua modules the handler adds to every state (erlang;
// spi is runtime/pl's own, reaching the backend through pl.Host).
package main

import "github.com/plerl/plerl/runtime/pl"

func installModules(e *pl.Engine) {
	installErlang(e)
}
