/*
 * erlang.c: the erlang_* SQL functions, and the checks every Erlang request
 * passes before anything is sent: which node a name means (a plerl foreign
 * server, or a raw node name for admins), USAGE on the server, the user
 * mapping's cookie, the allow-list (allow.c), EXECUTE on the SQL function a
 * Lua call stands for (the guard Lua's erlang.* calls), and never from a
 * parallel worker.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "executor/spi.h"

#include "plerl_int.h"
#include "_cgo_export.h"

/* ---- resolving a target ---- */

static bool
is_plerl_server(ForeignServer *server)
{
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);

	return strcmp(fdw->fdwname, "plerl") == 0;
}

static char *
option_value(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);

		if (strcmp(d->defname, name) == 0)
			return defGetString(d);
	}
	return NULL;
}

static bool
is_admin(void)
{
	Oid			admin = get_role_oid("plerl_admin", true);

	return superuser() || (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));
}

/*
 * A raw node name must be alive@host: one '@', both parts non-empty, at
 * most 255 bytes (it becomes an atom), as a server's node option must.
 * 22023, not a failed connect (08001) or a missing session (08003).
 */
static void
check_node_name(const char *node)
{
	const char *at = strchr(node, '@');
	size_t		len = strlen(node);

	if (at == NULL || at == node || at[1] == '\0' || strchr(at + 1, '@') != NULL || len > 255)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid node name \"%.*s%s\": expected name@host of at most 255 bytes",
						pg_mbcliplen(node, len, 64), node, len > 64 ? "..." : "")));
}

/*
 * Erlang from a parallel worker is refused: a worker's transaction events
 * are not its query's (XACT_EVENT_PARALLEL_COMMIT is the worker finishing,
 * even if the leader then rolls back), and its connections and mailboxes
 * would outlive nothing useful.
 */
static void
refuse_parallel_worker(void)
{
	if (IsParallelWorker())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("plerl cannot reach Erlang nodes from a parallel worker"),
				 errhint("Mark the function PARALLEL UNSAFE (the default), or RESTRICTED.")));
}

/*
 * Resolve target (a plerl server name, or a raw node name containing '@')
 * and check the caller may send module:function/arity there. module is NULL
 * when no allow-list check applies (ping, disconnect). Raises.
 */
static void
erl_resolve(const char *target, const char *module, const char *function, int arity,
			PlerlErlTarget *out)
{
	memset(out, 0, sizeof(*out));
	refuse_parallel_worker();
	out->role = (uint32_t) GetUserId();
	if (strchr(target, '@') == NULL)
	{
		ForeignServer *server = GetForeignServerByName(target, true);
		UserMapping *um;
		char	   *tls;
		char	   *nodes;

		if (server == NULL || !is_plerl_server(server))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("no plerl server named \"%s\"", target),
					 errhint("Create one with CREATE SERVER %s FOREIGN DATA WRAPPER plerl OPTIONS (node 'name@host'), or pass a node name that contains '@'.", quote_identifier(target))));
		if (pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for foreign server %s", server->servername)));
		out->server = pstrdup(server->servername);
		out->node = option_value(server->options, "node");
		nodes = option_value(server->options, "nodes");
		if (out->node == NULL && nodes != NULL)
		{
			List	   *members = plerl_fdw_split_nodes(nodes);
			ListCell   *lc;
			int			i = 0;

			out->nmembers = list_length(members);
			out->members = palloc(sizeof(char *) * out->nmembers);
			foreach(lc, members)
				out->members[i++] = (char *) lfirst(lc);
			out->node = out->members[0];
			out->balance = option_value(server->options, "balance");
			if (out->balance == NULL)
				out->balance = "round_robin";
		}
		if (out->node == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("plerl server \"%s\" has no node or nodes option", server->servername)));
		tls = option_value(server->options, "tls");
		out->tls = tls && (strcmp(tls, "on") == 0 || strcmp(tls, "true") == 0);
		out->tls_ca = option_value(server->options, "tls_ca");
		out->tls_cert = option_value(server->options, "tls_cert");
		out->tls_key = option_value(server->options, "tls_key");
		out->tls_server_name = option_value(server->options, "tls_server_name");
		um = GetUserMapping(GetUserId(), server->serverid);
		out->cookie = option_value(um->options, "cookie");
		if (out->cookie == NULL || out->cookie[0] == '\0')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("the user mapping for server \"%s\" has no cookie", server->servername)));
		if (module)
		{
			out->module = pstrdup(module);
			out->function = pstrdup(function);
			plerl_allow_check(server->servername, module, function, arity, out);
		}
		return;
	}
	if (!is_admin())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("reaching a raw node name requires membership in plerl_admin"),
				 errhint("Name a plerl foreign server instead (CREATE SERVER ... FOREIGN DATA WRAPPER plerl).")));
	check_node_name(target);
	out->node = pstrdup(target);
	if (module)
	{
		out->module = pstrdup(module);
		out->function = pstrdup(function);
	}
}

