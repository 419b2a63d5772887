/*
 * fdw.c: the validator of the plerl foreign-data wrapper: the options of a
 * server (node or nodes, balance, tls, tls_ca, tls_cert, tls_key,
 * tls_server_name) and of a user mapping (cookie); and the one parser of a
 * server's nodes list (erlang.c resolves through it).
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "miscadmin.h"

#include "plerl_int.h"

/* Whether node is alive@host: one '@', both parts non-empty, at most 255 bytes. */
static bool
valid_node_name(const char *node)
{
	const char *at = strchr(node, '@');

	return at != NULL && at != node && at[1] != '\0' && strchr(at + 1, '@') == NULL &&
		strlen(node) <= 255;
}

/*
 * plerl_fdw_split_nodes: the members of a nodes option ('a@h1, b@h2'), in
 * order, blanks around each trimmed (palloc'd strings). Raises 22023-like
 * HV00D on an empty, malformed or duplicate member or more than
 * PLERL_MAX_MEMBERS of them: the validator and the resolver agree by
 * construction.
 */
List *
plerl_fdw_split_nodes(const char *value)
{
	List	   *out = NIL;
	const char *p = value;

	for (;;)
	{
		const char *end = strchr(p, ',');
		const char *s = p;
		const char *e = end ? end : p + strlen(p);
		char	   *node;
		ListCell   *lc;

		while (s < e && (*s == ' ' || *s == '\t' || *s == '\n'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
			e--;
		node = pnstrdup(s, e - s);
		if (!valid_node_name(node))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid member \"%s\" in option nodes: expected a comma-separated list of name@host, each at most 255 bytes", node)));
		foreach(lc, out)
		{
			if (strcmp((char *) lfirst(lc), node) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("node \"%s\" appears twice in option nodes", node)));
		}
		out = lappend(out, node);
		if (list_length(out) > PLERL_MAX_MEMBERS)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option nodes lists more than %d members", PLERL_MAX_MEMBERS)));
		if (end == NULL)
			break;
		p = end + 1;
	}
	return out;
}

/* Options: server (node or nodes, balance, tls, tls_ca, tls_cert, tls_key, tls_server_name), user mapping (cookie). */
Datum
plerl_fdw_validate(FunctionCallInfo fcinfo)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	bool		has_node = false;
	bool		has_nodes = false;
	bool		has_balance = false;

	foreach(lc, options)
	{
		DefElem    *d = (DefElem *) lfirst(lc);
		const char *v = defGetString(d);

		if (catalog == ForeignServerRelationId)
		{
			if (strcmp(d->defname, "node") == 0)
			{
				if (!valid_node_name(v))
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
							 errmsg("invalid node name \"%s\": expected name@host", v)));
				has_node = true;
			}
			else if (strcmp(d->defname, "nodes") == 0)
			{
				(void) plerl_fdw_split_nodes(v);
				has_nodes = true;
			}
			else if (strcmp(d->defname, "balance") == 0)
			{
				if (strcmp(v, "round_robin") != 0 && strcmp(v, "random") != 0 &&
					strcmp(v, "first") != 0 && strcmp(v, "affinity") != 0)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
							 errmsg("option balance must be round_robin, random, first or affinity, not \"%s\"", v)));
				has_balance = true;
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
						 errhint("Valid options: node, nodes, balance, tls, tls_ca, tls_cert, tls_key, tls_server_name.")));
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
	if (catalog == ForeignServerRelationId && has_node && has_nodes)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("a plerl server takes node (one node) or nodes (a group), not both")));
	if (catalog == ForeignServerRelationId && has_balance && !has_nodes)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option balance applies to a group: it needs the option nodes")));
	if (catalog == ForeignServerRelationId && !has_node && !has_nodes && options != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a plerl server needs the option node or nodes")));
	PG_RETURN_VOID();
}
