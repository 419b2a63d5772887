/*
 * stats.c (in plerl.so, pure C): plerl's call statistics in shared memory,
 * and the settings that go with them (docs/monitoring.md).
 *
 * Only when plerl is in shared_preload_libraries: _PG_init calls
 * plerl_stats_init, which asks for shared memory (shmem_request_hook, PG15)
 * and sets it up at startup (shmem_startup_hook): a fixed-size shared hash
 * of plerl.stat_max entries under one LWLock, each entry's counters under
 * its own spinlock (the design of contrib/pg_stat_statements). When the
 * table is full, the entry with the fewest requests is evicted to make
 * room for a new one (and counted in plerl.stat_info's dealloc).
 *
 * plerl_go.so reports samples through PlerlSettings.stat_record
 * (stat_record below): a plain function that never raises, so Go may call
 * it directly. Without preloading, stat_record stays NULL, nothing is
 * counted, and the views raise a clear error (plerl_stat_info does not).
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "../handler/plerl_shared.h"
#include "stats.h"

typedef struct StatKey
{
	Oid			dbid;
	Oid			role;
	int32		kind;
	int32		arity;
	char		server[PLERL_STAT_SERVERLEN];
	char		node[PLERL_STAT_NAMELEN];
	char		module[PLERL_STAT_NAMELEN];
	char		function[PLERL_STAT_NAMELEN];
} StatKey;

typedef struct StatEntry
{
	StatKey		key;			/* hash key: must be first */
	slock_t		mutex;			/* protects the counters */
	int64		calls;
	int64		outcomes[PLERL_STAT_NOUTCOMES];
	double		total_ms;
	double		min_ms;
	double		max_ms;
	double		mean_ms;		/* Welford, as pg_stat_statements */
	double		sum_var_ms;
} StatEntry;

typedef struct StatShared
{
	LWLock	   *lock;
	slock_t		mutex;			/* dealloc, reset_time */
	int64		dealloc;
	TimestampTz reset_time;
} StatShared;

static int	stat_max = PLERL_DEFAULT_STAT_MAX;
static StatShared *shared = NULL;
static HTAB *stat_hash = NULL;
static PlerlSettings *stat_settings = NULL;

static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

static Size
stat_memsize(void)
{
	return add_size(MAXALIGN(sizeof(StatShared)),
					hash_estimate_size(stat_max, sizeof(StatEntry)));
}

static void
stat_shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(stat_memsize());
	RequestNamedLWLockTranche("plerl_stats", 1);
}

