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
#include "storage/proc.h"
#include "storage/procarray.h"
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
	int64		bytes_sent;
	int64		bytes_received;
	int64		messages;
	int64		redelivered;
	int64		dead;
} StatEntry;

typedef struct StatShared
{
	LWLock	   *lock;
	uint64		gen;			/* bumped (lock exclusive) when an entry is removed: handles older than it are stale */
	slock_t		mutex;			/* dealloc, reset_time */
	int64		dealloc;
	TimestampTz reset_time;
} StatShared;

static int	stat_max = PLERL_DEFAULT_STAT_MAX;
static StatShared *shared = NULL;
static HTAB *stat_hash = NULL;
static PlerlSettings *stat_settings = NULL;
static PlerlBackendStat *backend_stats = NULL;	/* MaxBackends of them */
static PlerlBackendStat *my_backend_stat = NULL;

static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;

static Size
backend_stats_size(void)
{
	return mul_size(MaxBackends, sizeof(PlerlBackendStat));
}

static Size
stat_memsize(void)
{
	return add_size(add_size(MAXALIGN(sizeof(StatShared)),
							 hash_estimate_size(stat_max, sizeof(StatEntry))),
					backend_stats_size());
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
		shared->gen = 1;
		SpinLockInit(&shared->mutex);
		shared->dealloc = 0;
		shared->reset_time = GetCurrentTimestamp();
	}
	backend_stats = ShmemInitStruct("plerl backend stats", backend_stats_size(), &found);
	if (!found)
		memset(backend_stats, 0, backend_stats_size());
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
	shared->gen++;
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

/* Add sample s to entry e (e's spinlock taken here). */
static inline void
stat_add(StatEntry *e, const PlerlStatSample *s)
{
	double		old_mean;

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
	e->bytes_sent += s->bytes_sent;
	e->bytes_received += s->bytes_received;
	e->messages += s->messages;
	e->redelivered += s->redelivered;
	e->dead += s->dead;
	SpinLockRelease(&e->mutex);
}

/*
 * One sample from plerl_go.so. Never raises: no allocation (the hash is
 * fixed-size; HASH_ENTER_NULL returns NULL rather than raise), only an
 * LWLock and a spinlock. Must run on the backend's own thread (LWLocks are
 * per process): Go calls it from the goroutine that entered from the
 * backend.
 *
 * The fast path (nearly every request): s->entry is where this key was
 * counted before and s->gen the table's generation then; if no entry has
 * been removed since (the generation is unchanged, and cannot change while
 * we hold the lock shared), the entry is still this key's: count there,
 * no key built, no hashing. Otherwise, with names, the key is looked up
 * (or entered) and s->entry, s->gen set for next time; without names
 * (Go tries the handle first), 0: call again with them.
 */
static int
stat_record(PlerlStatSample *s)
{
	StatKey		key;
	StatEntry  *e;
	bool		found;

	if (shared == NULL || stat_hash == NULL || !stat_settings->stat_track)
		return 1;
	LWLockAcquire(shared->lock, LW_SHARED);
	if (s->entry != NULL && s->gen == shared->gen)
	{
		stat_add((StatEntry *) s->entry, s);
		LWLockRelease(shared->lock);
		return 1;
	}
	if (s->module == NULL)
	{
		LWLockRelease(shared->lock);
		return 0;
	}
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.role = s->role;
	key.kind = s->kind;
	key.arity = s->arity;
	copy_name(key.server, s->server, sizeof(key.server));
	copy_name(key.node, s->node, sizeof(key.node));
	copy_name(key.module, s->module, sizeof(key.module));
	copy_name(key.function, s->function, sizeof(key.function));

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
				s->entry = NULL;
				return 1;		/* no room: the sample is dropped */
			}
			if (!found)
			{
				memset((char *) e + offsetof(StatEntry, mutex), 0,
					   sizeof(StatEntry) - offsetof(StatEntry, mutex));
				SpinLockInit(&e->mutex);
			}
		}
	}
	stat_add(e, s);
	s->entry = e;
	s->gen = shared->gen;
	LWLockRelease(shared->lock);
	return 1;
}

