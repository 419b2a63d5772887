/*
 * erlang.c: the erlang_* SQL functions and the checks every Erlang request
 * passes before anything is sent: which node a name means (a plerl foreign
 * server, or a raw node name for admins), USAGE on the server, the user
 * mapping's cookie, and the allow-list (plerl.allow).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/parallel.h"
#include "access/xact.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "storage/backendid.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "plerl.h"
#include "plerl_int.h"
#include "plerl_types.h"
#include "_cgo_export.h"

/* ---- the allow-list cache ---- */

typedef struct AllowRow
{
	char	   *server;
	Oid			role;			/* InvalidOid: every role */
	char	   *module;
	char	   *function;		/* NULL: any */
	int			arity;			/* -1: any */
	char	  **atoms;			/* the atoms column: what requests may carry */
	int			natoms;
	bool		any_atom;		/* atoms contains '*' */
} AllowRow;

static MemoryContext allow_cxt = NULL;
static AllowRow *allow_rows = NULL;
static int	n_allow = 0;
static bool allow_valid = false;
static bool allow_callback_set = false;

static void
allow_invalidate(Datum arg, Oid relid)
{
	/* Cheap and conservative: any relcache flush may be ours. */
	allow_valid = false;
}

/* A dropped role in a row: matches nobody (InvalidOid means every role). */
#define ALLOW_ROLE_DROPPED ((Oid) (InvalidOid - 1))

static void
allow_scan(Oid relid)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Snapshot	snap;
	int			cap = 16;

	if (!allow_callback_set)
	{
		CacheRegisterRelcacheCallback(allow_invalidate, (Datum) 0);
		allow_callback_set = true;
	}
	if (allow_cxt == NULL)
		allow_cxt = AllocSetContextCreate(TopMemoryContext, "plerl allow-list",
										  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(allow_cxt);
	allow_rows = MemoryContextAlloc(allow_cxt, sizeof(AllowRow) * cap);
	n_allow = 0;
	/* Mark valid first: an invalidation during the scan marks it stale again. */
	allow_valid = true;

	/* Read directly, not through SQL: the caller has no privilege on it. */
	rel = table_open(relid, AccessShareLock);

	/*
	 * A fresh snapshot, never the statement's or the transaction's: under
	 * REPEATABLE READ those are as old as the transaction, so a row deleted
	 * since would be read again and the stale list marked valid for every
	 * later transaction of this backend. The latest snapshot sees what has
	 * committed and this transaction's own earlier commands (an admin's
	 * change applies inside the transaction that makes it).
	 */
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snap, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Datum		values[6];
		bool		nulls[6];
		AllowRow   *r;
		MemoryContext old;

		heap_deform_tuple(tup, RelationGetDescr(rel), values, nulls);
		if (n_allow == cap)
		{
			cap *= 2;
			allow_rows = repalloc(allow_rows, sizeof(AllowRow) * cap);
		}
		r = &allow_rows[n_allow++];
		old = MemoryContextSwitchTo(allow_cxt);
		r->server = pstrdup(NameStr(*DatumGetName(values[0])));
		r->role = nulls[1] ? InvalidOid : get_role_oid(NameStr(*DatumGetName(values[1])), true);
		if (!nulls[1] && !OidIsValid(r->role))
			r->role = ALLOW_ROLE_DROPPED;
		r->module = TextDatumGetCString(values[2]);
		r->function = nulls[3] ? NULL : TextDatumGetCString(values[3]);
		r->arity = nulls[4] ? -1 : DatumGetInt32(values[4]);
		r->atoms = NULL;
		r->natoms = 0;
		r->any_atom = false;
		if (RelationGetDescr(rel)->natts >= 6 && !nulls[5])
		{
			Datum	   *elems;
			bool	   *enulls;
			int			n;

			deconstruct_array(DatumGetArrayTypeP(values[5]), TEXTOID, -1, false,
							  TYPALIGN_INT, &elems, &enulls, &n);
			r->atoms = palloc(sizeof(char *) * Max(n, 1));
			for (int i = 0; i < n; i++)
			{
				char	   *a;

				if (enulls[i])
					continue;
				a = TextDatumGetCString(elems[i]);
				if (strcmp(a, "*") == 0)
					r->any_atom = true;
				else
					r->atoms[r->natoms++] = a;
			}
		}
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
}

