/*
 * typeio.c: converters between Datums and PlerlValues for every type,
 * chosen once per type (plerl_type_init) and applied per value. Called
 * only from C paths, never from Go, so they may raise.
 *
 * Trees: arrays become PlerlArray (dims, lower bounds, row-major elements)
 * and rows PlerlRecord (live fields with their names), recursively. A row
 * type is looked up per value by its typcache identifier, so ALTER TYPE
 * and anonymous records (one descriptor per typmod) just work; the
 * descriptors seen stay cached in the type's memory context.
 *
 * Also the rows of a tuple descriptor (PlerlRowDesc: SPI results and
 * parameters, trigger rows): names, kinds and converters once per
 * descriptor, values per tuple. Rows are converted here and nowhere else.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"


#include "plerl_int.h"

/* A row type as seen once: its descriptor and its live fields' converters. */
typedef struct PlerlRecDesc
{
	struct PlerlRecDesc *next;
	uint64		ident;			/* typcache identifier (0: a fixed descriptor) */
	TupleDesc	tupdesc;		/* a copy, dropped columns included */
	int			nfields;		/* live (not dropped) attributes */
	int		   *attnum;			/* field -> attribute index */
	const char **names;
	PlerlType  *fields;
	const PlerlTypeInfo **infos;
	int32		handle;			/* the row type's registry handle (0: not looked up, -1: none) */
} PlerlRecDesc;

/* Types resolved for the calls of a polymorphic or RECORD function. */
typedef struct PlerlCallSet
{
	struct PlerlCallSet *next;
	int			nargs;			/* this call's (VARIADIC "any": as passed) */
	Oid		   *argtypes;		/* actual types of polymorphic args, else InvalidOid */
	Oid			rettype;		/* resolved result type (RECORDOID for a row) */
	int32		rettypmod;		/* RECORDOID: the blessed typmod */
	PlerlType  *args;
	PlerlType	ret;
} PlerlCallSet;

/* What a call site keeps in flinfo->fn_extra (non-SRF calls). */
typedef struct PlerlCallSite
{
	PlerlProc  *proc;
	int64_t		types_id;
	PlerlCallSet *set;
} PlerlCallSite;

static int64_t next_types_id = 0;

static Datum value_to_datum(PlerlType *t, PlerlValue *v, bool *isnull);

/* ---------- type set-up ---------- */

void
plerl_type_init(PlerlType *t, Oid oid, int32 typmod, bool result, MemoryContext mcxt)
{
	int32		base_typmod = typmod;
	Oid			base;
	Oid			infn,
				outfn,
				elem;
	bool		isvarlena;

	memset(t, 0, sizeof(*t));
	t->oid = oid;
	t->typmod = typmod;
	t->mcxt = mcxt;
	if (IsPolymorphicType(oid) || oid == ANYOID)
	{
		/* "any" too: each call says what it passes (get_fn_expr_argtype). */
		t->kind = PLT_POLY;
		t->info.kind = PLT_OTHER;
		return;
	}
	base = getBaseTypeAndTypmod(oid, &base_typmod);
	t->base = base;
	t->is_domain = base != oid;
	t->info.name = MemoryContextStrdup(mcxt, format_type_be(oid));
	get_typlenbyvalalign(oid, &t->len, &t->byval, &t->align);

	switch (base)
	{
		case VOIDOID:
			t->kind = PLT_VOID;
			break;
		case BOOLOID:
			t->kind = PLT_BOOL;
			break;
		case INT2OID:
			t->kind = PLT_INT2;
			break;
		case INT4OID:
			t->kind = PLT_INT4;
			break;
		case INT8OID:
			t->kind = PLT_INT8;
			break;
		case FLOAT4OID:
			t->kind = PLT_FLOAT4;
			break;
		case FLOAT8OID:
			t->kind = PLT_FLOAT8;
			break;
		case NUMERICOID:
			t->kind = PLT_NUMERIC;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			t->kind = PLT_TEXT;
			break;
		case BYTEAOID:
			t->kind = PLT_BYTEA;
			break;
		case JSONOID:
			t->kind = PLT_JSON;
			break;
		case JSONBOID:
			t->kind = PLT_JSONB;
			break;
		case RECORDOID:
			t->kind = PLT_RECORD;
			break;
		case INT2VECTOROID:
		case OIDVECTOROID:
			/* Arrays in storage, but with their own I/O rules: text. */
			t->kind = PLT_OTHER;
			break;
		default:
			if (get_typtype(base) == TYPTYPE_COMPOSITE)
				t->kind = PLT_RECORD;
			else if ((elem = get_element_type(base)) != InvalidOid && t->len == -1)
			{
				t->kind = PLT_ARRAY;
				t->elem = MemoryContextAllocZero(mcxt, sizeof(PlerlType));
				/* An array's typmod applies to its elements (varchar(10)[]). */
				plerl_type_init(t->elem, elem, base_typmod, result, mcxt);
				t->info.elem = &t->elem->info;
			}
			else
				t->kind = PLT_OTHER;
			break;
	}
	switch (base)
	{
		case DATEOID:
			t->dt = PLV_DATE;
			break;
		case TIMEOID:
			t->dt = PLV_TIME;
			break;
		case TIMESTAMPOID:
			t->dt = PLV_TIMESTAMP;
			break;
		case TIMESTAMPTZOID:
			t->dt = PLV_TIMESTAMPTZ;
			break;
		case INTERVALOID:
			t->dt = PLV_INTERVAL;
			break;
	}
	switch (base)
	{
		case DATEOID:
		case TIMEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
		case INTERVALOID:
			t->iso_out = true;
			break;
		case TIMETZOID:
			t->iso_out = true;
			if (t->kind == PLT_OTHER)
				t->text_kind = PLV_TIMETZ;
			break;
		default:
			/* Ranges of dates too (ranges print their bounds' output). */
			if (t->kind == PLT_OTHER &&
				(get_typtype(base) == TYPTYPE_RANGE || get_typtype(base) == TYPTYPE_MULTIRANGE))
			{
				t->iso_out = true;
				if (get_typtype(base) == TYPTYPE_RANGE)
					t->text_kind = PLV_RANGE;
			}
			break;
	}
	t->info.kind = t->kind;
	getTypeInputInfo(oid, &infn, &t->ioparam);
	fmgr_info_cxt(infn, &t->in, mcxt);
	getTypeOutputInfo(oid, &outfn, &isvarlena);
	fmgr_info_cxt(outfn, &t->out, mcxt);
}

