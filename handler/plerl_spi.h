/*
 * plerl_spi.h: what Go sees of SPI, triggers and set-returning functions
 * (spi.c, trigger.c, srf.c). No PostgreSQL types, so Go can include it.
 */
#ifndef PLERL_SPI_H
#define PLERL_SPI_H

#include "plerl.h"

/*
 * Rows crossing from C to Go (SPI results, trigger rows) or from Go to C
 * (a row a set-returning function yields). C owns every pointer; for C->Go
 * the values stay valid until plerl_spi_rows_free (SPI) or the end of the
 * call (triggers).
 */
typedef struct PlerlRows
{
	int32_t		ncols;
	int64_t		nrows;
	int64_t		desc_id;		/* same id, same names and kinds (0: no id) */
	const char **names;			/* ncols; NULL for a dropped column */
	int32_t    *kinds;			/* ncols; PLT_* of each column */
	const PlerlTypeInfo *const *types;	/* ncols; for luaToType (Go -> C) */
	PlerlValue *values;			/* nrows * ncols, row-major */
	int64_t		processed;		/* SPI: rows processed (SPI_processed) */
	int32_t		status;			/* SPI: SPI_OK_* of the statement */
	void	   *priv;			/* C: memory, tuple table */
} PlerlRows;

/* A prepared statement; Go holds the pointer until plerl_spi_plan_free. */
typedef struct PlerlPlan
{
	int32_t		nparams;
	int32_t    *kinds;			/* nparams; PLT_* of each parameter */
	const PlerlTypeInfo *const *types;	/* nparams; for luaToType */
	const char **typenames;		/* nparams; SQL names of the parameter types */
	void	   *priv;
} PlerlPlan;

/* plerl_spi_prepare flags */
enum
{
	PLERL_PLAN_KEEP = 1,		/* SPI_keepplan: lives until plerl_spi_plan_free */
	PLERL_PLAN_SCROLL = 2,
	PLERL_PLAN_FAST_START = 4,
	PLERL_PLAN_CUSTOM = 8,
	PLERL_PLAN_GENERIC = 16,
};

/* plerl_spi_transaction ops */
enum
{
	PLERL_TX_COMMIT = 1,
	PLERL_TX_ROLLBACK = 2,
	PLERL_TX_CHAIN = 4,			/* or'ed: ... AND CHAIN */
};

/* The trigger object, filled by C (trigger.c); Go answers in action/result. */
typedef struct PlerlTrigger
{
	int32_t		is_event;		/* event trigger: only event and tag are set */
	const char *event;
	const char *tag;
	const char *name;
	const char *table_name;
	const char *table_schema;
	uint32_t	relid;
	const char *when;			/* BEFORE, AFTER, INSTEAD OF */
	const char *level;			/* ROW, STATEMENT */
	const char *op;				/* INSERT, UPDATE, DELETE, TRUNCATE */
	int32_t		nargs;
	const char **args;
	PlerlRows	old_row;		/* nrows 0 or 1; both share names and kinds */
	PlerlRows	new_row;
	int32_t		returns_row;	/* BEFORE or INSTEAD OF, FOR EACH ROW: the result matters */
	/* out */
	int32_t		action;			/* PLERL_TRIG_* */
	PlerlValue *result;			/* ncols, allocated by C: the new row for MODIFY */
	char	   *replace;		/* ncols, allocated by C: 1 = column set from result */
} PlerlTrigger;

enum
{
	PLERL_TRIG_KEEP = 0,		/* go on with the row as it came */
	PLERL_TRIG_SKIP = 1,		/* skip this row */
	PLERL_TRIG_MODIFY = 2,		/* go on with result[] in the replaced columns */
};

/*
 * One call of a value-per-call set-returning function. Each row comes back
 * in PlerlCall.ret, converted for PlerlCall.ret_type (a scalar, an array,
 * or a row: PLT_RECORD).
 */
typedef struct PlerlSrf
{
	int64_t		srf_id;			/* Go's handle: 0 before the first row and after the last */
	uint32_t	subxact;		/* subtransaction the function started in */
	int32_t		done;			/* out: no more rows */
} PlerlSrf;

/* SPI guards (spi.c). Each returns 0, or fills err and returns -1. */
extern int	plerl_spi_connect(PlerlError *err);
extern int	plerl_spi_prepare(const char *sql, int32_t ntypes, const char **types, int32_t flags,
							  PlerlPlan **out, PlerlError *err);
extern int	plerl_spi_plan_free(PlerlPlan *plan, PlerlError *err);
extern int	plerl_spi_execute(PlerlPlan *plan, const char *sql, PlerlValue *args, int32_t nargs,
							  int64_t limit, PlerlRows *out, PlerlError *err);
extern int	plerl_spi_rows_free(PlerlRows *rows, PlerlError *err);
extern int	plerl_spi_cursor_open(PlerlPlan *plan, PlerlValue *args, int32_t nargs,
								  char **name, PlerlError *err);
extern int	plerl_spi_cursor_fetch(const char *name, int64_t count, PlerlRows *out, PlerlError *err);
extern int	plerl_spi_cursor_close(const char *name, PlerlError *err);
extern int	plerl_spi_transaction(int32_t op, PlerlError *err);
extern int	plerl_spi_is_atomic(void);

#endif