/*
 * The schema plerl was created in (InvalidOid if it is not). The functions
 * whose EXECUTE privilege Lua's erlang.* calls require are looked up there,
 * never through search_path, where anyone could put a function of the same
 * name and signature that they may execute.
 */
static Oid
plerl_extension_schema(void)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("plerl"));
	rel = table_open(ExtensionRelationId, AccessShareLock);
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

/*
 * The guard functions' oids (erlang_cast() etc. in the extension's schema),
 * per op, cached for the backend: finding them scans pg_extension and
 * looks the name up, which was a tenth of an enqueue. Any change to
 * pg_proc or pg_namespace (DROP or CREATE EXTENSION, ALTER ... SET SCHEMA,
 * a function created anywhere) empties the cache; the EXECUTE privilege
 * itself is checked on every call.
 */
#define GUARD_FN_OPS 16
static Oid	guard_fn_cache[GUARD_FN_OPS];
static bool guard_fn_callbacks = false;

static void
guard_fn_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	memset(guard_fn_cache, 0, sizeof(guard_fn_cache));
}

static Oid
guard_fn(int op, const char *fname, int nargs, Oid *argtypes)
{
	Oid			nsp;
	Oid			fn;

	if (!guard_fn_callbacks)
	{
		CacheRegisterSyscacheCallback(PROCOID, guard_fn_invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, guard_fn_invalidate, (Datum) 0);
		guard_fn_callbacks = true;
	}
	if (op >= 0 && op < GUARD_FN_OPS && OidIsValid(guard_fn_cache[op]))
		return guard_fn_cache[op];
	nsp = plerl_extension_schema();
	fn = !OidIsValid(nsp) ? InvalidOid :
		LookupFuncName(list_make2(makeString(get_namespace_name(nsp)), makeString(pstrdup(fname))),
					   nargs, argtypes, true);
	if (OidIsValid(fn) && op >= 0 && op < GUARD_FN_OPS)
		guard_fn_cache[op] = fn;
	return fn;
}

/* Short-lived strings for the guarded resolve: reset on each call; Go copies them at once. */
static MemoryContext resolve_cxt = NULL;

/*
 * The guard Lua's erlang.* calls. lua_op names the SQL function whose
 * EXECUTE privilege the Lua call requires (same rule as from SQL). as_user,
 * when valid, is the role to check as instead of the current one: a send
 * deferred to COMMIT is checked again as the role that queued it (which a
 * SECURITY DEFINER function may have made differ from the role at COMMIT).
 */