static void
allow_load(void)
{
	/*
	 * By OID, not by name: a name lookup checks USAGE on the schema plerl,
	 * which the roles being checked do not have.
	 */
	Oid			nsp = get_namespace_oid("plerl", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("allow", nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the allow-list table plerl.allow does not exist"),
				 errhint("It belongs to the extension plerl: recreate the extension.")));
	PG_TRY();
	{
		allow_scan(relid);
	}
	PG_CATCH();
	{
		/* A half-read list must not pass for the whole one. */
		allow_valid = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/* Does row r name this role (directly, through membership, or as NULL)? */
static bool
allow_role_matches(AllowRow *r, Oid user)
{
	if (r->role == ALLOW_ROLE_DROPPED)
		return false;
	return !OidIsValid(r->role) || has_privs_of_role(user, r->role);
}

/*
 * Check that some row permits module:function/arity on server for the
 * current role, and tell out what the permitting rows allow (atoms, and
 * whether only NULL-function rows matched). Raises 42501 if none does.
 */
static void
allow_check(const char *server, const char *module, const char *function, int arity,
			PlerlErlTarget *out)
{
	Oid			user = GetUserId();
	bool		permitted = false;
	int			cap = 0;

	/*
	 * Take in invalidations first: a transaction that already holds its lock
	 * on plerl.allow takes no new one, and would otherwise not see an
	 * admin's committed change (nor its invalidation) until it ends. Cheap
	 * when the queue is empty.
	 */
	AcceptInvalidationMessages();
	if (!allow_valid)
		allow_load();
	out->any_function = true;
	for (int i = 0; i < n_allow; i++)
	{
		AllowRow   *r = &allow_rows[i];

		if (strcmp(r->server, server) != 0 || strcmp(r->module, module) != 0)
			continue;
		if (r->function && strcmp(r->function, function) != 0)
			continue;
		if (r->arity >= 0 && r->arity != arity)
			continue;
		if (!allow_role_matches(r, user))
			continue;
		permitted = true;
		if (r->function)
			out->any_function = false;
		if (r->any_atom)
			out->any_atom = true;
		for (int j = 0; j < r->natoms; j++)
		{
			if (out->natoms == cap)
			{
				cap = Max(cap * 2, 8);
				out->atoms = out->atoms ? repalloc(out->atoms, sizeof(char *) * cap) :
					palloc(sizeof(char *) * cap);
			}
			out->atoms[out->natoms++] = pstrdup(r->atoms[j]);
		}
	}
	if (permitted)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("plerl.allow does not permit %s:%s/%d on server \"%s\" for role \"%s\"",
					module, function, arity, server, GetUserNameFromId(user, false)),
			 errhint("An administrator can add a row to plerl.allow (server, role, module, function, arity).")));
}

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
	if (strchr(target, '@') == NULL)
	{
		ForeignServer *server = GetForeignServerByName(target, true);
		UserMapping *um;
		char	   *tls;

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
		if (out->node == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("plerl server \"%s\" has no node option", server->servername)));
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
			allow_check(server->servername, module, function, arity, out);
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
	MemoryContext cxt = CurrentMemoryContext;
	volatile int rc = 0;
	Oid			save_user;
	int			save_sec;
	volatile bool switched = false;

	if (plerl_refuse_if_stashed(err))
		return -1;
	GetUserIdAndSecContext(&save_user, &save_sec);
	PG_TRY();
	{
		const char *fname;
		int			nargs;
		Oid			argtypes[4] = {TEXTOID, TEXTOID, TEXTOID, JSONBOID};
		Oid			fn;
		Oid			nsp;

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
		nsp = plerl_extension_schema();
		fn = !OidIsValid(nsp) ? InvalidOid :
			LookupFuncName(list_make2(makeString(get_namespace_name(nsp)), makeString(pstrdup(fname))),
						   nargs, argtypes, true);
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
		MemoryContextSwitchTo(cxt);
	}
	PG_CATCH();
	{
		if (switched)
			SetUserIdAndSecContext(save_user, save_sec);
		MemoryContextSwitchTo(cxt);
		plerl_capture(err);
		rc = -1;
	}
	PG_END_TRY();
	return rc;
}

int
plerl_erl_resolve_guarded(const char *target, const char *module, const char *function,
						  int arity, int lua_op, PlerlErlTarget *out, PlerlError *err)
{
	return plerl_erl_resolve_as_guarded(InvalidOid, target, module, function, arity,
										lua_op, out, err);
}

