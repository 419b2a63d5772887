/*
 * srf.c: set-returning functions in value-per-call mode. The function body
 * runs as a Lua coroutine; each call of this entry resumes it once (one
 * cgo call per row) and returns the row it yielded.
 *
 * Why value-per-call and not a tuplestore: `SELECT f() LIMIT 3` must stop
 * the coroutine after three rows, not run it to its millionth. The
 * executor tells us it stopped early through an ExprContext shutdown
 * callback, which closes the coroutine; a query that fails instead never
 * calls it, so Go also drops every unfinished coroutine at the end of its
 * (sub)transaction (xact.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "plerl_int.h"
#include "_cgo_export.h"

/*
 * Registered with the ExprContext. It lives in per-query memory, which
 * outlives the multi-call memory where the rest of the state is: the
 * executor may run shutdown callbacks in any order.
 */
typedef struct SrfHandle
{
	int64_t		srf_id;
} SrfHandle;

typedef struct SrfState
{
	PlerlSrf	srf;			/* what Go sees */
	SrfHandle  *handle;
	ExprContext *econtext;
	int64_t		fn_id;
	uint32_t	user_id;
	int32_t		flags;
	bool		composite;		/* rows: ret describes the row type */
	PlerlType	ret;			/* a row's type (types.c converts it) */
} SrfState;

static void
srf_shutdown(Datum arg)
{
	SrfHandle  *h = (SrfHandle *) DatumGetPointer(arg);

	if (h->srf_id != 0)
		plerlGoSrfClose(h->srf_id);
	h->srf_id = 0;
}

static SrfState *
srf_init(FunctionCallInfo fcinfo, PlerlProc *proc, MemoryContext mcxt)
{
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old = MemoryContextSwitchTo(mcxt);
	SrfState   *st = palloc0(sizeof(SrfState));
	Oid			rettype;
	TupleDesc	tupdesc;

	switch (get_call_result_type(fcinfo, &rettype, &tupdesc))
	{
		case TYPEFUNC_SCALAR:
			plerl_type_init(&st->ret, rettype, -1, true, mcxt);
			break;
		case TYPEFUNC_COMPOSITE:
		case TYPEFUNC_COMPOSITE_DOMAIN:
			/* The column definition list, RETURNS TABLE, or the row type. */
			tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
			plerl_type_init_tupdesc(&st->ret, tupdesc, mcxt);
			st->composite = true;
			break;
		case TYPEFUNC_RECORD:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("function returning record called in context that cannot accept type record"),
					 errhint("Give a column definition list: SELECT * FROM f() AS t(a int, b text).")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("plerl set-returning functions cannot return type %s",
							format_type_be(rettype))));
	}
	st->fn_id = proc->fn_id;
	st->user_id = proc->trusted ? GetUserId() : 0;
	st->flags = plerl_call_flags(proc, fcinfo) | PLERL_RETSET;
	st->srf.subxact = GetCurrentSubTransactionId();
	st->econtext = rsi->econtext;
	st->handle = MemoryContextAllocZero(rsi->econtext->ecxt_per_query_memory, sizeof(SrfHandle));
	MemoryContextSwitchTo(old);
	return st;
}

static void
srf_forget(SrfState *st)
{
	if (st->handle != NULL)
	{
		UnregisterExprContextCallback(st->econtext, srf_shutdown, PointerGetDatum(st->handle));
		st->handle->srf_id = 0;
		st->handle = NULL;
	}
}

Datum
plerl_srf_call(FunctionCallInfo fcinfo, PlerlProc *proc)
{
	ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;
	FuncCallContext *funcctx;
	SrfState   *st;
	PlerlCall	call;
	PlerlFrame	frame;
	PlerlValue	argbuf[8];
	bool		first = false;

	if (rsi == NULL || !IsA(rsi, ReturnSetInfo) ||
		(rsi->allowedModes & SFRM_ValuePerCall) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));

	if (SRF_IS_FIRSTCALL())
	{
		funcctx = SRF_FIRSTCALL_INIT();
		st = srf_init(fcinfo, proc, funcctx->multi_call_memory_ctx);
		funcctx->user_fctx = st;
		RegisterExprContextCallback(st->econtext, srf_shutdown, PointerGetDatum(st->handle));
		first = true;
	}
	funcctx = SRF_PERCALL_SETUP();
	st = (SrfState *) funcctx->user_fctx;

	memset(&call, 0, sizeof(call));
	call.fn_id = st->fn_id;
	call.user_id = st->user_id;
	call.flags = st->flags;
	/* A row type may have changed since the last row (ALTER TYPE). */
	if (st->ret.kind >= PLT_RECORD)
		plerl_type_prepare(&st->ret);
	call.ret_kind = st->ret.kind;
	call.ret_type = &st->ret.info;
	if (first)
	{
		/* Arguments go to the coroutine once, when it starts. */
		call.nargs = plerl_call_nargs(proc, fcinfo);
		call.args = call.nargs <= lengthof(argbuf) ? argbuf :
			palloc(sizeof(PlerlValue) * call.nargs);
		plerl_args_from_fcinfo(proc, fcinfo, call.args);
	}
	st->srf.done = 0;

	plerl_proc_use(proc);
	plerl_enter(&frame, call.flags, NULL, proc->name);
	frame.fcinfo = fcinfo;
	plerlGoSrfNext(&call, &st->srf);
	plerl_leave(&frame);
	if (st->handle)
		st->handle->srf_id = st->srf.srf_id;
	if (call.err.kind != PLERL_OK || plerl_has_stash())
	{
		plerl_value_free(&call.ret);
		srf_forget(st);
	}
	plerl_finish(&frame, &call.err);

	if (st->srf.done)
	{
		plerl_done(&frame);
		plerl_proc_unuse(proc);
		srf_forget(st);
		SRF_RETURN_DONE(funcctx);
	}
	if (st->composite)
	{
		HeapTuple	tuple = plerl_value_to_tuple(&st->ret, &call.ret);

		plerl_done(&frame);
		plerl_proc_unuse(proc);
		SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(tuple));
	}
	else
	{
		bool		isnull;
		Datum		d = plerl_value_to_datum(&st->ret, &call.ret, &isnull);

		plerl_done(&frame);
		plerl_proc_unuse(proc);
		if (isnull)
			SRF_RETURN_NEXT_NULL(funcctx);
		SRF_RETURN_NEXT(funcctx, d);
	}
}
