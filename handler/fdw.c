/*
 * fdw.c: the validator of the plerl foreign-data wrapper: the options of a
 * server (node, tls, tls_ca, tls_cert, tls_key, tls_server_name) and of a
 * user mapping (cookie).
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "miscadmin.h"

#include "plerl_int.h"

/* Options: server (node, tls, tls_ca, tls_cert, tls_key, tls_server_name), user mapping (cookie). */
Datum
plerl_fdw_validate(FunctionCallInfo fcinfo)
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
