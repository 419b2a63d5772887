/*
 * outbox.c: the outbox worker's loop (docs/outbox.md). plerl.so's
 * plerl_outbox_main set up signals, connected to the database and loaded
 * this library; here, in rounds, each in a transaction of its own: read the
 * next batch of each destination, resolve it as the role that enqueued it
 * (erlang.c: privileges, user mapping, plerl.allow), hand the batches to Go
 * (which delivers them concurrently and waits for the acknowledgements),
 * then delete what was acknowledged and mark what failed, and commit. A
 * crash anywhere before that commit leaves the rows: they are delivered
 * again (at least once; receivers drop repeats by id).
 *
 * All PostgreSQL work is C, between Go calls; Go never runs while an
 * error can be raised. Interrupts (die() set them) are acted on only by
 * CHECK_FOR_INTERRUPTS here, with no Go frame on the stack.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/vacuum.h"
#include "nodes/makefuncs.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/resowner.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "plerl_int.h"
#include "_cgo_export.h"

/* Rows read per round: enough for several destinations' batches. */
#define OUTBOX_READ_FACTOR 4

static MemoryContext round_cxt = NULL;

/* Rows deleted since the worker last vacuumed the queue (outbox_vacuum). */
static int64 deleted_since_vacuum = 0;

static char *
copy_str(const char *s)
{
	return s ? pstrdup(s) : NULL;
}

/* The resolve guard's strings live until its next call: copy them into the round. */
static void
copy_target(PlerlErlTarget *dst, const PlerlErlTarget *src)
{
	*dst = *src;
	dst->node = copy_str(src->node);
	dst->cookie = copy_str(src->cookie);
	dst->server = copy_str(src->server);
	dst->tls_ca = copy_str(src->tls_ca);
	dst->tls_cert = copy_str(src->tls_cert);
	dst->tls_key = copy_str(src->tls_key);
	dst->tls_server_name = copy_str(src->tls_server_name);
	dst->balance = copy_str(src->balance);
	if (src->nmembers > 0)
	{
		/* a group (server option nodes): Go picks a live member per batch */
		dst->members = palloc(sizeof(char *) * src->nmembers);
		for (int i = 0; i < src->nmembers; i++)
			dst->members[i] = pstrdup(src->members[i]);
	}
	dst->module = copy_str(src->module);
	dst->function = copy_str(src->function);
	if (src->natoms > 0)
	{
		dst->atoms = palloc(sizeof(char *) * src->natoms);
		for (int i = 0; i < src->natoms; i++)
			dst->atoms[i] = pstrdup(src->atoms[i]);
	}
}

typedef struct OutboxBatch
{
	PlerlOutboxGroup g;
	char	   *server;
	char	   *dest;
	Oid			role;
	int			op;
	int			cap;
	bool		closed;			/* no more rows this round (role or op changed, full, retrying) */
	int			head_attempts;
	char	   *resolve_error;	/* permanent: the role may not (any longer) do this */
	int64	   *ids;
	char	  **payloads;
	int64	   *lens;
} OutboxBatch;

static Datum
ids_array(const int64 *ids, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		d[i] = Int64GetDatum(ids[i]);
	return PointerGetDatum(construct_array(d, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
}

/*
 * The round's statements, planned once per worker and kept (SPI_keepplan;
 * the plan cache replans them after DDL on plerl.outbox): a round costs
 * one read, one DELETE for everything acknowledged, and an UPDATE only for
 * what failed, not a parse and plan per statement.
 */
static SPIPlanPtr read_plan = NULL;
static SPIPlanPtr delete_plan = NULL;

static SPIPlanPtr
keep_plan(SPIPlanPtr *slot, const char *sql, int nargs, Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL || SPI_keepplan(p) != 0)
			elog(ERROR, "plerl outbox: cannot prepare %s", sql);
		*slot = p;
	}
	return *slot;
}

