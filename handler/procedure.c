/*
 * procedure.c: the per-backend cache of compiled functions (PlerlProc,
 * keyed by fn_oid, checked against pg_proc's xmin and tid), their build
 * (argument and result types, compiling the body in Go), and validation.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "plerl_int.h"
#include "_cgo_export.h"

typedef struct ProcEntry
{
	Oid			fn_oid;			/* hash key */
	PlerlProc  *proc;
} ProcEntry;

static HTAB *proc_cache = NULL;

/* Functions redefined while a call of them ran, to free (plerl_proc_release). */
static PlerlProc *retired_procs = NULL;

int			plerl_proc_uses = 0;

static void
proc_free(PlerlProc *proc)
{
	if (proc->use_count > 0)
	{
		/* Its call still reads its types and name: later. */
		proc->next_retired = retired_procs;
		retired_procs = proc;
		return;
	}
	if (proc->fn_id)
		plerlGoForget(proc->fn_id);
	plerl_callset_args -= proc->callset_args;
	MemoryContextDelete(proc->mcxt);
}

/*
 * The end of a top-level transaction with no plerl call on the stack (a
 * procedure's COMMIT runs inside its call): nothing uses any function, so
 * counts left up by calls that ended in errors go back to zero and the
 * functions redefined under a running call are freed.
 */
void
plerl_proc_release(void)
{
	if (plerl_proc_uses == 0 && retired_procs == NULL)
		return;					/* the usual case: every call ended normally */
	plerl_proc_uses = 0;
	if (proc_cache != NULL)
	{
		HASH_SEQ_STATUS seq;
		ProcEntry  *entry;

		hash_seq_init(&seq, proc_cache);
		while ((entry = hash_seq_search(&seq)) != NULL)
			if (entry->proc != NULL)
				entry->proc->use_count = 0;
	}
	while (retired_procs != NULL)
	{
		PlerlProc  *proc = retired_procs;

		retired_procs = proc->next_retired;
		proc->use_count = 0;
		proc_free(proc);
	}
}

static bool
is_lua_name(const char *s)
{
	static const char *const keywords[] = {
		"and", "break", "do", "else", "elseif", "end", "false", "for",
		"function", "goto", "if", "in", "local", "nil", "not", "or",
		"repeat", "return", "then", "true", "until", "while", NULL
	};

	if (s == NULL || *s == '\0' || !(isalpha((unsigned char) *s) || *s == '_'))
		return false;
	for (const char *p = s; *p; p++)
		if (!(isalnum((unsigned char) *p) || *p == '_'))
			return false;
	for (int i = 0; keywords[i]; i++)
		if (strcmp(s, keywords[i]) == 0)
			return false;
	return true;
}

/*
 * Build (and compile) the cache entry for a function. Raises on error.
 */
