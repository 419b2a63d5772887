/*
 * plerl_shared.h: what plerl.so (the C loader, src/plerl.c) and plerl_go.so
 * share: the numbers of the entry points the loader forwards, the settings
 * (GUCs) the loader owns and the library reads, and their defaults. No
 * PostgreSQL types, so Go's cgo preambles include it too (through plerl.h).
 */
#ifndef PLERL_SHARED_H
#define PLERL_SHARED_H

#include <stdint.h>

/*
 * The Erlang SQL functions and operations. The loader forwards erlang_*
 * as PLERL_ENTRY_ERLANG + one of these; the same numbers name the request
 * ops (PlerlErlReq.op) and the privilege ops of the Lua guard, and Go's
 * pl.Op* mirror them (checked at compile time in handler/protocol.go).
 */
typedef enum PlerlErlangFn
{
	PLERL_ERL_CONNECT = 0,		/* erlang_connect(node, cookie) */
	PLERL_ERL_CALL = 1,			/* erlang_call(node, module, function, args [, timeout_ms [, options]]) */
	PLERL_ERL_DISCONNECT = 2,	/* erlang_disconnect(node) */
	PLERL_ERL_SEND = 3,			/* erlang_send(node, name, message) */
	PLERL_ERL_PING = 4,			/* erlang_ping(node) */
	PLERL_ERL_CONNECTIONS = 5,	/* erlang_connections() */
	PLERL_ERL_FDW_VALIDATOR = 6,	/* plerl_fdw_validator(options, catalog) */
	PLERL_ERL_CAST = 7,			/* erlang_cast(node, name, message) */
	PLERL_ERL_CALL_MANY = 8,	/* erlang_call_many(node, module, function, args_query, ...) */
	PLERL_ERL_ENQUEUE = 9,		/* plerl.enqueue(server, name, message): a durable cast */
	PLERL_ERL_GROUP_MEMBERS = 10,	/* erlang_group_members() */
} PlerlErlangFn;

/* Entry points that plerl.so forwards to plerl_go.so's dispatcher. */
typedef enum PlerlEntry
{
	PLERL_ENTRY_CALL = 1,		/* plerl_call_handler (functions, triggers, event triggers) */
	PLERL_ENTRY_INLINE,			/* DO blocks */
	PLERL_ENTRY_VALIDATOR,
	PLERL_ENTRY_CALL_U,			/* the same for plerlu */
	PLERL_ENTRY_INLINE_U,
	PLERL_ENTRY_VALIDATOR_U,
	PLERL_ENTRY_OUTBOX_WORKER = 50,	/* the outbox worker's main loop (fcinfo NULL; never returns) */
	PLERL_ENTRY_ERLANG = 100	/* erlang_* SQL functions: 100 + PlerlErlangFn */
} PlerlEntry;

/* Defaults of the settings, used by both the GUC definitions and their variables. */
#define PLERL_DEFAULT_CALL_TIMEOUT_MS	5000
#define PLERL_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define PLERL_DEFAULT_MAX_MESSAGE_KB	65536
#define PLERL_DEFAULT_MAX_CONNECTIONS	8
#define PLERL_DEFAULT_MAX_ATOMS			100
#define PLERL_DEFAULT_MAX_IN_FLIGHT		1024
#define PLERL_DEFAULT_LUA_MEMORY_LIMIT_KB 262144
#define PLERL_DEFAULT_LUA_TIME_LIMIT_MS	0
#define PLERL_DEFAULT_TICK_TIME_S		60
#define PLERL_DEFAULT_GO_MAX_PROCS		2
#define PLERL_DEFAULT_NODE_PREFIX		"plerl"
#define PLERL_DEFAULT_NODE_HOST			"127.0.0.1"
#define PLERL_DEFAULT_NULL_ATOM			"nil"
#define PLERL_DEFAULT_OUTBOX_BATCH		500
#define PLERL_DEFAULT_OUTBOX_MAX_ATTEMPTS 10
#define PLERL_DEFAULT_OUTBOX_RETRY_MS	1000
#define PLERL_DEFAULT_OUTBOX_MAX_SIZE_MB 1024
#define PLERL_DEFAULT_OUTBOX_SWEEP_MS	1000
#define PLERL_DEFAULT_OUTBOX_VACUUM_MS	1000

/*
 * The outbox (docs/outbox.md). field4 of the advisory lock tags it takes
 * (user locks use 1 and 2): +0 per destination at enqueue (queue.c), +1 the
 * session lock of the one worker of a database (outbox.c; src/plerl.c
 * probes it to know whether a worker runs). A worker's bgw_main_arg holds
 * PLERL_OUTBOX_W_* flags.
 */
