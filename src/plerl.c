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
#include <sys/mman.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "executor/spi.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "../handler/plerl_shared.h"
#include "stats.h"

PG_MODULE_MAGIC;

/*
 * The settings plerl_go.so reads; each default is written once, in
 * plerl_shared.h, for both the variable and its GUC.
 */
static PlerlSettings settings = {
	.size = sizeof(PlerlSettings),
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
	.outbox_batch = PLERL_DEFAULT_OUTBOX_BATCH,
	.outbox_max_attempts = PLERL_DEFAULT_OUTBOX_MAX_ATTEMPTS,
	.outbox_retry_ms = PLERL_DEFAULT_OUTBOX_RETRY_MS,
	.outbox_max_size_mb = PLERL_DEFAULT_OUTBOX_MAX_SIZE_MB,
	.outbox_sweep_ms = PLERL_DEFAULT_OUTBOX_SWEEP_MS,
	.outbox_vacuum_ms = PLERL_DEFAULT_OUTBOX_VACUUM_MS,
	.stat_track = PLERL_DEFAULT_STAT_TRACK,
	.log_min_duration_ms = PLERL_DEFAULT_LOG_MIN_DURATION_MS,
};

/* plerl.outbox_databases: one outbox worker each (read at server start). */
static char *outbox_databases = NULL;

/* plerl.outbox_autostart: a committing enqueue (and the launcher's probe) starts a worker. */
static bool outbox_autostart = true;

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

/*
 * What loading plerl_go.so commits (Committed_AS) in a backend, with a
 * margin: measured 48 MB with Go 1.26 (32 MB of it the Go heap's arena index,
 * 8 MB of heap, the threads' stacks; docs/internals/boundary.md, Memory).
 * The Go runtime cannot survive a failed mapping (it throws and the backend
 * dies, which restarts every session), so the loader first checks that this
 * much can be committed, and raises 53200 if not.
 */
#define PLERL_GO_COMMIT_PROBE ((size_t) 64 * 1024 * 1024)

void		_PG_init(void);
static void outbox_init(void);
static void outbox_xact_callback(XactEvent event, void *arg);
static void outbox_arm(void);
static void outbox_woken(void);

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
	/*
	 * A PGC_POSTMASTER setting can only be defined while the postmaster
	 * loads us (defining it in a backend is FATAL): without
	 * shared_preload_libraries there is no plerl.outbox_databases, and no
	 * worker started from it.
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("plerl.outbox_databases",
								   "Databases whose outbox a background worker delivers (comma-separated; needs shared_preload_libraries).",
								   NULL, &outbox_databases, "",
								   PGC_POSTMASTER, GUC_LIST_INPUT, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.outbox_batch_size",
							"Most messages the outbox worker delivers to one destination in one call.",
							NULL, &settings.outbox_batch, PLERL_DEFAULT_OUTBOX_BATCH, 1, 100000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.outbox_max_attempts",
							"Delivery attempts before a message is set aside as dead.",
							NULL, &settings.outbox_max_attempts, PLERL_DEFAULT_OUTBOX_MAX_ATTEMPTS, 1, 1000000,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.outbox_retry_delay",
							"Wait before the first retry of a destination; it doubles per attempt, up to 5 minutes.",
							NULL, &settings.outbox_retry_ms, PLERL_DEFAULT_OUTBOX_RETRY_MS, 1, 300000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.outbox_max_size",
							"Size of the outbox table beyond which enqueue fails.",
							NULL, &settings.outbox_max_size_mb, PLERL_DEFAULT_OUTBOX_MAX_SIZE_MB, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.outbox_sweep_interval",
							"How often the outbox worker looks for work without being woken.",
							NULL, &settings.outbox_sweep_ms, PLERL_DEFAULT_OUTBOX_SWEEP_MS, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("plerl.outbox_autostart",
							 "Start this database's outbox worker when a transaction that enqueued commits and none runs (and after a restart, when messages are pending).",
							 NULL, &outbox_autostart, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.outbox_vacuum_interval",
							"How often, at most, the outbox worker vacuums the queue after delivering (0: leave it to autovacuum).",
							NULL, &settings.outbox_vacuum_ms, PLERL_DEFAULT_OUTBOX_VACUUM_MS, 0, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	plerl_stats_init(&settings);	/* src/stats.c: statistics, slow-call log */
	settings.outbox_arm = outbox_arm;
	settings.outbox_woken = outbox_woken;
	RegisterXactCallback(outbox_xact_callback, NULL);
	MarkGUCPrefixReserved("plerl");
	if (process_shared_preload_libraries_in_progress)
		outbox_init();
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
	void	   *probe;

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

	/*
	 * A private writable mapping is charged to the commit when made, touched
	 * or not: if this one fails, Go's would (vm.overcommit_memory = 2, or an
	 * address-space limit). Racy against other processes, but it turns the
	 * common case into an error instead of a crash.
	 */
	probe = mmap(NULL, PLERL_GO_COMMIT_PROBE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (probe == MAP_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("plerl's Go runtime needs about %zu MB of commit charge in each backend, and the system refused %zu MB: %m.",
						   (size_t) 48, PLERL_GO_COMMIT_PROBE >> 20),
				 errhint("With vm.overcommit_memory = 2, raise vm.overcommit_ratio or vm.overcommit_kbytes, or use fewer backends that run plerl.")));
	munmap(probe, PLERL_GO_COMMIT_PROBE);

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
PLERL_ENTRY_FN(plerl_outbox_enqueue, PLERL_ENTRY_ERLANG + PLERL_ERL_ENQUEUE)
PLERL_ENTRY_FN(plerl_erlang_group_members, PLERL_ENTRY_ERLANG + PLERL_ERL_GROUP_MEMBERS)

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

