/*
 * allow.c: the allow-list (plerl.allow): what each role may call or send,
 * and which atoms such a request may carry, on each plerl server. Cached
 * per backend, read with a fresh snapshot, invalidated by the table's
 * trigger (a relcache invalidation) and taken in before every check.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "plerl_int.h"

/* ---- the allow-list cache ---- */

typedef struct AllowRow
{
	char	   *server;
	Oid			role;			/* InvalidOid: every role */
	char	   *module;
	char	   *function;		/* NULL: any */
	int			arity;			/* -1: any */
	char	  **atoms;			/* the atoms column: what requests may carry */
	int			natoms;
	bool		any_atom;		/* atoms contains '*' */
} AllowRow;

static MemoryContext allow_cxt = NULL;

static AllowRow *allow_rows = NULL;

static int	n_allow = 0;

static bool allow_valid = false;

static bool allow_callback_set = false;

static void
allow_invalidate(Datum arg, Oid relid)
{
	/* Cheap and conservative: any relcache flush may be ours. */
	allow_valid = false;
}

/* A dropped role in a row: matches nobody (InvalidOid means every role). */
#define ALLOW_ROLE_DROPPED ((Oid) (InvalidOid - 1))

static void
allow_scan(Oid relid)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Snapshot	snap;
	int			cap = 16;

	if (!allow_callback_set)
	{
		CacheRegisterRelcacheCallback(allow_invalidate, (Datum) 0);
		allow_callback_set = true;
	}
	if (allow_cxt == NULL)
		allow_cxt = AllocSetContextCreate(TopMemoryContext, "plerl allow-list",
										  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(allow_cxt);
	allow_rows = MemoryContextAlloc(allow_cxt, sizeof(AllowRow) * cap);
	n_allow = 0;
	/* Mark valid first: an invalidation during the scan marks it stale again. */
	allow_valid = true;

	/* Read directly, not through SQL: the caller has no privilege on it. */
	rel = table_open(relid, AccessShareLock);

	/*
	 * A fresh snapshot, never the statement's or the transaction's: under
	 * REPEATABLE READ those are as old as the transaction, so a row deleted
	 * since would be read again and the stale list marked valid for every
	 * later transaction of this backend. The latest snapshot sees what has
	 * committed and this transaction's own earlier commands (an admin's
	 * change applies inside the transaction that makes it).
	 */
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snap, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Datum		values[6];
		bool		nulls[6];
		AllowRow   *r;
		MemoryContext old;

		heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
		if (n_allow == cap)
		{
			cap *= 2;
			allow_rows = repalloc(allow_rows, sizeof(AllowRow) * cap);
		}
		r = &allow_rows[n_allow++];
		old = MemoryContextSwitchTo(allow_cxt);
		r->server = pstrdup(NameStr(*DatumGetName(values[0])));
		r->role = nulls[1] ? InvalidOid : get_role_oid(NameStr(*DatumGetName(values[1])), true);
		if (!nulls[1] && !OidIsValid(r->role))
			r->role = ALLOW_ROLE_DROPPED;
		r->module = TextDatumGetCString(values[2]);
		r->function = nulls[3] ? NULL : TextDatumGetCString(values[3]);
		r->arity = nulls[4] ? -1 : DatumGetInt32(values[4]);
		r->atoms = NULL;
		r->natoms = 0;
		r->any_atom = false;
		if (RelationGetDescr(rel)->natts >= 6 && !nulls[5])
		{
			Datum	   *elems;
			bool	   *enulls;
			int			n;

			deconstruct_array(DatumGetArrayTypeP(values[5]), TEXTOID, -1, false,
							  TYPALIGN_INT, &elems, &enulls, &n);
			r->atoms = palloc(sizeof(char *) * Max(n, 1));
			for (int i = 0; i < n; i++)
			{
				char	   *a;

				if (enulls[i])
					continue;
				a = TextDatumGetCString(elems[i]);
				if (strcmp(a, "*") == 0)
					r->any_atom = true;
				else
					r->atoms[r->natoms++] = a;
			}
		}
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
}

static void
allow_load(void)
{
	/*
	 * By OID, not by name: a name lookup checks USAGE on the schema plerl,
	 * which the roles being checked do not have.
	 */
	Oid			nsp = get_namespace_oid("plerl", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("allow", nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the allow-list table plerl.allow does not exist"),
				 errhint("It belongs to the extension plerl: recreate the extension.")));
	PG_TRY();
	{
		allow_scan(relid);
	}
	PG_CATCH();
	{
		/* A half-read list must not pass for the whole one. */
		allow_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/* Does row r name this role (directly, through membership, or as NULL)? */
static bool
allow_role_matches(AllowRow *r, Oid user)
{
	if (r->role == ALLOW_ROLE_DROPPED)
		return false;
	return !OidIsValid(r->role) || has_privs_of_role(user, r->role);
}

/*
 * Check that some row permits module:function/arity on server for the
 * current role, and tell out what the permitting rows allow (atoms, and
 * whether only NULL-function rows matched). Raises 42501 if none does.
 */
void
plerl_allow_check(const char *server, const char *module, const char *function, int arity,
			PlerlErlTarget *out)
{
	Oid			user = GetUserId();
	bool		permitted = false;
	int			cap = 0;

	/*
	 * Take in invalidations first: a transaction that already holds its lock
	 * on plerl.allow takes no new one, and would otherwise not see an
	 * admin's committed change (nor its invalidation) until it ends. Cheap
	 * when the queue is empty.
	 */
	AcceptInvalidationMessages();
	if (!allow_valid)
		allow_load();
	out->any_function = true;
	for (int i = 0; i < n_allow; i++)
	{
		AllowRow   *r = &allow_rows[i];

		if (strcmp(r->server, server) != 0 || strcmp(r->module, module) != 0)
			continue;
		if (r->function && strcmp(r->function, function) != 0)
			continue;
		if (r->arity >= 0 && r->arity != arity)
			continue;
		if (!allow_role_matches(r, user))
			continue;
		permitted = true;
		if (r->function)
			out->any_function = false;
		if (r->any_atom)
			out->any_atom = true;
		for (int j = 0; j < r->natoms; j++)
		{
			if (out->natoms == cap)
			{
				cap = Max(cap * 2, 8);
				out->atoms = out->atoms ? repalloc(out->atoms, sizeof(char *) * cap) :
					palloc(sizeof(char *) * cap);
			}
			out->atoms[out->natoms++] = pstrdup(r->atoms[j]);
		}
	}
	if (permitted)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("plerl.allow does not permit %s:%s/%d on server \"%s\" for role \"%s\"",
					module, function, arity, server, GetUserNameFromId(user, false)),
			 errhint("An administrator can add a row to plerl.allow (server, role, module, function, arity).")));
}
