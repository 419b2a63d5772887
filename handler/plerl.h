/*
 * plerl.h: everything Go sees of the C side of plerl_go.so: the records
 * that cross the boundary, every id of the C-Go protocol (named here once;
 * Go's mirrors are checked against these at compile time in
 * handler/protocol.go), and the prototypes of every C function Go calls.
 * No PostgreSQL types appear here, so every cgo preamble includes it; the
 * C files include postgres.h first, then plerl_int.h (what only C sees),
 * which includes this one.
 *
 * Audiences: plerl_shared.h is what plerl.so (the loader) and plerl_go.so
 * share; plerl.h is what Go and C share; plerl_int.h is C only.
 */
#ifndef PLERL_H
#define PLERL_H

#include <stdint.h>
#include <stddef.h>

/*
 * Value kinds crossing the boundary (one scalar or a tree of them).
 *
 * Ownership. C->Go values (arguments, rows) live in palloc'd memory that is
 * valid during the Go call; Go copies what it keeps. A Go->C value (a result)
 * owns exactly one malloc'd block, its p: a string, or for PLV_ARRAY and
 * PLV_RECORD the whole tree (header, children and their strings) in one
 * block. plerl_value_free() frees that block; children are never freed alone.
 */
enum
{
	PLV_NULL = 0,
	PLV_BOOL,					/* i */
	PLV_INT,					/* i: int2, int4, int8 */
	PLV_FLOAT,					/* f: float4, float8 */
	PLV_TEXT,					/* p, len: text, varchar, bpchar, any text I/O */
	PLV_BYTES,					/* p, len: bytea */
	PLV_NUMERIC,				/* p, len: numeric's text form (exact digits, NaN, Infinity) */
	PLV_JSON,					/* p, len: json or jsonb text */
	PLV_ARRAY,					/* p: PlerlArray, len: number of elements */
	PLV_RECORD,					/* p: PlerlRecord, len: number of fields */
	/*
	 * Date and time values as PostgreSQL stores them (exact, no text):
	 * i is days since 2000-01-01 (date), microseconds since midnight (time)
	 * or since 2000-01-01 00:00 (timestamp; UTC for timestamptz), with
	 * PostgreSQL's infinities (INT32/INT64 MIN and MAX); for an interval i is
	 * its microseconds and len packs days (high 32 bits) and months (low).
	 */
	PLV_DATE,
	PLV_TIME,
	PLV_TIMESTAMP,
	PLV_TIMESTAMPTZ,
	PLV_INTERVAL,
	PLV_REFCURSOR,				/* p, len: a refcursor's portal name (C to Go only) */
	PLV_RANGE,					/* p, len: a range's text; i: its type's handle (C to Go only) */
	PLV_TIMETZ,					/* p, len: a timetz's ISO text; i: its type's handle (C to Go only) */
};

/* Type kinds, chosen once per function for each argument and the result. */
enum
{
	PLT_VOID = 0,
	PLT_BOOL,
	PLT_INT2,
	PLT_INT4,
	PLT_INT8,
	PLT_FLOAT4,
	PLT_FLOAT8,
	PLT_NUMERIC,
	PLT_TEXT,
	PLT_BYTEA,
	PLT_JSON,
	PLT_JSONB,
	PLT_OTHER,					/* through the type's text I/O */
	PLT_RECORD,					/* composite or record: PlerlTypeInfo.nfields/names/fields */
	PLT_ARRAY,					/* PlerlTypeInfo.elem */
	PLT_POLY,					/* C only: polymorphic, resolved per call */
};

typedef struct PlerlValue
{
	int32_t		kind;
	int64_t		i;
	double		f;
	char	   *p;				/* see "Ownership" above; strings are NUL-terminated */
	int64_t		len;
} PlerlValue;

/* PostgreSQL's MAXDIM. */
#define PLERL_MAXDIM 6