#define PLERL_OUTBOX_LOCK 0x706c
#define PLERL_OUTBOX_W_DYNAMIC 1	/* a dynamic worker: exit 0 (for good) when another delivers */
#define PLERL_OUTBOX_W_PROBE 2		/* exit 0 at start when nothing is pending (the launcher's) */
#define PLERL_OUTBOX_W_BYOID 4		/* bgw_extra is the database's oid, not its name */
#define PLERL_DEFAULT_STAT_MAX			5000	/* plerl.stat_max: entries of plerl.stat_calls */
#define PLERL_DEFAULT_STAT_TRACK		1	/* plerl.stat_track: on */
#define PLERL_DEFAULT_LOG_MIN_DURATION_MS (-1)	/* plerl.log_min_duration: off */

/*
 * Call statistics (docs/monitoring.md). The shared table lives in plerl.so
 * (src/stats.c: shared memory exists only when plerl is in
 * shared_preload_libraries); plerl_go.so reports one sample per Erlang
 * request through PlerlSettings.stat_record, a plain function that never
 * raises (it takes an LWLock and an entry's spinlock, and drops the sample
 * if the table has no room). A sample holds names only, never argument
 * values or cookies. Names longer than the key's fields are cut.
 */
#define PLERL_STAT_NAMELEN		256	/* node, module, function: bytes kept, with the NUL */
#define PLERL_STAT_SERVERLEN	64	/* NAMEDATALEN */

typedef enum PlerlStatKind
{
	PLERL_STAT_CALL = 0,		/* erlang_call, erlang.call, batch items */
	PLERL_STAT_SEND = 1,		/* erlang_send, erlang.send */
	PLERL_STAT_CAST = 2,		/* erlang_cast, erlang.cast */
	PLERL_STAT_ON_COMMIT = 3,	/* sends and casts deferred to COMMIT, as they go out */
	PLERL_STAT_OUTBOX = 4,		/* the outbox worker's deliveries (one per batch) */
	PLERL_STAT_NKINDS
} PlerlStatKind;

/* How a request ended: the error classes counted apart. */
typedef enum PlerlStatOutcome
{
	PLERL_STAT_OK = 0,
	PLERL_STAT_TIMEOUT = 1,		/* PE timeout (plerl.call_timeout, timeout_ms) */
	PLERL_STAT_NODE_DOWN = 2,	/* class 08: cannot connect, connection lost */
	PLERL_STAT_REMOTE = 3,		/* the function raised on the node (PE remote error, 42883 undef) */
	PLERL_STAT_REFUSED = 4,		/* 42501 (plerl.allow's atoms), 28000 (cookie refused) */
	PLERL_STAT_CANCELLED = 5,	/* 57014: cancel, statement_timeout */
	PLERL_STAT_OTHER = 6,
	PLERL_STAT_NOUTCOMES
} PlerlStatOutcome;

typedef struct PlerlStatSample
{
	uint32_t	role;			/* the role the request was checked as */
	int32_t		kind;			/* PlerlStatKind */
	int32_t		arity;			/* calls; -1 for sends */
	int32_t		outcome;		/* PlerlStatOutcome */
	const char *server;			/* NULL or "": a raw node name */
	const char *node;
	const char *module;			/* sends: the registered name, "!" for a pid */
	const char *function;		/* sends: "!" */
	double		ms;				/* wall time of the request */
	int64_t		bytes_sent;		/* frames written for it, length headers included (runtime/dist) */
	int64_t		bytes_received; /* frames of its reply */
	int64_t		messages;		/* sends, casts, outbox: messages that went out (outbox: acknowledged) */
	int64_t		redelivered;	/* outbox: of those, sent before in a delivery not acknowledged */
	int64_t		dead;			/* outbox: messages the delivery made dead letters */
	/*
	 * In and out: the entry this key was counted in last time and the
	 * table's generation then (stat_record's fast path: no key built, no
	 * hashing). With the names NULL, stat_record counts only through a
	 * handle still valid, else returns 0 and Go calls again with the names.
	 */
	void	   *entry;
	uint64_t	gen;
} PlerlStatSample;

typedef int (*PlerlStatRecordFn) (PlerlStatSample *sample);

/*
 * What each backend's Erlang side is doing now (plerl.stat_waits) and its
 * sessions (plerl.stat_nodes): one PlerlBackendStat per backend in shared
 * memory (src/stats.c), indexed by MyBackendId. Only its own backend writes
 * it (Go, through the pointer PlerlSettings.stat_backend returns: plain
 * stores, no call into PostgreSQL); readers copy it whole and retry while
 * changecount is odd or changed (the protocol of PgBackendStatus). Names
 * and numbers only: never cookies or argument values.
 */
