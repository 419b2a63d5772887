/*
 * pgtype.c: the guards of typed values. A row or array that reaches Lua
 * remembers its SQL type as a handle of typeio.c's registry; Lua's
 * tostring() of it comes here for PostgreSQL's own text of the value
 * (record_out, array_out: the type's output function).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "plerl_int.h"

/* The type of handle as Go converts values for it (kept current). */
int
plerl_type_info(int32_t handle, const PlerlTypeInfo **info, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	*info = NULL;
	PG_TRY();
	{
		PlerlType  *t = plerl_type_by_handle(handle);

		if (t == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("plerl: no type has the handle %d", (int) handle)));
		*info = &t->info;
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
		PlerlType  *t = plerl_type_by_handle(handle);
		bool		isnull;
		Datum		d;

		if (t == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("plerl: no type has the handle %d", (int) handle)));
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