/* ---- the outbox worker (docs/outbox.md) ---- */

/*
 * Shared memory: which process delivers each database's outbox, so that a
 * committing backend can set its latch. Only with shared_preload_libraries
 * (shared memory is requested at server start); without it the worker finds
 * work by its periodic sweep alone.
 */
#define PLERL_OUTBOX_SLOTS 32

typedef struct OutboxSlot
{
	Oid			dboid;
	pid_t		pid;			/* 0: free */
	Latch	   *latch;			/* the worker's procLatch (in shared memory) */
	pg_atomic_uint32 pending;	/* 1: a wake-up is on its way; the worker clears it before it reads */
} OutboxSlot;

typedef struct OutboxShared
{
	slock_t		mutex;
	OutboxSlot	slots[PLERL_OUTBOX_SLOTS];
} OutboxShared;

static OutboxShared *outbox_shared = NULL;
static int	outbox_slot = -1;		/* in the worker: its slot */
static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

static void
outbox_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(MAXALIGN(sizeof(OutboxShared)));
}

static void
outbox_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	outbox_shared = ShmemInitStruct("plerl outbox", sizeof(OutboxShared), &found);
	if (!found)
	{
		memset(outbox_shared, 0, sizeof(OutboxShared));
		SpinLockInit(&outbox_shared->mutex);
		for (int i = 0; i < PLERL_OUTBOX_SLOTS; i++)
			pg_atomic_init_u32(&outbox_shared->slots[i].pending, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

PGDLLEXPORT void plerl_outbox_main(Datum arg);
PGDLLEXPORT void plerl_outbox_launcher_main(Datum arg);

/* A worker for one database; by name (plerl.outbox_databases) or by oid (flags). */
static void
outbox_worker_init(BackgroundWorker *w, const char *db, int flags)
{
	memset(w, 0, sizeof(*w));
	w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	/*
	 * A worker of plerl.outbox_databases comes back when it crashed or was
	 * killed (5 s: a database not created yet would spin): the queue is
	 * still there. A started (dynamic) one never: a database dropped under
	 * it would have it fail to connect every 5 s for ever. After a crash the
	 * launcher (restarted with the cluster) starts one again where messages
	 * are pending; otherwise the next committing enqueue does.
	 */
	w->bgw_restart_time = (flags & PLERL_OUTBOX_W_DYNAMIC) ? BGW_NEVER_RESTART : 5;
	strlcpy(w->bgw_library_name, "plerl", BGW_MAXLEN);
	strlcpy(w->bgw_function_name, "plerl_outbox_main", BGW_MAXLEN);
	snprintf(w->bgw_name, BGW_MAXLEN, "plerl outbox %s%s", (flags & PLERL_OUTBOX_W_BYOID) ? "database " : "", db);
	strlcpy(w->bgw_type, "plerl outbox", BGW_MAXLEN);
	strlcpy(w->bgw_extra, db, BGW_EXTRALEN);
	w->bgw_main_arg = Int32GetDatum(flags);	/* how it starts and how a second one exits */
}

static void
outbox_register(const char *dbname, bool dynamic)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;

	outbox_worker_init(&w, dbname, dynamic ? PLERL_OUTBOX_W_DYNAMIC : 0);
	if (!dynamic)
	{
		RegisterBackgroundWorker(&w);
		return;
	}
	w.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&w, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the plerl outbox worker: no free background worker slot"),
				 errhint("Raise max_worker_processes.")));
}

