/*
 * xact.c: transaction and subtransaction events, in one place, for Go: at
 * PRE_COMMIT and PREPARE Go may still fail the transaction (deferred sends
 * are re-checked); at COMMIT it sends them; at ABORT it drops them; at any
 * end it drops the state of set-returning functions left unfinished. Go
 * touches no PostgreSQL state from these calls except through guards.
 */
#include "postgres.h"

#include "access/xact.h"

#include "plerl_int.h"
#include "_cgo_export.h"

uint64_t	plerl_xact_generation = 1;

static void
xact_callback(XactEvent event, void *arg)
{
	PlerlError	err;
	int			ev;

	plerl_state_epoch++;		/* portals may have closed (plerl.h) */
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			ev = PLERL_XACT_PRE_COMMIT;
			break;
		case XACT_EVENT_COMMIT:
			ev = PLERL_XACT_COMMIT;
			break;
		case XACT_EVENT_PRE_PREPARE:
			ev = PLERL_XACT_PREPARE;
			break;

			/*
			 * A parallel worker's events say nothing about the query's
			 * transaction (PARALLEL_COMMIT is the worker finishing, even if
			 * the leader then rolls back): whatever a worker queued is
			 * dropped, never sent. Workers are refused Erlang requests
			 * anyway (erlang.c), so there is nothing to drop.
			 */
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			ev = PLERL_XACT_ABORT;
			break;
		default:
			ev = 0;
			break;
	}
	if (ev != 0)
	{
		memset(&err, 0, sizeof(err));
		plerlGoXact(ev, 0, &err);
		if (err.kind != PLERL_OK)
		{
			if (ev == PLERL_XACT_PRE_COMMIT || ev == PLERL_XACT_PREPARE)
				plerl_raise(&err);	/* before commit: the transaction fails */
			plerl_error_free(&err);
		}
	}

	/* Set-returning functions left unfinished (a failed or stopped query). */
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			plerl_xact_generation++;	/* non-holdable portals are gone (plerl.h) */
			plerlGoXactEnd(event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT);
			if (plerl_call_depth == 0)
				plerl_proc_release();	/* procedure.c */
			break;
		default:
			break;
	}
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	PlerlError	err;

	plerl_state_epoch++;		/* portals may have closed (plerl.h) */
	memset(&err, 0, sizeof(err));
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		plerlGoXact(PLERL_XACT_SUB_ABORT, GetCurrentTransactionNestLevel(), &err);
		plerlGoSubxactAbort((uint32_t) mySubid);
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		plerlGoXact(PLERL_XACT_SUB_COMMIT, GetCurrentTransactionNestLevel(), &err);
	plerl_error_free(&err);
}

void
plerl_xact_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
}