int
plerl_erl_resolve_as_guarded(uint32_t as_user, const char *target, const char *module,
							 const char *function, int arity, int lua_op,
							 PlerlErlTarget *out, PlerlError *err)
{
	Oid			save_user;
	int			save_sec;
	volatile bool switched = false;

	PLERL_GUARD_ENTER(err);
	GetUserIdAndSecContext(&save_user, &save_sec);
	PG_TRY();
	{
		const char *fname;
		int			nargs;
		Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID};
		Oid			fn;

		refuse_parallel_worker();
		if (OidIsValid((Oid) as_user) && (Oid) as_user != save_user)
		{
			SetUserIdAndSecContext((Oid) as_user, save_sec | SECURITY_LOCAL_USERID_CHANGE);
			switched = true;
		}
		if (resolve_cxt == NULL)
			resolve_cxt = AllocSetContextCreate(TopMemoryContext, "plerl resolve",
												ALLOCSET_SMALL_SIZES);
		MemoryContextReset(resolve_cxt);
		MemoryContextSwitchTo(resolve_cxt);
		switch (lua_op)
		{
			case PLERL_ERL_CONNECT:
				fname = "erlang_connect", nargs = 2;
				break;
			case PLERL_ERL_SEND:
				fname = "erlang_send", nargs = 3;
				argtypes[2] = JSONBOID;
				break;
			case PLERL_ERL_CAST:
				fname = "erlang_cast", nargs = 3;
				argtypes[2] = JSONBOID;
				break;
			case PLERL_ERL_PING:
				fname = "erlang_ping", nargs = 1;
				break;
			case PLERL_ERL_DISCONNECT:
				fname = "erlang_disconnect", nargs = 1;
				break;
			default:
				fname = "erlang_call", nargs = 4;
				break;
		}
		fn = guard_fn(lua_op, fname, nargs, argtypes);
		if (!OidIsValid(fn) || pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied: erlang.%s needs EXECUTE on %s()",
							lua_op == PLERL_ERL_CALL ? "call" : fname + strlen("erlang_"), fname),
					 errhint("Grant the role plerl_caller.")));
		if (lua_op != PLERL_ERL_CONNECT)
			erl_resolve(target, module, function, arity, out);
		else
			check_node_name(target);
		if (switched)
			SetUserIdAndSecContext(save_user, save_sec);
		MemoryContextSwitchTo(plerl_guard_cxt);
	}
	PG_CATCH();
	{
		if (switched)
			SetUserIdAndSecContext(save_user, save_sec);
		PLERL_GUARD_CAPTURE(err);
		return -1;
	}
	PG_END_TRY();
	return 0;
}

/* ---- SQL functions ---- */

static char *
text_arg(FunctionCallInfo fcinfo, int i, const char *what)
{
	if (PG_ARGISNULL(i))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(i));
}

static void
erl_go(PlerlErlReq *req)
{
	refuse_parallel_worker();
	plerl_call_depth++;
	plerlGoErlang(req);
	plerl_call_depth--;
	if (req->err.kind != PLERL_OK || plerl_has_stash())
		plerl_raise(&req->err);
	CHECK_FOR_INTERRUPTS();
}

static Datum
erl_call(FunctionCallInfo fcinfo)
{
	PlerlErlReq req;
	char	   *target = text_arg(fcinfo, 0, "node");
	char	   *module = text_arg(fcinfo, 1, "module");
	char	   *function = text_arg(fcinfo, 2, "function");
	Jsonb	   *args = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	char	   *json = "[]";
	int			arity = 0;
	Datum		result;

	if (args)
	{
		if (!JB_ROOT_IS_ARRAY(args) || JB_ROOT_IS_SCALAR(args))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("erlang_call arguments must be a JSON array, one element per argument"),
					 errhint("For one argument x, pass jsonb_build_array(x).")));
		arity = JB_ROOT_COUNT(args);
		json = JsonbToCString(NULL, &args->root, VARSIZE(args));
	}
	memset(&req, 0, sizeof(req));
	req.op = PLERL_ERL_CALL;
	req.timeout_ms = -1;
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
	{
		req.timeout_ms = PG_GETARG_INT32(4);
		if (req.timeout_ms < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout_ms must be zero (no timeout) or positive")));
	}
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
	{
		Jsonb	   *opts = PG_GETARG_JSONB_P(5);

		if (!JB_ROOT_IS_OBJECT(opts))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("erlang_call options must be a JSON object"),
					 errhint("Known options: retry (boolean), key (string).")));
		req.options = JsonbToCString(NULL, &opts->root, VARSIZE(opts));
	}
	erl_resolve(target, module, function, arity, &req.target);
	req.module = module;
	req.function = function;
	req.json = json;
	req.jsonlen = strlen(json);
	erl_go(&req);
	{
		/* Go made the JSON text (malloc'd); jsonb_in validates it. */
		char	   *s = pnstrdup(req.result.p ? req.result.p : "null", req.result.len);

		free(req.result.p);
		result = DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
	}
	return result;
}

