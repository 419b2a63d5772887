/*
 * subxact.c: subtransactions for Lua pcall (PL/Python's pattern): begin
 * saves the memory context and resource owner, commit and abort restore
 * them. Guards Go calls (plerl.h), in the guard idiom (plerl_int.h).
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "plerl_int.h"

/* Open subtransactions started by Lua pcall, across nested calls. */
int			plerl_subxact_depth = 0;

typedef struct SubxactFrame
{
	MemoryContext cxt;
	ResourceOwner owner;
} SubxactFrame;

#define MAX_SUBXACT 10000
static SubxactFrame *subxacts = NULL;

/*
 * Subtransactions for Lua pcall (PL/Python's pattern): begin saves the memory
 * context and resource owner, commit and abort restore them.
 */
int
plerl_subxact_begin(PlerlError *err)
{
	ResourceOwner owner = CurrentResourceOwner;

	PLERL_GUARD_ENTER(err);
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
		MemoryContextSwitchTo(plerl_guard_cxt);
		subxacts[plerl_subxact_depth].cxt = plerl_guard_cxt;
		subxacts[plerl_subxact_depth].owner = owner;
		plerl_subxact_depth++;
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

static int
subxact_end(bool commit, PlerlError *err)
{
	SubxactFrame f;

	PLERL_GUARD_ENTER_ALWAYS(err);	/* an abort is cleanup: see below */
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
		plerl_guard_refuse(err);
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
		plerl_guard_cxt = f.cxt;	/* the context the subtransaction began in */
		PLERL_GUARD_CAPTURE(err);
		CurrentResourceOwner = f.owner;
		return -1;
	}
	PG_END_TRY();
	return 0;
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