/* Make rd the current row type of t (what Go sees in t->info). */
static void
rec_use(PlerlType *t, PlerlRecDesc *rd)
{
	t->rec = rd;
	t->info.nfields = rd->nfields;
	t->info.names = rd->names;
	t->info.fields = rd->infos;
}

/* Converters for the live fields of tupdesc (copied into t->mcxt). */
static PlerlRecDesc *
rec_build(PlerlType *t, TupleDesc tupdesc, uint64 ident)
{
	MemoryContext old = MemoryContextSwitchTo(t->mcxt);
	PlerlRecDesc *rd = palloc0(sizeof(PlerlRecDesc));
	int			n = tupdesc->natts;
	int			k = 0;

	rd->ident = ident;
	rd->tupdesc = CreateTupleDescCopy(tupdesc);
	rd->attnum = palloc0(sizeof(int) * Max(n, 1));
	rd->names = palloc0(sizeof(char *) * Max(n, 1));
	rd->fields = palloc0(sizeof(PlerlType) * Max(n, 1));
	rd->infos = palloc0(sizeof(PlerlTypeInfo *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
			continue;
		rd->attnum[k] = i;
		rd->names[k] = pstrdup(NameStr(att->attname));
		plerl_type_init(&rd->fields[k], att->atttypid, att->atttypmod, false, t->mcxt);
		if (rd->fields[k].kind == PLT_POLY)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("row field \"%s\" has an unresolved polymorphic type", rd->names[k])));
		rd->infos[k] = &rd->fields[k].info;
		k++;
	}
	rd->nfields = k;
	MemoryContextSwitchTo(old);
	return rd;
}

/*
 * The row type of a value of type (typid, typmod): the one cached under its
 * typcache identifier, or a new one. Identifiers change when a named type
 * is altered and differ between anonymous record types.
 */
static PlerlRecDesc *
rec_for(PlerlType *t, Oid typid, int32 typmod)
{
	uint64		ident;
	PlerlRecDesc *rd;
	TupleDesc	td;

	if (t->rec_fixed)
		return t->rec;
	ident = assign_record_type_identifier(typid, typmod);
	if (t->rec != NULL && t->rec->ident == ident)
		return t->rec;
	for (rd = t->recs; rd != NULL; rd = rd->next)
		if (rd->ident == ident)
			break;
	if (rd == NULL)
	{
		td = lookup_rowtype_tupdesc(typid, typmod);
		PG_TRY();
		{
			rd = rec_build(t, td, ident);
		}
		PG_FINALLY();
		{
			ReleaseTupleDesc(td);
		}
		PG_END_TRY();
		rd->next = t->recs;
		t->recs = rd;
	}
	rec_use(t, rd);
	return rd;
}

void
plerl_type_init_tupdesc(PlerlType *t, TupleDesc tupdesc, MemoryContext mcxt)
{
	Oid			infn;

	memset(t, 0, sizeof(*t));
	t->oid = tupdesc->tdtypeid;
	t->typmod = tupdesc->tdtypmod;
	t->base = t->oid;
	t->kind = PLT_RECORD;
	t->info.kind = PLT_RECORD;
	t->mcxt = mcxt;
	t->len = -1;
	t->align = TYPALIGN_DOUBLE;
	t->info.name = MemoryContextStrdup(mcxt, format_type_be(t->oid));
	getTypeInputInfo(t->oid, &infn, &t->ioparam);
	fmgr_info_cxt(infn, &t->in, mcxt);
	rec_use(t, rec_build(t, tupdesc, 0));
	t->rec_fixed = true;
}

void
plerl_type_prepare(PlerlType *t)
{
	switch (t->kind)
	{
		case PLT_ARRAY:
			plerl_type_prepare(t->elem);
			break;
		case PLT_RECORD:
			if (!t->rec_fixed)
			{
				if (t->base != RECORDOID)
					rec_for(t, t->base, -1);
				else if (t->typmod >= 0)
					rec_for(t, RECORDOID, t->typmod);
				else if (t->rec == NULL)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("plerl cannot return a value of type %s here: its row type is not known",
									t->info.name ? t->info.name : "record"),
							 errhint("Use a named composite type.")));
			}
			for (int i = 0; i < t->rec->nfields; i++)
				plerl_type_prepare(&t->rec->fields[i]);
			break;
		default:
			break;
	}
}

/* ---------- functions: argument and result types ---------- */

static void
check_declared_type(Oid oid, bool result)
{
	/* cstring is a string both ways, through its own I/O functions. */
	if (oid == RECORDOID || oid == VOIDOID || oid == CSTRINGOID || IsPolymorphicType(oid) ||
		get_typtype(oid) != TYPTYPE_PSEUDO)
		return;
	if (result && (oid == TRIGGEROID || oid == EVENT_TRIGGEROID))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("plerl functions cannot %s type %s",
					result ? "return" : "take", format_type_be(oid))));
}

