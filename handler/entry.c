/*
 * entry.c: the dispatcher plerl.so forwards every SQL entry point to, the
 * per-backend function cache, and the call, DO and validator paths.
 *
 * This is the only place that raises for Go: Go functions return a status
 * and plerl_raise() turns it into an ERROR after the cgo call has returned,
 * so no Go frame is ever between sigsetjmp and longjmp.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "plerl.h"
#include "plerl_int.h"
#include "plerl_shared.h"
#include "plerl_types.h"
#include "plerl_frame.h"
#include "_cgo_export.h"

/* load_external_function insists on a magic block in every library. */
PG_MODULE_MAGIC;

/* Settings owned by plerl.so (GUC variables), bound at load. */
const PlerlSettings *plerl_settings = NULL;

/* Depth of plerl calls on the stack (Lua -> SQL -> Lua nests). */
int			plerl_call_depth = 0;

/* The innermost running call (plerl_frame.h). */
PlerlFrame *plerl_frame = NULL;

typedef struct ProcEntry
{
	Oid			fn_oid;			/* hash key */
	PlerlProc  *proc;
} ProcEntry;

static HTAB *proc_cache = NULL;

extern Datum plerl_dispatch(int entry, FunctionCallInfo fcinfo);
extern void plerl_bind(const PlerlSettings *settings);
extern Datum plerl_erlang_entry(int fn, FunctionCallInfo fcinfo);
extern void plerl_erlang_init(void);
extern void plerl_proc_cache_init(void);

/* Close Erlang sessions politely when the backend exits. */
static void
plerl_on_exit(int code, Datum arg)
{
	plerlGoShutdown();
}

void
plerl_bind(const PlerlSettings *settings)
{
	plerl_settings = settings;
	plerlGoInit(settings->go_max_procs);
	on_proc_exit(plerl_on_exit, (Datum) 0);
	plerl_spi_init();
	plerl_erlang_init();
	plerl_proc_cache_init();
}

/*
 * Raise the error Go reported. Every path ends in ereport/ReThrowError.
 */
void
plerl_raise(PlerlError *err)
{
	char	   *msg = NULL,
			   *detail = NULL,
			   *hint = NULL,
			   *context = NULL;
	int			code;
	const char *s = err->sqlstate;

	/* An error stashed by a guard always wins: the transaction needs it. */
	if (err->kind == PLERL_ERR_RETHROW || plerl_has_stash())
	{
		plerl_error_free(err);
		plerl_rethrow_stash();
	}
	if (err->message)
		msg = pstrdup(err->message);
	if (err->detail)
		detail = pstrdup(err->detail);
	if (err->hint)
		hint = pstrdup(err->hint);
	if (err->context)
		context = pstrdup(err->context);
	if (err->kind == PLERL_ERR_CANCEL)
	{
		plerl_error_free(err);
		/* A cancel or timeout raises its own 57014 (or FATAL for die). */
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg_internal("%s", msg ? msg : "Lua execution was stopped")));
	}
	plerl_error_free(err);

	if (strlen(s) == 5 &&
		strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5)
		code = MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
	else
		code = ERRCODE_INTERNAL_ERROR;
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", msg ? msg : "unknown plerl error"),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 context ? errcontext("%s", context) : 0));
}

/* After any Go call: an error, a stash, or a pending interrupt raises here. */
static inline void
plerl_check(PlerlError *err)
{
	if (unlikely(err->kind != PLERL_OK || plerl_has_stash()))
		plerl_raise(err);
	CHECK_FOR_INTERRUPTS();
}

void
plerl_check_error(PlerlError *err)
{
	plerl_check(err);
}

/*
 * Enter and leave a call (around the one cgo call of an entry point). The
 * outermost call starts clean: nothing stashed by an earlier statement may
 * linger. Leaving finishes SPI if the call connected it, except after an
 * uncatchable error: then the transaction is in no state for more work,
 * and the abort that follows the re-raise cleans SPI up.
 */