/* Identity of this backend's node name (bounded: never the pid). */
int
plerl_backend_slot(void)
{
	return MyBackendId;
}

int
plerl_cluster_port(void)
{
	return PostPortNumber;
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
	Jsonb	   *msg = PG_GETARG_JSONB_P(2);

	memset(&req, 0, sizeof(req));
	req.op = op;
	req.timeout_ms = -1;
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
				req.target.node = option_value(server->options, "node");
		}
	}
	else
		erl_resolve(target, NULL, NULL, 0, &req.target);
	erl_go(&req);
	PG_RETURN_BOOL(req.result.i != 0);
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
			values[2] = TimestampTzGetDatum((TimestampTz) (r->since_unix_us -
														   ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * USECS_PER_SEC)));
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

/* Options: server (node, tls, tls_ca, tls_cert, tls_key, tls_server_name), user mapping (cookie). */
static Datum
fdw_validate(FunctionCallInfo fcinfo)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	bool		has_node = false;

	foreach(lc, options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);
		const char *v = defGetString(d);

		if (catalog == ForeignServerRelationId)
		{
			if (strcmp(d->defname, "node") == 0)
			{
				const char *at = strchr(v, '@');

				if (at == NULL || at == v || at[1] == '\0' || strlen(v) > 255)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
							 errmsg("invalid node name \"%s\": expected name@host", v)));
				has_node = true;
			}
			else if (strcmp(d->defname, "tls") == 0)
			{
				if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
							 errmsg("option tls must be on or off")));
			}
			else if (strcmp(d->defname, "tls_ca") == 0 || strcmp(d->defname, "tls_cert") == 0 ||
					 strcmp(d->defname, "tls_key") == 0)
			{
				if (!superuser())
					ereport(ERROR,
							(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
							 errmsg("only superusers may set option %s (a file on the server)", d->defname)));
			}
			else if (strcmp(d->defname, "tls_server_name") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid option \"%s\" for a plerl server", d->defname),
						 errhint("Valid options: node, tls, tls_ca, tls_cert, tls_key, tls_server_name.")));
		}
		else if (catalog == UserMappingRelationId)
		{
			if (strcmp(d->defname, "cookie") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid option \"%s\" for a plerl user mapping", d->defname),
						 errhint("Valid option: cookie.")));
			if (v[0] == '\0' || strlen(v) > 255)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("cookie must be 1 to 255 characters")));
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("plerl takes no options here")));
	}
	if (catalog == ForeignServerRelationId && !has_node && options != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a plerl server needs the option node")));
	PG_RETURN_VOID();
}

Datum
plerl_erlang_entry(int fn, FunctionCallInfo fcinfo)
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
		case 6:
			return fdw_validate(fcinfo);
	}
	elog(ERROR, "plerl: unknown Erlang entry %d", fn);
	pg_unreachable();
}

/* ---- deferred sends: checked before COMMIT, sent after, dropped on abort ---- */

int
plerl_nest_level(void)
{
	return GetCurrentTransactionNestLevel();
}

static void
xact_callback(XactEvent event, void *arg)
{
	PlerlError	err;
	int			ev;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			ev = 1;
			break;
		case XACT_EVENT_COMMIT:
			ev = 2;
			break;

			/*
			 * A parallel worker's events say nothing about the query's
			 * transaction (PARALLEL_COMMIT is the worker finishing, even if
			 * the leader then rolls back): whatever a worker queued is
			 * dropped, never sent. Workers are refused Erlang requests
			 * anyway (refuse_parallel_worker), so there is nothing to drop.
			 */
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			ev = 3;
			break;
		case XACT_EVENT_PRE_PREPARE:
			ev = 4;
			break;
		default:
			return;
	}
	memset(&err, 0, sizeof(err));
	plerlGoXact(ev, 0, &err);
	if (err.kind != PLERL_OK)
	{
		if (ev == 1 || ev == 4)
			plerl_raise(&err);	/* before commit: the transaction fails */
		plerl_error_free(&err);
	}
}

static void
subxact_callback(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	PlerlError	err;

	memset(&err, 0, sizeof(err));
	if (event == SUBXACT_EVENT_ABORT_SUB)
		plerlGoXact(5, GetCurrentTransactionNestLevel(), &err);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		plerlGoXact(6, GetCurrentTransactionNestLevel(), &err);
	plerl_error_free(&err);
}

void
plerl_erlang_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
	RegisterSubXactCallback(subxact_callback, NULL);
}
