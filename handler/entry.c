/*
 * entry.c: where plerl.so's entry points arrive (plerl_dispatch), and
 * where plerl_go.so is set up in a backend (plerl_bind). It only enters:
 * each entry goes to the one file that handles it, and nothing calls back
 * here (plerl_int.h lists the files in the order calls go).
 */
#include "postgres.h"

#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "storage/ipc.h"

#include "plerl_int.h"
#include "_cgo_export.h"

/* load_external_function insists on a magic block in every library. */
PG_MODULE_MAGIC;

/* Settings owned by plerl.so (GUC variables), bound at load. */
const PlerlSettings *plerl_settings = NULL;

/* Close Erlang sessions politely when the backend exits. */
static void
plerl_on_exit(int code, Datum arg)
{
	plerlGoShutdown();
}

/* Called by plerl.so once, right after it loaded this library. */
void
plerl_bind(const PlerlSettings *settings)
{
	if (settings->size != (int) sizeof(PlerlSettings))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("plerl.so and plerl_go.so were built from different versions of plerl"),
				 errhint("Rebuild and install both (make && make install), then restart the server if plerl is preloaded.")));
	plerl_settings = settings;
	plerl_elog_init();
	plerlGoInit(settings->go_max_procs);
	on_proc_exit(plerl_on_exit, (Datum) 0);
	plerl_xact_init();
	plerl_proc_cache_init();
}

Datum
plerl_dispatch(int entry, FunctionCallInfo fcinfo)
{
	switch (entry)
	{
		case PLERL_ENTRY_CALL:
		case PLERL_ENTRY_CALL_U:
			{
				bool		trusted = entry == PLERL_ENTRY_CALL;

				if (CALLED_AS_TRIGGER(fcinfo))
					return plerl_trigger_call(fcinfo, trusted);
				if (CALLED_AS_EVENT_TRIGGER(fcinfo))
					return plerl_event_trigger_call(fcinfo, trusted);
				return plerl_exec_function(fcinfo, trusted);
			}
		case PLERL_ENTRY_INLINE:
			return plerl_exec_inline(fcinfo, true);
		case PLERL_ENTRY_INLINE_U:
			return plerl_exec_inline(fcinfo, false);
		case PLERL_ENTRY_VALIDATOR:
			return plerl_exec_validator(fcinfo, true);
		case PLERL_ENTRY_VALIDATOR_U:
			return plerl_exec_validator(fcinfo, false);
		case PLERL_ENTRY_OUTBOX_WORKER:
			plerl_outbox_worker();
		case PLERL_ENTRY_ERLANG + PLERL_ERL_FDW_VALIDATOR:
			return plerl_fdw_validate(fcinfo);
		default:
			if (entry >= PLERL_ENTRY_ERLANG + PLERL_ERL_CONNECT &&
				entry <= PLERL_ENTRY_ERLANG + PLERL_ERL_GROUP_MEMBERS)
				return plerl_erlang_sql((PlerlErlangFn) (entry - PLERL_ENTRY_ERLANG), fcinfo);
			elog(ERROR, "plerl: unknown entry point %d", entry);
	}
	pg_unreachable();
}
