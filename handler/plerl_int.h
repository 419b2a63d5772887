/*
 * plerl_int.h: what only the C files of plerl_go.so see (PostgreSQL types
 * allowed), one section per file. Calls between the files go one way, in
 * the order of this list (a file calls only files below it; test/layout
 * checks that no call goes back up); the sections below are in the order
 * their types need.
 *
 *   entry.c      the dispatcher plerl.so forwards to; init
 *   exec.c       function calls, DO blocks, validators
 *   trigger.c    triggers and event triggers
 *   srf.c        set-returning functions (value per call)
 *   outbox.c     the outbox worker's loop: read, resolve, deliver, mark
 *   erlang.c     the erlang_* SQL functions, target resolution, Lua's guard
 *   fdw.c        the foreign-data wrapper's option validator
 *   allow.c      the allow-list (plerl.allow) cache and check
 *   queue.c      writing a message into the durable outbox
 *   xact.c       transaction and subtransaction events, for Go
 *   stats.c      an Erlang request's statistics sample, slow-request log
 *   procedure.c  the per-backend cache of compiled functions
 *   spi.c        SPI guards (execute, prepare, cursors, commit)
 *   frame.c      the stack of running calls, the lazy SPI connection,
 *                interrupts and identity for Go
 *   datetime.c   guards for Lua's date and time values (text, input, zone offsets)
 *   pgtype.c     guards for typed values: SQL text of rows and arrays, types by name
 *   typeio.c     Datum <-> PlerlValue for any type; rows of a descriptor
 *   subxact.c    subtransactions for Lua pcall
 *   elog.c       errors: capture and stash in guards, raise after Go,
 *                the CONTEXT line, elog for Lua
 */
#ifndef PLERL_INT_H
#define PLERL_INT_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "storage/itemptr.h"

#include "plerl.h"

/* ---- entry.c ---- */

extern Datum plerl_dispatch(int entry, FunctionCallInfo fcinfo);
extern void plerl_bind(const PlerlSettings *settings);

/* ---- exec.c ---- */

extern Datum plerl_exec_function(FunctionCallInfo fcinfo, bool trusted);
extern Datum plerl_exec_inline(FunctionCallInfo fcinfo, bool trusted);
extern Datum plerl_exec_validator(FunctionCallInfo fcinfo, bool trusted);

/* ---- trigger.c ---- */

extern Datum plerl_trigger_call(FunctionCallInfo fcinfo, bool trusted);
extern Datum plerl_event_trigger_call(FunctionCallInfo fcinfo, bool trusted);

/* ---- outbox.c ---- */

/* The outbox worker's main loop (PLERL_ENTRY_OUTBOX_WORKER); never returns. */
extern void plerl_outbox_worker(void) pg_attribute_noreturn();

/* ---- erlang.c, fdw.c ---- */

/* erlang_* SQL functions, by PlerlErlangFn. */
extern Datum plerl_erlang_sql(PlerlErlangFn fn, FunctionCallInfo fcinfo);
extern Datum plerl_fdw_validate(FunctionCallInfo fcinfo);
/* The members of a server's nodes option, validated (raises); palloc'd. */
extern List *plerl_fdw_split_nodes(const char *value);

/* ---- allow.c ---- */

/*
 * Check that a row of plerl.allow permits module:function/arity on server
 * for the current role, and fill out's module, function, atoms,
 * any_atom, any_function. Raises 42501 if none does.
 */
extern void plerl_allow_check(const char *server, const char *module, const char *function,
							  int arity, PlerlErlTarget *out);

/* ---- queue.c ---- */

extern Oid	plerl_queue_relid(bool missing_ok);
/* Write one message (checked already) into plerl.outbox; returns its id. Raises. */
extern int64 plerl_queue_insert(const char *server, const char *dest, int op, Oid role,
								const char *payload, int64 len);

/* ---- xact.c ---- */