void
plerl_enter(PlerlFrame *frame, int32_t flags, TriggerData *trigdata)
{
	if (plerl_call_depth == 0)
	{
		plerl_stash_reset();
		plerl_subxact_depth = 0;
	}
	frame->outer = plerl_frame;
	frame->readonly = (flags & PLERL_READONLY) != 0;
	frame->nonatomic = (flags & PLERL_NONATOMIC) != 0;
	frame->spi_connected = false;
	frame->trigdata = trigdata;
	plerl_frame = frame;
	plerl_call_depth++;
}

void
plerl_leave(PlerlFrame *frame)
{
	plerl_call_depth--;
	plerl_frame = frame->outer;
	if (frame->spi_connected && !plerl_has_stash())
	{
		frame->spi_connected = false;
		SPI_finish();
	}
}

static void
proc_free(PlerlProc *proc)
{
	if (proc->fn_id)
		plerlGoForget(proc->fn_id);
	MemoryContextDelete(proc->mcxt);
}

static bool
is_lua_name(const char *s)
{
	static const char *const keywords[] = {
		"and", "break", "do", "else", "elseif", "end", "false", "for",
		"function", "goto", "if", "in", "local", "nil", "not", "or",
		"repeat", "return", "then", "true", "until", "while", NULL
	};

	if (s == NULL || *s == '\0' || !(isalpha((unsigned char) *s) || *s == '_'))
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char) *p) || *p == '_'))
			return false;
	for (int i = 0; keywords[i]; i++)
		if (strcmp(s, keywords[i]) == 0)
			return false;
	return true;
}

/*
 * Build (and compile) the cache entry for a function. Raises on error.
 */