static Datum
erl_message(FunctionCallInfo fcinfo, int op)
{
	PlerlErlReq req;
	char	   *target = text_arg(fcinfo, 0, "node");
	char	   *name = text_arg(fcinfo, 1, "name");
	Jsonb	   *msg;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("message must not be null")));
	msg = PG_GETARG_JSONB_P(2);
	memset(&req, 0, sizeof(req));
	req.op = op;
	req.timeout_ms = -1;
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
	{
		/* A name in the cluster: {"cluster": "global"} or {"cluster": "pg", ...}. */
		Jsonb	   *opts = PG_GETARG_JSONB_P(3);

		if (!JB_ROOT_IS_OBJECT(opts))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s options must be a JSON object", op == PLERL_ERL_CAST ? "erlang_cast" : "erlang_send"),
					 errhint("Known options: cluster ('global' or 'pg'), scope (string), all (boolean).")));
		req.options = JsonbToCString(NULL, &opts->root, VARSIZE(opts));
	}
	erl_resolve(target, name, "!", 1, &req.target);
	req.name = name;
	req.json = JsonbToCString(NULL, &msg->root, VARSIZE(msg));
	req.jsonlen = strlen(req.json);
	erl_go(&req);
	PG_RETURN_BOOL(req.result.i != 0);
}

static Datum
erl_simple(FunctionCallInfo fcinfo, int op)
{
	PlerlErlReq req;
	char	   *target = text_arg(fcinfo, 0, "node");

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.timeout_ms = -1;
	if (op == PLERL_ERL_CONNECT)
	{
		/* erlang_connect: a raw node and its cookie (admins only, by GRANT). */
		req.target.node = target;
		req.name = text_arg(fcinfo, 1, "cookie");
		if (strchr(target, '@') == NULL)
			erl_resolve(target, NULL, NULL, 0, &req.target);
		else
			check_node_name(target);
	}
	else if (op == PLERL_ERL_DISCONNECT)
	{
		/* Only our own backend's session is affected: no lookup needed. */
		req.target.node = target;
		if (strchr(target, '@') == NULL)
		{
			ForeignServer *server = GetForeignServerByName(target, true);

			if (server && is_plerl_server(server))
			{
				/* A group: the nodes option whole; Go splits it. */
				req.target.node = option_value(server->options, "node");
				if (req.target.node == NULL)
					req.target.node = option_value(server->options, "nodes");
				if (req.target.node == NULL)
					req.target.node = target;
			}
		}
	}
	else
		erl_resolve(target, NULL, NULL, 0, &req.target);
	erl_go(&req);
	PG_RETURN_BOOL(req.result.i != 0);
}

static TimestampTz
unix_us_to_timestamptz(int64 us)
{
	return (TimestampTz) (us - ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC));
}

static Datum
erl_connections(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PlerlConnRow *rows = NULL;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	plerlGoErlangConnections(&rows, &n);
	for (int i = 0; i < n; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {0};
		PlerlConnRow *r = &rows[i];

		values[0] = CStringGetTextDatum(r->node);
		values[1] = CStringGetTextDatum(r->state);
		if (r->since_unix_us > 0)
			values[2] = TimestampTzGetDatum(unix_us_to_timestamptz(r->since_unix_us));
		else
			nulls[2] = true;
		values[3] = Int64GetDatum(r->calls);
		values[4] = Int64GetDatum(r->errors);
		values[5] = Float8GetDatum(r->last_rtt_ms);
		nulls[5] = r->last_rtt_ms <= 0;
		if (r->last_error)
			values[6] = CStringGetTextDatum(r->last_error);
		else
			nulls[6] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		free(r->node);
		free(r->state);
		free(r->last_error);
	}
	free(rows);
	return (Datum) 0;
}

