/*
 * pl_more.c: entry paths the foundation does not have yet. Each raises a
 * clear feature_not_supported error until its issue lands.
 */
#include "postgres.h"

#include "fmgr.h"

#include "plerl.h"
#include "plerl_types.h"

Datum
plerl_trigger_call(FunctionCallInfo fcinfo, bool trusted)
{
	ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					errmsg("plerl triggers are not supported yet")));
	pg_unreachable();
}

Datum
plerl_event_trigger_call(FunctionCallInfo fcinfo, bool trusted)
{
	ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					errmsg("plerl event triggers are not supported yet")));
	pg_unreachable();
}

Datum
plerl_srf_call(FunctionCallInfo fcinfo, PlerlProc *proc)
{
	ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					errmsg("plerl set-returning functions are not supported yet")));
	pg_unreachable();
}