static PlerlProc *
proc_build(HeapTuple tup, Oid fn_oid, bool trusted, bool validate_only)
{
	Form_pg_proc pp = (Form_pg_proc) GETSTRUCT(tup);
	MemoryContext mcxt,
				old;
	PlerlProc  *proc;
	Oid		   *types;
	char	  **names;
	char	   *modes;
	int			n;
	Datum		srcdatum;
	bool		isnull;
	char	   *src;
	PlerlCompile cc;
	const char **argnames;
	int			nargs_lua = 0;

	mcxt = AllocSetContextCreate(TopMemoryContext, "plerl function",
								 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		proc = palloc0(sizeof(PlerlProc));
		proc->mcxt = mcxt;
		proc->fn_oid = fn_oid;
		proc->fn_xmin = HeapTupleHeaderGetRawXmin(tup->t_data);
		proc->fn_tid = tup->t_self;
		proc->trusted = trusted;
		proc->retset = pp->proretset;
		proc->name = pstrdup(NameStr(pp->proname));

		n = get_func_arg_info(tup, &types, &names, &modes);
		proc->nargs = 0;
		proc->args = palloc0(sizeof(PlerlType) * Max(n, 1));
		argnames = palloc0(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			char		mode = modes ? modes[i] : PROARGMODE_IN;

			if (mode == PROARGMODE_OUT || mode == PROARGMODE_TABLE)
				continue;
			plerl_type_init(&proc->args[proc->nargs], types[i], -1, false, mcxt);
			if (names && names[i] && is_lua_name(names[i]))
				argnames[proc->nargs] = names[i];
			proc->nargs++;
		}
		if (pp->prorettype == TRIGGEROID || pp->prorettype == EVENT_TRIGGEROID)
		{
			/* The trigger object is the one argument, named trigger. */
			argnames[0] = "trigger";
			nargs_lua = 1;
		}
		if (pp->proretset)
		{
			/*
			 * Set-returning: the row type (composite, RECORD, polymorphic) is
			 * resolved per call from the call site (srf.c).
			 */
			proc->readonly = pp->provolatile != PROVOLATILE_VOLATILE;
			proc->ret.oid = pp->prorettype;
			proc->ret.kind = PLT_VOID;
		}
		else
			plerl_proc_init_result(proc, tup, mcxt);

		srcdatum = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
		if (isnull)
			elog(ERROR, "plerl: null prosrc");
		src = TextDatumGetCString(srcdatum);

		memset(&cc, 0, sizeof(cc));
		cc.src = src;
		cc.srclen = strlen(src);
		cc.name = proc->name;
		cc.nargs = Max(proc->nargs, nargs_lua);
		cc.argnames = argnames;
		cc.flags = (trusted ? PLERL_TRUSTED : 0) | (validate_only ? PLERL_VALIDATE_ONLY : 0);
		plerlGoCompile(&cc);
		if (cc.err.kind != PLERL_OK)
			plerl_raise(&cc.err);
		proc->fn_id = cc.fn_id;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(mcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return proc;
}

/*
 * A one-entry memo in front of the cache: a query calling one function for
 * many rows skips the pg_proc lookup. Any pg_proc invalidation (CREATE OR
 * REPLACE here or in another session, once we process it) bumps the
 * generation, which sends the next call through the full check below, just
 * as soon as a syscache lookup would have seen the new row.
 */
static uint64 proc_generation = 1;
static Oid	memo_oid = InvalidOid;
static PlerlProc *memo_proc = NULL;
static uint64 memo_generation = 0;

static void
proc_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	proc_generation++;
}

void
plerl_proc_cache_init(void)
{
	CacheRegisterSyscacheCallback(PROCOID, proc_invalidate, (Datum) 0);
}

PlerlProc *
plerl_proc_get(Oid fn_oid, bool trusted)
{
	HeapTuple	tup;
	ProcEntry  *entry;
	bool		found;
	PlerlProc  *proc;

	if (fn_oid == memo_oid && memo_generation == proc_generation &&
		memo_proc->trusted == trusted)
		return memo_proc;
	memo_oid = InvalidOid;

	if (proc_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ProcEntry);
		proc_cache = hash_create("plerl functions", 128, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);

	entry = hash_search(proc_cache, &fn_oid, HASH_ENTER, &found);
	if (!found)
		entry->proc = NULL;
	proc = entry->proc;
	/* CREATE OR REPLACE changes the row version: recompile at once. */
	if (proc != NULL &&
		proc->fn_xmin == HeapTupleHeaderGetRawXmin(tup->t_data) &&
		ItemPointerEquals(&proc->fn_tid, &tup->t_self))
	{
		ReleaseSysCache(tup);
		memo_oid = fn_oid, memo_proc = proc, memo_generation = proc_generation;
		return proc;
	}
	if (proc != NULL)
	{
		entry->proc = NULL;
		proc_free(proc);
	}
	PG_TRY();
	{
		proc = proc_build(tup, fn_oid, trusted, false);
	}
	PG_FINALLY();
	{
		ReleaseSysCache(tup);
	}
	PG_END_TRY();
	entry->proc = proc;
	memo_oid = fn_oid, memo_proc = proc, memo_generation = proc_generation;
	return proc;
}

/* Enter Go for a call; everything after it may raise. */
static inline void
go_call(PlerlCall *call)
{
	PlerlFrame	frame;

	plerl_enter(&frame, call->flags, NULL);
	plerlGoCall(call);
	plerl_leave(&frame);
}

static Datum
plerl_function_call(FunctionCallInfo fcinfo, bool trusted)
{
	PlerlProc  *proc;
	PlerlCall	call;
	PlerlValue	argbuf[8];
	PlerlType  *rettype;
	Datum		result;

	if (CALLED_AS_TRIGGER(fcinfo))
		return plerl_trigger_call(fcinfo, trusted);
	if (CALLED_AS_EVENT_TRIGGER(fcinfo))
		return plerl_event_trigger_call(fcinfo, trusted);

	proc = plerl_proc_get(fcinfo->flinfo->fn_oid, trusted);
	if (proc->retset)
		return plerl_srf_call(fcinfo, proc);

	memset(&call, 0, sizeof(call));
	call.args = proc->nargs <= lengthof(argbuf) ? argbuf :
		palloc(sizeof(PlerlValue) * proc->nargs);
	plerl_args_from_fcinfo(proc, fcinfo, call.args);
	call.fn_id = proc->fn_id;
	call.user_id = trusted ? GetUserId() : 0;
	call.flags = plerl_call_flags(proc, fcinfo);
	call.nargs = proc->nargs;
	/* Polymorphic and RECORD results are resolved per call site (types.c). */
	rettype = plerl_result_type(proc, fcinfo);
	call.ret_kind = rettype->kind;
	call.ret_type = &rettype->info;
	call.pg = fcinfo;

	go_call(&call);
	plerl_check(&call.err);
	result = plerl_value_to_datum(rettype, &call.ret, &fcinfo->isnull);
	return result;
}

int32_t
plerl_call_flags(PlerlProc *proc, FunctionCallInfo fcinfo)
{
	int32_t		flags = proc->trusted ? PLERL_TRUSTED : 0;

	if (fcinfo && fcinfo->context && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic)
		flags |= PLERL_NONATOMIC;
	if (proc->readonly)
		flags |= PLERL_READONLY;
	return flags;
}

/* Compile and run a DO block; it is not cached. */
static Datum
plerl_inline(FunctionCallInfo fcinfo, bool trusted)
{
	InlineCodeBlock *codeblock = (InlineCodeBlock *) DatumGetPointer(PG_GETARG_DATUM(0));
	PlerlCompile cc;
	PlerlCall	call;

	memset(&cc, 0, sizeof(cc));
	cc.src = codeblock->source_text;
	cc.srclen = strlen(codeblock->source_text);
	cc.name = "DO block";
	cc.flags = trusted ? PLERL_TRUSTED : 0;
	plerlGoCompile(&cc);
	if (cc.err.kind != PLERL_OK)
		plerl_raise(&cc.err);

	memset(&call, 0, sizeof(call));
	call.fn_id = cc.fn_id;
	call.user_id = trusted ? GetUserId() : 0;
	call.flags = (trusted ? PLERL_TRUSTED : 0) | (codeblock->atomic ? 0 : PLERL_NONATOMIC);
	call.ret_kind = PLT_VOID;
	go_call(&call);
	plerlGoForget(cc.fn_id);
	plerl_check(&call.err);
	PG_RETURN_VOID();
}

/* CREATE FUNCTION: check types and compile the body (unless told not to). */
static Datum
plerl_validate(FunctionCallInfo fcinfo, bool trusted)
{
	Oid			fn_oid = PG_GETARG_OID(0);
	HeapTuple	tup;
	PlerlProc  *proc;

	if (!CheckFunctionValidatorAccess(fcinfo->flinfo->fn_oid, fn_oid))
		PG_RETURN_VOID();
	if (!check_function_bodies)
		PG_RETURN_VOID();
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	proc = proc_build(tup, fn_oid, trusted, true);
	ReleaseSysCache(tup);
	proc_free(proc);
	PG_RETURN_VOID();
}

Datum
plerl_dispatch(int entry, FunctionCallInfo fcinfo)
{
	switch (entry)
	{
		case PLERL_ENTRY_CALL:
			return plerl_function_call(fcinfo, true);
		case PLERL_ENTRY_CALL_U:
			return plerl_function_call(fcinfo, false);
		case PLERL_ENTRY_INLINE:
			return plerl_inline(fcinfo, true);
		case PLERL_ENTRY_INLINE_U:
			return plerl_inline(fcinfo, false);
		case PLERL_ENTRY_VALIDATOR:
			return plerl_validate(fcinfo, true);
		case PLERL_ENTRY_VALIDATOR_U:
			return plerl_validate(fcinfo, false);
		default:
			if (entry >= PLERL_ENTRY_ERLANG)
				return plerl_erlang_entry(entry - PLERL_ENTRY_ERLANG, fcinfo);
			elog(ERROR, "plerl: unknown entry point %d", entry);
	}
	pg_unreachable();
}