static void
stat_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("plerl stats", sizeof(StatShared), &found);
	if (!found)
	{
		shared->lock = &(GetNamedLWLockTranche("plerl_stats"))->lock;
		SpinLockInit(&shared->mutex);
		shared->dealloc = 0;
		shared->reset_time = GetCurrentTimestamp();
	}
	info.keysize = sizeof(StatKey);
	info.entrysize = sizeof(StatEntry);
	stat_hash = ShmemInitHash("plerl stats hash", stat_max, stat_max, &info,
							  HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/* Evict the entry with the fewest requests. Exclusive lock held. */
static void
stat_evict_one(void)
{
	HASH_SEQ_STATUS seq;
	StatEntry  *e,
			   *victim = NULL;

	hash_seq_init(&seq, stat_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (victim == NULL || e->calls < victim->calls)
			victim = e;
	if (victim == NULL)
		return;
	hash_search(stat_hash, &victim->key, HASH_REMOVE, NULL);
	SpinLockAcquire(&shared->mutex);
	shared->dealloc++;
	SpinLockRelease(&shared->mutex);
}

static void
copy_name(char *dst, const char *src, size_t size)
{
	if (src)
		strlcpy(dst, src, size);
}

/*
 * One sample from plerl_go.so. Never raises: no allocation (the hash is
 * fixed-size; HASH_ENTER_NULL returns NULL rather than raise), only an
 * LWLock and a spinlock. Must run on the backend's own thread (LWLocks are
 * per process): Go calls it from the goroutine that entered from the
 * backend.
 */
static void
stat_record(const PlerlStatSample *s)
{
	StatKey		key;
	StatEntry  *e;
	bool		found;
	double		old_mean;

	if (shared == NULL || stat_hash == NULL || !stat_settings->stat_track)
		return;
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.role = s->role;
	key.kind = s->kind;
	key.arity = s->arity;
	copy_name(key.server, s->server, sizeof(key.server));
	copy_name(key.node, s->node, sizeof(key.node));
	copy_name(key.module, s->module, sizeof(key.module));
	copy_name(key.function, s->function, sizeof(key.function));

	LWLockAcquire(shared->lock, LW_SHARED);
	e = hash_search(stat_hash, &key, HASH_FIND, NULL);
	if (e == NULL)
	{
		LWLockRelease(shared->lock);
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		e = hash_search(stat_hash, &key, HASH_FIND, NULL);
		if (e == NULL)
		{
			if (hash_get_num_entries(stat_hash) >= stat_max)
				stat_evict_one();
			e = hash_search(stat_hash, &key, HASH_ENTER_NULL, &found);
			if (e == NULL)
			{
				LWLockRelease(shared->lock);
				return;			/* no room: the sample is dropped */
			}
			if (!found)
			{
				memset((char *) e + offsetof(StatEntry, mutex), 0,
					   sizeof(StatEntry) - offsetof(StatEntry, mutex));
				SpinLockInit(&e->mutex);
			}
		}
	}
	SpinLockAcquire(&e->mutex);
	e->calls++;
	if (s->outcome >= 0 && s->outcome < PLERL_STAT_NOUTCOMES)
		e->outcomes[s->outcome]++;
	else
		e->outcomes[PLERL_STAT_OTHER]++;
	e->total_ms += s->ms;
	if (e->calls == 1 || s->ms < e->min_ms)
		e->min_ms = s->ms;
	if (e->calls == 1 || s->ms > e->max_ms)
		e->max_ms = s->ms;
	old_mean = e->mean_ms;
	e->mean_ms += (s->ms - old_mean) / e->calls;
	e->sum_var_ms += (s->ms - old_mean) * (s->ms - e->mean_ms);
	SpinLockRelease(&e->mutex);
	LWLockRelease(shared->lock);
}

void
plerl_stats_init(PlerlSettings *settings)
{
	stat_settings = settings;
	DefineCustomBoolVariable("plerl.stat_track",
							 "Count Erlang requests in plerl.stat_calls.",
							 "Needs plerl in shared_preload_libraries.",
							 &settings->stat_track, PLERL_DEFAULT_STAT_TRACK,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plerl.log_min_duration",
							"Log Erlang requests that took at least this long (-1: off).",
							"The line names role, server, node, module:function/arity and the duration, never argument values.",
							&settings->log_min_duration_ms, PLERL_DEFAULT_LOG_MIN_DURATION_MS, -1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	/* PGC_POSTMASTER may only be defined while preloading (FATAL after). */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("plerl.stat_max",
							"Entries plerl.stat_calls keeps (the least used is evicted beyond it).",
							NULL, &stat_max, PLERL_DEFAULT_STAT_MAX, 100, INT_MAX / 2,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = stat_shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = stat_shmem_startup;
	settings->stat_record = stat_record;
}

static void
stat_require(void)
{
	if (shared == NULL || stat_hash == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("plerl statistics need plerl in shared_preload_libraries"),
				 errdetail("plerl was loaded without shared_preload_libraries, so no Erlang request is being counted."),
				 errhint("Add plerl to shared_preload_libraries and restart the server; plerl.stat_info shows whether statistics are on.")));
}

static const char *const kind_names[PLERL_STAT_NKINDS] = {"call", "send", "cast", "outbox"};

#define STAT_CALLS_COLS 21

PG_FUNCTION_INFO_V1(plerl_stat_calls);
Datum
plerl_stat_calls(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	StatEntry  *e;

	stat_require();
	InitMaterializedSRF(fcinfo, 0);
	LWLockAcquire(shared->lock, LW_SHARED);
	hash_seq_init(&seq, stat_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[STAT_CALLS_COLS];
		bool		nulls[STAT_CALLS_COLS];
		StatEntry	tmp;
		int			i = 0;
		int64		errors;
		bool		is_call = e->key.kind == PLERL_STAT_CALL;

		SpinLockAcquire(&e->mutex);
		tmp = *e;
		SpinLockRelease(&e->mutex);
		memset(nulls, 0, sizeof(nulls));
		errors = tmp.calls - tmp.outcomes[PLERL_STAT_OK];

		values[i++] = ObjectIdGetDatum(tmp.key.dbid);
		values[i++] = ObjectIdGetDatum(tmp.key.role);
		if (tmp.key.server[0])
			values[i++] = CStringGetTextDatum(tmp.key.server);
		else
			nulls[i++] = true;
		values[i++] = CStringGetTextDatum(tmp.key.node);
		values[i++] = CStringGetTextDatum(kind_names[tmp.key.kind >= 0 && tmp.key.kind < PLERL_STAT_NKINDS ? tmp.key.kind : 0]);
		values[i++] = CStringGetTextDatum(tmp.key.module);
		if (is_call)
		{
			values[i++] = CStringGetTextDatum(tmp.key.function);
			values[i++] = Int32GetDatum(tmp.key.arity);
		}
		else
		{
			nulls[i++] = true;
			nulls[i++] = true;
		}
		values[i++] = Int64GetDatum(tmp.calls);
		values[i++] = Int64GetDatum(errors);
		values[i++] = Int64GetDatum(tmp.outcomes[PLERL_STAT_TIMEOUT]);
		values[i++] = Int64GetDatum(tmp.outcomes[PLERL_STAT_NODE_DOWN]);
		values[i++] = Int64GetDatum(tmp.outcomes[PLERL_STAT_REMOTE]);
		values[i++] = Int64GetDatum(tmp.outcomes[PLERL_STAT_REFUSED]);
		values[i++] = Int64GetDatum(tmp.outcomes[PLERL_STAT_CANCELLED]);
		values[i++] = Int64GetDatum(tmp.outcomes[PLERL_STAT_OTHER]);
		values[i++] = Float8GetDatum(tmp.total_ms);
		values[i++] = Float8GetDatum(tmp.min_ms);
		values[i++] = Float8GetDatum(tmp.max_ms);
		values[i++] = Float8GetDatum(tmp.mean_ms);
		/* population standard deviation, as pg_stat_statements */
		values[i++] = Float8GetDatum(tmp.calls > 1 ? sqrt(tmp.sum_var_ms / tmp.calls) : 0.0);
		Assert(i == STAT_CALLS_COLS);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(shared->lock);
	return (Datum) 0;
}

/* Empty the table. EXECUTE is for superusers and plerl_admin (plerl--1.0.sql). */
PG_FUNCTION_INFO_V1(plerl_stat_reset);
Datum
plerl_stat_reset(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS seq;
	StatEntry  *e;

	stat_require();
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, stat_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		hash_search(stat_hash, &e->key, HASH_REMOVE, NULL);
	SpinLockAcquire(&shared->mutex);
	shared->dealloc = 0;
	shared->reset_time = GetCurrentTimestamp();
	SpinLockRelease(&shared->mutex);
	LWLockRelease(shared->lock);
	PG_RETURN_VOID();
}

/* Whether statistics are on, never an error: for monitoring to check first. */
PG_FUNCTION_INFO_V1(plerl_stat_info);
Datum
plerl_stat_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6];
	bool		on = shared != NULL && stat_hash != NULL;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "plerl_stat_info: return type must be a row type");
	memset(nulls, 0, sizeof(nulls));
	values[0] = BoolGetDatum(on);
	values[1] = BoolGetDatum(on && stat_settings->stat_track);
	values[2] = Int32GetDatum(stat_max);
	if (on)
	{
		LWLockAcquire(shared->lock, LW_SHARED);
		values[3] = Int64GetDatum(hash_get_num_entries(stat_hash));
		LWLockRelease(shared->lock);
		SpinLockAcquire(&shared->mutex);
		values[4] = Int64GetDatum(shared->dealloc);
		values[5] = TimestampTzGetDatum(shared->reset_time);
		SpinLockRelease(&shared->mutex);
	}
	else
		nulls[3] = nulls[4] = nulls[5] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
