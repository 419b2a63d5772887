/*
 * guard.c: the C guards Go calls. Each wraps exactly the PostgreSQL calls it
 * needs in PG_TRY, captures an error instead of letting it longjmp over Go
 * frames, and returns a status. Catchable errors (inside a Lua pcall, which
 * runs a subtransaction) come back as PLERL_ERR with the error's fields;
 * anything else (no subtransaction to roll back, query cancel, shutdown) is
 * stashed and re-raised unchanged by the C entry point after Go returns.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "plerl.h"
#include "plerl_int.h"
#include "plerl_shared.h"
#include "plerl_types.h"

/* Set while a stashed error waits to be re-raised: no database access. */
static ErrorData *stashed = NULL;

/* Holds captured errors; reset whenever no stash is live (ReThrowError
 * copies what it needs, so the stash may stay allocated until then). */
static MemoryContext stash_cxt = NULL;

/* Open subtransactions started by Lua pcall, across nested calls. */
int			plerl_subxact_depth = 0;

typedef struct SubxactFrame
{
	MemoryContext cxt;
	ResourceOwner owner;
} SubxactFrame;

#define MAX_SUBXACT 10000
static SubxactFrame *subxacts = NULL;

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void
plerl_error_free(PlerlError *err)
{
	free(err->message);
	free(err->detail);
	free(err->hint);
	free(err->context);
	err->message = err->detail = err->hint = err->context = NULL;
	err->kind = PLERL_OK;
}

void
plerl_error_set(PlerlError *err, int sqlerrcode, const char *msg)
{
	plerl_error_free(err);
	err->kind = PLERL_ERR;
	strlcpy(err->sqlstate, unpack_sql_state(sqlerrcode), sizeof(err->sqlstate));
	err->message = dup_or_null(msg);
}

bool
plerl_has_stash(void)
{
	return stashed != NULL;
}

/*
 * Called in PG_CATCH of a guard, with CurrentMemoryContext restored. Copies
 * the error out of ErrorContext and decides whether Lua may catch it.
 */
void
plerl_capture(PlerlError *err)
{
	ErrorData  *edata;
	MemoryContext old;
	bool		catchable;

	if (stash_cxt == NULL)
		stash_cxt = AllocSetContextCreate(TopMemoryContext, "plerl errors",
										  ALLOCSET_SMALL_SIZES);
	else if (stashed == NULL)
		MemoryContextReset(stash_cxt);
	old = MemoryContextSwitchTo(stash_cxt);
	edata = CopyErrorData();
	FlushErrorState();
	MemoryContextSwitchTo(old);

	plerl_error_free(err);
	strlcpy(err->sqlstate, unpack_sql_state(edata->sqlerrcode), sizeof(err->sqlstate));
	err->message = dup_or_null(edata->message);
	err->detail = dup_or_null(edata->detail);
	err->hint = dup_or_null(edata->hint);
	err->context = dup_or_null(edata->context);

	catchable = plerl_subxact_depth > 0 &&
		edata->elevel == ERROR &&
		edata->sqlerrcode != ERRCODE_QUERY_CANCELED &&
		!ProcDiePending && !QueryCancelPending;
	if (catchable)
	{
		err->kind = PLERL_ERR;
		FreeErrorData(edata);
	}
	else
	{
		err->kind = PLERL_ERR_RETHROW;
		stashed = edata;		/* a newer error replaces an older one */
	}
}

/* A guard's first check: after an uncatchable error nothing may touch PG. */
bool
plerl_refuse_if_stashed(PlerlError *err)
{
	if (stashed == NULL)
		return false;
	plerl_error_free(err);
	err->kind = PLERL_ERR_RETHROW;
	strlcpy(err->sqlstate, unpack_sql_state(stashed->sqlerrcode), sizeof(err->sqlstate));
	err->message = dup_or_null(stashed->message);
	return true;
}

