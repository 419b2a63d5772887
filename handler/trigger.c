/*
 * trigger.c: the trigger and event-trigger entry paths. C builds the
 * trigger object's fields and rows, makes the one cgo call, and turns Go's
 * answer (keep, skip, or a modified row) into the trigger's result.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/event_trigger.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "plerl_int.h"
#include "_cgo_export.h"

/*
 * Column converters per relation, so a trigger firing for every row of a
 * big INSERT does not look its column types up again for each row. An
 * entry is rebuilt when the relcache says the relation changed.
 */
typedef struct TrigRel
{
	Oid			relid;			/* hash key */
	bool		valid;
	TupleDesc	tupdesc;		/* the relcache's descriptor it was built from */
	MemoryContext cxt;
	PlerlRowDesc desc;
	char	   *schema;			/* namespace name */
} TrigRel;

static HTAB *trig_rels = NULL;

static void trig_relcache_cb(Datum arg, Oid relid);

/* A schema renamed: every cached namespace name may be stale. */
static void
trig_namespace_cb(Datum arg, int cacheid, uint32 hashvalue)
{
	trig_relcache_cb(arg, InvalidOid);
}

static void
trig_relcache_cb(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	TrigRel    *e;

	if (trig_rels == NULL)
		return;
	if (OidIsValid(relid))
	{
		e = hash_search(trig_rels, &relid, HASH_FIND, NULL);
		if (e)
			e->valid = false;
		return;
	}
	hash_seq_init(&seq, trig_rels);
	while ((e = hash_seq_search(&seq)) != NULL)
		e->valid = false;
}

static TrigRel *
trig_rel(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	TupleDesc	td = RelationGetDescr(rel);
	TrigRel    *e;
	bool		found;

	if (trig_rels == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TrigRel);
		trig_rels = hash_create("plerl trigger relations", 16, &ctl, HASH_ELEM | HASH_BLOBS);
		CacheRegisterRelcacheCallback(trig_relcache_cb, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, trig_namespace_cb, (Datum) 0);
	}
	e = hash_search(trig_rels, &relid, HASH_ENTER, &found);
	if (!found)
	{
		e->cxt = NULL;
		e->valid = false;
	}
	if (e->valid && e->tupdesc == td && e->desc.ncols == td->natts)
	{
		e->desc.tupdesc = td;
		return e;
	}
	if (e->cxt == NULL)
		e->cxt = AllocSetContextCreate(TopMemoryContext, "plerl trigger relation",
									   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(e->cxt);
	e->valid = false;
	plerl_rowdesc_init(&e->desc, td, e->cxt);
	e->schema = MemoryContextStrdup(e->cxt, get_namespace_name(RelationGetNamespace(rel)));
	e->tupdesc = td;
	e->valid = true;
	return e;
}

static void
free_result(PlerlTrigger *tg, int ncols)
{
	if (tg->result == NULL)
		return;
	for (int i = 0; i < ncols; i++)
		plerl_value_free(&tg->result[i]);
}

