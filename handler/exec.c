/*
 * exec.c: the call, DO and validator paths of ordinary functions. C
 * converts the arguments (typeio.c, converters chosen once per function),
 * makes ONE cgo call, then converts the result; errors are raised after Go
 * returned (frame.c's plerl_finish). Set-returning functions go on to
 * srf.c; triggers never come here (entry.c sends them to trigger.c).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "plerl_int.h"
#include "_cgo_export.h"

Datum
plerl_exec_function(FunctionCallInfo fcinfo, bool trusted)
{
	PlerlProc  *proc;
	PlerlCall	call;
	PlerlValue	argbuf[8];
	PlerlType  *rettype;
	Datum		result;
	PlerlFrame	frame;

	proc = plerl_proc_get(fcinfo->flinfo->fn_oid, trusted);
	if (proc->retset)
		return plerl_srf_call(fcinfo, proc);
	plerl_proc_use(proc);

	memset(&call, 0, sizeof(call));
	call.nargs = plerl_call_nargs(proc, fcinfo);
	call.args = call.nargs <= lengthof(argbuf) ? argbuf :
		palloc(sizeof(PlerlValue) * call.nargs);
	plerl_args_from_fcinfo(proc, fcinfo, call.args);
	call.fn_id = proc->fn_id;
	call.user_id = trusted ? GetUserId() : 0;
	call.flags = plerl_call_flags(proc, fcinfo);
	/* Polymorphic and RECORD results are resolved per call site (types.c). */
	rettype = plerl_result_type(proc, fcinfo);
	call.ret_kind = rettype->kind;
	call.ret_type = &rettype->info;

	plerl_enter(&frame, call.flags, NULL, proc->name);
	frame.fcinfo = fcinfo;
	plerlGoCall(&call);
	plerl_leave(&frame);
	plerl_finish(&frame, &call.err);
	result = plerl_value_to_datum(rettype, &call.ret, &fcinfo->isnull);
	plerl_done(&frame);
	plerl_proc_unuse(proc);
	return result;
}

/* Compile and run a DO block; it is not cached. */
Datum
plerl_exec_inline(FunctionCallInfo fcinfo, bool trusted)
{
	InlineCodeBlock *codeblock = (InlineCodeBlock *) DatumGetPointer(PG_GETARG_DATUM(0));
	PlerlCompile cc;
	PlerlCall	call;
	PlerlFrame	frame;

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
	plerl_enter(&frame, call.flags, NULL, NULL);
	plerlGoCall(&call);
	plerl_leave(&frame);
	plerlGoForget(cc.fn_id);
	plerl_finish(&frame, &call.err);
	plerl_done(&frame);
	PG_RETURN_VOID();
}

/* CREATE FUNCTION: check types and compile the body (unless told not to). */
Datum
plerl_exec_validator(FunctionCallInfo fcinfo, bool trusted)
{
	Oid			fn_oid = PG_GETARG_OID(0);

	if (!CheckFunctionValidatorAccess(fcinfo->flinfo->fn_oid, fn_oid))
		PG_RETURN_VOID();
	if (!check_function_bodies)
		PG_RETURN_VOID();
	plerl_proc_validate(fn_oid, trusted);
	PG_RETURN_VOID();
}
