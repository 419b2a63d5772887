/*
 * plerl.c: the pure-C library PostgreSQL loads. It defines the GUCs and the
 * SQL-visible entry points, and loads the Go library (plerl_go.so) lazily,
 * inside each backend, on first use.
 *
 * Why two libraries (docs/internals/boundary.md): a Go runtime started in
 * the postmaster does not survive fork(), so this file must never start Go;
 * it is therefore safe in shared_preload_libraries. While the Go runtime
 * starts, PostgreSQL's asynchronous signals are blocked so that every Go
 * thread inherits the block and PostgreSQL's handlers only ever run on the
 * backend's own thread.
 */
#include "postgres.h"

#include <limits.h>
#include <pthread.h>
#include <signal.h>

#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/guc.h"

#include "../handler/plerl_shared.h"
#include "stats.h"

PG_MODULE_MAGIC;

/*
 * The settings plerl_go.so reads; each default is written once, in
 * plerl_shared.h, for both the variable and its GUC.
 */
static PlerlSettings settings = {
	.call_timeout_ms = PLERL_DEFAULT_CALL_TIMEOUT_MS,
	.connect_timeout_ms = PLERL_DEFAULT_CONNECT_TIMEOUT_MS,
	.max_message_kb = PLERL_DEFAULT_MAX_MESSAGE_KB,
	.max_connections = PLERL_DEFAULT_MAX_CONNECTIONS,
	.max_atoms = PLERL_DEFAULT_MAX_ATOMS,
	.lua_memory_limit_kb = PLERL_DEFAULT_LUA_MEMORY_LIMIT_KB,
	.lua_time_limit_ms = PLERL_DEFAULT_LUA_TIME_LIMIT_MS,
	.tick_time_s = PLERL_DEFAULT_TICK_TIME_S,
	.go_max_procs = PLERL_DEFAULT_GO_MAX_PROCS,
	.max_in_flight = PLERL_DEFAULT_MAX_IN_FLIGHT,
	.stat_track = PLERL_DEFAULT_STAT_TRACK,
	.log_min_duration_ms = PLERL_DEFAULT_LOG_MIN_DURATION_MS,
};

/* plerl_go.so's plerl_dispatch and plerl_bind (handler/entry.c). */
typedef Datum (*PlerlDispatchFn) (int entry, FunctionCallInfo fcinfo);
typedef void (*PlerlBindFn) (const PlerlSettings *settings);

static PlerlDispatchFn dispatch = NULL;

/*
 * Stack size for threads the Go runtime creates (glibc's default is 8 MB of
 * commit charge per thread; Go's own threads need far less: C code runs on
 * them only for the poller's flag read). It becomes the process default and
 * stays so: PostgreSQL itself creates no threads in a backend. boundary.md
 * smoke-tested 256 KB; 512 KB leaves headroom.
 */
#define PLERL_GO_THREAD_STACK (512 * 1024)

void		_PG_init(void);

void
_PG_init(void)
{
	DefineCustomIntVariable("plerl.call_timeout",
							"Timeout for one Erlang call.",
							"0 waits until the statement is cancelled.",
							&settings.call_timeout_ms, PLERL_DEFAULT_CALL_TIMEOUT_MS, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.connect_timeout",
							"Timeout for connecting to an Erlang node (epmd and handshake).",
							NULL, &settings.connect_timeout_ms, PLERL_DEFAULT_CONNECT_TIMEOUT_MS, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.max_message_size",
							"Largest distribution message sent or accepted.",
							NULL, &settings.max_message_kb, PLERL_DEFAULT_MAX_MESSAGE_KB, 1, 1024 * 1024,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.max_connections",
							"Erlang connections one backend may hold open.",
							NULL, &settings.max_connections, PLERL_DEFAULT_MAX_CONNECTIONS, 1, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.max_atoms",
							"Atoms one call may create from tagged arguments.",
							NULL, &settings.max_atoms, PLERL_DEFAULT_MAX_ATOMS, 0, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.max_in_flight",
							"Erlang calls one batch, multicall or Lua function may have in flight at once.",
							"Bounds what a batch holds in memory; replies beyond it wait on the node.",
							&settings.max_in_flight, PLERL_DEFAULT_MAX_IN_FLIGHT, 1, 100000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.lua_memory_limit",
							"Memory one backend's Lua states may use.",
							NULL, &settings.lua_memory_limit_kb, PLERL_DEFAULT_LUA_MEMORY_LIMIT_KB, 1024, INT_MAX,
							PGC_SUSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.lua_time_limit",
							"Longest time one outermost Lua call may run (0: no limit).",
							NULL, &settings.lua_time_limit_ms, PLERL_DEFAULT_LUA_TIME_LIMIT_MS, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.tick_time",
							"net_ticktime assumed for Erlang peers.",
							NULL, &settings.tick_time_s, PLERL_DEFAULT_TICK_TIME_S, 1, 3600,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	/*
	 * At least 2: with asynchronous preemption off (required, see the
	 * Makefile), a Lua loop holding the only P would starve the interrupt
	 * poller and the Erlang reader, so cancel could never be noticed.
	 */
	DefineCustomIntVariable("plerl.go_max_procs",
							"GOMAXPROCS of the Go runtime in each backend (at least 2).",
							NULL, &settings.go_max_procs, PLERL_DEFAULT_GO_MAX_PROCS, 2, 64,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("plerl.node_prefix",
							   "Prefix of this backend's Erlang node name.",
							   NULL, &settings.node_prefix, PLERL_DEFAULT_NODE_PREFIX,
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("plerl.node_host",
							   "Host part of this backend's Erlang node name.",
							   NULL, &settings.node_host, PLERL_DEFAULT_NODE_HOST,
							   PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("plerl.null_atom",
							   "Atom that JSON null and Lua nil become (nil for Elixir, null or undefined for Erlang).",
							   NULL, &settings.null_atom, PLERL_DEFAULT_NULL_ATOM,
							   PGC_USERSET, 0, NULL, NULL, NULL);
	plerl_stats_init(&settings);	/* src/stats.c: statistics, slow-call log */
	MarkGUCPrefixReserved("plerl");
}

/*
 * Load plerl_go.so with PostgreSQL's asynchronous signals blocked, so the
 * Go runtime's threads inherit the block (docs/internals/boundary.md,
 * defect 2). Found
 * through dynamic_library_path (default $libdir), so a developer can test a
 * build of their own without installing it over everyone else's.
 */
static void
plerl_load_go(void)
{
	sigset_t	block,
				saved;
	pthread_attr_t attr;
	bool		stack_set = false;
	void	   *bind;
	void	   *fn;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGQUIT);
	sigaddset(&block, SIGALRM);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGUSR2);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGURG);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGPIPE);

	if (pthread_attr_init(&attr) == 0)
	{
		if (pthread_attr_setstacksize(&attr, PLERL_GO_THREAD_STACK) == 0 &&
			pthread_setattr_default_np(&attr) == 0)
			stack_set = true;
		pthread_attr_destroy(&attr);
	}
	(void) stack_set;

	pthread_sigmask(SIG_BLOCK, &block, &saved);
	PG_TRY();
	{
		fn = (void *) load_external_function("plerl_go", "plerl_dispatch", true, NULL);
		bind = (void *) load_external_function("plerl_go", "plerl_bind", true, NULL);
		((PlerlBindFn) bind) (&settings);
	}
	PG_FINALLY();
	{
		pthread_sigmask(SIG_SETMASK, &saved, NULL);
	}
	PG_END_TRY();
	dispatch = (PlerlDispatchFn) fn;
}

