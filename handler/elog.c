/*
 * elog.c: errors across the boundary. In guards: capture a PostgreSQL
 * error (catchable inside a Lua pcall, else stashed for re-raise); after
 * Go returned: raise what Go reported, or the stash, unchanged. Also the
 * CONTEXT line that names the running plerl function, and elog for Lua.
 *
 * This is the only place that raises for Go: Go functions return a status
 * and plerl_raise() turns it into an ERROR after the cgo call has returned,
 * so no Go frame is ever between sigsetjmp and longjmp.
 */
#include "postgres.h"

#include <pthread.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "plerl_int.h"

/* Set while a stashed error waits to be re-raised: no database access. */
static ErrorData *stashed = NULL;

/* Holds captured errors; reset whenever no stash is live (ReThrowError
 * copies what it needs, so the stash may stay allocated until then). */
static MemoryContext stash_cxt = NULL;

/* The backend's own thread, recorded at load: guards refuse any other. */
static pthread_t backend_thread;

void
plerl_elog_init(void)
{
	backend_thread = pthread_self();
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void
plerl_error_free(PlerlError *err)
{
	free(err->message);
	free(err->detail);
	free(err->hint);
	free(err->context);
	err->message = err->detail = err->hint = err->context = NULL;
	err->kind = PLERL_OK;
}

void
plerl_error_set(PlerlError *err, int sqlerrcode, const char *msg)
{
	plerl_error_free(err);
	err->kind = PLERL_ERR;
	strlcpy(err->sqlstate, unpack_sql_state(sqlerrcode), sizeof(err->sqlstate));
	err->message = dup_or_null(msg);
}

bool
plerl_has_stash(void)
{
	return stashed != NULL;
}

/*
 * A captured error's CONTEXT without the lines plerl_errcontext added: an
 * error Lua catches and raises again is raised under the running call's
 * CONTEXT line once more, which must not then appear twice. malloc'd.
 */
static char *
context_without_ours(const char *context)
{
	char	   *out,
			   *o;
	const char *p = context;

	if (context == NULL)
		return NULL;
	out = o = malloc(strlen(context) + 1);
	if (out == NULL)
		return NULL;
	while (*p)
	{
		const char *nl = strchr(p, '\n');
		size_t		len = nl ? (size_t) (nl - p) : strlen(p);

		if (!(strncmp(p, "plerl function \"", 16) == 0 ||
			  (len == 14 && strncmp(p, "plerl DO block", 14) == 0)))
		{
			if (o != out)
				*o++ = '\n';
			memcpy(o, p, len);
			o += len;
		}
		p += len + (nl ? 1 : 0);
	}
	*o = '\0';
	if (o == out)
	{
		free(out);
		return NULL;
	}
	return out;
}

/*
 * Called in PG_CATCH of a guard, with CurrentMemoryContext restored. Copies
 * the error out of ErrorContext and decides whether Lua may catch it.
 */
void
plerl_capture(PlerlError *err)
{
	ErrorData  *edata;
	MemoryContext old;
	bool		catchable;

	if (stash_cxt == NULL)
		stash_cxt = AllocSetContextCreate(TopMemoryContext, "plerl errors",
										  ALLOCSET_SMALL_SIZES);
	else if (stashed == NULL)
		MemoryContextReset(stash_cxt);
	old = MemoryContextSwitchTo(stash_cxt);
	edata = CopyErrorData();
	FlushErrorState();
	MemoryContextSwitchTo(old);

	plerl_error_free(err);
	strlcpy(err->sqlstate, unpack_sql_state(edata->sqlerrcode), sizeof(err->sqlstate));
	err->message = dup_or_null(edata->message);
	err->detail = dup_or_null(edata->detail);
	err->hint = dup_or_null(edata->hint);
	err->context = context_without_ours(edata->context);

	catchable = plerl_subxact_depth > 0 &&
		edata->elevel == ERROR &&
		edata->sqlerrcode != ERRCODE_QUERY_CANCELED &&
		!ProcDiePending && !QueryCancelPending;
	if (catchable)
	{
		err->kind = PLERL_ERR;
		FreeErrorData(edata);
	}
	else
	{
		err->kind = PLERL_ERR_RETHROW;
		stashed = edata;		/* a newer error replaces an older one */
	}
}

/* A guard's first check: after an uncatchable error nothing may touch PG. */
bool
plerl_refuse_if_stashed(PlerlError *err)
{
	if (stashed == NULL)
		return false;
	plerl_error_free(err);
	err->kind = PLERL_ERR_RETHROW;
	strlcpy(err->sqlstate, unpack_sql_state(stashed->sqlerrcode), sizeof(err->sqlstate));
	err->message = dup_or_null(stashed->message);
	return true;
}

/* Counts guards, calls and transaction events (plerl.h). */
uint64_t	plerl_state_epoch = 1;

/*
 * Only the goroutine that entered from the backend's thread may call
 * PostgreSQL (another thread would run it concurrently with the backend):
 * a guard called on any other thread is refused without touching it.
 */
bool
plerl_guard_off_thread(PlerlError *err)
{
	if (likely(pthread_equal(pthread_self(), backend_thread)))
	{
		plerl_state_epoch++;	/* a guard may change anything (plerl.h) */
		return false;
	}
	plerl_error_free(err);
	err->kind = PLERL_ERR;
	strlcpy(err->sqlstate, "XX000", sizeof(err->sqlstate));
	err->message = strdup("plerl: a guard was called off the backend's thread");
	return true;
}

/* PLERL_GUARD_ENTER's check (plerl_int.h): the thread, then a stashed error. */
bool
plerl_guard_refuse(PlerlError *err)
{
	return plerl_guard_off_thread(err) || plerl_refuse_if_stashed(err);
}

/* Re-raise the stashed error (from C, after Go has returned). */
void
plerl_rethrow_stash(void)
{
	ErrorData  *edata = stashed;

	stashed = NULL;
	if (edata == NULL)
		elog(ERROR, "plerl: lost the error to re-raise");
	/* ReThrowError copies the strings; stash_cxt is reset on the next capture. */
	ReThrowError(edata);
}

/* Forget a stash left behind (transaction end, outermost call start). */
void
plerl_stash_reset(void)
{
	stashed = NULL;
	if (stash_cxt)
		MemoryContextReset(stash_cxt);
}

/*
 * Raise the error Go reported. Every path ends in ereport/ReThrowError.
 */
void
plerl_raise(PlerlError *err)
{
	char	   *msg = NULL,
			   *detail = NULL,
			   *hint = NULL,
			   *context = NULL;
	int			code;
	const char *s = err->sqlstate;

	/* An error stashed by a guard always wins: the transaction needs it. */
	if (err->kind == PLERL_ERR_RETHROW || plerl_has_stash())
	{
		plerl_error_free(err);
		plerl_rethrow_stash();
	}
	if (err->message)
		msg = pstrdup(err->message);
	if (err->detail)
		detail = pstrdup(err->detail);
	if (err->hint)
		hint = pstrdup(err->hint);
	if (err->context)
		context = pstrdup(err->context);
	if (err->kind == PLERL_ERR_CANCEL)
	{
		plerl_error_free(err);
		/* A cancel or timeout raises its own 57014 (or FATAL for die). */
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg_internal("%s", msg ? msg : "Lua execution was stopped")));
	}
	plerl_error_free(err);

	if (strlen(s) == 5 &&
		strspn(s, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 5)
		code = MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
	else
		code = ERRCODE_INTERNAL_ERROR;
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", msg ? msg : "unknown plerl error"),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0,
			 context ? errcontext("%s", context) : 0));
}