void
plerl_proc_init_result(PlerlProc *proc, HeapTuple tup, MemoryContext mcxt)
{
	Form_pg_proc pp = (Form_pg_proc) GETSTRUCT(tup);
	Oid			rettype = pp->prorettype;

	proc->readonly = pp->provolatile != PROVOLATILE_VOLATILE;
	proc->types_id = ++next_types_id;
	for (int i = 0; i < proc->nargs; i++)
	{
		if (proc->args[i].kind == PLT_POLY)
			proc->poly_args = true;
		else
			check_declared_type(proc->args[i].oid, false);
		if (proc->args[i].oid == VOIDOID)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("plerl functions cannot take type void")));
	}
	check_declared_type(rettype, true);
	if (rettype == TRIGGEROID || rettype == EVENT_TRIGGEROID)
	{
		proc->ret.oid = rettype;
		proc->ret.kind = PLT_VOID;
		proc->ret.info.kind = PLT_VOID;
		return;
	}
	if (rettype == RECORDOID)
	{
		/* OUT parameters of fixed types: the row type is known now. */
		TupleDesc	td = build_function_result_tupdesc_t(tup);
		bool		poly = td == NULL;

		for (int i = 0; td != NULL && i < td->natts; i++)
			if (IsPolymorphicType(TupleDescAttr(td, i)->atttypid))
				poly = true;
		if (!poly)
		{
			MemoryContext old = MemoryContextSwitchTo(mcxt);

			td = BlessTupleDesc(td);
			MemoryContextSwitchTo(old);
			plerl_type_init_tupdesc(&proc->ret, td, mcxt);
			return;
		}
		proc->ret_dynamic = true;
	}
	else if (IsPolymorphicType(rettype))
		proc->ret_dynamic = true;
	if (proc->ret_dynamic)
	{
		proc->ret.oid = rettype;
		proc->ret.kind = PLT_POLY;
		proc->ret.info.kind = PLT_OTHER;
		return;
	}
	plerl_type_init(&proc->ret, rettype, -1, true, mcxt);
}

int64		plerl_callset_args = 0;

/* Resolve the types of this call; cached per distinct set in the proc. */
static PlerlCallSet *
callset_get(PlerlProc *proc, FunctionCallInfo fcinfo)
{
	Oid			argtypes[FUNC_MAX_ARGS];
	Oid			rettype = InvalidOid;
	int32		rettypmod = -1;
	TupleDesc	td = NULL;
	PlerlCallSet *set,
			  **prev;
	MemoryContext old;

	int			nargs = plerl_call_nargs(proc, fcinfo);

	for (int i = 0; i < nargs; i++)
	{
		argtypes[i] = InvalidOid;
		if (i < proc->nargs && proc->args[i].kind != PLT_POLY)
			continue;
		argtypes[i] = get_fn_expr_argtype(fcinfo->flinfo, i);
		if (!OidIsValid(argtypes[i]))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("could not determine actual type of argument %d of polymorphic function %s",
							i + 1, proc->name)));
		/* A column of pseudo-type anyarray (pg_stats) passed to "any". */
		if (IsPolymorphicType(argtypes[i]) || argtypes[i] == ANYOID)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("plerl function %s cannot take a value of pseudo-type %s (argument %d)",
							proc->name, format_type_be(argtypes[i]), i + 1),
					 errhint("Cast the value to a real type, e.g. its text.")));
	}
	if (proc->ret_dynamic)
	{
		switch (get_call_result_type(fcinfo, &rettype, &td))
		{
			case TYPEFUNC_SCALAR:
			case TYPEFUNC_COMPOSITE_DOMAIN:
				break;
			case TYPEFUNC_COMPOSITE:
				if (rettype == RECORDOID || !OidIsValid(rettype))
				{
					rettype = RECORDOID;
					if (td->tdtypmod < 0)
						td = BlessTupleDesc(CreateTupleDescCopy(td));
					rettypmod = td->tdtypmod;
				}
				break;
			case TYPEFUNC_RECORD:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("function returning record called in context that cannot accept type record"),
						 errhint("Give a column definition list (SELECT * FROM f() AS t(a int, b text)) or use OUT parameters.")));
				break;
			default:
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("could not determine the result type of polymorphic function %s", proc->name)));
		}
	}

	for (prev = (PlerlCallSet **) &proc->callsets; (set = *prev) != NULL; prev = &set->next)
	{
		if (set->rettype != rettype || set->rettypmod != rettypmod || set->nargs != nargs)
			continue;
		if (nargs > 0 && memcmp(set->argtypes, argtypes, sizeof(Oid) * nargs) != 0)
			continue;
		/* Most recent first. */
		*prev = set->next;
		set->next = proc->callsets;
		proc->callsets = set;
		return set;
	}

	if (plerl_callset_args + Max(nargs, 1) > PLERL_CALLSET_ARGS_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many distinct argument types in calls of polymorphic and VARIADIC \"any\" plerl functions in this session"),
				 errdetail("plerl keeps the argument types of each distinct call for the session, %d arguments' worth at most; calling %s this way needs %d more.",
						   PLERL_CALLSET_ARGS_MAX, proc->name, Max(nargs, 1)),
				 errhint("Use fewer distinct combinations of argument types, or a new session.")));
	plerl_callset_args += Max(nargs, 1);
	proc->callset_args += Max(nargs, 1);

	old = MemoryContextSwitchTo(proc->mcxt);
	set = palloc0(sizeof(PlerlCallSet));
	set->nargs = nargs;
	set->argtypes = palloc(sizeof(Oid) * Max(nargs, 1));
	memcpy(set->argtypes, argtypes, sizeof(Oid) * nargs);
	set->rettype = rettype;
	set->rettypmod = rettypmod;
	set->args = palloc0(sizeof(PlerlType) * Max(nargs, 1));
	for (int i = 0; i < nargs; i++)
	{
		if (OidIsValid(argtypes[i]))
			plerl_type_init(&set->args[i], argtypes[i], -1, false, proc->mcxt);
		else
			set->args[i] = proc->args[i];
	}
	if (!proc->ret_dynamic)
		set->ret = proc->ret;
	else if (rettype == RECORDOID)
		plerl_type_init_tupdesc(&set->ret, td, proc->mcxt);
	else
	{
		plerl_type_init(&set->ret, rettype, -1, true, proc->mcxt);
		check_declared_type(set->ret.base, true);
	}
	MemoryContextSwitchTo(old);
	set->next = proc->callsets;
	proc->callsets = set;
	return set;
}

