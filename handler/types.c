/*
 * types.c: converters between Datums and PlerlValues, chosen once per
 * function (plerl_type_init) and applied per call. Called only from C entry
 * paths, never from Go, so they may raise.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "funcapi.h"

#include "plerl.h"
#include "plerl_int.h"
#include "plerl_types.h"

void
plerl_type_init(PlerlType *t, Oid oid, int32 typmod, bool result, MemoryContext mcxt)
{
	Oid			base = getBaseType(oid);
	Oid			infn,
				outfn;
	bool		isvarlena;

	memset(t, 0, sizeof(*t));
	t->oid = oid;
	t->typmod = typmod;
	t->is_domain = base != oid;
	get_typlenbyval(oid, &t->len, &t->byval);

	switch (base)
	{
		case VOIDOID:
			t->kind = PLT_VOID;
			return;
		case BOOLOID:
			t->kind = PLT_BOOL;
			break;
		case INT2OID:
			t->kind = PLT_INT2;
			break;
		case INT4OID:
			t->kind = PLT_INT4;
			break;
		case INT8OID:
			t->kind = PLT_INT8;
			break;
		case FLOAT4OID:
			t->kind = PLT_FLOAT4;
			break;
		case FLOAT8OID:
			t->kind = PLT_FLOAT8;
			break;
		case NUMERICOID:
			t->kind = PLT_NUMERIC;
			break;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			t->kind = PLT_TEXT;
			break;
		case BYTEAOID:
			t->kind = PLT_BYTEA;
			break;
		case JSONOID:
			t->kind = PLT_JSON;
			break;
		case JSONBOID:
			t->kind = PLT_JSONB;
			break;
		default:
			if (get_typtype(base) == TYPTYPE_PSEUDO)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("plerl functions cannot %s type %s",
								result ? "return" : "take", format_type_be(oid))));
			t->kind = PLT_OTHER;
			break;
	}
	/* A domain result goes through its input function, which checks it. */
	if (result && t->is_domain)
		t->kind = PLT_OTHER;
	getTypeInputInfo(oid, &infn, &t->ioparam);
	fmgr_info_cxt(infn, &t->in, mcxt);
	getTypeOutputInfo(oid, &outfn, &isvarlena);
	fmgr_info_cxt(outfn, &t->out, mcxt);
}

void
plerl_proc_init_result(PlerlProc *proc, HeapTuple tup, MemoryContext mcxt)
{
	Form_pg_proc pp = (Form_pg_proc) GETSTRUCT(tup);

	proc->readonly = pp->provolatile != PROVOLATILE_VOLATILE;
	if (pp->prorettype == TRIGGEROID || pp->prorettype == EVENT_TRIGGEROID)
	{
		proc->ret.oid = pp->prorettype;
		proc->ret.kind = PLT_VOID;
		return;
	}
	plerl_type_init(&proc->ret, pp->prorettype, -1, true, mcxt);
}

void
plerl_datum_to_value(PlerlType *t, Datum d, bool isnull, PlerlValue *v)
{
	memset(v, 0, sizeof(*v));
	if (isnull)
	{
		v->kind = PLV_NULL;
		return;
	}
	switch (t->kind)
	{
		case PLT_BOOL:
			v->kind = PLV_BOOL;
			v->i = DatumGetBool(d);
			break;
		case PLT_INT2:
			v->kind = PLV_INT;
			v->i = DatumGetInt16(d);
			break;
		case PLT_INT4:
			v->kind = PLV_INT;
			v->i = DatumGetInt32(d);
			break;
		case PLT_INT8:
			v->kind = PLV_INT;
			v->i = DatumGetInt64(d);
			break;
		case PLT_FLOAT4:
			v->kind = PLV_FLOAT;
			v->f = DatumGetFloat4(d);
			break;
		case PLT_FLOAT8:
			v->kind = PLV_FLOAT;
			v->f = DatumGetFloat8(d);
			break;
		case PLT_TEXT:
		case PLT_BYTEA:
		case PLT_JSON:
			{
				text	   *txt = DatumGetTextPP(d);

				v->kind = t->kind == PLT_BYTEA ? PLV_BYTES :
					t->kind == PLT_JSON ? PLV_JSON : PLV_TEXT;
				v->p = VARDATA_ANY(txt);
				v->len = VARSIZE_ANY_EXHDR(txt);
				break;
			}
		default:
			{
				char	   *s = OutputFunctionCall(&t->out, d);

				v->kind = t->kind == PLT_NUMERIC ? PLV_NUMERIC :
					t->kind == PLT_JSONB ? PLV_JSON : PLV_TEXT;
				v->p = s;
				v->len = strlen(s);
				break;
			}
	}
}