static Datum
erl_group_members(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PlerlMemberRow *rows = NULL;
	int			n = 0;

	InitMaterializedSRF(fcinfo, 0);
	plerlGoGroupMembers(&rows, &n);
	for (int i = 0; i < n; i++)
	{
		Datum		values[8];
		bool		nulls[8] = {0};
		PlerlMemberRow *r = &rows[i];

		values[0] = CStringGetTextDatum(r->server);
		values[1] = CStringGetTextDatum(r->node);
		values[2] = CStringGetTextDatum(r->state);
		values[3] = TimestampTzGetDatum(unix_us_to_timestamptz(r->down_until_unix_us));
		nulls[3] = r->down_until_unix_us <= 0;
		values[4] = Int64GetDatum(r->failures);
		if (r->last_error)
			values[5] = CStringGetTextDatum(r->last_error);
		else
			nulls[5] = true;
		values[6] = Int64GetDatum(r->calls);
		values[7] = Float8GetDatum(r->share);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		free(r->server);
		free(r->node);
		free(r->state);
		free(r->last_error);
	}
	free(rows);
	return (Datum) 0;
}

/*
 * erlang_call_many: items come from a query (its first column, one jsonb
 * array of arguments per row) read through a cursor in chunks of
 * BATCH_CHUNK rows; each chunk goes to Go, which keeps up to max_in_flight
 * calls in flight on one connection and hands back the rows finished so
 * far, in item order. Memory stays bounded: one chunk of items, what is in
 * flight, and the result tuplestore (which spills to disk past work_mem).
 * The target is resolved and checked once, for the first item's arity;
 * every item must have that arity (the allow-list row checked may depend on
 * it). An error or cancel between chunks ends the batch through a reset
 * callback of the query's memory, so nothing stays in flight.
 */
#define BATCH_CHUNK 1000

typedef struct BatchEnd
{
	MemoryContextCallback cb;
	int64		id;
} BatchEnd;

static void
batch_end(void *arg)
{
	plerlGoBatchEnd(((BatchEnd *) arg)->id);
}