static void
exec_ids(const char *sql, const int64 *ids, int n, const char *error)
{
	Oid			types[2] = {INT8ARRAYOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	values[0] = ids_array(ids, n);
	if (error)
		values[1] = CStringGetTextDatum(error);
	else
		nulls[1] = 'n';
	if (SPI_execute_with_args(sql, 2, types, values, nulls, false, 0) < 0)
		elog(ERROR, "plerl outbox: update failed: %s", sql);
}

/* Every acknowledged row of the round, in one statement. */
static void
delete_acked(const int64 *ids, int n)
{
	Oid			types[1] = {INT8ARRAYOID};
	Datum		values[1];

	if (n == 0)
		return;
	values[0] = ids_array(ids, n);
	if (SPI_execute_plan(keep_plan(&delete_plan, "DELETE FROM plerl.outbox WHERE id = ANY($1)", 1, types),
						 values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "plerl outbox: cannot delete delivered rows");
}

/* What the round decided for one group, written before COMMIT. */
static void
mark_group(OutboxBatch *gr)
{
	int			st = gr->g.status;
	const char *error = gr->resolve_error ? gr->resolve_error : gr->g.error;

	if (gr->resolve_error)
		st = PLERL_OUTBOX_DEAD;
	switch (st)
	{
		case PLERL_OUTBOX_ACKED:
			break;				/* deleted with the round's others (delete_acked) */
		case PLERL_OUTBOX_DEAD:
			exec_ids("UPDATE plerl.outbox SET dead = true, attempts = attempts + 1, last_error = $2, next_attempt = NULL WHERE id = ANY($1)",
					 gr->ids, gr->g.n, error);
			break;
		case PLERL_OUTBOX_DEAD_ONE:
			if (gr->g.bad >= 0 && gr->g.bad < gr->g.n)
				exec_ids("UPDATE plerl.outbox SET dead = true, attempts = attempts + 1, last_error = $2, next_attempt = NULL WHERE id = ANY($1)",
						 &gr->ids[gr->g.bad], 1, error);
			break;
		case PLERL_OUTBOX_UNREACHABLE:

			/*
			 * The node or the receiver is not there: the destination waits
			 * (the head's next_attempt), however long, and no attempt is
			 * counted: a node that is down never turns messages into dead
			 * letters (docs/outbox.md).
			 */
			{
				char	   *sql = psprintf("UPDATE plerl.outbox SET last_error = $2, "
										   "next_attempt = clock_timestamp() + interval '1 ms' * %d WHERE id = ANY($1)",
										   plerl_settings->outbox_retry_ms);

				exec_ids(sql, gr->ids, 1, error ? error : "unreachable");
			}
			break;
		default:
			{
				/*
				 * Only the head counts the attempt and waits: the rows behind
				 * it wait with it (the reader skips a destination whose
				 * earlier row waits), so order holds across retries. The
				 * next attempt sends the head alone, so a bad message is
				 * isolated and dead-lettered by itself.
				 */
				char	   *sql = psprintf("UPDATE plerl.outbox SET attempts = attempts + 1, last_error = $2, "
										   "dead = attempts + 1 >= %d, "
										   "next_attempt = CASE WHEN attempts + 1 >= %d THEN NULL ELSE clock_timestamp() + "
										   "least(interval '5 min', interval '1 ms' * %d * power(2, least(attempts, 20))) END "
										   "WHERE id = ANY($1)",
										   plerl_settings->outbox_max_attempts, plerl_settings->outbox_max_attempts,
										   plerl_settings->outbox_retry_ms);

				exec_ids(sql, gr->ids, 1, error ? error : "delivery failed");
			}
			break;
	}
}

/*
 * One round: returns true when there may be more work right away.
 */
static bool
outbox_round(void)
{
	int			batch = plerl_settings->outbox_batch;
	int			limit = batch * OUTBOX_READ_FACTOR;
	OutboxBatch	   *groups = NULL;
	int			ngroups = 0,
				capgroups = 0;
	uint64		nrows;
	bool		more = false;
	Oid			types[2] = {INT4OID, TIMESTAMPTZOID};
	Datum		values[2];
	PlerlOutboxGroup *cg;

	MemoryContextReset(round_cxt);
	/* Before the snapshot: a commit it misses wakes us again (src/plerl.c). */
	if (plerl_settings->outbox_woken)
		plerl_settings->outbox_woken();
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "plerl outbox: reading");

	if (!OidIsValid(plerl_queue_relid(true)))
	{
		/* The extension is not (yet) in this database: look again later. */
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		return false;
	}

	/*
	 * The live rows in id order (per destination, commit order: queue.c),
	 * except those behind a row of their destination that waits for its
	 * retry time.
	 *
	 * "Waits" is judged against one instant, $2, taken before the scan. Not
	 * clock_timestamp() in the query: that is volatile, evaluated row by
	 * row, so a scan that outlasts a head's next_attempt (thousands of rows
	 * pending, a short plerl.outbox_retry_delay, a loaded machine) left out
	 * the head, read early, and took the rows behind it, read later: they
	 * were delivered before the head (test/outbox/run, test 7).
	 */
	values[0] = Int32GetDatum(limit);
	values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
	if (SPI_execute_plan(keep_plan(&read_plan,
								   "SELECT o.id, o.server::text, o.dest, o.op, o.role, o.payload, o.attempts "
								   "FROM plerl.outbox o WHERE NOT o.dead AND NOT EXISTS ("
								   " SELECT FROM plerl.outbox h WHERE NOT h.dead AND h.next_attempt IS NOT NULL"
								   " AND h.server = o.server AND h.dest = o.dest AND h.id <= o.id"
								   " AND h.next_attempt > $2) "
								   "ORDER BY o.id LIMIT $1", 2, types),
						 values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "plerl outbox: cannot read plerl.outbox");
	nrows = SPI_processed;
	more = nrows == (uint64) limit;

	for (uint64 r = 0; r < nrows; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	td = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, td, 1, &isnull));
		char	   *server = SPI_getvalue(tup, td, 2);
		char	   *dest = SPI_getvalue(tup, td, 3);
		int			op = DatumGetInt32(SPI_getbinval(tup, td, 4, &isnull));
		Oid			role = DatumGetObjectId(SPI_getbinval(tup, td, 5, &isnull));
		bytea	   *payload;
		int			attempts = DatumGetInt32(SPI_getbinval(tup, td, 7, &isnull));
		OutboxBatch	   *gr = NULL;
		MemoryContext old;

		for (int i = 0; i < ngroups; i++)
			if (strcmp(groups[i].server, server) == 0 && strcmp(groups[i].dest, dest) == 0)
			{
				gr = &groups[i];
				break;
			}
		old = MemoryContextSwitchTo(round_cxt);
		if (gr == NULL)
		{
			if (ngroups == capgroups)
			{
				capgroups = Max(8, capgroups * 2);
				groups = groups ? repalloc(groups, sizeof(OutboxBatch) * capgroups) : palloc(sizeof(OutboxBatch) * capgroups);
			}
			gr = &groups[ngroups++];
			memset(gr, 0, sizeof(*gr));
			gr->server = pstrdup(server);
			gr->dest = pstrdup(dest);
			gr->role = role;
			gr->op = op;
			gr->head_attempts = attempts;
			/* after a failure, the head goes alone (mark_group) */
			gr->cap = attempts > 0 ? 1 : batch;
			gr->ids = palloc(sizeof(int64) * gr->cap);
			gr->payloads = palloc(sizeof(char *) * gr->cap);
			gr->lens = palloc(sizeof(int64) * gr->cap);
		}
		if (gr->closed || gr->role != role || gr->op != op || gr->g.n >= gr->cap)
		{
			/* later rows of this destination wait for the next round, in order */
			gr->closed = true;
			more = true;
			MemoryContextSwitchTo(old);
			continue;
		}
		payload = DatumGetByteaPCopy(SPI_getbinval(tup, td, 6, &isnull));
		gr->ids[gr->g.n] = id;
		gr->payloads[gr->g.n] = VARDATA(payload);
		gr->lens[gr->g.n] = VARSIZE(payload) - VARHDRSZ;
		gr->g.n++;
		MemoryContextSwitchTo(old);
	}
	if (ngroups == 0)
	{
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		return false;
	}

	/*
	 * Resolve each group as the role that enqueued it, now: a privilege,
	 * mapping or allow row removed since the enqueue stops the delivery
	 * (the rows become dead letters with the reason).
	 */
	for (int i = 0; i < ngroups; i++)
	{
		OutboxBatch *gr = &groups[i];
		PlerlErlTarget t;
		PlerlError	err;
		MemoryContext old = CurrentMemoryContext;
		ResourceOwner owner = CurrentResourceOwner;

		/*
		 * In a subtransaction of its own: a refusal is an ERROR, which must
		 * be rolled back properly before the round goes on (the guard
		 * stashes errors it cannot hand back as catchable).
		 */
		memset(&err, 0, sizeof(err));
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(old);
		PG_TRY();
		{
			if (plerl_erl_resolve_as_guarded(gr->role, gr->server, gr->dest, "!", 1, gr->op, &t, &err) != 0)
			{
				if (err.kind == PLERL_ERR_RETHROW)
					plerl_rethrow_stash();
				plerl_raise(&err);
			}
			MemoryContextSwitchTo(round_cxt);
			copy_target(&gr->g.target, &t);
			MemoryContextSwitchTo(old);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(old);
			CurrentResourceOwner = owner;
		}
		PG_CATCH();
		{
			ErrorData  *ed;

			MemoryContextSwitchTo(round_cxt);
			ed = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(old);
			CurrentResourceOwner = owner;
			plerl_stash_reset();
			gr->resolve_error = MemoryContextStrdup(round_cxt,
													psprintf("%s: %s", unpack_sql_state(ed->sqlerrcode), ed->message));
		}
		PG_END_TRY();
	}

	/* Hand the batches to Go: one cgo call, the deliveries run concurrently. */
	cg = MemoryContextAllocZero(round_cxt, sizeof(PlerlOutboxGroup) * ngroups);
	{
		int			n = 0;

		for (int i = 0; i < ngroups; i++)
		{
			OutboxBatch	   *gr = &groups[i];

			if (gr->resolve_error)
				continue;
			gr->g.dest = gr->dest;
			gr->g.ids = gr->ids;
			gr->g.payloads = (const char *const *) gr->payloads;
			gr->g.lens = gr->lens;
			gr->g.status = PLERL_OUTBOX_RETRY;
			cg[n++] = gr->g;
		}
		pgstat_report_activity(STATE_RUNNING, "plerl outbox: delivering");
		if (n > 0)
			plerlGoOutboxDeliver(cg, n);
		n = 0;
		for (int i = 0; i < ngroups; i++)
		{
			OutboxBatch	   *gr = &groups[i];

			if (gr->resolve_error)
				continue;
			gr->g.status = cg[n].status;
			gr->g.bad = cg[n].bad;
			if (cg[n].error)
			{
				gr->g.error = MemoryContextStrdup(round_cxt, cg[n].error);
				free(cg[n].error);
			}
			n++;
		}
	}

	pgstat_report_activity(STATE_RUNNING, "plerl outbox: marking");
	{
		int			nacked = 0,
					k = 0;
		int64	   *acked;

		for (int i = 0; i < ngroups; i++)
			if (!groups[i].resolve_error && groups[i].g.status == PLERL_OUTBOX_ACKED)
				nacked += groups[i].g.n;
		acked = MemoryContextAlloc(round_cxt, sizeof(int64) * Max(nacked, 1));
		for (int i = 0; i < ngroups; i++)
			if (!groups[i].resolve_error && groups[i].g.status == PLERL_OUTBOX_ACKED)
			{
				memcpy(&acked[k], groups[i].ids, sizeof(int64) * groups[i].g.n);
				k += groups[i].g.n;
			}
		delete_acked(acked, nacked);
		deleted_since_vacuum += nacked;
	}
	for (int i = 0; i < ngroups; i++)
	{
		mark_group(&groups[i]);
		if (groups[i].g.status != PLERL_OUTBOX_ACKED || groups[i].resolve_error)
			more = more || groups[i].g.status == PLERL_OUTBOX_DEAD_ONE;
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	return more;
}

/*
 * Vacuum plerl.outbox from the worker, at most every
 * plerl.outbox_vacuum_interval (0: never) and only after it deleted rows (docs/outbox.md, "Housekeeping"). Autovacuum
 * visits a database once per autovacuum_naptime (a minute by default),
 * whatever the table's thresholds: at thousands of messages a second the
 * dead rows of a minute make the table grow by tens of megabytes, and new
 * rows go to new pages because only vacuum records free space. Vacuumed
 * every second, the space of delivered rows is reused at once and the
 * table stays at the size of about a second's traffic. SKIP_LOCKED: an
 * autovacuum already on the table is left to it. No truncation (it takes
 * an ACCESS EXCLUSIVE lock and waits up to 5 s for enqueuers to let go);
 * autovacuum still truncates a table emptied after a backlog. Called
 * between rounds, outside any transaction, with no Go frame on the stack:
 * vacuum() commits and starts its own transactions.
 */
static void
outbox_vacuum(void)
{
	static TimestampTz last = 0;
	TimestampTz now = GetCurrentTimestamp();
	VacuumParams params;
	Oid			relid;
	MemoryContext old = CurrentMemoryContext;

	if (plerl_settings->outbox_vacuum_ms <= 0 || deleted_since_vacuum == 0 ||
		!TimestampDifferenceExceeds(last, now, plerl_settings->outbox_vacuum_ms))
		return;
	last = now;
	deleted_since_vacuum = 0;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	relid = plerl_queue_relid(true);
	if (!OidIsValid(relid))
	{
		CommitTransactionCommand();
		return;
	}
	pgstat_report_activity(STATE_RUNNING, "plerl outbox: vacuuming plerl.outbox");
	memset(&params, 0, sizeof(params));
	params.options = VACOPT_VACUUM | VACOPT_SKIP_LOCKED;
	params.freeze_min_age = -1;
	params.freeze_table_age = -1;
	params.multixact_freeze_min_age = -1;
	params.multixact_freeze_table_age = -1;
	params.is_wraparound = false;
	params.log_min_duration = -1;
	params.index_cleanup = VACOPTVALUE_UNSPECIFIED;
	params.truncate = VACOPTVALUE_DISABLED;
	params.nworkers = -1;
	/* vacuum() makes its context under PortalContext, which a worker lacks */
	if (PortalContext == NULL)
		PortalContext = AllocSetContextCreate(TopMemoryContext, "plerl outbox vacuum", ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(PortalContext);
	vacuum(list_make1(makeVacuumRelation(makeRangeVar("plerl", "outbox", -1), relid, NIL)),
		   &params, NULL, true);
	MemoryContextSwitchTo(old);
	CommitTransactionCommand();
	MemoryContextReset(PortalContext);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/* One worker per database: a session lock; a second one waits behind the first. */
static bool
outbox_singleton(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, 0, 0, PLERL_OUTBOX_LOCK + 1);
	return LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

void
plerl_outbox_worker(void)
{
	round_cxt = AllocSetContextCreate(TopMemoryContext, "plerl outbox round", ALLOCSET_DEFAULT_SIZES);
	StartTransactionCommand();
	if (!outbox_singleton())
	{
		/*
		 * Exit code 0 would unregister a worker for good. A dynamic one
		 * (plerl.outbox_start()) may go; a preloaded one exits with 1, so
		 * the postmaster starts it again in bgw_restart_time and it takes
		 * over once the other (which is not restarted after a server
		 * restart) is gone.
		 */
		bool		dynamic = (DatumGetInt32(MyBgworkerEntry->bgw_main_arg) & PLERL_OUTBOX_W_DYNAMIC) != 0;

		CommitTransactionCommand();
		ereport(LOG, (errmsg("plerl outbox: another worker delivers this database's outbox; exiting")));
		proc_exit(dynamic ? 0 : 1);
	}
	CommitTransactionCommand();
	ereport(LOG, (errmsg("plerl outbox worker started")));

	for (;;)
	{
		bool		more = false;
		MemoryContext loop_cxt = CurrentMemoryContext;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		PG_TRY();
		{
			more = outbox_round();
			outbox_vacuum();
		}
		PG_CATCH();
		{
			/* The round's transaction rolls back: every row stays as it was. */
			MemoryContextSwitchTo(loop_cxt);
			EmitErrorReport();
			FlushErrorState();
			AbortCurrentTransaction();
			plerl_stash_reset();
			more = false;
		}
		PG_END_TRY();
		MemoryContextSwitchTo(loop_cxt);
		if (!more)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 plerl_settings->outbox_sweep_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
}