/* PLV_ARRAY: an array of any dimension; ndims 0 is the empty array. */
typedef struct PlerlArray
{
	int32_t		ndims;
	int32_t		dims[PLERL_MAXDIM];
	int32_t		lbounds[PLERL_MAXDIM];
	int32_t		type_handle;	/* C->Go: the array type's handle (pgtype.c), <= 0: none */
	PlerlValue *elems;			/* value.len elements, row-major; NULLs are PLV_NULL */
} PlerlArray;

/*
 * PLV_RECORD: a row. C->Go: the live (not dropped) fields with their names.
 * Go->C: names is NULL and fields follow the result type's PlerlTypeInfo.
 */
typedef struct PlerlRecord
{
	const char *const *names;
	PlerlValue *fields;			/* value.len fields */
	int32_t		type_handle;	/* C->Go: the row type's handle (pgtype.c), <= 0: none */
} PlerlRecord;

/*
 * What Go needs to know about a result type (embedded in C's PlerlType; C
 * keeps it current for the duration of a call). Read-only for Go.
 */
typedef struct PlerlTypeInfo
{
	int32_t		kind;			/* PLT_* (never PLT_POLY) */
	int32_t		nfields;		/* PLT_RECORD: live fields */
	const char *const *names;	/* PLT_RECORD: their names */
	const struct PlerlTypeInfo *const *fields;	/* PLT_RECORD: their types */
	const struct PlerlTypeInfo *elem;	/* PLT_ARRAY: element type */
	const char *name;			/* the type's SQL name, for messages */
} PlerlTypeInfo;

/* Error record filled by Go (strings malloc'd) or by a C guard. */
enum
{
	PLERL_OK = 0,
	PLERL_ERR = 1,				/* sqlstate/message/detail/hint/context are set */
	PLERL_ERR_RETHROW = 2,		/* re-raise the PostgreSQL error a guard stashed */
	PLERL_ERR_CANCEL = 3,		/* Lua was cancelled: let CHECK_FOR_INTERRUPTS raise, else message */
};

typedef struct PlerlError
{
	int32_t		kind;
	char		sqlstate[6];
	char	   *message;
	char	   *detail;
	char	   *hint;
	char	   *context;
} PlerlError;

/* Flags of a call. */
enum
{
	PLERL_TRUSTED = 1,
	PLERL_RETSET = 2,
	PLERL_NONATOMIC = 4,
	PLERL_READONLY = 8,
	PLERL_VALIDATE_ONLY = 16,
	PLERL_TRIGGER = 32,
	PLERL_EVENT_TRIGGER = 64,
	PLERL_VARIADIC_ANY = 128,	/* compile: `...` is what follows the named arguments */
};

typedef struct PlerlCall
{
	int64_t		fn_id;
	uint32_t	user_id;
	int32_t		flags;
	int32_t		nargs;
	int32_t		ret_kind;		/* PLT_* of the result */
	const PlerlTypeInfo *ret_type;	/* the result's type; NULL: ret_kind is a scalar kind */
	PlerlValue *args;
	PlerlValue	ret;
	PlerlError	err;
} PlerlCall;

typedef struct PlerlCompile
{
	const char *src;
	int64_t		srclen;
	const char *name;			/* function name, for messages */
	int32_t		nargs;
	int32_t		flags;
	const char **argnames;		/* NULL entries for unnamed arguments */
	int64_t		fn_id;			/* out */
	PlerlError	err;			/* out */
} PlerlCompile;

/*
 * Guards Go may call. Each returns 0, or fills err and returns -1
 * (handler/plerl_int.h: PLERL_GUARD_ENTER, the one idiom they follow).
 */
extern int	plerl_elog(int level, const char *msg, const char *detail, const char *hint, PlerlError *err);	/* elog.c */
extern int	plerl_subxact_begin(PlerlError *err);	/* subxact.c */
extern int	plerl_subxact_commit(PlerlError *err);
extern int	plerl_subxact_abort(PlerlError *err);

/* Plain accessors Go may call (never raise). */
extern void plerl_error_free(PlerlError *err);	/* elog.c */
extern _Bool plerl_has_stash(void);
extern int	plerl_interrupt_pending(void);	/* frame.c: safe from any thread */
extern uint32_t plerl_current_user(void);
extern int	plerl_nest_level(void);
extern int	plerl_backend_slot(void);
extern int	plerl_cluster_port(void);

