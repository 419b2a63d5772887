/*
 * plerl_frame.h: the C side's stack of running plerl calls (entry.c), shared
 * by the SPI guards (spi.c), triggers (trigger.c) and set-returning
 * functions (srf.c). PostgreSQL types allowed: C files only.
 */
#ifndef PLERL_FRAME_H
#define PLERL_FRAME_H

#include "commands/trigger.h"
#include "fmgr.h"
#include "plerl_spi.h"
#include "plerl_types.h"

/*
 * One running call, on the C stack of its entry point. Lua -> SQL -> Lua
 * nests, so frames form a stack; the SPI guards use the innermost one.
 * SPI is connected lazily, on the first SPI use of the call (most calls
 * never use SPI), and always before a pcall subtransaction starts, so the
 * connection belongs to the call and not to a subtransaction.
 */
typedef struct PlerlFrame
{
	struct PlerlFrame *outer;
	bool		readonly;		/* STABLE or IMMUTABLE: SPI runs read-only */
	bool		nonatomic;		/* CALL or DO outside a transaction block */
	bool		spi_connected;
	TriggerData *trigdata;		/* transition tables to register with SPI */
} PlerlFrame;

extern PlerlFrame *plerl_frame;

/* Push a frame before entering Go, pop it after Go returned (entry.c). */
extern void plerl_enter(PlerlFrame *frame, int32_t flags, TriggerData *trigdata);
extern void plerl_leave(PlerlFrame *frame);

/* Raise what Go reported, a stash, or a pending interrupt (entry.c). */
extern void plerl_check_error(PlerlError *err);

/* The cached, compiled function (entry.c). Raises. */
extern PlerlProc *plerl_proc_get(Oid fn_oid, bool trusted);

/*
 * Rows of a tuple descriptor as PlerlRows (spi.c): column names, kinds and
 * converters once per descriptor, values per tuple.
 */
typedef struct PlerlRowDesc
{
	TupleDesc	tupdesc;
	int			ncols;
	const char **names;			/* NULL for dropped columns (and for parameters) */
	int32_t    *kinds;
	PlerlType  *types;
	const PlerlTypeInfo **infos;	/* &types[i].info, for Go's luaToType */
	MemoryContext mcxt;
	int64_t		id;
} PlerlRowDesc;

extern void plerl_rowdesc_init(PlerlRowDesc *d, TupleDesc tupdesc, MemoryContext mcxt);
/* Before Go converts values for the columns: row types up to date. */
extern void plerl_rowdesc_prepare(PlerlRowDesc *d);
extern void plerl_rows_fill(PlerlRowDesc *d, PlerlRows *out, HeapTuple *tuples, uint64 n);

/*
 * Datums from values Go made: consumes values[] (frees what Go malloc'd,
 * also on error). Columns with replace[i] == 0 are left alone.
 */
extern void plerl_values_to_datums(PlerlRowDesc *d, PlerlValue *values, const char *replace,
								   Datum *datums, bool *nulls);

/* Transaction and subtransaction ends (spi.c registers them). */
extern void plerl_spi_init(void);

#endif
