/*
 * plerl_types.h: type information (PlerlType) and Datum <-> PlerlValue for
 * any type: scalars, domains, arrays of any dimension, composites and
 * records (nested), json/jsonb, and everything else through text I/O.
 *
 * How to convert values of a type Oid (SPI columns and parameters, trigger
 * rows, set-returning rows):
 *
 *   PlerlType t;
 *   plerl_type_init(&t, oid, typmod, false, mcxt);    once, in a context
 *                                                     that outlives the uses
 *   C -> Go:  plerl_datum_to_value(&t, d, isnull, &v);   v is palloc'd in
 *             CurrentMemoryContext (trees too); Go's valueToLua reads it.
 *   Go -> C:  plerl_type_prepare(&t); then give Go &t.info (a
 *             const PlerlTypeInfo *): luaToType(s, lv, info, &v) fills v;
 *             back in C, d = plerl_value_to_datum(&t, &v, &isnull) consumes
 *             v (frees Go's block, also on error) and checks domains.
 *
 * Whole rows of a tuple descriptor: plerl_type_init_tupdesc(&t, tupdesc,
 * mcxt), then plerl_tuple_to_value(&t, tuple, &v) (a PLV_RECORD with field
 * names) and plerl_value_to_tuple(&t, &v) (a HeapTuple; Go fills a
 * PLV_RECORD following t.info, or a string in record syntax).
 *
 * Memory: everything a PlerlType needs later (nested element and field
 * converters, row descriptors seen, domain_check's cache) lives in the mcxt
 * given to plerl_type_init.
 */
#ifndef PLERL_TYPES_H
#define PLERL_TYPES_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "storage/itemptr.h"
#include "plerl.h"

struct PlerlRecDesc;			/* a row type as seen once (types.c) */

typedef struct PlerlType
{
	PlerlTypeInfo info;			/* what Go sees (kept current by plerl_type_prepare) */
	Oid			oid;			/* the type, a domain if it is one */
	int32		typmod;
	int			kind;			/* PLT_* of the base type (PLT_POLY: resolved per call) */
	bool		is_domain;
	bool		byval;
	int16		len;
	char		align;
	Oid			base;			/* the type below any domains */
	Oid			ioparam;
	FmgrInfo	in;
	FmgrInfo	out;
	MemoryContext mcxt;			/* where nested converters and caches live */
	void	   *domain_extra;	/* domain_check's cache */
	struct PlerlType *elem;		/* PLT_ARRAY: element type */
	struct PlerlRecDesc *rec;	/* PLT_RECORD: current row type (NULL until known) */
	struct PlerlRecDesc *recs;	/* PLT_RECORD: row types seen, most recent first */
	bool		rec_fixed;		/* PLT_RECORD: rec came from plerl_type_init_tupdesc */
	bool		iso_out;		/* PLT_OTHER date/time types: output in ISO style */
} PlerlType;

typedef struct PlerlProc
{
	Oid			fn_oid;
	TransactionId fn_xmin;
	ItemPointerData fn_tid;
	int64_t		fn_id;			/* Go's handle of the compiled chunk */
	bool		trusted;
	bool		retset;
	bool		readonly;		/* STABLE or IMMUTABLE */
	char	   *name;
	int			nargs;
	PlerlType  *args;
	PlerlType	ret;
	MemoryContext mcxt;
	/* Set by plerl_proc_init_result (types.c): */
	bool		poly_args;		/* an argument is polymorphic: types per call */
	bool		ret_dynamic;	/* result resolved per call (polymorphic, RECORD) */
	int64_t		types_id;		/* unique per build, for per-call-site caches */
	void	   *callsets;		/* types.c: resolved type sets seen */
} PlerlProc;

/*
 * Converters for values of type oid (any type; domains keep their base
 * type's kind and are checked on the way in). result only changes error
 * messages. Pseudo-types: void is PLT_VOID, record is PLT_RECORD (row type
 * resolved per value; for results see plerl_result_type), polymorphic
 * types are PLT_POLY (plerl_args_from_fcinfo resolves them), others go
 * through their text I/O.
 */
extern void plerl_type_init(PlerlType *t, Oid oid, int32 typmod, bool result, MemoryContext mcxt);

/* A row of tupdesc (copied into mcxt). Bless tupdesc first if rows become Datums. */
extern void plerl_type_init_tupdesc(PlerlType *t, TupleDesc tupdesc, MemoryContext mcxt);

/*
 * Before handing &t->info to Go for a result: brings row types up to date
 * (ALTER TYPE between calls), recursively. Raises for an anonymous record
 * type nothing describes.
 */
extern void plerl_type_prepare(PlerlType *t);

/* The result type and per-argument checks of a function (at build). */
extern void plerl_proc_init_result(PlerlProc *proc, HeapTuple tup, MemoryContext mcxt);

/*
 * The types of one call of a function (not set-returning): proc->args and
 * &proc->ret unless polymorphic or RECORD, else resolved for the call site
 * (cached in flinfo->fn_extra, which types.c owns for non-SRF calls) and
 * prepared. Use the returned result type for call.ret_type (&t->info) and
 * plerl_value_to_datum.
 */
extern PlerlType *plerl_result_type(PlerlProc *proc, FunctionCallInfo fcinfo);
extern void plerl_args_from_fcinfo(PlerlProc *proc, FunctionCallInfo fcinfo, PlerlValue *args);

/* C -> Go. v (and any tree below) is palloc'd in CurrentMemoryContext. */
extern void plerl_datum_to_value(PlerlType *t, Datum d, bool isnull, PlerlValue *v);
extern void plerl_tuple_to_value(PlerlType *t, HeapTuple tuple, PlerlValue *v);

/* Go -> C. Both consume v (free Go's block), also when they raise. */
extern Datum plerl_value_to_datum(PlerlType *t, PlerlValue *v, bool *isnull);
extern HeapTuple plerl_value_to_tuple(PlerlType *t, PlerlValue *v);

/*
 * Frees the one malloc'd block of a value Go made. Never call it on a value
 * C made (those are palloc'd and go with their memory context).
 */
extern void plerl_value_free(PlerlValue *v);

extern int32_t plerl_call_flags(PlerlProc *proc, FunctionCallInfo fcinfo);

/* Triggers (trigger.c) and set-returning functions (srf.c). */
extern Datum plerl_trigger_call(FunctionCallInfo fcinfo, bool trusted);
extern Datum plerl_event_trigger_call(FunctionCallInfo fcinfo, bool trusted);
extern Datum plerl_srf_call(FunctionCallInfo fcinfo, PlerlProc *proc);

extern const struct PlerlSettings *plerl_settings;
extern int	plerl_call_depth;

#endif