static void
batch_put_rows(ReturnSetInfo *rsinfo, PlerlBatchFeed *fd)
{
	for (int i = 0; i < fd->nrows; i++)
	{
		PlerlBatchRow *r = &fd->rows[i];
		Datum		values[4];
		bool		nulls[4] = {0};

		values[0] = Int64GetDatum(r->item);
		if (r->sqlstate[0] == '\0')
		{
			char	   *s = pnstrdup(r->json ? r->json : "null", r->json ? r->jsonlen : 4);

			values[1] = DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
			nulls[2] = nulls[3] = true;
		}
		else
		{
			nulls[1] = true;
			values[2] = CStringGetTextDatum(r->sqlstate);
			values[3] = CStringGetTextDatum(r->message ? r->message : "");
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

static void
batch_free_rows(PlerlBatchFeed *fd)
{
	for (int i = 0; i < fd->nrows; i++)
	{
		free(fd->rows[i].json);
		free(fd->rows[i].message);
	}
	free(fd->rows);
	fd->rows = NULL;
	fd->nrows = 0;
}

static Datum
erl_call_many(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo;
	char	   *target = text_arg(fcinfo, 0, "node");
	char	   *module = text_arg(fcinfo, 1, "module");
	char	   *function = text_arg(fcinfo, 2, "function");
	char	   *query = text_arg(fcinfo, 3, "args_query");
	int32		max_in_flight = PG_ARGISNULL(4) ? 0 : PG_GETARG_INT32(4);
	int32		timeout_ms = PG_ARGISNULL(5) ? -1 : PG_GETARG_INT32(5);
	bool		fail_fast = !PG_ARGISNULL(6) && PG_GETARG_BOOL(6);
	bool		kill = !PG_ARGISNULL(7) && PG_GETARG_BOOL(7);
	MemoryContext chunk_cxt;
	MemoryContext old;
	SPIPlanPtr	plan;
	Portal		portal;
	PlerlErlReq req;
	BatchEnd   *end = NULL;
	int			arity = -1;
	int64		nitem = 0;
	int			keycol;

	if (!PG_ARGISNULL(4) && max_in_flight <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_in_flight must be positive")));
	if (timeout_ms < -1 || (!PG_ARGISNULL(5) && timeout_ms < 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout_ms must be zero (no timeout) or positive")));
	refuse_parallel_worker();
	InitMaterializedSRF(fcinfo, 0);
	rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	chunk_cxt = AllocSetContextCreate(CurrentMemoryContext, "plerl batch chunk", ALLOCSET_DEFAULT_SIZES);
	memset(&req, 0, sizeof(req));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "plerl: SPI_connect failed");
	plan = SPI_prepare(query, 0, NULL);
	if (plan == NULL)
		elog(ERROR, "plerl: cannot prepare args_query: %s", SPI_result_code_string(SPI_result));
	if (!SPI_is_cursor_plan(plan))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("args_query must be a query that returns rows")));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	if (portal->tupDesc == NULL || portal->tupDesc->natts < 1 ||
		TupleDescAttr(portal->tupDesc, 0)->atttypid != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("the first column of args_query must be jsonb (one array of arguments per row)")));
	/* A column named key: each item's affinity key (a group's balance affinity). */
	keycol = SPI_fnumber(portal->tupDesc, "key");
	if (keycol == 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the column key of args_query is an item's affinity key: the arguments come first")));
	for (;;)
	{
		PlerlBatchFeed fd;
		const char *items[BATCH_CHUNK];
		int64		lens[BATCH_CHUNK];
		const char *keys[BATCH_CHUNK];
		uint64		n;
		SPITupleTable *tt;

		SPI_cursor_fetch(portal, true, BATCH_CHUNK);
		n = SPI_processed;
		tt = SPI_tuptable;
		old = MemoryContextSwitchTo(chunk_cxt);
		for (uint64 i = 0; i < n; i++)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(tt->vals[i], tt->tupdesc, 1, &isnull);
			Jsonb	   *jb;

			nitem++;
			if (isnull)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("erlang_call_many: item %lld is null", (long long) nitem)));
			jb = DatumGetJsonbP(d);
			if (!JB_ROOT_IS_ARRAY(jb) || JB_ROOT_IS_SCALAR(jb))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("erlang_call_many: item %lld is not a JSON array of arguments", (long long) nitem)));
			if (arity < 0)
			{
				int64		id;

				/* Once per batch: the checks of erlang_call, for this arity. */
				arity = JB_ROOT_COUNT(jb);
				erl_resolve(target, module, function, arity, &req.target);
				req.op = PLERL_ERL_CALL_MANY;
				req.timeout_ms = timeout_ms;
				plerl_call_depth++;
				id = plerlGoBatchStart(&req, max_in_flight, fail_fast, kill);
				plerl_call_depth--;
				if (req.err.kind != PLERL_OK || plerl_has_stash())
					plerl_raise(&req.err);
				end = MemoryContextAllocZero(rsinfo->econtext->ecxt_per_query_memory, sizeof(BatchEnd));
				end->id = id;
				end->cb.func = batch_end;
				end->cb.arg = end;
				MemoryContextRegisterResetCallback(rsinfo->econtext->ecxt_per_query_memory, &end->cb);
			}
			else if (JB_ROOT_COUNT(jb) != arity)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("erlang_call_many: item %lld has %d arguments, item 1 has %d",
								(long long) nitem, (int) JB_ROOT_COUNT(jb), arity),
						 errdetail("Every item of a batch calls the same function: %s:%s/%d.", module, function, arity)));
			items[i] = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
			lens[i] = strlen(items[i]);
			if (keycol > 0)
			{
				/* As text, whatever its type; NULL: no key (''). */
				keys[i] = SPI_getvalue(tt->vals[i], tt->tupdesc, keycol);
				if (keys[i] == NULL)
					keys[i] = "";
			}
		}
		if (end != NULL)
		{
			memset(&fd, 0, sizeof(fd));
			fd.batch = end->id;
			fd.items = items;
			fd.lens = lens;
			fd.keys = keycol > 0 ? keys : NULL;
			fd.nitems = (int32) n;
			fd.final = n == 0;
			plerl_call_depth++;
			plerlGoBatchFeed(&fd);
			plerl_call_depth--;
			batch_put_rows(rsinfo, &fd);
			batch_free_rows(&fd);
			if (fd.err.kind != PLERL_OK || plerl_has_stash())
				plerl_raise(&fd.err);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(chunk_cxt);
		SPI_freetuptable(tt);
		CHECK_FOR_INTERRUPTS();
		if (n == 0)
			break;
	}
	SPI_cursor_close(portal);
	SPI_finish();
	if (end != NULL)
		plerlGoBatchEnd(end->id);
	return (Datum) 0;
}