extern void plerl_xact_init(void);

/*
 * ---- typeio.c ----
 *
 * Type information (PlerlType) and Datum <-> PlerlValue for
 * any type: scalars, domains, arrays of any dimension, composites and
 * records (nested), json/jsonb, and everything else through text I/O.
 *
 * How to convert values of a type Oid (SPI columns and parameters, trigger
 * rows, set-returning rows):
 *
 *   PlerlType t;
 *   plerl_type_init(&t, oid, typmod, false, mcxt);    once, in a context
 *                                                     that outlives the uses
 *   C -> Go:  plerl_datum_to_value(&t, d, isnull, &v);   v is palloc'd in
 *             CurrentMemoryContext (trees too); Go's valueToLua reads it.
 *   Go -> C:  plerl_type_prepare(&t); then give Go &t.info (a
 *             const PlerlTypeInfo *): luaToType(s, lv, info, &v) fills v;
 *             back in C, d = plerl_value_to_datum(&t, &v, &isnull) consumes
 *             v (frees Go's block, also on error) and checks domains.
 *
 * Whole rows of a tuple descriptor: plerl_type_init_tupdesc(&t, tupdesc,
 * mcxt), then plerl_tuple_to_value(&t, tuple, &v) (a PLV_RECORD with field
 * names) and plerl_value_to_tuple(&t, &v) (a HeapTuple; Go fills a
 * PLV_RECORD following t.info, or a string in record syntax).
 *
 * Memory: everything a PlerlType needs later (nested element and field
 * converters, row descriptors seen, domain_check's cache) lives in the mcxt
 * given to plerl_type_init.
 */
struct PlerlRecDesc;			/* a row type as seen once (types.c) */

typedef struct PlerlType
{
	PlerlTypeInfo info;			/* what Go sees (kept current by plerl_type_prepare) */
	Oid			oid;			/* the type, a domain if it is one */
	int32		typmod;
	int			kind;			/* PLT_* of the base type (PLT_POLY: resolved per call) */
	bool		is_domain;
	bool		byval;
	int16		len;
	char		align;
	Oid			base;			/* the type below any domains */
	Oid			ioparam;
	FmgrInfo	in;
	FmgrInfo	out;
	MemoryContext mcxt;			/* where nested converters and caches live */
	void	   *domain_extra;	/* domain_check's cache */
	struct PlerlType *elem;		/* PLT_ARRAY: element type */
	struct PlerlRecDesc *rec;	/* PLT_RECORD: current row type (NULL until known) */
	struct PlerlRecDesc *recs;	/* PLT_RECORD: row types seen, most recent first */
	int32		handle;			/* PLT_ARRAY: the registry's handle (0: not looked up, -1: none) */
	bool		rec_fixed;		/* PLT_RECORD: rec came from plerl_type_init_tupdesc */
	bool		iso_out;		/* PLT_OTHER date/time types: output in ISO style */
	int			dt;				/* PLT_OTHER: PLV_DATE.. for date, time, timestamp(tz), interval; else 0 */
	int			text_kind;		/* PLT_OTHER: PLV_RANGE for a range type, PLV_TIMETZ for timetz (Lua values of their text), else 0 */
	int32		text_handle;	/* text_kind: the registry's handle (0: not looked up, -1: none) */
} PlerlType;