/*
 * The CONTEXT line of an error raised while a plerl call runs (pushed by
 * plerl_enter, popped by plerl_finish): which function, so a bare ERROR
 * from deep inside Lua or SPI still says where it came from. The Lua line
 * is in the message itself (name:line:) and in the traceback.
 */
void
plerl_errcontext(void *arg)
{
	const char *what = (const char *) arg;

	if (what)
		errcontext("plerl function \"%s\"", what);
	else
		errcontext("plerl DO block");
}

int
plerl_elog(int level, const char *msg, const char *detail, const char *hint, PlerlError *err)
{
	int			pglevel;

	PLERL_GUARD_ENTER(err);
	switch (level)
	{
		case PLERL_DEBUG:
			pglevel = DEBUG2;
			break;
		case PLERL_LOG:
			pglevel = LOG;
			break;
		case PLERL_NOTICE:
			pglevel = NOTICE;
			break;
		case PLERL_WARNING:
			pglevel = WARNING;
			break;
		default:
			pglevel = INFO;
			break;
	}
	PG_TRY();
	{
		ereport(pglevel,
				(errmsg_internal("%s", msg),
				 detail ? errdetail_internal("%s", detail) : 0,
				 hint ? errhint("%s", hint) : 0));
	}
	PG_CATCH();
	{
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}