/*
 * Moves whenever PostgreSQL's state may have changed under Go: at the
 * entry of every guard (elog.c), of every call (frame.c) and at every
 * transaction event (xact.c). Go reads it without a call, on the backend's
 * goroutine only, to skip re-checking what it saw at the same value (that a
 * cursor's portal is open, spi.go).
 */
extern uint64_t plerl_state_epoch;

/*
 * Moves at the end of every top-level transaction (xact.c): a portal that
 * is not holdable does not outlive the value it was opened under, so a
 * portal of the same name seen under another value is another portal
 * (spi.go: a dropped cursor object never closes it).
 */
extern uint64_t plerl_xact_generation;

/* elog levels Go passes to plerl_elog (mirrored by pl.Level*). */
enum
{
	PLERL_DEBUG = 1,
	PLERL_LOG,
	PLERL_INFO,
	PLERL_NOTICE,
	PLERL_WARNING,
};

/*
 * Transaction events C forwards to Go (xact.c -> plerlGoXact). The
 * subtransaction events carry the nesting level being left.
 */
enum
{
	PLERL_XACT_PRE_COMMIT = 1,	/* the transaction may still fail */
	PLERL_XACT_COMMIT,			/* committed: nothing may fail any more */
	PLERL_XACT_ABORT,
	PLERL_XACT_PREPARE,			/* PREPARE TRANSACTION: may still fail */
	PLERL_XACT_SUB_ABORT,
	PLERL_XACT_SUB_COMMIT,
};

/* ---- Erlang bridge (erlang.c <-> erlang.go) ---- */

/*
 * The Erlang operations (PlerlErlangFn, plerl_shared.h: the loader's
 * erlang_* entry points are numbered by them too) double as the request
 * ops of PlerlErlReq and as the privilege ops of the Lua guard.
 */
#include "plerl_shared.h"

/* The most members a server's nodes option may list. */
#define PLERL_MAX_MEMBERS 64

/* Where a call goes, resolved by C from a server name or a raw node name. */
typedef struct PlerlErlTarget
{
	char	   *node;			/* e.g. app@127.0.0.1; a group's first member */

	/*
	 * A server with the option nodes (a group): its members in the order
	 * given, and the policy of option balance ("round_robin" if unset). Go
	 * picks the member per request. nmembers is 0 for a single node.
	 */
	char	  **members;
	int32_t		nmembers;
	char	   *balance;
	char	   *cookie;			/* from the user mapping; NULL for a raw node (session cookie) */
	char	   *server;			/* foreign server name; NULL for a raw node */
	int32_t		tls;			/* server option tls 'on' */
	char	   *tls_ca;
	char	   *tls_cert;
	char	   *tls_key;
	char	   *tls_server_name;
	uint32_t	role;			/* the role checked (GetUserId): its mailbox and sender pid */

	/*
	 * What plerl.allow permitted, for a request through a server (all zero
	 * for a raw node, where no allow-list applies). module and function are
	 * the names exactly as checked: Go sends these, never its own copies.
	 * atoms lists what the request's terms may carry beyond true, false and
	 * the null atom (the union of the atoms columns of the rows that permit
	 * it); any_atom: a row said '*'. any_function: only rows with a NULL
	 * function permit the call, so its name may be new to the node.
	 */
	char	   *module;
	char	   *function;
	char	  **atoms;
	int32_t		natoms;
	int32_t		any_atom;
	int32_t		any_function;
} PlerlErlTarget;

typedef struct PlerlErlReq
{
	int32_t		op;				/* PLERL_ERL_* */
	int32_t		timeout_ms;		/* < 0: plerl.call_timeout */
	PlerlErlTarget target;
	const char *module;			/* CALL */
	const char *function;		/* CALL */
	const char *name;			/* SEND/CAST: registered name; CONNECT: cookie */
	const char *json;			/* CALL: args (a JSON array); SEND/CAST: the message */
	const char *options;		/* CALL, SEND, CAST: the options object (JSON text), or NULL */
	int64_t		jsonlen;
	PlerlValue	result;			/* CALL: PLV_JSON (malloc'd); others: PLV_BOOL */
	PlerlError	err;
} PlerlErlReq;