/*
 * The call site's types: flinfo->fn_extra remembers them (argument and
 * result types cannot change at one call site). Set-returning functions
 * keep their FuncCallContext in fn_extra, so they only use the proc's list.
 */
static PlerlCallSet *
callset_for(PlerlProc *proc, FunctionCallInfo fcinfo)
{
	FmgrInfo   *fl = fcinfo->flinfo;
	PlerlCallSite *site;

	if (proc->retset || fl == NULL)
		return callset_get(proc, fcinfo);
	site = (PlerlCallSite *) fl->fn_extra;
	if (site != NULL && site->proc == proc && site->types_id == proc->types_id)
		return site->set;
	if (site == NULL)
	{
		site = MemoryContextAllocZero(fl->fn_mcxt, sizeof(PlerlCallSite));
		fl->fn_extra = site;
	}
	site->set = callset_get(proc, fcinfo);
	site->proc = proc;
	site->types_id = proc->types_id;
	return site->set;
}

PlerlType *
plerl_result_type(PlerlProc *proc, FunctionCallInfo fcinfo)
{
	PlerlType  *t = &proc->ret;

	if (unlikely(proc->ret_dynamic))
		t = &callset_for(proc, fcinfo)->ret;
	if (t->kind >= PLT_RECORD)
		plerl_type_prepare(t);
	return t;
}

void
plerl_args_from_fcinfo(PlerlProc *proc, FunctionCallInfo fcinfo, PlerlValue *args)
{
	PlerlType  *types = proc->args;

	if (unlikely(proc->types_id == 0))
	{
		/* Built without plerl_proc_init_result (set-returning functions). */
		proc->types_id = ++next_types_id;
		for (int i = 0; i < proc->nargs; i++)
			if (proc->args[i].kind == PLT_POLY)
				proc->poly_args = true;
	}
	if (unlikely(proc->poly_args))
		types = callset_for(proc, fcinfo)->args;
	for (int i = 0; i < plerl_call_nargs(proc, fcinfo); i++)
		plerl_datum_to_value(&types[i], fcinfo->args[i].value,
							 fcinfo->args[i].isnull, &args[i]);
}

/* ---------- C -> Go ---------- */

/* The type of a date and time kind (PLV_DATE..PLV_INTERVAL). */
Oid
plerl_dt_type(int kind)
{
	switch (kind)
	{
		case PLV_DATE:
			return DATEOID;
		case PLV_TIME:
			return TIMEOID;
		case PLV_TIMESTAMP:
			return TIMESTAMPOID;
		case PLV_TIMESTAMPTZ:
			return TIMESTAMPTZOID;
		case PLV_INTERVAL:
			return INTERVALOID;
	}
	return InvalidOid;
}

/* A date and time Datum as its integers (exact, no text). */
void
plerl_dt_to_value(int kind, Datum d, PlerlValue *v)
{
	v->kind = kind;
	switch (kind)
	{
		case PLV_DATE:
			v->i = DatumGetDateADT(d);
			break;
		case PLV_TIME:
			v->i = DatumGetTimeADT(d);
			break;
		case PLV_TIMESTAMP:
		case PLV_TIMESTAMPTZ:
			v->i = DatumGetTimestamp(d);
			break;
		case PLV_INTERVAL:
			{
				Interval   *iv = DatumGetIntervalP(d);

				v->i = iv->time;
				v->len = (int64_t) (((uint64) (uint32) iv->day << 32) | (uint32) iv->month);
				break;
			}
	}
}

/* The Datum of a date and time value (palloc'd for an interval). */
Datum
plerl_dt_datum(const PlerlValue *v)
{
	switch (v->kind)
	{
		case PLV_DATE:
			if (v->i < PG_INT32_MIN || v->i > PG_INT32_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("date out of range")));
			return DateADTGetDatum((DateADT) v->i);
		case PLV_TIME:
			if (v->i < 0 || v->i > USECS_PER_DAY)
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("time out of range")));
			return TimeADTGetDatum(v->i);
		case PLV_TIMESTAMP:
		case PLV_TIMESTAMPTZ:
			if (!TIMESTAMP_NOT_FINITE(v->i) && !IS_VALID_TIMESTAMP(v->i))
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("timestamp out of range")));
			return TimestampGetDatum(v->i);
		case PLV_INTERVAL:
			{
				Interval   *iv = palloc(sizeof(Interval));

				iv->time = v->i;
				iv->day = (int32) (uint32) ((uint64) v->len >> 32);
				iv->month = (int32) (uint32) ((uint64) v->len & 0xffffffff);
				return IntervalPGetDatum(iv);
			}
	}
	elog(ERROR, "plerl: value kind %d is no date or time", (int) v->kind);
	pg_unreachable();
}