/*
 * plerl.enqueue(server, name, message): checked now as the caller exactly
 * as erlang_cast would be (EXECUTE on erlang_cast, USAGE, a user mapping,
 * plerl.allow), the atoms by Go (bridge.checkAtoms, which also encodes the
 * message), then written into the outbox in the caller's transaction.
 */
static Datum
erl_enqueue(FunctionCallInfo fcinfo)
{
	PlerlErlReq req;
	PlerlError	err;
	char	   *target = text_arg(fcinfo, 0, "server");
	char	   *name = text_arg(fcinfo, 1, "name");
	Jsonb	   *msg = PG_GETARG_JSONB_P(2);
	int64		id;

	if (strchr(target, '@') != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the outbox delivers through plerl foreign servers only, not to a raw node name"),
				 errhint("Delivery uses the enqueuing role's user mapping: CREATE SERVER ... FOREIGN DATA WRAPPER plerl.")));
	memset(&req, 0, sizeof(req));
	memset(&err, 0, sizeof(err));
	if (plerl_erl_resolve_as_guarded(InvalidOid, target, name, "!", 1, PLERL_ERL_CAST, &req.target, &err) != 0)
		plerl_raise(&err);
	req.op = PLERL_ERL_ENQUEUE;
	req.timeout_ms = -1;
	req.name = name;
	req.json = JsonbToCString(NULL, &msg->root, VARSIZE(msg));
	req.jsonlen = strlen(req.json);
	erl_go(&req);
	PG_TRY();
	{
		id = plerl_queue_insert(req.target.server, req.target.module, PLERL_ERL_CAST, GetUserId(),
								req.result.p, req.result.len);
	}
	PG_FINALLY();
	{
		free(req.result.p);
	}
	PG_END_TRY();
	PG_RETURN_INT64(id);
}

/* The erlang_* SQL functions (entry.c dispatches to here by PlerlErlangFn). */
Datum
plerl_erlang_sql(PlerlErlangFn fn, FunctionCallInfo fcinfo)
{
	switch (fn)
	{
		case PLERL_ERL_CONNECT:
		case PLERL_ERL_DISCONNECT:
		case PLERL_ERL_PING:
			return erl_simple(fcinfo, fn);
		case PLERL_ERL_CALL:
			return erl_call(fcinfo);
		case PLERL_ERL_SEND:
		case PLERL_ERL_CAST:
			return erl_message(fcinfo, fn);
		case PLERL_ERL_CONNECTIONS:
			return erl_connections(fcinfo);
		case PLERL_ERL_CALL_MANY:
			return erl_call_many(fcinfo);
		case PLERL_ERL_ENQUEUE:
			return erl_enqueue(fcinfo);
		case PLERL_ERL_GROUP_MEMBERS:
			return erl_group_members(fcinfo);
		case PLERL_ERL_FDW_VALIDATOR:
			break;				/* entry.c sends it to fdw.c */
	}
	elog(ERROR, "plerl: unknown Erlang entry %d", (int) fn);
	pg_unreachable();
}
