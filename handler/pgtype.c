/*
 * pgtype.c: the guards of typed values. A row or array that reaches Lua
 * remembers its SQL type as a handle of typeio.c's registry; Lua's
 * tostring() of it comes here for PostgreSQL's own text of the value
 * (record_out, array_out: the type's output function).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rangetypes.h"
#include "utils/typcache.h"

#include "plerl_int.h"

/* The type of handle; raises if there is none (a stale handle from Go). */
static PlerlType *
type_of(int32_t handle)
{
	PlerlType  *t = plerl_type_by_handle(handle);

	if (t == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("plerl: no type has the handle %d", (int) handle)));
	return t;
}

/* The handle of (oid, typmod), registered now if need be; raises when the registry is full. */
static int32
registered(Oid oid, int32 typmod)
{
	int32		h = plerl_type_handle(oid, typmod);

	if (h <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("pgtype: too many types in this session for type %s", format_type_be(oid))));
	return h;
}

/* Where coerced values live until Go has read them: emptied and made current (returns the old one). */
static MemoryContext coerce_cxt;

static MemoryContext
coerce_context(void)
{
	if (coerce_cxt == NULL)
		coerce_cxt = AllocSetContextCreate(TopMemoryContext, "plerl pgtype values",
										   ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(coerce_cxt);
	return MemoryContextSwitchTo(coerce_cxt);
}

/*
 * The type of handle as Go converts values for it (kept current), and its
 * pg_type.typtype ('r' for a range: Lua builds its text).
 */
int
plerl_type_info(int32_t handle, const PlerlTypeInfo **info, int32_t *typtype, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	*info = NULL;
	*typtype = 0;
	PG_TRY();
	{
		PlerlType  *t = type_of(handle);

		*info = &t->info;
		*typtype = get_typtype(t->base);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/*
 * The SQL text (malloc'd into *out; NULL for NULL) of v, a value Go made
 * for the type of handle (consumed, also on error).
 */
int
plerl_type_text(int32_t handle, PlerlValue *v, char **out, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	*out = NULL;
	PG_TRY();
	{
		PlerlType  *t = type_of(handle);
		bool		isnull;
		Datum		d;

		d = plerl_value_to_datum(t, v, &isnull);
		if (!isnull)
		{
			char	   *s = OutputFunctionCall(&t->out, d);

			*out = strdup(s);
			if (*out == NULL)
				ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
			pfree(s);
		}
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/*
 * The handle of the type SQL names name ('integer', 'myschema.mytype',
 * 'varchar(10)[]'), as a cast would resolve it. Pseudo-types have no
 * values Lua could build: refused.
 */
int
plerl_type_lookup(const char *name, int32_t *handle, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	*handle = 0;
	PG_TRY();
	{
		Oid			oid;
		int32		typmod;

		parseTypeString(name, &oid, &typmod, false);
		if (get_typtype(oid) == TYPTYPE_PSEUDO)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("pgtype: %s is a pseudo-type, which has no values", format_type_be(oid))));
		*handle = registered(oid, typmod);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/*
 * in (a value Go made for the type of handle; consumed) made a Datum of
 * that type, as a function result would be (input functions, typmods,
 * domains checked), and back into *out for Lua: Lua's pgtype
 * constructors. *out is valid until the next call.
 */
int
plerl_type_coerce(int32_t handle, PlerlValue *in, PlerlValue *out, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	memset(out, 0, sizeof(*out));
	PG_TRY();
	{
		PlerlType  *t = type_of(handle);
		MemoryContext old;
		bool		isnull;
		Datum		d;

		old = coerce_context();
		d = plerl_value_to_datum(t, in, &isnull);
		plerl_datum_to_value(t, d, isnull, out);
		MemoryContextSwitchTo(old);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/*
 * The handle of the type of argument n (1-based) of the running function
 * as this call resolved it (polymorphic arguments included), or of its
 * result (n = 0): Lua's pgtype(nil, n).
 */
int
plerl_type_of_arg(int32_t n, int32_t *handle, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	*handle = 0;
	PG_TRY();
	{
		FunctionCallInfo fcinfo = plerl_frame ? plerl_frame->fcinfo : NULL;
		Oid			oid;

		if (fcinfo == NULL || fcinfo->flinfo == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("pgtype(nil, %d): only a function has argument and result types", (int) n)));
		if (n < 0 || n > fcinfo->nargs)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pgtype(nil, %d): the function has %d arguments", (int) n, (int) fcinfo->nargs)));
		oid = n == 0 ? get_fn_expr_rettype(fcinfo->flinfo) : get_fn_expr_argtype(fcinfo->flinfo, n - 1);
		if (oid == InvalidOid && n == 0)
			oid = get_func_rettype(fcinfo->flinfo->fn_oid);
		if (oid == InvalidOid || get_typtype(oid) == TYPTYPE_PSEUDO)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("pgtype(nil, %d): the type is not known here or is a pseudo-type", (int) n)));
		*handle = registered(oid, -1);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/* The handle of the element type of the array type of handle (0: none). */
int
plerl_type_element(int32_t handle, int32_t *elem, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	*elem = 0;
	PG_TRY();
	{
		PlerlType  *t = plerl_type_by_handle(handle);

		if (t != NULL && t->kind == PLT_ARRAY)
			*elem = plerl_type_handle(t->elem->oid, t->elem->typmod);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/*
 * The parts of a range value: in (a value Go made for the range type of
 * handle, its text; consumed) read by the range type's input function
 * (which canonicalises a discrete range), then taken apart by
 * range_deserialize. *flags: 1 empty, 2 lower inclusive, 4 upper
 * inclusive, 8 lower infinite, 16 upper infinite. *lo and *hi are the
 * finite bounds as values of the subtype (PLV_NULL otherwise), valid
 * until the next call. A type that is not a range is 42804.
 */
int
plerl_range_parts(int32_t handle, PlerlValue *in, PlerlValue *lo, PlerlValue *hi,
				  int32_t *flags, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	memset(lo, 0, sizeof(*lo));
	memset(hi, 0, sizeof(*hi));
	*flags = 0;
	PG_TRY();
	{
		PlerlType  *t = type_of(handle);
		MemoryContext old;
		TypeCacheEntry *tc;
		RangeBound	lower,
					upper;
		bool		isnull,
					empty;
		Datum		d;

		if (get_typtype(t->base) != TYPTYPE_RANGE)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("plerl: %s is not a range type", format_type_be(t->oid))));
		old = coerce_context();
		d = plerl_value_to_datum(t, in, &isnull);
		if (!isnull)
		{
			tc = lookup_type_cache(t->base, TYPECACHE_RANGE_INFO);
			if (tc->rngelemtype == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("plerl: %s is not a range type", format_type_be(t->oid))));
			range_deserialize(tc, DatumGetRangeTypeP(d), &lower, &upper, &empty);
			if (empty)
				*flags = 1;
			else
			{
				PlerlType  *sub = type_of(registered(tc->rngelemtype->type_id, -1));

				*flags = (lower.inclusive ? 2 : 0) | (upper.inclusive ? 4 : 0) |
					(lower.infinite ? 8 : 0) | (upper.infinite ? 16 : 0);
				if (!lower.infinite)
					plerl_datum_to_value(sub, lower.val, false, lo);
				if (!upper.infinite)
					plerl_datum_to_value(sub, upper.val, false, hi);
			}
		}
		MemoryContextSwitchTo(old);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}