typedef struct PlerlProc
{
	Oid			fn_oid;
	TransactionId fn_xmin;
	ItemPointerData fn_tid;
	int64_t		fn_id;			/* Go's handle of the compiled chunk */
	bool		trusted;
	bool		retset;
	bool		readonly;		/* STABLE or IMMUTABLE */
	char	   *name;
	int			nargs;
	PlerlType  *args;
	PlerlType	ret;
	MemoryContext mcxt;
	/* Set by plerl_proc_init_result (types.c): */
	bool		poly_args;		/* an argument is polymorphic: types per call */
	bool		variadic_any;	/* VARIADIC "any": fcinfo->nargs arguments, each its own type */
	int			callset_args;	/* arguments of its callsets, counted in plerl_callset_args */
	/*
	 * Calls of it under way (plerl_proc_use/plerl_proc_unuse): a function
	 * redefined while one runs (it replaced itself through SPI) is freed
	 * only once no plerl call is on the stack at the end of a transaction
	 * (plerl_proc_release). A call that ends in an error leaves its count
	 * up until then, which only delays a free.
	 */
	int			use_count;
	struct PlerlProc *next_retired;

	bool		ret_dynamic;	/* result resolved per call (polymorphic, RECORD) */
	int64_t		types_id;		/* unique per build, for per-call-site caches */
	void	   *callsets;		/* types.c: resolved type sets seen */
} PlerlProc;

/*
 * Converters for values of type oid (any type; domains keep their base
 * type's kind and are checked on the way in). result only changes error
 * messages. Pseudo-types: void is PLT_VOID, record is PLT_RECORD (row type
 * resolved per value; for results see plerl_result_type), polymorphic
 * types are PLT_POLY (plerl_args_from_fcinfo resolves them), others go
 * through their text I/O.
 */
extern void plerl_type_init(PlerlType *t, Oid oid, int32 typmod, bool result, MemoryContext mcxt);

/*
 * Arguments of all functions' callsets (the types of each distinct call of
 * a polymorphic or VARIADIC "any" function, kept for the session): a new
 * callset beyond PLERL_CALLSET_ARGS_MAX is refused (54000), so distinct
 * calls made up by dynamic SQL cannot grow a backend without bound.
 */
#define PLERL_CALLSET_ARGS_MAX 65536
extern int64 plerl_callset_args;

extern int	plerl_proc_uses;	/* the sum of every use_count (procedure.c) */

static inline void
plerl_proc_use(PlerlProc *proc)
{
	proc->use_count++;
	plerl_proc_uses++;
}

static inline void
plerl_proc_unuse(PlerlProc *proc)
{
	if (proc->use_count > 0)
	{
		proc->use_count--;
		plerl_proc_uses--;
	}
}

/* At the end of a top-level transaction with no plerl call running (xact.c). */
extern void plerl_proc_release(void);

/* The number of arguments of this call (VARIADIC "any" passes them one by one). */
static inline int
plerl_call_nargs(PlerlProc *proc, FunctionCallInfo fcinfo)
{
	return proc->variadic_any ? fcinfo->nargs : proc->nargs;
}

/* A row of tupdesc (copied into mcxt). Bless tupdesc first if rows become Datums. */
extern void plerl_type_init_tupdesc(PlerlType *t, TupleDesc tupdesc, MemoryContext mcxt);

/*
 * Before handing &t->info to Go for a result: brings row types up to date
 * (ALTER TYPE between calls), recursively. Raises for an anonymous record
 * type nothing describes.
 */
extern void plerl_type_prepare(PlerlType *t);

/* The result type and per-argument checks of a function (at build). */
extern void plerl_proc_init_result(PlerlProc *proc, HeapTuple tup, MemoryContext mcxt);

/*
 * The types of one call of a function (not set-returning): proc->args and
 * &proc->ret unless polymorphic or RECORD, else resolved for the call site
 * (cached in flinfo->fn_extra, which types.c owns for non-SRF calls) and
 * prepared. Use the returned result type for call.ret_type (&t->info) and
 * plerl_value_to_datum.
 */
extern PlerlType *plerl_result_type(PlerlProc *proc, FunctionCallInfo fcinfo);
extern void plerl_args_from_fcinfo(PlerlProc *proc, FunctionCallInfo fcinfo, PlerlValue *args);

