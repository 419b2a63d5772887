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
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "plerl_int.h"

static SPIPlanPtr insert_plan = NULL;

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
	Datum		values[5];
	bytea	   *bytes;
	int64		id = 0;
	bool		isnull;

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
	values[0] = CStringGetDatum(server);
	values[1] = CStringGetTextDatum(dest);
	values[2] = Int32GetDatum(op);
	values[3] = ObjectIdGetDatum(role);
	values[4] = PointerGetDatum(bytes);

	/*
	 * As the table's owner: callers may not read or write the queue (it
	 * holds other roles' messages). Restricted: nothing the owner could
	 * run on the caller's behalf (no SET ROLE, no temp objects).
	 */
	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "plerl: SPI_connect failed");
		if (insert_plan == NULL)
		{
			Oid			types[5] = {NAMEOID, TEXTOID, INT4OID, OIDOID, BYTEAOID};
			SPIPlanPtr	p = SPI_prepare("INSERT INTO plerl.outbox (server, dest, op, role, payload) "
										"VALUES ($1, $2, $3, $4, $5) RETURNING id", 5, types);

			if (p == NULL)
				elog(ERROR, "plerl: cannot prepare the outbox insert: %s", SPI_result_code_string(SPI_result));
			SPI_keepplan(p);
			insert_plan = p;
		}
		{
			char		namebuf[NAMEDATALEN];

			memset(namebuf, 0, sizeof(namebuf));
			strlcpy(namebuf, server, sizeof(namebuf));
			values[0] = PointerGetDatum(namebuf);
			/* count 0: with a limit the insert is not run to its end, and AFTER STATEMENT triggers (the wake-up) never fire */
			if (SPI_execute_plan(insert_plan, values, NULL, false, 0) != SPI_OK_INSERT_RETURNING ||
				SPI_processed != 1)
				elog(ERROR, "plerl: the outbox insert failed");
			id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
		SPI_finish();
		SetUserIdAndSecContext(save_user, save_sec);
	}
	PG_CATCH();
	{
		SetUserIdAndSecContext(save_user, save_sec);
		PG_RE_THROW();
	}
	PG_END_TRY();
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