/*
 * Date and time values reach Lua in one style whatever the session's
 * DateStyle: ISO 8601 (2024-02-29 13:45:00+00), intervals in the postgres
 * style (1 day 02:03:04). Every style reads back.
 */
static char *
iso_output(PlerlType *t, Datum d)
{
	int			save_style = DateStyle;
	int			save_istyle = IntervalStyle;
	char	   *s;

	DateStyle = USE_ISO_DATES;
	IntervalStyle = INTSTYLE_POSTGRES;
	PG_TRY();
	{
		s = OutputFunctionCall(&t->out, d);
	}
	PG_FINALLY();
	{
		DateStyle = save_style;
		IntervalStyle = save_istyle;
	}
	PG_END_TRY();
	return s;
}

static void
record_from_tuple(PlerlRecDesc *rd, HeapTuple tuple, PlerlValue *v)
{
	int			natts = rd->tupdesc->natts;
	Datum	   *vals = palloc(sizeof(Datum) * Max(natts, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(natts, 1));
	PlerlRecord *r = palloc(sizeof(PlerlRecord));

	heap_deform_tuple(tuple, rd->tupdesc, vals, nulls);
	if (rd->handle == 0)
		rd->handle = plerl_type_handle(rd->tupdesc->tdtypeid, rd->tupdesc->tdtypmod);
	r->type_handle = rd->handle;
	r->names = rd->names;
	r->fields = palloc(sizeof(PlerlValue) * Max(rd->nfields, 1));
	for (int k = 0; k < rd->nfields; k++)
	{
		int			a = rd->attnum[k];

		plerl_datum_to_value(&rd->fields[k], vals[a], nulls[a], &r->fields[k]);
	}
	pfree(vals);
	pfree(nulls);
	v->kind = PLV_RECORD;
	v->p = (char *) r;
	v->len = rd->nfields;
}

static void
record_to_value(PlerlType *t, Datum d, PlerlValue *v)
{
	HeapTupleHeader th = DatumGetHeapTupleHeader(d);
	HeapTupleData tuple;
	PlerlRecDesc *rd = rec_for(t, HeapTupleHeaderGetTypeId(th), HeapTupleHeaderGetTypMod(th));

	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;
	record_from_tuple(rd, &tuple, v);
}

static void
array_to_value(PlerlType *t, Datum d, PlerlValue *v)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	PlerlType  *et = t->elem;
	PlerlArray *a = palloc0(sizeof(PlerlArray));
	int			ndims = ARR_NDIM(arr);
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(arr, ARR_ELEMTYPE(arr), et->len, et->byval, et->align,
					  &elems, &nulls, &n);
	if (t->handle == 0)
		t->handle = plerl_type_handle(t->oid, t->typmod);
	a->type_handle = t->handle;
	a->ndims = ndims;
	for (int i = 0; i < ndims && i < PLERL_MAXDIM; i++)
	{
		a->dims[i] = ARR_DIMS(arr)[i];
		a->lbounds[i] = ARR_LBOUND(arr)[i];
	}
	a->elems = palloc(sizeof(PlerlValue) * Max(n, 1));
	for (int i = 0; i < n; i++)
		plerl_datum_to_value(et, elems[i], nulls[i], &a->elems[i]);
	v->kind = PLV_ARRAY;
	v->p = (char *) a;
	v->len = n;
}

void
plerl_datum_to_value(PlerlType *t, Datum d, bool isnull, PlerlValue *v)
{
	memset(v, 0, sizeof(*v));
	if (isnull)
	{
		v->kind = PLV_NULL;
		return;
	}
	switch (t->kind)
	{
		case PLT_BOOL:
			v->kind = PLV_BOOL;
			v->i = DatumGetBool(d);
			break;
		case PLT_INT2:
			v->kind = PLV_INT;
			v->i = DatumGetInt16(d);
			break;
		case PLT_INT4:
			v->kind = PLV_INT;
			v->i = DatumGetInt32(d);
			break;
		case PLT_INT8:
			v->kind = PLV_INT;
			v->i = DatumGetInt64(d);
			break;
		case PLT_FLOAT4:
			v->kind = PLV_FLOAT;
			v->f = DatumGetFloat4(d);
			break;
		case PLT_FLOAT8:
			v->kind = PLV_FLOAT;
			v->f = DatumGetFloat8(d);
			break;
		case PLT_TEXT:
		case PLT_BYTEA:
		case PLT_JSON:
			{
				text	   *txt = DatumGetTextPP(d);

				v->kind = t->kind == PLT_BYTEA ? PLV_BYTES :
					t->kind == PLT_JSON ? PLV_JSON : PLV_TEXT;
				v->p = VARDATA_ANY(txt);
				v->len = VARSIZE_ANY_EXHDR(txt);
				break;
			}
		case PLT_ARRAY:
			array_to_value(t, d, v);
			break;
		case PLT_RECORD:
			record_to_value(t, d, v);
			break;
		case PLT_VOID:
			v->kind = PLV_NULL;
			break;
		case PLT_POLY:
			elog(ERROR, "plerl: polymorphic type %u was not resolved", t->oid);
			break;
		default:
			if (t->dt != 0)
			{
				plerl_dt_to_value(t->dt, d, v);
				break;
			}
			{
				char	   *s = t->iso_out ? iso_output(t, d) : OutputFunctionCall(&t->out, d);

				v->kind = t->kind == PLT_NUMERIC ? PLV_NUMERIC :
					t->kind == PLT_JSONB ? PLV_JSON :
					t->base == REFCURSOROID ? PLV_REFCURSOR : PLV_TEXT;
				v->p = s;
				v->len = strlen(s);
				if (t->text_kind != 0)
				{
					/* A range or timetz value for Lua: its text and its type's handle. */
					if (t->text_handle == 0)
						t->text_handle = plerl_type_handle(t->oid, t->typmod);
					if (t->text_handle > 0)
					{
						v->kind = t->text_kind;
						v->i = t->text_handle;
					}
				}
				break;
			}
	}
}