/*
 * A batch (erlang_call_many): C feeds items (the JSON text of each
 * argument list) in chunks; Go sends them pipelined and hands back the rows
 * finished so far, in item order. Every row and string is malloc'd by Go
 * and freed by C.
 */
typedef struct PlerlBatchRow
{
	int64_t		item;			/* 1-based, in input order */
	char	   *json;			/* the result (JSON text), or NULL if the item failed */
	int64_t		jsonlen;
	char		sqlstate[6];	/* the failed item's SQLSTATE, "" if it succeeded */
	char	   *message;		/* the failed item's message */
} PlerlBatchRow;

typedef struct PlerlBatchFeed
{
	int64_t		batch;			/* from plerlGoBatchStart */
	const char **items;			/* JSON arrays, one per item */
	int64_t    *lens;
	const char **keys;			/* each item's affinity key (args_query's column key), or NULL */
	int32_t		nitems;
	int32_t		final;			/* no more items: wait for all in flight */
	PlerlBatchRow *rows;		/* out: finished rows (malloc'd) */
	int32_t		nrows;
	PlerlError	err;			/* the batch failed (cancel, fail_fast, connection) */
} PlerlBatchFeed;

typedef struct PlerlConnRow
{
	char	   *node;
	char	   *state;
	char	   *last_error;
	int64_t		since_unix_us;
	int64_t		calls;
	int64_t		errors;
	double		last_rtt_ms;
} PlerlConnRow;

/* One member of a group, for erlang_group_members() (malloc'd by Go). */
typedef struct PlerlMemberRow
{
	char	   *server;
	char	   *node;
	char	   *state;			/* up, down, retrying */
	int64_t		down_until_unix_us;	/* 0: not down */
	int64_t		failures;
	char	   *last_error;
	int64_t		calls;
	double		share;
} PlerlMemberRow;

/*
 * Guard for Lua (erlang.c): resolve target and check privileges and the
 * allow-list for lua_op (a PlerlErlangFn), as role as_user if valid.
 */
extern int	plerl_erl_resolve_as_guarded(uint32_t as_user, const char *target, const char *module,
										 const char *function, int arity, int lua_op,
										 PlerlErlTarget *out, PlerlError *err);

/* ---- the durable outbox (outbox.c, queue.c; docs/outbox.md) ---- */

/* PLERL_OUTBOX_LOCK and the worker's PLERL_OUTBOX_W_* flags: plerl_shared.h. */

/* What became of a delivery to one destination (PlerlOutboxGroup.status). */
enum
{
	PLERL_OUTBOX_ACKED = 0,		/* the receiver replied ok: delete the rows */
	PLERL_OUTBOX_RETRY = 1,		/* transient (node down, receiver raised): retry later */
	PLERL_OUTBOX_DEAD = 2,		/* permanent for all of them (undefined, refused) */
	PLERL_OUTBOX_DEAD_ONE = 3,	/* permanent for message [bad] only (an atom refused) */
	PLERL_OUTBOX_UNREACHABLE = 4,	/* node or receiver not there: retry, no attempt counted */
};

/*
 * One destination's batch, in id order, all enqueued by one role with one
 * op; target is resolved as that role. C owns the inputs (valid during the
 * Go call); Go sets status, bad and error (malloc'd, C frees).
 */
typedef struct PlerlOutboxGroup
{
	PlerlErlTarget target;
	const char *dest;
	int32_t		n;
	const int64_t *ids;
	const char *const *payloads;	/* each as term.Encode made it */
	const int64_t *lens;
	int32_t		status;
	int32_t		bad;
	char	   *error;
} PlerlOutboxGroup;

/* Guard for Lua's durable sends (queue.c): write one message into plerl.outbox. */
extern int	plerl_queue_insert_guarded(uint32_t role, const char *server, const char *dest, int op,
									   const char *payload, int64_t len, int64_t *id, PlerlError *err);