/*
 * This backend's slot of plerl.stat_waits and plerl.stat_nodes, claimed
 * (cleared, marked with our pid) on first use. Plain: never raises, no
 * lock (only this backend writes its slot). NULL: not preloaded, or no
 * backend id (not a regular backend or worker).
 */
static PlerlBackendStat *
stat_backend(void)
{
	PlerlBackendStat *b;

	if (my_backend_stat != NULL)
		return my_backend_stat;
	if (backend_stats == NULL || MyBackendId < 1 || MyBackendId > MaxBackends)
		return NULL;
	b = &backend_stats[MyBackendId - 1];
	b->changecount++;
	pg_write_barrier();
	memset((char *) b + offsetof(PlerlBackendStat, pid), 0,
		   sizeof(PlerlBackendStat) - offsetof(PlerlBackendStat, pid));
	b->pid = MyProcPid;
	pg_write_barrier();
	b->changecount++;
	my_backend_stat = b;
	return b;
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
	settings->stat_backend = stat_backend;
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

static const char *const kind_names[PLERL_STAT_NKINDS] = {"call", "send", "cast", "on_commit", "outbox"};

#define STAT_CALLS_COLS 26

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
		values[i++] = Int64GetDatum(tmp.bytes_sent);
		values[i++] = Int64GetDatum(tmp.bytes_received);
		/* messages: sends, casts and the outbox; redeliveries, dead letters: the outbox */
		if (is_call)
			nulls[i++] = true;
		else
			values[i++] = Int64GetDatum(tmp.messages);
		if (tmp.key.kind == PLERL_STAT_OUTBOX)
		{
			values[i++] = Int64GetDatum(tmp.redelivered);
			values[i++] = Int64GetDatum(tmp.dead);
		}
		else
		{
			nulls[i++] = true;
			nulls[i++] = true;
		}
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
	shared->gen++;
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

/*
 * A consistent copy of backend i's slot, if a live backend owns it: false
 * if the slot is unused, its backend is gone, or it kept changing.
 */
static bool
backend_stat_copy(int i, PlerlBackendStat *out)
{
	PlerlBackendStat *b = &backend_stats[i];
	int			tries;

	for (tries = 0; tries < 1000; tries++)
	{
		uint32		before = b->changecount;

		pg_read_barrier();
		memcpy(out, b, sizeof(*out));
		pg_read_barrier();
		if (before == b->changecount && (before & 1) == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
	if (tries == 1000 || out->pid == 0)
		return false;
	/* a backend that exited leaves its slot behind: is its pid still ours? */
	return BackendPidGetProc(out->pid) != NULL;
}

static TimestampTz
unix_us_to_timestamptz(int64 us)
{
	return (TimestampTz) (us - ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC));
}

static const char *const wait_names[PLERL_WAIT_NKINDS] = {"", "connect", "call", "send", "receive", "ping"};

#define STAT_WAITS_COLS 5

/* plerl.stat_waits: what each backend waiting on Erlang waits for. */
PG_FUNCTION_INFO_V1(plerl_stat_waits);
Datum
plerl_stat_waits(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PlerlBackendStat *tmp;
	int			i;

	stat_require();
	InitMaterializedSRF(fcinfo, 0);
	tmp = palloc(sizeof(*tmp));
	for (i = 0; i < MaxBackends; i++)
	{
		Datum		values[STAT_WAITS_COLS];
		bool		nulls[STAT_WAITS_COLS];
		int			k;

		if (!backend_stat_copy(i, tmp))
			continue;
		k = tmp->wait_kind;
		if (k <= PLERL_WAIT_NONE || k >= PLERL_WAIT_NKINDS)
			continue;
		tmp->wait_server[sizeof(tmp->wait_server) - 1] = '\0';
		tmp->wait_node[sizeof(tmp->wait_node) - 1] = '\0';
		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(tmp->pid);
		values[1] = CStringGetTextDatum(wait_names[k]);
		if (tmp->wait_server[0])
			values[2] = CStringGetTextDatum(tmp->wait_server);
		else
			nulls[2] = true;
		values[3] = CStringGetTextDatum(tmp->wait_node);
		values[4] = TimestampTzGetDatum(unix_us_to_timestamptz(tmp->wait_since_us));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(tmp);
	return (Datum) 0;
}

#define STAT_NODES_COLS 14

/* plerl.stat_nodes: each backend's sessions, one row per (backend, node). */
PG_FUNCTION_INFO_V1(plerl_stat_nodes);
Datum
plerl_stat_nodes(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PlerlBackendStat *tmp;
	int			i,
				j;

	stat_require();
	InitMaterializedSRF(fcinfo, 0);
	tmp = palloc(sizeof(*tmp));
	for (i = 0; i < MaxBackends; i++)
	{
		if (!backend_stat_copy(i, tmp))
			continue;
		for (j = 0; j < PLERL_STAT_NODE_SLOTS; j++)
		{
			PlerlNodeSlot *n = &tmp->nodes[j];
			Datum		values[STAT_NODES_COLS];
			bool		nulls[STAT_NODES_COLS];
			int			c = 0;
			uint64		tick;

			n->node[sizeof(n->node) - 1] = '\0';
			if (!n->node[0])
				continue;
			n->server[sizeof(n->server) - 1] = '\0';
			n->state[sizeof(n->state) - 1] = '\0';
			n->member_state[sizeof(n->member_state) - 1] = '\0';
			n->last_error[sizeof(n->last_error) - 1] = '\0';
			memset(nulls, 0, sizeof(nulls));
			values[c++] = Int32GetDatum(tmp->pid);
			if (n->server[0])
				values[c++] = CStringGetTextDatum(n->server);
			else
				nulls[c++] = true;
			values[c++] = CStringGetTextDatum(n->node);
			values[c++] = CStringGetTextDatum(n->state);
			values[c++] = Int64GetDatum(n->connects);
			values[c++] = Int64GetDatum(n->connects > 1 ? n->connects - 1 : 0);
			values[c++] = Int64GetDatum(n->failures);
			if (n->since_us)
				values[c++] = TimestampTzGetDatum(unix_us_to_timestamptz(n->since_us));
			else
				nulls[c++] = true;
			if (n->last_error[0])
				values[c++] = CStringGetTextDatum(n->last_error);
			else
				nulls[c++] = true;
			if (n->last_error_us)
				values[c++] = TimestampTzGetDatum(unix_us_to_timestamptz(n->last_error_us));
			else
				nulls[c++] = true;
			if (n->last_rtt_ms >= 0)
				values[c++] = Float8GetDatum(n->last_rtt_ms);
			else
				nulls[c++] = true;
			if (n->member_state[0])
				values[c++] = CStringGetTextDatum(n->member_state);
			else
				nulls[c++] = true;
			/* written outside changecount (plerl_shared.h): one load from the slot */
			tick = *(volatile uint64 *) &backend_stats[i].nodes[j].tick_word;
			if (tick != 0)
			{
				uint64		us = tick & ((UINT64CONST(1) << PLERL_TICK_RTT_BITS) - 1);
				int64		secs = (int64) (tick >> PLERL_TICK_RTT_BITS);

				values[c++] = Float8GetDatum((double) us / 1000.0);
				values[c++] = TimestampTzGetDatum(unix_us_to_timestamptz(secs * USECS_PER_SEC));
			}
			else
			{
				nulls[c++] = true;
				nulls[c++] = true;
			}
			Assert(c == STAT_NODES_COLS);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
	}
	pfree(tmp);
	return (Datum) 0;
}