void
plerl_tuple_to_value(PlerlType *t, HeapTuple tuple, PlerlValue *v)
{
	memset(v, 0, sizeof(*v));
	record_from_tuple(t->rec, tuple, v);
}

/* ---------- Go -> C ---------- */

void
plerl_value_free(PlerlValue *v)
{
	free(v->p);
	v->p = NULL;
	v->kind = PLV_NULL;
}

static void
value_kind_error(PlerlType *t, PlerlValue *v)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("plerl: cannot convert a value of kind %d to type %s",
					(int) v->kind, t->info.name ? t->info.name : format_type_be(t->oid))));
}

static Datum
array_from_value(PlerlType *t, PlerlValue *v)
{
	PlerlArray *a = (PlerlArray *) v->p;
	PlerlType  *et = t->elem;
	int			n = (int) v->len;
	int			dims[MAXDIM],
				lbs[MAXDIM];
	int64		count = 1;
	Datum	   *datums;
	bool	   *nulls;

	if (a == NULL || a->ndims == 0 || n == 0)
		return PointerGetDatum(construct_empty_array(et->oid));
	if (a->ndims < 0 || a->ndims > MAXDIM)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("number of array dimensions (%d) exceeds the maximum allowed (%d)",
						a->ndims, MAXDIM)));
	for (int i = 0; i < a->ndims; i++)
	{
		dims[i] = a->dims[i];
		lbs[i] = a->lbounds[i];
		count *= dims[i];
	}
	if (count != n)
		elog(ERROR, "plerl: array of %d elements has dimensions for " INT64_FORMAT, n, count);
	datums = palloc(sizeof(Datum) * n);
	nulls = palloc(sizeof(bool) * n);
	for (int i = 0; i < n; i++)
		datums[i] = value_to_datum(et, &a->elems[i], &nulls[i]);
	return PointerGetDatum(construct_md_array(datums, nulls, a->ndims, dims, lbs,
											  et->oid, et->len, et->byval, et->align));
}

static HeapTuple
tuple_from_value(PlerlType *t, PlerlValue *v)
{
	PlerlRecDesc *rd = t->rec;
	PlerlRecord *r = (PlerlRecord *) v->p;
	int			natts;
	Datum	   *vals;
	bool	   *nulls;

	if (rd == NULL)
		plerl_type_prepare(t);
	rd = t->rec;
	if (v->kind == PLV_RECORD && v->len != rd->nfields)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("row type %s changed during the call", t->info.name)));
	natts = rd->tupdesc->natts;
	vals = palloc0(sizeof(Datum) * Max(natts, 1));
	nulls = palloc(sizeof(bool) * Max(natts, 1));
	memset(nulls, true, sizeof(bool) * Max(natts, 1));
	if (v->kind == PLV_RECORD)
		for (int k = 0; k < rd->nfields; k++)
		{
			int			a = rd->attnum[k];

			vals[a] = value_to_datum(&rd->fields[k], &r->fields[k], &nulls[a]);
		}
	return heap_form_tuple(rd->tupdesc, vals, nulls);
}

/* The typmod record_in needs for an anonymous row type. */
static int32
input_typmod(PlerlType *t)
{
	if (t->kind == PLT_RECORD && t->base == RECORDOID && t->rec != NULL)
		return t->rec->tupdesc->tdtypmod;
	return t->typmod;
}