#define PLERL_STAT_NODE_SLOTS	8	/* nodes shown per backend (plerl.max_connections' default) */
#define PLERL_STAT_ERRLEN		256	/* last_error: bytes kept, with the NUL */
#define PLERL_STAT_STATELEN		16

typedef enum PlerlWaitKind
{
	PLERL_WAIT_NONE = 0,
	PLERL_WAIT_CONNECT = 1,		/* epmd, TCP connect, handshake */
	PLERL_WAIT_CALL = 2,		/* a call's reply (erlang_call, erlang.call, batches) */
	PLERL_WAIT_SEND = 3,		/* a send, cast or outbox delivery going out */
	PLERL_WAIT_RECEIVE = 4,		/* erlang.receive: the role's mailbox */
	PLERL_WAIT_PING = 5,		/* erlang_ping */
	PLERL_WAIT_NKINDS
} PlerlWaitKind;

typedef struct PlerlNodeSlot
{
	char		node[PLERL_STAT_NAMELEN];	/* "": unused */
	char		server[PLERL_STAT_SERVERLEN];	/* the server it was last used through; "": raw */
	char		state[PLERL_STAT_STATELEN];	/* connected, down, disconnected */
	char		member_state[PLERL_STAT_STATELEN];	/* a group member: up, down; "": not one */
	char		last_error[PLERL_STAT_ERRLEN];
	int64_t		connects;		/* successful connects (reconnects: the ones after the first) */
	int64_t		failures;		/* failed connects */
	int64_t		since_us;		/* Unix microseconds: when state last changed */
	int64_t		last_error_us;	/* 0: never */
	double		last_rtt_ms;	/* the last request's round trip; < 0: none yet */
	/*
	 * The last tick probe answered on the session (runtime/dist, the tick
	 * probe): (Unix seconds << 30) | round trip in microseconds (at most
	 * 2^30 - 1); 0: none. Written outside changecount, with one atomic
	 * 8-byte store by the connection's own thread while the backend may be
	 * idle; read with one load.
	 */
	uint64_t	tick_word;
} PlerlNodeSlot;

#define PLERL_TICK_RTT_BITS	30

typedef struct PlerlBackendStat
{
	uint32_t	changecount;	/* odd while the backend writes */
	int32_t		pid;			/* the backend that claimed the slot */
	int32_t		wait_kind;		/* PlerlWaitKind */
	int32_t		pad;
	int64_t		wait_since_us;	/* Unix microseconds */
	char		wait_server[PLERL_STAT_SERVERLEN];
	char		wait_node[PLERL_STAT_NAMELEN];
	PlerlNodeSlot nodes[PLERL_STAT_NODE_SLOTS];
} PlerlBackendStat;

typedef PlerlBackendStat *(*PlerlStatBackendFn) (void);

/* Settings, defined as GUCs by plerl.so and read by plerl_go.so. */
typedef struct PlerlSettings
{
	/*
	 * sizeof(PlerlSettings) as plerl.so was built: plerl_bind refuses a
	 * plerl.so built from another version of this header (the libraries
	 * are installed together, but a stale one would read garbage here).
	 */
	int			size;
	int			call_timeout_ms;
	int			connect_timeout_ms;
	int			max_message_kb;
	int			max_connections;
	int			max_atoms;
	int			lua_memory_limit_kb;
	int			lua_time_limit_ms;
	int			tick_time_s;
	int			go_max_procs;
	int			max_in_flight;
	char	   *node_prefix;
	char	   *node_host;
	char	   *null_atom;
	/* the outbox (docs/outbox.md) */
	int			outbox_batch;		/* messages per delivery to one destination */
	int			outbox_max_attempts;	/* then a message is dead */
	int			outbox_retry_ms;	/* first backoff; doubles per attempt, at most 5 min */
	int			outbox_max_size_mb; /* enqueue fails beyond this size of the queue table */
	int			outbox_sweep_ms;	/* the worker looks without a wake-up this often */
	int			outbox_vacuum_ms;	/* the worker vacuums the queue at most this often; 0: never */
	_Bool		stat_track;		/* plerl.stat_track */
	int			log_min_duration_ms;	/* plerl.log_min_duration; -1: off */
	PlerlStatRecordFn stat_record;	/* NULL: not in shared_preload_libraries */
	PlerlStatBackendFn stat_backend;	/* this backend's slot (NULL fn or result: none) */
	/* the outbox's wake-up (src/plerl.c): plain functions, never raise */
	void		(*outbox_arm) (void);	/* this transaction enqueued: wake the worker at COMMIT */
	void		(*outbox_woken) (void); /* the worker, before it reads: later commits wake it again */
} PlerlSettings;

/* Bound by plerl_bind (entry.c) when the loader loads plerl_go.so. */
extern const PlerlSettings *plerl_settings;

#endif
