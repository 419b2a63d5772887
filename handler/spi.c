/*
 * spi.c: the SPI guards behind Lua's spi module (execute, prepare, cursors,
 * commit and rollback) and the rows they hand to Go (converted by
 * typeio.c). The call's SPI connection is frame.c's.
 *
 * Every function Go calls here is a guard in the one idiom (plerl_int.h).
 * Parameters are always bound, never spliced into the query text: their
 * types come from spi.prepare's list and, for the rest, from the query
 * itself (PostgreSQL infers them the way it does for an extended-protocol
 * Parse without types).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "nodes/parsenodes.h"
#include "parser/parse_param.h"
#include "parser/parse_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/portal.h"

#include "plerl_int.h"

/* What a PlerlPlan hides from Go. */
typedef struct PlanPriv
{
	MemoryContext cxt;			/* this struct, the types, the parser state */
	SPIPlanPtr	plan;
	Oid		   *types;			/* the parser hook's array: grows, keeps its chunk */
	int			ntypes;
	PlerlRowDesc params;		/* converters of the parameters */
	bool		kept;
	PlerlRowDesc *result;		/* kept plans: the rows' converters, reused */
	TupleDesc	result_tupdesc;
} PlanPriv;

/* What a PlerlRows from SPI hides from Go. */
typedef struct RowsPriv
{
	MemoryContext cxt;			/* converted values, descriptor */
	SPITupleTable *tuptable;
} RowsPriv;

static bool plan_is_call(SPIPlanPtr plan);

/* The parser hook of a prepared statement: $n types PostgreSQL infers. */
static void
varparams_setup(ParseState *pstate, void *arg)
{
	PlanPriv   *pp = (PlanPriv *) arg;

	setup_parse_variable_parameters(pstate, &pp->types, &pp->ntypes);
}