/* Converts without freeing (Go's block is freed once, by the caller). */
static Datum
value_to_datum(PlerlType *t, PlerlValue *v, bool *isnull)
{
	Datum		d;

	*isnull = false;
	if (t->kind == PLT_VOID)
	{
		*isnull = true;
		return (Datum) 0;
	}
	if (v->kind == PLV_NULL)
	{
		*isnull = true;
		if (t->is_domain)
			domain_check((Datum) 0, true, t->oid, &t->domain_extra, t->mcxt);
		return (Datum) 0;
	}
	/* Text (a string, or what Go formatted) goes through the input function. */
	if ((v->kind == PLV_TEXT || v->kind == PLV_NUMERIC || v->kind == PLV_JSON) &&
		t->kind != PLT_BYTEA)
	{
		const char *s = v->p ? v->p : "";

		pg_verifymbstr(s, (int) v->len, false);
		if (t->kind == PLT_TEXT && t->oid == TEXTOID)
			return PointerGetDatum(cstring_to_text_with_len(s, (int) v->len));
		/* For a domain, this is domain_in: it checks the constraints. */
		return InputFunctionCall(&t->in, (char *) s, t->ioparam, input_typmod(t));
	}
	switch (t->kind)
	{
		case PLT_BOOL:
			if (v->kind != PLV_BOOL)
				value_kind_error(t, v);
			d = BoolGetDatum(v->i != 0);
			break;
		case PLT_INT2:
		case PLT_INT4:
		case PLT_INT8:
			if (v->kind != PLV_INT)
				value_kind_error(t, v);
			d = t->kind == PLT_INT2 ? Int16GetDatum((int16) v->i) :
				t->kind == PLT_INT4 ? Int32GetDatum((int32) v->i) : Int64GetDatum(v->i);
			break;
		case PLT_FLOAT4:
		case PLT_FLOAT8:
			if (v->kind != PLV_FLOAT)
				value_kind_error(t, v);
			d = t->kind == PLT_FLOAT4 ? Float4GetDatum((float4) v->f) : Float8GetDatum(v->f);
			break;
		case PLT_BYTEA:
			{
				/* Bytes as they are (a Lua string is a byte string). */
				bytea	   *b;

				if (v->kind != PLV_BYTES && v->kind != PLV_TEXT)
					value_kind_error(t, v);
				b = palloc(VARHDRSZ + v->len);
				SET_VARSIZE(b, VARHDRSZ + v->len);
				if (v->len > 0)
					memcpy(VARDATA(b), v->p, v->len);
				d = PointerGetDatum(b);
				break;
			}
		case PLT_ARRAY:
			if (v->kind != PLV_ARRAY)
				value_kind_error(t, v);
			d = array_from_value(t, v);
			break;
		case PLT_RECORD:
			if (v->kind != PLV_RECORD)
				value_kind_error(t, v);
			d = HeapTupleGetDatum(tuple_from_value(t, v));
			break;
		default:
			if (v->kind >= PLV_DATE && v->kind <= PLV_INTERVAL)
			{
				d = plerl_dt_datum(v);
				if (v->kind != t->dt || (t->typmod >= 0 && v->kind != PLV_DATE))
				{
					/*
					 * Another type (timestamptz for a date column), or a
					 * precision to apply (timestamp(0)): as the SQL text of
					 * the value read by the column's input function.
					 */
					Oid			outfn;
					bool		isvarlena;
					char	   *s;

					getTypeOutputInfo(plerl_dt_type(v->kind), &outfn, &isvarlena);
					s = OidOutputFunctionCall(outfn, d);
					return value_to_datum(t, &(PlerlValue) {.kind = PLV_TEXT, .p = s, .len = strlen(s)}, isnull);
				}
				break;
			}
			value_kind_error(t, v);
			pg_unreachable();
	}
	if (t->is_domain)
		domain_check(d, false, t->oid, &t->domain_extra, t->mcxt);
	return d;
}

Datum
plerl_value_to_datum(PlerlType *t, PlerlValue *v, bool *isnull)
{
	Datum		d;

	if (v->p == NULL)
		return value_to_datum(t, v, isnull);
	PG_TRY();
	{
		d = value_to_datum(t, v, isnull);
	}
	PG_FINALLY();
	{
		plerl_value_free(v);
	}
	PG_END_TRY();
	return d;
}

HeapTuple
plerl_value_to_tuple(PlerlType *t, PlerlValue *v)
{
	HeapTuple	tup;

	PG_TRY();
	{
		if (v->kind == PLV_TEXT)
		{
			bool		isnull;
			Datum		d = value_to_datum(t, v, &isnull);
			HeapTupleHeader th = DatumGetHeapTupleHeader(d);

			tup = palloc(HEAPTUPLESIZE);
			tup->t_len = HeapTupleHeaderGetDatumLength(th);
			ItemPointerSetInvalid(&tup->t_self);
			tup->t_tableOid = InvalidOid;
			tup->t_data = th;
		}
		else if (v->kind == PLV_RECORD || v->kind == PLV_NULL)
			tup = tuple_from_value(t, v);
		else
			value_kind_error(t, v);
	}
	PG_FINALLY();
	{
		plerl_value_free(v);
	}
	PG_END_TRY();
	return tup;
}

/* ---- rows of a tuple descriptor (SPI results, trigger rows, parameters) ---- */

static int64 next_desc_id = 0;

