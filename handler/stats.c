/*
 * stats.c: what Go reports after each Erlang request (docs/monitoring.md):
 * the sample for plerl.stat_calls, handed to plerl.so's shared table
 * (PlerlSettings.stat_record, set only when plerl is preloaded; it never
 * raises), and the slow-request log line (plerl.log_min_duration), a guard.
 * Neither ever sees argument values or cookies.
 */
#include "postgres.h"

#include "miscadmin.h"

#include "plerl_int.h"

/*
 * Plain: never raises. Go calls it only if stat_record is set and tracking
 * is on. 0: the sample's handle is stale and it has no names (call again
 * with them); 1: counted (or dropped for want of room).
 */
int
plerl_stat_record(PlerlStatSample *sample)
{
	if (plerl_settings->stat_record != NULL)
		return plerl_settings->stat_record(sample);
	return 1;
}

static const char *const stat_kind_names[PLERL_STAT_NKINDS] = {"call", "send", "cast", "on_commit", "outbox"};

/*
 * The log line of a request slower than plerl.log_min_duration: like
 * log_min_duration_statement's, names only. sqlstate: "" if it succeeded.
 */
int
plerl_stat_log(const PlerlStatSample *s, const char *sqlstate, PlerlError *err)
{
	PLERL_GUARD_ENTER(err);
	PG_TRY();
	{
		const char *role = GetUserNameFromId((Oid) s->role, true);
		const char *kind = stat_kind_names[s->kind >= 0 && s->kind < PLERL_STAT_NKINDS ? s->kind : 0];
		const char *where = s->server && s->server[0] ? s->server : "(raw node)";

		if (s->kind == PLERL_STAT_CALL)
			ereport(LOG,
					(errmsg_internal("plerl: duration: %.3f ms  %s %s:%s/%d  role=%s server=%s node=%s%s%s",
									 s->ms, kind, s->module, s->function, (int) s->arity,
									 role ? role : "?", where, s->node,
									 sqlstate[0] ? " sqlstate=" : "", sqlstate),
					 errhidestmt(true), errhidecontext(true)));
		else
			ereport(LOG,
					(errmsg_internal("plerl: duration: %.3f ms  %s to %s  role=%s server=%s node=%s%s%s",
									 s->ms, kind, s->module,
									 role ? role : "?", where, s->node,
									 sqlstate[0] ? " sqlstate=" : "", sqlstate),
					 errhidestmt(true), errhidecontext(true)));
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
 * Plain: never raises. This backend's slot of plerl.stat_waits and
 * plerl.stat_nodes, or NULL (not preloaded). Go asks once and then writes
 * the slot with plain stores (plerl_shared.h has the protocol).
 */
PlerlBackendStat *
plerl_stat_backend(void)
{
	if (plerl_settings->stat_backend == NULL)
		return NULL;
	return plerl_settings->stat_backend();
}