/* Re-raise the stashed error (from C, after Go has returned). */
void
plerl_rethrow_stash(void)
{
	ErrorData  *edata = stashed;

	stashed = NULL;
	if (edata == NULL)
		elog(ERROR, "plerl: lost the error to re-raise");
	/* ReThrowError copies the strings; stash_cxt is reset on the next capture. */
	ReThrowError(edata);
}

/* Forget a stash left behind (transaction end, outermost call start). */
void
plerl_stash_reset(void)
{
	stashed = NULL;
	if (stash_cxt)
		MemoryContextReset(stash_cxt);
}

/* Read by the Go poller goroutine on another thread: plain flag reads only. */
int
plerl_interrupt_pending(void)
{
	return InterruptPending && (QueryCancelPending || ProcDiePending);
}

uint32_t
plerl_current_user(void)
{
	return (uint32_t) GetUserId();
}

int
plerl_elog(int level, const char *msg, const char *detail, const char *hint, PlerlError *err)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			pglevel;
	volatile int rc = 0;

	if (plerl_refuse_if_stashed(err))
		return -1;
	switch (level)
	{
		case PLERL_DEBUG:
			pglevel = DEBUG2;
			break;
		case PLERL_LOG:
			pglevel = LOG;
			break;
		case PLERL_NOTICE:
			pglevel = NOTICE;
			break;
		case PLERL_WARNING:
			pglevel = WARNING;
			break;
		default:
			pglevel = INFO;
			break;
	}
	PG_TRY();
	{
		ereport(pglevel,
				(errmsg_internal("%s", msg),
				 detail ? errdetail_internal("%s", detail) : 0,
				 hint ? errhint("%s", hint) : 0));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		plerl_capture(err);
		rc = -1;
	}
	PG_END_TRY();
	return rc;
}

/*
 * Subtransactions for Lua pcall (PL/Python's pattern): begin saves the memory
 * context and resource owner, commit and abort restore them.
 */
int
plerl_subxact_begin(PlerlError *err)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile int rc = 0;

	if (plerl_refuse_if_stashed(err))
		return -1;
	if (subxacts == NULL)
		subxacts = MemoryContextAlloc(TopMemoryContext, sizeof(SubxactFrame) * MAX_SUBXACT);
	if (plerl_subxact_depth >= MAX_SUBXACT)
	{
		plerl_error_set(err, ERRCODE_PROGRAM_LIMIT_EXCEEDED, "too many nested pcall subtransactions");
		return -1;
	}
	PG_TRY();
	{
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		subxacts[plerl_subxact_depth].cxt = cxt;
		subxacts[plerl_subxact_depth].owner = owner;
		plerl_subxact_depth++;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		plerl_capture(err);
		rc = -1;
	}
	PG_END_TRY();
	return rc;
}

static int
subxact_end(bool commit, PlerlError *err)
{
	SubxactFrame f;
	volatile int rc = 0;

	if (plerl_subxact_depth <= 0)
	{
		plerl_error_set(err, ERRCODE_INTERNAL_ERROR, "plerl: no subtransaction to end");
		return -1;
	}
	f = subxacts[plerl_subxact_depth - 1];
	/*
	 * An abort must go ahead even after a stashed error: it is the cleanup.
	 * A commit must not, and the subtransaction must not stay open either
	 * (an error reaching the top with one open leaves the session in an
	 * aborted transaction block): roll it back and report the refusal.
	 */
	if (commit && plerl_has_stash())
	{
		(void) subxact_end(false, err);
		plerl_refuse_if_stashed(err);
		return -1;
	}
	PG_TRY();
	{
		plerl_subxact_depth--;
		if (commit)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(f.cxt);
		CurrentResourceOwner = f.owner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(f.cxt);
		CurrentResourceOwner = f.owner;
		plerl_capture(err);
		rc = -1;
	}
	PG_END_TRY();
	return rc;
}

int
plerl_subxact_commit(PlerlError *err)
{
	return subxact_end(true, err);
}

int
plerl_subxact_abort(PlerlError *err)
{
	return subxact_end(false, err);
}