void
plerl_args_from_fcinfo(PlerlProc *proc, FunctionCallInfo fcinfo, PlerlValue *args)
{
	for (int i = 0; i < proc->nargs; i++)
		plerl_datum_to_value(&proc->args[i], fcinfo->args[i].value,
							 fcinfo->args[i].isnull, &args[i]);
}

void
plerl_value_free(PlerlValue *v)
{
	if (v->kind == PLV_ARRAY || v->kind == PLV_RECORD)
	{
		PlerlValue *elems = (PlerlValue *) v->p;

		for (int64 i = 0; i < v->len && elems; i++)
			plerl_value_free(&elems[i]);
	}
	free(v->p);
	v->p = NULL;
	v->kind = PLV_NULL;
}

/* Copy a Go-made string into palloc'd memory and free Go's malloc. */
static char *
take_string(PlerlValue *v, int *len)
{
	char	   *s = palloc(v->len + 1);

	memcpy(s, v->p ? v->p : "", v->len);
	s[v->len] = '\0';
	*len = (int) v->len;
	free(v->p);
	v->p = NULL;
	return s;
}

Datum
plerl_value_to_datum(PlerlType *t, PlerlValue *v, bool *isnull)
{
	char	   *s;
	int			len;

	*isnull = false;
	if (t->kind == PLT_VOID)
	{
		plerl_value_free(v);
		return (Datum) 0;
	}
	if (v->kind == PLV_NULL)
	{
		*isnull = true;
		/* A domain may refuse NULL: its input function decides. */
		if (t->is_domain)
			return InputFunctionCall(&t->in, NULL, t->ioparam, t->typmod);
		return (Datum) 0;
	}
	/* A string returned for a scalar type goes through its input function. */
	if (v->kind == PLV_TEXT && t->kind != PLT_TEXT && t->kind != PLT_BYTEA)
	{
		s = take_string(v, &len);
		pg_verifymbstr(s, len, false);
		return InputFunctionCall(&t->in, s, t->ioparam, t->typmod);
	}
	switch (t->kind)
	{
		case PLT_BOOL:
			return BoolGetDatum(v->i != 0);
		case PLT_INT2:
			return Int16GetDatum((int16) v->i);
		case PLT_INT4:
			return Int32GetDatum((int32) v->i);
		case PLT_INT8:
			return Int64GetDatum(v->i);
		case PLT_FLOAT4:
			return Float4GetDatum((float4) v->f);
		case PLT_FLOAT8:
			return Float8GetDatum(v->f);
		case PLT_BYTEA:
			{
				bytea	   *b;

				s = take_string(v, &len);
				b = palloc(VARHDRSZ + len);
				SET_VARSIZE(b, VARHDRSZ + len);
				memcpy(VARDATA(b), s, len);
				pfree(s);
				return PointerGetDatum(b);
			}
		case PLT_TEXT:
			s = take_string(v, &len);
			pg_verifymbstr(s, len, false);
			if (t->oid == TEXTOID)
				return PointerGetDatum(cstring_to_text_with_len(s, len));
			return InputFunctionCall(&t->in, s, t->ioparam, t->typmod);
		default:
			s = take_string(v, &len);
			pg_verifymbstr(s, len, false);
			return InputFunctionCall(&t->in, s, t->ioparam, t->typmod);
	}
}