/*
 * A dynamic worker for a database by oid, without a handle: no catalog
 * access, no allocation, nothing that raises (the commit path and the
 * launcher call it). False when no background worker slot is free.
 */
static bool
outbox_register_oid(Oid dboid, int flags)
{
	BackgroundWorker w;
	char		oid[16];

	snprintf(oid, sizeof(oid), "%u", dboid);
	outbox_worker_init(&w, oid, flags | PLERL_OUTBOX_W_DYNAMIC | PLERL_OUTBOX_W_BYOID);
	return RegisterDynamicBackgroundWorker(&w, NULL);
}

/*
 * The launcher (shared_preload_libraries): at each server start and after
 * each crash of the cluster, after recovery, it lists the databases (connected to none: pg_database is a
 * shared catalog) and starts a probe worker for each that allows
 * connections; a probe that finds no pending message in its database's
 * plerl.outbox exits at once, one that finds some stays as its worker. So
 * messages left by a restart or a crash are delivered without waiting for a
 * new enqueue, and without plerl.outbox_databases. Pure C: Go is never
 * loaded here.
 */
static void
outbox_register_launcher(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 5;		/* and at once after a crash of the cluster */
	strlcpy(w.bgw_library_name, "plerl", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "plerl_outbox_launcher_main", BGW_MAXLEN);
	strlcpy(w.bgw_name, "plerl outbox launcher", BGW_MAXLEN);
	strlcpy(w.bgw_type, "plerl outbox launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&w);
}

void
plerl_outbox_launcher_main(Datum arg)
{
	List	   *dbs = NIL;
	ListCell   *lc;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("plerl outbox launcher");

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	{
		Relation	rel = table_open(DatabaseRelationId, AccessShareLock);
		TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
		HeapTuple	tup;

		while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
		{
			Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

			if (db->datallowconn && !db->datistemplate)
			{
				MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

				dbs = lappend_oid(dbs, db->oid);
				MemoryContextSwitchTo(old);
			}
		}
		table_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	CommitTransactionCommand();

	foreach(lc, dbs)
	{
		/* No free slot: wait for one (probes of other databases exit soon). */
		while (!outbox_register_oid(lfirst_oid(lc), PLERL_OUTBOX_W_PROBE))
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 1000, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	ereport(LOG, (errmsg("plerl outbox launcher: looked for pending messages in %d databases", list_length(dbs))));

	/*
	 * Then it waits, connected to no database, holding nothing: the
	 * postmaster restarts it with the cluster after a crash (a worker
	 * killed with kill -9, a backend that crashed), and it looks again.
	 */
	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* At server start (shared_preload_libraries): shared memory, one worker per listed database. */
static void
outbox_init(void)
{
	char	   *raw = pstrdup(outbox_databases ? outbox_databases : "");
	List	   *names = NIL;
	ListCell   *lc;

	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = outbox_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = outbox_shmem_startup;
	if (!SplitIdentifierString(raw, ',', &names))
		ereport(FATAL,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid list syntax in plerl.outbox_databases")));
	foreach(lc, names)
		outbox_register((char *) lfirst(lc), false);
	outbox_register_launcher();
}

static void
outbox_slot_release(int code, Datum arg)
{
	OutboxSlot *slot = &outbox_shared->slots[DatumGetInt32(arg)];

	SpinLockAcquire(&outbox_shared->mutex);
	if (slot->pid == MyProcPid)
	{
		slot->pid = 0;
		slot->latch = NULL;
	}
	SpinLockRelease(&outbox_shared->mutex);
}

/* Take a slot for this worker's database, so commits there set our latch. */
static void
outbox_slot_take(void)
{
	int			free_slot = -1;

	if (outbox_shared == NULL)
		return;
	SpinLockAcquire(&outbox_shared->mutex);
	for (int i = 0; i < PLERL_OUTBOX_SLOTS; i++)
	{
		OutboxSlot *s = &outbox_shared->slots[i];

		/* a slot of our database left by a worker that died without cleanup */
		if (s->pid != 0 && s->dboid == MyDatabaseId && kill(s->pid, 0) != 0)
			s->pid = 0;
		if (s->pid == 0 && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0)
	{
		outbox_shared->slots[free_slot].dboid = MyDatabaseId;
		outbox_shared->slots[free_slot].latch = MyLatch;
		outbox_shared->slots[free_slot].pid = MyProcPid;
		pg_atomic_write_u32(&outbox_shared->slots[free_slot].pending, 0);
		outbox_slot = free_slot;
	}
	SpinLockRelease(&outbox_shared->mutex);
	if (free_slot >= 0)
		before_shmem_exit(outbox_slot_release, Int32GetDatum(free_slot));
	else
		elog(LOG, "plerl outbox: no wake-up slot free; delivering by sweep only");
}

/*
 * The worker's main, forked from the postmaster (which never loaded Go).
 * SIGTERM is die(), not bgworker_die(): that one raises FATAL inside the
 * signal handler, wherever the process is, Go frames included; die() only
 * sets flags and the latch, and the loop (handler/outbox.c) acts on them at
 * safe points in C. Then Go is loaded exactly as in a backend, with the
 * signals blocked, and the loop runs in plerl_go.so.
 */
/*
 * A probe (the launcher's): has this database pending messages? Pure C,
 * before Go is loaded; a database without the extension has none.
 */
static bool
outbox_pending_here(void)
{
	bool		pending = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("SELECT to_regclass('plerl.outbox') IS NOT NULL", true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1 && strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "t") == 0 &&
		SPI_execute("SELECT FROM plerl.outbox WHERE NOT dead LIMIT 1", true, 1) == SPI_OK_SELECT)
		pending = SPI_processed > 0;
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return pending;
}

void
plerl_outbox_main(Datum arg)
{
	int			flags = DatumGetInt32(arg);
	char		db[BGW_EXTRALEN];

	strlcpy(db, MyBgworkerEntry->bgw_extra, sizeof(db));
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	if (flags & PLERL_OUTBOX_W_BYOID)
		BackgroundWorkerInitializeConnectionByOid(atooid(db), InvalidOid, 0);
	else
		BackgroundWorkerInitializeConnection(db, NULL, 0);
	pgstat_report_appname("plerl outbox");
	if (flags & PLERL_OUTBOX_W_PROBE)
	{
		bool		pending = false;

		/* A probe that fails (a foreign plerl.outbox) must not restart for ever: it logs and goes. */
		PG_TRY();
		{
			pending = outbox_pending_here();
		}
		PG_CATCH();
		{
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
		}
		PG_END_TRY();
		/* plerl.outbox_autostart is read with the database's settings (ALTER DATABASE ... SET) */
		if (!pending || !outbox_autostart)
			proc_exit(0);		/* a dynamic worker: gone for good */
	}
	outbox_slot_take();
	plerl_load_go();
	dispatch(PLERL_ENTRY_OUTBOX_WORKER, NULL);
	proc_exit(0);
}

/*
 * Set when this transaction wrote the outbox (queue.c through
 * PlerlSettings.outbox_arm, or the statement trigger for other writes);
 * the wake-up goes at COMMIT. The callback is registered once, in _PG_init.
 */
static bool outbox_wake_pending = false;

/*
 * Wake this database's worker, coalesced: the slot's pending flag is set by
 * the first commit after the worker cleared it (outbox_woken, before its
 * read), and only that commit sets the latch. Commits while the flag is set
 * need no wake-up: the worker has not read yet, and its read (a snapshot
 * taken after the clear) sees them. So a busy worker costs committers a
 * shared read, not a kill() each.
 */
static void
outbox_wake_now(void)
{
	for (int i = 0; i < PLERL_OUTBOX_SLOTS; i++)
	{
		OutboxSlot *s = &outbox_shared->slots[i];
		Latch	   *latch = s->latch;

		/* Unlocked reads: a stale latch is a procLatch in shared memory, harmless to set. */
		if (s->pid == 0 || s->dboid != MyDatabaseId || latch == NULL)
			continue;
		if (pg_atomic_read_u32(&s->pending) != 0)
			continue;
		if (pg_atomic_exchange_u32(&s->pending, 1) == 0)
			SetLatch(latch);
	}
}

/*
 * Is a worker delivering this database's outbox? Its session lock
 * (handler/outbox.c) says so, probed without waiting. Raises only as any lock can (lock table full):
 * called at PRE_COMMIT, where that aborts the transaction cleanly.
 */
static bool
outbox_worker_running(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, PLERL_OUTBOX_LOCK + 1);
	if (LockAcquire(&tag, ExclusiveLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, ExclusiveLock, false);
	return false;
}

/*
 * A transaction that enqueued is about to commit: make sure a worker runs
 * for this database, starting a dynamic one if none does (the extension
 * starts its workers itself: docs/outbox.md). At most once a second per
 * backend (a worker takes a moment to show; two started at once: one
 * exits). A failure to start one never fails the commit: the message is
 * kept, a WARNING says why, and the next commit tries again.
 */
static void
outbox_ensure_worker(void)
{
	static TimestampTz last = 0;
	TimestampTz now;

	if (!outbox_autostart || !IsUnderPostmaster || !OidIsValid(MyDatabaseId))
		return;
	/* with shared_preload_libraries: a worker that runs holds a slot */
	if (outbox_shared != NULL)
		for (int i = 0; i < PLERL_OUTBOX_SLOTS; i++)
			if (outbox_shared->slots[i].pid != 0 && outbox_shared->slots[i].dboid == MyDatabaseId)
				return;
	now = GetCurrentTimestamp();
	if (!TimestampDifferenceExceeds(last, now, 1000))
		return;
	last = now;
	if (outbox_worker_running())
		return;
	if (!outbox_register_oid(MyDatabaseId, 0))
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the plerl outbox worker: no free background worker slot"),
				 errdetail("The messages are kept; they are delivered once a worker runs."),
				 errhint("Raise max_worker_processes.")));
}

static void
outbox_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:	/* its rows commit at COMMIT PREPARED: a worker is there */
			if (outbox_wake_pending)
				outbox_ensure_worker();
			break;
		case XACT_EVENT_COMMIT:
			/*
			 * After the commit record is durable and visible: the worker
			 * woken now sees the rows. Never at PRE_COMMIT (it would look
			 * too early, and a later failure would leave nothing to see).
			 */
			if (outbox_wake_pending && outbox_shared != NULL)
				outbox_wake_now();
			outbox_wake_pending = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:	/* COMMIT PREPARED: found by the sweep */
		case XACT_EVENT_PARALLEL_ABORT:
			outbox_wake_pending = false;
			break;
		default:
			break;
	}
}

/* PlerlSettings.outbox_arm: this transaction enqueued. Plain, never raises. */
static void
outbox_arm(void)
{
	outbox_wake_pending = true;
}

/*
 * PlerlSettings.outbox_woken: the worker, before each read. A full barrier
 * (the exchange) orders the clear before the read's snapshot: a commit the
 * snapshot misses finds the flag clear and sets the latch.
 */
static void
outbox_woken(void)
{
	if (outbox_shared != NULL && outbox_slot >= 0)
		(void) pg_atomic_exchange_u32(&outbox_shared->slots[outbox_slot].pending, 0);
}

/* Statement trigger on plerl.outbox (rows changed by SQL: outbox_retry). Pure C. */
PG_FUNCTION_INFO_V1(plerl_outbox_wake);
Datum
plerl_outbox_wake(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "plerl_outbox_wake: not called as a trigger");
	outbox_wake_pending = true;
	return PointerGetDatum(NULL);
}

/*
 * plerl.outbox_start(): start a worker for the current database from a
 * backend (a dynamic background worker), for a server without
 * plerl.outbox_databases. Without shared_preload_libraries it is not woken
 * at commit and finds work by its sweep (plerl.outbox_sweep_interval).
 * A second worker for a database exits at once (handler/outbox.c).
 */
PG_FUNCTION_INFO_V1(plerl_outbox_start);
Datum
plerl_outbox_start(PG_FUNCTION_ARGS)
{
	outbox_register(get_database_name(MyDatabaseId), true);
	PG_RETURN_BOOL(true);
}