int
plerl_spi_prepare(const char *sql, int32_t ntypes, const char **typenames, int32_t flags,
				  PlerlPlan **out, PlerlError *err)
{
	volatile MemoryContext pcxt = NULL;
	volatile SPIPlanPtr splan = NULL;

	*out = NULL;
	PLERL_GUARD_ENTER(err);
	if (plerl_spi_connect(err) != 0)
		return -1;
	plerl_guard_cxt = CurrentMemoryContext;	/* SPI's procedure context, once connected */
	PG_TRY();
	{
		PlerlPlan  *p;
		PlanPriv   *pp;
		int			opts = 0;

		/* A kept plan outlives the call; a one-shot plan dies with it. */
		pcxt = AllocSetContextCreate((flags & PLERL_PLAN_KEEP) ? TopMemoryContext : plerl_guard_cxt,
									 "plerl SPI plan", ALLOCSET_SMALL_SIZES);
		MemoryContextSwitchTo(pcxt);
		p = palloc0(sizeof(PlerlPlan));
		pp = palloc0(sizeof(PlanPriv));
		p->priv = pp;
		pp->cxt = pcxt;
		/* Never NULL, so the hook repallocs it here rather than in SPI's memory. */
		pp->types = palloc0(sizeof(Oid) * Max(ntypes, 1));
		pp->ntypes = ntypes;
		for (int i = 0; i < ntypes; i++)
		{
			int32		typmod;

			parseTypeString(typenames[i], &pp->types[i], &typmod, false);
		}
		MemoryContextSwitchTo(plerl_guard_cxt);

		if (flags & PLERL_PLAN_SCROLL)
			opts |= CURSOR_OPT_SCROLL;
		if (flags & PLERL_PLAN_FAST_START)
			opts |= CURSOR_OPT_FAST_PLAN;
		if (flags & PLERL_PLAN_CUSTOM)
			opts |= CURSOR_OPT_CUSTOM_PLAN;
		if (flags & PLERL_PLAN_GENERIC)
			opts |= CURSOR_OPT_GENERIC_PLAN;
		if (flags & PLERL_PLAN_NO_SCROLL)
			opts |= CURSOR_OPT_NO_SCROLL;
		if (flags & PLERL_PLAN_HOLD)
			opts |= CURSOR_OPT_HOLD;
		pp->plan = SPI_prepare_params(sql, varparams_setup, pp, opts);
		if (pp->plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		splan = pp->plan;

		MemoryContextSwitchTo(pcxt);
		p->nparams = pp->ntypes;
		p->kinds = palloc0(sizeof(int32_t) * Max(pp->ntypes, 1));
		p->typenames = palloc0(sizeof(char *) * Max(pp->ntypes, 1));
		pp->params.ncols = pp->ntypes;
		pp->params.mcxt = pcxt;
		pp->params.types = palloc0(sizeof(PlerlType) * Max(pp->ntypes, 1));
		pp->params.infos = palloc0(sizeof(PlerlTypeInfo *) * Max(pp->ntypes, 1));
		p->types = pp->params.infos;
		for (int i = 0; i < pp->ntypes; i++)
		{
			/*
			 * A parameter the query never mentions ($2 of "... $1 ... $3")
			 * keeps InvalidOid: it has no type, takes any value and binds
			 * NULL (nothing reads it), as in pllua. Its infos and typename
			 * stay NULL. A parameter mentioned without a type is UNKNOWNOID.
			 */
			if (pp->types[i] == InvalidOid)
				continue;
			if (pp->types[i] == UNKNOWNOID)
				ereport(ERROR,
						(errcode(ERRCODE_INDETERMINATE_DATATYPE),
						 errmsg("could not determine data type of parameter $%d", i + 1),
						 errhint("Cast the parameter in the query ($%d::text) or give its type to spi.prepare.",
								 i + 1)));
			plerl_type_init(&pp->params.types[i], pp->types[i], -1, false, pcxt);
			if (pp->params.types[i].kind == PLT_POLY)
				ereport(ERROR,
						(errcode(ERRCODE_INDETERMINATE_DATATYPE),
						 errmsg("could not determine the actual type of parameter $%d (%s)",
								i + 1, format_type_be(pp->types[i])),
						 errhint("Cast the parameter in the query.")));
			pp->params.infos[i] = &pp->params.types[i].info;
			p->kinds[i] = pp->params.types[i].kind;
			p->typenames[i] = format_type_be(pp->types[i]);
		}
		plerl_rowdesc_prepare(&pp->params);
		p->is_call = plan_is_call(pp->plan);
		MemoryContextSwitchTo(plerl_guard_cxt);
		if (flags & PLERL_PLAN_KEEP)
		{
			if (SPI_keepplan(pp->plan) != 0)
				elog(ERROR, "SPI_keepplan failed");
			pp->kept = true;
		}
		splan = NULL;
		*out = p;
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		/*
		 * A plan made before the error (still unkept, so only memory: no
		 * resource owner holds it) goes now, not at the end of the call: a
		 * loop of failing spi.execute calls inside pcall must not pile up.
		 */
		if (splan)
		{
			PG_TRY();
			{
				SPI_freeplan(splan);
			}
			PG_CATCH();
			{
				MemoryContextSwitchTo(plerl_guard_cxt);
				FlushErrorState();
			}
			PG_END_TRY();
		}
		if (pcxt)
			MemoryContextDelete(pcxt);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

int
plerl_spi_plan_free(PlerlPlan *p, PlerlError *err)
{
	PlanPriv   *pp;

	PLERL_GUARD_ENTER_ALWAYS(err);	/* cleanup: also after a stashed error */
	if (p == NULL)
		return 0;
	pp = (PlanPriv *) p->priv;
	PG_TRY();
	{
		if (pp->plan)
			SPI_freeplan(pp->plan);
		pp->plan = NULL;
		MemoryContextDelete(pp->cxt);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/* Which parameter is being bound, for the error context. */
typedef struct BindContext
{
	PlanPriv   *pp;
	int			i;
} BindContext;

static void
bind_context(void *arg)
{
	BindContext *bc = (BindContext *) arg;

	errcontext("binding parameter $%d of type %s", bc->i + 1,
			   format_type_be(bc->pp->types[bc->i]));
}

/* Bind values Go converted for the plan's parameter types (consumes them). */
static ParamListInfo
params_make(PlerlPlan *p, PlerlValue *args, int32_t nargs)
{
	PlanPriv   *pp = (PlanPriv *) p->priv;
	ParamListInfo li;
	Datum	   *datums;
	bool	   *nulls;

	if (nargs != p->nparams)
	{
		for (int i = 0; i < nargs; i++)
			plerl_value_free(&args[i]);
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("query has %d parameters but %d values were given", p->nparams, nargs)));
	}
	if (nargs == 0)
		return NULL;
	datums = palloc(sizeof(Datum) * nargs);
	nulls = palloc(sizeof(bool) * nargs);
	{
		BindContext bc;
		ErrorContextCallback cb;

		bc.pp = pp;
		bc.i = 0;
		cb.callback = bind_context;
		cb.arg = &bc;
		cb.previous = error_context_stack;
		error_context_stack = &cb;
		PG_TRY();
		{
			for (; bc.i < nargs; bc.i++)
			{
				if (pp->types[bc.i] == InvalidOid)
				{
					/* unused by the query (plerl_spi_prepare): NULL */
					plerl_value_free(&args[bc.i]);
					datums[bc.i] = (Datum) 0;
					nulls[bc.i] = true;
					continue;
				}
				datums[bc.i] = plerl_row_value_to_datum(&pp->params, bc.i, &args[bc.i], &nulls[bc.i]);
			}
		}
		PG_CATCH();
		{
			error_context_stack = cb.previous;
			for (int i = bc.i; i < nargs; i++)
				plerl_value_free(&args[i]);
			PG_RE_THROW();
		}
		PG_END_TRY();
		error_context_stack = cb.previous;
	}
	li = makeParamList(nargs);
	for (int i = 0; i < nargs; i++)
	{
		li->params[i].value = datums[i];
		li->params[i].isnull = nulls[i];
		li->params[i].pflags = PARAM_FLAG_CONST;
		li->params[i].ptype = pp->types[i];
	}
	return li;
}

/*
 * Whether a plan is one CALL statement. Only a CALL runs non-atomic from a
 * non-atomic call (so the procedure it calls may commit), as in PL/pgSQL;
 * other statements run atomic, each with a fresh snapshot.
 */
static bool
plan_is_call(SPIPlanPtr plan)
{
	List	   *sources = SPI_plan_get_plan_sources(plan);
	CachedPlanSource *src;

	if (list_length(sources) != 1)
		return false;
	src = (CachedPlanSource *) linitial(sources);
	return src->raw_parse_tree != NULL && IsA(src->raw_parse_tree->stmt, CallStmt);
}

/* Might sql be a CALL? (Cheap test first; plan_is_call decides.) */
static bool
looks_like_call(const char *sql)
{
	const char *p = sql;

	for (;;)
	{
		while (*p && isspace((unsigned char) *p))
			p++;
		if (p[0] == '-' && p[1] == '-')
		{
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (p[0] == '/' && p[1] == '*')
			return true;		/* rare: let the parser decide */
		break;
	}
	return pg_strncasecmp(p, "call", 4) == 0 && !isalnum((unsigned char) p[4]) && p[4] != '_';
}

/* Whether two descriptors have the same columns (names, types, dropped). */
static bool
same_columns(TupleDesc a, TupleDesc b)
{
	if (a->natts != b->natts)
		return false;
	for (int i = 0; i < a->natts; i++)
	{
		Form_pg_attribute x = TupleDescAttr(a, i);
		Form_pg_attribute y = TupleDescAttr(b, i);

		if (x->atttypid != y->atttypid || x->atttypmod != y->atttypmod ||
			x->attisdropped != y->attisdropped ||
			strcmp(NameStr(x->attname), NameStr(y->attname)) != 0)
			return false;
	}
	return true;
}

/* A context for one result, registered in out->priv before anything can fail. */
static RowsPriv *
rows_begin(PlerlRows *out, MemoryContext parent)
{
	MemoryContext rcxt = AllocSetContextCreate(parent, "plerl SPI result", ALLOCSET_DEFAULT_SIZES);
	RowsPriv   *rp = MemoryContextAllocZero(rcxt, sizeof(RowsPriv));

	rp->cxt = rcxt;
	memset(out, 0, sizeof(*out));
	out->priv = rp;
	return rp;
}

static void
rows_take_tuptable(RowsPriv *rp, PlerlRows *out, PlanPriv *pp)
{
	SPITupleTable *tt = SPI_tuptable;

	rp->tuptable = tt;
	out->processed = (int64_t) SPI_processed;
	if (tt != NULL && tt->tupdesc != NULL)
	{
		PlerlRowDesc *d;

		if (pp != NULL && pp->kept)
		{
			/*
			 * A kept plan's rows look the same from one execution to the
			 * next: converters and the descriptor id (Go caches the names
			 * by it) are made once.
			 */
			if (pp->result == NULL || !same_columns(pp->result_tupdesc, tt->tupdesc))
			{
				MemoryContext old = MemoryContextSwitchTo(pp->cxt);

				pp->result = palloc0(sizeof(PlerlRowDesc));
				pp->result_tupdesc = CreateTupleDescCopy(tt->tupdesc);
				plerl_rowdesc_init(pp->result, pp->result_tupdesc, pp->cxt);
				MemoryContextSwitchTo(old);
			}
			d = pp->result;
			d->tupdesc = tt->tupdesc;
			plerl_rows_fill(d, out, tt->vals, SPI_processed);
			return;
		}
		d = palloc0(sizeof(PlerlRowDesc));
		plerl_rowdesc_init(d, tt->tupdesc, rp->cxt);
		plerl_rows_fill(d, out, tt->vals, SPI_processed);
		out->desc_id = 0;		/* used once: nothing for Go to cache */
	}
}

int
plerl_spi_execute(PlerlPlan *p, const char *sql, PlerlValue *args, int32_t nargs,
				  int64_t limit, PlerlRows *out, PlerlError *err)
{
	MemoryContext plerl_guard_cxt;

	memset(out, 0, sizeof(*out));
	if (plerl_guard_refuse(err) || plerl_spi_connect(err) != 0)
	{
		/* Go handed the arguments over: free them whatever happens. */
		for (int i = 0; i < nargs; i++)
			plerl_value_free(&args[i]);
		return -1;
	}
	plerl_guard_cxt = CurrentMemoryContext;	/* SPI's procedure context, once connected */
	PG_TRY();
	{
		RowsPriv   *rp = rows_begin(out, plerl_guard_cxt);
		SPIExecuteOptions opts;
		int			r;

		MemoryContextSwitchTo(rp->cxt);
		memset(&opts, 0, sizeof(opts));
		opts.read_only = plerl_frame->readonly;
		opts.tcount = limit > 0 ? (uint64) limit : 0;
		if (p != NULL)
		{
			SPIPlanPtr	plan = ((PlanPriv *) p->priv)->plan;

			opts.params = params_make(p, args, nargs);
			opts.allow_nonatomic = plerl_frame->nonatomic && plan_is_call(plan);
			r = SPI_execute_plan_extended(plan, &opts);
		}
		else if (plerl_frame->nonatomic && looks_like_call(sql))
		{
			SPIPlanPtr	plan = SPI_prepare(sql, 0, NULL);

			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			opts.allow_nonatomic = plan_is_call(plan);
			r = SPI_execute_plan_extended(plan, &opts);
			SPI_freeplan(plan);
		}
		else
			r = SPI_execute_extended(sql, &opts);
		if (r == SPI_ERROR_TRANSACTION)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("transaction control statements are not allowed in spi.execute"),
					 errhint("Use spi.commit() and spi.rollback() in a procedure or DO block.")));
		if (r < 0)
			elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(r));
		out->status = r;
		/* SPI returns in its procedure context: back to the result's. */
		MemoryContextSwitchTo(rp->cxt);
		rows_take_tuptable(rp, out, p ? (PlanPriv *) p->priv : NULL);
		MemoryContextSwitchTo(plerl_guard_cxt);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		/* The tuple table, if any, is SPI's: freed with the connection. */
		if (out->priv)
			MemoryContextDelete(((RowsPriv *) out->priv)->cxt);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	PG_END_TRY();
	return 0;
}

int
plerl_spi_rows_free(PlerlRows *rows, PlerlError *err)
{
	RowsPriv   *rp = (RowsPriv *) rows->priv;

	PLERL_GUARD_ENTER_ALWAYS(err);	/* cleanup: also after a stashed error */
	if (rp == NULL)
		return 0;
	rows->priv = NULL;
	rows->values = NULL;
	PG_TRY();
	{
		if (rp->tuptable)
			SPI_freetuptable(rp->tuptable);
		MemoryContextDelete(rp->cxt);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

int
plerl_spi_cursor_open(PlerlPlan *p, PlerlValue *args, int32_t nargs, const char *want,
					  char **name, uint32_t *subid, PlerlError *err)
{
	volatile MemoryContext tmp = NULL;
	MemoryContext plerl_guard_cxt;

	*name = NULL;
	if (plerl_guard_refuse(err) || plerl_spi_connect(err) != 0)
	{
		/* Go handed the arguments over: free them whatever happens. */
		for (int i = 0; i < nargs; i++)
			plerl_value_free(&args[i]);
		return -1;
	}
	plerl_guard_cxt = CurrentMemoryContext;	/* SPI's procedure context, once connected */
	PG_TRY();
	{
		ParamListInfo li;
		Portal		portal;

		tmp = AllocSetContextCreate(plerl_guard_cxt, "plerl SPI cursor params", ALLOCSET_SMALL_SIZES);
		MemoryContextSwitchTo(tmp);
		li = params_make(p, args, nargs);
		/* The portal copies the parameters and, for an unkept plan, the plan. */
		portal = SPI_cursor_open_with_paramlist(want, ((PlanPriv *) p->priv)->plan, li,
												plerl_frame->readonly);
		if (portal == NULL)
			elog(ERROR, "SPI_cursor_open failed: %s", SPI_result_code_string(SPI_result));
		*subid = (uint32_t) portal->createSubid;
		*name = strdup(portal->name);
		if (*name == NULL)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
		MemoryContextSwitchTo(plerl_guard_cxt);
		MemoryContextDelete(tmp);
		tmp = NULL;
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		if (tmp)
			MemoryContextDelete(tmp);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

static Portal
cursor_find(const char *name)
{
	Portal		portal = SPI_cursor_find(name);

	if (portal == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_CURSOR_NAME),
				 errmsg("the cursor is closed"),
				 errhint("A cursor closes at the end of the transaction that opened it.")));
	return portal;
}

static FetchDirection
fetch_direction(int32_t dir)
{
	switch (dir)
	{
		case PLERL_FETCH_BACKWARD:
			return FETCH_BACKWARD;
		case PLERL_FETCH_ABSOLUTE:
			return FETCH_ABSOLUTE;
		case PLERL_FETCH_RELATIVE:
			return FETCH_RELATIVE;
		default:
			return FETCH_FORWARD;
	}
}

/*
 * Fetch count rows in a direction (as FETCH does: absolute and relative
 * fetch the one row at that position). A cursor not declared SCROLL
 * refuses anything but forward (PostgreSQL's 55000).
 */
int
plerl_spi_cursor_fetch(const char *name, int32_t dir, int64_t count, PlerlRows *out, PlerlError *err)
{
	memset(out, 0, sizeof(*out));
	PLERL_GUARD_ENTER(err);
	if (plerl_spi_connect(err) != 0)
		return -1;
	plerl_guard_cxt = CurrentMemoryContext;	/* SPI's procedure context, once connected */
	PG_TRY();
	{
		Portal		portal = cursor_find(name);
		RowsPriv   *rp = rows_begin(out, plerl_guard_cxt);

		MemoryContextSwitchTo(rp->cxt);
		SPI_scroll_cursor_fetch(portal, fetch_direction(dir), (long) count);
		out->status = SPI_OK_FETCH;
		MemoryContextSwitchTo(rp->cxt);
		rows_take_tuptable(rp, out, NULL);
		MemoryContextSwitchTo(plerl_guard_cxt);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		if (out->priv)
			MemoryContextDelete(((RowsPriv *) out->priv)->cxt);
		memset(out, 0, sizeof(*out));
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/* MOVE: *moved is the rows passed over (SPI_processed). */
int
plerl_spi_cursor_move(const char *name, int32_t dir, int64_t count, int64_t *moved, PlerlError *err)
{
	*moved = 0;
	PLERL_GUARD_ENTER(err);
	if (plerl_spi_connect(err) != 0)
		return -1;
	plerl_guard_cxt = CurrentMemoryContext;	/* SPI's procedure context, once connected */
	PG_TRY();
	{
		SPI_scroll_cursor_move(cursor_find(name), fetch_direction(dir), (long) count);
		*moved = (int64_t) SPI_processed;
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/* Whether a portal of that name is open (in this transaction). */
int
plerl_spi_cursor_exists(const char *name, int32_t *exists, PlerlError *err)
{
	*exists = 0;
	PLERL_GUARD_ENTER(err);
	if (plerl_spi_connect(err) != 0)
		return -1;
	plerl_guard_cxt = CurrentMemoryContext;	/* SPI's procedure context, once connected */
	PG_TRY();
	{
		*exists = SPI_cursor_find(name) != NULL;
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/* Closing a cursor that is already gone (transaction end) is not an error. */
int
plerl_spi_cursor_close(const char *name, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	if (plerl_spi_connect(err) != 0)
		return -1;
	plerl_guard_cxt = CurrentMemoryContext;	/* SPI's procedure context, once connected */
	PG_TRY();
	{
		Portal		portal = SPI_cursor_find(name);

		if (portal != NULL)
			SPI_cursor_close(portal);
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

int
plerl_spi_is_atomic(void)
{
	return plerl_frame == NULL || !plerl_frame->nonatomic;
}

/*
 * spi.commit() / spi.rollback(): only where PostgreSQL allows transaction
 * control (a procedure called by CALL, a DO block, outside an explicit
 * transaction block, with no subtransaction open). An error while
 * committing has already aborted the transaction and started a new one
 * (SPI's own handling); it is not catchable, since no subtransaction
 * holds it.
 */
int
plerl_spi_transaction(int32_t op, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	if (plerl_spi_is_atomic())
	{
		plerl_error_set(err, ERRCODE_INVALID_TRANSACTION_TERMINATION, "invalid transaction termination");
		err->hint = strdup("spi.commit() and spi.rollback() work only in a procedure called by CALL, "
						   "or in a DO block, outside an explicit transaction block; a procedure "
						   "with SET options or SECURITY DEFINER always runs atomic.");
		return -1;
	}
	if (plerl_spi_connect(err) != 0)
		return -1;
	PG_TRY();
	{
		bool		chain = (op & PLERL_TX_CHAIN) != 0;

		if (op & PLERL_TX_COMMIT)
		{
			if (chain)
				SPI_commit_and_chain();
			else
				SPI_commit();
		}
		else
		{
			if (chain)
				SPI_rollback_and_chain();
			else
				SPI_rollback();
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