static inline Datum
plerl_forward(int entry, FunctionCallInfo fcinfo)
{
	if (unlikely(dispatch == NULL))
		plerl_load_go();
	return dispatch(entry, fcinfo);
}

#define PLERL_ENTRY_FN(name, entry) \
	PG_FUNCTION_INFO_V1(name); \
	Datum name(PG_FUNCTION_ARGS) { return plerl_forward(entry, fcinfo); }

PLERL_ENTRY_FN(plerl_call_handler, PLERL_ENTRY_CALL)
PLERL_ENTRY_FN(plerl_inline_handler, PLERL_ENTRY_INLINE)
PLERL_ENTRY_FN(plerl_validator, PLERL_ENTRY_VALIDATOR)
PLERL_ENTRY_FN(plerlu_call_handler, PLERL_ENTRY_CALL_U)
PLERL_ENTRY_FN(plerlu_inline_handler, PLERL_ENTRY_INLINE_U)
PLERL_ENTRY_FN(plerlu_validator, PLERL_ENTRY_VALIDATOR_U)

/* erlang_* SQL functions: PLERL_ENTRY_ERLANG + their PlerlErlangFn. */
PLERL_ENTRY_FN(plerl_erlang_connect, PLERL_ENTRY_ERLANG + PLERL_ERL_CONNECT)
PLERL_ENTRY_FN(plerl_erlang_call, PLERL_ENTRY_ERLANG + PLERL_ERL_CALL)
PLERL_ENTRY_FN(plerl_erlang_disconnect, PLERL_ENTRY_ERLANG + PLERL_ERL_DISCONNECT)
PLERL_ENTRY_FN(plerl_erlang_send, PLERL_ENTRY_ERLANG + PLERL_ERL_SEND)
PLERL_ENTRY_FN(plerl_erlang_ping, PLERL_ENTRY_ERLANG + PLERL_ERL_PING)
PLERL_ENTRY_FN(plerl_erlang_connections, PLERL_ENTRY_ERLANG + PLERL_ERL_CONNECTIONS)
PLERL_ENTRY_FN(plerl_fdw_validator, PLERL_ENTRY_ERLANG + PLERL_ERL_FDW_VALIDATOR)
PLERL_ENTRY_FN(plerl_erlang_cast, PLERL_ENTRY_ERLANG + PLERL_ERL_CAST)
PLERL_ENTRY_FN(plerl_erlang_call_many, PLERL_ENTRY_ERLANG + PLERL_ERL_CALL_MANY)

/*
 * Statement trigger on plerl_allow: tell every backend to reload its cached
 * allow-list (a relcache invalidation is sent at commit). Pure C: changing
 * the list must not start Go.
 */
PG_FUNCTION_INFO_V1(plerl_allow_changed);
Datum
plerl_allow_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "plerl_allow_changed: not called as a trigger");
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

/* Diagnostics for the boundary tests: is the Go library loaded here? */
PG_FUNCTION_INFO_V1(plerl_go_loaded);
Datum
plerl_go_loaded(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(dispatch != NULL);
}