/*
 * Statistics (stats.c): the sample of one Erlang request for plerl.stat_calls
 * (plain, never raises), and the log line of a slow one (a guard).
 */
extern int	plerl_stat_record(PlerlStatSample *sample);
extern PlerlBackendStat *plerl_stat_backend(void);
extern int	plerl_stat_log(const PlerlStatSample *sample, const char *sqlstate, PlerlError *err);

/* ---- SPI, triggers, set-returning functions (spi.c, trigger.c, srf.c) ---- */

/*
 * Rows crossing from C to Go (SPI results, trigger rows) or from Go to C
 * (a row a set-returning function yields). C owns every pointer; for C->Go
 * the values stay valid until plerl_spi_rows_free (SPI) or the end of the
 * call (triggers).
 */
typedef struct PlerlRows
{
	int32_t		ncols;
	int64_t		nrows;
	int64_t		desc_id;		/* same id, same names and kinds (0: no id) */
	int32_t		type_handle;	/* C->Go: the rows' type handle (pgtype.c), <= 0: none */
	const char **names;			/* ncols; NULL for a dropped column */
	int32_t    *kinds;			/* ncols; PLT_* of each column */
	const PlerlTypeInfo *const *types;	/* ncols; for luaToType (Go -> C) */
	PlerlValue *values;			/* nrows * ncols, row-major */
	int64_t		processed;		/* SPI: rows processed (SPI_processed) */
	int32_t		status;			/* SPI: SPI_OK_* of the statement */
	void	   *priv;			/* C: memory, tuple table */
} PlerlRows;

/* A prepared statement; Go holds the pointer until plerl_spi_plan_free. */
typedef struct PlerlPlan
{
	int32_t		nparams;
	int32_t    *kinds;			/* nparams; PLT_* of each parameter */
	const PlerlTypeInfo *const *types;	/* nparams; for luaToType (NULL: unused, see below) */
	const char **typenames;		/* nparams; SQL names of the parameter types; NULL
								 * for a parameter the query never uses (bound NULL) */
	int32_t		is_call;		/* one statement, a CALL (never cached by text) */
	void	   *priv;
} PlerlPlan;

/* plerl_spi_prepare flags */
enum
{
	PLERL_PLAN_KEEP = 1,		/* SPI_keepplan: lives until plerl_spi_plan_free */
	PLERL_PLAN_SCROLL = 2,
	PLERL_PLAN_FAST_START = 4,
	PLERL_PLAN_CUSTOM = 8,
	PLERL_PLAN_GENERIC = 16,
	PLERL_PLAN_NO_SCROLL = 32,
	PLERL_PLAN_HOLD = 64,		/* cursors of the plan outlive their transaction */
};

/* plerl_spi_transaction ops */
enum
{
	PLERL_TX_COMMIT = 1,
	PLERL_TX_ROLLBACK = 2,
	PLERL_TX_CHAIN = 4,			/* or'ed: ... AND CHAIN */
};

/* The trigger object, filled by C (trigger.c); Go answers in action/result. */
typedef struct PlerlTrigger
{
	int32_t		is_event;		/* event trigger: only event and tag are set */
	const char *event;
	const char *tag;
	const char *name;
	const char *table_name;
	const char *table_schema;
	uint32_t	relid;
	const char *when;			/* BEFORE, AFTER, INSTEAD OF */
	const char *level;			/* ROW, STATEMENT */
	const char *op;				/* INSERT, UPDATE, DELETE, TRUNCATE */
	int32_t		nargs;
	const char **args;
	PlerlRows	old_row;		/* nrows 0 or 1; both share names and kinds */
	PlerlRows	new_row;
	int32_t		returns_row;	/* BEFORE or INSTEAD OF, FOR EACH ROW: the result matters */
	/* out */
	int32_t		action;			/* PLERL_TRIG_* */
	PlerlValue *result;			/* ncols, allocated by C: the new row for MODIFY */
	char	   *replace;		/* ncols, allocated by C: 1 = column set from result */
} PlerlTrigger;

