/* plerl_types.h: per-function type information and Datum <-> PlerlValue. */
#ifndef PLERL_TYPES_H
#define PLERL_TYPES_H

#include "access/htup.h"
#include "fmgr.h"
#include "storage/itemptr.h"
#include "plerl.h"

typedef struct PlerlType
{
	Oid			oid;
	int32		typmod;
	int			kind;			/* PLT_* */
	bool		is_domain;
	bool		byval;
	int16		len;
	Oid			ioparam;
	FmgrInfo	in;
	FmgrInfo	out;
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
} PlerlProc;

extern void plerl_type_init(PlerlType *t, Oid oid, int32 typmod, bool result, MemoryContext mcxt);
extern void plerl_proc_init_result(PlerlProc *proc, HeapTuple tup, MemoryContext mcxt);
extern void plerl_datum_to_value(PlerlType *t, Datum d, bool isnull, PlerlValue *v);
extern void plerl_args_from_fcinfo(PlerlProc *proc, FunctionCallInfo fcinfo, PlerlValue *args);
extern Datum plerl_value_to_datum(PlerlType *t, PlerlValue *v, bool *isnull);
extern void plerl_value_free(PlerlValue *v);
extern int32_t plerl_call_flags(PlerlProc *proc, FunctionCallInfo fcinfo);

/* Paths not in the foundation yet (pl_more.c). */
extern Datum plerl_trigger_call(FunctionCallInfo fcinfo, bool trusted);
extern Datum plerl_event_trigger_call(FunctionCallInfo fcinfo, bool trusted);
extern Datum plerl_srf_call(FunctionCallInfo fcinfo, PlerlProc *proc);

extern const struct PlerlSettings *plerl_settings;
extern int	plerl_call_depth;

#endif