/* C -> Go. v (and any tree below) is palloc'd in CurrentMemoryContext. */
extern void plerl_datum_to_value(PlerlType *t, Datum d, bool isnull, PlerlValue *v);
/* Date and time kinds (PLV_DATE..PLV_INTERVAL): their type, Datum <-> value. */
extern Oid	plerl_dt_type(int kind);
extern void plerl_dt_to_value(int kind, Datum d, PlerlValue *v);
extern Datum plerl_dt_datum(const PlerlValue *v);
extern void plerl_tuple_to_value(PlerlType *t, HeapTuple tuple, PlerlValue *v);

/* Go -> C. Both consume v (free Go's block), also when they raise. */
extern Datum plerl_value_to_datum(PlerlType *t, PlerlValue *v, bool *isnull);
extern HeapTuple plerl_value_to_tuple(PlerlType *t, PlerlValue *v);

/* ---- srf.c ---- */

extern Datum plerl_srf_call(FunctionCallInfo fcinfo, PlerlProc *proc);

/* ---- procedure.c ---- */

extern void plerl_proc_cache_init(void);
/* The cached, compiled function. Raises. */
extern PlerlProc *plerl_proc_get(Oid fn_oid, bool trusted);
/* Compile fn_oid's body to check it (CREATE FUNCTION), keeping nothing. Raises. */
extern void plerl_proc_validate(Oid fn_oid, bool trusted);
extern int32_t plerl_call_flags(PlerlProc *proc, FunctionCallInfo fcinfo);

/* ---- frame.c ---- */

/*
 * One running call, on the C stack of its entry point. Lua -> SQL -> Lua
 * nests, so frames form a stack; the SPI guards use the innermost one.
 * SPI is connected lazily, on the first SPI use of the call (most calls
 * never use SPI), and always before a pcall subtransaction starts, so the
 * connection belongs to the call and not to a subtransaction.
 */
typedef struct PlerlFrame
{
	struct PlerlFrame *outer;
	bool		readonly;		/* STABLE or IMMUTABLE: SPI runs read-only */
	bool		nonatomic;		/* CALL or DO outside a transaction block */
	bool		spi_connected;
	TriggerData *trigdata;		/* transition tables to register with SPI */
	const char *what;			/* for the CONTEXT line: a function's name, or NULL for DO */
	ErrorContextCallback errctx;	/* names the call in errors raised under it */
	int			subxact_depth;	/* plerl_subxact_depth at entry */
	FunctionCallInfo fcinfo;	/* a function's call (its argument types), NULL for others */
} PlerlFrame;

extern PlerlFrame *plerl_frame;
extern int	plerl_call_depth;

/*
 * Around the one cgo call of an entry path:
 *
 *   plerl_enter(&frame, flags, trigdata, name);   pushes the frame and the
 *                                                  CONTEXT line "plerl function name"
 *   plerlGoXxx(&call, ...);
 *   plerl_leave(&frame);                           pops the frame (checks the order)
 *   ... free what Go handed back on failure ...
 *   plerl_finish(&frame, &call.err);               raises Go's error, a stash or
 *                                                  an interrupt (with the CONTEXT line)
 *   ... convert the result (errors still name the call) ...
 *   plerl_done(&frame);                            pops the CONTEXT line
 *
 * An error raised anywhere in between unwinds past all of it: PostgreSQL's
 * error handling resets error_context_stack.
 */
extern void plerl_enter(PlerlFrame *frame, int32_t flags, TriggerData *trigdata, const char *what);
extern void plerl_leave(PlerlFrame *frame);
extern void plerl_finish(PlerlFrame *frame, PlerlError *err);
extern void plerl_done(PlerlFrame *frame);

/* ---- typeio.c: the type registry (handles Lua values carry) ---- */
extern int32 plerl_type_handle(Oid oid, int32 typmod);
extern PlerlType *plerl_type_by_handle(int32 handle);

/* ---- typeio.c: rows ---- */

/*
 * Rows of a tuple descriptor as PlerlRows (typeio.c): column names, kinds and
 * converters once per descriptor, values per tuple.
 */
