// modules: the built-in Lua modules that need the backend (spi, erlang).
package main

import "github.com/plerl/plerl/runtime/pl"

func installModules(e *pl.Engine) {
	installErlang(e)
}
