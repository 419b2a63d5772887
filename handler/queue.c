/*
 * queue.c: writing a message into the durable outbox (plerl.outbox), in
 * the caller's transaction, after the caller's checks passed (erlang.c for
 * SQL, Lua's guard for erlang.cast/send {durable = true}). Nothing here
 * talks to Erlang: the worker (outbox.c) delivers.
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "access/tableam.h"
#include "utils/timestamp.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "plerl_int.h"

/* plerl.outbox's columns, in the order of plerl--1.0.sql (checked at each insert) */
#define OUTBOX_NATTS 11
static const char *const outbox_cols[OUTBOX_NATTS] = {
	"id", "server", "dest", "op", "role", "payload", "enqueued_at",
	"attempts", "next_attempt", "last_error", "dead"
};

/*
 * The row, written as an INSERT would write it but without the executor
 * (no plan, no executor start and end per row): the heap tuple with the
 * column defaults of plerl--1.0.sql (id from the table's sequence,
 * enqueued_at now(), attempts 0, dead false, the rest NULL), then the
 * entries of every index (the unique check of the primary key and the
 * predicates of the partial indexes included: ExecInsertIndexTuples). The
 * heap and index inserts are WAL-logged in this transaction, as an
 * INSERT's. No row triggers exist on the table (the statement trigger
 * only wakes the worker, which plerl_queue_insert arms itself).
 */
static int64
queue_insert_row(Oid relid, const char *server, const char *dest, int op, Oid role, bytea *payload)
{
	Relation	rel = table_open(relid, RowExclusiveLock);
	TupleDesc	td = RelationGetDescr(rel);
	Datum		values[OUTBOX_NATTS];
	bool		nulls[OUTBOX_NATTS];
	NameData	sname;
	Oid			seqid;
	int64		id;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	HeapTuple	tup;

	if (td->natts != OUTBOX_NATTS)
		elog(ERROR, "plerl: plerl.outbox has %d columns, expected %d: update the extension", td->natts, OUTBOX_NATTS);
	for (int i = 0; i < OUTBOX_NATTS; i++)
		if (TupleDescAttr(td, i)->attisdropped || strcmp(NameStr(TupleDescAttr(td, i)->attname), outbox_cols[i]) != 0)
			elog(ERROR, "plerl: plerl.outbox's column %d is not %s: update the extension", i + 1, outbox_cols[i]);
	seqid = get_relname_relid("outbox_id_seq", RelationGetNamespace(rel));
	if (!OidIsValid(seqid))
		elog(ERROR, "plerl: the sequence plerl.outbox_id_seq does not exist");
	/* as the table's owner (the caller switched): its sequence, no check needed */
	id = nextval_internal(seqid, false);

	namestrcpy(&sname, server);
	memset(nulls, false, sizeof(nulls));
	values[0] = Int64GetDatum(id);
	values[1] = NameGetDatum(&sname);
	values[2] = CStringGetTextDatum(dest);
	values[3] = Int32GetDatum(op);
	values[4] = ObjectIdGetDatum(role);
	values[5] = PointerGetDatum(payload);
	values[6] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());	/* now() */
	values[7] = Int32GetDatum(0);
	nulls[8] = true;
	nulls[9] = true;
	values[10] = BoolGetDatum(false);
	tup = heap_form_tuple(td, values, nulls);

	estate = CreateExecutorState();
	estate->es_output_cid = GetCurrentCommandId(true);
	rri = makeNode(ResultRelInfo);
	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);
	slot = MakeSingleTupleTableSlot(td, &TTSOpsHeapTuple);
	ExecStoreHeapTuple(tup, slot, false);
	simple_table_tuple_insert(rel, slot);
	if (rri->ri_NumIndices > 0)
		list_free(ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL));
	ExecDropSingleTupleTableSlot(slot);
	ExecCloseIndices(rri);
	FreeExecutorState(estate);
	table_close(rel, NoLock);
	return id;
}

Oid
plerl_queue_relid(bool missing_ok)
{
	/* By OID, not by name: the calling role has no USAGE on the schema plerl. */
	Oid			nsp = get_namespace_oid("plerl", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("outbox", nsp) : InvalidOid;

	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the outbox table plerl.outbox does not exist"),
				 errhint("It belongs to the extension plerl: update or recreate the extension.")));
	return relid;
}

/*
 * Enqueue: the size bound, the destination's lock, the row. Raises.
 *
 * The lock (a transaction-scoped advisory lock on the destination, in a
 * key space of plerl's own, field4 PLERL_OUTBOX_LOCK) makes transactions
 * that write to one destination commit in the order of their ids: the
 * second waits here, before taking its id, until the first has committed
 * (and become visible: locks are released after that) or rolled back. So
 * the worker, reading in id order, sees every destination's messages in
 * commit order and never skips one (docs/outbox.md, "Order"). Other
 * destinations are not held up.
 */
int64
plerl_queue_insert(const char *server, const char *dest, int op, Oid role,
				   const char *payload, int64 len)
{
	Oid			relid = plerl_queue_relid(false);
	Relation	rel;
	BlockNumber nblocks;
	Oid			owner;
	Oid			save_user;
	int			save_sec;
	LOCKTAG		tag;
	uint64		h;
	char	   *key;
	bytea	   *bytes;
	int64		id = 0;

	rel = table_open(relid, RowExclusiveLock);
	nblocks = RelationGetNumberOfBlocks(rel);
	owner = rel->rd_rel->relowner;
	table_close(rel, NoLock);
	if ((uint64) nblocks * BLCKSZ > (uint64) plerl_settings->outbox_max_size_mb * 1024 * 1024)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("the plerl outbox is full (%llu MB, plerl.outbox_max_size is %d MB)",
						(unsigned long long) ((uint64) nblocks * BLCKSZ / (1024 * 1024)),
						plerl_settings->outbox_max_size_mb),
				 errhint("Look at plerl.outbox_status: a destination is down or its messages are dead. Nothing was enqueued.")));

	key = psprintf("%s%c%s", server, '\0', dest);
	h = DatumGetUInt64(hash_any_extended((const unsigned char *) key,
										 strlen(server) + 1 + strlen(dest), 0));
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h, PLERL_OUTBOX_LOCK);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	bytes = palloc(VARHDRSZ + len);
	SET_VARSIZE(bytes, VARHDRSZ + len);
	memcpy(VARDATA(bytes), payload, len);

	/*
	 * As the table's owner: callers may not read or write the queue (it
	 * holds other roles' messages). Restricted: nothing the owner could
	 * run on the caller's behalf (no SET ROLE, no temp objects).
	 */
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		id = queue_insert_row(relid, server, dest, op, role, bytes);
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_CATCH();
	{
		SetUserIdAndSecContext(save_user, save_sec);
		PG_RE_THROW();
	}
	PG_END_TRY();
	/* wake the worker when this transaction commits (src/plerl.c) */
	if (plerl_settings->outbox_arm)
		plerl_settings->outbox_arm();
	return id;
}

/* The guard Lua's erlang.cast/send {durable = true} calls (after its checks). */
int
plerl_queue_insert_guarded(uint32_t role, const char *server, const char *dest, int op,
						   const char *payload, int64_t len, int64_t *id, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	PG_TRY();
	{
		*id = plerl_queue_insert(server, dest, op, (Oid) role, payload, len);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}