Datum
plerl_trigger_call(FunctionCallInfo fcinfo, bool trusted)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	TriggerEvent ev = td->tg_event;
	Relation	rel = td->tg_relation;
	bool		for_row = TRIGGER_FIRED_FOR_ROW(ev);
	PlerlProc  *proc = plerl_proc_get(fcinfo->flinfo->fn_oid, trusted);
	TrigRel    *tr = trig_rel(rel);
	PlerlRowDesc *d = NULL;
	HeapTuple	base = NULL;
	HeapTuple	result;
	PlerlTrigger tg;
	PlerlCall	call;
	PlerlFrame	frame;

	memset(&tg, 0, sizeof(tg));
	tg.name = td->tg_trigger->tgname;
	tg.table_name = RelationGetRelationName(rel);
	tg.table_schema = tr->schema;
	tg.relid = RelationGetRelid(rel);
	tg.when = TRIGGER_FIRED_BEFORE(ev) ? "BEFORE" :
		TRIGGER_FIRED_AFTER(ev) ? "AFTER" : "INSTEAD OF";
	tg.level = for_row ? "ROW" : "STATEMENT";
	if (TRIGGER_FIRED_BY_INSERT(ev))
		tg.op = "INSERT";
	else if (TRIGGER_FIRED_BY_UPDATE(ev))
		tg.op = "UPDATE";
	else if (TRIGGER_FIRED_BY_DELETE(ev))
		tg.op = "DELETE";
	else
		tg.op = "TRUNCATE";
	tg.nargs = td->tg_trigger->tgnargs;
	tg.args = (const char **) td->tg_trigger->tgargs;

	if (for_row)
	{
		d = &tr->desc;
		if (TRIGGER_FIRED_BY_INSERT(ev))
		{
			plerl_rows_fill(d, &tg.new_row, &td->tg_trigtuple, 1);
			base = td->tg_trigtuple;
		}
		else if (TRIGGER_FIRED_BY_UPDATE(ev))
		{
			plerl_rows_fill(d, &tg.old_row, &td->tg_trigtuple, 1);
			plerl_rows_fill(d, &tg.new_row, &td->tg_newtuple, 1);
			base = td->tg_newtuple;
		}
		else
		{
			plerl_rows_fill(d, &tg.old_row, &td->tg_trigtuple, 1);
			base = td->tg_trigtuple;
		}
		/* Both rows describe the same columns, even when one is absent. */
		if (tg.old_row.nrows == 0)
			plerl_rows_fill(d, &tg.old_row, NULL, 0);
		if (tg.new_row.nrows == 0)
			plerl_rows_fill(d, &tg.new_row, NULL, 0);
		tg.returns_row = !TRIGGER_FIRED_AFTER(ev);
		if (tg.returns_row && !TRIGGER_FIRED_BY_DELETE(ev))
		{
			plerl_rowdesc_prepare(d);
			tg.result = palloc0(sizeof(PlerlValue) * Max(d->ncols, 1));
			tg.replace = palloc0(Max(d->ncols, 1));
		}
	}
	else
	{
		/* No rows, but the column names (trigger.relation.attributes). */
		plerl_rows_fill(&tr->desc, &tg.new_row, NULL, 0);
	}

	memset(&call, 0, sizeof(call));
	call.fn_id = proc->fn_id;
	call.user_id = trusted ? GetUserId() : 0;
	call.flags = plerl_call_flags(proc, NULL) | PLERL_TRIGGER;
	call.ret_kind = PLT_VOID;

	plerl_proc_use(proc);
	plerl_enter(&frame, call.flags, td, proc->name);
	plerlGoTrigger(&call, &tg);
	plerl_leave(&frame);
	if (call.err.kind != PLERL_OK || tg.action != PLERL_TRIG_MODIFY)
		free_result(&tg, d ? d->ncols : 0);
	plerl_finish(&frame, &call.err);

	if (!for_row || TRIGGER_FIRED_AFTER(ev) || tg.action == PLERL_TRIG_SKIP)
		result = NULL;
	else if (tg.action == PLERL_TRIG_MODIFY && tg.result != NULL)
	{
		int			n = d->ncols;
		Datum	   *datums = palloc0(sizeof(Datum) * n);
		bool	   *nulls = palloc0(sizeof(bool) * n);
		bool	   *repl = palloc0(sizeof(bool) * n);

		for (int i = 0; i < n; i++)
			repl[i] = tg.replace[i] != 0;
		plerl_values_to_datums(d, tg.result, tg.replace, datums, nulls);
		result = heap_modify_tuple(base, d->tupdesc, datums, nulls, repl);
	}
	else
		result = base;
	plerl_done(&frame);
	plerl_proc_unuse(proc);
	return PointerGetDatum(result);
}

Datum
plerl_event_trigger_call(FunctionCallInfo fcinfo, bool trusted)
{
	EventTriggerData *ed = (EventTriggerData *) fcinfo->context;
	PlerlProc  *proc = plerl_proc_get(fcinfo->flinfo->fn_oid, trusted);
	PlerlTrigger tg;
	PlerlCall	call;
	PlerlFrame	frame;

	memset(&tg, 0, sizeof(tg));
	tg.is_event = 1;
	tg.event = ed->event;
	tg.tag = GetCommandTagName(ed->tag);

	memset(&call, 0, sizeof(call));
	call.fn_id = proc->fn_id;
	call.user_id = trusted ? GetUserId() : 0;
	call.flags = plerl_call_flags(proc, NULL) | PLERL_EVENT_TRIGGER;
	call.ret_kind = PLT_VOID;

	plerl_proc_use(proc);
	plerl_enter(&frame, call.flags, NULL, proc->name);
	plerlGoTrigger(&call, &tg);
	plerl_leave(&frame);
	plerl_finish(&frame, &call.err);
	plerl_done(&frame);
	plerl_proc_unuse(proc);
	return (Datum) 0;
}