typedef struct PlerlRowDesc
{
	TupleDesc	tupdesc;
	int			ncols;
	const char **names;			/* NULL for dropped columns (and for parameters) */
	int32_t    *kinds;
	PlerlType  *types;
	const PlerlTypeInfo **infos;	/* &types[i].info, for Go's luaToType */
	MemoryContext mcxt;
	int64_t		id;
	int32		handle;			/* the row type's registry handle (0: not looked up, -1: none) */
} PlerlRowDesc;

extern void plerl_rowdesc_init(PlerlRowDesc *d, TupleDesc tupdesc, MemoryContext mcxt);
/* Before Go converts values for the columns: row types up to date. */
extern void plerl_rowdesc_prepare(PlerlRowDesc *d);
extern void plerl_rows_fill(PlerlRowDesc *d, PlerlRows *out, HeapTuple *tuples, uint64 n);

/*
 * Datums from values Go made: consumes values[] (frees what Go malloc'd,
 * also on error). Columns with replace[i] == 0 are left alone.
 */
/* One column's Datum from a value Go made (consumes it). */
extern Datum plerl_row_value_to_datum(PlerlRowDesc *d, int c, PlerlValue *v, bool *isnull);
extern void plerl_values_to_datums(PlerlRowDesc *d, PlerlValue *values, const char *replace,
								   Datum *datums, bool *nulls);

/* ---- subxact.c ---- */

/* Open subtransactions started by Lua pcall, across nested calls. */
extern int	plerl_subxact_depth;

/* ---- elog.c ---- */

/*
 * The guard idiom. Every C function Go calls that may raise is written
 *
 *	int
 *	plerl_area_verb(..., PlerlError *err)
 *	{
 *		PLERL_GUARD_ENTER(err);
 *		PG_TRY();
 *		{
 *			the PostgreSQL calls (never `return` in here)
 *		}
 *		PG_CATCH();
 *		{
 *			PLERL_GUARD_CAPTURE(err);
 *			undo what the work left half done (optional)
 *			return -1;
 *		}
 *		PG_END_TRY();
 *		return 0;
 *	}
 *
 * ENTER refuses at once (returns -1 with err set) when it is not on the
 * backend's own thread or an uncatchable error is stashed; it declares
 * plerl_guard_cxt, the memory context to go back to. CAPTURE restores that
 * context and captures the error into *err: catchable (inside a Lua pcall
 * subtransaction, not a cancel) comes back as PLERL_ERR, anything else is
 * stashed and re-raised unchanged by the entry path after Go returned.
 */
#define PLERL_GUARD_ENTER(err) \
	MemoryContext plerl_guard_cxt = CurrentMemoryContext; \
	if (plerl_guard_refuse(err)) \
		return -1

/* For cleanup that must go ahead after a stashed error (it only checks the thread). */
#define PLERL_GUARD_ENTER_ALWAYS(err) \
	MemoryContext plerl_guard_cxt = CurrentMemoryContext; \
	if (plerl_guard_off_thread(err)) \
		return -1

#define PLERL_GUARD_CAPTURE(err) \
	do { \
		MemoryContextSwitchTo(plerl_guard_cxt); \
		plerl_capture(err); \
	} while (0)

extern bool plerl_guard_refuse(PlerlError *err);
extern bool plerl_guard_off_thread(PlerlError *err);
extern void plerl_capture(PlerlError *err);
extern void plerl_rethrow_stash(void);
extern void plerl_stash_reset(void);
extern void plerl_error_set(PlerlError *err, int sqlerrcode, const char *msg);
/* Raise what Go reported (or a stashed error). Never returns. */
extern void plerl_raise(PlerlError *err) pg_attribute_noreturn();
/* The CONTEXT line of a running call (frame.c pushes it). */
extern void plerl_errcontext(void *arg);
extern void plerl_elog_init(void);

#endif