/* Names, kinds and converters of a tuple descriptor's columns. */
void
plerl_rowdesc_init(PlerlRowDesc *d, TupleDesc tupdesc, MemoryContext mcxt)
{
	MemoryContext old = MemoryContextSwitchTo(mcxt);
	int			n = tupdesc->natts;

	memset(d, 0, sizeof(*d));
	d->tupdesc = tupdesc;
	d->ncols = n;
	d->mcxt = mcxt;
	d->names = palloc0(sizeof(char *) * Max(n, 1));
	d->kinds = palloc0(sizeof(int32_t) * Max(n, 1));
	d->types = palloc0(sizeof(PlerlType) * Max(n, 1));
	d->infos = palloc0(sizeof(PlerlTypeInfo *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
		{
			d->kinds[i] = PLT_VOID;
			continue;
		}
		d->names[i] = pstrdup(NameStr(att->attname));
		plerl_type_init(&d->types[i], att->atttypid, att->atttypmod, false, mcxt);
		d->kinds[i] = d->types[i].kind;
		d->infos[i] = &d->types[i].info;
	}
	d->id = ++next_desc_id;
	MemoryContextSwitchTo(old);
}

void
plerl_rowdesc_prepare(PlerlRowDesc *d)
{
	for (int i = 0; i < d->ncols; i++)
		if (d->infos[i] != NULL && d->types[i].kind >= PLT_RECORD)
			plerl_type_prepare(&d->types[i]);
}

/*
 * Convert n tuples into out->values (in CurrentMemoryContext). Text values
 * point into the tuples, which must live as long as the values.
 */
void
plerl_rows_fill(PlerlRowDesc *d, PlerlRows *out, HeapTuple *tuples, uint64 n)
{
	int			ncols = d->ncols;
	Datum	   *dv;
	bool	   *dn;

	out->ncols = ncols;
	out->names = d->names;
	out->kinds = d->kinds;
	out->types = d->infos;
	out->desc_id = d->id;
	if (d->handle == 0)
	{
		/* An anonymous row type (SPI's) is registered to get a typmod. */
		if (d->tupdesc->tdtypeid == RECORDOID && d->tupdesc->tdtypmod < 0)
			BlessTupleDesc(d->tupdesc);
		d->handle = plerl_type_handle(d->tupdesc->tdtypeid, d->tupdesc->tdtypmod);
	}
	out->type_handle = d->handle;
	out->nrows = n;
	out->values = NULL;
	if (n == 0 || ncols == 0)
		return;
	out->values = MemoryContextAllocHuge(CurrentMemoryContext, sizeof(PlerlValue) * n * ncols);
	dv = palloc(sizeof(Datum) * ncols);
	dn = palloc(sizeof(bool) * ncols);
	for (uint64 r = 0; r < n; r++)
	{
		PlerlValue *row = &out->values[r * ncols];

		heap_deform_tuple(tuples[r], d->tupdesc, dv, dn);
		for (int c = 0; c < ncols; c++)
		{
			if (d->names[c] == NULL || d->kinds[c] == PLT_VOID)
			{
				memset(&row[c], 0, sizeof(PlerlValue));
				row[c].kind = PLV_NULL;
				continue;
			}
			plerl_datum_to_value(&d->types[c], dv[c], dn[c], &row[c]);
		}
	}
	pfree(dv);
	pfree(dn);
}

/* Column c's Datum from v (consumed; domains are checked). */
Datum
plerl_row_value_to_datum(PlerlRowDesc *d, int c, PlerlValue *v, bool *isnull)
{
	if (d->names && d->names[c] == NULL)
	{
		plerl_value_free(v);
		*isnull = true;
		return (Datum) 0;
	}
	return plerl_value_to_datum(&d->types[c], v, isnull);
}

void
plerl_values_to_datums(PlerlRowDesc *d, PlerlValue *values, const char *replace,
					   Datum *datums, bool *nulls)
{
	volatile int c = 0;

	PG_TRY();
	{
		for (c = 0; c < d->ncols; c++)
		{
			if (replace && !replace[c])
				continue;
			datums[c] = plerl_row_value_to_datum(d, c, &values[c], &nulls[c]);
		}
	}
	PG_CATCH();
	{
		for (int i = c; i < d->ncols; i++)
			plerl_value_free(&values[i]);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * ---- the type registry: the types Lua values remember ----
 *
 * A row or array that reaches Lua carries a handle of its SQL type, so
 * that tostring() can give its text later (pgtype.c). Handles are small
 * integers, stable for the backend's life; each names a PlerlType kept in
 * a context of its own. The registry is bounded: past PLERL_MAX_TYPES types
 * new ones get no handle (-1) and their values print as plain tables.
 */
#define PLERL_MAX_TYPES 1024

typedef struct TypeKey
{
	Oid			oid;
	int32		typmod;
} TypeKey;

typedef struct TypeEnt
{
	TypeKey		key;
	int32		handle;
} TypeEnt;

static HTAB *type_hash;
static MemoryContext type_cxt;
static PlerlType *type_slot[PLERL_MAX_TYPES + 1];
static int32 ntypes;

/* The handle of (oid, typmod), registered on first use; -1 for none. May raise. */
int32
plerl_type_handle(Oid oid, int32 typmod)
{
	TypeKey		key;
	TypeEnt    *ent;
	PlerlType  *t;
	bool		found;

	if (oid == InvalidOid || (oid == RECORDOID && typmod < 0) || IsPolymorphicType(oid))
		return -1;
	if (type_hash == NULL)
	{
		HASHCTL		ctl;

		type_cxt = AllocSetContextCreate(TopMemoryContext, "plerl types", ALLOCSET_SMALL_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(TypeKey);
		ctl.entrysize = sizeof(TypeEnt);
		ctl.hcxt = type_cxt;
		type_hash = hash_create("plerl types", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.oid = oid;
	key.typmod = typmod;
	ent = hash_search(type_hash, &key, HASH_FIND, NULL);
	if (ent != NULL)
		return ent->handle;
	if (ntypes >= PLERL_MAX_TYPES)
		return -1;
	if (oid == RECORDOID)
	{
		/*
		 * An anonymous row (SPI's) may have columns of type record, whose
		 * values Lua could not be converted back for: no handle.
		 */
		TupleDesc	td = lookup_rowtype_tupdesc(oid, typmod);
		bool		anon = false;

		for (int i = 0; i < td->natts; i++)
		{
			Oid			a = TupleDescAttr(td, i)->atttypid;

			if (a == RECORDOID || a == RECORDARRAYOID || IsPolymorphicType(a))
				anon = true;
		}
		ReleaseTupleDesc(td);
		if (anon)
		{
			ent = hash_search(type_hash, &key, HASH_ENTER, &found);
			ent->handle = -1;
			return -1;
		}
	}
	t = MemoryContextAllocZero(type_cxt, sizeof(PlerlType));
	plerl_type_init(t, oid, typmod, false, type_cxt);
	ent = hash_search(type_hash, &key, HASH_ENTER, &found);
	ent->handle = ++ntypes;
	type_slot[ent->handle] = t;
	return ent->handle;
}

/* The type of a handle (NULL for none), ready for Go to convert values for. */
PlerlType *
plerl_type_by_handle(int32 handle)
{
	PlerlType  *t;

	if (handle <= 0 || handle > ntypes)
		return NULL;
	t = type_slot[handle];
	plerl_type_prepare(t);
	return t;
}
