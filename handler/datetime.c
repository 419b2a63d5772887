/*
 * datetime.c: the guards Lua's date and time values call (runtime/pl's
 * datetime.go through pl.DateTimeHost): their SQL text, parsing text into
 * one, and the session time zone's offsets. Values cross as their integers
 * (PLV_DATE..PLV_INTERVAL, typeio.c converts them), never as text.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "plerl_int.h"

/*
 * The SQL text of v (malloc'd into *out): ISO 8601 whatever DateStyle says,
 * intervals in the postgres style, timestamptz in the session's TimeZone,
 * as arguments reach Lua as text elsewhere (typeio.c's iso_output).
 */
int
plerl_dt_text(const PlerlValue *v, char **out, PlerlError *err)
{
	int			save_style = DateStyle;
	int			save_istyle = IntervalStyle;

	PLERL_GUARD_ENTER(err);
	*out = NULL;
	PG_TRY();
	{
		Oid			outfn;
		bool		isvarlena;
		char	   *s;

		getTypeOutputInfo(plerl_dt_type(v->kind), &outfn, &isvarlena);
		DateStyle = USE_ISO_DATES;
		IntervalStyle = INTSTYLE_POSTGRES;
		s = OidOutputFunctionCall(outfn, plerl_dt_datum(v));
		DateStyle = save_style;
		IntervalStyle = save_istyle;
		*out = strdup(s);
		if (*out == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		pfree(s);
	}
	PG_CATCH();
	{
		DateStyle = save_style;
		IntervalStyle = save_istyle;
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/* text read by the input function of kind's type (SQL's own rules). */
int
plerl_dt_parse(int32_t kind, const char *text, PlerlValue *out, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	memset(out, 0, sizeof(*out));
	PG_TRY();
	{
		Oid			infn,
					ioparam;
		Oid			typ = plerl_dt_type(kind);
		Datum		d;

		if (typ == InvalidOid)
			elog(ERROR, "plerl: value kind %d is no date or time", (int) kind);
		getTypeInputInfo(typ, &infn, &ioparam);
		d = OidInputFunctionCall(infn, (char *) text, ioparam, -1);
		plerl_dt_to_value(kind, d, out);
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
 * The offset of zone ztz in seconds east of UTC at the instant t
 * (microseconds since 2000-01-01 UTC), or, with local, for the wall-clock
 * time t (as timestamp -> timestamptz resolves it: DST gaps and overlaps
 * the way PostgreSQL does); *isdst whether it is daylight-saving time.
 * Raises; for the guards below.
 */
static int
zone_offset(pg_tz *ztz, int64_t t, bool local, int32_t *isdst)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz = 0;

	if (TIMESTAMP_NOT_FINITE(t))
		return 0;
	if (local)
	{
		if (timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
		tz = DetermineTimeZoneOffset(&tm, ztz);
	}
	else if (timestamp2tm(t, &tz, &tm, &fsec, NULL, ztz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	*isdst = tm.tm_isdst > 0;
	return -tz;
}

/* The session time zone's offset (zone_offset). */
int
plerl_dt_zone(int64_t t, int32_t local, int32_t *offset, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	*offset = 0;
	PG_TRY();
	{
		int32_t		isdst;

		*offset = zone_offset(session_timezone, t, local != 0, &isdst);
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
 * The offset and daylight-saving flag (zone_offset) of a named zone (a tz
 * database name such as 'Europe/London') or a numeric one ('+03',
 * '-0530'). Lua's pgtype.timestamptz{..., timezone = name} and friends.
 */
int
plerl_dt_zone_named(const char *zone, int64_t t, int32_t local,
					int32_t *offset, int32_t *isdst, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	*offset = 0;
	*isdst = 0;
	PG_TRY();
	{
		if (zone[0] == '+' || zone[0] == '-')
		{
			char		buf[64];
			int			tz = 0;

			strlcpy(buf, zone, sizeof(buf));
			if (strlen(zone) >= sizeof(buf) || DecodeTimezone(buf, &tz) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid timezone specified")));
			*offset = -tz;
		}
		else
		{
			pg_tz	   *ztz = pg_tzset(zone);

			if (ztz == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid timezone specified")));
			*offset = zone_offset(ztz, t, local != 0, isdst);
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
 * Where a date_part's scratch lives (the unit as text, the part functions'
 * lower-case copy of it): emptied by the next call, so a loop reading a
 * field keeps no memory until its statement ends.
 */
static MemoryContext part_cxt;

/*
 * The date_part (float8) of v in unit (PostgreSQL's units: 'century',
 * 'isoyear', 'julian', 'timezone_hour', ...): what SQL's date_part(unit, v)
 * gives, a date taken as its midnight timestamp. A unit the type lacks is
 * PostgreSQL's error (time has no 'dow'); *isnull for an infinite value's
 * units that have no value.
 */
int
plerl_dt_part(const PlerlValue *v, const char *unit, double *out, int32_t *isnull,
			  PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	*out = 0;
	*isnull = 0;
	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 2);
		PGFunction	fn;
		Datum		d = plerl_dt_datum(v);
		Datum		r;

		if (part_cxt == NULL)
			part_cxt = AllocSetContextCreate(TopMemoryContext, "plerl date_part",
											 ALLOCSET_SMALL_SIZES);
		MemoryContextReset(part_cxt);
		MemoryContextSwitchTo(part_cxt);

		switch (v->kind)
		{
			case PLV_DATE:
				d = DirectFunctionCall1(date_timestamp, d);
				fn = timestamp_part;
				break;
			case PLV_TIME:
				fn = time_part;
				break;
			case PLV_TIMESTAMP:
				fn = timestamp_part;
				break;
			case PLV_TIMESTAMPTZ:
				fn = timestamptz_part;
				break;
			default:
				fn = interval_part;
				break;
		}
		InitFunctionCallInfoData(*fcinfo, NULL, 2, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = CStringGetTextDatum(unit);
		fcinfo->args[0].isnull = false;
		fcinfo->args[1].value = d;
		fcinfo->args[1].isnull = false;
		r = (*fn) (fcinfo);
		if (fcinfo->isnull)
			*isnull = 1;
		else
			*out = DatumGetFloat8(r);
		MemoryContextSwitchTo(plerl_guard_cxt);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}