enum
{
	PLERL_TRIG_KEEP = 0,		/* go on with the row as it came */
	PLERL_TRIG_SKIP = 1,		/* skip this row */
	PLERL_TRIG_MODIFY = 2,		/* go on with result[] in the replaced columns */
};

/*
 * One call of a value-per-call set-returning function. Each row comes back
 * in PlerlCall.ret, converted for PlerlCall.ret_type (a scalar, an array,
 * or a row: PLT_RECORD).
 */
typedef struct PlerlSrf
{
	int64_t		srf_id;			/* Go's handle: 0 before the first row and after the last */
	uint32_t	subxact;		/* subtransaction the function started in */
	int32_t		done;			/* out: no more rows */
} PlerlSrf;

/* SPI guards (spi.c; plerl_spi_connect: frame.c). Each returns 0, or fills err and returns -1. */
extern int	plerl_spi_connect(PlerlError *err);
extern int	plerl_spi_prepare(const char *sql, int32_t ntypes, const char **types, int32_t flags,
							  PlerlPlan **out, PlerlError *err);
extern int	plerl_spi_plan_free(PlerlPlan *plan, PlerlError *err);
extern int	plerl_spi_execute(PlerlPlan *plan, const char *sql, PlerlValue *args, int32_t nargs,
							  int64_t limit, PlerlRows *out, PlerlError *err);
extern int	plerl_spi_rows_free(PlerlRows *rows, PlerlError *err);
extern int	plerl_spi_cursor_open(PlerlPlan *plan, PlerlValue *args, int32_t nargs,
								  const char *want, char **name, uint32_t *subid, PlerlError *err);

/* Cursor directions (Lua's next/prior/first/last map onto these). */
enum
{
	PLERL_FETCH_FORWARD = 0,
	PLERL_FETCH_BACKWARD,
	PLERL_FETCH_ABSOLUTE,
	PLERL_FETCH_RELATIVE,
};

extern int	plerl_spi_cursor_fetch(const char *name, int32_t dir, int64_t count, PlerlRows *out,
								   PlerlError *err);
extern int	plerl_spi_cursor_move(const char *name, int32_t dir, int64_t count, int64_t *moved,
								  PlerlError *err);
extern int	plerl_spi_cursor_exists(const char *name, int32_t *exists, PlerlError *err);
extern int	plerl_spi_cursor_close(const char *name, PlerlError *err);
extern int	plerl_spi_transaction(int32_t op, PlerlError *err);
extern int	plerl_spi_is_atomic(void);


/* Frees the one malloc'd block of a value Go made (typeio.c). */
extern void plerl_value_free(PlerlValue *v);

/* datetime.c: date and time values for Lua (guards). */
extern int	plerl_dt_text(const PlerlValue *v, char **out, PlerlError *err);
extern int	plerl_dt_parse(int32_t kind, const char *text, PlerlValue *out, PlerlError *err);
extern int	plerl_dt_zone(int64_t t, int32_t local, int32_t *offset, PlerlError *err);
extern int	plerl_dt_part(const PlerlValue *v, const char *unit, double *out, int32_t *isnull,
						  PlerlError *err);
/* pgtype.c: typed values (guards). */
extern int	plerl_type_info(int32_t handle, const PlerlTypeInfo **info, int32_t *typtype,
							PlerlError *err);
extern int	plerl_type_lookup(const char *name, int32_t *handle, PlerlError *err);
extern int	plerl_type_coerce(int32_t handle, PlerlValue *in, PlerlValue *out, PlerlError *err);
extern int	plerl_type_of_arg(int32_t n, int32_t *handle, PlerlError *err);
extern int	plerl_type_element(int32_t handle, int32_t *elem, PlerlError *err);
extern int	plerl_type_text(int32_t handle, PlerlValue *v, char **out, PlerlError *err);
extern int	plerl_range_parts(int32_t handle, PlerlValue *in, PlerlValue *lo, PlerlValue *hi,
							  int32_t *flags, PlerlError *err);

extern int	plerl_dt_zone_named(const char *zone, int64_t t, int32_t local,
								int32_t *offset, int32_t *isdst, PlerlError *err);

#endif