static PlerlProc *
proc_build(HeapTuple tup, Oid fn_oid, bool trusted, bool validate_only)
{
	Form_pg_proc pp = (Form_pg_proc) GETSTRUCT(tup);
	MemoryContext mcxt,
				old;
	PlerlProc  *proc;
	Oid		   *types;
	char	  **names;
	char	   *modes;
	int			n;
	Datum		srcdatum;
	bool		isnull;
	char	   *src;
	PlerlCompile cc;
	const char **argnames;
	int			nargs_lua = 0;

	mcxt = AllocSetContextCreate(TopMemoryContext, "plerl function",
								 ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		proc = palloc0(sizeof(PlerlProc));
		proc->mcxt = mcxt;
		proc->fn_oid = fn_oid;
		proc->fn_xmin = HeapTupleHeaderGetRawXmin(tup->t_data);
		proc->fn_tid = tup->t_self;
		proc->trusted = trusted;
		proc->retset = pp->proretset;
		proc->name = pstrdup(NameStr(pp->proname));

		n = get_func_arg_info(tup, &types, &names, &modes);
		proc->nargs = 0;
		proc->args = palloc0(sizeof(PlerlType) * Max(n, 1));
		argnames = palloc0(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			char		mode = modes ? modes[i] : PROARGMODE_IN;

			if (mode == PROARGMODE_OUT || mode == PROARGMODE_TABLE)
				continue;
			plerl_type_init(&proc->args[proc->nargs], types[i], -1, false, mcxt);
			if (names && names[i] && is_lua_name(names[i]))
				argnames[proc->nargs] = names[i];
			proc->nargs++;
		}
		if (pp->provariadic == ANYOID && proc->nargs > 0)
		{
			/*
			 * VARIADIC "any": each call passes its variadic arguments one by
			 * one, of any types; the body gets them as the `...` after its
			 * named arguments (as in pllua), the variadic one has no name.
			 */
			proc->variadic_any = true;
			argnames[proc->nargs - 1] = NULL;
		}
		if (pp->prorettype == TRIGGEROID || pp->prorettype == EVENT_TRIGGEROID)
		{
			/*
			 * The trigger object is the first argument, named trigger; a DML
			 * trigger's body also gets old, new and the trigger's arguments
			 * as ... (Go knows them by PLERL_TRIGGER).
			 */
			argnames[0] = "trigger";
			nargs_lua = 1;
		}
		if (pp->proretset)
		{
			/*
			 * Set-returning: the row type (composite, RECORD, polymorphic) is
			 * resolved per call from the call site (srf.c).
			 */
			proc->readonly = pp->provolatile != PROVOLATILE_VOLATILE;
			proc->ret.oid = pp->prorettype;
			proc->ret.kind = PLT_VOID;
		}
		else
			plerl_proc_init_result(proc, tup, mcxt);

		srcdatum = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
		if (isnull)
			elog(ERROR, "plerl: null prosrc");
		src = TextDatumGetCString(srcdatum);

		memset(&cc, 0, sizeof(cc));
		cc.src = src;
		cc.srclen = strlen(src);
		cc.name = proc->name;
		cc.nargs = proc->variadic_any ? proc->nargs - 1 : Max(proc->nargs, nargs_lua);
		cc.argnames = argnames;
		cc.flags = (trusted ? PLERL_TRUSTED : 0) | (validate_only ? PLERL_VALIDATE_ONLY : 0) |
			(pp->prorettype == TRIGGEROID ? PLERL_TRIGGER : 0) |
			(proc->variadic_any ? PLERL_VARIADIC_ANY : 0);
		plerlGoCompile(&cc);
		if (cc.err.kind != PLERL_OK)
			plerl_raise(&cc.err);
		proc->fn_id = cc.fn_id;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		MemoryContextDelete(mcxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	return proc;
}

/*
 * A one-entry memo in front of the cache: a query calling one function for
 * many rows skips the pg_proc lookup. Any pg_proc invalidation (CREATE OR
 * REPLACE here or in another session, once we process it) bumps the
 * generation, which sends the next call through the full check below, just
 * as soon as a syscache lookup would have seen the new row.
 */
static uint64 proc_generation = 1;

static Oid	memo_oid = InvalidOid;

static PlerlProc *memo_proc = NULL;

static uint64 memo_generation = 0;

static void
proc_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	proc_generation++;
}

void
plerl_proc_cache_init(void)
{
	CacheRegisterSyscacheCallback(PROCOID, proc_invalidate, (Datum) 0);
}

PlerlProc *
plerl_proc_get(Oid fn_oid, bool trusted)
{
	HeapTuple	tup;
	ProcEntry  *entry;
	bool		found;
	PlerlProc  *proc;

	if (fn_oid == memo_oid && memo_generation == proc_generation &&
		memo_proc->trusted == trusted)
		return memo_proc;
	memo_oid = InvalidOid;

	if (proc_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(ProcEntry);
		proc_cache = hash_create("plerl functions", 128, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);

	entry = hash_search(proc_cache, &fn_oid, HASH_ENTER, &found);
	if (!found)
		entry->proc = NULL;
	proc = entry->proc;
	/* CREATE OR REPLACE changes the row version: recompile at once. */
	if (proc != NULL &&
		proc->fn_xmin == HeapTupleHeaderGetRawXmin(tup->t_data) &&
		ItemPointerEquals(&proc->fn_tid, &tup->t_self))
	{
		ReleaseSysCache(tup);
		memo_oid = fn_oid, memo_proc = proc, memo_generation = proc_generation;
		return proc;
	}
	if (proc != NULL)
	{
		entry->proc = NULL;
		proc_free(proc);
	}
	PG_TRY();
	{
		proc = proc_build(tup, fn_oid, trusted, false);
	}
	PG_FINALLY();
	{
		ReleaseSysCache(tup);
	}
	PG_END_TRY();
	entry->proc = proc;
	memo_oid = fn_oid, memo_proc = proc, memo_generation = proc_generation;
	return proc;
}

/* CREATE FUNCTION: check types and compile the body, keeping nothing. */
void
plerl_proc_validate(Oid fn_oid, bool trusted)
{
	HeapTuple	tup;
	PlerlProc  *proc;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	proc = proc_build(tup, fn_oid, trusted, true);
	ReleaseSysCache(tup);
	proc_free(proc);
}

int32_t
plerl_call_flags(PlerlProc *proc, FunctionCallInfo fcinfo)
{
	int32_t		flags = proc->trusted ? PLERL_TRUSTED : 0;

	if (fcinfo && fcinfo->context && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic)
		flags |= PLERL_NONATOMIC;
	if (proc->readonly)
		flags |= PLERL_READONLY;
	return flags;
}
